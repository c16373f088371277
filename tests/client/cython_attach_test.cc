// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: cython_attach_test.cc
// -----------------------------------------------------------------------------
// The Cython typed-memoryview guide's examples (quickstart sum3d with its
// documented output 351, 81, 81, 451, 1351, 451; strides of C/F/strided
// layouts; copies; transposes; contiguity; read-only views; None slices;
// partial views) over arrays attached from a real shmarrayd rather than
// local buffers. A second attach of each array proves the results live in
// the shared memory, not in a private copy.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shmarray/client/client.h"
#include "shmarray/shm/errors.h"
#include "shmarray/shm/view.h"
#include "testing/daemon.h"

namespace shmarray::client {
namespace {

using ::shmarray::shm::all;
using ::shmarray::shm::AnyView;
using ::shmarray::shm::c_contig;
using ::shmarray::shm::f_contig;
using ::shmarray::shm::newaxis;
using ::shmarray::shm::Order;
using ::shmarray::shm::Slice;
using ::shmarray::shm::View;
using ::shmarray::testing::TestDaemon;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// cpdef int sum3d(int[:, :, :] arr) nogil
int sum3d(View<const int, 3> arr) {
  int total = 0;
  const int64_t I = arr.shape(0), J = arr.shape(1), K = arr.shape(2);
  for (int64_t i = 0; i < I; ++i)
    for (int64_t j = 0; j < J; ++j)
      for (int64_t k = 0; k < K; ++k) total += arr(i, j, k);
  return total;
}

class CythonAttachTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto daemon = TestDaemon::Start();
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = *std::move(daemon);
    client_ = std::make_unique<Client>(Client::Connect({.target = daemon_->target()}));
  }
  void TearDown() override {
    if (daemon_ == nullptr) return;
    for (const ArrayInfo& info : client_->list()) {
      if (info.kind == ArrayKind::kArray) client_->remove(info.name, /*cascade=*/true);
    }
    EXPECT_THAT(daemon_->ListSegments(), IsEmpty());
  }

  std::unique_ptr<TestDaemon> daemon_;
  std::unique_ptr<Client> client_;
};

TEST_F(CythonAttachTest, QuickstartSum3dPrintsTheGuidesNumbers) {
  // narr = np.arange(27, dtype=np.dtype("i")).reshape((3, 3, 3))
  View<int, 3> narr_view = client_->create<int, 3>("narr", {3, 3, 3});
  for (int i = 0; i < 27; ++i) narr_view(i / 9, (i / 3) % 3, i % 3) = i;
  // cdef int carr[3][3][3]; cyarr = cvarray(shape=(3, 3, 3), itemsize=sizeof(int), format="i")
  View<int, 3> carr_view = client_->create<int, 3>("carr", {3, 3, 3});
  client_->create_any("cyarr", "i", std::vector<int64_t>{3, 3, 3}, Order::kC, {}, sizeof(int));
  View<int, 3> cyarr_view = client_->attach<int, 3>("cyarr");

  // NumPy sum of the NumPy array before assignments: 351
  EXPECT_EQ(sum3d(client_->attach_readonly<int, 3>("narr")), 351);

  carr_view.assign(narr_view);   // carr_view[...] = narr_view
  cyarr_view.assign(narr_view);  // cyarr_view[:] = narr_view
  narr_view.fill(3);             // narr_view[:, :, :] = 3
  carr_view(0, 0, 0) = 100;
  cyarr_view(0, 0, 0) = 1000;

  // Fresh attaches (new mappings of the same segments) see the assignments.
  EXPECT_EQ(sum3d(client_->attach_readonly<int, 3>("narr")), 81);    // NumPy sum after
  EXPECT_EQ(sum3d(client_->attach<int, 3>("narr")), 81);             // memoryview of NumPy array
  EXPECT_EQ(sum3d(client_->attach<int, 3, c_contig>("carr")), 451);  // C array
  EXPECT_EQ(sum3d(client_->attach<const int, 3>("cyarr")), 1351);    // Cython array
  EXPECT_EQ(sum3d(carr_view), 451);                                  // C memoryview
  // And the same through the wire, for a process that cannot map.
  EXPECT_EQ(sum3d(client_->read("cyarr").as<const int, 3>()), 1351);
}

