// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: layout.h
// -----------------------------------------------------------------------------
// Layout: where the items of a strided array live, PEP 3118 style. An item
// size, a shape, strides in BYTES (negative and zero allowed) and the byte
// offset of item [0, ..., 0] from the start of the data region. A Layout is
// pure arithmetic; it never touches memory.
//
//   Layout a = Layout::Contiguous(8, {4, 6}, Order::kC);  // strides {48, 8}
//   Layout b = a.slice(ParseIndex("::2, ::-1"));  // shape {2, 6}, strides {96, -8}, offset 40
//   b.CheckWithin(a.nbytes());                    // throws ShapeError if outside
//
// Contiguity follows NumPy: axes of extent 1 are ignored, an empty array is
// both C and F contiguous. Thread-safety: plain value.

#ifndef SHMARRAY_SHM_LAYOUT_H_
#define SHMARRAY_SHM_LAYOUT_H_

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shmarray/shm/index.h"

namespace shmarray::shm {

// The largest number of dimensions of any layout (as NumPy 1.x).
inline constexpr int kMaxDims = 32;

enum class Order { kC, kF };

struct Layout {
  int64_t itemsize = 1;          // bytes per item, > 0
  std::vector<int64_t> shape;    // items per axis, each >= 0
  std::vector<int64_t> strides;  // bytes per step on each axis
  int64_t offset = 0;            // bytes from the data region to item [0,...,0]

  // A fresh contiguous layout (strides from ContiguousStrides). Throws
  // ShapeError for a negative extent, more than kMaxDims axes, itemsize <= 0,
  // or strides, a byte size or offset + byte size that overflow int64.
  static Layout Contiguous(int64_t itemsize, std::span<const int64_t> shape, Order order,
                           int64_t offset = 0);
  // The same for a braced list: Layout::Contiguous(8, {4, 6}, Order::kC).
  static Layout Contiguous(int64_t itemsize, std::initializer_list<int64_t> shape, Order order,
                           int64_t offset = 0) {
    return Contiguous(itemsize, std::span<const int64_t>(shape.begin(), shape.size()), order,
                      offset);
  }

  int ndim() const { return static_cast<int>(shape.size()); }
  // Number of items (product of shape; 1 for 0-d; 0 if any extent is 0).
  // Throws ShapeError if the product overflows int64 ("the number of items
  // overflows int64 for layout ...").
  int64_t size() const;
  // size() * itemsize. Throws ShapeError if it overflows int64 ("the byte
  // size overflows int64 for layout ..."), which a broadcast (zero strides)
  // can do while touching a single item.
  int64_t nbytes() const;

  // NumPy's flags: ignore extent-1 axes; size 0 is both; 0-d is both. The
  // offset does not matter. Never throw (a malformed layout is neither).
  bool is_c_contig() const;
  bool is_f_contig() const;

  // Byte range [lo, hi) relative to the data region that the items touch;
  // {offset, offset} when size() == 0. Throws ShapeError for a malformed
  // layout (as CheckWithin) or when a bound overflows int64.
  struct Extent {
    int64_t lo;
    int64_t hi;
  };
  Extent ByteExtent() const;

  // Throws ShapeError unless the layout is well formed (itemsize > 0, shape
  // and strides of equal length <= kMaxDims, extents >= 0, no overflow) and
  // every item lies inside [0, buffer_bytes): "layout reaches byte 120 but the
  // buffer has 96 bytes", "layout reaches byte -8 before the start of the
  // buffer". An empty layout touches no byte but its offset must lie in
  // [0, buffer_bytes] ("empty layout has offset 200 outside a buffer of 192
  // bytes"), so that data + offset is a valid pointer. All arithmetic is
  // overflow-checked ("the byte extent overflows int64 for layout ...").
  void CheckWithin(int64_t buffer_bytes) const;

  // Reversed axes (.T). Throws ShapeError for a malformed layout.
  Layout T() const;
  // Axes reordered: result axis i is this axis axes[i]. Throws ShapeError
  // unless `axes` is a permutation of 0..ndim-1 (no negative axes):
  // "axes (0, 0) don't match array: not a permutation of the 2 axes".
  Layout permute(std::span<const int> axes) const;
  Layout permute(std::initializer_list<int> axes) const {
    return permute(std::span<const int>(axes.begin(), axes.size()));
  }

