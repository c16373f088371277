// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: segment_test.cc
// -----------------------------------------------------------------------------
// Tests of shm/segment.cc against real POSIX shared memory. Every test uses
// its own prefix "shmarray-test.<pid>.<n>", removes what it creates, and the
// fixture asserts that /dev/shm holds nothing with that prefix afterwards.

#include "shmarray/shm/segment.h"

#include <dirent.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace shmarray::shm {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::atomic<int> g_test_counter{0};

// Names of /dev/shm entries starting with `prefix`, read independently of
// Segment::List.
std::vector<std::string> ShmEntriesWithPrefix(const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm")) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) == 0) out.push_back(name);
  }
  return out;
}

SegmentMeta ArrayMeta(uint64_t generation, std::string name, std::vector<int64_t> shape,
                      int64_t itemsize = 8) {
  SegmentMeta meta;
  meta.kind = SegmentKind::kArray;
  meta.generation = generation;
  meta.name = std::move(name);
  meta.format = itemsize == 8 ? "d" : "B";
  meta.layout.itemsize = itemsize;
  meta.layout.shape = shape;
  // C-order strides, computed here so the test does not depend on layout.cc.
  meta.layout.strides.assign(shape.size(), 0);
  int64_t stride = itemsize;
  for (size_t i = shape.size(); i-- > 0;) {
    meta.layout.strides[i] = stride;
    stride *= shape[i];
  }
  meta.data_size_bytes = stride;
  meta.created_unix_ns = 1700000000123456789;
  return meta;
}

void ExpectMetaEq(const SegmentMeta& got, const SegmentMeta& want) {
  EXPECT_EQ(got.kind, want.kind);
  EXPECT_EQ(got.generation, want.generation);
  EXPECT_EQ(got.name, want.name);
  EXPECT_EQ(got.format, want.format);
  EXPECT_EQ(got.layout.itemsize, want.layout.itemsize);
  EXPECT_EQ(got.layout.shape, want.layout.shape);
  EXPECT_EQ(got.layout.strides, want.layout.strides);
  EXPECT_EQ(got.layout.offset, want.layout.offset);
  EXPECT_EQ(got.readonly, want.readonly);
  EXPECT_EQ(got.data_size_bytes, want.data_size_bytes);
  EXPECT_EQ(got.base_generation, want.base_generation);
  EXPECT_EQ(got.base_name, want.base_name);
  EXPECT_EQ(got.created_unix_ns, want.created_unix_ns);
  EXPECT_EQ(got.state, want.state);
}

// The permission string ("rw-s") of the /proc/self/maps line holding `addr`.
std::string MapsPermissions(const void* addr) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  const auto a = reinterpret_cast<uintptr_t>(addr);
  while (std::getline(maps, line)) {
    uintptr_t lo = 0;
    uintptr_t hi = 0;
    char perms[8] = {};
    if (std::sscanf(line.c_str(), "%lx-%lx %7s", &lo, &hi, perms) == 3 && a >= lo && a < hi) {
      return perms;
    }
  }
  return "";
}

// Writes `bytes` at `offset` of /dev/shm/<name> through the file system.
void PwriteShm(const std::string& os_name, const void* bytes, size_t n, off_t offset) {
  const int fd = open(("/dev/shm/" + os_name).c_str(), O_RDWR);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  ASSERT_EQ(pwrite(fd, bytes, n, offset), static_cast<ssize_t>(n));
  close(fd);
}

internal::SegmentHeader PreadHeader(const std::string& os_name) {
  internal::SegmentHeader h{};
  const int fd = open(("/dev/shm/" + os_name).c_str(), O_RDONLY);
  EXPECT_GE(fd, 0);
  if (fd >= 0) {
    EXPECT_EQ(pread(fd, &h, sizeof(h), 0), static_cast<ssize_t>(sizeof(h)));
    close(fd);
  }
  return h;
}

class SegmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    prefix_ = "shmarray-test." + std::to_string(getpid()) + "." +
              std::to_string(g_test_counter.fetch_add(1));
    ASSERT_THAT(ShmEntriesWithPrefix(prefix_), IsEmpty());
  }
  void TearDown() override {
    const std::vector<std::string> left = ShmEntriesWithPrefix(prefix_);
    EXPECT_THAT(left, IsEmpty()) << "the test left objects in /dev/shm";
    for (const std::string& name : left) shm_unlink(("/" + name).c_str());
  }
  // prefix.<generation in hex>, as the daemon names segments.
  std::string OsName(uint64_t generation) const {
    std::ostringstream out;
    out << prefix_ << "." << std::hex << generation;
    return out.str();
  }

  std::string prefix_;
};

TEST_F(SegmentTest, CreateCommitOpenRoundTripsEveryField) {
  SegmentMeta meta = ArrayMeta(0x1f, "temperature", {3, 4});
  meta.layout.offset = 0;
  const std::string os = OsName(0x1f);
  {
    absl::StatusOr<Segment> seg = Segment::Create(os, meta, 0600);
    ASSERT_TRUE(seg.ok()) << seg.status();
    EXPECT_EQ(seg->os_name(), os);
    EXPECT_TRUE(seg->writable());
    EXPECT_EQ(seg->data_size_bytes(), 96);
    ASSERT_NE(seg->data(), nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(seg->data()) % 4096, 0u);
    EXPECT_EQ(seg->meta().state, SegmentState::kCreating);
    ExpectMetaEq(seg->meta(), meta);
    for (int i = 0; i < 96; ++i) EXPECT_EQ(seg->data()[i], std::byte{0}) << i;
    for (int i = 0; i < 96; ++i) seg->data()[i] = static_cast<std::byte>(i * 7);
    ASSERT_TRUE(seg->Commit().ok());
    EXPECT_EQ(seg->meta().state, SegmentState::kCommitted);
  }
  struct stat st {};
  ASSERT_EQ(stat(("/dev/shm/" + os).c_str(), &st), 0);
  EXPECT_EQ(st.st_size, kDataOffset + 96);

  absl::StatusOr<Segment> ro = Segment::Open(os, Segment::Access::kReadOnly);
  ASSERT_TRUE(ro.ok()) << ro.status();
  SegmentMeta want = meta;
  want.state = SegmentState::kCommitted;
  ExpectMetaEq(ro->meta(), want);
  EXPECT_FALSE(ro->writable());
  for (int i = 0; i < 96; ++i) EXPECT_EQ(ro->data()[i], static_cast<std::byte>(i * 7)) << i;

  // The header on the object carries the documented magic and a valid checksum.
  internal::SegmentHeader h = PreadHeader(os);
  EXPECT_EQ(std::string(h.magic, 8), "SHMARRAY");
  EXPECT_EQ(h.version, internal::kSegmentVersion);
  EXPECT_EQ(h.checksum, internal::SegmentHeaderChecksum(h));
  ASSERT_TRUE(Segment::Unlink(os).ok());
}

TEST_F(SegmentTest, ViewSegmentRoundTripsBaseFields) {
  SegmentMeta meta;
  meta.kind = SegmentKind::kView;
  meta.generation = 0x20;
  meta.name = "temperature_T";
  meta.format = "<d";
  meta.layout.itemsize = 8;
  meta.layout.shape = {4, 3};
  meta.layout.strides = {-8, 32};  // reversed first axis: starts at byte 24
  meta.layout.offset = 24;
  meta.readonly = true;
  meta.data_size_bytes = 0;
  meta.base_generation = 0x1f;
  meta.base_name = "temperature";
  meta.created_unix_ns = 42;
  const std::string os = OsName(0x20);
  {
    absl::StatusOr<Segment> seg = Segment::Create(os, meta, 0600);
    ASSERT_TRUE(seg.ok()) << seg.status();
    EXPECT_EQ(seg->data(), nullptr);
    ASSERT_TRUE(seg->Commit().ok());
  }
  absl::StatusOr<Segment> ro = Segment::Open(os, Segment::Access::kReadOnly);
  ASSERT_TRUE(ro.ok()) << ro.status();
  meta.state = SegmentState::kCommitted;
  ExpectMetaEq(ro->meta(), meta);
  EXPECT_EQ(ro->data(), nullptr);
  ASSERT_TRUE(Segment::Unlink(os).ok());
}

