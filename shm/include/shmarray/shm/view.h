// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: view.h
// -----------------------------------------------------------------------------
// View<T, N, Contig>: a typed, strided, N-dimensional view of memory with the
// semantics of a Cython typed memoryview (PEP 3118 buffers). A view is a
// pointer to item [0, ..., 0], a shape, strides in BYTES (negative and zero
// allowed) and a shared owner, base(), that keeps the memory alive while any
// view of it lives. Views are cheap values: copying one costs a reference
// count. They never own exclusively and never dangle while base() is set.
//
//   Cython                          shmarray
//   cdef int[:, :, :] v = obj       View<int, 3> v = View<int, 3>::From(any);
//   cdef double[:, ::1] c = obj     View<double, 2, c_contig> c = ...;
//   cdef double[::1, :] f = c.T     View<double, 2, f_contig> f = c.T();
//   cdef const double[:] r = obj    View<const double, 1> r = ...;
//   v[i, j, k]   (checked)          v.at(i, j, k)     IndexError naming the axis
//   v[i, j, k]   (boundscheck off)  v(i, j, k)        unchecked, noexcept
//   v[1:102:2, ...]                 v.slice(Slice{1, 102, 2}, ellipsis)
//   v[None, :, -1]                  v.slice(newaxis, all, -1) or v.slice<2>("None, :, -1")
//   dst[...] = src; dst[...] = 3    dst.assign(src); dst.fill(3)
//   v.copy(), v.copy_fortran()      v.copy(), v.copy_fortran()
//
// Contiguity tags: `strided` (any strides), `c_contig` (Cython `::1` last:
// C-contiguous as a whole, the last stride is sizeof(T) at compile time) and
// `f_contig` (`::1` first: Fortran-contiguous, the first stride is sizeof(T)).
// Binding a non-conforming buffer throws ShapeError. Contiguity follows NumPy:
// axes of extent 1 are ignored and an empty view is both C and F contiguous.
//
// Element access: operator() is the hot path (unchecked, noexcept, a
// SHMARRAY_DCHECK in debug builds); at() wraps negative indices and throws
// IndexError "Out of bounds on buffer access (axis 1)"; operator[](i) gives
// a sub-view (or, for N == 1, the element, as Cython gives an element for a
// full index).
//
// Indirect (suboffset, PIL-style) dimensions are out of scope: a View is
// always direct; AnyView and Layout have no suboffsets.
//
// Thread-safety: a View is an immutable value (assign()/fill() write the
// memory it points at, not the view); copies may be used from any thread.
// The memory itself is not synchronised: concurrent writers need their own
// protocol, exactly as with NumPy arrays in shared memory.

#ifndef SHMARRAY_SHM_VIEW_H_
#define SHMARRAY_SHM_VIEW_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "shmarray/shm/any_view.h"
#include "shmarray/shm/copy.h"
#include "shmarray/shm/errors.h"
#include "shmarray/shm/format.h"
#include "shmarray/shm/index.h"
#include "shmarray/shm/layout.h"
#include "shmarray/shm/status.h"

