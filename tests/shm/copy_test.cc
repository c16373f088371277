// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: copy_test.cc
// -----------------------------------------------------------------------------
// Tests for the byte-level kernels of shm/copy.h against a naive
// reference loop: random layouts (negative, zero and non-contiguous strides,
// itemsizes 1..17), overlapping source and destination, Cython's broadcasting,
// and PackRange/UnpackRange over random byte ranges.

#include "shmarray/shm/copy.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "shmarray/shm/any_view.h"
#include "shmarray/shm/errors.h"
#include "shmarray/shm/layout.h"

namespace shmarray::shm {
namespace {

struct Buffer {
  std::vector<std::byte> bytes;
  Layout layout;  // offset from bytes.data()
};

// A random layout of `shape` with items of `isz` bytes inside a fresh buffer
// of random bytes: axes permuted, gaps between items and axes, some strides
// negated; `allow_zero` makes some strides 0 (a source read several times).
Buffer RandomBuffer(std::mt19937& rng, const std::vector<int64_t>& shape, int64_t isz,
                    bool allow_zero) {
  const size_t nd = shape.size();
  std::vector<size_t> order(nd);
  for (size_t k = 0; k < nd; ++k) order[k] = k;
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<int64_t> strides(nd);
  int64_t acc = isz + static_cast<int64_t>(rng() % 3);  // gap after each item
  for (size_t k : order) {
    strides[k] = acc;
    acc *= std::max<int64_t>(shape[k], 1);
    acc += static_cast<int64_t>(rng() % 2) * isz;  // gap between blocks
  }
  for (size_t k = 0; k < nd; ++k) {
    if (rng() % 3 == 0) strides[k] = -strides[k];
    if (allow_zero && rng() % 5 == 0) strides[k] = 0;
  }
  Buffer b;
  b.layout.itemsize = isz;
  b.layout.shape = shape;
  b.layout.strides = strides;
  int64_t lo = 0, hi = isz;
  for (size_t k = 0; k < nd; ++k) {
    if (shape[k] == 0) continue;
    const int64_t span = (shape[k] - 1) * strides[k];
    (span < 0 ? lo : hi) += span;
  }
  b.layout.offset = -lo + static_cast<int64_t>(rng() % 5);
  b.bytes.resize(static_cast<size_t>(hi - lo + 8));
  for (auto& x : b.bytes) x = static_cast<std::byte>(rng());
  return b;
}

// Calls f(multi-index) for every index of `shape` in C order.
template <typename F>
void ForEachIndex(const std::vector<int64_t>& shape, F&& f) {
  for (int64_t e : shape) {
    if (e == 0) return;
  }
  std::vector<int64_t> idx(shape.size(), 0);
  for (;;) {
    f(idx);
    int k = static_cast<int>(shape.size()) - 1;
    for (; k >= 0; --k) {
      if (++idx[k] < shape[k]) break;
      idx[k] = 0;
    }
    if (k < 0) return;
  }
}

int64_t At(const Layout& l, const std::vector<int64_t>& idx) {
  int64_t off = l.offset;
  for (size_t k = 0; k < idx.size(); ++k) off += idx[k] * l.strides[k];
  return off;
}

// The reference serialization in `order`.
std::vector<std::byte> NaivePack(const Buffer& b, Order order) {
  std::vector<std::byte> out;
  std::vector<int64_t> shape = b.layout.shape;
  if (order == Order::kF) std::reverse(shape.begin(), shape.end());
  ForEachIndex(shape, [&](std::vector<int64_t> idx) {
    if (order == Order::kF) std::reverse(idx.begin(), idx.end());
    const std::byte* p = b.bytes.data() + At(b.layout, idx);
    out.insert(out.end(), p, p + b.layout.itemsize);
  });
  return out;
}

std::vector<int64_t> RandomShape(std::mt19937& rng, int max_nd, int64_t max_extent) {
  std::vector<int64_t> shape(rng() % (max_nd + 1));
  for (auto& e : shape) e = static_cast<int64_t>(rng() % (max_extent + 1));
  return shape;
}

TEST(CopyKernelTest, CopyStridedMatchesNaiveLoop) {
  std::mt19937 rng(1234);
  for (int iter = 0; iter < 3000; ++iter) {
    const int64_t isz = 1 + static_cast<int64_t>(rng() % 17);
    const std::vector<int64_t> shape = RandomShape(rng, 4, iter % 10 == 0 ? 12 : 6);
    Buffer src = RandomBuffer(rng, shape, isz, true);
    Buffer dst = RandomBuffer(rng, shape, isz, false);
    Buffer expected = dst;
    ForEachIndex(shape, [&](const std::vector<int64_t>& idx) {
      std::memcpy(expected.bytes.data() + At(dst.layout, idx),
                  src.bytes.data() + At(src.layout, idx), static_cast<size_t>(isz));
    });
    CopyStrided(dst.layout, dst.bytes.data(), src.layout, src.bytes.data());
    ASSERT_EQ(dst.bytes, expected.bytes) << "iter " << iter << " src " << src.layout.DebugString()
                                         << " dst " << dst.layout.DebugString();
  }
}

TEST(CopyKernelTest, PackUnpackMatchNaiveLoop) {
  std::mt19937 rng(99);
  for (int iter = 0; iter < 2000; ++iter) {
    const int64_t isz = 1 + static_cast<int64_t>(rng() % 17);
    const std::vector<int64_t> shape = RandomShape(rng, 4, 7);
    Buffer src = RandomBuffer(rng, shape, isz, false);
    for (Order order : {Order::kC, Order::kF}) {
      const std::vector<std::byte> expected = NaivePack(src, order);
      std::vector<std::byte> out(expected.size());
      PackBytes(src.layout, src.bytes.data(), order, out.data());
      ASSERT_EQ(out, expected) << iter << " " << src.layout.DebugString();
      Buffer dst = RandomBuffer(rng, shape, isz, false);
      UnpackBytes(out.data(), order, dst.layout, dst.bytes.data());
      ASSERT_EQ(NaivePack(dst, order), expected) << iter;
    }
  }
}

TEST(CopyKernelTest, PackRangeReassemblesToPackBytes) {
  std::mt19937 rng(7);
  for (int iter = 0; iter < 1500; ++iter) {
    const int64_t isz = 1 + static_cast<int64_t>(rng() % 17);
    const std::vector<int64_t> shape = RandomShape(rng, 4, 7);
    Buffer src = RandomBuffer(rng, shape, isz, iter % 2 == 0);
    if (iter % 4 == 1) {  // a contiguous source: the memcpy fast path
      src.layout = Layout::Contiguous(isz, shape, iter % 8 == 1 ? Order::kC : Order::kF);
      src.bytes.resize(static_cast<size_t>(src.layout.nbytes() + 1));
    }
    for (Order order : {Order::kC, Order::kF}) {
      const std::vector<std::byte> expected = NaivePack(src, order);
      const int64_t total = static_cast<int64_t>(expected.size());
      // Random chunk boundaries, including mid-item ones.
      std::vector<std::byte> out(expected.size());
      int64_t pos = 0;
      while (pos < total) {
        const int64_t len = std::min<int64_t>(total - pos, 1 + rng() % (3 * isz + 5));
        PackRange(src.layout, src.bytes.data(), order, pos, len, out.data() + pos);
        pos += len;
      }
      ASSERT_EQ(out, expected) << iter;
      // Unpack the same chunks into a fresh layout.
      Buffer dst = RandomBuffer(rng, shape, isz, false);
      pos = 0;
      while (pos < total) {
        const int64_t len = std::min<int64_t>(total - pos, 1 + rng() % (5 * isz + 3));
        UnpackRange(expected.data() + pos, pos, len, order, dst.layout, dst.bytes.data());
        pos += len;
      }
      ASSERT_EQ(NaivePack(dst, order), expected) << iter;
      // One random range on its own.
      if (total > 0) {
        const int64_t b = rng() % total;
        const int64_t len = rng() % (total - b + 1);
        std::vector<std::byte> part(static_cast<size_t>(len));
        PackRange(src.layout, src.bytes.data(), order, b, len, part.data());
        ASSERT_TRUE(std::equal(part.begin(), part.end(), expected.begin() + b)) << iter;
      }
    }
  }
}

TEST(CopyKernelTest, FillWritesEveryItem) {
  std::mt19937 rng(5);
  for (int iter = 0; iter < 500; ++iter) {
    const int64_t isz = 1 + static_cast<int64_t>(rng() % 17);
    const std::vector<int64_t> shape = RandomShape(rng, 3, 6);
    Buffer dst = RandomBuffer(rng, shape, isz, false);
    Buffer expected = dst;
    std::vector<std::byte> value(static_cast<size_t>(isz));
    for (auto& x : value) x = static_cast<std::byte>(rng());
    ForEachIndex(shape, [&](const std::vector<int64_t>& idx) {
      std::memcpy(expected.bytes.data() + At(dst.layout, idx), value.data(), value.size());
    });
    FillBytes(dst.layout, dst.bytes.data(), value.data());
    ASSERT_EQ(dst.bytes, expected.bytes) << iter;
  }
}

// dst and src are views of the same buffer, shifted: the result is that of a
// copy through a temporary.
TEST(CopyKernelTest, OverlapBehavesAsThroughATemporary) {
  std::mt19937 rng(42);
  for (int iter = 0; iter < 2000; ++iter) {
    const int64_t isz = 1 + static_cast<int64_t>(rng() % 17);
    const std::vector<int64_t> shape = RandomShape(rng, 3, 6);
    Buffer both = RandomBuffer(rng, shape, isz, false);
    Layout dst = both.layout;
    // Shift the destination by a random number of bytes (possibly within an item),
    // and sometimes reverse or permute it.
    dst.offset += static_cast<int64_t>(rng() % (2 * isz + 1)) - isz;
    if (!dst.shape.empty() && rng() % 2) {
      std::reverse(dst.shape.begin(), dst.shape.end());
      std::reverse(dst.strides.begin(), dst.strides.end());
    }
    std::vector<int64_t> src_shape = dst.shape;
    Layout src = both.layout;
    if (src.shape != dst.shape) continue;
    // Keep everything inside the buffer.
    std::vector<std::byte> mem(both.bytes.size() + static_cast<size_t>(2 * isz));
    std::copy(both.bytes.begin(), both.bytes.end(), mem.begin() + isz);
    dst.offset += isz;
    src.offset += isz;
    const Buffer src_copy{mem, src};
    std::vector<std::byte> expected = mem;
    ForEachIndex(src_shape, [&](const std::vector<int64_t>& idx) {
      std::memcpy(expected.data() + At(dst, idx), src_copy.bytes.data() + At(src, idx),
                  static_cast<size_t>(isz));
    });
    AssignBytes(dst, mem.data(), src, mem.data());
    ASSERT_EQ(mem, expected) << iter << " dst " << dst.DebugString() << " src "
                             << src.DebugString();
  }
}

TEST(CopyKernelTest, BroadcastingRules) {
  // Source (3,) into destination (2, 3): leading axis added and repeated.
  std::vector<int32_t> src = {1, 2, 3};
  std::vector<int32_t> dst(6, 0);
  const Layout s = Layout::Contiguous(4, std::vector<int64_t>{3}, Order::kC);
  const Layout d = Layout::Contiguous(4, std::vector<int64_t>{2, 3}, Order::kC);
  AssignBytes(d, reinterpret_cast<std::byte*>(dst.data()), s,
              reinterpret_cast<const std::byte*>(src.data()));
  EXPECT_EQ(dst, (std::vector<int32_t>{1, 2, 3, 1, 2, 3}));
  // Source (2, 1) repeats along axis 1.
  const Layout col = Layout::Contiguous(4, std::vector<int64_t>{2, 1}, Order::kC);
  AssignBytes(d, reinterpret_cast<std::byte*>(dst.data()), col,
              reinterpret_cast<const std::byte*>(src.data()));
  EXPECT_EQ(dst, (std::vector<int32_t>{1, 1, 1, 2, 2, 2}));
  // A destination axis of extent 1 is not broadcast.
  const Layout d1 = Layout::Contiguous(4, std::vector<int64_t>{1, 3}, Order::kC);
  try {
    AssignBytes(d1, reinterpret_cast<std::byte*>(dst.data()), d,
                reinterpret_cast<const std::byte*>(src.data()));
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_STREQ(e.what(), "got differing extents in dimension 0 (got 1 and 2)");
  }
  // A lower-rank destination gains a leading axis of extent 1, then fails as Cython does.
  const Layout d3 = Layout::Contiguous(4, std::vector<int64_t>{3}, Order::kC);
  try {
    AssignBytes(d3, reinterpret_cast<std::byte*>(dst.data()), d,
                reinterpret_cast<const std::byte*>(src.data()));
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_STREQ(e.what(), "got differing extents in dimension 0 (got 1 and 2)");
  }
  // A source of rank 0 fills.
  const Layout scalar = Layout::Contiguous(4, std::vector<int64_t>{}, Order::kC);
  AssignBytes(d, reinterpret_cast<std::byte*>(dst.data()), scalar,
              reinterpret_cast<const std::byte*>(src.data() + 2));
  EXPECT_EQ(dst, (std::vector<int32_t>(6, 3)));
}

// Copies a random na x nb source (rows `src_row` bytes apart, negative for
// reversed rows) into a destination contiguous along the rows (column b at
// `dst_col` bytes, item [0, 0] at byte `dst_offset`) and checks every byte,
// the untouched padding included, against a naive loop.
void CheckTransposition(int64_t isz, int64_t na, int64_t nb, int64_t src_row, int64_t dst_col,
                        int64_t dst_offset) {
  std::mt19937 rng(static_cast<unsigned>(isz * 7919 + na * 31 + nb + dst_offset));
  const int64_t src_span = (na - 1) * std::abs(src_row) + nb * isz;
  std::vector<std::byte> src(static_cast<size_t>(src_span));
  for (auto& x : src) x = static_cast<std::byte>(rng());
  Layout sl;
  sl.itemsize = isz;
  sl.shape = {na, nb};
  sl.strides = {src_row, isz};
  sl.offset = src_row < 0 ? (na - 1) * -src_row : 0;
  Layout dl;
  dl.itemsize = isz;
  dl.shape = {na, nb};
  dl.strides = {isz, dst_col};
  dl.offset = dst_offset;
  std::vector<std::byte> dst(static_cast<size_t>(dst_offset + (nb - 1) * dst_col + na * isz + 5));
  for (auto& x : dst) x = static_cast<std::byte>(rng());
  std::vector<std::byte> expected = dst;
  for (int64_t a = 0; a < na; ++a) {
    for (int64_t b = 0; b < nb; ++b) {
      std::memcpy(expected.data() + dl.offset + a * isz + b * dst_col,
                  src.data() + sl.offset + a * src_row + b * isz, static_cast<size_t>(isz));
    }
  }
  CopyStrided(dl, dst.data(), sl, src.data());
  ASSERT_TRUE(dst == expected) << "isz " << isz << " " << na << " x " << nb << " src_row "
                               << src_row << " dst_col " << dst_col << " offset " << dst_offset;
}

TEST(CopyKernelTest, TranspositionBlockEdges) {
  // Blocks are 128 x 128 bytes: 128 / isz items a side. Extents just under,
  // at and over one and two blocks; rows padded or not, reversed or not;
  // aligned and unaligned destinations.
  for (int64_t isz : {1, 2, 4, 8, 16}) {
    const int64_t r = 128 / isz;
    for (int64_t na : {int64_t{16}, r - 1, r, r + 1, 2 * r + 3}) {
      for (int64_t nb : {int64_t{17}, r, 2 * r - 1, 2 * r + 1}) {
        if (na < 16 || nb < 16) continue;
        for (int64_t pad : {0, 1, 16}) {
          CheckTransposition(isz, na, nb, (nb + pad) * isz, (na + pad) * isz, pad);
          CheckTransposition(isz, na, nb, -(nb + pad) * isz, na * isz + 16 * pad, 0);
        }
      }
    }
  }
}

TEST(CopyKernelTest, LargeTranspositionWithStreamingStores) {
  // Destinations of 4 MiB and more take the non-temporal path when aligned.
  for (int64_t isz : {1, 2, 4, 8, 16}) {
    const int64_t items = (int64_t{9} << 19) / isz;  // 4.5 MiB
    const int64_t na = 1000 / isz * isz + 37;
    const int64_t nb = items / na;
    CheckTransposition(isz, na, nb, nb * isz, na * isz + 16 - na * isz % 16, 0);
    CheckTransposition(isz, na, nb, -(nb + 3) * isz, na * isz, 3);
  }
}

TEST(CopyKernelTest, LargeTranspositionIsExact) {
  // Big enough for the cache-blocked kernel, with ragged tile edges.
  for (int64_t isz : {1, 2, 4, 8, 16, 3}) {
    const std::vector<int64_t> shape = {131, 77, 3};
    const Layout c = Layout::Contiguous(isz, shape, Order::kC);
    const Layout f = Layout::Contiguous(isz, shape, Order::kF);
    std::vector<std::byte> src(static_cast<size_t>(c.nbytes()));
    for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<std::byte>(i * 7 + i / 251);
    std::vector<std::byte> dst(src.size());
    CopyStrided(f, dst.data(), c, src.data());
    std::vector<std::byte> packed(src.size());
    PackBytes(f, dst.data(), Order::kC, packed.data());
    EXPECT_EQ(packed, src) << isz;
  }
}

}  // namespace
}  // namespace shmarray::shm
