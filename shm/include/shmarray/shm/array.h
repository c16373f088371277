// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: array.h
// -----------------------------------------------------------------------------
// Array: an owning, contiguous N-dimensional array, the C++ cython.view.array.
// It either allocates its memory (zero-filled, 64-byte aligned) or adopts
// foreign memory with an optional free callback, called exactly once, when the
// last view of the memory goes (the Array itself and every AnyView / View
// derived from it share ownership through base()).
//
//   Array a = Array::Allocate<int>({3, 3, 3});           // C order, zeros
//   View<int, 3, c_contig> v = a.view<int, 3, c_contig>();
//   v(0, 0, 0) = 1000;
//
//   double* p = static_cast<double*>(std::malloc(80));
//   Array b = Array::Adopt(p, Format::Parse("d"), {10}, Order::kC,
//                          [](void* q) { std::free(q); });
//
// An Array is a move-only handle (it is the owner); views of it are values
// that may outlive it. Thread-safety: const members are safe to call
// concurrently; the memory itself is not synchronised.

#ifndef SHMARRAY_SHM_ARRAY_H_
#define SHMARRAY_SHM_ARRAY_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <utility>

#include "shmarray/shm/any_view.h"
#include "shmarray/shm/errors.h"
#include "shmarray/shm/format.h"
#include "shmarray/shm/layout.h"
#include "shmarray/shm/view.h"

namespace shmarray::shm {

class Array {
 public:
  // Allocates a zero-filled contiguous array of `format` in `order`.
  // `itemsize` 0 means format.itemsize(); a larger value pads each item.
  // Errors (cython.view.array's words where it has them), all ShapeError:
  //   "itemsize <= 0 for cython.array" (negative itemsize or a 0-byte format),
  //   "Invalid shape in axis 1: -3.", more than kMaxDims axes or a size that
  //   overflows; std::bad_alloc when memory is exhausted. An empty shape is a
  //   0-d array of one item (NumPy allows it; Cython does not).
  static Array Allocate(const Format& format, std::span<const int64_t> shape,
                        Order order = Order::kC, int64_t itemsize = 0) {
    return Array(AnyView::Allocate(format, shape, order, itemsize));
  }
  static Array Allocate(const Format& format, std::initializer_list<int64_t> shape,
                        Order order = Order::kC, int64_t itemsize = 0) {
    return Allocate(format, std::span<const int64_t>(shape.begin(), shape.size()), order, itemsize);
  }
  // Typed convenience: the format of T (requires FormatTraits<T>).
  template <typename T>
  static Array Allocate(std::span<const int64_t> shape, Order order = Order::kC) {
    return Allocate(FormatForType(format_of<T>(), type_name_of<T>(), sizeof(T)), shape, order);
  }
  template <typename T>
  static Array Allocate(std::initializer_list<int64_t> shape, Order order = Order::kC) {
    return Allocate<T>(std::span<const int64_t>(shape.begin(), shape.size()), order);
  }

  // Adopts foreign memory laid out as `layout` from `data` (the data region:
  // item [0,...,0] is at data + layout.offset). `free_data`, if set, is
  // called with `data` exactly once, when the Array and every view derived
  // from it are gone (from whichever thread drops the last one). If this
  // function throws, nothing was adopted and free_data is not called.
  // Throws ShapeError for a malformed layout or a format larger than
  // layout.itemsize. REQUIRES: every item of `layout` lies in the memory.
  static Array Adopt(void* data, const Format& format, const Layout& layout,
                     std::function<void(void*)> free_data = {}, bool readonly = false) {
    AnyView check(format, layout, static_cast<std::byte*>(data), readonly, nullptr);
    std::shared_ptr<const void> base;
    if (free_data) {
      base = std::shared_ptr<const void>(
          data, [free = std::move(free_data)](const void* p) { free(const_cast<void*>(p)); });
    }
    return Array(AnyView(format, layout, static_cast<std::byte*>(data), readonly, std::move(base)));
  }
  // Same for a contiguous array of `shape` in `order` (itemsize of the format).
  static Array Adopt(void* data, const Format& format, std::span<const int64_t> shape, Order order,
                     std::function<void(void*)> free_data = {}, bool readonly = false) {
    CheckShape(shape);
    return Adopt(data, format, Layout::Contiguous(format.itemsize(), shape, order),
                 std::move(free_data), readonly);
  }
  static Array Adopt(void* data, const Format& format, std::initializer_list<int64_t> shape,
                     Order order, std::function<void(void*)> free_data = {},
                     bool readonly = false) {
    return Adopt(data, format, std::span<const int64_t>(shape.begin(), shape.size()), order,
                 std::move(free_data), readonly);
  }

  Array(Array&&) noexcept = default;
  Array& operator=(Array&&) noexcept = default;
  Array(const Array&) = delete;
  Array& operator=(const Array&) = delete;
  ~Array() = default;

  // The type-erased view of the whole array; its base() keeps the memory.
  const AnyView& any() const { return any_; }
  // A checked typed view (View<T, N, Contig>::From: throws FormatError,
  // ShapeError, ReadOnlyError as documented there); it shares ownership.
  template <typename T, int N, typename Contig = strided>
  View<T, N, Contig> view() const {
    return View<T, N, Contig>::From(any_);
  }

  const Format& format() const { return any_.format(); }
  const Layout& layout() const { return any_.layout(); }
  const std::vector<int64_t>& shape() const { return any_.layout().shape; }
  const std::vector<int64_t>& strides() const { return any_.layout().strides; }
  int ndim() const { return any_.ndim(); }
  int64_t size() const { return any_.size(); }
  int64_t itemsize() const { return any_.itemsize(); }
  int64_t nbytes() const { return any_.nbytes(); }
  bool readonly() const { return any_.readonly(); }
  // Start of the memory (item [0,...,0] for arrays made here).
  std::byte* data() const { return any_.data(); }
  // The owner shared by every view (empty for adopted memory without a
  // free callback: then the caller keeps the memory alive).
  const std::shared_ptr<const void>& base() const { return any_.base(); }

 private:
  explicit Array(AnyView any) : any_(std::move(any)) {}

  static void CheckShape(std::span<const int64_t> shape) {
    for (size_t k = 0; k < shape.size(); ++k) {
      if (shape[k] < 0) {
        throw ShapeError("Invalid shape in axis " + std::to_string(k) + ": " +
                         std::to_string(shape[k]) + ".");
      }
    }
  }

  AnyView any_;
};

}  // namespace shmarray::shm

#endif  // SHMARRAY_SHM_ARRAY_H_
