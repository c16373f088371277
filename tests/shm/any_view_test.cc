// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: any_view_test.cc
// -----------------------------------------------------------------------------
// Tests for AnyView (shm/src/any_view.cc) and the owning Array (array.h):
// construction checks, allocation, relayouts sharing memory, copies in both
// orders, CopyInto's checks and messages, and adopted memory freed once.

#include "shmarray/shm/any_view.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "shmarray/shm/array.h"
#include "shmarray/shm/errors.h"
#include "shmarray/shm/format.h"
#include "shmarray/shm/index.h"
#include "shmarray/shm/view.h"

namespace shmarray::shm {
namespace {

template <typename F>
std::string MessageOf(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no exception)";
}

TEST(AnyViewTest, AllocateIsZeroedAlignedAndContiguous) {
  for (Order order : {Order::kC, Order::kF}) {
    AnyView a = AnyView::Allocate(Format::Parse("d"), {3, 4}, order);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(a.first()) % 64, 0u);
    EXPECT_EQ(a.nbytes(), 96);
    EXPECT_EQ(a.size(), 12);
    EXPECT_EQ(a.ndim(), 2);
    EXPECT_FALSE(a.readonly());
    EXPECT_NE(a.base(), nullptr);
    EXPECT_EQ(order == Order::kC ? a.is_c_contig() : a.is_f_contig(), true);
    for (int64_t i = 0; i < a.nbytes(); ++i) EXPECT_EQ(a.first()[i], std::byte{0});
  }
  // A big allocation (mapped) is zeroed and aligned too.
  AnyView big = AnyView::Allocate(Format::Parse("B"), {int64_t{5} << 20}, Order::kC);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(big.first()) % 64, 0u);
  EXPECT_EQ(big.first()[(int64_t{5} << 20) - 1], std::byte{0});
  // Padded items.
  AnyView padded = AnyView::Allocate(Format::Parse("i"), {3}, Order::kC, 8);
  EXPECT_EQ(padded.layout().strides, (std::vector<int64_t>{8}));
  EXPECT_EQ(MessageOf([] {
              (void)AnyView::Allocate(Format::Parse("i"), {3, -3}, Order::kC);
            }),
            "Invalid shape in axis 1: -3.");
  EXPECT_THROW((void)AnyView::Allocate(Format::Parse("d"), {3}, Order::kC, 4), ShapeError);
  EXPECT_EQ(MessageOf([] { (void)AnyView::Allocate(Format::Parse("i"), {3}, Order::kC, -1); }),
            "itemsize <= 0 for cython.array");
}

TEST(AnyViewTest, ConstructorChecks) {
  std::vector<std::byte> mem(64);
  Layout l;
  l.itemsize = 4;
  l.shape = {2, 2};
  l.strides = {8, 4};
  EXPECT_NO_THROW(AnyView(Format::Parse("i"), l, mem.data(), false, nullptr));
  EXPECT_THROW(AnyView(Format::Parse("d"), l, mem.data(), false, nullptr), ShapeError);
  Layout bad = l;
  bad.strides = {8};
  EXPECT_THROW(AnyView(Format::Parse("i"), bad, mem.data(), false, nullptr), ShapeError);
  bad = l;
  bad.shape = {2, -1};
  EXPECT_THROW(AnyView(Format::Parse("i"), bad, mem.data(), false, nullptr), ShapeError);
}

TEST(AnyViewTest, RelayoutsShareMemory) {
  AnyView a = AnyView::Allocate(Format::Parse("i"), {3, 4}, Order::kC);
  View<int, 2> v = a.as<int, 2>();
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j) v(i, j) = i * 4 + j;
  AnyView col = a.slice(ParseIndex(":, 1"));
  EXPECT_EQ(col.ndim(), 1);
  EXPECT_EQ(col.base(), a.base());
  EXPECT_EQ((col.as<int, 1>()(2)), 9);
  AnyView t = a.T();
  EXPECT_EQ((t.as<int, 2>()(3, 2)), 11);
  EXPECT_TRUE(t.is_f_contig());
  const int axes[2] = {1, 0};
  EXPECT_EQ(a.permute(axes).layout(), t.layout());
  AnyView ro = a.AsReadOnly();
  EXPECT_TRUE(ro.readonly());
  EXPECT_EQ(ro.data(), a.data());
  EXPECT_EQ(MessageOf([&] { (void)a.slice(ParseIndex("3")); }), "Index out of bounds (axis 0)");
}

TEST(AnyViewTest, CopyInBothOrders) {
  AnyView a = AnyView::Allocate(Format::Parse("h"), {3, 5}, Order::kC);
  View<short, 2> v = a.as<short, 2>();
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 5; ++j) v(i, j) = static_cast<short>(i * 10 + j);
  AnyView s = a.slice(ParseIndex("::-1, 1::2"));
  for (Order order : {Order::kC, Order::kF}) {
    AnyView c = s.AsReadOnly().copy(order);
    EXPECT_FALSE(c.readonly());
    EXPECT_NE(c.data(), a.data());
    EXPECT_EQ(c.layout().shape, (std::vector<int64_t>{3, 2}));
    EXPECT_TRUE(order == Order::kC ? c.is_c_contig() : c.is_f_contig());
    View<short, 2> cv = c.as<short, 2>();
    EXPECT_EQ(cv(0, 0), 21);
    EXPECT_EQ(cv(2, 1), 3);
  }
}

