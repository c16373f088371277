// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: client_bench.cc
// -----------------------------------------------------------------------------
// The C++ client's own figures against a running daemon, as the baseline of
// the Python package's benchmark (bench/python_bench.py, which starts the
// daemon, creates the arrays and runs this binary between its own
// repetitions so both are timed in the same run):
//
//   BM_Attach/<name>  Client::attach_any (Stat + map), the view dropped each
//                     iteration (so every attach maps afresh)
//   BM_Read/<name>    Client::read of the whole array into a new buffer
//
//   SHMARRAY_BENCH_TARGET=unix:/tmp/s.sock SHMARRAY_BENCH_ARRAYS=a,b client_bench
//
// Without SHMARRAY_BENCH_TARGET it starts its own shmarrayd (the test
// harness, as server_bench does) and times attach through the catalog file in
// shared memory against the bare system calls, in the same run (bench/run):
//
//   BM_CatalogAttach/<0|1>  Client::attach_any of a known name (no RPC: the
//                           catalog file), the view dropped each iteration,
//                           for a 4 KiB (0) and a 256 MiB (1) array, vs
//   BM_BareMap/<0|1>        open + fstat + mmap of its data region + munmap +
//                           close: within 2x, and independent of the size.
//   BM_StatAttach/<0|1>     the same attach with use_shm_catalog = false
//                           (Stat + map), for information.
//   BM_CatalogAttachPaired  one catalog attach and one bare map per
//                    /<0|1>  iteration, alternating which goes first, each
//                           timed: counter attach_vs_bare (attach time / bare
//                           time) is the same ratio, stable under load that
//                           moves the separate runs above: within 2x.
//
// The catalog at scale (10,000 entries of 8 bytes, made before the runs):
//
//   BM_List10k              Client::list of the 10,000 (paged, 1,000 a page):
//                           < 100 ms end to end
//   BM_CreateDelete10k      create + delete of 10,000 more small arrays
//                           (one iteration), vs
//   BM_EmptyPair10k         20,000 Stat RPCs of a missing name (the same
//                           number of round trips), for information
//   BM_StatAttachClients    Stat + attach per iteration, each thread its own
//                           Client; 100 threads vs 1 thread (calls/s)
//
// All use real time.

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "shmarray/client/client.h"
#include "shmarray/shm/segment.h"
#include "testing/daemon.h"