namespace shmarray::shm {

// Contiguity tags (Cython's `[:, :]`, `[:, ::1]` and `[::1, :]`).
struct strided {};
struct c_contig {};
struct f_contig {};

template <typename T, int N, typename Contig = strided>
class View;

namespace internal {

template <typename C>
inline constexpr bool kIsContigTag =
    std::is_same_v<C, strided> || std::is_same_v<C, c_contig> || std::is_same_v<C, f_contig>;

// The axis whose stride is sizeof(T) at compile time, or -1.
template <typename C, int N>
inline constexpr int kContigAxis = std::is_same_v<C, c_contig>
                                       ? N - 1
                                       : (std::is_same_v<C, f_contig> ? 0 : -1);

// Tag of the transpose: C <-> F.
template <typename C>
using TransposedTag =
    std::conditional_t<std::is_same_v<C, c_contig>, f_contig,
                       std::conditional_t<std::is_same_v<C, f_contig>, c_contig, strided>>;
// Tag of v[i] (drops axis 0): a C-contiguous block stays C-contiguous.
template <typename C>
using SubTag = std::conditional_t<std::is_same_v<C, c_contig>, c_contig, strided>;

template <typename A>
inline constexpr bool kIsIntegerIndex =
    std::is_integral_v<A> && !std::is_same_v<std::remove_cv_t<A>, bool>;
template <typename A>
inline constexpr bool kIsSliceArg = kIsIntegerIndex<A> || std::is_same_v<A, Slice> ||
                                    std::is_same_v<A, Ellipsis> || std::is_same_v<A, NewAxis>;

// Rank of v.slice(args...) for a rank-N view.
template <int N, typename... A>
constexpr int SliceRank() {
  return N - (0 + ... + (kIsIntegerIndex<A> ? 1 : 0)) +
         (0 + ... + (std::is_same_v<A, NewAxis> ? 1 : 0));
}

// "1 byte" / "4 bytes", as Cython spells sizes.
inline std::string Bytes(int64_t n) { return std::to_string(n) + (n == 1 ? " byte" : " bytes"); }

// Cython's itemsize message, e.g. "Item size of buffer (1 byte) does not
// match size of 'float' (4 bytes)".
inline std::string ItemsizeMismatchMessage(int64_t buffer_itemsize, std::string_view type_name,
                                           int64_t type_size) {
  return "Item size of buffer (" + Bytes(buffer_itemsize) + ") does not match size of '" +
         std::string(type_name) + "' (" + Bytes(type_size) + ")";
}

[[noreturn, gnu::cold, gnu::noinline]] inline void ThrowBufferOutOfBounds(int axis) {
  throw IndexError("Out of bounds on buffer access (axis " + std::to_string(axis) + ")");
}
[[noreturn, gnu::cold, gnu::noinline]] inline void ThrowIndexOutOfBounds(int axis) {
  throw IndexError("Index out of bounds (axis " + std::to_string(axis) + ")");
}
[[noreturn, gnu::cold, gnu::noinline]] inline void ThrowWrongNdim(int expected, int got) {
  throw ShapeError("Buffer has wrong number of dimensions (expected " + std::to_string(expected) +
                   ", got " + std::to_string(got) + ")");
}

// Lowest byte offset (<= 0) that an item of the layout touches relative to
// item [0,...,0]; 0 for an empty layout.
inline int64_t LowestOffset(const int64_t* shape, const int64_t* strides, int n) {
  int64_t lo = 0;
  for (int k = 0; k < n; ++k) {
    if (shape[k] == 0) return 0;
    if (strides[k] < 0) lo += (shape[k] - 1) * strides[k];
  }
  return lo;
}

// `p` moved by `bytes` bytes (keeps constness).
template <typename T>
inline T* AddBytes(T* p, int64_t bytes) noexcept {
  if constexpr (std::is_const_v<T>) {
    return reinterpret_cast<T*>(reinterpret_cast<const char*>(p) + bytes);
  } else {
    return reinterpret_cast<T*>(reinterpret_cast<char*>(p) + bytes);
  }
}

}  // namespace internal

// A typed strided view; see the file comment. `T` may be const (a read-only
// view). REQUIRES (compile time): N >= 0; N >= 1 for c_contig / f_contig.
// Functions that need the PEP 3118 format of T (From(AnyView), any(),
// assign(AnyView)) require FormatTraits<T>; the others work for any
// trivially copyable T.
template <typename Elem, int N, typename Contig>
class View {
  static_assert(N >= 0, "View rank must be >= 0");
  static_assert(internal::kIsContigTag<Contig>, "Contig is strided, c_contig or f_contig");
  static_assert(N >= 1 || std::is_same_v<Contig, strided>, "a 0-d view is strided");
  static_assert(!std::is_reference_v<Elem> && !std::is_volatile_v<Elem>, "bad element type");

 public:
  // mdspan-style aliases. Strides are in bytes (PEP 3118), not elements.
  using element_type = Elem;
  using value_type = std::remove_cv_t<Elem>;
  using index_type = int64_t;
  using size_type = uint64_t;
  using rank_type = size_t;
  using extents_type = std::array<index_type, N>;  // std::extents is not in GCC 12
  using layout_type = Contig;
  using data_handle_type = Elem*;
  using reference = Elem&;

