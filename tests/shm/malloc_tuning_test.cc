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

// Under AddressSanitizer or ThreadSanitizer malloc is the sanitizer's own
// allocator: glibc's settings do not apply there.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitizerAllocator = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kSanitizerAllocator = true;
#else
constexpr bool kSanitizerAllocator = false;
#endif
#else
constexpr bool kSanitizerAllocator = false;
#endif

TEST(MallocTuningTest, LargeBuffersComeFromTheHeapOnceTuned) {
  if (kSanitizerAllocator) GTEST_SKIP() << "a sanitizer's allocator replaces glibc malloc";
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
