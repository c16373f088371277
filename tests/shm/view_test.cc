// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: view_test.cc
// -----------------------------------------------------------------------------
// Tests for View<T, N, Contig> (shm/include/shmarray/shm/view.h): typed tests
// over element types and contiguity tags, the checked casts in Cython's order
// with the exact messages of docs/views.md, element access, slicing (typed and
// run-time), transposition, copies, assignment, fill and conversions.

#include "shmarray/shm/view.h"

#include <gtest/gtest.h>

#include <array>
#include <complex>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "shmarray/shm/any_view.h"
#include "shmarray/shm/array.h"
#include "shmarray/shm/errors.h"
#include "shmarray/shm/format.h"
#include "shmarray/shm/index.h"

namespace shmarray::shm {
namespace test {
struct Point {
  double x;
  double y;
  friend bool operator==(const Point&, const Point&) = default;
};
}  // namespace test

template <>
struct FormatTraits<test::Point> {
  static constexpr std::string_view kFormat = "T{d:x:d:y:}";
  static constexpr std::string_view kName = "Point";
};

namespace {

using test::Point;

template <typename T>
T Value(int i) {
  if constexpr (std::is_same_v<T, Point>) {
    return Point{static_cast<double>(i), 2.0 * i};
  } else if constexpr (std::is_same_v<T, std::complex<double>>) {
    return {static_cast<double>(i), -1.0 * i};
  } else {
    return static_cast<T>(i % 100);
  }
}

template <typename F>
std::string MessageOf(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no exception)";
}

// --- Typed tests over element types. -------------------------------------------

template <typename T>
class ViewTypedTest : public ::testing::Test {};
using ElementTypes = ::testing::Types<int8_t, int16_t, int32_t, int64_t, uint8_t, float, double,
                                      std::complex<double>, Point>;
TYPED_TEST_SUITE(ViewTypedTest, ElementTypes);

TYPED_TEST(ViewTypedTest, AccessSliceCopyTransposeAssign) {
  using T = TypeParam;
  Array a = Array::Allocate<T>({4, 5});
  View<T, 2, c_contig> v = a.view<T, 2, c_contig>();
  EXPECT_EQ(v.itemsize(), static_cast<int64_t>(sizeof(T)));
  EXPECT_EQ(v.strides(), (std::array<int64_t, 2>{5 * static_cast<int64_t>(sizeof(T)), sizeof(T)}));
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 5; ++j) v(i, j) = Value<T>(i * 5 + j);
  EXPECT_EQ(v.at(-1, -1), Value<T>(19));
  EXPECT_EQ(v[2][3], Value<T>(13));
  EXPECT_EQ(v.size(), 20);
  EXPECT_EQ(v.nbytes(), 20 * static_cast<int64_t>(sizeof(T)));

  // Reversed columns, every other row.
  View<T, 2> s =
      v.slice(Slice{std::nullopt, std::nullopt, 2}, Slice{std::nullopt, std::nullopt, -1});
  EXPECT_EQ(s.shape(), (std::array<int64_t, 2>{2, 5}));
  EXPECT_EQ(s(1, 0), Value<T>(14));
  View<T, 2> r = v.template slice<2>("::2, ::-1");
  EXPECT_EQ(r.data(), s.data());
  EXPECT_EQ(r.strides(), s.strides());

  View<T, 2, f_contig> f = s.copy_fortran();
  View<T, 2, c_contig> c = s.copy();
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 5; ++j) {
      EXPECT_EQ(f(i, j), s(i, j));
      EXPECT_EQ(c(i, j), s(i, j));
      EXPECT_EQ(s.T()(j, i), s(i, j));
    }

  // assign: dst[...] = src into a Fortran-ordered array, with an overlap case.
  Array b = Array::Allocate<T>({4, 5}, Order::kF);
  View<T, 2, f_contig> bv = b.view<T, 2, f_contig>();
  bv.assign(v);
  EXPECT_EQ(bv(3, 4), Value<T>(19));
  v.slice(Slice{1, std::nullopt, std::nullopt})
      .assign(v.slice(Slice{std::nullopt, -1, std::nullopt}));  // shift rows down
  EXPECT_EQ(v(3, 4), Value<T>(14));
  EXPECT_EQ(v(1, 0), Value<T>(0));
  EXPECT_EQ(v(0, 0), Value<T>(0));

  v.fill(Value<T>(7));
  EXPECT_EQ(v(3, 4), Value<T>(7));

  // Type-erased round trip.
  AnyView any = v.any();
  EXPECT_EQ(any.itemsize(), static_cast<int64_t>(sizeof(T)));
  View<const T, 2> back = any.as<const T, 2>();
  EXPECT_EQ(back.data(), v.data());
  EXPECT_EQ(back.base(), a.base());
}

