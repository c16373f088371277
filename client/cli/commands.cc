// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: commands.cc
// -----------------------------------------------------------------------------
// See commands.h.

#include "commands.h"

#include <pthread.h>
#include <signal.h>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "common.h"
#include "fill.h"
#include "output.h"
#include "parse.h"
#include "shmarray/client/json.h"
#include "shmarray/client/npy.h"
#include "shmarray/shm/any_view.h"
#include "shmarray/shm/layout.h"

namespace shmarray::client::cli {

int CmdLs(const Context& c, const Args& a) {
  Client client = c.Connect();
  const std::vector<ArrayInfo> arrays = client.list(a.prefix);
  if (c.json) {
    std::vector<JsonObject> items;
    for (const ArrayInfo& info : arrays) items.push_back(ArrayInfoJson(info));
    PrintJsonLine(JsonObject().AddObjects("arrays", items));
  } else {
    PrintTable(arrays);
  }
  return 0;
}

int CmdInfo(const Context& c, const Args& a) {
  const Target t = ParseTarget(a.name);
  Client client = c.Connect();
  if (t.has_index) {
    PrintInfo(client.slice(t.name, Index(t.index)), c.json, a.name);
  } else {
    PrintInfo(client.stat(t.name), c.json);
  }
  return 0;
}

int CmdCreate(const Context& c, const Args& a, bool fill_given) {
  const std::string name = PlainName(a.name, "create");
  if (a.format.empty() == a.dtype.empty()) {
    throw UsageError("create needs exactly one of --format (PEP 3118) and --dtype (NumPy)");
  }
  const std::string format = ResolveFormat(a.format, a.dtype);
  const std::vector<int64_t> shape = ParseShape(a.shape);
  if (a.itemsize < 0) throw UsageError("--itemsize must be positive");
  std::vector<std::byte> fill;
  // (Messages name the format as the user spelled it.)
  if (fill_given) fill = EncodeFill(a.dtype.empty() ? a.format : format, a.itemsize, a.fill);
  Client client = c.Connect();
  PrintInfo(client.create_any(name, format, shape, ParseOrder(a.order), fill, a.itemsize), c.json);
  return 0;
}

int CmdRm(const Context& c, const Args& a) {
  const std::string name = PlainName(a.name, "rm");
  Client client = c.Connect();
  std::vector<std::string> deleted;
  try {
    deleted = client.remove(name, a.cascade);
  } catch (const RpcError& e) {
    std::string message = e.what();
    if (e.code() == absl::StatusCode::kFailedPrecondition && !a.cascade &&
        message.find("named views") != std::string::npos) {
      // The daemon speaks of its request field; say it the CLI's way.
      const std::string cli = "run 'shmarray rm --cascade " + name + "'";
      const size_t at = message.find("pass cascade");
      if (at != std::string::npos) {
        message.replace(at, std::string_view("pass cascade").size(), cli);
      } else {
        message += " (" + cli + " to delete it with its views)";
      }
      throw RpcError(e.code(), message);
    }
    throw;
  }
  if (c.json) {
    PrintJsonLine(JsonObject().AddStrings("deleted", deleted));
  } else {
    for (const std::string& n : deleted) std::cout << "deleted " << n << "\n";
    std::cout.flush();
  }
  return 0;
}

int CmdSeal(const Context& c, const Args& a) {
  const std::string name = PlainName(a.name, "seal");
  Client client = c.Connect();
  PrintInfo(client.seal(name), c.json);
  return 0;
}

int CmdSlice(const Context& c, const Args& a) {
  Target t = ParseTarget(a.name);
  if (t.has_index && !a.expr.empty()) {
    throw UsageError("give the index once: 'NAME[EXPR]' or NAME EXPR, not both");
  }
  if (!t.has_index) {
    if (a.expr.empty()) {
      throw UsageError("slice needs an index: 'NAME[EXPR]' (or NAME EXPR), e.g. 'temps[::2, 1]'");
    }
    t.index = a.expr;
  }
  const std::string expression = t.name + "[" + t.index + "]";
  Client client = c.Connect();
  PrintInfo(client.slice(t.name, Index(t.index), a.as), c.json, expression);
  return 0;
}

int CmdCopy(const Context& c, const Args& a, bool order_given) {
  const Target src = ParseTarget(a.src);
  const Target dst = ParseTarget(a.dst);
  if (dst.has_index && order_given) {
    throw UsageError("--order applies to a new array, not to a copy into DST[EXPR]");
  }
  Client client = c.Connect();
  if (dst.has_index) {
    PrintInfo(client.copy_into(src.name, Index(src.index), dst.name, Index(dst.index)), c.json,
              a.dst);
  } else {
    PrintInfo(client.copy(src.name, Index(src.index), dst.name, ParseOrder(a.order)), c.json);
  }
  return 0;
}

int CmdGet(const Context& c, const Args& a) {
  const Target t = ParseTarget(a.name);
  const shm::Order order = ParseOrder(a.order);
  Client client = c.Connect();
  const shm::AnyView data =
      client.read(t.name, Index(t.index), order, MakeProgress("get " + a.name));
  WriteNpy(a.file, data, order);
  // The file's dtype, as NumPy names it (np.load(file).dtype).
  const std::string dtype = DtypeName(data.format(), data.itemsize());
  const char* order_text = order == shm::Order::kF ? "F" : "C";
  if (c.json) {
    PrintJsonLine(JsonObject()
                      .AddString("source", a.name)
                      .AddString("file", a.file)
                      .AddString("format", data.format().canonical())
                      .AddString("dtype", dtype)
                      .AddInts("shape", data.layout().shape)
                      .AddString("order", order_text)
                      .AddInt("nbytes", data.nbytes()));
  } else {
    std::cout << a.name << " -> " << a.file << ": " << dtype << " "
              << shm::TupleString(data.layout().shape) << " " << order_text << " order, "
              << data.nbytes() << " bytes" << std::endl;
  }
  return 0;
}

int CmdPut(const Context& c, const Args& a) {
  const Target t = ParseTarget(a.name);
  if (a.create && t.has_index) throw UsageError("put --create takes a NAME without an index");
  shm::AnyView data = MapNpy(a.file);
  Client client = c.Connect();
  const ProgressCallback progress = MakeProgress("put " + a.name);
  int64_t written = 0;
  ArrayInfo written_info;  // the selection written, as the Write answer describes it
  if (a.create) {
    client.create_any(t.name, data.format().canonical(), data.layout().shape,
                      data.is_c_contig() ? shm::Order::kC : shm::Order::kF, {}, data.itemsize());
    try {
      written = client.write(t.name, Index(), data, progress, &written_info);
    } catch (...) {
      try {
        client.remove(t.name);
      } catch (...) {
      }
      throw;
    }
  } else {
    // One Write RPC: the daemon checks format, shape and size before the
    // first byte lands. Only when it refuses the file's format is the target
    // looked up: a file whose dtype is the target's under another spelling
    // (e.g. '|S1' for 'c') is then written again with the target's format.
    try {
      written = client.write(t.name, Index(t.index), data, progress, &written_info);
    } catch (const RpcError& e) {
      if (e.code() != absl::StatusCode::kInvalidArgument) throw;
      const ArrayInfo target = client.slice(t.name, Index(t.index));
      if (target.format == data.format() || target.itemsize() != data.itemsize()) throw;
      std::string a_descr, b_descr;
      try {
        a_descr = FormatToDescr(target.format, target.itemsize());
        b_descr = FormatToDescr(data.format(), data.itemsize());
      } catch (const NpyError&) {
      }
      if (a_descr.empty() || a_descr != b_descr) throw;
      data = shm::AnyView(target.format, data.layout(), data.data(), true, data.base());
      written = client.write(t.name, Index(t.index), data, progress, &written_info);
    }
  }
  if (c.json) {
    PrintJsonLine(JsonObject()
                      .AddString("file", a.file)
                      .AddString("target", a.name)
                      .AddInt("bytes_written", written)
                      .AddObject("array", ArrayInfoJson(written_info, t.has_index ? a.name : "")));
  } else {
    std::cout << a.file << " -> " << a.name << ": " << written << " bytes" << std::endl;
  }
  return 0;
}

int CmdWatch(const Context& c, const Args& a) {
  if (a.count < 0) throw UsageError("--count must be >= 0");
  // SIGINT/SIGTERM are taken by a thread of our own (sigwait), so that
  // Ctrl-C ends the watch cleanly; every thread inherits the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::mutex mu;
  std::condition_variable cv;
  int64_t seen = 0;
  bool done = false;
  bool interrupted = false;
  bool ended = false;
  absl::Status end_status;

  std::thread signal_thread([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    std::lock_guard<std::mutex> lock(mu);
    interrupted = true;
    cv.notify_all();
  });
  auto stop_signal_thread = [&] {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (interrupted) {
        signal_thread.join();
        return;
      }
    }
    pthread_kill(signal_thread.native_handle(), SIGTERM);
    signal_thread.join();
  };

  std::optional<Client> client;
  WatchHandle handle;
  try {
    client.emplace(c.Connect());
    handle = client->watch(a.prefix, [&](const WatchEvent& e) {
      std::lock_guard<std::mutex> lock(mu);
      if (done) return;
      PrintWatchEvent(e, c.json);
      ++seen;
      if (a.count > 0 && seen >= a.count) done = true;
      cv.notify_all();
    });
  } catch (...) {
    stop_signal_thread();
    throw;
  }
  std::thread waiter([&] {
    absl::Status s;
    try {
      handle.wait();
    } catch (const RpcError& e) {
      s = e.status();
    }
    std::lock_guard<std::mutex> lock(mu);
    ended = true;
    end_status = s;
    cv.notify_all();
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done || interrupted || ended; });
  }
  handle.cancel();
  waiter.join();
  stop_signal_thread();
  std::lock_guard<std::mutex> lock(mu);
  if (!done && !interrupted && !end_status.ok()) throw RpcError(end_status);
  return 0;
}

}  // namespace shmarray::client::cli
