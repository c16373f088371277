// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: copy.cc
// -----------------------------------------------------------------------------
// Byte-level copy kernels behind CopyInto, View::assign/copy/fill and the
// server's Read/Write streaming. Every copy goes through one planner:
//   1. axes of extent 1 are dropped, an empty copy returns at once;
//   2. axes with a negative destination stride are flipped (both sides);
//   3. axes are sorted by destination stride, largest first, so the inner
//      loop runs along the smallest |stride| of the destination;
//   4. adjacent axes that are contiguous on both sides are merged.
// The executor then uses one memcpy per contiguous run (one memcpy in all
// when both layouts are contiguous in the same order), a blocked SSE2
// transposition when the source's contiguous axis is not the destination's
// (C <-> F), or a strided inner loop specialised for itemsizes 1/2/4/8/16.
// Overlapping source and destination go through a temporary.

#include <emmintrin.h>
#include <sys/mman.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "shmarray/shm/any_view.h"
#include "shmarray/shm/errors.h"
#include "shmarray/shm/layout.h"

namespace shmarray::shm {
namespace {

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

void CheckRank(size_t nd) {
  if (nd > static_cast<size_t>(kMaxDims)) {
    throw ShapeError("copy of " + std::to_string(nd) + " dimensions exceeds the maximum of " +
                     std::to_string(kMaxDims));
  }
}

// Builds the plan; returns false when there is nothing to copy. Moves
// *dst / *src to the first item of the (possibly flipped) iteration.
bool MakePlan(size_t nd, const int64_t* shape, const int64_t* ds, const int64_t* ss, int64_t isz,
              std::byte** dst, const std::byte** src, Plan* p) {
  CheckRank(nd);
  p->isz = isz;
  p->nd = 0;
  for (size_t k = 0; k < nd; ++k) {
    if (shape[k] == 0) return false;
  }
  for (size_t k = 0; k < nd; ++k) {
    if (shape[k] == 1) continue;
    Dim x{shape[k], ds[k], ss[k]};
    if (x.ds < 0) {
      *dst += (x.n - 1) * x.ds;
      *src += (x.n - 1) * x.ss;
      x.ds = -x.ds;
      x.ss = -x.ss;
    }
    // Insertion sort: largest destination stride first (then largest |ss|).
    int i = p->nd++;
    while (i > 0) {
      const Dim& prev = p->d[i - 1];
      const bool before =
          prev.ds > x.ds || (prev.ds == x.ds && std::abs(prev.ss) >= std::abs(x.ss));
      if (before) break;
      p->d[i] = prev;
      --i;
    }
    p->d[i] = x;
  }
  // Merge an outer axis into the next inner one when both sides are contiguous across them.
  int m = 0;
  for (int i = 0; i < p->nd; ++i) {
    const Dim x = p->d[i];
    if (m > 0 && p->d[m - 1].ds == x.ds * x.n && p->d[m - 1].ss == x.ss * x.n) {
      p->d[m - 1] = Dim{p->d[m - 1].n * x.n, x.ds, x.ss};
    } else {
      p->d[m++] = x;
    }
  }
  p->nd = m;
  return true;
}

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

template <int S>
struct Item {
  unsigned char b[S];
};

template <int S>
void StridedRow(std::byte* d, int64_t ds, const std::byte* s, int64_t ss, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(d + i * ds, s + i * ss, S);
  }
}

template <int S>
void ContiguousDstRow(std::byte* d, const std::byte* s, int64_t ss, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(d + i * S, s + i * ss, S);
  }
}

template <int S>
void FillRow(std::byte* d, int64_t ds, const std::byte* v, int64_t n) {
  Item<S> x;
  std::memcpy(&x, v, S);
  if (ds == S) {
    for (int64_t i = 0; i < n; ++i) std::memcpy(d + i * S, &x, S);
  } else {
    for (int64_t i = 0; i < n; ++i) std::memcpy(d + i * ds, &x, S);
  }
}