// --- Typed tests over layouts. -------------------------------------------------------

template <typename C>
class ViewLayoutTest : public ::testing::Test {};
using Layouts = ::testing::Types<strided, c_contig, f_contig>;
TYPED_TEST_SUITE(ViewLayoutTest, Layouts);

TYPED_TEST(ViewLayoutTest, BindsWhatConformsAndRejectsTheRest) {
  using C = TypeParam;
  Array ca = Array::Allocate<double>({3, 4, 5}, Order::kC);
  Array fa = Array::Allocate<double>({3, 4, 5}, Order::kF);
  AnyView odd = ca.any().slice(ParseIndex(":, ::2, :"));
  if constexpr (std::is_same_v<C, strided>) {
    EXPECT_NO_THROW((ca.view<double, 3, C>()));
    EXPECT_NO_THROW((fa.view<double, 3, C>()));
    EXPECT_NO_THROW((odd.as<double, 3, C>()));
  } else if constexpr (std::is_same_v<C, c_contig>) {
    EXPECT_NO_THROW((ca.view<double, 3, C>()));
    EXPECT_EQ(MessageOf([&] { (void)fa.view<double, 3, C>(); }), "buffer is not C-contiguous");
    EXPECT_EQ(MessageOf([&] { (void)odd.as<double, 3, C>(); }), "buffer is not C-contiguous");
  } else {
    EXPECT_NO_THROW((fa.view<double, 3, C>()));
    EXPECT_EQ(MessageOf([&] { (void)ca.view<double, 3, C>(); }),
              "buffer is not Fortran contiguous");
  }
  // Extent-1 axes with odd strides and empty buffers always conform.
  Layout l;
  l.itemsize = 8;
  l.shape = {1, 1, 4};
  l.strides = {1000, 7, 8};
  if constexpr (std::is_same_v<C, f_contig>) {
    l.shape = {4, 1, 1};
    l.strides = {8, 7, 1000};
  }
  std::vector<double> mem(4);
  AnyView ones(Format::Parse("d"), l, reinterpret_cast<std::byte*>(mem.data()), false, nullptr);
  View<double, 3, C> v = ones.as<double, 3, C>();
  EXPECT_EQ(v.size(), 4);
  Layout empty = l;
  empty.shape = {0, 3, 4};
  empty.strides = {8, 16, 24};
  AnyView e(Format::Parse("d"), empty, reinterpret_cast<std::byte*>(mem.data()), false, nullptr);
  EXPECT_NO_THROW((e.as<double, 3, C>()));
}

TYPED_TEST(ViewLayoutTest, ContiguousStrideIsPinned) {
  using C = TypeParam;
  Array ca = Array::Allocate<int>({1, 6}, Order::kC);
  Array fa = Array::Allocate<int>({6, 1}, Order::kF);
  if constexpr (std::is_same_v<C, c_contig>) {
    View<int, 2, C> v = ca.view<int, 2, C>();
    EXPECT_EQ(v.stride(1), 4);
    static_assert(std::is_same_v<decltype(v.T()), View<int, 2, f_contig>>);
    static_assert(std::is_same_v<decltype(v[0]), View<int, 1, c_contig>>);
  } else if constexpr (std::is_same_v<C, f_contig>) {
    View<int, 2, C> v = fa.view<int, 2, C>();
    EXPECT_EQ(v.stride(0), 4);
    static_assert(std::is_same_v<decltype(v[0]), View<int, 1, strided>>);
  } else {
    View<int, 2, C> v = ca.view<int, 2, C>();
    static_assert(std::is_same_v<decltype(v.T()), View<int, 2, strided>>);
  }
}

