// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: layout.cc
// -----------------------------------------------------------------------------
// Layout arithmetic: contiguous strides, NumPy's contiguity flags, byte
// extents, bounds checks, transposition and basic indexing. Every sum and
// product of caller-supplied numbers is overflow-checked.

#include "shmarray/shm/layout.h"

#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "shmarray/shm/errors.h"
#include "shmarray/shm/index.h"
#include "shmarray/shm/status.h"

namespace shmarray::shm {
namespace {

// Checked int64 arithmetic: false on overflow.
bool Mul(int64_t a, int64_t b, int64_t* out) { return !__builtin_mul_overflow(a, b, out); }
bool Add(int64_t a, int64_t b, int64_t* out) { return !__builtin_add_overflow(a, b, out); }

void CheckNdim(size_t ndim) {
  if (ndim > static_cast<size_t>(kMaxDims)) {
    throw ShapeError("maximum supported dimension for an array is " + std::to_string(kMaxDims) +
                     ", found " + std::to_string(ndim));
  }
}

void CheckExtents(std::span<const int64_t> shape) {
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 0) {
      throw ShapeError("negative dimensions are not allowed (axis " + std::to_string(i) +
                       " has extent " + std::to_string(shape[i]) + ")");
    }
  }
}

void CheckItemsize(int64_t itemsize) {
  if (itemsize <= 0) {
    throw ShapeError("itemsize must be positive, got " + std::to_string(itemsize));
  }
}

// The parts of well-formedness that slice, T and permute rely on.
void CheckStructure(const Layout& l) {
  if (l.shape.size() != l.strides.size()) {
    throw ShapeError("layout has " + std::to_string(l.shape.size()) + " extents but " +
                     std::to_string(l.strides.size()) + " strides");
  }
  CheckNdim(l.shape.size());
  CheckExtents(l.shape);
}

[[noreturn]] void ThrowOverflow(const Layout& l, const std::string& what) {
  throw ShapeError(what + " overflows int64 for layout " + l.DebugString());
}

// The number of items of `shape` (0 if an extent is 0); false on overflow.
bool ItemCount(std::span<const int64_t> shape, int64_t* n) {
  *n = 1;
  for (int64_t extent : shape) {
    if (extent == 0) {
      *n = 0;
      return true;
    }
  }
  for (int64_t extent : shape) {
    if (!Mul(*n, extent, n)) return false;
  }
  return true;
}

// The byte range [*lo, *hi) that the items touch, for a non-empty layout
// whose item [0,...,0] is at `offset`; false on overflow.
bool ItemExtent(int64_t itemsize, std::span<const int64_t> shape, std::span<const int64_t> strides,
                int64_t offset, int64_t* lo, int64_t* hi) {
  *lo = offset;
  *hi = offset;
  for (size_t i = 0; i < shape.size(); ++i) {
    int64_t span = 0;
    if (!Mul(strides[i], shape[i] - 1, &span)) return false;
    if (!Add(span < 0 ? *lo : *hi, span, span < 0 ? lo : hi)) return false;
  }
  return Add(*hi, itemsize, hi);
}

}  // namespace

std::vector<int64_t> ContiguousStrides(int64_t itemsize, std::span<const int64_t> shape,
                                       Order order) {
  CheckExtents(shape);
  const size_t n = shape.size();
  std::vector<int64_t> strides(n);
  int64_t step = itemsize;
  for (size_t k = 0; k < n; ++k) {
    const size_t i = order == Order::kC ? n - 1 - k : k;
    strides[i] = step;
    // A zero extent counts as 1, so the strides stay meaningful.
    const int64_t extent = shape[i] == 0 ? 1 : shape[i];
    if (k + 1 < n && !Mul(step, extent, &step)) {
      throw ShapeError("array is too big: the strides of shape " + TupleString(shape) +
                       " with itemsize " + std::to_string(itemsize) + " overflow int64");
    }
  }
  return strides;
}

