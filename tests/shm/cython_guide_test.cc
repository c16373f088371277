// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: cython_guide_test.cc
// -----------------------------------------------------------------------------
// Every example of the Cython typed-memoryview guide (Cython's documentation,
// "Typed Memoryviews"), ported to View / Array with its documented results.
// A NumPy array is an owning Array; np.arange(n) is an Array filled with
// 0..n-1.

#include <gtest/gtest.h>

#include <cstdint>
#include <iostream>
#include <numeric>
#include <string>
#include <type_traits>
#include <vector>

#include "shmarray/shm/any_view.h"
#include "shmarray/shm/array.h"
#include "shmarray/shm/errors.h"
#include "shmarray/shm/format.h"
#include "shmarray/shm/index.h"
#include "shmarray/shm/view.h"

namespace shmarray::shm {
namespace {

// np.arange(n, dtype=T).reshape(shape) (C order).
template <typename T>
Array Arange(std::vector<int64_t> shape, Order order = Order::kC) {
  Array a = Array::Allocate<T>(shape, order);
  const int64_t n = a.size();
  // Fill in C order whatever the memory order.
  Array c = Array::Allocate<T>(shape, Order::kC);
  T* p = reinterpret_cast<T*>(c.data());
  for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(i);
  CopyInto(a.any(), c.any());
  return a;
}

// NumPy's arr.sum() over any strided view.
int64_t Sum(const AnyView& any) {
  View<const int, 3> v = any.as<const int, 3>();
  int64_t total = 0;
  for (int64_t i = 0; i < v.shape(0); ++i)
    for (int64_t j = 0; j < v.shape(1); ++j)
      for (int64_t k = 0; k < v.shape(2); ++k) total += v(i, j, k);
  return total;
}

// cpdef int sum3d(int[:, :, :] arr) nogil
int Sum3d(View<int, 3> arr) {
  int total = 0;
  const int64_t I = arr.shape(0);
  const int64_t J = arr.shape(1);
  const int64_t K = arr.shape(2);
  for (int64_t i = 0; i < I; ++i)
    for (int64_t j = 0; j < J; ++j)
      for (int64_t k = 0; k < K; ++k) total += arr(i, j, k);
  return total;
}

TEST(CythonGuideTest, Quickstart) {
  // narr = np.arange(27, dtype=np.dtype("i")).reshape((3, 3, 3))
  Array narr = Arange<int>({3, 3, 3});
  View<int, 3> narr_view = narr.view<int, 3>();
  // cdef int carr[3][3][3]
  int carr[3][3][3] = {};
  View<int, 3> carr_view = carr;
  // cyarr = cvarray(shape=(3, 3, 3), itemsize=sizeof(int), format="i")
  Array cyarr = Array::Allocate(Format::Parse("i"), {3, 3, 3}, Order::kC, sizeof(int));
  View<int, 3> cyarr_view = cyarr.view<int, 3>();

  const int64_t before = Sum(narr.any());
  std::cout << "NumPy sum of the NumPy array before assignments: " << before << "\n";
  EXPECT_EQ(before, 351);

  carr_view.assign(narr_view);              // carr_view[...] = narr_view
  cyarr_view.slice(all).assign(narr_view);  // cyarr_view[:] = narr_view
  narr_view.slice(all, all, all).fill(3);   // narr_view[:, :, :] = 3
  carr_view(0, 0, 0) = 100;
  cyarr_view(0, 0, 0) = 1000;

  const int64_t after = Sum(narr.any());
  std::cout << "NumPy sum of NumPy array after assignments: " << after << "\n";
  EXPECT_EQ(after, 81);

  const int s_narr = Sum3d(narr.view<int, 3>());
  const int s_carr = Sum3d(carr);
  const int s_cyarr = Sum3d(cyarr.view<int, 3>());
  const int s_carr_view = Sum3d(carr_view);
  std::cout << "Memoryview sum of NumPy array is " << s_narr << "\n"
            << "Memoryview sum of C array is " << s_carr << "\n"
            << "Memoryview sum of Cython array is " << s_cyarr << "\n"
            << "Memoryview sum of C memoryview is " << s_carr_view << "\n";
  EXPECT_EQ(s_narr, 81);
  EXPECT_EQ(s_carr, 451);
  EXPECT_EQ(s_cyarr, 1351);
  EXPECT_EQ(s_carr_view, 451);
  EXPECT_EQ(carr[0][0][0], 100);
  EXPECT_EQ(carr[2][2][2], 26);
}

TEST(CythonGuideTest, PartialViewRestrictsRows) {
  // cdef int[1:102:2, :] partial_view = exporting_object
  Array a = Arange<int>({120, 3});
  View<int, 2> partial_view = a.view<int, 2>().slice(Slice{1, 102, 2}, all);
  EXPECT_EQ(partial_view.shape(0), 51);
  EXPECT_EQ(partial_view.shape(1), 3);
  EXPECT_EQ(partial_view.stride(0), 24);
  EXPECT_EQ(partial_view(0, 0), 3);             // row 1
  EXPECT_EQ(partial_view(50, 2), 101 * 3 + 2);  // row 101
  View<int, 2> same = a.view<int, 2>().slice<2>("1:102:2, :");
  EXPECT_EQ(same.data(), partial_view.data());
  EXPECT_EQ(same.shape(), partial_view.shape());
}

TEST(CythonGuideTest, RejectsIncompatibleBuffers) {
  // passing a three dimensional buffer into a function that requires two -> ValueError
  Array a = Arange<int>({2, 3, 4});
  try {
    (void)a.view<int, 2>();
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {  // ValueError
    EXPECT_STREQ(e.what(), "Buffer has wrong number of dimensions (expected 2, got 3)");
  }
}

TEST(CythonGuideTest, IndexingAndNegativeIndices) {
  Array a = Arange<int>({4, 5});
  View<int, 2> buf = a.view<int, 2>();
  EXPECT_EQ(buf.at(1, 2), 7);
  EXPECT_EQ(buf(1, 2), 7);
  EXPECT_EQ(buf.at(-1, -1), 19);
  EXPECT_EQ(buf.at(-4, 0), 0);
  EXPECT_THROW(buf.at(-5, 0), IndexError);
}

// def add_one(int[:,:] buf)
void AddOne(View<int, 2> buf) {
  for (int64_t x = 0; x < buf.shape(0); ++x)
    for (int64_t y = 0; y < buf.shape(1); ++y) buf(x, y) += 1;
}

TEST(CythonGuideTest, AddOne) {
  Array a = Arange<int>({3, 4});
  AddOne(a.view<int, 2>());
  View<int, 2, c_contig> v = a.view<int, 2, c_contig>();
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j) EXPECT_EQ(v(i, j), i * 4 + j + 1);
  // On a non-contiguous view too: only the selected items change.
  AddOne(a.view<int, 2>().slice(all, Slice{std::nullopt, std::nullopt, 2}));
  EXPECT_EQ(v(0, 0), 2);
  EXPECT_EQ(v(0, 1), 2);
  EXPECT_EQ(v(2, 3), 12);
  EXPECT_EQ(v(2, 2), 12);
}

TEST(CythonGuideTest, EllipsisEquivalences) {
  Array a = Arange<int>({12, 3, 4});
  View<int, 3> my_view = a.view<int, 3>();
  // my_view[10, :, :] and my_view[10, ...] are all equivalent
  View<int, 2> x = my_view.slice(10, all, all);
  View<int, 2> y = my_view.slice(10, ellipsis);
  View<int, 2> z = my_view[10];
  View<int, 2> w = my_view.slice<2>("10, ...");
  View<int, 2> u = my_view.slice(10);
  for (const View<int, 2>& v : {y, z, w, u}) {
    EXPECT_EQ(v.data(), x.data());
    EXPECT_EQ(v.shape(), x.shape());
    EXPECT_EQ(v.strides(), x.strides());
  }
  EXPECT_EQ(x(0, 0), 120);
  EXPECT_EQ(x(2, 3), 131);
}

TEST(CythonGuideTest, CopyInPlaceThreeWays) {
  Array from = Arange<int>({2, 3, 4});
  View<int, 3> from_view = from.view<int, 3>();
  for (int way = 0; way < 3; ++way) {
    Array to = Array::Allocate<int>({2, 3, 4}, Order::kF);
    View<int, 3> to_view = to.view<int, 3>();
    if (way == 0) to_view.slice(ellipsis).assign(from_view);       // to_view[...] = from_view
    if (way == 1) to_view.slice(all).assign(from_view);            // to_view[:] = from_view
    if (way == 2) to_view.slice(all, all, all).assign(from_view);  // to_view[:, :, :] = from_view
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j)
        for (int k = 0; k < 4; ++k) EXPECT_EQ(to_view(i, j, k), from_view(i, j, k)) << way;
  }
}

TEST(CythonGuideTest, CopyAndCopyFortranStrides) {
  Array a = Arange<int>({2, 2});
  View<int, 2> v = a.view<int, 2>();
  View<int, 2, c_contig> c = v.copy();
  View<int, 2, f_contig> f = v.copy_fortran();
  EXPECT_EQ(c.strides(), (std::array<int64_t, 2>{8, 4}));
  EXPECT_EQ(f.strides(), (std::array<int64_t, 2>{4, 8}));
  EXPECT_NE(c.data(), v.data());
  EXPECT_NE(c.base(), v.base());
  EXPECT_EQ(c(1, 0), 2);
  EXPECT_EQ(f(1, 0), 2);
  // cdef int[:, :, ::1] c_contiguous = myview.copy(); int[::1, :] f = myview.copy_fortran()
  Array b = Arange<int>({2, 3, 4});
  View<int, 3, c_contig> c3 =
      b.view<int, 3>().slice(all, all, Slice{std::nullopt, std::nullopt, -1}).copy();
  EXPECT_EQ(c3.strides(), (std::array<int64_t, 3>{48, 16, 4}));
  EXPECT_EQ(c3(1, 2, 0), 23);
  View<int, 2, f_contig> f2 = b.view<int, 3>()[1].copy_fortran();
  EXPECT_EQ(f2.strides(), (std::array<int64_t, 2>{4, 12}));
  EXPECT_EQ(f2(2, 3), 23);
  // The copy of a const view is writable.
  View<const int, 2> ro = v;
  View<int, 2, c_contig> w = ro.copy();
  w(0, 0) = 5;
  EXPECT_EQ(v(0, 0), 0);
}

TEST(CythonGuideTest, TransposeOfCContigIsFContig) {
  Array a = Arange<int>({3, 4});
  View<int, 2, c_contig> c_contig_view = a.view<int, 2, c_contig>();
  View<int, 2, f_contig> f_contig_view = c_contig_view.T();  // cdef int[::1, :] f = c.T
  static_assert(std::is_same_v<decltype(c_contig_view.T()), View<int, 2, f_contig>>);
  static_assert(std::is_same_v<decltype(f_contig_view.T()), View<int, 2, c_contig>>);
  EXPECT_EQ(f_contig_view.shape(), (std::array<int64_t, 2>{4, 3}));
  EXPECT_EQ(f_contig_view.strides(), (std::array<int64_t, 2>{4, 16}));
  EXPECT_EQ(f_contig_view(3, 2), c_contig_view(2, 3));
  EXPECT_EQ(f_contig_view.data(), c_contig_view.data());
  EXPECT_TRUE(f_contig_view.is_f_contig());
}

TEST(CythonGuideTest, NewAxis) {
  // cdef double[:] myslice = np.linspace(0, 10, num=50)
  Array lin = Array::Allocate<double>({50});
  View<double, 1> myslice = lin.view<double, 1>();
  for (int i = 0; i < 50; ++i) myslice(i) = 10.0 * i / 49;
  View<double, 2> a = myslice.slice(newaxis);       // myslice[None]
  View<double, 2> b = myslice.slice(newaxis, all);  // myslice[None, :]
  View<double, 2> c = myslice.slice(all, newaxis);  // myslice[:, None]
  EXPECT_EQ(a.shape(), (std::array<int64_t, 2>{1, 50}));
  EXPECT_EQ(b.shape(), (std::array<int64_t, 2>{1, 50}));
  EXPECT_EQ(c.shape(), (std::array<int64_t, 2>{50, 1}));
  EXPECT_EQ(c(49, 0), 10.0);
  // s[None, 10:-20:2, None] -> shape (1, 10, 1), strides (0, 16, 0)
  View<double, 3> s = myslice.slice(newaxis, Slice{10, -20, 2}, newaxis);
  EXPECT_EQ(s.shape(), (std::array<int64_t, 3>{1, 10, 1}));
  EXPECT_EQ(s.strides(), (std::array<int64_t, 3>{0, 16, 0}));
  EXPECT_EQ(s(0, 0, 0), myslice(10));
  EXPECT_EQ(s(0, 9, 0), myslice(28));
  View<double, 3> t = myslice.slice<3>("None, 10:-20:2, None");
  EXPECT_EQ(t.shape(), s.shape());
  EXPECT_EQ(t.strides(), s.strides());
  EXPECT_EQ(t.data(), s.data());
}

TEST(CythonGuideTest, ReadOnlyViews) {
  Array a = Array::Allocate<double>({50});
  // cdef const double[:] myslice = a  (read-only view of a writable buffer)
  View<const double, 1> myslice = View<const double, 1>::From(a.any());
  EXPECT_EQ(myslice.shape(0), 50);
  View<const double, 1> implicit = a.view<double, 1>();  // writable -> read-only converts
  EXPECT_EQ(implicit.data(), myslice.data());
  // A read-only buffer into a writable view is an error.
  AnyView ro = a.any().AsReadOnly();
  try {
    (void)View<double, 1>::From(ro);
    FAIL() << "no exception";
  } catch (const ReadOnlyError& e) {
    EXPECT_STREQ(e.what(), "buffer source array is read-only");
  }
  EXPECT_NO_THROW(((void)View<const double, 1>::From(ro)));
  static_assert(!std::is_convertible_v<View<const double, 1>, View<double, 1>>);
  EXPECT_TRUE((View<const double, 1>::From(ro).any().readonly()));
}

TEST(CythonGuideTest, StridesOfCAndFortranArrays) {
  // arr = np.array([['0', '1', '2'], ['3', '4', '5']], dtype='S1'); arr.strides == (3, 1)
  Array s1 = Array::Allocate(Format::Parse("c"), {2, 3});
  EXPECT_EQ(s1.strides(), (std::vector<int64_t>{3, 1}));
  // c_contig = np.arange(24, dtype=np.int8).reshape((2,3,4)); strides (12, 4, 1)
  Array c = Arange<signed char>({2, 3, 4});
  View<signed char, 3> cv = c.view<signed char, 3>();
  EXPECT_EQ(cv.strides(), (std::array<int64_t, 3>{12, 4, 1}));
  // f_contig = np.array(c_contig, order='F'); strides (1, 2, 6); np.all(f == c)
  View<signed char, 3, f_contig> fv = cv.copy_fortran();
  EXPECT_EQ(fv.strides(), (std::array<int64_t, 3>{1, 2, 6}));
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) EXPECT_EQ(fv(i, j, k), cv(i, j, k));
  // c_contig.transpose((1, 0, 2)).strides == (4, 12, 1): contiguous, neither C nor F.
  View<signed char, 3> t = cv.permute({1, 0, 2});
  EXPECT_EQ(t.strides(), (std::array<int64_t, 3>{4, 12, 1}));
  EXPECT_FALSE(t.is_c_contig());
  EXPECT_FALSE(t.is_f_contig());
  // sliced = c_contig[:, 1, :]; sliced.strides == (12, 1)
  View<signed char, 2> sliced = cv.slice(all, 1, all);
  EXPECT_EQ(sliced.strides(), (std::array<int64_t, 2>{12, 1}));
  EXPECT_FALSE(sliced.is_c_contig());
}