  // Number of dimensions (Cython's `ndim` attribute), as AnyView::ndim().
  static constexpr int ndim() noexcept { return N; }
  static constexpr rank_type rank() noexcept { return N; }
  static constexpr rank_type rank_dynamic() noexcept { return N; }

  // A null view: data() == nullptr, every extent 0 (Cython's uninitialized
  // slice). Safe to copy, query and assign over; it has no items.
  View() = default;

  // A view of foreign memory in the natural order of the tag: C order for
  // `strided` and `c_contig`, Fortran order for `f_contig`. base() is empty:
  // the caller keeps `data` alive and valid for every item while the view
  // (and any copy or slice of it) is used.
  // Strides are those of ContiguousStrides (a zero extent counts as 1).
  // Throws ShapeError for a negative extent, sizes or strides that overflow
  // int64, or a misaligned `data`.
  View(Elem* data, const extents_type& shape) : ptr_(data), shape_(shape) {
    for (int k = 0; k < N; ++k) {
      if (shape_[k] < 0) ThrowNegativeExtent(k, shape_[k]);
    }
    if constexpr (N > 0) {
      const std::vector<int64_t> strides = ContiguousStrides(
          sizeof(Elem), shape_, std::is_same_v<Contig, f_contig> ? Order::kF : Order::kC);
      for (int k = 0; k < N; ++k) strides_[k] = strides[k];
    }
    CheckBound();
  }

  // A view of foreign memory with explicit byte strides; base() is empty
  // (the caller keeps the memory alive). Throws ShapeError for a negative
  // extent, a number of items, byte size or byte extent that overflows int64
  // (as Layout; e.g. a broadcast of 2^61 doubles), a layout that does not
  // conform to Contig ("buffer is not C-contiguous"), or a data pointer /
  // stride not aligned for T.
  View(Elem* data, const extents_type& shape, const extents_type& strides_bytes)
      : View(data, shape, strides_bytes, nullptr) {}

  // As above with an owner: `base` is kept alive by this view and every view
  // derived from it. Used by owning arrays and by the client's attach().
  View(Elem* data, const extents_type& shape, const extents_type& strides_bytes,
       std::shared_ptr<const void> base)
      : ptr_(data), shape_(shape), strides_(strides_bytes), base_(std::move(base)) {
    for (int k = 0; k < N; ++k) {
      if (shape_[k] < 0) ThrowNegativeExtent(k, shape_[k]);
    }
    CheckBound();
  }

  // A view of a C array: `int carr[3][3][3]` gives View<int, 3, c_contig>
  // (deduction guide below) and converts to any View<int, 3> or
  // View<const int, 3>. base() is empty: the array must outlive the view.
  template <typename A>
  requires(std::is_array_v<A>&& std::rank_v<A> == static_cast<size_t>(N) && N >= 1 &&
           std::is_same_v<std::remove_cv_t<std::remove_all_extents_t<A>>, value_type> &&
           (std::is_const_v<Elem> || !std::is_const_v<std::remove_all_extents_t<A>>))
      View(A& carr)  // NOLINT(google-explicit-constructor): Cython's `cdef int[:, :] v = carr`
      : View(reinterpret_cast<Elem*>(&carr), CArrayShape<A>(std::make_index_sequence<N>())) {}

  // A 1-D view of a std::vector's items (C-contiguous). base() is empty: the
  // vector must outlive the view and must not reallocate meanwhile.
  template <typename U, typename Alloc>
  requires(N == 1 && std::is_same_v<U, value_type>)
      View(std::vector<U, Alloc>& vec)  // NOLINT(google-explicit-constructor)
      : View(vec.data(), extents_type{static_cast<int64_t>(vec.size())}) {}
  template <typename U, typename Alloc>
  requires(N == 1 && std::is_same_v<U, value_type> && std::is_const_v<Elem>)
      View(const std::vector<U, Alloc>& vec)  // NOLINT(google-explicit-constructor)
      : View(vec.data(), extents_type{static_cast<int64_t>(vec.size())}) {}

