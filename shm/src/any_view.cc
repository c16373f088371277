// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: any_view.cc
// -----------------------------------------------------------------------------
// AnyView: construction, allocation, relayout and the checked CopyInto. The
// byte kernels live in copy.cc.

#include "shmarray/shm/any_view.h"

#include <string>
#include <utility>

#include "shmarray/shm/copy.h"
#include "shmarray/shm/errors.h"
#include "shmarray/shm/view.h"

namespace shmarray::shm {

AnyView::AnyView(Format format, Layout layout, std::byte* data, bool readonly,
                 std::shared_ptr<const void> base)
    : format_(std::move(format)),
      layout_(std::move(layout)),
      data_(data),
      readonly_(readonly),
      base_(std::move(base)) {
  if (layout_.itemsize <= 0) {
    throw ShapeError("layout is malformed: itemsize " + std::to_string(layout_.itemsize));
  }
  if (format_.itemsize() > layout_.itemsize) {
    throw ShapeError("format '" + format_.original() + "' describes " +
                     internal::Bytes(format_.itemsize()) + " but the layout's itemsize is " +
                     internal::Bytes(layout_.itemsize));
  }
  if (layout_.shape.size() != layout_.strides.size()) {
    throw ShapeError("layout is malformed: " + std::to_string(layout_.shape.size()) +
                     " extents but " + std::to_string(layout_.strides.size()) + " strides");
  }
  if (layout_.ndim() > kMaxDims) {
    throw ShapeError("layout is malformed: " + std::to_string(layout_.ndim()) +
                     " dimensions exceed the maximum of " + std::to_string(kMaxDims));
  }
  for (int k = 0; k < layout_.ndim(); ++k) {
    if (layout_.shape[k] < 0) {
      throw ShapeError("Invalid shape in axis " + std::to_string(k) + ": " +
                       std::to_string(layout_.shape[k]) + ".");
    }
  }
  // The number of items, byte size and byte extent fit int64.
  (void)layout_.nbytes();
  (void)layout_.ByteExtent();
}

AnyView AnyView::Allocate(const Format& format, std::span<const int64_t> shape, Order order,
                          int64_t itemsize) {
  if (itemsize == 0) itemsize = format.itemsize();
  if (itemsize <= 0) throw ShapeError("itemsize <= 0 for cython.array");
  if (itemsize < format.itemsize()) {
    throw ShapeError("itemsize " + std::to_string(itemsize) + " is smaller than the " +
                     internal::Bytes(format.itemsize()) + " of format '" + format.original() + "'");
  }
  for (size_t k = 0; k < shape.size(); ++k) {
    if (shape[k] < 0) {
      throw ShapeError("Invalid shape in axis " + std::to_string(k) + ": " +
                       std::to_string(shape[k]) + ".");
    }
  }
  Layout layout = Layout::Contiguous(itemsize, shape, order);
  std::shared_ptr<std::byte> memory = internal::AllocateBytes(layout.nbytes());
  std::byte* data = memory.get();
  return AnyView(format, std::move(layout), data, false, std::move(memory));
}

AnyView AnyView::slice(const IndexExpr& expr) const {
  AnyView out = *this;
  out.layout_ = layout_.slice(expr);
  return out;
}

AnyView AnyView::T() const {
  AnyView out = *this;
  out.layout_ = layout_.T();
  return out;
}

AnyView AnyView::permute(std::span<const int> axes) const {
  AnyView out = *this;
  out.layout_ = layout_.permute(axes);
  return out;
}

AnyView AnyView::AsReadOnly() const {
  AnyView out = *this;
  out.readonly_ = true;
  return out;
}

AnyView AnyView::copy(Order order) const {
  AnyView out = Allocate(format_, layout_.shape, order, layout_.itemsize);
  PackBytes(layout_, data_, order, out.data_ + out.layout_.offset);
  return out;
}

void CopyInto(const AnyView& dst, const AnyView& src) {
  if (dst.readonly()) throw ReadOnlyError("buffer source array is read-only");
  if (!(dst.format() == src.format())) {
    CheckFormatMatches(dst.format(), dst.format().description(), src.format());
  }
  if (dst.itemsize() != src.itemsize()) {
    throw ShapeError(internal::ItemsizeMismatchMessage(src.itemsize(), dst.format().description(),
                                                       dst.itemsize()));
  }
  AssignBytes(dst.layout(), dst.data(), src.layout(), src.data());
}

}  // namespace shmarray::shm