// --- Checked casts: Cython's order and messages. -------------------------------------

TEST(ViewFromTest, MessagesWordForWord) {
  Array i32 = Array::Allocate<int32_t>({2, 3});
  Array d3 = Array::Allocate<double>({2, 3, 4});
  EXPECT_EQ(MessageOf([&] { (void)i32.view<int32_t, 3>(); }),
            "Buffer has wrong number of dimensions (expected 3, got 2)");
  EXPECT_EQ(MessageOf([&] { (void)d3.view<double, 2>(); }),
            "Buffer has wrong number of dimensions (expected 2, got 3)");
  EXPECT_EQ(MessageOf([&] { (void)d3.view<int32_t, 3>(); }),
            "Buffer dtype mismatch, expected 'int32_t' but got 'double'");
  EXPECT_THROW(((void)d3.view<int32_t, 3>()), FormatError);
  // Item size: a padded item.
  Array padded = Array::Allocate(Format::Parse("f"), {4}, Order::kC, 8);
  EXPECT_EQ(MessageOf([&] { (void)padded.view<float, 1>(); }),
            "Item size of buffer (8 bytes) does not match size of 'float' (4 bytes)");
  Array bytes2 = Array::Allocate(Format::Parse("B"), {4}, Order::kC, 2);
  EXPECT_EQ(MessageOf([&] { (void)bytes2.view<uint8_t, 1>(); }),
            "Item size of buffer (2 bytes) does not match size of 'uint8_t' (1 byte)");
  EXPECT_EQ(internal::ItemsizeMismatchMessage(1, "float", 4),
            "Item size of buffer (1 byte) does not match size of 'float' (4 bytes)");
  // Read-only comes first, before ndim and format.
  AnyView ro = d3.any().AsReadOnly();
  EXPECT_EQ(MessageOf([&] { (void)View<int32_t, 1>::From(ro); }),
            "buffer source array is read-only");
  EXPECT_THROW(((void)View<double, 3>::From(ro)), ReadOnlyError);
  EXPECT_EQ(MessageOf([&] { (void)View<const int32_t, 1>::From(ro); }),
            "Buffer has wrong number of dimensions (expected 1, got 3)");
  // int32_t accepts '<i', '=i' and 'i'.
  for (const char* f : {"i", "<i", "=i"}) {
    Array a = Array::Allocate(Format::Parse(f), {3});
    EXPECT_NO_THROW(((void)a.view<int32_t, 1>())) << f;
  }
}

TEST(ViewFromTest, RejectsMisalignment) {
  std::vector<double> mem(8);
  Layout l;
  l.itemsize = 8;
  l.shape = {3};
  l.strides = {8};
  l.offset = 4;
  AnyView a(Format::Parse("d"), l, reinterpret_cast<std::byte*>(mem.data()), false, nullptr);
  EXPECT_THROW(((void)a.as<double, 1>()), ShapeError);
  l.offset = 0;
  l.strides = {12};
  l.itemsize = 8;
  AnyView b(Format::Parse("d"), l, reinterpret_cast<std::byte*>(mem.data()), false, nullptr);
  EXPECT_EQ(MessageOf([&] { (void)b.as<double, 1>(); }),
            "buffer is not aligned for 'double': stride 12 of axis 0 is not a multiple of 8 bytes");
  // Chars never are misaligned.
  AnyView c = Array::Allocate<char>({9}).any().slice(ParseIndex("1::3"));
  EXPECT_NO_THROW(((void)c.as<char, 1>()));
}