TEST(CythonGuideTest, CAndFortranContiguousDeclarations) {
  // c_contig = np.arange(24).reshape((2,3,4)); cdef int[:, :, ::1] c_contiguous = c_contig
  Array c = Arange<int>({2, 3, 4});
  View<int, 3, c_contig> c_contiguous = c.view<int, 3, c_contig>();
  EXPECT_EQ(c_contiguous(1, 2, 3), 23);
  // c_contiguous = np.array(c_contig, order='F') -> ValueError
  Array f = Arange<int>({2, 3, 4}, Order::kF);
  try {
    (void)f.view<int, 3, c_contig>();
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "buffer is not C-contiguous");
  }
  // cdef int[::1, :, :] f_contiguous = f_contig
  View<int, 3, f_contig> f_contiguous = f.view<int, 3, f_contig>();
  EXPECT_EQ(f_contiguous(1, 2, 3), 23);
  try {
    (void)c.view<int, 3, f_contig>();
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "buffer is not Fortran contiguous");
  }
  // cdef int[:, ::view.contiguous] myslice = c_contig[::2] is fine as strided;
  // cdef int[:, ::1] myslice = c_contig[::2] is not.
  Array c2 = Arange<int>({4, 3});
  View<int, 2> every_other =
      c2.view<int, 2, c_contig>().slice(Slice{std::nullopt, std::nullopt, 2});
  EXPECT_EQ(every_other.stride(1), 4);
  EXPECT_THROW((View<int, 2, c_contig>::From(every_other)), ShapeError);
  EXPECT_THROW(((void)every_other.any().as<int, 2, c_contig>()), ShapeError);
}

