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
// Both use real time.

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <exception>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "shmarray/client/client.h"

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

}  // namespace

int main(int argc, char** argv) {
  const char* target = std::getenv("SHMARRAY_BENCH_TARGET");
  const char* arrays = std::getenv("SHMARRAY_BENCH_ARRAYS");
  if (target == nullptr || arrays == nullptr) {
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
