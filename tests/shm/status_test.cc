// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0

#include "shmarray/shm/status.h"

#include <gtest/gtest.h>

#include <new>
#include <stdexcept>

#include "shmarray/shm/errors.h"

namespace shmarray::shm {
namespace {

template <typename E>
absl::Status StatusOf(E e) {
  try {
    throw e;
  } catch (...) {
    return StatusFromCurrentException();
  }
}

TEST(StatusTest, MapsLibraryExceptionsToCodes) {
  EXPECT_EQ(StatusOf(IndexError("Index out of bounds (axis 0)")),
            absl::OutOfRangeError("Index out of bounds (axis 0)"));
  EXPECT_EQ(StatusOf(FormatError("bad")).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusOf(ShapeError("bad")).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusOf(IndexExprError("bad")).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusOf(ReadOnlyError("buffer source array is read-only")),
            absl::FailedPreconditionError("buffer source array is read-only"));
  EXPECT_EQ(StatusOf(std::bad_alloc()).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(StatusOf(std::runtime_error("x")).code(), absl::StatusCode::kInternal);
  EXPECT_EQ(StatusOf(42).code(), absl::StatusCode::kInternal);
}

absl::StatusOr<int> Half(int x) {
  if (x % 2 != 0) return absl::InvalidArgumentError("odd");
  return x / 2;
}

absl::StatusOr<int> Quarter(int x) {
  SHMARRAY_ASSIGN_OR_RETURN(int h, Half(x));
  SHMARRAY_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

absl::Status CheckEven(int x) {
  SHMARRAY_RETURN_IF_ERROR(Half(x).status());
  return absl::OkStatus();
}

TEST(StatusTest, MacrosPropagateErrors) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckEven(2).ok());
  EXPECT_FALSE(CheckEven(3).ok());
}

}  // namespace
}  // namespace shmarray::shm
