// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: copy_plan.cc
// -----------------------------------------------------------------------------
// The copy planner and executor (copy_internal.h): MakePlan, Execute with its
// inner-row kernels, CopyRaw.

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "copy_internal.h"
#include "shmarray/shm/errors.h"
#include "shmarray/shm/layout.h"

namespace shmarray::shm::internal {
namespace {

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

}  // namespace

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
  if (TryTranspose(p, dst, src)) return;
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

}  // namespace shmarray::shm::internal