TEST(ViewFromTest, StridedToContigIsChecked) {
  Array a = Array::Allocate<int>({4, 6});
  View<int, 2> s = a.view<int, 2>();
  View<int, 2, c_contig> c = View<int, 2, c_contig>::From(s);
  EXPECT_EQ(c.data(), s.data());
  View<const int, 2, c_contig> cc = View<const int, 2, c_contig>::From(s);
  EXPECT_EQ(cc.data(), s.data());
  EXPECT_EQ(MessageOf([&] { (void)View<int, 2, c_contig>::From(s.T()); }),
            "buffer is not C-contiguous");
  EXPECT_EQ(MessageOf([&] { (void)View<int, 2, f_contig>::From(s); }),
            "buffer is not Fortran contiguous");
  // Implicit, infallible conversions.
  static_assert(std::is_convertible_v<View<int, 2, c_contig>, View<int, 2>>);
  static_assert(std::is_convertible_v<View<int, 2, c_contig>, View<const int, 2>>);
  static_assert(std::is_convertible_v<View<int, 2, f_contig>, View<const int, 2, f_contig>>);
  static_assert(!std::is_convertible_v<View<int, 2>, View<int, 2, c_contig>>);
  static_assert(!std::is_convertible_v<View<const int, 2>, View<int, 2>>);
  static_assert(!std::is_convertible_v<View<int, 2, c_contig>, View<int, 2, f_contig>>);
}

// --- Element access. ------------------------------------------------------------------

TEST(ViewAccessTest, OutOfBoundsMessages) {
  Array a = Array::Allocate<int>({3, 4});
  View<int, 2> v = a.view<int, 2>();
  EXPECT_EQ(MessageOf([&] { (void)v.at(0, 4); }), "Out of bounds on buffer access (axis 1)");
  EXPECT_EQ(MessageOf([&] { (void)v.at(0, -5); }), "Out of bounds on buffer access (axis 1)");
  EXPECT_EQ(MessageOf([&] { (void)v.at(3, 0); }), "Out of bounds on buffer access (axis 0)");
  EXPECT_THROW((void)v.at(-4, 0), IndexError);
  EXPECT_EQ(MessageOf([&] { (void)v[3]; }), "Index out of bounds (axis 0)");
  EXPECT_EQ(MessageOf([&] { (void)v[-4]; }), "Index out of bounds (axis 0)");
  EXPECT_EQ(MessageOf([&] { (void)v[1][4]; }), "Out of bounds on buffer access (axis 0)");
  EXPECT_EQ(MessageOf([&] { (void)v.slice(all, 4); }), "Index out of bounds (axis 1)");
  EXPECT_EQ(MessageOf([&] { (void)v.slice(Slice{0, 3, 0}); }), "Step may not be zero (axis 0)");
  EXPECT_EQ(MessageOf([&] { (void)v.slice<2>("..., ..."); }),
            "an index can only have a single ellipsis ('...')");
  EXPECT_EQ(MessageOf([&] { (void)v.slice<0>("1, 2, 3"); }),
            "too many indices for array: array is 2-dimensional, but 3 were indexed");
  EXPECT_EQ(MessageOf([&] { (void)v.slice<2>("1"); }),
            "Buffer has wrong number of dimensions (expected 2, got 1)");
  EXPECT_EQ(MessageOf([&] { (void)v.slice<1>("1, :, 9"); }),
            "too many indices for array: array is 2-dimensional, but 3 were indexed");
  EXPECT_EQ(MessageOf([&] { (void)v.slice<1>(":, 4"); }), "Index out of bounds (axis 1)");
  EXPECT_THROW((void)v.slice<1>(":, 4"), IndexError);
}

TEST(ViewAccessTest, NegativeAndZeroStrides) {
  std::vector<int> mem = {0, 1, 2, 3, 4, 5};
  View<int, 2> rev(&mem[5], {2, 3}, {-12, -4});
  EXPECT_EQ(rev(0, 0), 5);
  EXPECT_EQ(rev(1, 2), 0);
  EXPECT_EQ(rev.at(-1, -1), 0);
  EXPECT_FALSE(rev.is_c_contig());
  View<int, 2, c_contig> c = rev.copy();
  EXPECT_EQ(c(0, 0), 5);
  EXPECT_EQ(c(1, 2), 0);
  View<int, 2> bcast(&mem[0], {3, 3}, {0, 4});
  EXPECT_EQ(bcast(2, 1), 1);
  AnyView any = rev.any();
  EXPECT_EQ(any.first(), reinterpret_cast<std::byte*>(&mem[5]));
  EXPECT_EQ(any.data(), reinterpret_cast<std::byte*>(&mem[0]));
  EXPECT_EQ((any.as<int, 2>()(1, 2)), 0);
}