  // Implicit conversions that cannot fail: T -> const T, and c_contig /
  // f_contig -> strided (or both at once).
  template <typename U, typename C2>
  requires((std::is_same_v<U, Elem> || std::is_same_v<const U, Elem>)&&(
      std::is_same_v<C2, Contig> ||
      std::is_same_v<Contig, strided>)&&!(std::is_same_v<U, Elem> && std::is_same_v<C2, Contig>))
      View(const View<U, N, C2>& other)
  noexcept  // NOLINT(google-explicit-constructor)
      : ptr_(other.ptr_), shape_(other.shape_), strides_(other.strides_), base_(other.base_) {}

  // Checked conversion from another typed view of the same element type
  // (e.g. strided -> c_contig). Throws ShapeError "buffer is not
  // C-contiguous" / "buffer is not Fortran contiguous" when it does not
  // conform (extent-1 axes and empty views always conform).
  template <typename U, typename C2>
  requires(std::is_same_v<U, Elem> || std::is_same_v<const U, Elem>) static View
      From(const View<U, N, C2>& other) {
    View v;
    v.ptr_ = other.ptr_;
    v.shape_ = other.shape_;
    v.strides_ = other.strides_;
    v.base_ = other.base_;
    v.CheckBound();
    return v;
  }

  // Checked cast from a type-erased view, in Cython's order of checks:
  //   ReadOnlyError "buffer source array is read-only" (non-const T, read-only memory);
  //   ShapeError "Buffer has wrong number of dimensions (expected 2, got 3)";
  //   FormatError "Buffer dtype mismatch, expected 'int32_t' but got 'double'";
  //   ShapeError "Item size of buffer (8 bytes) does not match size of 'float' (4 bytes)";
  //   ShapeError "buffer is not C-contiguous" / "buffer is not Fortran contiguous";
  //   ShapeError for a data pointer or a stride that is not aligned for T.
  // The result shares any.base(). Thread-safe.
  static View From(const AnyView& any) {
    if constexpr (!std::is_const_v<Elem>) {
      if (any.readonly()) throw ReadOnlyError("buffer source array is read-only");
    }
    if (any.ndim() != N) internal::ThrowWrongNdim(N, any.ndim());
    CheckFormat<value_type>(any.format());
    if (any.itemsize() != static_cast<int64_t>(sizeof(Elem))) {
      throw ShapeError(internal::ItemsizeMismatchMessage(any.itemsize(), type_name_of<value_type>(),
                                                         sizeof(Elem)));
    }
    View v;
    v.ptr_ = reinterpret_cast<Elem*>(any.first());
    for (int k = 0; k < N; ++k) {
      v.shape_[k] = any.layout().shape[k];
      v.strides_[k] = any.layout().strides[k];
    }
    v.base_ = any.base();
    v.CheckBound();
    return v;
  }

  // --- Attributes (Cython's list). -----------------------------------------
  const extents_type& shape() const noexcept { return shape_; }
  // Strides in bytes.
  const extents_type& strides() const noexcept { return strides_; }
  // REQUIRES: 0 <= k < N.
  index_type shape(int k) const noexcept { return shape_[k]; }
  index_type stride(int k) const noexcept { return strides_[k]; }
  // Number of items (1 for a 0-d view).
  index_type size() const noexcept {
    index_type n = 1;
    for (int k = 0; k < N; ++k) n *= shape_[k];
    return n;
  }
  static constexpr index_type itemsize() noexcept { return sizeof(Elem); }
  index_type nbytes() const noexcept { return size() * index_type{sizeof(Elem)}; }
  // The owner that keeps the memory alive; empty for views of foreign memory.
  const std::shared_ptr<const void>& base() const noexcept { return base_; }
  // Address of item [0, ..., 0] (nullptr for a null view).
  Elem* data() const noexcept { return ptr_; }

