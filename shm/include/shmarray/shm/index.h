// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: index.h
// -----------------------------------------------------------------------------
// Index expressions with NumPy/Python semantics, in a structured form and in
// Python's subscript text syntax:
//
//   IndexExpr e = ParseIndex("1:102:2, ..., None, -1");
//   // {Slice{1, 102, 2}, Ellipsis{}, NewAxis{}, int64_t{-1}}
//   FormatIndex(e);  // "1:102:2, ..., None, -1"
//
// Items: an integer (negative counts from the end), a slice with optional
// start/stop/step (clamped as Python's slice.indices does), one `...`, and
// `None` / `newaxis`. Applying an expression to a layout is Layout::Apply
// (layout.h). The text parser accepts Python integer literals (decimal, with
// optional sign and `_` separators), `:`, `...`, `None`, `newaxis`,
// `np.newaxis`, commas, an optional trailing comma and whitespace. An empty
// text is the empty expression (the whole array, like `a[()]`).
//
// Thread-safety: plain values.

#ifndef SHMARRAY_SHM_INDEX_H_
#define SHMARRAY_SHM_INDEX_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace shmarray::shm {

// start:stop:step; an empty optional is an omitted part.
struct Slice {
  std::optional<int64_t> start;
  std::optional<int64_t> stop;
  std::optional<int64_t> step;
  friend bool operator==(const Slice&, const Slice&) = default;
};
struct Ellipsis {
  friend bool operator==(const Ellipsis&, const Ellipsis&) = default;
};
struct NewAxis {
  friend bool operator==(const NewAxis&, const NewAxis&) = default;
};

// Tags usable in typed slicing: v.slice(all, 3, newaxis).
inline constexpr Slice all{};
inline constexpr Ellipsis ellipsis{};
inline constexpr NewAxis newaxis{};

using IndexItem = std::variant<int64_t, Slice, Ellipsis, NewAxis>;
using IndexExpr = std::vector<IndexItem>;

// Limits that keep parsing bounded.
inline constexpr size_t kMaxIndexTextLength = 16 * 1024;  // characters
inline constexpr size_t kMaxIndexItems = 64;

// Parses Python subscript syntax. Throws IndexExprError naming the text and
// the 0-based position of the fault ("invalid index expression '1:2:3:4':
// unexpected ':' at position 5"), for integers that overflow int64, more than
// kMaxIndexItems items or text over kMaxIndexTextLength. A second `...` parses
// (Layout::Apply rejects it with NumPy's message).
IndexExpr ParseIndex(std::string_view text);

// The text form of `expr`; ParseIndex(FormatIndex(e)) == e.
std::string FormatIndex(const IndexExpr& expr);

// Python's slice.indices(length): normalises `s` for an axis of `length`
// items. Returns {start, stop, step, count}. Throws IndexExprError
// "Step may not be zero (axis <axis>)" when step is 0.
struct SliceBounds {
  int64_t start;
  int64_t stop;
  int64_t step;
  int64_t count;
};
SliceBounds NormalizeSlice(const Slice& s, int64_t length, int axis);

}  // namespace shmarray::shm

#endif  // SHMARRAY_SHM_INDEX_H_
