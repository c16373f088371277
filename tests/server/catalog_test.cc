// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: catalog_test.cc
// -----------------------------------------------------------------------------
// Tests of server/src/catalog.cc on real POSIX shared memory: names, quotas,
// views and cascade, generations, recovery and the mapping cache. Each test
// uses its own segment prefix and removes every segment it leaves.

#include "shmarray/server/catalog.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "shmarray/shm/segment.h"

namespace shmarray::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string UniquePrefix() {
  static std::atomic<int> counter{0};
  return "shmarray." + std::to_string(getuid()) + ".c" + std::to_string(getpid()) + "x" +
         std::to_string(counter++);
}

// "<prefix>/<generation in hex>", as Catalog::SegmentName makes it.
std::string SegmentNameOf(const std::string& prefix, uint64_t generation) {
  char hex[32];
  std::snprintf(hex, sizeof(hex), "%llx", static_cast<unsigned long long>(generation));
  return prefix + "/" + hex;
}

shm::Layout C(int64_t itemsize, std::vector<int64_t> shape) {
  return shm::Layout::Contiguous(itemsize, shape, shm::Order::kC);
}

class CatalogTest : public ::testing::Test {
 protected:
  void SetUp() override { prefix_ = UniquePrefix(); }
  void TearDown() override {
    catalog_.reset();
    auto names = shm::Segment::List(prefix_);
    ASSERT_TRUE(names.ok());
    for (const std::string& n : *names) (void)shm::Segment::Unlink(n);
    ::rmdir(("/dev/shm/" + prefix_).c_str());
  }
  std::unique_ptr<Catalog> OpenCatalog(CatalogOptions options = {},
                                       std::vector<std::string>* actions = nullptr) {
    options.prefix = prefix_;
    auto c = Catalog::Open(options, actions);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(*c) : nullptr;
  }
  std::vector<std::string> Segments() {
    auto names = shm::Segment::List(prefix_);
    EXPECT_TRUE(names.ok());
    return names.ok() ? *names : std::vector<std::string>{};
  }

  std::string prefix_;
  std::unique_ptr<Catalog> catalog_;
};