TEST(ViewAccessTest, SliceRankAndEquivalences) {
  Array a = Array::Allocate<int>({3, 4, 5});
  View<int, 3> v = a.view<int, 3>();
  for (int i = 0; i < 60; ++i) v.data()[i] = i;
  static_assert(std::is_same_v<decltype(v.slice(1, 2, 3)), View<int, 0>>);
  static_assert(std::is_same_v<decltype(v.slice(1, newaxis, ellipsis, newaxis)), View<int, 4>>);
  EXPECT_EQ(v.slice(1, 2, 3)(), 33);
  EXPECT_EQ(v.slice(-1, -1, -1)(), 59);
  View<int, 4> w = v.slice(1, newaxis, ellipsis, newaxis);
  EXPECT_EQ(w.shape(), (std::array<int64_t, 4>{1, 4, 5, 1}));
  View<int, 4> w2 = v.slice<4>("1, None, ..., None");
  EXPECT_EQ(w2.shape(), w.shape());
  EXPECT_EQ(w2.strides(), w.strides());
  EXPECT_EQ(w2.data(), w.data());
  // Python's slice.indices, not Cython's: a[1:0:2] and a[-7::-1] are empty.
  View<int, 1> row = v[0][0];
  EXPECT_EQ(row.slice(Slice{1, 0, 2}).size(), 0);
  EXPECT_EQ(row.slice(Slice{-7, std::nullopt, -1}).size(), 0);
  EXPECT_EQ(row.slice(Slice{std::nullopt, -7, -1}).size(), 5);
  View<int, 1> back = row.slice(Slice{std::nullopt, std::nullopt, -2});
  EXPECT_EQ(back.shape(0), 3);
  EXPECT_EQ(back(0), 4);
  EXPECT_EQ(back(2), 0);
  // permute
  View<int, 3> p = v.permute({2, 0, 1});
  EXPECT_EQ(p.shape(), (std::array<int64_t, 3>{5, 3, 4}));
  EXPECT_EQ(p(4, 2, 3), v(2, 3, 4));
  EXPECT_EQ(MessageOf([&] { (void)v.permute({0, 0, 1}); }), "axes don't match array");
  EXPECT_THROW((void)v.permute({0, 1, 3}), ShapeError);
}

TEST(ViewAssignTest, BroadcastingAndExtentMessages) {
  Array d = Array::Allocate<int>({2, 3});
  View<int, 2> dst = d.view<int, 2>();
  Array s = Array::Allocate<int>({3, 3});
  View<int, 2> src = s.view<int, 2>();
  EXPECT_EQ(MessageOf([&] { dst.assign(src); }),
            "got differing extents in dimension 0 (got 2 and 3)");
  EXPECT_THROW(dst.assign(src), ShapeError);
  // (3,)[...] = (2,3): the destination gains a leading axis of extent 1, not broadcast.
  Array d1 = Array::Allocate<int>({3});
  EXPECT_EQ(MessageOf([&] { d1.view<int, 1>().assign(dst); }),
            "got differing extents in dimension 0 (got 1 and 2)");
  // A lower-rank source gains leading axes; a source axis of extent 1 repeats.
  std::vector<int> row = {1, 2, 3};
  dst.assign(View<const int, 1>(row));
  EXPECT_EQ(dst(1, 2), 3);
  std::vector<int> col = {7, 8};
  dst.assign(View<int, 2>(col.data(), {2, 1}));
  EXPECT_EQ(dst(0, 2), 7);
  EXPECT_EQ(dst(1, 0), 8);
  // AnyView source: format-checked.
  Array dd = Array::Allocate<double>({2, 3});
  EXPECT_EQ(MessageOf([&] { dst.assign(dd.any()); }),
            "Buffer dtype mismatch, expected 'int32_t' but got 'double'");
  dst.assign(s.any().slice(ParseIndex("1:, :")));
  EXPECT_EQ(dst(0, 0), 0);
}

