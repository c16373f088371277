// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: any_view.h
// -----------------------------------------------------------------------------
// AnyView: a type-erased strided view, the C++ Py_buffer. It carries a format,
// a layout, a data pointer, a read-only flag and a shared owner that keeps the
// memory alive. The server works on AnyView; a typed View is obtained from it
// by a checked cast (View<T, N, Contig>::From, or AnyView::as<...>()).
//
//   AnyView any = AnyView::Allocate(Format::Parse("d"), {3, 4}, Order::kC);
//   View<double, 2, c_contig> v = any.as<double, 2, c_contig>();
//   AnyView col = any.slice(ParseIndex(":, 1"));   // shares `any`'s memory
//
// Thread-safety: AnyView is a value; copies may be used from several threads.
// The memory it points at is shared, not synchronised.

#ifndef SHMARRAY_SHM_ANY_VIEW_H_
#define SHMARRAY_SHM_ANY_VIEW_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <vector>

#include "shmarray/shm/copy.h"
#include "shmarray/shm/format.h"
#include "shmarray/shm/index.h"
#include "shmarray/shm/layout.h"

namespace shmarray::shm {

template <typename T, int N, typename Contig>
class View;
struct strided;

class AnyView {
 public:
  AnyView() = default;

  // A view of `layout` over `data` (the start of the data region: item
  // [0,...,0] is at data + layout.offset). `base` keeps the memory alive and
  // may be empty when the caller manages the memory. Throws ShapeError if
  // format.itemsize() > layout.itemsize, or the layout is malformed (including
  // a number of items, byte size or byte extent that overflows int64).
  // REQUIRES: every item of `layout` lies inside the memory at `data`.
  AnyView(Format format, Layout layout, std::byte* data, bool readonly,
          std::shared_ptr<const void> base);

  // Allocates a zero-filled owning array (64-byte aligned) of `format` with a
  // contiguous layout. `itemsize` 0 means format.itemsize(); a larger one adds
  // trailing padding. Throws ShapeError for bad shapes, std::bad_alloc.
  // Negative extents throw ShapeError "Invalid shape in axis 1: -3." (as
  // cython.view.array does). 0-d arrays (an empty shape) are allowed, as in
  // NumPy. The memory is owned by base() and freed with the last view.
  static AnyView Allocate(const Format& format, std::span<const int64_t> shape, Order order,
                          int64_t itemsize = 0);
  // Same, for a braced shape: AnyView::Allocate(f, {3, 4}, Order::kC).
  static AnyView Allocate(const Format& format, std::initializer_list<int64_t> shape, Order order,
                          int64_t itemsize = 0) {
    return Allocate(format, std::span<const int64_t>(shape.begin(), shape.size()), order, itemsize);
  }

  const Format& format() const { return format_; }
  const Layout& layout() const { return layout_; }
  // Start of the data region (not of item 0; add layout().offset for that).
  std::byte* data() const { return data_; }
  // Address of item [0,...,0].
  std::byte* first() const { return data_ + layout_.offset; }
  bool readonly() const { return readonly_; }
  const std::shared_ptr<const void>& base() const { return base_; }

  // Cython's attributes, spelled as View spells them (and as Layout does).
  const std::vector<int64_t>& shape() const { return layout_.shape; }
  // Strides in bytes.
  const std::vector<int64_t>& strides() const { return layout_.strides; }
  int ndim() const { return layout_.ndim(); }
  int64_t itemsize() const { return layout_.itemsize; }
  int64_t size() const { return layout_.size(); }
  int64_t nbytes() const { return layout_.nbytes(); }
  bool is_c_contig() const { return layout_.is_c_contig(); }
  bool is_f_contig() const { return layout_.is_f_contig(); }

  // Same memory, new layout (this[expr], .T, axes reordered); see
  // Layout::slice, Layout::T and Layout::permute for errors.
  AnyView slice(const IndexExpr& expr) const;
  AnyView T() const;
  AnyView permute(std::span<const int> axes) const;
  // A read-only alias of the same memory.
  AnyView AsReadOnly() const;

  // New owning contiguous copy in `order`; copy_fortran() is copy(Order::kF),
  // as View's copy() / copy_fortran().
  AnyView copy(Order order = Order::kC) const;
  AnyView copy_fortran() const { return copy(Order::kF); }

  // Checked cast to a typed view; throws as View::From does.
  template <typename T, int N, typename Contig = strided>
  View<T, N, Contig> as() const {
    return View<T, N, Contig>::From(*this);
  }

 private:
  Format format_;
  Layout layout_;
  std::byte* data_ = nullptr;
  bool readonly_ = false;
  std::shared_ptr<const void> base_;
};

// Copies the items of `src` into `dst` (dst[...] = src) with Cython's
// broadcasting: the lower-rank side gains leading axes, a source axis of
// extent 1 repeats, a destination axis of extent 1 does not. Overlapping
// memory is copied as if through a temporary. Fast paths: both contiguous in
// the same order (one memcpy), contiguous inner runs, itemsize 1/2/4/8/16.
// Throws ShapeError "got differing extents in dimension 0 (got 2 and 3)"
// (destination first), FormatError when the formats differ, ReadOnlyError
// "buffer source array is read-only" when dst is read-only.
void CopyInto(const AnyView& dst, const AnyView& src);

}  // namespace shmarray::shm

#endif  // SHMARRAY_SHM_ANY_VIEW_H_