TEST(CythonGuideTest, MemoryviewAttributes) {
  // cdef cnp.int32_t[:] a = numpy.arange(10, dtype=numpy.int32); a = a[::2]
  Array original = Arange<int32_t>({10});
  View<int32_t, 1> a = original.view<int32_t, 1>();
  a = a.slice(Slice{std::nullopt, std::nullopt, 2});
  std::string contents;
  for (int64_t i = 0; i < a.size(); ++i) contents += std::to_string(a[i]) + " ";
  EXPECT_EQ(contents, "0 2 4 6 8 ");
  // base is the original object even after re-slicing.
  EXPECT_EQ(a.base(), original.base());
  EXPECT_EQ(a.shape(), (std::array<int64_t, 1>{5}));
  EXPECT_EQ(a.strides(), (std::array<int64_t, 1>{8}));
  EXPECT_EQ(a.ndim(), 1);
  EXPECT_EQ(a.size(), 5);
  EXPECT_EQ(a.itemsize(), 4);
  EXPECT_EQ(a.nbytes(), 20);
  View<int32_t, 3> b = Arange<int32_t>({2, 3, 4}).view<int32_t, 3>();
  EXPECT_EQ(b.ndim(), 3);
  EXPECT_EQ(b.size(), 24);
  EXPECT_EQ(b.nbytes(), 96);
}

