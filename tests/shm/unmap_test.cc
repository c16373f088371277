// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: unmap_test.cc
// -----------------------------------------------------------------------------
// How mappings made by shm/segment.cc are unmapped (shm::SetUnmapStepBytes):
// one munmap by default, whatever the size, and steps of the size asked for
// when a process (the daemon) asks. A binary of its own: it counts the
// process's munmap calls by defining munmap, which forwards to the next
// definition (the sanitizers' interceptor or libc's).

#include <dlfcn.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "gtest/gtest.h"
#include "shmarray/shm/segment.h"

namespace {

using MunmapFn = int (*)(void*, size_t);

// The range being watched and how many munmap calls touched it.
std::atomic<uintptr_t> g_watch_begin{0};
std::atomic<uintptr_t> g_watch_end{0};
std::atomic<int> g_calls{0};
std::atomic<size_t> g_bytes{0};

MunmapFn NextMunmap() {
  static const MunmapFn next = reinterpret_cast<MunmapFn>(dlsym(RTLD_NEXT, "munmap"));
  return next;
}

// Resolved before main, so that no munmap made by dlsym itself recurses.
[[maybe_unused]] const MunmapFn g_resolved = NextMunmap();

}  // namespace

extern "C" int munmap(void* addr, size_t len) noexcept {
  const auto begin = reinterpret_cast<uintptr_t>(addr);
  if (begin < g_watch_end.load() && begin + len > g_watch_begin.load()) {
    g_calls.fetch_add(1);
    g_bytes.fetch_add(len);
  }
  const MunmapFn next = NextMunmap();
  if (next != nullptr) return next(addr, len);
  return static_cast<int>(syscall(SYS_munmap, addr, len));
}

namespace shmarray::shm {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

class UnmapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fd_ = memfd_create("shmarray-unmap-test", MFD_CLOEXEC);
    ASSERT_GE(fd_, 0);
    ASSERT_EQ(ftruncate(fd_, static_cast<off_t>(kSize)), 0);
  }
  void TearDown() override {
    ASSERT_TRUE(SetUnmapStepBytes(0).ok());
    if (fd_ >= 0) close(fd_);
  }

  // Maps the whole file, touches `touched` bytes of it, drops the mapping and
  // returns how many munmap calls covered it (the bytes they covered in
  // *bytes).
  int MapTouchAndDrop(size_t touched, size_t* bytes) {
    std::byte* addr = nullptr;
    absl::StatusOr<std::shared_ptr<const void>> owner =
        internal::MapSharedRange(fd_, kSize, PROT_READ | PROT_WRITE, 0, &addr);
    EXPECT_TRUE(owner.ok()) << owner.status();
    if (!owner.ok()) return -1;
    for (size_t i = 0; i < touched; i += 4096) addr[i] = std::byte{1};
    g_calls = 0;
    g_bytes = 0;
    g_watch_begin = reinterpret_cast<uintptr_t>(addr);
    g_watch_end = reinterpret_cast<uintptr_t>(addr) + kSize;
    owner->reset();
    g_watch_begin = 0;
    g_watch_end = 0;
    *bytes = g_bytes.load();
    return g_calls.load();
  }

  static constexpr size_t kSize = 64 * kMiB;
  int fd_ = -1;
};

TEST_F(UnmapTest, AMappingGoesWithOneMunmapWhateverItsSize) {
  size_t bytes = 0;
  EXPECT_EQ(MapTouchAndDrop(0, &bytes), 1);
  EXPECT_EQ(bytes, kSize);
  EXPECT_EQ(MapTouchAndDrop(kSize, &bytes), 1);
  EXPECT_EQ(bytes, kSize);
}

TEST_F(UnmapTest, AStepSetUnmapsInThatManyPieces) {
  ASSERT_TRUE(SetUnmapStepBytes(4 * kMiB).ok());
  size_t bytes = 0;
  EXPECT_EQ(MapTouchAndDrop(kSize, &bytes), 16);
  EXPECT_EQ(bytes, kSize);
  ASSERT_TRUE(SetUnmapStepBytes(0).ok());
  EXPECT_EQ(MapTouchAndDrop(kSize, &bytes), 1);
}

TEST_F(UnmapTest, AStepThatIsNotAWholeNumberOfPagesIsRefusedAndChangesNothing) {
  ASSERT_TRUE(SetUnmapStepBytes(8 * kMiB).ok());
  const absl::Status status = SetUnmapStepBytes(4 * kMiB + 1);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("not a multiple of the page size"), std::string::npos) << status;
  size_t bytes = 0;
  EXPECT_EQ(MapTouchAndDrop(0, &bytes), 8);
}

}  // namespace
}  // namespace shmarray::shm