void GenericRow(std::byte* d, int64_t ds, const std::byte* s, int64_t ss, int64_t n, int64_t isz) {
  for (int64_t i = 0; i < n; ++i) {
    std::memmove(d + i * ds, s + i * ss, static_cast<size_t>(isz));
  }
}

template <int S>
void Row(std::byte* d, int64_t ds, const std::byte* s, int64_t ss, int64_t n) {
  if (ss == 0) {
    FillRow<S>(d, ds, s, n);
  } else if (ds == S) {
    ContiguousDstRow<S>(d, s, ss, n);
  } else {
    StridedRow<S>(d, ds, s, ss, n);
  }
}

// --- Transposition (C <-> F and other swaps of the contiguous axis). -------
//
// Transpose2D copies an n_a x n_b block where the source is contiguous along
// b (rows a at stride ss_a) and the destination along a (rows b at stride
// ds_b). It works in square blocks of kBlockBytes / S items a side (16 x 16
// doubles, 128 x 128 bytes): each block is transposed from the source into
// an L1-resident buffer with SSE2 register transposes, then the buffer's
// rows are written to the destination as whole 128-byte runs. The buffer
// keeps the power-of-two row distances of typical arrays from evicting
// half-used lines. The blocks are visited along the source's rows and the
// rows of the next block are prefetched (too many rows at once for the
// hardware prefetcher when items are small), so the source is read as a
// stream. Large destinations are written with non-temporal stores: every
// destination line is written whole, so reading it first (and evicting the
// source to make room) would be wasted traffic.

// Block edge in bytes; kBlockBytes / S items of S bytes per block row.
constexpr int64_t kBlockBytes = 128;
// Destinations of at least this many bytes are written with streaming
// stores (they would not stay in cache anyway).
constexpr int64_t kStreamBytes = int64_t{4} << 20;

template <int S>
__m128i UnpackLo(__m128i x, __m128i y) {
  if constexpr (S == 1) {
    return _mm_unpacklo_epi8(x, y);
  } else if constexpr (S == 2) {
    return _mm_unpacklo_epi16(x, y);
  } else if constexpr (S == 4) {
    return _mm_unpacklo_epi32(x, y);
  } else {
    static_assert(S == 8);
    return _mm_unpacklo_epi64(x, y);
  }
}

template <int S>
__m128i UnpackHi(__m128i x, __m128i y) {
  if constexpr (S == 1) {
    return _mm_unpackhi_epi8(x, y);
  } else if constexpr (S == 2) {
    return _mm_unpackhi_epi16(x, y);
  } else if constexpr (S == 4) {
    return _mm_unpackhi_epi32(x, y);
  } else {
    static_assert(S == 8);
    return _mm_unpackhi_epi64(x, y);
  }
}

// Transposes the K x K tile of S-byte items held in r[0..K), K = 16 / S, one
// 16-byte row per register: log2(K) rounds of interleaving row i with row
// i + K/2 (a perfect shuffle of the row index) leave r[j] holding column j.
template <int S>
void TransposeRegisters(__m128i* r) {
  constexpr int K = 16 / S;
  if constexpr (K > 1) {
    for (int round = 1; round < K; round *= 2) {
      __m128i t[K];
      for (int i = 0; i < K / 2; ++i) {
        t[2 * i] = UnpackLo<S>(r[i], r[i + K / 2]);
        t[2 * i + 1] = UnpackHi<S>(r[i], r[i + K / 2]);
      }
      std::copy(t, t + K, r);
    }
  }
}