TEST_F(SegmentTest, CreateFillsCreationTimeWhenZero) {
  SegmentMeta meta = ArrayMeta(1, "t", {2});
  meta.created_unix_ns = 0;
  absl::StatusOr<Segment> seg = Segment::Create(OsName(1), meta, 0600);
  ASSERT_TRUE(seg.ok()) << seg.status();
  EXPECT_GT(seg->meta().created_unix_ns, int64_t{1600000000} * 1000000000);
  ASSERT_TRUE(Segment::Unlink(OsName(1)).ok());
}

TEST_F(SegmentTest, ReadOnlyOpenMapsProtRead) {
  const std::string os = OsName(2);
  {
    absl::StatusOr<Segment> seg = Segment::Create(os, ArrayMeta(2, "a", {1024}), 0600);
    ASSERT_TRUE(seg.ok()) << seg.status();
    EXPECT_EQ(MapsPermissions(seg->data()), "rw-s");
    ASSERT_TRUE(seg->Commit().ok());
  }
  absl::StatusOr<Segment> ro = Segment::Open(os, Segment::Access::kReadOnly);
  ASSERT_TRUE(ro.ok()) << ro.status();
  EXPECT_FALSE(ro->writable());
  EXPECT_EQ(MapsPermissions(ro->data()), "r--s");
  EXPECT_EQ(ro->Commit().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ro->Seal().code(), absl::StatusCode::kFailedPrecondition);

  absl::StatusOr<Segment> rw = Segment::Open(os, Segment::Access::kReadWrite);
  ASSERT_TRUE(rw.ok()) << rw.status();
  EXPECT_TRUE(rw->writable());
  EXPECT_EQ(MapsPermissions(rw->data()), "rw-s");

  std::byte* data = nullptr;
  absl::StatusOr<std::shared_ptr<const void>> region =
      MapDataRegion(os, Segment::Access::kReadOnly, 2, 8192, &data);
  ASSERT_TRUE(region.ok()) << region.status();
  EXPECT_EQ(MapsPermissions(data), "r--s");
  ASSERT_TRUE(Segment::Unlink(os).ok());
}

TEST_F(SegmentTest, CreateTwiceIsAlreadyExistsAndKeepsTheFirst) {
  const std::string os = OsName(3);
  absl::StatusOr<Segment> first = Segment::Create(os, ArrayMeta(3, "first", {4}), 0600);
  ASSERT_TRUE(first.ok()) << first.status();
  first->data()[0] = std::byte{0x5a};
  absl::StatusOr<Segment> second = Segment::Create(os, ArrayMeta(3, "second", {8}), 0600);
  ASSERT_EQ(second.status().code(), absl::StatusCode::kAlreadyExists) << second.status();
  EXPECT_THAT(std::string(second.status().message()), HasSubstr(os));
  absl::StatusOr<Segment> again = Segment::Open(os, Segment::Access::kReadOnly);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->meta().name, "first");
  EXPECT_EQ(again->data()[0], std::byte{0x5a});
  ASSERT_TRUE(Segment::Unlink(os).ok());
}

