// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// Tests of shm/catalog_file.cc: the catalog file's writer and reader on the
// real /dev/shm, torn records under a concurrent writer, and files a hostile
// process scribbled on.

#include "shmarray/shm/catalog_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shmarray/shm/segment.h"

namespace shmarray::shm {
namespace {

class CatalogFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static int counter = 0;
    dir_ = "shmarray.cftest." + std::to_string(getpid()) + "." + std::to_string(++counter);
    ASSERT_TRUE(Segment::PrepareDirectory(dir_, std::nullopt).ok());
  }
  void TearDown() override { std::filesystem::remove_all("/dev/shm/" + dir_); }
  std::string path() const { return "/dev/shm/" + dir_ + "/catalog"; }

  static CatalogFileEntry Entry(const std::string& name, uint64_t generation, int64_t n) {
    CatalogFileEntry e;
    e.name = name;
    e.generation = generation;
    e.data_generation = generation;
    char seg[32];
    std::snprintf(seg, sizeof(seg), "%llx", static_cast<unsigned long long>(generation));
    e.segment = seg;
    e.format = "<d";
    e.layout = Layout::Contiguous(8, {n, 2}, Order::kC);
    e.data_size_bytes = n * 16;
    e.created_unix_ns = 123;
    return e;
  }

  std::string dir_;
};

TEST_F(CatalogFileTest, PutLookupRemove) {
  auto w = CatalogFileWriter::Create(dir_, 100, 0600);
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_TRUE((*w)->Put(Entry("a/b", 0x1f, 3)));
  auto r = CatalogFileReader::Open(dir_);
  ASSERT_TRUE(r.ok()) << r.status();
  CatalogFileReader::Hit hit;
  ASSERT_TRUE((*r)->Lookup("a/b", &hit));
  EXPECT_EQ(hit.entry.generation, 0x1fu);
  EXPECT_EQ(hit.entry.segment, "1f");
  EXPECT_EQ(hit.entry.format, "<d");
  EXPECT_THAT(hit.entry.layout.shape, ::testing::ElementsAre(3, 2));
  EXPECT_THAT(hit.entry.layout.strides, ::testing::ElementsAre(16, 8));
  EXPECT_EQ(hit.entry.data_size_bytes, 48);
  EXPECT_FALSE(hit.entry.readonly);
  EXPECT_TRUE((*r)->Unchanged(hit));
  CatalogFileReader::Hit other;
  EXPECT_FALSE((*r)->Lookup("a", &other));
  EXPECT_FALSE((*r)->Lookup("a/b/", &other));

  // A seal rewrites the record: the old hit is no longer current.
  CatalogFileEntry sealed = Entry("a/b", 0x1f, 3);
  sealed.readonly = true;
  ASSERT_TRUE((*w)->Put(sealed));
  EXPECT_FALSE((*r)->Unchanged(hit));
  ASSERT_TRUE((*r)->Lookup("a/b", &hit));
  EXPECT_TRUE(hit.entry.readonly);

  // Deleted, and the record reused by another name: never the old entry.
  (*w)->Remove("a/b");
  EXPECT_FALSE((*r)->Unchanged(hit));
  EXPECT_FALSE((*r)->Lookup("a/b", &other));
  ASSERT_TRUE((*w)->Put(Entry("c", 0x20, 1)));
  EXPECT_FALSE((*r)->Unchanged(hit));
  EXPECT_FALSE((*r)->Lookup("a/b", &other));
  ASSERT_TRUE((*r)->Lookup("c", &other));
  EXPECT_EQ(other.record, hit.record);  // reused, with a new sequence word
}

TEST_F(CatalogFileTest, ModeHasNoWriteBitsAndFollowsGroupReadBit) {
  auto w = CatalogFileWriter::Create(dir_, 10, 0660);
  ASSERT_TRUE(w.ok()) << w.status();
  struct stat st {};
  ASSERT_EQ(stat(path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0440u);
}

TEST_F(CatalogFileTest, ChurnKeepsEveryLiveEntryFindable) {
  auto w = CatalogFileWriter::Create(dir_, 64, 0600);
  ASSERT_TRUE(w.ok());
  auto r = CatalogFileReader::Open(dir_);
  ASSERT_TRUE(r.ok());
  // Far more removals than slots: tombstones force index rebuilds.
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < 40; ++i) {
      ASSERT_TRUE((*w)->Put(Entry("n" + std::to_string(round * 100 + i), round * 100 + i + 1, 1)));
    }
    for (int i = 0; i < 40; ++i) {
      if (i % 4 != 0) (*w)->Remove("n" + std::to_string(round * 100 + i));
    }
    for (int i = 0; i < 40; i += 4) (*w)->Remove("n" + std::to_string(round * 100 + i));
  }
  for (int i = 0; i < 64; ++i) ASSERT_TRUE((*w)->Put(Entry("k" + std::to_string(i), i + 1, 1)));
  EXPECT_FALSE((*w)->Put(Entry("over", 999, 1)));  // full: not stored, readers ask the daemon
  for (int i = 0; i < 64; ++i) {
    CatalogFileReader::Hit hit;
    ASSERT_TRUE((*r)->Lookup("k" + std::to_string(i), &hit)) << i;
    EXPECT_EQ(hit.entry.generation, static_cast<uint64_t>(i + 1));
  }
  CatalogFileReader::Hit hit;
  EXPECT_FALSE((*r)->Lookup("over", &hit));
}