  // NumPy's flags: extent-1 axes ignored, an empty view is both.
  bool is_c_contig() const noexcept {
    return IsContiguous(sizeof(Elem), shape_, strides_, Order::kC);
  }
  bool is_f_contig() const noexcept {
    return IsContiguous(sizeof(Elem), shape_, strides_, Order::kF);
  }

  // --- Element access. -------------------------------------------------------
  // Unchecked element access, the hot path: no wraparound, no bounds check
  // (SHMARRAY_DCHECK in debug builds). For c_contig (f_contig) the last
  // (first) stride is the compile-time sizeof(T), so inner loops vectorise.
  // REQUIRES: 0 <= idx_k < shape(k) for every k.
  template <typename... I>
  requires(sizeof...(I) == static_cast<size_t>(N) && (internal::kIsIntegerIndex<I> && ...)) Elem&
  operator()(I... idx) const noexcept {
    const std::array<index_type, N> i{static_cast<index_type>(idx)...};
#ifndef NDEBUG
    for (int k = 0; k < N; ++k) SHMARRAY_DCHECK(i[k] >= 0 && i[k] < shape_[k]);
#endif
    return *internal::AddBytes(ptr_, Offset(i, std::make_index_sequence<N>()));
  }

  // Checked element access: negative indices count from the end; anything
  // else outside its axis throws IndexError "Out of bounds on buffer access
  // (axis k)" naming the first such axis.
  template <typename... I>
  requires(sizeof...(I) == static_cast<size_t>(N) &&
           (internal::kIsIntegerIndex<I> && ...)) Elem& at(I... idx) const {
    std::array<index_type, N> i{static_cast<index_type>(idx)...};
    for (int k = 0; k < N; ++k) {
      if (i[k] < 0) i[k] += shape_[k];
      if (i[k] < 0 || i[k] >= shape_[k]) internal::ThrowBufferOutOfBounds(k);
    }
    return *internal::AddBytes(ptr_, Offset(i, std::make_index_sequence<N>()));
  }

  // v[i] of a 1-D view: a full index, so the element (as in Cython), checked
  // like at(): IndexError "Out of bounds on buffer access (axis 0)".
  Elem& operator[](index_type i) const requires(N == 1) { return at(i); }
  // v[i] of an N-D view (N > 1): the sub-view of rank N-1 sharing base();
  // negative i counts from the end; IndexError "Index out of bounds (axis 0)".
  // A C-contiguous view gives a C-contiguous sub-view.
  View<Elem, N - 1, internal::SubTag<Contig>> operator[](index_type i) const requires(N > 1) {
    if (i < 0) i += shape_[0];
    if (i < 0 || i >= shape_[0]) internal::ThrowIndexOutOfBounds(0);
    View<Elem, N - 1, internal::SubTag<Contig>> out;
    out.ptr_ = internal::AddBytes(ptr_, i * strides_[0]);
    for (int k = 1; k < N; ++k) {
      out.shape_[k - 1] = shape_[k];
      out.strides_[k - 1] = strides_[k];
    }
    out.base_ = base_;
    return out;
  }

