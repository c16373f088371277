// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: copy.cc
// -----------------------------------------------------------------------------
// The byte-level copy kernels of copy.h other than the ranges
// (pack_range.cc): strided copies, pack/unpack, fill, and the broadcasting
// assignment behind CopyInto and View::assign, which goes through a temporary
// when source and destination overlap. All of them run the planner of
// copy_internal.h.

#include "shmarray/shm/copy.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "copy_internal.h"
#include "shmarray/shm/errors.h"
#include "shmarray/shm/layout.h"

namespace shmarray::shm {
namespace {

using internal::CheckRank;
using internal::CopyRaw;
using internal::Count;
using internal::Strides;

void CheckSameShape(const Layout& dst, const Layout& src) {
  if (dst.itemsize != src.itemsize) {
    throw ShapeError("item sizes differ (" + std::to_string(dst.itemsize) + " and " +
                     std::to_string(src.itemsize) + ")");
  }
  if (dst.shape.size() != src.shape.size() || dst.strides.size() != dst.shape.size() ||
      src.strides.size() != src.shape.size()) {
    throw ShapeError("copy between layouts of different ranks");
  }
  for (size_t k = 0; k < dst.shape.size(); ++k) {
    if (dst.shape[k] != src.shape[k]) {
      throw ShapeError("got differing extents in dimension " + std::to_string(k) + " (got " +
                       std::to_string(dst.shape[k]) + " and " + std::to_string(src.shape[k]) + ")");
    }
  }
}

// Byte range [lo, hi) of the items relative to item [0,...,0]; empty -> {0, 0}.
struct Range {
  int64_t lo;
  int64_t hi;
};
Range ItemRange(const std::vector<int64_t>& shape, const std::vector<int64_t>& strides,
                int64_t isz) {
  Range r{0, isz};
  for (size_t k = 0; k < shape.size(); ++k) {
    if (shape[k] == 0) return Range{0, 0};
    const int64_t span = (shape[k] - 1) * strides[k];
    if (span < 0) {
      r.lo += span;
    } else {
      r.hi += span;
    }
  }
  return r;
}

void Broadcast(const Layout& dst, const Layout& src, std::vector<int64_t>* shape,
               std::vector<int64_t>* dst_strides, std::vector<int64_t>* src_shape,
               std::vector<int64_t>* src_strides) {
  const size_t nd = std::max(dst.shape.size(), src.shape.size());
  CheckRank(nd);
  const size_t dpad = nd - dst.shape.size();
  const size_t spad = nd - src.shape.size();
  shape->assign(nd, 1);
  dst_strides->assign(nd, 0);
  src_shape->assign(nd, 1);
  src_strides->assign(nd, 0);
  for (size_t k = 0; k < dst.shape.size(); ++k) {
    (*shape)[dpad + k] = dst.shape[k];
    (*dst_strides)[dpad + k] = dst.strides[k];
  }
  for (size_t k = 0; k < src.shape.size(); ++k) {
    (*src_shape)[spad + k] = src.shape[k];
    (*src_strides)[spad + k] = src.strides[k];
  }
  for (size_t k = 0; k < nd; ++k) {
    if ((*src_shape)[k] == (*shape)[k]) continue;
    if ((*src_shape)[k] == 1) continue;  // repeated along the destination
    throw ShapeError("got differing extents in dimension " + std::to_string(k) + " (got " +
                     std::to_string((*shape)[k]) + " and " + std::to_string((*src_shape)[k]) + ")");
  }
}

}  // namespace

void CopyStrided(const Layout& dst, std::byte* dst_data, const Layout& src,
                 const std::byte* src_data) {
  CheckSameShape(dst, src);
  CopyRaw(dst.shape.size(), dst.shape.data(), dst_data + dst.offset, dst.strides.data(),
          src_data + src.offset, src.strides.data(), dst.itemsize);
}

void PackBytes(const Layout& src, const std::byte* src_data, Order order, std::byte* out) {
  const std::vector<int64_t> st = Strides(src.itemsize, src.shape, order);
  CopyRaw(src.shape.size(), src.shape.data(), out, st.data(), src_data + src.offset,
          src.strides.data(), src.itemsize);
}

void UnpackBytes(const std::byte* in, Order order, const Layout& dst, std::byte* dst_data) {
  const std::vector<int64_t> st = Strides(dst.itemsize, dst.shape, order);
  CopyRaw(dst.shape.size(), dst.shape.data(), dst_data + dst.offset, dst.strides.data(), in,
          st.data(), dst.itemsize);
}

void FillBytes(const Layout& dst, std::byte* dst_data, const std::byte* value) {
  const std::vector<int64_t> zeros(dst.shape.size(), 0);
  CopyRaw(dst.shape.size(), dst.shape.data(), dst_data + dst.offset, dst.strides.data(), value,
          zeros.data(), dst.itemsize);
}

void AssignBytes(const Layout& dst, std::byte* dst_data, const Layout& src,
                 const std::byte* src_data) {
  if (dst.itemsize != src.itemsize) {
    throw ShapeError("item sizes differ (" + std::to_string(dst.itemsize) + " and " +
                     std::to_string(src.itemsize) + ")");
  }
  std::vector<int64_t> shape, ds, src_shape, ss;
  Broadcast(dst, src, &shape, &ds, &src_shape, &ss);
  for (size_t k = 0; k < shape.size(); ++k) {
    if (src_shape[k] != shape[k]) ss[k] = 0;
  }
  std::byte* d = dst_data + dst.offset;
  const std::byte* s = src_data + src.offset;
  const int64_t isz = dst.itemsize;
  const Range dr = ItemRange(shape, ds, isz);
  const Range sr = ItemRange(src.shape, src.strides, isz);
  const auto d_addr = reinterpret_cast<uintptr_t>(d);
  const auto s_addr = reinterpret_cast<uintptr_t>(s);
  const bool overlap =
      dr.hi > dr.lo && sr.hi > sr.lo &&
      d_addr + static_cast<uintptr_t>(dr.lo) < s_addr + static_cast<uintptr_t>(sr.hi) &&
      s_addr + static_cast<uintptr_t>(sr.lo) < d_addr + static_cast<uintptr_t>(dr.hi);
  if (!overlap) {
    CopyRaw(shape.size(), shape.data(), d, ds.data(), s, ss.data(), isz);
    return;
  }
  // As if through a temporary: pack the source (C order), then broadcast from it.
  const int64_t count = Count(src.shape);
  std::shared_ptr<std::byte> tmp = internal::AllocateBytes(count * isz);
  PackBytes(src, src_data, Order::kC, tmp.get());
  std::vector<int64_t> ts = Strides(isz, src_shape, Order::kC);
  for (size_t k = 0; k < shape.size(); ++k) {
    if (src_shape[k] != shape[k]) ts[k] = 0;
  }
  CopyRaw(shape.size(), shape.data(), d, ds.data(), tmp.get(), ts.data(), isz);
}

namespace internal {

std::shared_ptr<std::byte> AllocateBytes(int64_t nbytes) {
  constexpr int64_t kMapThreshold = int64_t{1} << 22;  // 4 MiB
  if (nbytes < 0) throw std::bad_alloc();
  if (nbytes >= kMapThreshold) {
    void* p = mmap(nullptr, static_cast<size_t>(nbytes), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
    madvise(p, static_cast<size_t>(nbytes), MADV_HUGEPAGE);
#endif
    const size_t size = static_cast<size_t>(nbytes);
    return std::shared_ptr<std::byte>(static_cast<std::byte*>(p),
                                      [size](std::byte* q) { munmap(q, size); });
  }
  const size_t size = static_cast<size_t>(std::max<int64_t>(64, (nbytes + 63) / 64 * 64));
  void* p = std::aligned_alloc(64, size);
  if (p == nullptr) throw std::bad_alloc();
  std::memset(p, 0, size);
  return std::shared_ptr<std::byte>(static_cast<std::byte*>(p), [](std::byte* q) { std::free(q); });
}

}  // namespace internal
}  // namespace shmarray::shm