// One full block (see Transpose2D). kStream: non-temporal stores, which
// REQUIRE d and ds_b to be multiples of 16.
template <int S, bool kStream>
void TransposeBlock(std::byte* d, int64_t ds_b, const std::byte* s, int64_t ss_a) {
  constexpr int R = static_cast<int>(kBlockBytes / S);  // items per block edge
  constexpr int K = 16 / S;                             // items per register
  alignas(16) std::byte buf[R * R * S];                 // buf row b = destination row b
  for (int a = 0; a < R; a += K) {
    for (int i = 0; i < K; ++i) {  // the same rows of the next block
      const char* next = reinterpret_cast<const char*>(s + (a + i) * ss_a + kBlockBytes);
      for (int line = 0; line < kBlockBytes; line += 64) _mm_prefetch(next + line, _MM_HINT_T0);
    }
    for (int b = 0; b < R; b += K) {
      __m128i r[K];
      for (int i = 0; i < K; ++i) {
        r[i] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + (a + i) * ss_a + b * S));
      }
      TransposeRegisters<S>(r);
      for (int i = 0; i < K; ++i) {
        _mm_store_si128(reinterpret_cast<__m128i*>(buf + ((b + i) * R + a) * S), r[i]);
      }
    }
  }
  for (int b = 0; b < R; ++b) {
    for (int x = 0; x < R * S; x += 16) {
      const __m128i v = _mm_load_si128(reinterpret_cast<const __m128i*>(buf + b * R * S + x));
      auto* out = reinterpret_cast<__m128i*>(d + b * ds_b + x);
      if constexpr (kStream) {
        _mm_stream_si128(out, v);
      } else {
        _mm_storeu_si128(out, v);
      }
    }
  }
}

// Item by item, for the partial blocks at the edges.
template <int S>
void TransposeEdge(std::byte* d, int64_t ds_b, const std::byte* s, int64_t ss_a, int64_t n_a,
                   int64_t n_b) {
  for (int64_t b = 0; b < n_b; ++b) {
    for (int64_t a = 0; a < n_a; ++a) {
      std::memcpy(d + b * ds_b + a * S, s + b * S + a * ss_a, S);
    }
  }
}

template <int S, bool kStream>
void TransposeBlocks(std::byte* dst, const std::byte* src, int64_t n_a, int64_t ss_a, int64_t n_b,
                     int64_t ds_b) {
  constexpr int64_t R = kBlockBytes / S;
  const int64_t full_a = n_a / R * R;
  const int64_t full_b = n_b / R * R;
  for (int64_t a0 = 0; a0 < full_a; a0 += R) {
    for (int64_t b0 = 0; b0 < full_b; b0 += R) {
      TransposeBlock<S, kStream>(dst + b0 * ds_b + a0 * S, ds_b, src + b0 * S + a0 * ss_a, ss_a);
    }
    TransposeEdge<S>(dst + full_b * ds_b + a0 * S, ds_b, src + full_b * S + a0 * ss_a, ss_a, R,
                     n_b - full_b);
  }
  TransposeEdge<S>(dst + full_a * S, ds_b, src + full_a * ss_a, ss_a, n_a - full_a, n_b);
  if constexpr (kStream) _mm_sfence();  // order the streaming stores before later ones
}

template <int S>
void Transpose2D(std::byte* dst, const std::byte* src, int64_t n_a, int64_t ss_a, int64_t n_b,
                 int64_t ds_b) {
  const bool stream =
      n_a * n_b * S >= kStreamBytes && reinterpret_cast<uintptr_t>(dst) % 16 == 0 && ds_b % 16 == 0;
  if (stream) {
    TransposeBlocks<S, true>(dst, src, n_a, ss_a, n_b, ds_b);
  } else {
    TransposeBlocks<S, false>(dst, src, n_a, ss_a, n_b, ds_b);
  }
}

template <int S>
bool TryTranspose(Plan& p, std::byte* dst, const std::byte* src) {
  const Dim in = p.d[p.nd - 1];
  if (p.nd < 2 || in.ds != S || in.n < 16) return false;
  int j = -1;
  for (int k = p.nd - 2; k >= 0; --k) {
    if (p.d[k].ss == S && p.d[k].n >= 16) {
      j = k;
      break;
    }
  }
  if (j < 0) return false;
  const Dim other = p.d[j];
  for (int k = j; k < p.nd - 2; ++k) p.d[k] = p.d[k + 1];
  p.d[p.nd - 2] = other;
  ForEachOuter(p, p.nd - 2, dst, src, [&](std::byte* d, const std::byte* s) {
    Transpose2D<S>(d, s, in.n, in.ss, other.n, other.ds);
  });
  return true;
}