namespace {

using shmarray::client::Client;

Client* g_client = nullptr;

void BM_Attach(benchmark::State& state, const std::string& name) {
  try {
    for (auto _ : state) {
      shmarray::shm::AnyView view = g_client->attach_any(name);
      benchmark::DoNotOptimize(view.first());
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

void BM_Read(benchmark::State& state, const std::string& name) {
  int64_t bytes = 0;
  try {
    // One untimed read first, as python_bench's per_call does: a fresh
    // process's first 256 MiB destination faults in (and with
    // ClientOptions::reuse_read_buffers later ones do not), so without it a
    // short run times mostly that one read.
    benchmark::DoNotOptimize(g_client->read(name).first());
    for (auto _ : state) {
      shmarray::shm::AnyView view = g_client->read(name);
      bytes += view.nbytes();
      benchmark::DoNotOptimize(view.first());
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
  state.SetBytesProcessed(bytes);
}

// --- Own daemon: attach through the catalog file ------------------------------

constexpr const char* kCatalogNames[] = {"bench/cat_small", "bench/cat_big"};
constexpr int64_t kCatalogBytes[] = {4096, int64_t{256} << 20};
Client* g_stat_client = nullptr;

void BM_CatalogAttach(benchmark::State& state) {
  const std::string name = kCatalogNames[state.range(0)];
  try {
    (void)g_client->attach_any(name);  // binds the catalog file on first use
    for (auto _ : state) {
      shmarray::shm::AnyView view = g_client->attach_any(name);
      benchmark::DoNotOptimize(view.data());
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

void BM_StatAttach(benchmark::State& state) {
  const std::string name = kCatalogNames[state.range(0)];
  try {
    for (auto _ : state) {
      shmarray::shm::AnyView view = g_stat_client->attach_any(name);
      benchmark::DoNotOptimize(view.data());
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

// The path and data size of catalog array `arg`, or false (with the
// benchmark skipped) when the daemon cannot say.
bool SegmentOf(benchmark::State& state, int64_t arg, std::string* path, int64_t* bytes) {
  try {
    const shmarray::client::ArrayInfo info = g_client->stat(kCatalogNames[arg]);
    *path = "/dev/shm/" + info.segment_name;
    *bytes = info.data_size;
    return true;
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return false;
  }
}

// open + fstat + mmap of the data region + close + munmap; false on failure.
bool BareMap(const std::string& path, int64_t bytes) {
  const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    if (fd >= 0) close(fd);
    return false;
  }
  void* p = mmap(nullptr, static_cast<size_t>(bytes), PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                 shmarray::shm::kDataOffset);
  close(fd);
  if (p == MAP_FAILED) return false;
  benchmark::DoNotOptimize(p);
  munmap(p, static_cast<size_t>(bytes));
  return true;
}

void BM_BareMap(benchmark::State& state) {
  std::string path;
  int64_t bytes = 0;
  if (!SegmentOf(state, state.range(0), &path, &bytes)) return;
  for (auto _ : state) {
    if (!BareMap(path, bytes)) {
      state.SkipWithError("open/fstat/mmap failed");
      break;
    }
  }
}

void BM_CatalogAttachPaired(benchmark::State& state) {
  using Clock = std::chrono::steady_clock;
  const std::string name = kCatalogNames[state.range(0)];
  std::string path;
  int64_t bytes = 0;
  if (!SegmentOf(state, state.range(0), &path, &bytes)) return;
  Clock::duration attach{};
  Clock::duration bare{};
  bool attach_first = false;
  try {
    (void)g_client->attach_any(name);  // binds the catalog file on first use
    for (auto _ : state) {
      attach_first = !attach_first;
      for (int k = 0; k < 2; ++k) {
        const bool is_attach = (k == 0) == attach_first;
        const Clock::time_point start = Clock::now();
        if (is_attach) {
          shmarray::shm::AnyView view = g_client->attach_any(name);
          benchmark::DoNotOptimize(view.data());
        } else if (!BareMap(path, bytes)) {
          state.SkipWithError("open/fstat/mmap failed");
          return;
        }
        (is_attach ? attach : bare) += Clock::now() - start;
      }
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  const double n = static_cast<double>(state.iterations());
  const auto us = [n](Clock::duration d) {
    return std::chrono::duration<double, std::micro>(d).count() / n;
  };
  state.counters["attach_vs_bare"] = us(attach) / us(bare);
  state.counters["attach_us"] = us(attach);
  state.counters["bare_us"] = us(bare);
}

constexpr int kScaleEntries = 10000;
std::string g_target;

std::string ScaleName(const char* prefix, int i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%s/%05d", prefix, i);
  return buf;
}

void BM_List10k(benchmark::State& state) {
  size_t n = 0;
  try {
    for (auto _ : state) n = g_client->list("scale/").size();
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
  if (n != kScaleEntries) state.SkipWithError("List did not return 10,000 entries");
}

void BM_CreateDelete10k(benchmark::State& state) {
  const std::vector<int64_t> shape{8};
  try {
    for (auto _ : state) {
      for (int i = 0; i < kScaleEntries; ++i)
        g_client->create_any(ScaleName("churn", i), "B", shape);
      for (int i = 0; i < kScaleEntries; ++i) g_client->remove(ScaleName("churn", i));
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
  state.SetItemsProcessed(state.iterations() * kScaleEntries);
}

void BM_EmptyPair10k(benchmark::State& state) {
  for (auto _ : state) {
    for (int i = 0; i < 2 * kScaleEntries; ++i) {
      try {
        (void)g_client->stat("no/such/array");
      } catch (const shmarray::client::RpcError&) {
      }
    }
  }
  state.SetItemsProcessed(state.iterations() * kScaleEntries);
}

void BM_StatAttachClients(benchmark::State& state) {
  shmarray::client::ClientOptions options;
  options.target = g_target;
  try {
    Client client = Client::Connect(options);
    const std::string name = ScaleName("scale", state.thread_index() % kScaleEntries);
    for (auto _ : state) {
      benchmark::DoNotOptimize(client.stat(name).generation);
      shmarray::shm::AnyView view = client.attach_any(name);
      benchmark::DoNotOptimize(view.data());
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
  state.SetItemsProcessed(state.iterations());
}

int RunWithOwnDaemon(int argc, char** argv) {
  absl::StatusOr<std::unique_ptr<shmarray::testing::TestDaemon>> daemon =
      shmarray::testing::TestDaemon::Start();
  if (!daemon.ok()) {
    std::fprintf(stderr, "cannot start shmarrayd: %s\n", daemon.status().ToString().c_str());
    return 1;
  }
  int rc = 0;
  {
    shmarray::client::ClientOptions options;
    options.target = (*daemon)->target();
    Client client = Client::Connect(options);
    options.use_shm_catalog = false;
    Client stat_client = Client::Connect(options);
    for (int i = 0; i < 2; ++i) {
      const std::vector<int64_t> shape{kCatalogBytes[i]};
      client.create_any(kCatalogNames[i], "B", shape);
    }
    const std::vector<int64_t> small{8};
    for (int i = 0; i < kScaleEntries; ++i) client.create_any(ScaleName("scale", i), "B", small);
    g_target = (*daemon)->target();
    g_client = &client;
    g_stat_client = &stat_client;
    for (const char* bm : {"BM_CatalogAttach", "BM_BareMap", "BM_StatAttach"}) {
      auto* fn = std::string(bm) == "BM_CatalogAttach" ? BM_CatalogAttach
                 : std::string(bm) == "BM_BareMap"     ? BM_BareMap
                                                       : BM_StatAttach;
      benchmark::RegisterBenchmark(bm, fn)->Arg(0)->Arg(1)->UseRealTime();
    }
    benchmark::RegisterBenchmark("BM_CatalogAttachPaired", BM_CatalogAttachPaired)
        ->Arg(0)
        ->Arg(1)
        ->UseRealTime();
    benchmark::RegisterBenchmark("BM_List10k", BM_List10k)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark("BM_CreateDelete10k", BM_CreateDelete10k)
        ->Iterations(1)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark("BM_EmptyPair10k", BM_EmptyPair10k)
        ->Iterations(1)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark("BM_StatAttachClients", BM_StatAttachClients)
        ->Threads(1)
        ->Threads(100)
        ->UseRealTime();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
      rc = 2;
    } else {
      benchmark::RunSpecifiedBenchmarks();
    }
    benchmark::Shutdown();
    for (const char* name : kCatalogNames) client.remove(name);
    for (int i = 0; i < kScaleEntries; ++i) client.remove(ScaleName("scale", i));
    g_client = nullptr;
    g_stat_client = nullptr;
  }
  daemon->reset();
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  const char* target = std::getenv("SHMARRAY_BENCH_TARGET");
  const char* arrays = std::getenv("SHMARRAY_BENCH_ARRAYS");
  if (target == nullptr) return RunWithOwnDaemon(argc, argv);
  if (arrays == nullptr) {
    std::fprintf(stderr,
                 "client_bench: set SHMARRAY_BENCH_TARGET (the daemon) and "
                 "SHMARRAY_BENCH_ARRAYS (comma-separated names); bench/python_bench.py does\n");
    return 2;
  }
  shmarray::client::ClientOptions options;
  options.target = target;
  Client client = Client::Connect(options);
  g_client = &client;
  std::stringstream names(arrays);
  for (std::string name; std::getline(names, name, ',');) {
    benchmark::RegisterBenchmark(("BM_Attach/" + name).c_str(), BM_Attach, name)->UseRealTime();
    benchmark::RegisterBenchmark(("BM_Read/" + name).c_str(), BM_Read, name)->UseRealTime();
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