TEST(CythonGuideTest, CythonArrays) {
  // my_array = view.array(shape=(10, 2), itemsize=sizeof(int), format="i")
  Array my_array = Array::Allocate(Format::Parse("i"), {10, 2}, Order::kC, sizeof(int));
  View<int, 2> my_slice = my_array.view<int, 2>();
  EXPECT_EQ(my_slice.shape(), (std::array<int64_t, 2>{10, 2}));
  EXPECT_EQ(my_slice(9, 1), 0);  // zero-filled
  // mode="fortran"
  Array fortran = Array::Allocate(Format::Parse("i"), {10, 2}, Order::kF);
  EXPECT_EQ(fortran.strides(), (std::vector<int64_t>{4, 40}));
  // allocate_buffer=False + my_array.data = ptr + callback_free_data = free
  int frees = 0;
  {
    int* my_data_pointer = new int[20]();
    Array adopted =
        Array::Adopt(my_data_pointer, Format::Parse("i"), {10, 2}, Order::kF, [&frees](void* p) {
          ++frees;
          delete[] static_cast<int*>(p);
        });
    View<int, 2, f_contig> v = adopted.view<int, 2, f_contig>();
    v(3, 1) = 7;
    EXPECT_EQ(my_data_pointer[13], 7);
    { Array gone = std::move(adopted); }
    EXPECT_EQ(frees, 0);  // v still holds it
  }
  EXPECT_EQ(frees, 1);
  // Errors of cython.view.array.
  try {
    (void)Array::Allocate(Format::Parse("i"), {10, -3});
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_STREQ(e.what(), "Invalid shape in axis 1: -3.");
  }
  // <int[:10, :2]> my_data_pointer
  int raw[20] = {};
  View<int, 2, c_contig> cast(&raw[0], {10, 2});
  cast(9, 1) = 4;
  EXPECT_EQ(raw[19], 4);
  EXPECT_EQ(cast.base(), nullptr);
  // cdef int[:, ::1] myslice = my_2d_c_array
  int my_2d_c_array[3][2] = {{1, 2}, {3, 4}, {5, 6}};
  View<int, 2, c_contig> myslice = my_2d_c_array;
  EXPECT_EQ(myslice(2, 1), 6);
  View c_deduced = my_2d_c_array;
  static_assert(std::is_same_v<decltype(c_deduced), View<int, 2, c_contig>>);
}