TEST_F(CatalogFileTest, EntriesARecordCannotHoldAreLeftOut) {
  auto w = CatalogFileWriter::Create(dir_, 10, 0600);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Put(Entry("long", 7, 1)));
  CatalogFileEntry e = Entry("long", 8, 1);
  e.format = "T{" + std::string(600, 'x') + "<d:a:}";
  EXPECT_FALSE((*w)->Put(e));
  auto r = CatalogFileReader::Open(dir_);
  ASSERT_TRUE(r.ok());
  CatalogFileReader::Hit hit;
  EXPECT_FALSE((*r)->Lookup("long", &hit));  // the old record is gone too
}

TEST_F(CatalogFileTest, ReaderNeverSeesATornRecord) {
  auto w = CatalogFileWriter::Create(dir_, 16, 0600);
  ASSERT_TRUE(w.ok());
  // Every field derives from g: a mix of two versions is detectable.
  auto make = [](uint64_t g) {
    CatalogFileEntry e = Entry("x", g, static_cast<int64_t>(g % 1000) + 1);
    e.readonly = g % 2 == 0;
    e.created_unix_ns = static_cast<int64_t>(g * 3);
    return e;
  };
  ASSERT_TRUE((*w)->Put(make(1)));
  auto r = CatalogFileReader::Open(dir_);
  ASSERT_TRUE(r.ok());
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (uint64_t g = 2; !stop.load(); ++g) {
      (void)(*w)->Put(make(g));
      if (g % 5 == 0) (*w)->Remove("x");
      // A pause now and then: with the reader on the other core and the
      // writer never resting, every read could overlap a write and retry out.
      if (g % 256 == 0) std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  });
  // At least 200,000 lookups, and on until some have hit (a loaded machine
  // may leave few windows), within a deadline.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  int hits = 0;
  for (int i = 0; (i < 200000 || hits < 100) && std::chrono::steady_clock::now() < deadline; ++i) {
    CatalogFileReader::Hit hit;
    if (!(*r)->Lookup("x", &hit)) continue;
    ++hits;
    const uint64_t g = hit.entry.generation;
    ASSERT_EQ(hit.entry.data_generation, g);
    ASSERT_EQ(hit.entry.layout.shape[0], static_cast<int64_t>(g % 1000) + 1);
    ASSERT_EQ(hit.entry.data_size_bytes, hit.entry.layout.shape[0] * 16);
    ASSERT_EQ(hit.entry.readonly, g % 2 == 0);
    ASSERT_EQ(hit.entry.created_unix_ns, static_cast<int64_t>(g * 3));
  }
  stop = true;
  writer.join();
  EXPECT_GT(hits, 0);
}

