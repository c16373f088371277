// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: copy_plan_test.cc
// -----------------------------------------------------------------------------
// Tests for the private copy planner (shm/src/copy_internal.h, copy_plan.cc)
// and the SSE2 transposition (transpose_sse2.cc): which plan a copy gets.
// copy_test.cc checks the bytes every kernel writes.

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <numeric>
#include <vector>

#include "copy_internal.h"
#include "shmarray/shm/errors.h"

namespace shmarray::shm::internal {
namespace {

TEST(MakePlanTest, SameOrderContiguousMergesIntoOneRun) {
  std::vector<std::byte> a(2 * 3 * 4 * 8), b(a.size());
  const int64_t shape[] = {2, 3, 4};
  const int64_t strides[] = {96, 32, 8};
  std::byte* dst = a.data();
  const std::byte* src = b.data();
  Plan p;
  ASSERT_TRUE(MakePlan(3, shape, strides, strides, 8, &dst, &src, &p));
  ASSERT_EQ(p.nd, 1);
  EXPECT_EQ(p.d[0].n, 24);
  EXPECT_EQ(p.d[0].ds, 8);
  EXPECT_EQ(p.d[0].ss, 8);
}

TEST(MakePlanTest, ExtentOneAxesDropAndEmptyCopiesNothing) {
  std::vector<std::byte> a(64), b(64);
  std::byte* dst = a.data();
  const std::byte* src = b.data();
  Plan p;
  const int64_t one[] = {1, 4, 1};
  const int64_t st[] = {1000, 8, -77};
  ASSERT_TRUE(MakePlan(3, one, st, st, 8, &dst, &src, &p));
  EXPECT_EQ(p.nd, 1);
  const int64_t empty[] = {3, 0};
  const int64_t st2[] = {8, 8};
  EXPECT_FALSE(MakePlan(2, empty, st2, st2, 8, &dst, &src, &p));
}

TEST(MakePlanTest, NegativeDestinationStrideIsFlipped) {
  std::vector<std::byte> a(32), b(32);
  std::byte* dst = a.data() + 24;  // item 0 of a reversed 1-D view
  const std::byte* src = b.data();
  const int64_t shape[] = {4};
  const int64_t ds[] = {-8};
  const int64_t ss[] = {8};
  Plan p;
  ASSERT_TRUE(MakePlan(1, shape, ds, ss, 8, &dst, &src, &p));
  ASSERT_EQ(p.nd, 1);
  EXPECT_EQ(p.d[0].ds, 8);
  EXPECT_EQ(p.d[0].ss, -8);
  EXPECT_EQ(dst, a.data());
  EXPECT_EQ(src, b.data() + 24);
}

TEST(MakePlanTest, TooManyAxesIsShapeError) {
  EXPECT_THROW(CheckRank(kMaxDims + 1), ShapeError);
  EXPECT_NO_THROW(CheckRank(kMaxDims));
}

// A C-ordered source into an F-ordered destination: the transposition
// applies for itemsizes 1/2/4/8/16 and extents >= 16, and transposes.
TEST(TryTransposeTest, TakesCToFOfSupportedItemsizes) {
  constexpr int64_t n = 16, m = 20;
  std::vector<double> src(n * m), dst(n * m, -1);
  std::iota(src.begin(), src.end(), 0.0);
  const int64_t shape[] = {n, m};
  const int64_t ss[] = {m * 8, 8};  // C
  const int64_t ds[] = {8, n * 8};  // F
  std::byte* d = reinterpret_cast<std::byte*>(dst.data());
  const std::byte* s = reinterpret_cast<const std::byte*>(src.data());
  Plan p;
  ASSERT_TRUE(MakePlan(2, shape, ds, ss, 8, &d, &s, &p));
  ASSERT_TRUE(TryTranspose(p, d, s));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < m; ++j) ASSERT_EQ(dst[i + j * n], src[i * m + j]) << i << "," << j;
  }
}

TEST(TryTransposeTest, DeclinesOddItemsizesAndSmallExtents) {
  std::vector<std::byte> a(16 * 16 * 3), b(a.size());
  {
    const int64_t shape[] = {16, 16};
    const int64_t ss[] = {48, 3};
    const int64_t ds[] = {3, 48};
    std::byte* d = a.data();
    const std::byte* s = b.data();
    Plan p;
    ASSERT_TRUE(MakePlan(2, shape, ds, ss, 3, &d, &s, &p));
    EXPECT_FALSE(TryTranspose(p, d, s));
  }
  {
    const int64_t shape[] = {4, 16};
    const int64_t ss[] = {128, 8};
    const int64_t ds[] = {8, 32};
    std::byte* d = a.data();
    const std::byte* s = b.data();
    Plan p;
    ASSERT_TRUE(MakePlan(2, shape, ds, ss, 8, &d, &s, &p));
    EXPECT_FALSE(TryTranspose(p, d, s));
  }
}

}  // namespace
}  // namespace shmarray::shm::internal
