// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: malloc_tuning_test.cc
// -----------------------------------------------------------------------------
// Tests for shm/malloc_tuning: once tuned, a buffer of the size gRPC reads
// into comes from the heap, not from a fresh mmap.

#include "shmarray/shm/malloc_tuning.h"

#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdlib>
#include <cstring>

namespace shmarray::shm {
namespace {

TEST(MallocTuningTest, LargeBuffersComeFromTheHeapOnceTuned) {
  ASSERT_TRUE(TuneMallocForStreaming());
  EXPECT_TRUE(TuneMallocForStreaming());  // idempotent
  const size_t mmapped_before = mallinfo2().hblks;
  // 8 MiB is far above glibc's default 128 KiB threshold.
  void* buffer = std::malloc(size_t{8} << 20);
  ASSERT_NE(buffer, nullptr);
  std::memset(buffer, 1, size_t{8} << 20);
  EXPECT_EQ(mallinfo2().hblks, mmapped_before) << "an 8 MiB buffer was mmapped";
  std::free(buffer);
}

}  // namespace
}  // namespace shmarray::shm