TEST_F(CatalogFileTest, ClosedFileIsDroppedAndRemoved) {
  auto w = CatalogFileWriter::Create(dir_, 10, 0600);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Put(Entry("a", 5, 1)));
  auto r = CatalogFileReader::Open(dir_);
  ASSERT_TRUE(r.ok());
  CatalogFileReader::Hit hit;
  ASSERT_TRUE((*r)->Lookup("a", &hit));
  (*w)->Close();
  EXPECT_TRUE((*r)->closed());
  EXPECT_FALSE((*r)->Unchanged(hit));
  EXPECT_FALSE((*r)->Lookup("a", &hit));
  EXPECT_FALSE(std::filesystem::exists(path()));
  EXPECT_EQ(CatalogFileReader::Open(dir_).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(CatalogFileTest, ANewWriterClosesTheOldFile) {
  auto w1 = CatalogFileWriter::Create(dir_, 10, 0600);
  ASSERT_TRUE(w1.ok());
  ASSERT_TRUE((*w1)->Put(Entry("a", 5, 1)));
  auto r1 = CatalogFileReader::Open(dir_);
  ASSERT_TRUE(r1.ok());
  auto w2 = CatalogFileWriter::Create(dir_, 10, 0600);  // a restart after a crash
  ASSERT_TRUE(w2.ok());
  EXPECT_TRUE((*r1)->closed());
  auto r2 = CatalogFileReader::Open(dir_);
  ASSERT_TRUE(r2.ok());
  CatalogFileReader::Hit hit;
  EXPECT_FALSE((*r2)->Lookup("a", &hit));
}

TEST_F(CatalogFileTest, BadHeadersAreRefused) {
  auto w = CatalogFileWriter::Create(dir_, 10, 0600);
  ASSERT_TRUE(w.ok());
  const std::string file = path();
  auto scribble = [&](off_t offset, const void* bytes, size_t n) {
    chmod(file.c_str(), 0600);
    const int fd = open(file.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(pwrite(fd, bytes, n, offset), static_cast<ssize_t>(n));
    close(fd);
    chmod(file.c_str(), 0400);
  };
  internal::CatalogFileHeader good;
  {
    const int fd = open(file.c_str(), O_RDONLY);
    ASSERT_EQ(pread(fd, &good, sizeof(good), 0), static_cast<ssize_t>(sizeof(good)));
    close(fd);
  }
  struct Case {
    const char* what;
    void (*mutate)(internal::CatalogFileHeader*);
  };
  const Case cases[] = {
      {"magic", [](internal::CatalogFileHeader* h) { h->magic[0] = 'X'; }},
      {"version", [](internal::CatalogFileHeader* h) { h->version = 99; }},
      {"record size", [](internal::CatalogFileHeader* h) { h->record_bytes = 8; }},
      {"slots", [](internal::CatalogFileHeader* h) { h->index_slots = 100; }},
      {"capacity", [](internal::CatalogFileHeader* h) { h->record_capacity = 0xFFFFFFF0u; }},
      {"records past the end",
       [](internal::CatalogFileHeader* h) { h->records_offset += 1 << 30; }},
      {"overlap", [](internal::CatalogFileHeader* h) { h->records_offset = h->index_offset; }},
      {"size", [](internal::CatalogFileHeader* h) { h->file_bytes += 4096; }},
      {"closed", [](internal::CatalogFileHeader* h) { h->state = internal::kCatalogClosed; }},
  };
  for (const Case& c : cases) {
    internal::CatalogFileHeader h = good;
    c.mutate(&h);
    scribble(0, &h, sizeof(h));
    EXPECT_FALSE(CatalogFileReader::Open(dir_).ok()) << c.what;
  }
  scribble(0, &good, sizeof(good));
  EXPECT_TRUE(CatalogFileReader::Open(dir_).ok());
  // Writable by the group: not a file the daemon made.
  chmod(file.c_str(), 0460);
  EXPECT_EQ(CatalogFileReader::Open(dir_).status().code(), absl::StatusCode::kFailedPrecondition);
  chmod(file.c_str(), 0400);
  // A symlink in its place is refused.
  ASSERT_EQ(rename(file.c_str(), (file + ".real").c_str()), 0);
  ASSERT_EQ(symlink((file + ".real").c_str(), file.c_str()), 0);
  EXPECT_FALSE(CatalogFileReader::Open(dir_).ok());
}

TEST_F(CatalogFileTest, GarbageRecordsNeverCrashTheReader) {
  auto w = CatalogFileWriter::Create(dir_, 256, 0600);
  ASSERT_TRUE(w.ok());
  for (int i = 0; i < 100; ++i) ASSERT_TRUE((*w)->Put(Entry("g" + std::to_string(i), i + 1, 2)));
  auto r = CatalogFileReader::Open(dir_);
  ASSERT_TRUE(r.ok());
  const internal::CatalogFileHeader h = [&] {
    internal::CatalogFileHeader out{};
    const int fd = open(path().c_str(), O_RDONLY);
    EXPECT_EQ(pread(fd, &out, sizeof(out), 0), static_cast<ssize_t>(sizeof(out)));
    close(fd);
    return out;
  }();
  chmod(path().c_str(), 0600);
  const int fd = open(path().c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  std::mt19937_64 rng(42);
  const uint64_t index_bytes = uint64_t{h.index_slots} * 8;
  const uint64_t record_bytes = uint64_t{h.record_capacity} * sizeof(internal::CatalogRecord);
  for (int round = 0; round < 20; ++round) {
    // Random words at random places of the index and the records; some
    // slots point at records that hold other names or nonsense.
    for (int k = 0; k < 2000; ++k) {
      const bool in_index = rng() % 2 == 0;
      const uint64_t span = in_index ? index_bytes : record_bytes;
      const uint64_t off =
          (in_index ? h.index_offset : h.records_offset) + (rng() % (span / 8)) * 8;
      uint64_t value = rng();
      switch (rng() % 4) {
        case 0:
          value &= 0xFFFFFFFF000000FFull;
          break;  // a plausible slot
        case 1:
          value = rng() % 512;
          break;  // a small length or count
        case 2:
          value = 0;
          break;
        default:
          break;
      }
      ASSERT_EQ(pwrite(fd, &value, 8, static_cast<off_t>(off)), 8);
    }
    for (int i = 0; i < 100; ++i) {
      CatalogFileReader::Hit hit;
      const std::string name = "g" + std::to_string(i);
      if ((*r)->Lookup(name, &hit)) {
        EXPECT_EQ(hit.entry.name, name);
        EXPECT_LE(hit.entry.layout.shape.size(), static_cast<size_t>(kMaxDims));
        EXPECT_LT(hit.entry.format.size(), internal::kCatalogFormatBytes);
        (void)(*r)->Unchanged(hit);
      }
    }
  }
  close(fd);
}

}  // namespace
}  // namespace shmarray::shm