TEST_F(CythonAttachTest, StridesOfCFortranAndStridedLayouts) {
  // c_contig = np.arange(24, dtype=np.int8).reshape((2,3,4)); strides (12, 4, 1)
  View<signed char, 3, c_contig> c = client_->create<signed char, 3, c_contig>("c8", {2, 3, 4});
  for (int i = 0; i < 24; ++i) c(i / 12, (i / 4) % 3, i % 4) = static_cast<signed char>(i);
  EXPECT_THAT((client_->attach<signed char, 3>("c8").strides()), ElementsAre(12, 4, 1));

  // f_contig = np.array(c_contig, order='F'); strides (1, 2, 6)
  client_->copy("c8", "", "f8", Order::kF);
  View<const signed char, 3, f_contig> f = client_->attach_readonly<signed char, 3, f_contig>("f8");
  EXPECT_THAT(f.strides(), ElementsAre(1, 2, 6));
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) EXPECT_EQ(f(i, j, k), c(i, j, k));

  // c_contig.transpose((1, 0, 2)).strides == (4, 12, 1): contiguous, neither C nor F.
  View<signed char, 3> t = client_->attach<signed char, 3>("c8").permute({1, 0, 2});
  EXPECT_THAT(t.strides(), ElementsAre(4, 12, 1));
  EXPECT_FALSE(t.is_c_contig());
  EXPECT_FALSE(t.is_f_contig());

  // sliced = c_contig[:, 1, :]; strides (12, 1), as a named view on the server too.
  const ArrayInfo sliced = client_->slice("c8", ":, 1, :", "c8_sliced");
  EXPECT_THAT(sliced.strides(), ElementsAre(12, 1));
  EXPECT_FALSE(sliced.c_contiguous);
  View<signed char, 2> s = client_->attach<signed char, 2>("c8_sliced");
  EXPECT_EQ(s(1, 3), 19);
  EXPECT_EQ(sliced.layout.offset, 4);
}

TEST_F(CythonAttachTest, ContiguityIsCheckedAtBindTime) {
  // cdef int[:, :, ::1] c_contiguous = c_contig; then = np.array(c_contig, order='F')
  client_->create_any("cc", "i", std::vector<int64_t>{2, 3, 4}, Order::kC);
  client_->create_any("ff", "i", std::vector<int64_t>{2, 3, 4}, Order::kF);
  EXPECT_NO_THROW((client_->attach<int, 3, c_contig>("cc")));
  try {
    client_->attach<int, 3, c_contig>("ff");
    FAIL() << "bound a Fortran array to int[:, :, ::1]";
  } catch (const shm::ShapeError& e) {
    EXPECT_STREQ(e.what(), "buffer is not C-contiguous");
  }
  EXPECT_NO_THROW((client_->attach<int, 3, f_contig>("ff")));  // int[::1, :, :]
  // A strided named view binds only to a strided view.
  client_->slice("cc", "::2, :, ::2", "cc_step");
  EXPECT_THROW((client_->attach<int, 3, c_contig>("cc_step")), shm::ShapeError);
  EXPECT_NO_THROW((client_->attach<int, 3>("cc_step")));
}

TEST_F(CythonAttachTest, CopiesAreNewContiguousArraysNotSharedMemory) {
  View<int, 2> a = client_->create<int, 2>("cp", {3, 4});
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j) a(i, j) = 10 * i + j;
  View<int, 2> myview =
      client_->attach<int, 2>("cp").slice(all, Slice{std::nullopt, std::nullopt, 2});
  // cdef int[:, ::1] c_contiguous = myview.copy()
  View<int, 2, c_contig> cc = myview.copy();
  // cdef int[::1, :] f_contiguous_slice = myview.copy_fortran()
  View<int, 2, f_contig> ff = myview.copy_fortran();
  EXPECT_THAT(cc.strides(), ElementsAre(8, 4));
  EXPECT_THAT(ff.strides(), ElementsAre(4, 12));
  EXPECT_EQ(cc(2, 1), 22);
  EXPECT_EQ(ff(2, 1), 22);
  a(2, 2) = -1;  // the copies do not follow the shared array
  EXPECT_EQ(cc(2, 1), 22);
  EXPECT_EQ(myview(2, 1), -1);  // the view does
}