  // The layout of `this[expr]` with NumPy basic-indexing semantics: integers
  // (negative wrap) drop their axis, slices normalise as NormalizeSlice,
  // `...` stands for the axes not indexed, None inserts an axis of extent 1
  // and stride 0, missing trailing items are `:`. As NumPy: an empty slice
  // keeps the axis's stride and does not move the offset; a slice selecting
  // one item whose stride * step would overflow int64 keeps the axis's stride
  // (NumPy's would be wrapped). The result is not checked against any buffer;
  // a view of a NON-EMPTY layout that passes CheckWithin(n) passes it too (an
  // integer index into an empty layout can move the offset anywhere, as in
  // NumPy, so check such results).
  // Errors (exact texts, docs/views.md), in NumPy's order (the first two
  // before anything else, then item by item from the left):
  //   IndexExprError "an index can only have a single ellipsis ('...')"
  //   IndexExprError "too many indices for array: array is 2-dimensional, but 3 were indexed"
  //   IndexError     "Index out of bounds (axis 0)"           integer outside its axis
  //   IndexExprError "Step may not be zero (axis 0)"
  //   ShapeError     result with more than kMaxDims axes, a malformed layout,
  //                  or an offset or stride that overflows int64
  // Axis numbers are those of this layout.
  Layout slice(const IndexExpr& expr) const;

  // "itemsize=8 shape=(2, 3) strides=(24, 8) offset=0", for messages and logs.
  std::string DebugString() const;

  friend bool operator==(const Layout&, const Layout&) = default;
};

// Python's spelling of a tuple of integers, as NumPy prints shapes and
// strides: "(2, 3)", "(5,)", "()". `separator` goes between items; the log
// passes "," for "(2,3)", a value that needs no quoting in logfmt.
std::string TupleString(std::span<const int64_t> values, std::string_view separator = ", ");

// NumPy's relaxed contiguity test over byte strides, in C or Fortran order:
// axes of extent 1 are ignored, an empty array (some extent 0) and a 0-d one
// are contiguous. The one implementation behind Layout::is_c_contig(),
// View::is_c_contig() and the copy planner. Overflow-safe: strides that
// a contiguous array of this shape could not have (the running product
// overflows int64) are not contiguous. Never throws; false when `shape` and
// `strides` differ in length.
inline bool IsContiguous(int64_t itemsize, std::span<const int64_t> shape,
                         std::span<const int64_t> strides, Order order) noexcept {
  const size_t n = shape.size();
  if (strides.size() != n) return false;
  for (int64_t extent : shape) {
    if (extent == 0) return true;
  }
  int64_t expected = itemsize;
  bool overflowed = false;  // `expected` no longer fits: no further axis can match
  for (size_t k = 0; k < n; ++k) {
    const size_t i = order == Order::kC ? n - 1 - k : k;
    if (shape[i] == 1) continue;
    if (overflowed || strides[i] != expected) return false;
    overflowed = __builtin_mul_overflow(expected, shape[i], &expected);
  }
  return true;
}

// The overflow checks of Layout::size(), nbytes() and ByteExtent() for a
// layout of `itemsize`, `shape` and `strides` at offset 0, without building a
// Layout (no allocation unless it throws). View runs them whenever it binds
// memory, so that its own noexcept size(), nbytes() and contiguity tests need
// no checks. Throws ShapeError with Layout's messages.
// REQUIRES: itemsize > 0, shape.size() == strides.size() <= kMaxDims,
// every extent >= 0.
void CheckLayoutArithmetic(int64_t itemsize, std::span<const int64_t> shape,
                           std::span<const int64_t> strides);

// Strides of a fresh contiguous array, C or Fortran order. A zero extent
// counts as 1 (so {2, 0, 3} of 8-byte items gives {24, 24, 8}; NumPy 1.24
// gives zeros, which are equally contiguous). Throws ShapeError for a negative
// extent or strides that overflow int64.
std::vector<int64_t> ContiguousStrides(int64_t itemsize, std::span<const int64_t> shape,
                                       Order order);
inline std::vector<int64_t> ContiguousStrides(int64_t itemsize,
                                              std::initializer_list<int64_t> shape, Order order) {
  return ContiguousStrides(itemsize, std::span<const int64_t>(shape.begin(), shape.size()), order);
}

}  // namespace shmarray::shm

#endif  // SHMARRAY_SHM_LAYOUT_H_