TEST_F(CatalogTest, CreateLookupAndSegmentNaming) {
  catalog_ = OpenCatalog();
  auto e = catalog_->CreateArray("x", shm::Format::Parse("<i"), C(4, {3, 4}), nullptr);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->segment_name, catalog_->SegmentName(e->generation));
  EXPECT_EQ(e->data_size_bytes, 48);
  auto found = catalog_->Lookup("x");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->generation, e->generation);
  EXPECT_THAT(Segments(), ElementsAre(e->segment_name));
  EXPECT_TRUE(absl::IsNotFound(catalog_->Lookup("y").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(catalog_->Lookup("").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(catalog_->Delete("a//b", false).status()));
  EXPECT_TRUE(absl::IsAlreadyExists(
      catalog_->CreateArray("x", shm::Format::Parse("<i"), C(4, {1}), nullptr).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      catalog_->CreateArray("bad//name", shm::Format::Parse("<i"), C(4, {1}), nullptr).status()));
}

TEST_F(CatalogTest, GenerationsAreUniqueAndUnpredictable) {
  catalog_ = OpenCatalog();
  std::set<uint64_t> seen;
  std::vector<uint64_t> in_order;
  for (int i = 0; i < 64; ++i) {
    auto e =
        catalog_->CreateArray("a" + std::to_string(i), shm::Format::Parse("B"), C(1, {8}), nullptr);
    ASSERT_TRUE(e.ok()) << e.status();
    EXPECT_NE(e->generation, 0u);
    EXPECT_TRUE(seen.insert(e->generation).second) << "generation reused";
    in_order.push_back(e->generation);
  }
  // A counter (or a clock) would make neighbours close: the next name could
  // be prepared by someone else. Random 64-bit numbers are never close.
  int close = 0;
  for (size_t i = 1; i < in_order.size(); ++i) {
    const uint64_t d = in_order[i] > in_order[i - 1] ? in_order[i] - in_order[i - 1]
                                                     : in_order[i - 1] - in_order[i];
    if (d < (uint64_t{1} << 40)) ++close;
  }
  EXPECT_LE(close, 1);
  ASSERT_TRUE(catalog_->Delete("a0", false).ok());
  auto again = catalog_->CreateArray("a0", shm::Format::Parse("B"), C(1, {8}), nullptr);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(seen.count(again->generation), 0u);
}

// A segment name that exists already (made by someone else, or a leftover)
// is skipped with a fresh generation; the user's name is not "taken".
TEST_F(CatalogTest, ATakenSegmentNameIsRetriedWithAnotherGeneration) {
  catalog_ = OpenCatalog();
  const std::string squatted = catalog_->SegmentName(0x5157);
  {
    const int fd = ::open(("/dev/shm/" + squatted).c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    ::close(fd);
  }
  catalog_->TEST_SetNextGenerations({0x5157, 0x5158});
  auto e = catalog_->CreateArray("x", shm::Format::Parse("B"), C(1, {8}), nullptr);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->generation, 0x5158u);
  catalog_->TEST_SetNextGenerations({0x5157, 0x5159});
  auto v = catalog_->CreateView("v", *e, C(1, {4}));
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->generation, 0x5159u);
  struct stat st {};
  ASSERT_EQ(::stat(("/dev/shm/" + squatted).c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 0) << "the squatted file was changed";
  // Only when every attempt collides does Create fail, and not with
  // ALREADY_EXISTS.
  catalog_->TEST_SetNextGenerations(std::vector<uint64_t>(16, 0x5157));
  absl::Status st2 =
      catalog_->CreateArray("y", shm::Format::Parse("B"), C(1, {8}), nullptr).status();
  EXPECT_EQ(st2.code(), absl::StatusCode::kInternal) << st2;
  EXPECT_TRUE(absl::IsNotFound(catalog_->Lookup("y").status()));
}

TEST_F(CatalogTest, CountQuota) {
  CatalogOptions o;
  o.max_arrays = 2;
  catalog_ = OpenCatalog(o);
  auto a = catalog_->CreateArray("a", shm::Format::Parse("B"), C(1, {4}), nullptr);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(catalog_->CreateView("v", *a, C(1, {2})).ok());
  absl::Status s = catalog_->CreateArray("b", shm::Format::Parse("B"), C(1, {4}), nullptr).status();
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("--max-arrays"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("limit 2"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("2 in use"));
}

TEST_F(CatalogTest, ByteQuota) {
  CatalogOptions o;
  o.max_bytes = 100;
  catalog_ = OpenCatalog(o);
  ASSERT_TRUE(catalog_->CreateArray("a", shm::Format::Parse("<d"), C(8, {10}), nullptr).ok());
  absl::Status s =
      catalog_->CreateArray("b", shm::Format::Parse("<d"), C(8, {3}), nullptr).status();
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("--max-bytes"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("limit 100 bytes, 80 in use"));
  EXPECT_TRUE(catalog_->CreateArray("c", shm::Format::Parse("<d"), C(8, {2}), nullptr).ok());
  EXPECT_EQ(catalog_->TEST_bytes_in_use(), 96);
  ASSERT_TRUE(catalog_->Delete("a", false).ok());
  EXPECT_EQ(catalog_->TEST_bytes_in_use(), 16);
  EXPECT_TRUE(catalog_->CreateArray("b", shm::Format::Parse("<d"), C(8, {3}), nullptr).ok());
}

TEST_F(CatalogTest, DeleteRefusesBaseWithViewsUnlessCascade) {
  catalog_ = OpenCatalog();
  auto a = catalog_->CreateArray("a", shm::Format::Parse("<i"), C(4, {4, 4}), nullptr);
  ASSERT_TRUE(a.ok());
  auto v1 = catalog_->CreateView("v1", *a, a->layout.slice(shm::ParseIndex("1")));
  ASSERT_TRUE(v1.ok()) << v1.status();
  // A view of a view refers to the underlying array.
  auto v2 = catalog_->CreateView("v2", *v1, v1->layout.slice(shm::ParseIndex("::2")));
  ASSERT_TRUE(v2.ok()) << v2.status();
  EXPECT_EQ(v2->base, "a");
  EXPECT_EQ(v2->segment_name, a->segment_name);
  EXPECT_EQ(Segments().size(), 3u);

  auto refused = catalog_->Delete("a", false);
  EXPECT_TRUE(absl::IsFailedPrecondition(refused.status())) << refused.status();
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("'v1', 'v2'"));
  auto deleted_view = catalog_->Delete("v1", false);
  ASSERT_TRUE(deleted_view.ok());
  EXPECT_THAT(*deleted_view, ElementsAre("v1"));
  auto deleted = catalog_->Delete("a", true);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_THAT(*deleted, ElementsAre("a", "v2"));
  EXPECT_THAT(Segments(), IsEmpty());
  EXPECT_TRUE(absl::IsNotFound(catalog_->Delete("a", false).status()));
}

TEST_F(CatalogTest, SealMakesArrayAndItsViewsReadOnly) {
  catalog_ = OpenCatalog();
  auto a = catalog_->CreateArray("a", shm::Format::Parse("<i"), C(4, {4}), nullptr);
  ASSERT_TRUE(a.ok());
  auto v = catalog_->CreateView("v", *a, C(4, {2}));
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(catalog_->Seal("v").status()));
  auto sealed = catalog_->Seal("a");
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  EXPECT_TRUE(sealed->readonly);
  EXPECT_TRUE(catalog_->Lookup("v")->readonly);
  EXPECT_TRUE(catalog_->Seal("a").ok());  // idempotent
  auto w = catalog_->Map(*catalog_->Lookup("a"), true);
  EXPECT_TRUE(absl::IsFailedPrecondition(w.status())) << w.status();
  auto r = catalog_->Map(*catalog_->Lookup("v"), false);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->readonly());
}