Layout Layout::Contiguous(int64_t itemsize, std::span<const int64_t> shape, Order order,
                          int64_t offset) {
  CheckItemsize(itemsize);
  CheckNdim(shape.size());
  Layout l;
  l.itemsize = itemsize;
  l.shape.assign(shape.begin(), shape.end());
  l.strides = ContiguousStrides(itemsize, shape, order);
  l.offset = offset;
  // The byte size, and the end offset, must be representable too.
  int64_t bytes = itemsize;
  for (int64_t extent : shape) {
    if (!Mul(bytes, extent == 0 ? 1 : extent, &bytes)) {
      throw ShapeError("array is too big: shape " + TupleString(shape) + " with itemsize " +
                       std::to_string(itemsize) + " overflows int64");
    }
  }
  int64_t end = 0;
  if (!Add(offset, bytes, &end)) ThrowOverflow(l, "the byte range");
  return l;
}

int64_t Layout::size() const {
  int64_t n = 0;
  if (!ItemCount(shape, &n)) ThrowOverflow(*this, "the number of items");
  return n;
}

int64_t Layout::nbytes() const {
  int64_t bytes = 0;
  if (!Mul(size(), itemsize, &bytes)) ThrowOverflow(*this, "the byte size");
  return bytes;
}

bool Layout::is_c_contig() const { return IsContiguous(itemsize, shape, strides, Order::kC); }

bool Layout::is_f_contig() const { return IsContiguous(itemsize, shape, strides, Order::kF); }

Layout::Extent Layout::ByteExtent() const {
  CheckStructure(*this);
  CheckItemsize(itemsize);
  for (int64_t extent : shape) {
    if (extent == 0) return Extent{offset, offset};
  }
  int64_t lo = 0;
  int64_t hi = 0;
  if (!ItemExtent(itemsize, shape, strides, offset, &lo, &hi)) {
    ThrowOverflow(*this, "the byte extent");
  }
  return Extent{lo, hi};
}

void CheckLayoutArithmetic(int64_t itemsize, std::span<const int64_t> shape,
                           std::span<const int64_t> strides) {
  int64_t n = 0;
  int64_t bytes = 0;
  int64_t lo = 0;
  int64_t hi = 0;
  if (ItemCount(shape, &n) && Mul(n, itemsize, &bytes) &&
      (n == 0 || ItemExtent(itemsize, shape, strides, 0, &lo, &hi))) {
    return;
  }
  // Something overflows: let Layout say what, in its words.
  Layout l;
  l.itemsize = itemsize;
  l.shape.assign(shape.begin(), shape.end());
  l.strides.assign(strides.begin(), strides.end());
  (void)l.nbytes();
  (void)l.ByteExtent();
  SHMARRAY_CHECK(false);  // one of them threw
}

void Layout::CheckWithin(int64_t buffer_bytes) const {
  if (buffer_bytes < 0) {
    throw ShapeError("buffer size must not be negative, got " + std::to_string(buffer_bytes));
  }
  const Extent e = ByteExtent();  // validates the structure and the itemsize
  if (e.lo == e.hi) {
    // No item is touched, but the address of item 0 must still lie in (or
    // just past) the buffer.
    if (offset < 0 || offset > buffer_bytes) {
      throw ShapeError("empty layout has offset " + std::to_string(offset) +
                       " outside a buffer of " + std::to_string(buffer_bytes) + " bytes");
    }
    return;
  }
  if (e.lo < 0) {
    throw ShapeError("layout reaches byte " + std::to_string(e.lo) +
                     " before the start of the buffer");
  }
  if (e.hi > buffer_bytes) {
    throw ShapeError("layout reaches byte " + std::to_string(e.hi) + " but the buffer has " +
                     std::to_string(buffer_bytes) + " bytes");
  }
}

Layout Layout::T() const {
  CheckStructure(*this);
  Layout t = *this;
  t.shape.assign(shape.rbegin(), shape.rend());
  t.strides.assign(strides.rbegin(), strides.rend());
  return t;
}

Layout Layout::permute(std::span<const int> axes) const {
  CheckStructure(*this);
  const size_t n = shape.size();
  bool ok = axes.size() == n;
  std::vector<bool> seen(n, false);
  for (size_t i = 0; ok && i < n; ++i) {
    const int a = axes[i];
    if (a < 0 || static_cast<size_t>(a) >= n || seen[static_cast<size_t>(a)]) {
      ok = false;
    } else {
      seen[static_cast<size_t>(a)] = true;
    }
  }
  if (!ok) {
    std::string list = "(";
    for (size_t i = 0; i < axes.size(); ++i) {
      if (i > 0) list += ", ";
      list += std::to_string(axes[i]);
    }
    list += axes.size() == 1 ? ",)" : ")";
    throw ShapeError("axes " + list + " don't match array: not a permutation of the " +
                     std::to_string(n) + " axes");
  }
  Layout p = *this;
  for (size_t i = 0; i < n; ++i) {
    p.shape[i] = shape[static_cast<size_t>(axes[i])];
    p.strides[i] = strides[static_cast<size_t>(axes[i])];
  }
  return p;
}