void Execute(Plan& p, std::byte* dst, const std::byte* src) {
  const int64_t isz = p.isz;
  if (p.nd == 0) {
    std::memmove(dst, src, static_cast<size_t>(isz));
    return;
  }
  const Dim in = p.d[p.nd - 1];
  if (in.ds == isz && in.ss == isz) {
    const size_t run = static_cast<size_t>(in.n * isz);
    ForEachOuter(p, p.nd - 1, dst, src,
                 [run](std::byte* d, const std::byte* s) { std::memcpy(d, s, run); });
    return;
  }
  if (in.ss == 0 && isz == 1 && in.ds == 1) {
    const size_t run = static_cast<size_t>(in.n);
    ForEachOuter(p, p.nd - 1, dst, src, [run](std::byte* d, const std::byte* s) {
      std::memset(d, static_cast<int>(*s), run);
    });
    return;
  }
  switch (isz) {
    case 1:
      if (TryTranspose<1>(p, dst, src)) return;
      break;
    case 2:
      if (TryTranspose<2>(p, dst, src)) return;
      break;
    case 4:
      if (TryTranspose<4>(p, dst, src)) return;
      break;
    case 8:
      if (TryTranspose<8>(p, dst, src)) return;
      break;
    case 16:
      if (TryTranspose<16>(p, dst, src)) return;
      break;
    default:
      break;
  }
  auto run = [&](auto row) {
    ForEachOuter(p, p.nd - 1, dst, src,
                 [&](std::byte* d, const std::byte* s) { row(d, in.ds, s, in.ss, in.n); });
  };
  switch (isz) {
    case 1:
      run(&Row<1>);
      break;
    case 2:
      run(&Row<2>);
      break;
    case 4:
      run(&Row<4>);
      break;
    case 8:
      run(&Row<8>);
      break;
    case 16:
      run(&Row<16>);
      break;
    default:
      run([isz](std::byte* d, int64_t ds, const std::byte* s, int64_t ss, int64_t n) {
        GenericRow(d, ds, s, ss, n, isz);
      });
      break;
  }
}

// Copies item-for-item between two layouts of the same shape (`nd` axes).
// dst / src point at item [0,...,0]. REQUIRES: no overlap.
void CopyRaw(size_t nd, const int64_t* shape, std::byte* dst, const int64_t* ds,
             const std::byte* src, const int64_t* ss, int64_t isz) {
  Plan p;
  if (!MakePlan(nd, shape, ds, ss, isz, &dst, &src, &p)) return;
  Execute(p, dst, src);
}

std::vector<int64_t> Strides(int64_t isz, const std::vector<int64_t>& shape, Order order) {
  std::vector<int64_t> s(shape.size());
  int64_t acc = isz;
  const size_t n = shape.size();
  for (size_t i = 0; i < n; ++i) {
    const size_t k = order == Order::kC ? n - 1 - i : i;
    s[k] = acc;
    acc *= shape[k];
  }
  return s;
}

int64_t Count(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t e : shape) n *= e;
  return n;
}

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

// --- Ranges of the serialization (PackRange / UnpackRange). -------------------

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

void PackRange(const Layout& src, const std::byte* src_data, Order order, int64_t begin,
               int64_t len, std::byte* out) {
  TransferRange<true>(src, const_cast<std::byte*>(src_data), order, begin, len, out);
}

void UnpackRange(const std::byte* in, int64_t begin, int64_t len, Order order, const Layout& dst,
                 std::byte* dst_data) {
  TransferRange<false>(dst, dst_data, order, begin, len, const_cast<std::byte*>(in));
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
