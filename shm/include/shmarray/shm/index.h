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
// `None` / `newaxis`. Slicing a layout by an expression is Layout::slice
// (layout.h).
//
// The text syntax is what Python accepts between `a[` and `]` for basic
// indexing:
//   - integers: Python decimal literals with `_` between digits (`1_000`), no
//     leading zeros unless the value is 0 (`007` is rejected, `000` is 0),
//     preceded by any number of unary `+`/`-` (`+5`, `-0`, `- 5`, `--5`);
//     values must fit int64;
//   - slices `start:stop:step` with any part omitted (`:`, `::-1`, `1:`,
//     `1:5:`);
//   - `...`, `None`, `newaxis`, `np.newaxis`, `numpy.newaxis`;
//   - items separated by commas, with an optional trailing comma;
//   - whitespace (space, \t, \n, \r, \f, \v) anywhere between tokens.
// An empty (or all-whitespace) text, or `()`, is the empty expression (the
// whole array, like `a[()]`). Parsing is linear in the text length.
//
// Thread-safety: plain values; the functions are pure and thread-safe.

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

// Parses Python subscript syntax. Throws IndexExprError naming the text (cut
// to its first 120 characters, non-printable bytes as \xNN) and the 0-based
// position of the fault:
//   invalid index expression '1:2:3:4': unexpected ':' at position 5
//   invalid index expression '1, x': unknown name 'x' at position 3
//   invalid index expression '1_': invalid decimal literal at position 1
//   invalid index expression '9223372036854775808': integer out of range of int64 at position 0
//   invalid index expression '0,0,...': more than 64 items at position 128
//   invalid index expression: text of 16385 characters exceeds the limit of 16384
// A second `...` and a zero step parse (Layout::slice rejects them with
// NumPy's and Cython's messages).
IndexExpr ParseIndex(std::string_view text);

// The text form of `expr`: items joined by ", ", slices as `start:stop:step`
// with omitted parts left out (`::-1`, `3:`, `:`), `...` and `None`.
// ParseIndex(FormatIndex(e)) == e for every expression of at most
// kMaxIndexItems items.
std::string FormatIndex(const IndexExpr& expr);

// Python's slice.indices(length) (CPython's PySlice_Unpack followed by
// PySlice_AdjustIndices, as NumPy slices): normalises `s` for an axis of
// `length` items. Returns {start, stop, step, count}, where the selected items
// are start + k * step for 0 <= k < count; when count is 0, start and stop are
// Python's values (e.g. {-1, -1, -1, 0} for `-7::-1` on 4 items). A step below
// -INT64_MAX is raised to -INT64_MAX, as CPython does. A negative `length`
// counts as 0. Throws IndexExprError "Step may not be zero (axis <axis>)" when
// step is 0; `axis` is used only for that message.
struct SliceBounds {
  int64_t start;
  int64_t stop;
  int64_t step;
  int64_t count;
};
SliceBounds NormalizeSlice(const Slice& s, int64_t length, int axis);

}  // namespace shmarray::shm

#endif  // SHMARRAY_SHM_INDEX_H_