Layout Layout::slice(const IndexExpr& expr) const {
  CheckStructure(*this);
  const int n = ndim();

  // First pass, as NumPy's prepare_index: a second ellipsis, then too many
  // indices, before any bounds or step is looked at.
  int used = 0;
  bool has_ellipsis = false;
  for (const IndexItem& item : expr) {
    if (std::holds_alternative<Ellipsis>(item)) {
      if (has_ellipsis) {
        throw IndexExprError("an index can only have a single ellipsis ('...')");
      }
      has_ellipsis = true;
    } else if (!std::holds_alternative<NewAxis>(item)) {
      ++used;
    }
  }
  if (used > n) {
    throw IndexExprError("too many indices for array: array is " + std::to_string(n) +
                         "-dimensional, but " + std::to_string(used) + " were indexed");
  }

  Layout r;
  r.itemsize = itemsize;
  r.offset = offset;
  r.shape.reserve(static_cast<size_t>(n));
  r.strides.reserve(static_cast<size_t>(n));
  auto push = [&r](int64_t extent, int64_t stride) {
    if (r.shape.size() == static_cast<size_t>(kMaxDims)) {
      throw ShapeError("the result of indexing has more than " + std::to_string(kMaxDims) +
                       " dimensions");
    }
    r.shape.push_back(extent);
    r.strides.push_back(stride);
  };
  auto move_offset = [&](int64_t stride, int64_t steps, int axis) {
    int64_t delta = 0;
    if (!Mul(stride, steps, &delta) || !Add(r.offset, delta, &r.offset)) {
      ThrowOverflow(*this, "the byte offset of the index on axis " + std::to_string(axis));
    }
  };

  int in = 0;  // the next axis of this layout
  for (const IndexItem& item : expr) {
    if (const auto* v = std::get_if<int64_t>(&item)) {
      const int64_t extent = shape[static_cast<size_t>(in)];
      const int64_t i = *v < 0 ? *v + extent : *v;
      if (i < 0 || i >= extent) {
        throw IndexError("Index out of bounds (axis " + std::to_string(in) + ")");
      }
      move_offset(strides[static_cast<size_t>(in)], i, in);
      ++in;
    } else if (const auto* s = std::get_if<Slice>(&item)) {
      const int64_t extent = shape[static_cast<size_t>(in)];
      const int64_t stride = strides[static_cast<size_t>(in)];
      const SliceBounds b = NormalizeSlice(*s, extent, in);
      if (b.count <= 0) {
        // NumPy: an empty slice keeps the stride and does not move the offset.
        push(0, stride);
      } else {
        move_offset(stride, b.start, in);
        int64_t new_stride = 0;
        if (!Mul(stride, b.step, &new_stride)) {
          // Only reachable with a single item (the step is larger than the
          // axis), whose stride is never used: keep the axis's own.
          if (b.count != 1) {
            ThrowOverflow(*this, "the stride of the slice on axis " + std::to_string(in));
          }
          new_stride = stride;
        }
        push(b.count, new_stride);
      }
      ++in;
    } else if (std::holds_alternative<Ellipsis>(item)) {
      for (int k = 0; k < n - used; ++k, ++in) {
        push(shape[static_cast<size_t>(in)], strides[static_cast<size_t>(in)]);
      }
    } else {
      push(1, 0);
    }
  }
  for (; in < n; ++in) push(shape[static_cast<size_t>(in)], strides[static_cast<size_t>(in)]);
  return r;
}

std::string Layout::DebugString() const {
  return "itemsize=" + std::to_string(itemsize) + " shape=" + TupleString(shape) +
         " strides=" + TupleString(strides) + " offset=" + std::to_string(offset);
}

std::string TupleString(std::span<const int64_t> values, std::string_view separator) {
  std::string out = "(";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += separator;
    out += std::to_string(values[i]);
  }
  if (values.size() == 1) out += ",";
  out += ")";
  return out;
}

}  // namespace shmarray::shm
