// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: copy.h
// -----------------------------------------------------------------------------
// Byte-level copy kernels over layouts (layout.h) and raw data-region
// pointers, without format or read-only checks: what CopyInto (any_view.h),
// View::assign/copy/fill, the server's Read/Write streaming and the
// benchmarks run. Every kernel goes through one planner (drop extent-1 axes,
// flip negative destination strides, sort by destination stride, merge
// contiguous axes) that picks one memcpy per contiguous run, a blocked SSE2
// transposition for C <-> F, or a strided loop specialised for itemsizes
// 1/2/4/8/16.
//
//   Layout src = Layout::Contiguous(8, {4, 6}, Order::kC);
//   std::vector<std::byte> out(src.nbytes());
//   PackBytes(src, data, Order::kF, out.data());    // the F-order bytes
//   PackRange(src, data, Order::kC, 16, 32, chunk);  // bytes [16, 48) of the C order
//
// The data pointers are those of the data region: a layout's offset is
// added. Throws ShapeError for more than kMaxDims axes, differing item sizes
// or extents. Thread-safety: pure functions over caller-owned memory; the
// caller keeps concurrent writers away.

#ifndef SHMARRAY_SHM_COPY_H_
#define SHMARRAY_SHM_COPY_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "shmarray/shm/layout.h"

namespace shmarray::shm {

// dst[...] = src at the byte level: the same broadcasting, extent errors and
// overlap handling as CopyInto, but no format or read-only checks.
// REQUIRES: dst.itemsize == src.itemsize; the layouts describe valid memory.
void AssignBytes(const Layout& dst, std::byte* dst_data, const Layout& src,
                 const std::byte* src_data);

// Copies the items of `src` (a layout over `src_data`, data-region pointer)
// into a contiguous buffer `out` in `order`. REQUIRES: out holds
// src.nbytes() bytes; no overlap.
void PackBytes(const Layout& src, const std::byte* src_data, Order order, std::byte* out);
// The inverse: a contiguous buffer in `order` into the items of `dst`.
void UnpackBytes(const std::byte* in, Order order, const Layout& dst, std::byte* dst_data);
// Strided to strided, same shape and itemsize, no broadcasting.
// REQUIRES: no overlap.
void CopyStrided(const Layout& dst, std::byte* dst_data, const Layout& src,
                 const std::byte* src_data);
// Chunked forms for streaming: bytes [begin, begin + len) of the contiguous
// serialization in `order` of the items of `src` / `dst`. REQUIRES:
// 0 <= begin, begin + len <= nbytes(); no overlap.
void PackRange(const Layout& src, const std::byte* src_data, Order order, int64_t begin,
               int64_t len, std::byte* out);
void UnpackRange(const std::byte* in, int64_t begin, int64_t len, Order order, const Layout& dst,
                 std::byte* dst_data);
// Writes `value` (itemsize bytes) into every item of `dst`.
void FillBytes(const Layout& dst, std::byte* dst_data, const std::byte* value);

namespace internal {
// `nbytes` zero-filled bytes, 64-byte aligned (large blocks are fresh
// anonymous mappings, page-aligned, with transparent huge pages advised).
// The memory is freed when the last copy of the pointer goes. nbytes 0 gives
// a valid, unique pointer. Throws std::bad_alloc. Thread-safe.
std::shared_ptr<std::byte> AllocateBytes(int64_t nbytes);
}  // namespace internal

}  // namespace shmarray::shm

#endif  // SHMARRAY_SHM_COPY_H_