TEST(ViewAssignTest, OverlapBehavesAsThroughATemporary) {
  std::vector<int> mem(10);
  for (int i = 0; i < 10; ++i) mem[i] = i;
  View<int, 1> v(mem.data(), {10});
  v.slice(Slice{1, std::nullopt, std::nullopt})
      .assign(v.slice(Slice{std::nullopt, -1, std::nullopt}));
  EXPECT_EQ(mem, (std::vector<int>{0, 0, 1, 2, 3, 4, 5, 6, 7, 8}));
  for (int i = 0; i < 10; ++i) mem[i] = i;
  v.assign(v.slice(Slice{std::nullopt, std::nullopt, -1}));  // reverse in place
  EXPECT_EQ(mem, (std::vector<int>{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}));
  // A 2-D transpose in place of a square block.
  std::vector<int> sq = {0, 1, 2, 3, 4, 5, 6, 7, 8};
  View<int, 2> m(sq.data(), {3, 3});
  m.assign(m.T());
  EXPECT_EQ(sq, (std::vector<int>{0, 3, 6, 1, 4, 7, 2, 5, 8}));
}

TEST(ViewCtorTest, ForeignMemoryAndCArrays) {
  int carr[3][3][3] = {};
  View deduced = carr;
  static_assert(std::is_same_v<decltype(deduced), View<int, 3, c_contig>>);
  View<int, 3> strided_view = carr;
  View<const int, 3> const_view = carr;
  carr[1][2][0] = 5;
  EXPECT_EQ(strided_view(1, 2, 0), 5);
  EXPECT_EQ(const_view(1, 2, 0), 5);
  EXPECT_EQ(deduced.strides(), (std::array<int64_t, 3>{36, 12, 4}));
  const double cd[2][4] = {{1, 2, 3, 4}, {5, 6, 7, 8}};
  View cdv = cd;
  static_assert(std::is_same_v<decltype(cdv), View<const double, 2, c_contig>>);
  EXPECT_EQ(cdv(1, 3), 8);
  // Raw pointer + shape: C order (Fortran order for f_contig).
  double raw[6] = {0, 1, 2, 3, 4, 5};
  View<double, 2, f_contig> f(raw, {2, 3});
  EXPECT_EQ(f.strides(), (std::array<int64_t, 2>{8, 16}));
  EXPECT_EQ(f(1, 2), 5);
  EXPECT_EQ(MessageOf([&] {
              View<double, 2, c_contig> bad(raw, {2, 3}, {8, 16});
            }),
            "buffer is not C-contiguous");
  EXPECT_EQ(MessageOf([&] { View<double, 1> bad(raw, {-1}); }), "Invalid shape in axis 0: -1.");
  std::vector<double> vec = {1, 2, 3};
  View<double, 1> vv = vec;
  vv(0) = 9;
  EXPECT_EQ(vec[0], 9);
  EXPECT_EQ(vv.base(), nullptr);
  // any() of foreign memory has an empty base and the format of T.
  EXPECT_EQ(vv.any().format().canonical(), Format::Parse("d").canonical());
  EXPECT_EQ(vv.any().base(), nullptr);
}