TEST_F(CatalogTest, InitializerFillsBeforeCommitAndFailureLeavesNothing) {
  catalog_ = OpenCatalog();
  auto e =
      catalog_->CreateArray("a", shm::Format::Parse("B"), C(1, {16}), [](const shm::AnyView& v) {
        std::memset(v.data(), 7, 16);
        return absl::OkStatus();
      });
  ASSERT_TRUE(e.ok());
  auto view = catalog_->Map(*e, false);
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(static_cast<int>(view->data()[15]), 7);
  auto failed =
      catalog_->CreateArray("b", shm::Format::Parse("B"), C(1, {16}),
                            [](const shm::AnyView&) { return absl::InvalidArgumentError("nope"); });
  EXPECT_TRUE(absl::IsInvalidArgument(failed.status()));
  EXPECT_EQ(Segments().size(), 1u);
  EXPECT_TRUE(absl::IsNotFound(catalog_->Lookup("b").status()));
  // The name is free again.
  EXPECT_TRUE(catalog_->CreateArray("b", shm::Format::Parse("B"), C(1, {1}), nullptr).ok());
}

TEST_F(CatalogTest, ListSortedWithPrefixAndPages) {
  catalog_ = OpenCatalog();
  for (const char* n : {"p/c", "p/a", "q", "p/b", "p/d", "pz"}) {
    ASSERT_TRUE(catalog_->CreateArray(n, shm::Format::Parse("B"), C(1, {1}), nullptr).ok());
  }
  auto page = catalog_->List("p/", 3, "");
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->entries.size(), 3u);
  EXPECT_EQ(page->entries[0].name, "p/a");
  EXPECT_EQ(page->entries[2].name, "p/c");
  EXPECT_EQ(page->next_token, ">p/c");
  auto page2 = catalog_->List("p/", 3, page->next_token);
  ASSERT_TRUE(page2.ok());
  ASSERT_EQ(page2->entries.size(), 1u);
  EXPECT_EQ(page2->entries[0].name, "p/d");
  EXPECT_EQ(page2->next_token, "");
  EXPECT_TRUE(absl::IsInvalidArgument(catalog_->List("p/", 3, ">q").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(catalog_->List("p/", 3, "p/c").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(catalog_->List("", -1, "").status()));
  EXPECT_EQ(catalog_->List("", 0, "")->entries.size(), 6u);
}

TEST_F(CatalogTest, RecoversArraysAndViewsFromAPreviousInstance) {
  catalog_ = OpenCatalog();
  auto a = catalog_->CreateArray("ns/a", shm::Format::Parse("<i"), C(4, {2, 3}),
                                 [](const shm::AnyView& v) {
                                   std::memset(v.data(), 1, 24);
                                   return absl::OkStatus();
                                 });
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(catalog_->CreateView("ns/v", *a, a->layout.slice(shm::ParseIndex(":, 1"))).ok());
  ASSERT_TRUE(catalog_->CreateArray("s", shm::Format::Parse("<d"), C(8, {2}), nullptr).ok());
  ASSERT_TRUE(catalog_->Seal("s").ok());
  catalog_.reset();

  std::vector<std::string> actions;
  catalog_ = OpenCatalog({}, &actions);
  EXPECT_EQ(actions.size(), 3u);
  auto ra = catalog_->Lookup("ns/a");
  ASSERT_TRUE(ra.ok());
  EXPECT_EQ(ra->generation, a->generation);
  EXPECT_EQ(ra->format.canonical(), "<i");
  EXPECT_EQ(ra->layout, a->layout);
  auto rv = catalog_->Lookup("ns/v");
  ASSERT_TRUE(rv.ok());
  EXPECT_EQ(rv->base, "ns/a");
  EXPECT_EQ(rv->layout.shape, std::vector<int64_t>{2});
  EXPECT_TRUE(catalog_->Lookup("s")->readonly);
  auto view = catalog_->Map(*rv, false);
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(static_cast<int>(view->first()[0]), 1);
  EXPECT_EQ(catalog_->TEST_bytes_in_use(), 24 + 16);
}

TEST_F(CatalogTest, RecoveryRemovesHalfCreatedAndOrphanedSegments) {
  ASSERT_TRUE(shm::Segment::PrepareDirectory(prefix_, std::nullopt).ok());
  // A half-created array: Create without Commit.
  shm::SegmentMeta meta;
  meta.generation = 0x10;
  meta.name = "half";
  meta.format = "<B";
  meta.layout = C(1, {8});
  meta.data_size_bytes = 8;
  {
    auto seg = shm::Segment::Create(prefix_ + "/10", meta, 0600);
    ASSERT_TRUE(seg.ok()) << seg.status();
  }
  // A committed view whose base generation does not exist.
  shm::SegmentMeta view = meta;
  view.kind = shm::SegmentKind::kView;
  view.generation = 0x11;
  view.name = "orphan";
  view.data_size_bytes = 0;
  view.base_generation = 0x99;
  view.base_name = "gone";
  {
    auto seg = shm::Segment::Create(prefix_ + "/11", view, 0600);
    ASSERT_TRUE(seg.ok()) << seg.status();
    ASSERT_TRUE(seg->Commit().ok());
  }
  // Another instance's directory stays untouched.
  const std::string other_dir = prefix_ + ".other";
  ASSERT_TRUE(shm::Segment::PrepareDirectory(other_dir, std::nullopt).ok());
  shm::SegmentMeta other = meta;
  other.generation = 0x12;
  {
    auto seg = shm::Segment::Create(other_dir + "/12", other, 0600);
    ASSERT_TRUE(seg.ok()) << seg.status();
    ASSERT_TRUE(seg->Commit().ok());
  }
  std::vector<std::string> actions;
  catalog_ = OpenCatalog({}, &actions);
  EXPECT_EQ(catalog_->TEST_entry_count(), 0u);
  EXPECT_THAT(Segments(), IsEmpty());
  ASSERT_EQ(actions.size(), 2u);
  EXPECT_THAT(actions[0], HasSubstr("half-created"));
  EXPECT_THAT(actions[1], HasSubstr("'orphan'"));
  auto others = shm::Segment::List(other_dir);
  ASSERT_TRUE(others.ok());
  EXPECT_THAT(*others, ElementsAre(other_dir + "/12"));
  (void)shm::Segment::Unlink(other_dir + "/12");
  ::rmdir(("/dev/shm/" + other_dir).c_str());
}

TEST_F(CatalogTest, MappingCacheIsBounded) {
  CatalogOptions o;
  o.mapping_cache_size = 2;
  catalog_ = OpenCatalog(o);
  std::vector<shm::AnyView> views;
  for (int i = 0; i < 5; ++i) {
    auto e = catalog_->CreateArray("a" + std::to_string(i), shm::Format::Parse("<q"), C(8, {4}),
                                   nullptr);
    ASSERT_TRUE(e.ok());
    auto v = catalog_->Map(*e, true);
    ASSERT_TRUE(v.ok()) << v.status();
    reinterpret_cast<int64_t*>(v->data())[0] = i;
    views.push_back(*v);
    EXPECT_LE(catalog_->TEST_cached_mappings(), 2u);
  }
  // Mappings evicted from the cache stay valid through the views' owners.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(reinterpret_cast<int64_t*>(views[i].data())[0], i);
  auto again = catalog_->Map(*catalog_->Lookup("a0"), false);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(reinterpret_cast<const int64_t*>(again->data())[0], 0);
}

TEST_F(CatalogTest, ListenerSeesEventsInOrder) {
  catalog_ = OpenCatalog();
  std::vector<std::string> seen;
  catalog_->SetListener([&seen](const CatalogEvent& e) {
    const char* t = e.type == CatalogEventType::kCreated  ? "created"
                    : e.type == CatalogEventType::kSealed ? "sealed"
                                                          : "deleted";
    seen.push_back(std::string(t) + " " + e.entry.name);
  });
  auto a = catalog_->CreateArray("a", shm::Format::Parse("B"), C(1, {4}), nullptr);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(catalog_->CreateView("v", *a, C(1, {2})).ok());
  ASSERT_TRUE(catalog_->Seal("a").ok());
  ASSERT_TRUE(catalog_->Delete("a", true).ok());
  EXPECT_THAT(seen, ElementsAre("created a", "created v", "sealed a", "deleted a", "deleted v"));
}

// A Seal closes the array's write gate, waits for the write in flight, and
// then no write runs any more.
TEST_F(CatalogTest, SealWaitsForTheWriteInFlightAndStopsLaterOnes) {
  catalog_ = OpenCatalog();
  auto e = catalog_->CreateArray("w", shm::Format::Parse("B"), C(1, {64}), nullptr);
  ASSERT_TRUE(e.ok()) << e.status();
  auto ticket = catalog_->BeginWrite(*e);
  ASSERT_TRUE(ticket.ok()) << ticket.status();
  absl::Notification inside, release;
  absl::Status first;
  std::thread writer([&] {
    first = ticket->Run([&]() -> absl::Status {
      inside.Notify();
      release.WaitForNotification();
      return absl::OkStatus();
    });
  });
  inside.WaitForNotification();
  std::atomic<bool> sealed{false};
  absl::StatusOr<CatalogEntry> seal_result;
  std::thread sealer([&] {
    seal_result = catalog_->Seal("w");
    sealed = true;
  });
  // Once the gate is closed (Seal has begun), new writes are refused...
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  absl::Status probe;
  do {
    probe = ticket->Run([] { return absl::OkStatus(); });
  } while (probe.ok() && std::chrono::steady_clock::now() < deadline);
  EXPECT_TRUE(absl::IsFailedPrecondition(probe)) << probe;
  EXPECT_THAT(std::string(probe.message()), HasSubstr("sealed during the write"));
  // ...but Seal waits for the write that is still running.
  EXPECT_FALSE(sealed.load());
  release.Notify();
  writer.join();
  sealer.join();
  EXPECT_TRUE(first.ok()) << first;
  ASSERT_TRUE(seal_result.ok()) << seal_result.status();
  EXPECT_TRUE(seal_result->readonly);
  absl::Status after = catalog_->BeginWrite(*e).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(after)) << after;
  EXPECT_THAT(std::string(after.message()), HasSubstr("read-only (sealed)"));
  // A view's writes go through its base's gate.
  auto base = catalog_->CreateArray("b", shm::Format::Parse("B"), C(1, {8}), nullptr);
  ASSERT_TRUE(base.ok());
  auto view = catalog_->CreateView("bv", *base, C(1, {4}));
  ASSERT_TRUE(view.ok());
  ASSERT_TRUE(catalog_->BeginWrite(*view).ok());
  ASSERT_TRUE(catalog_->Seal("b").ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(catalog_->BeginWrite(*view).status()));
  ASSERT_TRUE(catalog_->Delete("b", true).ok());
  EXPECT_TRUE(absl::IsNotFound(catalog_->BeginWrite(*base).status()));
}