TEST_F(SegmentTest, MissingObjectIsNotFound) {
  const std::string os = OsName(4);
  absl::StatusOr<Segment> seg = Segment::Open(os, Segment::Access::kReadOnly);
  EXPECT_EQ(seg.status().code(), absl::StatusCode::kNotFound) << seg.status();
  EXPECT_THAT(std::string(seg.status().message()), HasSubstr(os));
  EXPECT_EQ(Segment::Unlink(os).code(), absl::StatusCode::kNotFound);
  std::byte* data = reinterpret_cast<std::byte*>(1);
  EXPECT_EQ(MapDataRegion(os, Segment::Access::kReadOnly, 4, 0, &data).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(data, nullptr);
}

TEST_F(SegmentTest, BadNamesAndMetaAreInvalidArgument) {
  const SegmentMeta meta = ArrayMeta(5, "a", {4});
  for (const char* bad : {"", ".", "..", "a/b/c", "/abs", "a/", "/", "a//b", "../x", "a/..",
                          "sp ace", "x\n", "a/sp ace"}) {
    EXPECT_EQ(Segment::Create(bad, meta, 0600).status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
    EXPECT_EQ(Segment::Open(bad, Segment::Access::kReadOnly).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
    EXPECT_EQ(Segment::Unlink(bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  const std::string os = OsName(5);
  SegmentMeta long_name = meta;
  long_name.name.assign(kMaxNameLength + 1, 'n');
  EXPECT_EQ(Segment::Create(os, long_name, 0600).status().code(),
            absl::StatusCode::kInvalidArgument);
  SegmentMeta long_format = meta;
  long_format.format.assign(kMaxStoredFormatLength + 1, 'd');
  EXPECT_EQ(Segment::Create(os, long_format, 0600).status().code(),
            absl::StatusCode::kInvalidArgument);
  SegmentMeta too_many_dims = ArrayMeta(5, "a", std::vector<int64_t>(kMaxDims + 1, 1));
  EXPECT_EQ(Segment::Create(os, too_many_dims, 0600).status().code(),
            absl::StatusCode::kInvalidArgument);
  SegmentMeta mismatched = meta;
  mismatched.layout.strides.push_back(8);
  EXPECT_EQ(Segment::Create(os, mismatched, 0600).status().code(),
            absl::StatusCode::kInvalidArgument);
  SegmentMeta outside = meta;
  outside.data_size_bytes = 24;  // the layout needs 32
  absl::Status st = Segment::Create(os, outside, 0600).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  SegmentMeta negative = meta;
  negative.data_size_bytes = -1;
  EXPECT_EQ(Segment::Create(os, negative, 0600).status().code(),
            absl::StatusCode::kInvalidArgument);
  SegmentMeta max_dims = ArrayMeta(5, "a", std::vector<int64_t>(kMaxDims, 1));
  absl::StatusOr<Segment> ok = Segment::Create(os, max_dims, 0600);
  ASSERT_TRUE(ok.ok()) << ok.status();
  ASSERT_TRUE(Segment::Unlink(os).ok());
}

TEST_F(SegmentTest, ModeBitsAreExactDespiteUmask) {
  const mode_t old_umask = umask(077);
  for (mode_t mode : {mode_t{0600}, mode_t{0660}, mode_t{0644}, mode_t{0400}}) {
    const std::string os = OsName(0x60 + mode);
    absl::StatusOr<Segment> seg = Segment::Create(os, ArrayMeta(6, "m", {2}), mode);
    ASSERT_TRUE(seg.ok()) << seg.status();
    struct stat st {};
    ASSERT_EQ(stat(("/dev/shm/" + os).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, mode) << std::oct << mode;
    // The creating handle is writable whatever the mode.
    seg->data()[0] = std::byte{1};
    ASSERT_TRUE(Segment::Unlink(os).ok());
  }
  umask(old_umask);
}

// Runs `fn` in a child process as user nobody (when root) and returns its
// exit status.
template <typename Fn>
int RunInChild(Fn fn, bool as_nobody) {
  const pid_t pid = fork();
  if (pid == 0) {
    if (as_nobody && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(90);
    _exit(fn());
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -2;
}

TEST_F(SegmentTest, SealDropsWriteBitsAndSetsTheHeaderFlag) {
  const std::string os = OsName(7);
  const std::string path = "/dev/shm/" + os;
  absl::StatusOr<Segment> seg = Segment::Create(os, ArrayMeta(7, "s", {4}), 0666);
  ASSERT_TRUE(seg.ok()) << seg.status();
  ASSERT_TRUE(seg->Commit().ok());
  ASSERT_TRUE(seg->Seal().ok());
  EXPECT_TRUE(seg->meta().readonly);
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0444u);
  ASSERT_TRUE(seg->Seal().ok());  // idempotent

  // The existing writable mapping stays writable.
  seg->data()[0] = std::byte{9};

  absl::StatusOr<Segment> ro = Segment::Open(os, Segment::Access::kReadOnly);
  ASSERT_TRUE(ro.ok()) << ro.status();
  EXPECT_TRUE(ro->meta().readonly);
  EXPECT_EQ(ro->meta().state, SegmentState::kCommitted);
  EXPECT_EQ(ro->data()[0], std::byte{9});

  // A non-root user can no longer open it for writing, but can read it.
  const bool root = geteuid() == 0;
  const int rc = RunInChild(
      [&]() -> int {
        absl::StatusOr<Segment> w = Segment::Open(os, Segment::Access::kReadWrite);
        if (w.status().code() != absl::StatusCode::kPermissionDenied) return 1;
        const int fd = shm_open(("/" + os).c_str(), O_RDWR, 0);
        if (fd >= 0 || errno != EACCES) return 2;
        absl::StatusOr<Segment> r = Segment::Open(os, Segment::Access::kReadOnly);
        if (!r.ok() || r->data()[0] != std::byte{9}) return 3;
        return 0;
      },
      root);
  EXPECT_EQ(rc, 0);
  ASSERT_TRUE(Segment::Unlink(os).ok());
}

TEST_F(SegmentTest, SealRefusesAnObjectThatReusedTheName) {
  const std::string os = OsName(8);
  absl::StatusOr<Segment> old_seg = Segment::Create(os, ArrayMeta(8, "old", {4}), 0600);
  ASSERT_TRUE(old_seg.ok()) << old_seg.status();
  ASSERT_TRUE(Segment::Unlink(os).ok());
  EXPECT_EQ(old_seg->Seal().code(), absl::StatusCode::kNotFound);
  absl::StatusOr<Segment> new_seg = Segment::Create(os, ArrayMeta(8, "new", {4}), 0600);
  ASSERT_TRUE(new_seg.ok()) << new_seg.status();
  EXPECT_EQ(old_seg->Seal().code(), absl::StatusCode::kNotFound);
  struct stat st {};
  ASSERT_EQ(stat(("/dev/shm/" + os).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_TRUE(Segment::Unlink(os).ok());
}

TEST_F(SegmentTest, ListNamesTheFilesOfADirectorySorted) {
  const std::string dir = prefix_ + ".d";
  ASSERT_TRUE(Segment::PrepareDirectory(dir, std::nullopt).ok());
  std::vector<std::string> created;
  for (const char* leaf : {"2", "10", "1", "a.b"}) {
    const std::string os = dir + "/" + std::string(leaf);
    absl::StatusOr<Segment> seg = Segment::Create(os, ArrayMeta(1, "l", {1}), 0600);
    ASSERT_TRUE(seg.ok()) << seg.status();
    created.push_back(os);
  }
  absl::StatusOr<std::vector<std::string>> all = Segment::List(dir);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_THAT(*all, ElementsAre(dir + "/1", dir + "/10", dir + "/2", dir + "/a.b"));
  absl::StatusOr<std::vector<std::string>> none = Segment::List(prefix_ + ".nothing");
  ASSERT_TRUE(none.ok());
  EXPECT_THAT(*none, IsEmpty());
  EXPECT_EQ(Segment::List("a/b").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Segment::List("..").status().code(), absl::StatusCode::kInvalidArgument);
  for (const std::string& os : created) ASSERT_TRUE(Segment::Unlink(os).ok()) << os;
  absl::StatusOr<std::vector<std::string>> after = Segment::List(dir);
  ASSERT_TRUE(after.ok());
  EXPECT_THAT(*after, IsEmpty());
  ASSERT_EQ(rmdir(("/dev/shm/" + dir).c_str()), 0);
}

TEST_F(SegmentTest, HalfCreatedSegmentOpensWithStateCreating) {
  const std::string os = OsName(9);
  {
    absl::StatusOr<Segment> seg = Segment::Create(os, ArrayMeta(9, "half", {16}), 0600);
    ASSERT_TRUE(seg.ok()) << seg.status();
    // Dropped without Commit, as if the daemon had crashed.
  }
  absl::StatusOr<Segment> seg = Segment::Open(os, Segment::Access::kReadOnly);
  ASSERT_TRUE(seg.ok()) << seg.status();
  EXPECT_EQ(seg->meta().state, SegmentState::kCreating);
  std::byte* data = nullptr;
  absl::Status st = MapDataRegion(os, Segment::Access::kReadOnly, 9, 128, &data).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  EXPECT_EQ(st.message(), "array 'half' is not committed yet");
  ASSERT_TRUE(Segment::Unlink(os).ok());
}

TEST_F(SegmentTest, ChecksumCorruptionIsDataLoss) {
  const std::string os = OsName(10);
  {
    absl::StatusOr<Segment> seg = Segment::Create(os, ArrayMeta(10, "name", {4}), 0600);
    ASSERT_TRUE(seg.ok()) << seg.status();
    ASSERT_TRUE(seg->Commit().ok());
  }
  // Flip one byte of the stored user name.
  const off_t at = offsetof(internal::SegmentHeader, name) + 1;
  const char x = 'X';
  PwriteShm(os, &x, 1, at);
  absl::Status st = Segment::Open(os, Segment::Access::kReadOnly).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr("checksum"));
  EXPECT_THAT(std::string(st.message()), HasSubstr(os));
  std::byte* data = nullptr;
  EXPECT_EQ(MapDataRegion(os, Segment::Access::kReadOnly, 10, 32, &data).status().code(),
            absl::StatusCode::kDataLoss);
  ASSERT_TRUE(Segment::Unlink(os).ok());
}

TEST_F(SegmentTest, TruncatedObjectsAreDataLoss) {
  const std::string os = OsName(11);
  const std::string path = "/dev/shm/" + os;
  {
    absl::StatusOr<Segment> seg = Segment::Create(os, ArrayMeta(11, "t", {1024}), 0600);
    ASSERT_TRUE(seg.ok()) << seg.status();
    ASSERT_TRUE(seg->Commit().ok());
  }
  for (off_t size : {off_t{kDataOffset + 8191}, off_t{kDataOffset + 8193}, off_t{kDataOffset},
                     off_t{100}, off_t{0}}) {
    ASSERT_EQ(truncate(path.c_str(), size), 0);
    absl::Status st = Segment::Open(os, Segment::Access::kReadWrite).status();
    EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss) << size << ": " << st;
    std::byte* data = nullptr;
    EXPECT_EQ(MapDataRegion(os, Segment::Access::kReadOnly, 11, 8, &data).status().code(),
              absl::StatusCode::kDataLoss)
        << size;
  }
  ASSERT_TRUE(Segment::Unlink(os).ok());
}

// DataRegionFile reads the data region with pread: the bytes, its checks at
// open (generation, committed, size) and a truncation under it (kDataLoss,
// never SIGBUS: nothing is mapped).
TEST_F(SegmentTest, DataRegionFileReadsWithoutMapping) {
  const std::string os = OsName(0x51);
  const std::string path = "/dev/shm/" + os;
  {
    absl::StatusOr<Segment> seg = Segment::Create(os, ArrayMeta(0x51, "r", {4096}), 0640);
    ASSERT_TRUE(seg.ok()) << seg.status();
    for (int i = 0; i < 4096 * 8; ++i) seg->data()[i] = static_cast<std::byte>(i * 7);
    ASSERT_TRUE(seg->Commit().ok());
  }
  EXPECT_EQ(DataRegionFile::Open(os, 0x52, 8).status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(DataRegionFile::Open(os, 0x51, 4096 * 8 + 1).status().code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(DataRegionFile::Open("a/../b", 0x51, 8).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<DataRegionFile> file = DataRegionFile::Open(os, 0x51, 4096 * 8);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->mode(), 0640u);
  std::vector<std::byte> out(5000);
  ASSERT_TRUE(file->ReadAt(1000, 5000, out.data()).ok());
  for (int i = 0; i < 5000; ++i) ASSERT_EQ(out[i], static_cast<std::byte>((1000 + i) * 7)) << i;
  EXPECT_EQ(file->ReadAt(4096 * 8 - 10, 11, out.data()).code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(file->ReadAt(-1, 1, out.data()).code(), absl::StatusCode::kOutOfRange);
  EXPECT_TRUE(file->ReadAt(4096 * 8, 0, out.data()).ok());

  // Moved: the new owner reads, the old one is empty.
  DataRegionFile moved = *std::move(file);
  ASSERT_TRUE(moved.ReadAt(0, 8, out.data()).ok());
  EXPECT_EQ(out[1], std::byte{7});

  // Cut by another process after the open: kDataLoss naming where it ends.
  ASSERT_EQ(truncate(path.c_str(), kDataOffset + 3000), 0);
  absl::Status st = moved.ReadAt(1000, 5000, out.data());
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss) << st;
  EXPECT_EQ(st.message(), "segment '" + os +
                              "' ends at byte 3000 of its data region: another process "
                              "truncated it");
  EXPECT_TRUE(moved.ReadAt(0, 3000, out.data()).ok());
  ASSERT_TRUE(Segment::Unlink(os).ok());
}

TEST_F(SegmentTest, GarbageAndHostileHeadersAreDataLoss) {
  const std::string os = OsName(12);
  const std::string path = "/dev/shm/" + os;
  // Garbage: random bytes, zeros.
  std::mt19937_64 rng(12345);
  std::vector<unsigned char> page(kDataOffset + 64);
  for (int round = 0; round < 20; ++round) {
    for (auto& b : page) b = round == 0 ? 0 : static_cast<unsigned char>(rng());
    if (round % 2 == 1) std::memcpy(page.data(), "SHMARRAY", 8);  // good magic, rest garbage
    {
      const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
      ASSERT_GE(fd, 0);
      ASSERT_EQ(write(fd, page.data(), page.size()), static_cast<ssize_t>(page.size()));
      close(fd);
    }
    EXPECT_EQ(Segment::Open(os, Segment::Access::kReadOnly).status().code(),
              absl::StatusCode::kDataLoss)
        << round;
  }
  ASSERT_TRUE(Segment::Unlink(os).ok());

  // Hostile: valid magic, version and checksum, nonsense fields.
  {
    absl::StatusOr<Segment> seg = Segment::Create(os, ArrayMeta(12, "h", {8}), 0600);
    ASSERT_TRUE(seg.ok()) << seg.status();
    ASSERT_TRUE(seg->Commit().ok());
  }
  const internal::SegmentHeader good = PreadHeader(os);
  ASSERT_EQ(good.checksum, internal::SegmentHeaderChecksum(good));
  using Mutation = void (*)(internal::SegmentHeader&);
  const std::vector<std::pair<const char*, Mutation>> mutations = {
      {"version", [](internal::SegmentHeader& h) { h.version = 2; }},
      {"magic", [](internal::SegmentHeader& h) { h.magic[0] = 'X'; }},
      {"ndim", [](internal::SegmentHeader& h) { h.ndim = 1000; }},
      {"name_length", [](internal::SegmentHeader& h) { h.name_length = 100000; }},
      {"format_length", [](internal::SegmentHeader& h) { h.format_length = 4000; }},
      {"base_name_length", [](internal::SegmentHeader& h) { h.base_name_length = 256; }},
      {"kind", [](internal::SegmentHeader& h) { h.kind = 7; }},
      {"state", [](internal::SegmentHeader& h) { h.state = 0; }},
      {"readonly", [](internal::SegmentHeader& h) { h.readonly = 2; }},
      {"itemsize", [](internal::SegmentHeader& h) { h.itemsize = 0; }},
      {"negative shape", [](internal::SegmentHeader& h) { h.shape[0] = -1; }},
      {"shape too big", [](internal::SegmentHeader& h) { h.shape[0] = 9; }},
      {"huge shape", [](internal::SegmentHeader& h) { h.shape[0] = INT64_MAX; }},
      {"stride outside", [](internal::SegmentHeader& h) { h.strides[0] = 16; }},
      {"negative stride", [](internal::SegmentHeader& h) { h.strides[0] = -8; }},
      {"offset", [](internal::SegmentHeader& h) { h.offset = 8; }},
      {"negative offset", [](internal::SegmentHeader& h) { h.offset = -8; }},
      {"data size", [](internal::SegmentHeader& h) { h.data_size_bytes = 128; }},
      {"negative data size", [](internal::SegmentHeader& h) { h.data_size_bytes = -4096; }},
      {"max data size", [](internal::SegmentHeader& h) { h.data_size_bytes = INT64_MAX; }},
  };
  for (const auto& [what, mutate] : mutations) {
    internal::SegmentHeader h = good;
    mutate(h);
    h.checksum = internal::SegmentHeaderChecksum(h);
    PwriteShm(os, &h, sizeof(h), 0);
    absl::Status st = Segment::Open(os, Segment::Access::kReadOnly).status();
    EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss) << what << ": " << st;
    std::byte* data = nullptr;
    EXPECT_EQ(MapDataRegion(os, Segment::Access::kReadOnly, 12, 8, &data).status().code(),
              absl::StatusCode::kDataLoss)
        << what;
  }
  // Random bytes of a good header changed, checksum fixed up: never a crash;
  // either a consistent segment or kDataLoss.
  for (int round = 0; round < 500; ++round) {
    internal::SegmentHeader h = good;
    auto* bytes = reinterpret_cast<unsigned char*>(&h);
    const int changes = 1 + static_cast<int>(rng() % 4);
    for (int c = 0; c < changes; ++c) {
      bytes[rng() % offsetof(internal::SegmentHeader, name)] = static_cast<unsigned char>(rng());
    }
    h.checksum = internal::SegmentHeaderChecksum(h);
    PwriteShm(os, &h, sizeof(h), 0);
    absl::StatusOr<Segment> seg = Segment::Open(os, Segment::Access::kReadOnly);
    if (seg.ok()) {
      EXPECT_LE(seg->meta().layout.ndim(), kMaxDims);
      EXPECT_EQ(seg->data_size_bytes(), 64);
    } else {
      EXPECT_EQ(seg.status().code(), absl::StatusCode::kDataLoss) << seg.status();
    }
  }
  // Restoring the good header makes it open again.
  PwriteShm(os, &good, sizeof(good), 0);
  EXPECT_TRUE(Segment::Open(os, Segment::Access::kReadOnly).ok());
  ASSERT_TRUE(Segment::Unlink(os).ok());
}

// Found by fuzz/segment_header_fuzzer: a broadcast layout (zero strides)
// touches one item, so it lies inside any data region, yet its number of
// items or byte size does not fit int64; such a header was accepted.
TEST_F(SegmentTest, BroadcastLayoutsWhoseSizeOverflowsAreDataLoss) {
  const std::string os = OsName(0x20);
  {
    absl::StatusOr<Segment> seg = Segment::Create(os, ArrayMeta(0x20, "h", {8}), 0600);
    ASSERT_TRUE(seg.ok()) << seg.status();
    ASSERT_TRUE(seg->Commit().ok());
  }
  const internal::SegmentHeader good = PreadHeader(os);
  struct Case {
    const char* what;
    int64_t shape0;
    int64_t shape1;
    const char* message;
  };
  for (const Case& c : {
           Case{"items", int64_t{1} << 62, 4, "the number of items overflows int64"},
           Case{"bytes", int64_t{1} << 61, 1, "the byte size overflows int64"},
       }) {
    internal::SegmentHeader h = good;
    h.ndim = 2;
    h.shape[0] = c.shape0;
    h.shape[1] = c.shape1;
    h.strides[0] = 0;
    h.strides[1] = 0;
    h.checksum = internal::SegmentHeaderChecksum(h);
    PwriteShm(os, &h, sizeof(h), 0);
    absl::Status st = Segment::Open(os, Segment::Access::kReadOnly).status();
    EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss) << c.what << ": " << st;
    EXPECT_THAT(std::string(st.message()), HasSubstr(c.message)) << c.what;
    std::byte* data = nullptr;
    EXPECT_EQ(MapDataRegion(os, Segment::Access::kReadOnly, 0x20, 8, &data).status().code(),
              absl::StatusCode::kDataLoss)
        << c.what;
    SegmentMeta meta;
    EXPECT_THAT(internal::DecodeSegmentHeader(h, kDataOffset + 64, &meta), HasSubstr(c.message));
  }
  ASSERT_TRUE(Segment::Unlink(os).ok());
}

TEST_F(SegmentTest, MapDataRegionChecksGenerationAndSize) {
  const std::string os = OsName(0x20);
  absl::StatusOr<Segment> seg = Segment::Create(os, ArrayMeta(0x20, "x", {16}), 0600);
  ASSERT_TRUE(seg.ok()) << seg.status();
  ASSERT_TRUE(seg->Commit().ok());
  std::byte* data = nullptr;
  absl::Status st = MapDataRegion(os, Segment::Access::kReadOnly, 0x1f, 128, &data).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kAborted) << st;
  EXPECT_EQ(st.message(), "array 'x' was replaced: expected generation 1f, segment has 20");
  EXPECT_EQ(data, nullptr);

  st = MapDataRegion(os, Segment::Access::kReadOnly, 0x20, 129, &data).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kOutOfRange) << st;
  st = MapDataRegion(os, Segment::Access::kReadOnly, 0x20, -1, &data).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;

  // A read-write client mapping writes into the same bytes as the handle.
  absl::StatusOr<std::shared_ptr<const void>> owner =
      MapDataRegion(os, Segment::Access::kReadWrite, 0x20, 128, &data);
  ASSERT_TRUE(owner.ok()) << owner.status();
  ASSERT_NE(*owner, nullptr);
  ASSERT_NE(data, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(data) % 4096, 0u);
  data[127] = std::byte{0x77};
  EXPECT_EQ(seg->data()[127], std::byte{0x77});
  seg->data()[0] = std::byte{0x11};
  EXPECT_EQ(data[0], std::byte{0x11});
  // A prefix of the region maps too.
  std::byte* part = nullptr;
  absl::StatusOr<std::shared_ptr<const void>> part_owner =
      MapDataRegion(os, Segment::Access::kReadOnly, 0x20, 1, &part);
  ASSERT_TRUE(part_owner.ok());
  EXPECT_EQ(part[0], std::byte{0x11});
  ASSERT_TRUE(Segment::Unlink(os).ok());
}

TEST_F(SegmentTest, MappingSurvivesUnlinkAndTheNameIsFreeAtOnce) {
  const std::string os = OsName(13);
  std::shared_ptr<const void> handle_mapping;
  std::byte* handle_data = nullptr;
  {
    absl::StatusOr<Segment> seg = Segment::Create(os, ArrayMeta(13, "old", {512}), 0600);
    ASSERT_TRUE(seg.ok()) << seg.status();
    std::memset(seg->data(), 0xAA, 4096);
    ASSERT_TRUE(seg->Commit().ok());
    handle_mapping = seg->mapping();
    ASSERT_NE(handle_mapping, nullptr);
    handle_data = seg->data();
  }  // the handle dies; the mapping lives on
  std::byte* client_data = nullptr;
  absl::StatusOr<std::shared_ptr<const void>> client =
      MapDataRegion(os, Segment::Access::kReadOnly, 13, 4096, &client_data);
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_TRUE(Segment::Unlink(os).ok());

  absl::StatusOr<Segment> fresh = Segment::Create(os, ArrayMeta(14, "new", {512}), 0600);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  std::memset(fresh->data(), 0x55, 4096);
  ASSERT_TRUE(fresh->Commit().ok());
  for (int i = 0; i < 4096; ++i) {
    ASSERT_EQ(handle_data[i], std::byte{0xAA}) << i;
    ASSERT_EQ(client_data[i], std::byte{0xAA}) << i;
  }
  std::byte* new_data = nullptr;
  absl::StatusOr<std::shared_ptr<const void>> new_client =
      MapDataRegion(os, Segment::Access::kReadOnly, 14, 4096, &new_data);
  ASSERT_TRUE(new_client.ok()) << new_client.status();
  EXPECT_EQ(new_data[4095], std::byte{0x55});
  // The old client asking for its generation learns that the name was reused.
  std::byte* stale = nullptr;
  EXPECT_EQ(MapDataRegion(os, Segment::Access::kReadOnly, 13, 4096, &stale).status().code(),
            absl::StatusCode::kAborted);
  ASSERT_TRUE(Segment::Unlink(os).ok());
}

TEST_F(SegmentTest, ForkedChildWritesAndParentSees) {
  const std::string os = OsName(15);
  absl::StatusOr<Segment> seg = Segment::Create(os, ArrayMeta(15, "shared", {4096}, 1), 0600);
  ASSERT_TRUE(seg.ok()) << seg.status();
  ASSERT_TRUE(seg->Commit().ok());
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::byte* data = nullptr;
    absl::StatusOr<std::shared_ptr<const void>> owner =
        MapDataRegion(os, Segment::Access::kReadWrite, 15, 4096, &data);
    if (!owner.ok()) _exit(1);
    for (int i = 0; i < 4096; ++i) data[i] = static_cast<std::byte>(i % 251);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  for (int i = 0; i < 4096; ++i) {
    ASSERT_EQ(seg->data()[i], static_cast<std::byte>(i % 251)) << i;
  }
  ASSERT_TRUE(Segment::Unlink(os).ok());
}

TEST_F(SegmentTest, SizeZeroArrays) {
  const std::string os = OsName(16);
  SegmentMeta meta = ArrayMeta(16, "empty", {0, 5});
  ASSERT_EQ(meta.data_size_bytes, 0);
  {
    absl::StatusOr<Segment> seg = Segment::Create(os, meta, 0600);
    ASSERT_TRUE(seg.ok()) << seg.status();
    EXPECT_EQ(seg->data(), nullptr);
    EXPECT_EQ(seg->data_size_bytes(), 0);
    EXPECT_NE(seg->mapping(), nullptr);
    ASSERT_TRUE(seg->Commit().ok());
  }
  struct stat st {};
  ASSERT_EQ(stat(("/dev/shm/" + os).c_str(), &st), 0);
  EXPECT_EQ(st.st_size, kDataOffset);
  absl::StatusOr<Segment> ro = Segment::Open(os, Segment::Access::kReadOnly);
  ASSERT_TRUE(ro.ok()) << ro.status();
  EXPECT_EQ(ro->data(), nullptr);
  EXPECT_EQ(ro->meta().layout.shape, (std::vector<int64_t>{0, 5}));
  std::byte* data = reinterpret_cast<std::byte*>(1);
  absl::StatusOr<std::shared_ptr<const void>> owner =
      MapDataRegion(os, Segment::Access::kReadWrite, 16, 0, &data);
  ASSERT_TRUE(owner.ok()) << owner.status();
  EXPECT_NE(*owner, nullptr);
  EXPECT_EQ(data, nullptr);
  EXPECT_EQ(MapDataRegion(os, Segment::Access::kReadOnly, 16, 1, &data).status().code(),
            absl::StatusCode::kOutOfRange);
  ASSERT_TRUE(Segment::Unlink(os).ok());
}

TEST_F(SegmentTest, MoreThanFreeSpaceIsResourceExhaustedAndLeavesNothing) {
  struct statvfs vfs {};
  ASSERT_EQ(statvfs("/dev/shm", &vfs), 0);
  const int64_t free_bytes = static_cast<int64_t>(vfs.f_bavail) * vfs.f_frsize;
  const int64_t want = free_bytes + (int64_t{1} << 30);
  SegmentMeta meta = ArrayMeta(17, "huge", {want});
  meta.format = "B";
  meta.layout.itemsize = 1;
  meta.layout.strides = {1};
  meta.data_size_bytes = want;
  const std::string os = OsName(17);
  absl::StatusOr<Segment> seg = Segment::Create(os, meta, 0600);
  ASSERT_EQ(seg.status().code(), absl::StatusCode::kResourceExhausted) << seg.status();
  const std::string msg(seg.status().message());
  EXPECT_THAT(msg, HasSubstr("not enough shared memory in /dev/shm for array 'huge': need " +
                             std::to_string(want + kDataOffset) + " bytes, "));
  EXPECT_THAT(msg, HasSubstr(" free"));
  EXPECT_THAT(ShmEntriesWithPrefix(prefix_), IsEmpty());
}

// fallocate itself failing (after the object exists) must also unlink it.
// RLIMIT_FSIZE makes tmpfs refuse the reservation with EFBIG; done in a child
// so the limit does not leak into the test process.
TEST_F(SegmentTest, FailedReservationRemovesTheObject) {
  const std::string os = OsName(19);
  const int rc = RunInChild(
      [&]() -> int {
        signal(SIGXFSZ, SIG_IGN);
        const rlimit limit{1 << 20, 1 << 20};
        if (setrlimit(RLIMIT_FSIZE, &limit) != 0) return 10;
        absl::StatusOr<Segment> seg =
            Segment::Create(os, ArrayMeta(19, "big", {1 << 20}), 0600);  // 8 MiB
        if (seg.status().code() != absl::StatusCode::kResourceExhausted) return 11;
        if (std::string(seg.status().message()).find("/dev/shm") == std::string::npos) {
          return 12;
        }
        return access(("/dev/shm/" + os).c_str(), F_OK) == 0 ? 13 : 0;
      },
      /*as_nobody=*/false);
  EXPECT_EQ(rc, 0);
  EXPECT_THAT(ShmEntriesWithPrefix(prefix_), IsEmpty());
}

TEST_F(SegmentTest, MovedHandleKeepsWorking) {
  const std::string os = OsName(18);
  absl::StatusOr<Segment> created = Segment::Create(os, ArrayMeta(18, "mv", {4}), 0600);
  ASSERT_TRUE(created.ok()) << created.status();
  Segment a = std::move(*created);
  EXPECT_EQ(created->data(), nullptr);
  EXPECT_FALSE(created->writable());
  EXPECT_EQ(created->Commit().code(), absl::StatusCode::kFailedPrecondition);
  Segment b = std::move(a);
  ASSERT_NE(b.data(), nullptr);
  b.data()[3] = std::byte{3};
  ASSERT_TRUE(b.Commit().ok());
  absl::StatusOr<Segment> ro = Segment::Open(os, Segment::Access::kReadOnly);
  ASSERT_TRUE(ro.ok());
  EXPECT_EQ(ro->data()[3], std::byte{3});
  ASSERT_TRUE(Segment::Unlink(os).ok());
}

// --- The private directory ---------------------------------------------------

// Runs `fn` in a forked child as uid/gid 65534 (nobody) and returns its exit
// status (what fn returned), or a negative value if the child died.
// REQUIRES: root.
template <typename Fn>
int RunAsNobody(Fn fn) {
  return RunInChild(fn, /*as_nobody=*/true);
}

struct stat Lstat(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path << ": " << std::strerror(errno);
  return st;
}

TEST_F(SegmentTest, PrepareDirectoryCreatesAPrivateDirectory) {
  const std::string dir = prefix_ + ".priv";
  const std::string path = "/dev/shm/" + dir;
  absl::StatusOr<std::string> done = Segment::PrepareDirectory(dir, std::nullopt);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_THAT(*done, HasSubstr("created " + path));
  struct stat st = Lstat(path);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_EQ(st.st_uid, geteuid());
  // Again: nothing to do.
  done = Segment::PrepareDirectory(dir, std::nullopt);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(*done, "");
  // A mode someone widened is narrowed again.
  ASSERT_EQ(chmod(path.c_str(), 0777), 0);
  done = Segment::PrepareDirectory(dir, std::nullopt);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_THAT(*done, HasSubstr("mode 0777 -> 0700"));
  EXPECT_EQ(Lstat(path).st_mode & 07777, 0700u);
  // With a group: setgid 02750 and that group, so new files inherit it.
  const gid_t group = getegid();
  done = Segment::PrepareDirectory(dir, group);
  ASSERT_TRUE(done.ok()) << done.status();
  st = Lstat(path);
  EXPECT_EQ(st.st_mode & 07777, 02750u);
  EXPECT_EQ(st.st_gid, group);
  const std::string os = dir + "/1f";
  absl::StatusOr<Segment> seg = Segment::Create(os, ArrayMeta(0x1f, "g", {4}), 0660);
  ASSERT_TRUE(seg.ok()) << seg.status();
  EXPECT_EQ(Lstat("/dev/shm/" + os).st_gid, group);
  EXPECT_EQ(seg->owner_uid(), geteuid());
  EXPECT_EQ(seg->file_mode(), 0660u);
  ASSERT_TRUE(Segment::Unlink(os).ok());
  ASSERT_EQ(rmdir(path.c_str()), 0);
  EXPECT_EQ(Segment::PrepareDirectory("a/b", std::nullopt).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(SegmentTest, PrepareDirectoryRefusesWhatItDidNotMake) {
  const std::string dir = prefix_ + ".bad";
  const std::string path = "/dev/shm/" + dir;
  // A file, and a symlink to a directory, in place of the directory.
  { std::ofstream(path) << "x"; }
  absl::Status st = Segment::PrepareDirectory(dir, std::nullopt).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr("not a directory"));
  ASSERT_EQ(unlink(path.c_str()), 0);
  ASSERT_EQ(symlink("/tmp", path.c_str()), 0);
  st = Segment::PrepareDirectory(dir, std::nullopt).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr("symbolic link"));
  ASSERT_EQ(unlink(path.c_str()), 0);
  if (geteuid() != 0) GTEST_SKIP() << "a directory of another uid needs root to make";
  // A directory that another user made first (a squatter).
  ASSERT_EQ(RunAsNobody([&]() -> int {
              return mkdir(path.c_str(), 0777) == 0 && chmod(path.c_str(), 0777) == 0 ? 0 : 1;
            }),
            0);
  st = Segment::PrepareDirectory(dir, std::nullopt).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr("belongs to uid 65534"));
  EXPECT_EQ(Lstat(path).st_mode & 07777, 0777u) << "another user's directory was changed";
  ASSERT_EQ(rmdir(path.c_str()), 0);
}

// One owner at a time: a second PrepareDirectory with a lock, from another
// process or from this one, fails naming the holder's pid and changes
// nothing; the lock goes with its holder, however the holder ends.
TEST_F(SegmentTest, PrepareDirectoryWithALockAdmitsOneOwnerAtATime) {
  const std::string dir = prefix_ + ".lock";
  const std::string path = "/dev/shm/" + dir;
  DirectoryLock mine;
  absl::StatusOr<std::string> done = Segment::PrepareDirectory(dir, std::nullopt, &mine);
  ASSERT_TRUE(done.ok()) << done.status();
  ASSERT_TRUE(mine.held());
  ASSERT_EQ(chmod(path.c_str(), 0750), 0);  // what a refused owner must not correct
  DirectoryLock second;
  absl::Status st = Segment::PrepareDirectory(dir, std::nullopt, &second).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  EXPECT_THAT(std::string(st.message()),
              HasSubstr(path + " is in use by another process (pid " + std::to_string(getpid())));
  EXPECT_FALSE(second.held());
  EXPECT_EQ(Lstat(path).st_mode & 07777, 0750u) << "a refused owner changed the directory";
  // Without a lock (as tools that only look do) it still works.
  ASSERT_TRUE(Segment::PrepareDirectory(dir, std::nullopt).ok());
  mine.reset();
  EXPECT_FALSE(mine.held());

  // A child takes it and is then killed: the lock goes with it.
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(ready[0]);
    DirectoryLock held;
    const bool ok = Segment::PrepareDirectory(dir, std::nullopt, &held).ok() && held.held();
    const char c = ok ? '1' : '0';
    if (write(ready[1], &c, 1) != 1) _exit(1);
    for (;;) pause();
  }
  close(ready[1]);
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  close(ready[0]);
  ASSERT_EQ(c, '1') << "the child could not take the lock";
  st = Segment::PrepareDirectory(dir, std::nullopt, &second).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr("(pid " + std::to_string(child) + ")"));
  ASSERT_EQ(kill(child, SIGKILL), 0);
  int wstatus = 0;
  ASSERT_EQ(waitpid(child, &wstatus, 0), child);
  done = Segment::PrepareDirectory(dir, std::nullopt, &second);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_TRUE(second.held());
  // Moving hands the lock over; the moved-from object holds nothing.
  DirectoryLock moved = std::move(second);
  EXPECT_TRUE(moved.held());
  EXPECT_FALSE(second.held());  // NOLINT(bugprone-use-after-move): checked on purpose
  moved.reset();
  ASSERT_EQ(rmdir(path.c_str()), 0);
}

// Nobody else can create, replace or remove a file in the directory: not
// even a squatter who knows the next name.
TEST_F(SegmentTest, AnotherUserCannotPlantOrRemoveSegmentsInTheDirectory) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to run a second user";
  const std::string dir = prefix_ + ".sq";
  const std::string path = "/dev/shm/" + dir;
  ASSERT_TRUE(Segment::PrepareDirectory(dir, std::nullopt).ok());
  const std::string os = dir + "/20";
  absl::StatusOr<Segment> seg = Segment::Create(os, ArrayMeta(0x20, "mine", {4}), 0600);
  ASSERT_TRUE(seg.ok()) << seg.status();
  const int rc = RunAsNobody([&]() -> int {
    if (open((path + "/21").c_str(), O_RDWR | O_CREAT | O_EXCL, 0666) >= 0 || errno != EACCES) {
      return 1;
    }
    if (unlink(("/dev/shm/" + os).c_str()) == 0 || errno != EACCES) return 2;
    if (open(("/dev/shm/" + os).c_str(), O_RDONLY) >= 0 || errno != EACCES) return 3;
    if (opendir(path.c_str()) != nullptr || errno != EACCES) return 4;
    return 0;
  });
  EXPECT_EQ(rc, 0);
  ASSERT_TRUE(Segment::Unlink(os).ok());
  ASSERT_EQ(rmdir(path.c_str()), 0);
}

TEST_F(SegmentTest, OpenRefusesSymlinksAndNonRegularFiles) {
  const std::string target = OsName(0x30);
  absl::StatusOr<Segment> seg = Segment::Create(target, ArrayMeta(0x30, "t", {4}), 0600);
  ASSERT_TRUE(seg.ok()) << seg.status();
  ASSERT_TRUE(seg->Commit().ok());
  const std::string link = OsName(0x31);
  ASSERT_EQ(symlink(("/dev/shm/" + target).c_str(), ("/dev/shm/" + link).c_str()), 0);
  absl::Status st = Segment::Open(link, Segment::Access::kReadOnly).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr("symbolic link"));
  std::byte* data = nullptr;
  EXPECT_EQ(MapDataRegion(link, Segment::Access::kReadOnly, 0x30, 8, &data).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // Create never follows a planted symlink either.
  EXPECT_EQ(Segment::Create(link, ArrayMeta(0x31, "x", {4}), 0600).status().code(),
            absl::StatusCode::kAlreadyExists);
  ASSERT_EQ(unlink(("/dev/shm/" + link).c_str()), 0);
  // A FIFO would block a plain open; it is refused at once.
  const std::string fifo = OsName(0x32);
  ASSERT_EQ(mkfifo(("/dev/shm/" + fifo).c_str(), 0600), 0);
  st = Segment::Open(fifo, Segment::Access::kReadOnly).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr("not a regular file"));
  ASSERT_EQ(unlink(("/dev/shm/" + fifo).c_str()), 0);
  ASSERT_TRUE(Segment::Unlink(target).ok());
}

TEST_F(SegmentTest, OwnerAndModeAreReported) {
  const std::string os = OsName(0x33);
  absl::StatusOr<Segment> seg = Segment::Create(os, ArrayMeta(0x33, "m", {4}), 0640);
  ASSERT_TRUE(seg.ok()) << seg.status();
  EXPECT_EQ(seg->owner_uid(), geteuid());
  EXPECT_EQ(seg->file_mode(), 0640u);
  ASSERT_TRUE(seg->Commit().ok());
  ASSERT_TRUE(seg->Seal().ok());
  EXPECT_EQ(seg->file_mode(), 0440u);
  absl::StatusOr<Segment> ro = Segment::Open(os, Segment::Access::kReadOnly);
  ASSERT_TRUE(ro.ok()) << ro.status();
  EXPECT_EQ(ro->owner_uid(), geteuid());
  EXPECT_EQ(ro->file_mode(), 0440u);
  ASSERT_TRUE(Segment::Unlink(os).ok());
}

// --- A header rewritten while it is read -------------------------------------

// Seal changes two words of a committed header, the read-only flag and the
// checksum. A client that preads the header between the two stores must not
// report the array as corrupt (DATA_LOSS): it sees the header as it was just
// before or just after the seal.
TEST_F(SegmentTest, HeaderCaughtHalfwayThroughASealIsNotDataLoss) {
  const std::string os = OsName(0x41);
  absl::StatusOr<Segment> seg = Segment::Create(os, ArrayMeta(0x41, "half", {512}), 0600);
  ASSERT_TRUE(seg.ok()) << seg.status();
  ASSERT_TRUE(seg->Commit().ok());
  const internal::SegmentHeader before = PreadHeader(os);
  internal::SegmentHeader after = before;
  after.readonly = 1;
  after.checksum = internal::SegmentHeaderChecksum(after);
  // Flag stored, checksum not yet; then the other order.
  for (const auto& [flag, checksum] :
       {std::pair{after.readonly, before.checksum}, std::pair{before.readonly, after.checksum}}) {
    internal::SegmentHeader h = before;
    h.readonly = flag;
    h.checksum = checksum;
    PwriteShm(os, &h, sizeof(h), 0);
    absl::StatusOr<Segment> ro = Segment::Open(os, Segment::Access::kReadOnly);
    EXPECT_TRUE(ro.ok()) << ro.status();
    std::byte* data = nullptr;
    absl::Status st = MapDataRegion(os, Segment::Access::kReadOnly, 0x41, 4096, &data).status();
    EXPECT_TRUE(st.ok()) << st;
  }
  // Anything else that fails the checksum is still corruption.
  internal::SegmentHeader bad = before;
  bad.readonly = 1;
  bad.checksum ^= 1;
  PwriteShm(os, &bad, sizeof(bad), 0);
  EXPECT_EQ(Segment::Open(os, Segment::Access::kReadOnly).status().code(),
            absl::StatusCode::kDataLoss);
  ASSERT_TRUE(Segment::Unlink(os).ok());
}

// The same race with real concurrency: a writer flips the header between its
// unsealed and sealed forms the way Seal writes it, while readers open and
// map the segment; and a full rewrite of the header (memcpy) is waited out.
TEST_F(SegmentTest, HeaderRewrittenConcurrentlyIsNeverDataLoss) {
  const std::string os = OsName(0x40);
  absl::StatusOr<Segment> seg = Segment::Create(os, ArrayMeta(0x40, "torn", {512}), 0600);
  ASSERT_TRUE(seg.ok()) << seg.status();
  ASSERT_TRUE(seg->Commit().ok());
  internal::SegmentHeader headers[2] = {PreadHeader(os), PreadHeader(os)};
  headers[1].readonly = 1;
  headers[1].checksum = internal::SegmentHeaderChecksum(headers[1]);
  const int fd = open(("/dev/shm/" + os).c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  void* map = mmap(nullptr, kDataOffset, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  ASSERT_NE(map, MAP_FAILED);
  auto* stored = static_cast<internal::SegmentHeader*>(map);
  // Spins for about `n` iterations (widens the window between two stores, as
  // a writer preempted there would).
  auto spin = [](int n) {
    std::atomic<int> k{0};
    while (k.fetch_add(1, std::memory_order_relaxed) < n) {
    }
  };
  for (const bool whole : {false, true}) {
    std::atomic<bool> stop{false};
    std::atomic<int64_t> rewrites{0};
    std::thread writer([&] {
      for (int64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        const internal::SegmentHeader& h = headers[i % 2];
        if (whole) {
          std::memcpy(map, &h, sizeof(h));
        } else {
          std::atomic_ref<uint32_t>(stored->readonly).store(h.readonly);
          spin(500);
          std::atomic_ref<uint64_t>(stored->checksum).store(h.checksum);
        }
        spin(500);
        rewrites.fetch_add(1, std::memory_order_relaxed);
      }
    });
    int bad = 0;
    std::string first_bad;
    for (int i = 0; i < 2000; ++i) {
      absl::Status st;
      if (i % 2 == 0) {
        st = Segment::Open(os, Segment::Access::kReadOnly).status();
      } else {
        std::byte* data = nullptr;
        st = MapDataRegion(os, Segment::Access::kReadOnly, 0x40, 4096, &data).status();
      }
      if (!st.ok() && bad++ == 0) first_bad = st.ToString();
    }
    stop = true;
    writer.join();
    EXPECT_GT(rewrites.load(), 0);
    EXPECT_EQ(bad, 0) << (whole ? "whole rewrites" : "two-store rewrites")
                      << "; first failure: " << first_bad;
    std::memcpy(map, &headers[0], sizeof(headers[0]));
  }
  munmap(map, kDataOffset);
  ASSERT_TRUE(Segment::Unlink(os).ok());
}

// --- Truncation under a mapping (SIGBUS) --------------------------------------

int Truncate(const std::string& os_name, off_t size) {
  const int fd = open(("/dev/shm/" + os_name).c_str(), O_RDWR);
  if (fd < 0) return -1;
  const int rc = ftruncate(fd, size);
  close(fd);
  return rc;
}

// With the handler installed, touching pages that another process cut off
// with ftruncate is recorded for that mapping instead of killing the process;
// other mappings are untouched.
TEST_F(SegmentTest, FaultHandlerTurnsTruncationIntoARecordedFault) {
  ASSERT_TRUE(InstallSegmentFaultHandler().ok());
  ASSERT_TRUE(InstallSegmentFaultHandler().ok());  // idempotent
  const std::string victim = OsName(0x50);
  const std::string other = OsName(0x51);
  constexpr int64_t kItems = 1 << 17;  // 1 MiB of doubles
  absl::StatusOr<Segment> seg = Segment::Create(victim, ArrayMeta(0x50, "v", {kItems}), 0600);
  ASSERT_TRUE(seg.ok()) << seg.status();
  ASSERT_TRUE(seg->Commit().ok());
  absl::StatusOr<Segment> keep = Segment::Create(other, ArrayMeta(0x51, "o", {kItems}), 0600);
  ASSERT_TRUE(keep.ok()) << keep.status();
  std::memset(keep->data(), 0x5a, 8 * kItems);
  std::byte* client = nullptr;
  absl::StatusOr<std::shared_ptr<const void>> client_owner =
      MapDataRegion(victim, Segment::Access::kReadOnly, 0x50, 8 * kItems, &client);
  ASSERT_TRUE(client_owner.ok()) << client_owner.status();
  std::memset(seg->data(), 0x11, 8 * kItems);
  EXPECT_FALSE(SegmentFaulted(seg->data()));
  EXPECT_FALSE(SegmentFaulted(client));

  // Keep the first 64 KiB of data; everything after is gone.
  ASSERT_EQ(Truncate(victim, kDataOffset + 65536), 0);
  std::memset(seg->data(), 0x22, 8 * kItems);  // would be SIGBUS
  EXPECT_TRUE(SegmentFaulted(seg->data()));
  EXPECT_TRUE(SegmentFaulted(seg->data() + 8 * kItems - 1));
  EXPECT_EQ(client[0], std::byte{0x22}) << "the pages before the cut are still shared";
  int64_t sum = 0;
  for (int64_t i = 0; i < 8 * kItems; i += 4096) sum += static_cast<int>(client[i]);  // SIGBUS
  EXPECT_GT(sum, 0);
  EXPECT_TRUE(SegmentFaulted(client));
  EXPECT_FALSE(SegmentFaulted(keep->data()));
  EXPECT_EQ(keep->data()[8 * kItems - 1], std::byte{0x5a});
  EXPECT_FALSE(SegmentFaulted(&sum)) << "an address outside every segment";
  // Opening it again reports the truncation.
  EXPECT_EQ(Segment::Open(victim, Segment::Access::kReadOnly).status().code(),
            absl::StatusCode::kDataLoss);
  // A whole-file truncation makes header writes fail cleanly too.
  ASSERT_EQ(Truncate(victim, 0), 0);
  EXPECT_EQ(seg->Commit().code(), absl::StatusCode::kDataLoss);
  // A mapping made later in the same place starts clean.
  seg = absl::InternalError("dropped");
  client_owner = absl::InternalError("dropped");
  absl::StatusOr<Segment> fresh =
      Segment::Create(OsName(0x52), ArrayMeta(0x52, "f", {kItems}), 0600);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_FALSE(SegmentFaulted(fresh->data()));
  ASSERT_TRUE(Segment::Unlink(victim).ok());
  ASSERT_TRUE(Segment::Unlink(other).ok());
  ASSERT_TRUE(Segment::Unlink(OsName(0x52)).ok());
}

// The handler does not swallow other faults: a SIGBUS outside every segment
// mapping still ends the process with SIGBUS, as does a SIGBUS sent by kill().
TEST_F(SegmentTest, FaultHandlerLeavesOtherFaultsFatal) {
  const std::string path = "/dev/shm/" + prefix_ + ".plain";
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (!InstallSegmentFaultHandler().ok()) _exit(10);
    const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0 || ftruncate(fd, 8192) != 0) _exit(11);
    auto* p =
        static_cast<volatile char*>(mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    unlink(path.c_str());
    if (ftruncate(fd, 0) != 0) _exit(12);
    p[4096] = 1;  // SIGBUS, not ours
    _exit(4);
  }
  // It died of the fault: by SIGBUS, or (under a sanitizer, whose handler was
  // the previous one) with the sanitizer's error exit or its abort
  // (ASAN_OPTIONS=abort_on_error=1). It never went on.
  auto died_of_it = [](int status, int went_on) {
    if (WIFSIGNALED(status)) return WTERMSIG(status) == SIGBUS || WTERMSIG(status) == SIGABRT;
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
    return code != 0 && code != went_on && (code < 10 || code > 12);
  };
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(died_of_it(status, 4)) << "status " << status;
  const pid_t killed = fork();
  ASSERT_GE(killed, 0);
  if (killed == 0) {
    if (!InstallSegmentFaultHandler().ok()) _exit(10);
    kill(getpid(), SIGBUS);
    _exit(5);
  }
  ASSERT_EQ(waitpid(killed, &status, 0), killed);
  EXPECT_TRUE(died_of_it(status, 5)) << "status " << status;
}

// The checksum check remembers the last header that matched on this thread
// (a memcmp instead of a second hash): a header that differs from it in one
// byte is still hashed and refused, and one that differs from every header
// seen is accepted when it matches.
TEST(SegmentHeaderTest, AChangedByteIsRefusedRightAfterTheSameHeaderMatched) {
  internal::SegmentHeader good{};
  ASSERT_EQ(internal::EncodeSegmentHeader(ArrayMeta(0x31, "cached", {4, 4}), &good), "");
  SegmentMeta meta;
  const int64_t size = kDataOffset + good.data_size_bytes;
  ASSERT_EQ(internal::DecodeSegmentHeader(good, size, &meta), "");
  ASSERT_EQ(internal::DecodeSegmentHeader(good, size, &meta), "");
  for (size_t byte :
       {offsetof(internal::SegmentHeader, generation), offsetof(internal::SegmentHeader, shape),
        offsetof(internal::SegmentHeader, name) + 2, sizeof(internal::SegmentHeader) - 9}) {
    internal::SegmentHeader bad = good;
    reinterpret_cast<unsigned char*>(&bad)[byte] ^= 0x01;
    EXPECT_THAT(internal::DecodeSegmentHeader(bad, size, &meta),
                HasSubstr("header checksum mismatch"))
        << "byte " << byte;
    ASSERT_EQ(internal::DecodeSegmentHeader(good, size, &meta), "");
  }
  internal::SegmentHeader other{};
  ASSERT_EQ(internal::EncodeSegmentHeader(ArrayMeta(0x32, "cached", {4, 4}), &other), "");
  EXPECT_EQ(internal::DecodeSegmentHeader(other, size, &meta), "");
  EXPECT_EQ(meta.generation, 0x32u);
}

}  // namespace
}  // namespace shmarray::shm
