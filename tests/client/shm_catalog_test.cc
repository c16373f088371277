// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: shm_catalog_test.cc
// -----------------------------------------------------------------------------
// attach() through the daemon's catalog file in shared memory, against the
// real shmarrayd: RPCs are counted with the daemon's own Prometheus counters
// (--metrics-listen), fallbacks are forced by refusing or replacing the file,
// and several processes create, seal and delete arrays while others attach
// in a loop (helpers are this binary re-executed with a DISABLED_ test).

#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shmarray/client/client.h"
#include "shmarray/shm/errors.h"
#include "shmarray/shm/view.h"
#include "testing/daemon.h"
#include "testing/metrics.h"

extern char** environ;

namespace shmarray::client {
namespace {

using ::shmarray::testing::MetricsPort;
using ::shmarray::testing::TestDaemon;
using ::shmarray::testing::TestDaemonOptions;

std::unique_ptr<TestDaemon> StartWithMetrics() {
  TestDaemonOptions o;
  o.extra_flags = {"--metrics-listen", "127.0.0.1:0"};
  auto d = TestDaemon::Start(o);
  EXPECT_TRUE(d.ok()) << d.status();
  return d.ok() ? *std::move(d) : nullptr;
}

// Stat RPCs the daemon has started.
double StatCalls(int port) {
  const double calls = ::shmarray::testing::StartedCalls(port, "Stat");
  EXPECT_GE(calls, 0) << "cannot read the daemon's /metrics page";
  return calls;
}

std::vector<int64_t> Contents(const shm::AnyView& v) {
  std::vector<int64_t> out;
  auto view = shm::View<const int64_t, 1>::From(v);
  for (int64_t i = 0; i < view.shape()[0]; ++i) out.push_back(view(i));
  return out;
}

std::span<const std::byte> Fill(const int64_t& v) { return std::as_bytes(std::span(&v, 1)); }

TEST(ShmCatalogTest, AttachResolvesWithoutAnRpc) {
  auto d = StartWithMetrics();
  ASSERT_NE(d, nullptr);
  const int port = MetricsPort(*d);
  ASSERT_GT(port, 0);
  EXPECT_TRUE(std::filesystem::exists(d->segment_dir() + "/catalog"));
  Client c = Client::Connect({.target = d->target()});
  const int64_t seven = 7;
  const std::vector<int64_t> shape{100};
  c.create_any("a", "<q", shape, shm::Order::kC, Fill(seven));
  (void)c.attach_any("a");  // the first attach asks the daemon and finds the file
  const double before = StatCalls(port);

  // Known names, new names, named views: no Stat any more.
  const int64_t nine = 9;
  c.create_any("b", "<q", shape, shm::Order::kC, Fill(nine));
  c.slice("a", "10:20", "a_part");
  for (int i = 0; i < 20; ++i) {
    ArrayInfo info;
    shm::AnyView a = c.attach_any("a", false, &info);
    EXPECT_EQ(Contents(a), std::vector<int64_t>(100, 7));
    EXPECT_EQ(info.name, "a");
    EXPECT_EQ(Contents(c.attach_any("b")), std::vector<int64_t>(100, 9));
  }
  ArrayInfo part;
  shm::AnyView p = c.attach_any("a_part", false, &part);
  EXPECT_EQ(p.layout().shape, std::vector<int64_t>{10});
  EXPECT_EQ(part.kind, ArrayKind::kView);
  EXPECT_EQ(part.base, "a");
  EXPECT_EQ(StatCalls(port), before);

  // What the catalog says is what Stat says.
  for (const char* name : {"a", "b", "a_part"}) {
    ArrayInfo via_catalog;
    (void)c.attach_any(name, false, &via_catalog);
    const ArrayInfo via_stat = c.stat(name);
    EXPECT_EQ(via_catalog.generation, via_stat.generation) << name;
    EXPECT_EQ(via_catalog.segment_name, via_stat.segment_name) << name;
    EXPECT_EQ(via_catalog.format.canonical(), via_stat.format.canonical()) << name;
    EXPECT_EQ(via_catalog.layout.shape, via_stat.layout.shape) << name;
    EXPECT_EQ(via_catalog.layout.strides, via_stat.layout.strides) << name;
    EXPECT_EQ(via_catalog.layout.offset, via_stat.layout.offset) << name;
    EXPECT_EQ(via_catalog.base_generation, via_stat.base_generation) << name;
    EXPECT_EQ(via_catalog.data_size, via_stat.data_size) << name;
    EXPECT_EQ(via_catalog.segment_size, via_stat.segment_size) << name;
    EXPECT_EQ(via_catalog.created_unix_ns, via_stat.created_unix_ns) << name;
    EXPECT_EQ(via_catalog.c_contiguous, via_stat.c_contiguous) << name;
  }

  // Writes through one attach are seen through the next (same memory).
  auto w = shm::View<int64_t, 1>::From(c.attach_any("b"));
  w(3) = 42;
  auto r = shm::View<const int64_t, 1>::From(c.attach_any("b"));
  EXPECT_EQ(r(3), 42);

  // A deleted name is not found (the catalog misses, Stat answers).
  c.remove("b");
  const double before_missing = StatCalls(port);
  try {
    (void)c.attach_any("b");
    ADD_FAILURE() << "attach of a deleted name succeeded";
  } catch (const RpcError& e) {
    EXPECT_EQ(e.code(), absl::StatusCode::kNotFound);
  }
  EXPECT_EQ(StatCalls(port), before_missing + 1);

  // Replaced under the same name: the new array, never the old one.
  const int64_t eleven = 11;
  c.remove("a", /*cascade=*/true);
  c.create_any("a", "<q", std::vector<int64_t>{5}, shm::Order::kC, Fill(eleven));
  EXPECT_EQ(Contents(c.attach_any("a")), std::vector<int64_t>(5, 11));

  // Without the option, every attach is a Stat.
  ClientOptions off{.target = d->target()};
  off.use_shm_catalog = false;
  Client plain = Client::Connect(off);
  const double s0 = StatCalls(port);
  for (int i = 0; i < 3; ++i) (void)plain.attach_any("a");
  EXPECT_EQ(StatCalls(port), s0 + 3);
}

TEST(ShmCatalogTest, SealIsSeenThroughTheCatalog) {
  auto d = StartWithMetrics();
  ASSERT_NE(d, nullptr);
  const int port = MetricsPort(*d);
  Client c = Client::Connect({.target = d->target()});
  Client other = Client::Connect({.target = d->target()});
  c.create_any("s", "<q", std::vector<int64_t>{8});
  c.slice("s", "::2", "s_even");
  shm::AnyView writable = c.attach_any("s");
  EXPECT_FALSE(writable.readonly());
  (void)c.attach_any("s_even");
  const double before = StatCalls(port);
  other.seal("s");
  ArrayInfo info;
  shm::AnyView sealed = c.attach_any("s", false, &info);
  EXPECT_TRUE(info.readonly);
  EXPECT_TRUE(sealed.readonly());
  auto bind_writable = [&] { (void)c.attach<int64_t, 1>("s"); };
  EXPECT_THROW(bind_writable(), shm::ReadOnlyError);
  auto readonly_view = c.attach_readonly<int64_t, 1>("s");
  EXPECT_EQ(readonly_view.shape()[0], 8);
  // The named view of the sealed base is read-only too.
  shm::AnyView even = c.attach_any("s_even", false, &info);
  EXPECT_TRUE(info.readonly);
  EXPECT_TRUE(even.readonly());
  EXPECT_EQ(StatCalls(port), before);
  // A sealed segment made writable again is not handed out as sealed: the
  // catalog path steps aside and Stat reports it.
  const std::string segment = "/dev/shm/" + info.segment_name;
  ASSERT_EQ(chmod(segment.c_str(), 0640), 0);
  try {
    (void)c.attach_any("s");
    ADD_FAILURE() << "attach of a tampered sealed array succeeded";
  } catch (const RpcError& e) {
    EXPECT_EQ(e.code(), absl::StatusCode::kDataLoss) << e.what();
  }
}

// Points the daemon's catalog file aside and puts `bytes` in its place.
void ReplaceCatalog(const TestDaemon& d, const std::string& bytes, mode_t mode) {
  const std::string path = d.segment_dir() + "/catalog";
  ASSERT_EQ(rename(path.c_str(), (path + ".aside").c_str()), 0);
  std::ofstream(path, std::ios::binary) << bytes;
  ASSERT_EQ(chmod(path.c_str(), mode), 0);
}

TEST(ShmCatalogTest, FallsBackToStatWhenTheFileIsRefused) {
  auto d = StartWithMetrics();
  ASSERT_NE(d, nullptr);
  const int port = MetricsPort(*d);
  const std::string path = d->segment_dir() + "/catalog";
  Client c0 = Client::Connect({.target = d->target()});
  const int64_t five = 5;
  c0.create_any("f", "<q", std::vector<int64_t>{4}, shm::Order::kC, Fill(five));
  // Writable by the group: not a file the daemon made, so never trusted.
  ASSERT_EQ(chmod(path.c_str(), 0460), 0);
  Client c = Client::Connect({.target = d->target()});
  const double before = StatCalls(port);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(Contents(c.attach_any("f")), std::vector<int64_t>(4, 5));
  EXPECT_EQ(StatCalls(port), before + 4);
  // Gone: the same.
  ASSERT_EQ(unlink(path.c_str()), 0);
  Client c2 = Client::Connect({.target = d->target()});
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Contents(c2.attach_any("f")), std::vector<int64_t>(4, 5));
  EXPECT_EQ(StatCalls(port), before + 7);
}

TEST(ShmCatalogTest, HostileCatalogFilesCannotCrashTheClient) {
  auto d = StartWithMetrics();
  ASSERT_NE(d, nullptr);
  const std::string path = d->segment_dir() + "/catalog";
  Client c0 = Client::Connect({.target = d->target()});
  const int64_t three = 3;
  for (int i = 0; i < 20; ++i) {
    c0.create_any("h" + std::to_string(i), "<q", std::vector<int64_t>{i + 1}, shm::Order::kC,
                  Fill(three));
  }
  // The file is large and sparse: copy its first 4 MiB (header, index and
  // the records in use), and give the copies the real size (sparse too).
  const auto real_size = static_cast<off_t>(std::filesystem::file_size(path));
  std::string real(size_t{4} << 20, '\0');
  {
    std::ifstream in(path, std::ios::binary);
    in.read(real.data(), static_cast<std::streamsize>(real.size()));
    real.resize(static_cast<size_t>(in.gcount()));
  }
  ASSERT_GT(real.size(), 8192u);
  std::mt19937_64 rng(7);
  std::vector<std::string> variants;
  variants.push_back(std::string(1 << 20, '\xff'));  // garbage
  variants.push_back(real.substr(0, 100));           // truncated
  for (int k = 0; k < 6; ++k) {
    // The real header with random words over the index and the records.
    std::string v = real;
    for (int n = 0; n < 20000; ++n) {
      const size_t off = 4096 + (rng() % ((v.size() - 4096) / 8)) * 8;
      uint64_t word = rng();
      if (n % 3 == 0) word %= 300;
      std::memcpy(&v[off], &word, 8);
    }
    variants.push_back(std::move(v));
  }
  for (size_t k = 0; k < variants.size(); ++k) {
    SCOPED_TRACE(k);
    ReplaceCatalog(*d, variants[k], 0400);
    if (k >= 2) {
      ASSERT_EQ(truncate(path.c_str(), real_size), 0);  // sparse, to the real size
    }
    Client c = Client::Connect({.target = d->target()});
    for (int round = 0; round < 3; ++round) {
      for (int i = 0; i < 20; ++i) {
        ArrayInfo info;
        shm::AnyView v = c.attach_any("h" + std::to_string(i), false, &info);
        EXPECT_EQ(Contents(v), std::vector<int64_t>(i + 1, 3));
        EXPECT_EQ(info.name, "h" + std::to_string(i));
      }
    }
    ASSERT_EQ(unlink(path.c_str()), 0);
    ASSERT_EQ(rename((path + ".aside").c_str(), path.c_str()), 0);
  }
}

TEST(ShmCatalogTest, ARestartedDaemonClosesTheOldFile) {
  auto d = StartWithMetrics();
  ASSERT_NE(d, nullptr);
  Client c = Client::Connect({.target = d->target()});
  const int64_t one = 1;
  c.create_any("r", "<q", std::vector<int64_t>{3}, shm::Order::kC, Fill(one));
  (void)c.attach_any("r");
  (void)c.attach_any("r");
  d->Kill();  // a crash: the file stays live until the next start
  ASSERT_TRUE(d->Restart().ok());
  const int port = MetricsPort(*d);
  c.remove("r");
  const int64_t two = 2;
  c.create_any("r", "<q", std::vector<int64_t>{3}, shm::Order::kC, Fill(two));
  EXPECT_EQ(Contents(c.attach_any("r")), std::vector<int64_t>(3, 2));
  const double after_rebind = StatCalls(port);
  EXPECT_EQ(Contents(c.attach_any("r")), std::vector<int64_t>(3, 2));
  EXPECT_EQ(StatCalls(port), after_rebind);  // bound to the new file
  // A graceful stop removes the file.
  ASSERT_TRUE(d->Stop().ok());
  EXPECT_FALSE(std::filesystem::exists(d->segment_dir() + "/catalog"));
}

// --- Several processes: mutators and attachers. --------------------------------

constexpr int kNames = 6;
constexpr int kMutatorMaxOps = 20000;  // a bound; they stop when "stop" exists
constexpr int kAttacherRounds = 300;

std::string NameOf(int i) { return "m" + std::to_string(i); }

// Mutator: creates arrays whose every item and whose shape derive from one
// nonce (shape (nonce % 97 + 2,), items = nonce), seals, adds a named view
// "<name>_v" = name[1:], deletes (cascade), until the parent creates "stop".
TEST(ShmCatalogHelper, DISABLED_Mutator) {
  const char* target = std::getenv("SHMARRAY_CAT_TARGET");
  ASSERT_NE(target, nullptr);
  Client c = Client::Connect({.target = target});
  std::mt19937_64 rng(static_cast<uint64_t>(getpid()));
  for (int op = 0; op < kMutatorMaxOps; ++op) {
    if (op % 50 == 0) {
      try {
        (void)c.stat("stop");
        break;
      } catch (const RpcError&) {
      }
    }
    const std::string name = NameOf(static_cast<int>(rng() % kNames));
    try {
      switch (rng() % 4) {
        case 0:
        case 1: {
          const int64_t nonce = static_cast<int64_t>(rng() % 1000000) + 1;
          c.create_any(name, "<q", std::vector<int64_t>{nonce % 97 + 2}, shm::Order::kC,
                       Fill(nonce));
          if (rng() % 2 == 0) c.slice(name, "1:", name + "_v");
          break;
        }
        case 2:
          c.seal(name);
          break;
        default:
          c.remove(name, /*cascade=*/true);
          break;
      }
    } catch (const RpcError& e) {
      ASSERT_THAT(e.code(),
                  ::testing::AnyOf(absl::StatusCode::kAlreadyExists, absl::StatusCode::kNotFound))
          << e.what();
    }
  }
}

// Attacher: attaches every name in a loop and checks that what it got is one
// whole incarnation: every item the same nonce, the shape that nonce gives,
// read-only exactly when sealed. Logs "<realtime ns before the attach> <name>
// <generation>" per success to $SHMARRAY_CAT_LOG, so that the parent can
// check that no attach returned an incarnation deleted before it began.
TEST(ShmCatalogHelper, DISABLED_Attacher) {
  const char* target = std::getenv("SHMARRAY_CAT_TARGET");
  ASSERT_NE(target, nullptr);
  const char* log_path = std::getenv("SHMARRAY_CAT_LOG");
  ASSERT_NE(log_path, nullptr);
  std::ofstream log(log_path);
  Client c = Client::Connect({.target = target});
  int attached = 0;
  for (int round = 0; round < kAttacherRounds; ++round) {
    for (int i = 0; i < kNames; ++i) {
      for (const std::string& name : {NameOf(i), NameOf(i) + "_v"}) {
        const bool is_view = name.back() == 'v';
        ArrayInfo info;
        shm::AnyView v;
        const int64_t started_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count();
        try {
          v = c.attach_any(name, false, &info);
        } catch (const RpcError& e) {
          // kFailedPrecondition: the Stat path saw the name replaced twice
          // between its Stat and its map (SegmentUnreachableError).
          ASSERT_THAT(e.code(),
                      ::testing::AnyOf(absl::StatusCode::kNotFound, absl::StatusCode::kAborted,
                                       absl::StatusCode::kFailedPrecondition))
              << e.what();
          continue;
        }
        ++attached;
        log << started_ns << " " << name << " " << info.generation << "\n";
        ASSERT_EQ(info.name, name);
        ASSERT_EQ(v.readonly(), info.readonly) << name;
        auto items = shm::View<const int64_t, 1>::From(v);
        ASSERT_GE(items.shape()[0], 1) << name;
        const int64_t nonce = items(0);
        ASSERT_GT(nonce, 0) << name << ": a half-made or foreign array";
        ASSERT_EQ(items.shape()[0], nonce % 97 + 2 - (is_view ? 1 : 0)) << name;
        for (int64_t k = 0; k < items.shape()[0]; ++k) ASSERT_EQ(items(k), nonce) << name;
        if (!v.readonly()) {
          // Writable means the daemon had not sealed it when we looked: the
          // segment's mode still allows writing (checked by the open).
          ASSERT_FALSE(info.readonly);
        }
      }
    }
  }
  std::printf("attached %d\n", attached);
}

pid_t SpawnHelper(const std::string& role, const std::string& target, const std::string& log) {
  std::vector<std::string> env = {"SHMARRAY_CAT_TARGET=" + target, "SHMARRAY_CAT_LOG=" + log};
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string arg0 = "client_tests";
  std::string filter = "--gtest_filter=ShmCatalogHelper.DISABLED_" + role;
  std::string also = "--gtest_also_run_disabled_tests";
  char* argv[] = {arg0.data(), filter.data(), also.data(), nullptr};
  pid_t pid = -1;
  if (posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv, envp.data()) != 0) return -1;
  return pid;
}