TEST(ViewCtorTest, SizeArithmeticIsOverflowChecked) {
  double x = 1;
  const int64_t k30 = int64_t{1} << 30;
  const int64_t k31 = int64_t{1} << 31;
  // A broadcast of one double to 2^61 items: 2^64 bytes do not fit int64, so
  // nbytes() would wrap to 0 and copy() would allocate 0 bytes and write 2^64.
  EXPECT_EQ(MessageOf([&] {
              View<double, 2> v(&x, {k31, k30}, {0, 0});
            }),
            "the byte size overflows int64 for layout itemsize=8 shape=(2147483648, 1073741824) "
            "strides=(0, 0) offset=0");
  // One step smaller it binds and reports exact sizes.
  View<double, 2> big(&x, {k30, k30 / 2}, {0, 0});
  EXPECT_EQ(big.size(), int64_t{1} << 59);
  EXPECT_EQ(big.nbytes(), int64_t{1} << 62);
  EXPECT_EQ(big.at(-1, -1), 1);
  // The number of items alone overflows.
  char c = 0;
  EXPECT_EQ(MessageOf([&] {
              View<char, 3> v(&c, {k31, k31, k31}, {0, 0, 0});
            }),
            "the number of items overflows int64 for layout itemsize=1 shape=(2147483648, "
            "2147483648, 2147483648) strides=(0, 0, 0) offset=0");
  // stride * (extent - 1) overflows.
  EXPECT_EQ(MessageOf([&] { View<char, 1> v(&c, {4}, {std::numeric_limits<int64_t>::max() / 2}); }),
            "the byte extent overflows int64 for layout itemsize=1 shape=(4,) "
            "strides=(4611686018427387903,) offset=0");
  // Natural-order strides of foreign memory overflow, or the size does.
  EXPECT_EQ(MessageOf([&] {
              View<double, 3> v(&x, {2, int64_t{1} << 40, int64_t{1} << 40});
            }),
            "array is too big: the strides of shape (2, 1099511627776, 1099511627776) with "
            "itemsize 8 overflow int64");
  EXPECT_EQ(MessageOf([&] {
              View<double, 2> v(&x, {int64_t{1} << 40, int64_t{1} << 40});
            }),
            "the number of items overflows int64 for layout itemsize=8 shape=(1099511627776, "
            "1099511627776) strides=(8796093022208, 8) offset=0");
  EXPECT_THROW((View<double, 2, f_contig>(&x, {int64_t{1} << 40, int64_t{1} << 40})), ShapeError);
  // A checked cast from a strided view re-checks nothing it need not: the
  // source was checked when it was made.
  EXPECT_EQ((View<double, 2>::From(big).nbytes()), int64_t{1} << 62);
}

TEST(ViewCtorTest, AnyViewSizeArithmeticIsOverflowChecked) {
  std::byte b[8] = {};
  Layout huge;
  huge.itemsize = 8;
  huge.shape = {int64_t{1} << 31, int64_t{1} << 30};
  huge.strides = {0, 0};
  EXPECT_EQ(MessageOf([&] { AnyView a(Format::Parse("d"), huge, b, false, nullptr); }),
            "the byte size overflows int64 for layout itemsize=8 shape=(2147483648, 1073741824) "
            "strides=(0, 0) offset=0");
  Layout far = huge;
  far.shape = {4};
  far.strides = {std::numeric_limits<int64_t>::max() / 2};
  EXPECT_THROW(AnyView(Format::Parse("d"), far, b, false, nullptr), ShapeError);
}

TEST(ViewCtorTest, CopiesOwnTheirMemory) {
  View<int, 2, c_contig> c;
  {
    Array a = Array::Allocate<int>({2, 2});
    a.view<int, 2>()(1, 1) = 3;
    c = a.view<int, 2>().copy();
  }
  EXPECT_EQ(c(1, 1), 3);
  EXPECT_NE(c.base(), nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(c.data()) % 64, 0u);
  // Views keep their owner alive.
  View<int, 1> v;
  std::weak_ptr<const void> weak;
  {
    Array a = Array::Allocate<int>({4});
    v = a.view<int, 1>();
    weak = a.base();
  }
  EXPECT_FALSE(weak.expired());
  v = View<int, 1>();
  EXPECT_TRUE(weak.expired());
}

TEST(ViewAccessTest, EmptyAndZeroDimensional) {
  Array a = Array::Allocate<int>({0, 3});
  View<int, 2, c_contig> v = a.view<int, 2, c_contig>();
  EXPECT_EQ(v.size(), 0);
  EXPECT_TRUE(v.is_c_contig());
  EXPECT_TRUE(v.is_f_contig());
  EXPECT_EQ(v.copy().size(), 0);
  EXPECT_EQ(v.copy().strides(), (std::array<int64_t, 2>{12, 4}));
  v.fill(3);
  Array z = Array::Allocate<int>(std::span<const int64_t>());
  View<int, 0> s = z.view<int, 0>();
  s() = 4;
  EXPECT_EQ(s.size(), 1);
  EXPECT_EQ(s.copy()(), 4);
}

}  // namespace
}  // namespace shmarray::shm