  // --- Slicing. ---------------------------------------------------------------
  // NumPy basic indexing with arguments known at compile time: integers
  // (negative count from the end; they drop their axis), Slice{start, stop,
  // step} / `all` (clamped like Python's slice.indices), one `ellipsis`, and
  // `newaxis` (a new axis of extent 1, stride 0). Missing trailing axes are
  // taken whole. The result rank is computed at compile time; a second
  // ellipsis or too many indices do not compile.
  // Throws IndexError "Index out of bounds (axis k)" for an integer outside
  // its axis, IndexExprError "Step may not be zero (axis k)" (axes of this view).
  //   View<double, 1> s = ...;                      // 50 items of 8 bytes
  //   auto t = s.slice(newaxis, Slice{10, -20, 2}, newaxis);  // shape (1,10,1), strides (0,16,0)
  template <typename... A>
  View<Elem, internal::SliceRank<N, A...>(), strided> slice(const A&... args) const {
    static_assert((internal::kIsSliceArg<A> && ...),
                  "slice() takes integers, Slice, all, ellipsis and newaxis");
    constexpr int kEllipses = (0 + ... + (std::is_same_v<A, Ellipsis> ? 1 : 0));
    constexpr int kNew = (0 + ... + (std::is_same_v<A, NewAxis> ? 1 : 0));
    constexpr int kUsed = static_cast<int>(sizeof...(A)) - kEllipses - kNew;
    static_assert(kEllipses <= 1, "an index can only have a single ellipsis ('...')");
    static_assert(kUsed <= N, "too many indices for array");
    constexpr int M = internal::SliceRank<N, A...>();
    View<Elem, M, strided> out;
    int in = 0;
    int o = 0;
    int64_t offset = 0;
    auto take_axis = [&]() {
      if constexpr (M > 0 && N > 0) {
        out.shape_[o] = shape_[in];
        out.strides_[o] = strides_[in];
      }
      ++o;
      ++in;
    };
    auto one = [&](const auto& a) {
      using X = std::decay_t<decltype(a)>;
      if constexpr (std::is_same_v<X, Ellipsis>) {
        for (int r = 0; r < N - kUsed; ++r) take_axis();
      } else if constexpr (std::is_same_v<X, NewAxis>) {
        if constexpr (M > 0) {
          out.shape_[o] = 1;
          out.strides_[o] = 0;
        }
        ++o;
      } else if constexpr (std::is_same_v<X, Slice>) {
        if constexpr (M > 0 && N > 0) {
          const SliceBounds b = NormalizeSlice(a, shape_[in], in);
          if (b.count > 0) offset += b.start * strides_[in];
          out.shape_[o] = b.count;
          out.strides_[o] = strides_[in] * b.step;
        }
        ++o;
        ++in;
      } else {
        if constexpr (N > 0) {
          int64_t i = static_cast<int64_t>(a);
          if (i < 0) i += shape_[in];
          if (i < 0 || i >= shape_[in]) internal::ThrowIndexOutOfBounds(in);
          offset += i * strides_[in];
        }
        ++in;
      }
    };
    (one(args), ...);
    while (in < N) take_axis();
    out.ptr_ = internal::AddBytes(ptr_, offset);
    out.base_ = base_;
    return out;
  }

  // Slicing with an expression known only at run time, e.g.
  // v.slice<2>("1:102:2, ..., None, -1"). Same rules and errors as
  // Layout::slice (plus IndexExprError from ParseIndex for bad text); throws
  // ShapeError "Buffer has wrong number of dimensions (expected M, got k)"
  // when the result rank is not M.
  template <int M>
  View<Elem, M, strided> slice(const IndexExpr& expr) const {
    Layout layout = ToLayout();
    const Layout r = layout.slice(expr);
    if (r.ndim() != M) internal::ThrowWrongNdim(M, r.ndim());
    View<Elem, M, strided> out;
    for (int k = 0; k < M; ++k) {
      out.shape_[k] = r.shape[k];
      out.strides_[k] = r.strides[k];
    }
    out.ptr_ = internal::AddBytes(ptr_, r.offset - layout.offset);
    out.base_ = base_;
    return out;
  }
  template <int M>
  View<Elem, M, strided> slice(std::string_view text) const {
    return slice<M>(ParseIndex(text));
  }

  // Transpose (Cython's .T): axes reversed, no data copied. A C-contiguous
  // view gives a Fortran-contiguous one and vice versa.
  View<Elem, N, internal::TransposedTag<Contig>> T() const noexcept {
    View<Elem, N, internal::TransposedTag<Contig>> out;
    for (int k = 0; k < N; ++k) {
      out.shape_[k] = shape_[N - 1 - k];
      out.strides_[k] = strides_[N - 1 - k];
    }
    out.ptr_ = ptr_;
    out.base_ = base_;
    return out;
  }

  // General axis permutation: result axis i is this view's axis axes[i].
  // Throws ShapeError "axes don't match array" unless `axes` is a
  // permutation of 0..N-1.
  View<Elem, N, strided> permute(const std::array<int, N>& axes) const {
    std::array<bool, N> seen{};
    View<Elem, N, strided> out;
    for (int k = 0; k < N; ++k) {
      const int a = axes[k];
      if (a < 0 || a >= N || seen[a]) throw ShapeError("axes don't match array");
      seen[a] = true;
      out.shape_[k] = shape_[a];
      out.strides_[k] = strides_[a];
    }
    out.ptr_ = ptr_;
    out.base_ = base_;
    return out;
  }

