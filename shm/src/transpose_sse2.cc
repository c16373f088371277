// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: transpose_sse2.cc
// -----------------------------------------------------------------------------
// TryTranspose (copy_internal.h): the copy of a plan whose source is
// contiguous along one axis and whose destination is contiguous along
// another (C <-> F and other swaps of the contiguous axis).
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

#include <emmintrin.h>

#include <cstdint>
#include <cstring>

#include "copy_internal.h"

namespace shmarray::shm::internal {
namespace {

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
bool TryTransposeOf(Plan& p, std::byte* dst, const std::byte* src) {
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

}  // namespace

bool TryTranspose(Plan& p, std::byte* dst, const std::byte* src) {
  switch (p.isz) {
    case 1:
      return TryTransposeOf<1>(p, dst, src);
    case 2:
      return TryTransposeOf<2>(p, dst, src);
    case 4:
      return TryTransposeOf<4>(p, dst, src);
    case 8:
      return TryTransposeOf<8>(p, dst, src);
    case 16:
      return TryTransposeOf<16>(p, dst, src);
    default:
      return false;
  }
}

}  // namespace shmarray::shm::internal
