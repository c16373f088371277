// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: copy_bench.cc
// -----------------------------------------------------------------------------
// Copy kernels against memcpy of the same bytes in the same binary
// (docs/performance.md): a contiguous 256 MiB CopyInto, `a[::2, ::2]` of a 128 MiB
// double array to C order, and C order to Fortran order of 128 MiB (both as
// AnyView::Copy, which allocates like NumPy does, and into a preallocated
// destination), and the transposition for item sizes 1/2/4/16. Compare with
// NumPy's asfortranarray / ascontiguousarray timed separately with
// /usr/bin/python3 on the same shapes.

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "shmarray/shm/any_view.h"
#include "shmarray/shm/format.h"
#include "shmarray/shm/index.h"

namespace shmarray::shm {
namespace {

constexpr int64_t kMiB = int64_t{1} << 20;

// A touched, non-zero array of `bytes` bytes of doubles, n x n.
AnyView Filled(int64_t side) {
  AnyView a = AnyView::Allocate(Format::Parse("d"), {side, side}, Order::kC);
  double* p = reinterpret_cast<double*>(a.first());
  for (int64_t i = 0; i < side * side; ++i) p[i] = static_cast<double>(i);
  return a;
}

void Memcpy(benchmark::State& state, int64_t bytes) {
  std::shared_ptr<std::byte> src = internal::AllocateBytes(bytes);
  std::shared_ptr<std::byte> dst = internal::AllocateBytes(bytes);
  std::memset(src.get(), 1, static_cast<size_t>(bytes));
  std::memset(dst.get(), 2, static_cast<size_t>(bytes));
  for (auto _ : state) {
    std::memcpy(dst.get(), src.get(), static_cast<size_t>(bytes));
    benchmark::DoNotOptimize(dst.get());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * bytes);
}

void BM_Memcpy256MiB(benchmark::State& state) { Memcpy(state, 256 * kMiB); }
BENCHMARK(BM_Memcpy256MiB)->Unit(benchmark::kMillisecond);

void BM_CopyIntoContiguous256MiB(benchmark::State& state) {
  const int64_t side = 5792;  // 5792^2 * 8 bytes = 255.9 MiB
  AnyView src = Filled(side);
  AnyView dst = Filled(side);
  for (auto _ : state) {
    CopyInto(dst, src);
    benchmark::DoNotOptimize(dst.first());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * src.nbytes());
}
BENCHMARK(BM_CopyIntoContiguous256MiB)->Unit(benchmark::kMillisecond);

// a[::2, ::2] of 4096 x 4096 doubles (128 MiB) -> 32 MiB C-ordered.
void BM_Memcpy32MiB(benchmark::State& state) { Memcpy(state, 32 * kMiB); }
BENCHMARK(BM_Memcpy32MiB)->Unit(benchmark::kMillisecond);

void BM_EveryOtherToCOrderCopy(benchmark::State& state) {
  AnyView a = Filled(4096);
  AnyView s = a.slice(ParseIndex("::2, ::2"));
  for (auto _ : state) {
    AnyView c = s.copy(Order::kC);
    benchmark::DoNotOptimize(c.first());
  }
  state.SetBytesProcessed(state.iterations() * s.nbytes());
}
BENCHMARK(BM_EveryOtherToCOrderCopy)->Unit(benchmark::kMillisecond);

void BM_EveryOtherToCOrderInto(benchmark::State& state) {
  AnyView a = Filled(4096);
  AnyView s = a.slice(ParseIndex("::2, ::2"));
  AnyView dst = s.copy(Order::kC);
  for (auto _ : state) {
    CopyInto(dst, s);
    benchmark::DoNotOptimize(dst.first());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * s.nbytes());
}
BENCHMARK(BM_EveryOtherToCOrderInto)->Unit(benchmark::kMillisecond);

// C order -> Fortran order of 4096 x 4096 doubles (128 MiB).
void BM_Memcpy128MiB(benchmark::State& state) { Memcpy(state, 128 * kMiB); }
BENCHMARK(BM_Memcpy128MiB)->Unit(benchmark::kMillisecond);

void BM_CToFortranCopy(benchmark::State& state) {
  AnyView a = Filled(4096);
  for (auto _ : state) {
    AnyView f = a.copy(Order::kF);
    benchmark::DoNotOptimize(f.first());
  }
  state.SetBytesProcessed(state.iterations() * a.nbytes());
}
BENCHMARK(BM_CToFortranCopy)->Unit(benchmark::kMillisecond);

void BM_CToFortranInto(benchmark::State& state) {
  AnyView a = Filled(4096);
  AnyView f = a.copy(Order::kF);
  for (auto _ : state) {
    CopyInto(f, a);
    benchmark::DoNotOptimize(f.first());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * a.nbytes());
}
BENCHMARK(BM_CToFortranInto)->Unit(benchmark::kMillisecond);

// C order -> Fortran order of about 32 MiB of other item sizes (square arrays of
// unsigned integers, or of 16-byte complex numbers), into a preallocated
// destination: the transposition kernel for each register layout.
void BM_CToFortranIntoItemsize(benchmark::State& state) {
  const int64_t isz = state.range(0);
  const char* format = isz == 1 ? "B" : isz == 2 ? "H" : isz == 4 ? "I" : "Zd";
  const auto side = static_cast<int64_t>(std::sqrt(32.0 * kMiB / isz)) / 64 * 64;
  AnyView a = AnyView::Allocate(Format::Parse(format), {side, side}, Order::kC);
  for (int64_t i = 0; i < a.nbytes(); ++i) a.first()[i] = static_cast<std::byte>(i * 7 + i / 251);
  AnyView f = AnyView::Allocate(Format::Parse(format), {side, side}, Order::kF);
  for (auto _ : state) {
    CopyInto(f, a);
    benchmark::DoNotOptimize(f.first());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * a.nbytes());
}
BENCHMARK(BM_CToFortranIntoItemsize)
    ->Arg(1)
    ->Arg(2)
    ->Arg(4)
    ->Arg(16)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace shmarray::shm