  // --- Copies. -----------------------------------------------------------------
  // A C-ordered (copy) / Fortran-ordered (copy_fortran) copy of the items in
  // a new zero-initialised, 64-byte aligned owning buffer, held by the
  // result's base(). The copy is writable even when this view is const.
  // Throws std::bad_alloc. Reads the memory; thread-safe as a read.
  View<value_type, N, std::conditional_t<N == 0, strided, c_contig>> copy() const {
    return CopyIn<std::conditional_t<N == 0, strided, c_contig>>(Order::kC);
  }
  View<value_type, N, std::conditional_t<N == 0, strided, f_contig>> copy_fortran() const {
    return CopyIn<std::conditional_t<N == 0, strided, f_contig>>(Order::kF);
  }

  // dst[...] = src: copies the items of `src` (any typed view of the same
  // element type) into this view with Cython's broadcasting (the lower-rank
  // side gains leading axes; a source axis of extent 1 repeats; a
  // destination axis of extent 1 does not). Overlapping memory is copied as
  // if through a temporary. Throws ShapeError "got differing extents in
  // dimension 0 (got 2 and 3)" (destination extent first).
  template <typename U, int M, typename C2>
  requires(!std::is_const_v<Elem> && std::is_same_v<std::remove_cv_t<U>, value_type>) void assign(
      const View<U, M, C2>& src) const {
    const Layout s = src.ToLayout();
    const Layout d = ToLayout();
    AssignBytes(d, internal::AddBytes(reinterpret_cast<std::byte*>(ptr_), -d.offset), s,
                internal::AddBytes(reinterpret_cast<const std::byte*>(src.ptr_), -s.offset));
  }
  // dst[...] = any: as above from a type-erased view; also throws
  // FormatError when its format is not T's (see CopyInto).
  void assign(const AnyView& src) const requires(!std::is_const_v<Elem>) { CopyInto(any(), src); }

  // dst[...] = value: writes `value` into every item.
  void fill(const value_type& value) const requires(!std::is_const_v<Elem>) {
    const Layout d = ToLayout();
    FillBytes(d, internal::AddBytes(reinterpret_cast<std::byte*>(ptr_), -d.offset),
              reinterpret_cast<const std::byte*>(&value));
  }

  // The type-erased view of the same memory and owner (read-only when T is
  // const). Requires FormatTraits<T>.
  AnyView any() const {
    const Format& format =
        FormatForType(format_of<value_type>(), type_name_of<value_type>(), sizeof(value_type));
    Layout layout = ToLayout();
    std::byte* region = internal::AddBytes(
        const_cast<std::byte*>(reinterpret_cast<const std::byte*>(ptr_)), -layout.offset);
    return AnyView(format, std::move(layout), region, std::is_const_v<Elem>, base_);
  }

  // The byte layout of this view, with `offset` chosen so that every item
  // lies at a non-negative offset from data() - offset (negative strides).
  Layout ToLayout() const {
    Layout l;
    l.itemsize = sizeof(Elem);
    l.shape.assign(shape_.begin(), shape_.end());
    l.strides.assign(strides_.begin(), strides_.end());
    l.offset = -internal::LowestOffset(shape_.data(), strides_.data(), N);
    return l;
  }

 private:
  template <typename, int, typename>
  friend class View;

  static constexpr int kContigAxis = internal::kContigAxis<Contig, N>;

  template <size_t K>
  index_type StrideOf() const noexcept {
    if constexpr (static_cast<int>(K) == kContigAxis) {
      return index_type{sizeof(Elem)};
    } else {
      return strides_[K];
    }
  }
  template <size_t... K>
  index_type Offset(const std::array<index_type, N>& i, std::index_sequence<K...>) const noexcept {
    return (index_type{0} + ... + (i[K] * StrideOf<K>()));
  }