TEST_F(CythonAttachTest, TransposeIsAViewOfTheSharedMemory) {
  // cdef int[:, ::1] c_contig = ...; cdef int[::1, :] f_contig = c_contig.T
  View<int, 2, c_contig> c = client_->create<int, 2, c_contig>("tr", {2, 5});
  View<int, 2, f_contig> f = c.T();
  EXPECT_THAT(f.shape(), ElementsAre(5, 2));
  EXPECT_THAT(f.strides(), ElementsAre(4, 20));
  f(4, 1) = 77;
  EXPECT_EQ((client_->attach_readonly<int, 2>("tr")(1, 4)), 77);
  EXPECT_EQ(static_cast<const void*>(&f(4, 1)), static_cast<const void*>(&c(1, 4)));
}

TEST_F(CythonAttachTest, ReadOnlyViews) {
  // a = np.linspace(0, 10, num=50); cdef const double[:] myslice = a
  View<double, 1> a = client_->create<double, 1>("lin", {50});
  for (int i = 0; i < 50; ++i) a(i) = 10.0 * i / 49;
  View<const double, 1> myslice = client_->attach_readonly<double, 1>("lin");
  EXPECT_EQ(myslice(49), 10.0);
  View<const double, 1> converted = a;  // a writable view converts implicitly
  EXPECT_EQ(converted(0), 0.0);
  // A read-only buffer is not accepted by a writable view.
  client_->seal("lin");
  try {
    client_->attach<double, 1>("lin");
    FAIL() << "bound a sealed array to double[:]";
  } catch (const shm::ReadOnlyError& e) {
    EXPECT_STREQ(e.what(), "buffer source array is read-only");
  }
  EXPECT_EQ((client_->attach<const double, 1>("lin")(49)), 10.0);
}

TEST_F(CythonAttachTest, NoneSlicesAddAxes) {
  client_->create_any("ls", "d", std::vector<int64_t>{50});
  View<double, 1> myslice = client_->attach<double, 1>("ls");
  // myslice[None] / myslice[None, :] -> (1, 50); myslice[:, None] -> (50, 1)
  EXPECT_THAT(myslice.slice(newaxis).shape(), ElementsAre(1, 50));
  EXPECT_THAT((myslice.slice<2>("None, :").shape()), ElementsAre(1, 50));
  EXPECT_THAT(myslice.slice(all, newaxis).shape(), ElementsAre(50, 1));
  EXPECT_THAT(client_->slice("ls", "None").shape(), ElementsAre(1, 50));
  client_->slice("ls", ":, None", "ls_col");
  View<double, 2> col = client_->attach<double, 2>("ls_col");
  EXPECT_THAT(col.shape(), ElementsAre(50, 1));
  col(7, 0) = 3.5;
  EXPECT_EQ(myslice(7), 3.5);
}

TEST_F(CythonAttachTest, PartialViewOfEveryOtherRow) {
  // cdef int[1:102:2, :] partial_view = exporting_object
  View<int, 2> full = client_->create<int, 2>("rows", {205, 3});
  for (int i = 0; i < 205; ++i) full(i, 0) = i;
  const ArrayInfo info = client_->slice("rows", "1:102:2, :", "partial");
  EXPECT_THAT(info.shape(), ElementsAre(51, 3));
  View<int, 2> partial_view = client_->attach<int, 2>("partial");
  EXPECT_EQ(partial_view.shape(0), 51);
  for (int i = 0; i < 51; ++i) EXPECT_EQ(partial_view(i, 0), 1 + 2 * i);
}

TEST_F(CythonAttachTest, MultiplyBy10NeedsAContiguousCopy) {
  // b = np.ones(10)[::2]: not contiguous, so double[::1] rejects it; a copy works.
  View<double, 1> ones = client_->create<double, 1>("ones", {10}, Order::kC, 1.0);
  client_->slice("ones", "::2", "b");
  EXPECT_THROW((client_->attach<double, 1, c_contig>("b")), shm::ShapeError);
  client_->copy("b", "", "b_contig");
  View<double, 1, c_contig> arr_memview = client_->attach<double, 1, c_contig>("b_contig");
  double* arr = &arr_memview(0);  // multiply_by_10_in_C(&arr_memview[0], shape[0])
  for (int64_t i = 0; i < arr_memview.shape(0); ++i) arr[i] *= 10;
  AnyView result = client_->read("b_contig");
  View<const double, 1> r = result.as<const double, 1>();
  ASSERT_EQ(r.shape(0), 5);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(r(i), 10.0);
  EXPECT_EQ(ones(2), 1.0);  // the original is untouched
}

}  // namespace
}  // namespace shmarray::client
