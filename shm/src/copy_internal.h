// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: copy_internal.h
// -----------------------------------------------------------------------------
// The copy planner and executor shared by the kernels of copy.h (copy.cc,
// pack_range.cc) and the SSE2 transposition (transpose_sse2.cc). Private to
// shm/src.
//
// A Plan is built by MakePlan:
//   1. axes of extent 1 are dropped, an empty copy returns at once;
//   2. axes with a negative destination stride are flipped (both sides);
//   3. axes are sorted by destination stride, largest first, so the inner
//      loop runs along the smallest |stride| of the destination;
//   4. adjacent axes that are contiguous on both sides are merged.
// Execute then uses one memcpy per contiguous run (one memcpy in all when
// both layouts are contiguous in the same order), the blocked SSE2
// transposition (TryTranspose) when the source's contiguous axis is not the
// destination's (C <-> F), or a strided inner loop specialised for itemsizes
// 1/2/4/8/16.
//
// Thread-safety: pure functions over caller-owned memory.

#ifndef SHMARRAY_SHM_SRC_COPY_INTERNAL_H_
#define SHMARRAY_SHM_SRC_COPY_INTERNAL_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "shmarray/shm/layout.h"

namespace shmarray::shm::internal {

struct Dim {
  int64_t n;   // extent
  int64_t ds;  // destination stride, bytes
  int64_t ss;  // source stride, bytes
};

struct Plan {
  int nd = 0;
  int64_t isz = 1;
  std::array<Dim, kMaxDims + 1> d;  // outermost first
};

// Throws ShapeError when a copy has more than kMaxDims axes.
void CheckRank(size_t nd);

// Builds the plan; returns false when there is nothing to copy. Moves
// *dst / *src to the first item of the (possibly flipped) iteration.
bool MakePlan(size_t nd, const int64_t* shape, const int64_t* ds, const int64_t* ss, int64_t isz,
              std::byte** dst, const std::byte** src, Plan* p);

// Calls f(dst, src) for every index of the outer `outer_nd` axes of p.
template <typename F>
void ForEachOuter(const Plan& p, int outer_nd, std::byte* dst, const std::byte* src, F&& f) {
  if (outer_nd <= 0) {
    f(dst, src);
    return;
  }
  std::array<int64_t, kMaxDims + 1> idx{};
  for (;;) {
    f(dst, src);
    int k = outer_nd - 1;
    for (; k >= 0; --k) {
      const Dim& x = p.d[k];
      if (++idx[k] < x.n) {
        dst += x.ds;
        src += x.ss;
        break;
      }
      dst -= (x.n - 1) * x.ds;
      src -= (x.n - 1) * x.ss;
      idx[k] = 0;
    }
    if (k < 0) return;
  }
}

// Runs the plan. May reorder p's axes.
void Execute(Plan& p, std::byte* dst, const std::byte* src);

// The blocked SSE2 transposition of the plan's two innermost contiguous axes
// (itemsizes 1/2/4/8/16, both extents >= 16); false (and nothing copied) when
// it does not apply. May reorder p's axes. transpose_sse2.cc.
bool TryTranspose(Plan& p, std::byte* dst, const std::byte* src);

// Copies item-for-item between two layouts of the same shape (`nd` axes).
// dst / src point at item [0,...,0]. REQUIRES: no overlap.
void CopyRaw(size_t nd, const int64_t* shape, std::byte* dst, const int64_t* ds,
             const std::byte* src, const int64_t* ss, int64_t isz);

// Strides of a dense buffer of `shape` in `order` (a zero extent gives zeros
// further out; the buffer is empty then).
std::vector<int64_t> Strides(int64_t isz, const std::vector<int64_t>& shape, Order order);

// The number of items of `shape`.
int64_t Count(const std::vector<int64_t>& shape);

}  // namespace shmarray::shm::internal

#endif  // SHMARRAY_SHM_SRC_COPY_INTERNAL_H_