  template <typename A, size_t... K>
  static extents_type CArrayShape(std::index_sequence<K...>) {
    return extents_type{static_cast<index_type>(std::extent_v<A, K>)...};
  }

  [[noreturn, gnu::cold]] static void ThrowNegativeExtent(int axis, int64_t extent) {
    throw ShapeError("Invalid shape in axis " + std::to_string(axis) + ": " +
                     std::to_string(extent) + ".");
  }

  // Checks the size arithmetic (as Layout does: every view derived from a
  // checked one by slicing, transposing or permuting stays within it, so
  // size(), nbytes() and the contiguity tests never overflow), contiguity for
  // the tag and alignment for T, then pins the compile-time contiguous stride
  // (which an extent-1 or empty axis may not have had). Throws ShapeError.
  void CheckBound() {
    CheckLayoutArithmetic(sizeof(Elem), shape_, strides_);
    if constexpr (std::is_same_v<Contig, c_contig>) {
      if (!is_c_contig()) throw ShapeError("buffer is not C-contiguous");
    } else if constexpr (std::is_same_v<Contig, f_contig>) {
      if (!is_f_contig()) throw ShapeError("buffer is not Fortran contiguous");
    }
    if constexpr (kContigAxis >= 0) strides_[kContigAxis] = sizeof(Elem);
    if constexpr (alignof(Elem) > 1) {
      if (size() == 0) return;
      const auto address = reinterpret_cast<uintptr_t>(ptr_);
      if (address % alignof(Elem) != 0) {
        throw ShapeError("buffer is not aligned for '" + std::string(NameForMessages()) +
                         "': item [0] is not a multiple of " + internal::Bytes(alignof(Elem)));
      }
      for (int k = 0; k < N; ++k) {
        if (shape_[k] > 1 && strides_[k] % static_cast<index_type>(alignof(Elem)) != 0) {
          throw ShapeError("buffer is not aligned for '" + std::string(NameForMessages()) +
                           "': stride " + std::to_string(strides_[k]) + " of axis " +
                           std::to_string(k) + " is not a multiple of " +
                           internal::Bytes(alignof(Elem)));
        }
      }
    }
  }

  static std::string_view NameForMessages() {
    if constexpr (requires { FormatTraits<value_type>::kName; }) {
      return type_name_of<value_type>();
    } else {
      return "element type";
    }
  }

  template <typename C>
  View<value_type, N, C> CopyIn(Order order) const {
    View<value_type, N, C> out;
    int64_t s = sizeof(Elem);
    for (int i = 0; i < N; ++i) {
      const int k = order == Order::kF ? i : N - 1 - i;
      out.shape_[k] = shape_[k];
      out.strides_[k] = s;
      s *= shape_[k] > 0 ? shape_[k] : 1;  // NumPy's strides for empty arrays
    }
    std::shared_ptr<std::byte> memory = internal::AllocateBytes(nbytes());
    out.ptr_ = reinterpret_cast<value_type*>(memory.get());
    const Layout src = ToLayout();
    const Layout dst = out.ToLayout();
    CopyStrided(dst, memory.get(), src,
                internal::AddBytes(reinterpret_cast<const std::byte*>(ptr_), -src.offset));
    out.base_ = std::move(memory);
    return out;
  }

  Elem* ptr_ = nullptr;
  extents_type shape_{};
  extents_type strides_{};
  std::shared_ptr<const void> base_;
};

// `View v = carr;` for `int carr[3][3][3]` is View<int, 3, c_contig>.
template <typename A>
requires std::is_array_v<A> View(A&)
->View<std::remove_all_extents_t<A>, static_cast<int>(std::rank_v<A>), c_contig>;
// `View v = vec;` is a 1-D C-contiguous view of the vector's items.
template <typename U, typename Alloc>
View(std::vector<U, Alloc>&) -> View<U, 1, c_contig>;
template <typename U, typename Alloc>
View(const std::vector<U, Alloc>&) -> View<const U, 1, c_contig>;

}  // namespace shmarray::shm

#endif  // SHMARRAY_SHM_VIEW_H_