// def sum_array(int[:] view) over array('i', [1, 2, 3])
int SumArray(View<const int, 1> view) {
  int total = 0;
  for (int64_t i = 0; i < view.shape(0); ++i) total += view[i];
  return total;
}

TEST(CythonGuideTest, SumArrayOverVector) {
  const std::vector<int> arr = {1, 2, 3};
  EXPECT_EQ(SumArray(arr), 6);
  std::vector<int> mutable_arr = {1, 2, 3};
  View<int, 1, c_contig> v = mutable_arr;
  v[0] = 111;
  EXPECT_EQ(mutable_arr[0], 111);
  View deduced = mutable_arr;
  static_assert(std::is_same_v<decltype(deduced), View<int, 1, c_contig>>);
}

TEST(CythonGuideTest, NoneSlices) {
  // A default (None) view: no memory, no items.
  View<double, 1> myarray;
  EXPECT_EQ(myarray.data(), nullptr);
  EXPECT_EQ(myarray.size(), 0);
  EXPECT_EQ(myarray.base(), nullptr);
}

TEST(CythonGuideTest, OldSum3dOnZeros) {
  // arr = np.zeros((40, 40, 40), dtype=int): sum3d(arr) == 0
  Array arr = Array::Allocate<int>({40, 40, 40});
  EXPECT_EQ(Sum3d(arr.view<int, 3>()), 0);
}

