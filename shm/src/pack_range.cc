// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: pack_range.cc
// -----------------------------------------------------------------------------
// PackRange / UnpackRange (copy.h): bytes [begin, begin + len) of the
// contiguous serialization of a strided layout, for the server's chunked
// Read/Write streaming. A range is cut into a partial first item, a few
// hyper-rectangular blocks copied by the planner, and a partial last item.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "copy_internal.h"
#include "shmarray/shm/copy.h"
#include "shmarray/shm/layout.h"

namespace shmarray::shm {
namespace {

using internal::CheckRank;
using internal::CopyRaw;

// The axes in serialization order (C order over `shape`/`strides`).
struct Serial {
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;
  std::vector<int64_t> suffix;  // suffix[k] = items in axes k+1..n-1
};

Serial SerialOf(const Layout& l, Order order) {
  Serial s;
  s.shape = l.shape;
  s.strides = l.strides;
  if (order == Order::kF) {
    std::reverse(s.shape.begin(), s.shape.end());
    std::reverse(s.strides.begin(), s.strides.end());
  }
  s.suffix.assign(s.shape.size(), 1);
  for (int k = static_cast<int>(s.shape.size()) - 2; k >= 0; --k) {
    s.suffix[k] = s.suffix[k + 1] * s.shape[k + 1];
  }
  return s;
}

// Byte offset (from item [0,...,0]) of the item with serial (flat) index `i`.
int64_t ItemOffset(const Serial& s, int64_t i) {
  int64_t off = 0;
  for (size_t k = 0; k < s.shape.size(); ++k) {
    const int64_t q = i / s.suffix[k];
    i -= q * s.suffix[k];
    off += q * s.strides[k];
  }
  return off;
}

// Copies items [a, b) of the serialization between the strided layout (item
// 0 at `items`) and the contiguous buffer `buf` (holding item a at buf[0]),
// as a few hyper-rectangular blocks copied by the planner.
template <bool kPack>
void RangeBlocks(const Serial& s, size_t k, std::byte* items, int64_t a, int64_t b, int64_t flat0,
                 int64_t first_item, std::byte* buf, int64_t isz) {
  if (a >= b) return;
  const size_t n = s.shape.size();
  if (k == n) {  // a single item
    if (kPack) {
      std::memcpy(buf + (flat0 - first_item) * isz, items, static_cast<size_t>(isz));
    } else {
      std::memcpy(items, buf + (flat0 - first_item) * isz, static_cast<size_t>(isz));
    }
    return;
  }
  const int64_t sub = s.suffix[k];
  const int64_t i0 = a / sub;
  const int64_t r0 = a % sub;
  const int64_t i1 = b / sub;
  const int64_t r1 = b % sub;
  if (i0 == i1) {
    RangeBlocks<kPack>(s, k + 1, items + i0 * s.strides[k], r0, r1, flat0 + i0 * sub, first_item,
                       buf, isz);
    return;
  }
  int64_t full = i0;
  if (r0 != 0) {
    RangeBlocks<kPack>(s, k + 1, items + i0 * s.strides[k], r0, sub, flat0 + i0 * sub, first_item,
                       buf, isz);
    full = i0 + 1;
  }
  if (i1 > full) {
    // Axes k..n-1 with axis k restricted to [full, i1): contiguous in the buffer.
    std::vector<int64_t> shape(s.shape.begin() + static_cast<ptrdiff_t>(k), s.shape.end());
    shape[0] = i1 - full;
    std::vector<int64_t> strided_st(s.strides.begin() + static_cast<ptrdiff_t>(k), s.strides.end());
    std::vector<int64_t> contig_st(shape.size());
    int64_t acc = isz;
    for (size_t q = shape.size(); q-- > 0;) {
      contig_st[q] = acc;
      acc *= shape[q];
    }
    std::byte* block = items + full * s.strides[k];
    std::byte* bufp = buf + (flat0 + full * sub - first_item) * isz;
    if (kPack) {
      CopyRaw(shape.size(), shape.data(), bufp, contig_st.data(), block, strided_st.data(), isz);
    } else {
      CopyRaw(shape.size(), shape.data(), block, strided_st.data(), bufp, contig_st.data(), isz);
    }
  }
  if (r1 != 0) {
    RangeBlocks<kPack>(s, k + 1, items + i1 * s.strides[k], 0, r1, flat0 + i1 * sub, first_item,
                       buf, isz);
  }
}

template <bool kPack>
void TransferRange(const Layout& l, std::byte* data, Order order, int64_t begin, int64_t len,
                   std::byte* buf) {
  if (len <= 0) return;
  CheckRank(l.shape.size());
  const int64_t isz = l.itemsize;
  std::byte* first = data + l.offset;
  if (IsContiguous(l.itemsize, l.shape, l.strides, order)) {
    if (kPack) {
      std::memcpy(buf, first + begin, static_cast<size_t>(len));
    } else {
      std::memcpy(first + begin, buf, static_cast<size_t>(len));
    }
    return;
  }
  const Serial s = SerialOf(l, order);
  auto part = [&](int64_t item, int64_t from, int64_t bytes) {
    std::byte* p = first + ItemOffset(s, item) + from;
    if (kPack) {
      std::memcpy(buf, p, static_cast<size_t>(bytes));
    } else {
      std::memcpy(p, buf, static_cast<size_t>(bytes));
    }
    buf += bytes;
    len -= bytes;
  };
  int64_t item = begin / isz;
  const int64_t head = begin % isz;
  if (head != 0) {
    part(item, head, std::min(isz - head, len));
    ++item;
  }
  const int64_t whole = len / isz;
  if (whole > 0) {
    RangeBlocks<kPack>(s, 0, first, item, item + whole, 0, item, buf, isz);
    buf += whole * isz;
    len -= whole * isz;
    item += whole;
  }
  if (len > 0) part(item, 0, len);
}

}  // namespace

void PackRange(const Layout& src, const std::byte* src_data, Order order, int64_t begin,
               int64_t len, std::byte* out) {
  TransferRange<true>(src, const_cast<std::byte*>(src_data), order, begin, len, out);
}

void UnpackRange(const std::byte* in, int64_t begin, int64_t len, Order order, const Layout& dst,
                 std::byte* dst_data) {
  TransferRange<false>(dst, dst_data, order, begin, len, const_cast<std::byte*>(in));
}

}  // namespace shmarray::shm
