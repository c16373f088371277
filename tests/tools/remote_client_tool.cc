// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: remote_client_tool.cc
// -----------------------------------------------------------------------------
// A small program over shmarray::client for tests/integration/
// remote_namespace_test.sh: it runs both as the local client (Unix socket,
// host /dev/shm) and as the remote one (TCP, private /dev/shm). Arrays are
// 1-D int64 ("q"); values print space-separated on one line.
//
//   remote_client_tool --target T [--token TOK] ping
//   remote_client_tool --target T create NAME N        a[i] = i, written via Write
//   remote_client_tool --target T attach NAME          map it; print its values
//   remote_client_tool --target T stat NAME            "NAME format=<q shape=(N,) segment=S"
//   remote_client_tool --target T list [PREFIX]        one name per line
//   remote_client_tool --target T read NAME [INDEX]    print name[index] read over gRPC
//   remote_client_tool --target T write NAME INDEX V1,V2,...   write over gRPC
//   remote_client_tool --target T rm NAME
//   remote_client_tool --target T set NAME INDEX V1,V2,...   write through this process's
//                                                  own writable mapping (no data RPC)
//   remote_client_tool --target T await NAME INDEX V1,V2,... SECONDS
//       map NAME once, then watch the mapping (no RPC) until NAME[INDEX] holds
//       the values: proves that another process's or container's write lands
//       in this process's memory. Polls every 10 ms up to SECONDS.
//
// Exit codes: 0 success; 1 an RpcError or other failure (message on stderr as
// "error: <CODE>: <message>"); 2 bad usage; 3 attach (or set/await) failed
// with SegmentUnreachableError (the segment is not visible from here); 4
// await timed out.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "shmarray/client/client.h"
#include "shmarray/shm/any_view.h"
#include "shmarray/shm/layout.h"
#include "shmarray/shm/view.h"

namespace {

using shmarray::client::ArrayInfo;
using shmarray::client::Client;
using shmarray::client::ClientOptions;
using shmarray::client::RpcError;
using shmarray::client::SegmentUnreachableError;
using shmarray::shm::AnyView;
using shmarray::shm::ParseIndex;
using shmarray::shm::View;

int Usage() {
  std::cerr << "usage: remote_client_tool --target T [--token TOK] "
               "ping|create NAME N|attach NAME|stat NAME|list [PREFIX]|read NAME [INDEX]|"
               "write NAME INDEX V1,V2,...|rm NAME|set NAME INDEX V1,V2,...|"
               "await NAME INDEX V1,V2,... SECONDS\n";
  return 2;
}

void PrintValues(const View<const int64_t, 1>& v) {
  std::string line;
  for (int64_t i = 0; i < v.shape(0); ++i) {
    if (i > 0) line += ' ';
    line += std::to_string(v(i));
  }
  std::cout << line << "\n";
}

std::vector<int64_t> ParseValues(const std::string& text) {
  std::vector<int64_t> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(std::stoll(item));
  return out;
}

AnyView MakeArray(const std::vector<int64_t>& values) {
  AnyView a = AnyView::Allocate(shmarray::shm::Format::Parse("q"),
                                std::vector<int64_t>{static_cast<int64_t>(values.size())},
                                shmarray::shm::Order::kC);
  View<int64_t, 1> v = a.as<int64_t, 1>();
  for (size_t i = 0; i < values.size(); ++i) v(static_cast<int64_t>(i)) = values[i];
  return a;
}

// The items of `v` as the other process last wrote them: volatile loads after
// an acquire fence, so every poll reads the shared memory again.
std::vector<int64_t> Snapshot(const View<const int64_t, 1>& v) {
  std::atomic_thread_fence(std::memory_order_acquire);
  std::vector<int64_t> out;
  for (int64_t i = 0; i < v.shape(0); ++i) {
    const int64_t value = *static_cast<const volatile int64_t*>(&v(i));
    out.push_back(value);
  }
  return out;
}

std::string Join(const std::vector<int64_t>& values) {
  std::string line;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) line += ' ';
    line += std::to_string(values[i]);
  }
  return line;
}

