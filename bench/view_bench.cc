// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: view_bench.cc
// -----------------------------------------------------------------------------
// Cython's sum3d over a 40x40x40 int32 array (docs/performance.md): View<int, 3>
// (strided) against a raw-pointer loop with byte strides, and
// View<int, 3, c_contig> against the same triple loop over a raw pointer with
// flat indexing, data[(i * J + j) * K + k]. Target: within 1.05x. A single
// 1-D loop over all items (BM_Sum3dRawFlat1D) is timed as well: it is not
// the same loop nest, so it is reported for information only.

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>

#include "shmarray/shm/array.h"
#include "shmarray/shm/view.h"

namespace shmarray::shm {
namespace {

constexpr int64_t kN = 40;

Array MakeInput() {
  Array a = Array::Allocate<int>({kN, kN, kN});
  int* p = reinterpret_cast<int*>(a.data());
  for (int64_t i = 0; i < kN * kN * kN; ++i) p[i] = static_cast<int>(i % 7);
  return a;
}

template <typename V>
[[gnu::noinline]] int Sum3d(const V& arr) {
  int total = 0;
  const int64_t I = arr.shape(0);
  const int64_t J = arr.shape(1);
  const int64_t K = arr.shape(2);
  for (int64_t i = 0; i < I; ++i)
    for (int64_t j = 0; j < J; ++j)
      for (int64_t k = 0; k < K; ++k) total += arr(i, j, k);
  return total;
}

[[gnu::noinline]] int Sum3dRawStrided(const std::byte* data, const int64_t* shape,
                                      const int64_t* strides) {
  int total = 0;
  for (int64_t i = 0; i < shape[0]; ++i)
    for (int64_t j = 0; j < shape[1]; ++j)
      for (int64_t k = 0; k < shape[2]; ++k)
        total +=
            *reinterpret_cast<const int*>(data + i * strides[0] + j * strides[1] + k * strides[2]);
  return total;
}

[[gnu::noinline]] int Sum3dRawFlatIndex(const int* data, const int64_t* shape) {
  int total = 0;
  for (int64_t i = 0; i < shape[0]; ++i)
    for (int64_t j = 0; j < shape[1]; ++j)
      for (int64_t k = 0; k < shape[2]; ++k) total += data[(i * shape[1] + j) * shape[2] + k];
  return total;
}

[[gnu::noinline]] int SumFlat(const int* data, int64_t n) {
  int total = 0;
  for (int64_t i = 0; i < n; ++i) total += data[i];
  return total;
}

void BM_Sum3dViewStrided(benchmark::State& state) {
  Array a = MakeInput();
  View<int, 3> v = a.view<int, 3>();
  for (auto _ : state) {
    benchmark::DoNotOptimize(v);
    benchmark::DoNotOptimize(Sum3d(v));
  }
  state.SetBytesProcessed(state.iterations() * v.nbytes());
}
BENCHMARK(BM_Sum3dViewStrided);

void BM_Sum3dRawStrided(benchmark::State& state) {
  Array a = MakeInput();
  const int64_t shape[3] = {kN, kN, kN};
  const int64_t strides[3] = {a.strides()[0], a.strides()[1], a.strides()[2]};
  const std::byte* data = a.data();
  for (auto _ : state) {
    benchmark::DoNotOptimize(data);
    benchmark::DoNotOptimize(Sum3dRawStrided(data, shape, strides));
  }
  state.SetBytesProcessed(state.iterations() * a.nbytes());
}
BENCHMARK(BM_Sum3dRawStrided);

void BM_Sum3dViewCContig(benchmark::State& state) {
  Array a = MakeInput();
  View<int, 3, c_contig> v = a.view<int, 3, c_contig>();
  for (auto _ : state) {
    benchmark::DoNotOptimize(v);
    benchmark::DoNotOptimize(Sum3d(v));
  }
  state.SetBytesProcessed(state.iterations() * v.nbytes());
}
BENCHMARK(BM_Sum3dViewCContig);

void BM_Sum3dRawFlatIndex(benchmark::State& state) {
  Array a = MakeInput();
  const int64_t shape[3] = {kN, kN, kN};
  const int* data = reinterpret_cast<const int*>(a.data());
  for (auto _ : state) {
    benchmark::DoNotOptimize(data);
    benchmark::DoNotOptimize(Sum3dRawFlatIndex(data, shape));
  }
  state.SetBytesProcessed(state.iterations() * a.nbytes());
}
BENCHMARK(BM_Sum3dRawFlatIndex);

void BM_Sum3dRawFlat1D(benchmark::State& state) {
  Array a = MakeInput();
  const int* data = reinterpret_cast<const int*>(a.data());
  for (auto _ : state) {
    benchmark::DoNotOptimize(data);
    benchmark::DoNotOptimize(SumFlat(data, kN * kN * kN));
  }
  state.SetBytesProcessed(state.iterations() * a.nbytes());
}
BENCHMARK(BM_Sum3dRawFlat1D);

}  // namespace
}  // namespace shmarray::shm