// void multiply_by_10_in_C(double arr[], unsigned int n)
void MultiplyBy10InC(double arr[], unsigned int n) {
  for (unsigned int i = 0; i < n; i++) arr[i] *= 10;
}

// def multiply_by_10(arr): copies when not C-contiguous, then works on double[::1].
AnyView MultiplyBy10(AnyView arr) {
  if (!arr.is_c_contig()) arr = arr.copy(Order::kC);  // np.ascontiguousarray(arr)
  View<double, 1, c_contig> arr_memview = arr.as<double, 1, c_contig>();
  MultiplyBy10InC(&arr_memview[0], static_cast<unsigned int>(arr_memview.shape(0)));
  return arr;
}

TEST(CythonGuideTest, MultiplyBy10) {
  Array a = Array::Allocate<double>({5});
  a.view<double, 1>().fill(1.0);
  AnyView ra = MultiplyBy10(a.any());
  EXPECT_EQ(ra.data(), a.data());  // in place
  for (int i = 0; i < 5; ++i) EXPECT_EQ((a.view<double, 1>()(i)), 10.0);

  Array b_full = Array::Allocate<double>({10});
  b_full.view<double, 1>().fill(1.0);
  AnyView b = b_full.any().slice(ParseIndex("::2"));  // b is not contiguous
  EXPECT_FALSE(b.is_c_contig());
  EXPECT_THROW(((void)b.as<double, 1, c_contig>()), ShapeError);
  AnyView rb = MultiplyBy10(b);  // but our function still works as expected
  View<const double, 1> out = rb.as<const double, 1>();
  ASSERT_EQ(out.shape(0), 5);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(out(i), 10.0);
  for (int i = 0; i < 10; ++i) EXPECT_EQ((b_full.view<double, 1>()(i)), 1.0);  // a new array
}

}  // namespace
}  // namespace shmarray::shm