// The exit status of `pid`, waiting at most until `deadline` (then -1 after
// killing it).
int Reap(pid_t pid, std::chrono::steady_clock::time_point deadline) {
  int status = 0;
  while (true) {
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (r < 0) return -1;
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling a child, deadline above
  }
}

TEST(ShmCatalogTest, ConcurrentCreateSealDeleteNeverYieldAWrongArray) {
  auto d = StartWithMetrics();
  ASSERT_NE(d, nullptr);
  const int port = MetricsPort(*d);
  // Every deletion, with the daemon's time of it (taken under its catalog
  // lock, where the catalog file forgets the entry).
  struct Deleted {
    std::string name;
    uint64_t generation;
    int64_t unix_ns;
  };
  std::mutex mu;
  std::vector<Deleted> deleted;
  bool overflow = false, probe_seen = false;
  Client watcher = Client::Connect({.target = d->target()});
  WatchHandle watch = watcher.watch("", [&](const WatchEvent& e) {
    std::lock_guard<std::mutex> lock(mu);
    if (e.type == WatchEvent::Type::kOverflow) overflow = true;
    if (e.type == WatchEvent::Type::kCreated && e.name.rfind("probe", 0) == 0) probe_seen = true;
    if (e.type == WatchEvent::Type::kDeleted) {
      deleted.push_back({e.name, e.info.generation, e.unix_ns});
    }
  });
  // The watch is registered on the daemon some time after watch() returns:
  // create probes until one is seen.
  int probes = 0;
  auto next_probe = std::chrono::steady_clock::now();
  for (const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);;) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (probe_seen) break;
    }
    ASSERT_LT(std::chrono::steady_clock::now(), until) << "the watch never saw a probe";
    if (std::chrono::steady_clock::now() >= next_probe) {
      watcher.create_any("probe" + std::to_string(probes++), "B", std::vector<int64_t>{1});
      next_probe = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // polling, deadline above
  }
  const double before = StatCalls(port);
  std::vector<pid_t> mutators, attachers;
  std::vector<std::string> logs;
  for (int i = 0; i < 2; ++i) mutators.push_back(SpawnHelper("Mutator", d->target(), ""));
  for (int i = 0; i < 3; ++i) {
    logs.push_back(d->dir() + "/attacher" + std::to_string(i) + ".log");
    attachers.push_back(SpawnHelper("Attacher", d->target(), logs.back()));
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  for (pid_t p : attachers) EXPECT_EQ(Reap(p, deadline), 0) << "attacher " << p;
  Client::Connect({.target = d->target()}).create_any("stop", "B", std::vector<int64_t>{1});
  for (pid_t p : mutators) EXPECT_EQ(Reap(p, deadline), 0) << "mutator " << p;
  // The attachers resolved most names without Stat (each attach that found
  // nothing asks once; the rest came from the catalog file).
  const double stats = StatCalls(port) - before;
  const double attaches = 3.0 * kAttacherRounds * kNames * 2;
  RecordProperty("stat_calls", std::to_string(stats));
  std::printf("%.0f Stat calls for %.0f attaches\n", stats, attaches);
  EXPECT_LT(stats, attaches);
  watch.cancel();
  // No attach returned an incarnation that was deleted before it began.
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_FALSE(overflow) << "the watch lost events; cannot check";
  std::map<std::pair<std::string, uint64_t>, int64_t> deleted_at;
  for (const Deleted& e : deleted) deleted_at[{e.name, e.generation}] = e.unix_ns;
  int checked = 0;
  for (const std::string& path : logs) {
    std::ifstream in(path);
    int64_t started_ns;
    std::string name;
    uint64_t generation;
    while (in >> started_ns >> name >> generation) {
      ++checked;
      auto it = deleted_at.find({name, generation});
      if (it != deleted_at.end()) {
        EXPECT_GT(it->second, started_ns)
            << name << " generation " << generation << " was deleted " << (started_ns - it->second)
            << " ns before an attach that returned it began";
      }
    }
  }
  std::printf("%d attaches checked against %zu deletions\n", checked, deleted.size());
  EXPECT_GT(checked, 0);
}

}  // namespace
}  // namespace shmarray::client