TEST(AnyViewTest, CopyIntoChecksAndMessages) {
  AnyView d = AnyView::Allocate(Format::Parse("i"), {2, 3}, Order::kC);
  AnyView s = AnyView::Allocate(Format::Parse("i"), {3, 3}, Order::kF);
  EXPECT_EQ(MessageOf([&] { CopyInto(d, s); }),
            "got differing extents in dimension 0 (got 2 and 3)");
  EXPECT_EQ(MessageOf([&] { CopyInto(d.AsReadOnly(), s); }), "buffer source array is read-only");
  EXPECT_THROW(CopyInto(d.AsReadOnly(), s), ReadOnlyError);
  AnyView dbl = AnyView::Allocate(Format::Parse("d"), {2, 3}, Order::kC);
  EXPECT_EQ(MessageOf([&] { CopyInto(d, dbl); }),
            "Buffer dtype mismatch, expected 'int32_t' but got 'double'");
  EXPECT_THROW(CopyInto(d, dbl), FormatError);
  // Equivalent spellings of one format copy fine; broadcasting from a row.
  AnyView row = AnyView::Allocate(Format::Parse("<i"), {3}, Order::kC);
  View<int, 1> rv = row.as<int, 1>();
  rv(0) = 1;
  rv(1) = 2;
  rv(2) = 3;
  CopyInto(d, row);
  EXPECT_EQ((d.as<int, 2>()(1, 2)), 3);
  CopyInto(s.slice(ParseIndex("1:")), d);
  EXPECT_EQ((s.as<int, 2>()(2, 1)), 2);
  EXPECT_EQ((s.as<int, 2>()(0, 1)), 0);
}

TEST(ArrayTest, AdoptCallsFreeExactlyOnceWhenTheLastViewGoes) {
  std::atomic<int> frees{0};
  View<double, 2> keep;
  AnyView any_keep;
  {
    auto* mem = new double[12]();
    Array a = Array::Adopt(mem, Format::Parse("d"), {3, 4}, Order::kC, [&frees](void* p) {
      frees.fetch_add(1);
      delete[] static_cast<double*>(p);
    });
    EXPECT_EQ(a.data(), reinterpret_cast<std::byte*>(mem));
    keep = a.view<double, 2>();
    any_keep = a.any().slice(ParseIndex("1"));
  }
  EXPECT_EQ(frees.load(), 0);
  keep = View<double, 2>();
  EXPECT_EQ(frees.load(), 0);
  // The last reference is dropped on another thread.
  std::thread([v = std::move(any_keep)]() mutable { v = AnyView(); }).join();
  EXPECT_EQ(frees.load(), 1);
}

TEST(ArrayTest, AdoptWithoutCallbackAndReadOnly) {
  std::vector<int> mem = {1, 2, 3, 4};
  Array a = Array::Adopt(mem.data(), Format::Parse("i"), {2, 2}, Order::kF, {}, true);
  EXPECT_EQ(a.base(), nullptr);
  EXPECT_TRUE(a.readonly());
  EXPECT_EQ(MessageOf([&] { (void)a.view<int, 2>(); }), "buffer source array is read-only");
  View<const int, 2, f_contig> v = a.view<const int, 2, f_contig>();
  EXPECT_EQ(v(1, 0), 2);
  EXPECT_EQ(MessageOf([&] {
              (void)Array::Adopt(mem.data(), Format::Parse("i"), {2, -3}, Order::kC);
            }),
            "Invalid shape in axis 1: -3.");
  int called = 0;
  EXPECT_THROW((void)Array::Adopt(mem.data(), Format::Parse("d"),
                                  Layout::Contiguous(4, std::vector<int64_t>{4}, Order::kC),
                                  [&called](void*) { ++called; }),
               ShapeError);
  EXPECT_EQ(called, 0);  // not adopted, not freed
}

TEST(ArrayTest, AllocateTypedAndAttributes) {
  Array a = Array::Allocate<float>({2, 3, 4}, Order::kF);
  EXPECT_EQ(a.ndim(), 3);
  EXPECT_EQ(a.size(), 24);
  EXPECT_EQ(a.itemsize(), 4);
  EXPECT_EQ(a.nbytes(), 96);
  EXPECT_EQ(a.strides(), (std::vector<int64_t>{4, 8, 24}));
  EXPECT_EQ(a.shape(), (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(a.format(), Format::Parse("f"));
  Array b = std::move(a);
  EXPECT_EQ(b.size(), 24);
}

}  // namespace
}  // namespace shmarray::shm