int Run(Client& client, const std::vector<std::string>& args) {
  const std::string& cmd = args[0];
  auto arg = [&](size_t i) -> const std::string& { return args.at(i); };
  if (cmd == "ping") {
    client.list("\x01-no-such-prefix");
    std::cout << "ok\n";
  } else if (cmd == "create" && args.size() == 3) {
    const int64_t n = std::stoll(arg(2));
    std::vector<int64_t> values(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) values[static_cast<size_t>(i)] = i;
    client.create_any(arg(1), "q", std::vector<int64_t>{n});
    client.write(arg(1), "", MakeArray(values));
    std::cout << "created " << arg(1) << "\n";
  } else if (cmd == "attach" && args.size() == 2) {
    try {
      PrintValues(client.attach_readonly<int64_t, 1>(arg(1)));
    } catch (const SegmentUnreachableError& e) {
      std::cout << "unreachable: " << e.what() << "\n";
      return 3;
    }
  } else if (cmd == "stat" && args.size() == 2) {
    const ArrayInfo info = client.stat(arg(1));
    std::cout << info.name << " format=" << info.format.canonical()
              << " shape=" << shmarray::shm::TupleString(info.shape())
              << " segment=" << info.segment_name << "\n";
  } else if (cmd == "list" && args.size() <= 2) {
    for (const ArrayInfo& info : client.list(args.size() == 2 ? arg(1) : "")) {
      std::cout << info.name << "\n";
    }
  } else if (cmd == "read" && args.size() <= 3) {
    AnyView a = client.read(arg(1), args.size() == 3 ? arg(2) : "");
    PrintValues(a.as<const int64_t, 1>());
  } else if (cmd == "write" && args.size() == 4) {
    const int64_t n = client.write(arg(1), arg(2), MakeArray(ParseValues(arg(3))));
    std::cout << "wrote " << n << " bytes\n";
  } else if ((cmd == "set" && args.size() == 4) || (cmd == "await" && args.size() == 5)) {
    const std::vector<int64_t> values = ParseValues(arg(3));
    AnyView mapped;
    try {
      mapped = client.attach_any(arg(1), /*readonly=*/cmd == "await");
    } catch (const SegmentUnreachableError& e) {
      std::cout << "unreachable: " << e.what() << "\n";
      return 3;
    }
    const AnyView part = mapped.slice(ParseIndex(arg(2)));
    if (cmd == "set") {
      View<int64_t, 1> v = part.as<int64_t, 1>();
      if (v.shape(0) != static_cast<int64_t>(values.size())) return Usage();
      for (int64_t i = 0; i < v.shape(0); ++i) v(i) = values[static_cast<size_t>(i)];
      std::atomic_thread_fence(std::memory_order_release);
      std::cout << "set " << arg(1) << "[" << arg(2) << "] = " << Join(values)
                << " through the mapping\n";
      return 0;
    }
    const View<const int64_t, 1> v = part.as<const int64_t, 1>();
    const auto start = std::chrono::steady_clock::now();
    const auto deadline = start + std::chrono::seconds(std::stoll(arg(4)));
    std::cout << arg(1) << "[" << arg(2) << "] in the mapping: " << Join(Snapshot(v)) << std::endl;
    for (;;) {
      const std::vector<int64_t> now = Snapshot(v);
      if (now == values) {
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - start);
        std::cout << "saw " << arg(1) << "[" << arg(2) << "] = " << Join(now)
                  << " in the mapping after " << ms.count() << " ms (no RPC)\n";
        return 0;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        std::cout << "timed out: " << arg(1) << "[" << arg(2) << "] is still " << Join(now)
                  << ", waiting for " << Join(values) << "\n";
        return 4;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // poll interval
    }
  } else if (cmd == "rm" && args.size() == 2) {
    for (const std::string& name : client.remove(arg(1), /*cascade=*/true)) {
      std::cout << "removed " << name << "\n";
    }
  } else {
    return Usage();
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  ClientOptions options;
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "--target" || a == "--token") && i + 1 < argc) {
      (a == "--target" ? options.target : options.token) = argv[++i];
    } else {
      args.push_back(a);
    }
  }
  if (args.empty()) return Usage();
  options.timeout_ms = 10000;
  try {
    Client client = Client::Connect(options);
    return Run(client, args);
  } catch (const RpcError& e) {
    std::cerr << "error: " << absl::StatusCodeToString(e.code()) << ": " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