TEST_F(CatalogTest, CheckSealReportsASealUndoneByChmod) {
  catalog_ = OpenCatalog();
  auto e = catalog_->CreateArray("s", shm::Format::Parse("<i"), C(4, {4}), nullptr);
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(catalog_->CheckSeal(*e).ok());  // not sealed: nothing to check
  auto sealed = catalog_->Seal("s");
  ASSERT_TRUE(sealed.ok());
  EXPECT_TRUE(catalog_->CheckSeal(*sealed).ok());
  ASSERT_EQ(::chmod(("/dev/shm/" + sealed->segment_name).c_str(), 0600), 0);
  absl::Status st = catalog_->CheckSeal(*sealed);
  EXPECT_TRUE(absl::IsDataLoss(st)) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr("'s' was sealed"));
  EXPECT_THAT(std::string(st.message()), HasSubstr("mode 0600"));
  EXPECT_TRUE(absl::IsDataLoss(catalog_->Map(*sealed, false).status()));
}

TEST_F(CatalogTest, TruncationUnderAMappingIsDataLossForThatArrayOnly) {
  ASSERT_TRUE(shm::InstallSegmentFaultHandler().ok());
  catalog_ = OpenCatalog();
  auto a = catalog_->CreateArray("t", shm::Format::Parse("B"), C(1, {1 << 20}), nullptr);
  auto b = catalog_->CreateArray("u", shm::Format::Parse("B"), C(1, {1 << 20}), nullptr);
  ASSERT_TRUE(a.ok() && b.ok());
  auto va = catalog_->Map(*a, true);
  auto vb = catalog_->Map(*b, true);
  ASSERT_TRUE(va.ok() && vb.ok());
  ASSERT_EQ(::truncate(("/dev/shm/" + a->segment_name).c_str(), shm::kDataOffset), 0);
  std::memset(va->data(), 7, 1 << 20);  // SIGBUS without the handler
  std::memset(vb->data(), 8, 1 << 20);
  absl::Status st = catalog_->CheckIntact(*a, *va);
  EXPECT_TRUE(absl::IsDataLoss(st)) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr("'t'"));
  EXPECT_TRUE(catalog_->CheckIntact(*b, *vb).ok());
  // The damaged mapping is not handed out again: the segment is reopened,
  // and it is too short now.
  absl::Status again = catalog_->Map(*a, false).status();
  EXPECT_TRUE(absl::IsDataLoss(again)) << again;
  EXPECT_THAT(std::string(again.message()), HasSubstr("array 't'"));
  EXPECT_TRUE(catalog_->Map(*b, false).ok());
  EXPECT_TRUE(catalog_->Delete("t", false).ok());
}

// Files in the directory that the daemon did not make are left alone and
// never displace its own segments.
TEST_F(CatalogTest, RecoveryIgnoresFilesItDidNotMake) {
  catalog_ = OpenCatalog();
  auto e = catalog_->CreateArray("mine", shm::Format::Parse("<q"), C(8, {4}), nullptr);
  ASSERT_TRUE(e.ok());
  catalog_.reset();
  // A newer segment of the same name, world-writable; a symlink; a FIFO.
  shm::SegmentMeta meta;
  meta.generation = e->generation ^ 1;
  meta.name = "mine";
  meta.format = "<q";
  meta.layout = C(8, {4});
  meta.data_size_bytes = 32;
  meta.created_unix_ns = e->created_unix_ns + 1000;
  const std::string planted = SegmentNameOf(prefix_, meta.generation);
  {
    auto seg = shm::Segment::Create(planted, meta, 0666);
    ASSERT_TRUE(seg.ok()) << seg.status();
    ASSERT_TRUE(seg->Commit().ok());
  }
  const std::string link = "/dev/shm/" + prefix_ + "/1234";
  ASSERT_EQ(::symlink(("/dev/shm/" + e->segment_name).c_str(), link.c_str()), 0);
  const std::string fifo = "/dev/shm/" + prefix_ + "/1235";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::vector<std::string> actions;
  catalog_ = OpenCatalog({}, &actions);
  auto found = catalog_->Lookup("mine");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->generation, e->generation);
  EXPECT_EQ(catalog_->TEST_entry_count(), 1u);
  std::string all;
  for (const std::string& a : actions) all += a + "\n";
  EXPECT_THAT(all, HasSubstr("ignored segment " + planted + ": mode 0666"));
  EXPECT_THAT(all, HasSubstr("a symbolic link"));
  EXPECT_THAT(all, HasSubstr("not a regular file"));
  EXPECT_THAT(all, ::testing::Not(HasSubstr("removed")));
  struct stat st {};
  EXPECT_EQ(::lstat(("/dev/shm/" + planted).c_str(), &st), 0);
  EXPECT_EQ(::lstat(link.c_str(), &st), 0);
  ::unlink(link.c_str());
  ::unlink(fifo.c_str());
}

}  // namespace
}  // namespace shmarray::server
