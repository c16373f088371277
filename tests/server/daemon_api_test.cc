// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: daemon_api_test.cc
// -----------------------------------------------------------------------------
// Integration tests of the REAL shmarrayd binary (started by TestDaemon, see
// daemon_fixture.h): the success paths of every RPC over the Unix socket --
// Create (fill, itemsize), List (sorted, filtered, paged), Stat, Delete (views,
// cascade), Seal, Slice and named views, Copy, Read and Write (chunking,
// orders, byte ranges, parts), Watch -- and the quotas.
// Nothing waits by sleeping: every wait polls with a deadline.

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/sync_stream.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/daemon_fixture.h"
#include "shmarray/shm/format.h"
#include "shmarray/shm/index.h"
#include "shmarray/shm/layout.h"
#include "shmarray/shm/segment.h"
#include "shmarray/v1/array_service.grpc.pb.h"

namespace shmarray {
namespace {

using ::shmarray::testing::Api;
using ::shmarray::testing::Contiguous;
using ::shmarray::testing::CreateReq;
using ::shmarray::testing::DaemonTest;
using ::shmarray::testing::DataMsg;
using ::shmarray::testing::DescribeStatus;
using ::shmarray::testing::FileExists;
using ::shmarray::testing::FileMode;
using ::shmarray::testing::Gather;
using ::shmarray::testing::kMiB;
using ::shmarray::testing::LayoutOf;
using ::shmarray::testing::Pattern;
using ::shmarray::testing::SameInfo;
using ::shmarray::testing::Scatter;
using ::shmarray::testing::TargetMsg;
using ::shmarray::testing::TextIndex;
using ::shmarray::testing::WithFlags;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAreArray;
using Code = grpc::StatusCode;

// Expects `info` to describe exactly `layout`.
void ExpectLayout(const v1::ArrayInfo& info, const shm::Layout& layout) {
  EXPECT_EQ(info.itemsize(), layout.itemsize) << info.DebugString();
  EXPECT_THAT(info.shape(), ElementsAreArray(layout.shape)) << info.DebugString();
  EXPECT_THAT(info.strides(), ElementsAreArray(layout.strides)) << info.DebugString();
  EXPECT_EQ(info.offset(), layout.offset) << info.DebugString();
  EXPECT_EQ(info.nbytes(), layout.nbytes()) << info.DebugString();
  EXPECT_EQ(info.c_contiguous(), layout.is_c_contig()) << info.DebugString();
  EXPECT_EQ(info.f_contiguous(), layout.is_f_contig()) << info.DebugString();
}

TEST_F(DaemonTest, CreateDescribesTheArrayFully) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  struct Case {
    std::string name, format;
    std::vector<int64_t> shape;
    v1::Order order;
  };
  const std::vector<Case> cases = {
      {"c/int", "i", {3, 4}, v1::ORDER_C},           {"c/dbl_f", "d", {4, 3, 2}, v1::ORDER_F},
      {"c/bytes", "", {7}, v1::ORDER_UNSPECIFIED},   {"c/zero_d", "<q", {}, v1::ORDER_C},
      {"c/empty", "f", {0, 5}, v1::ORDER_C},         {"c/cplx", "Zd", {2, 2}, v1::ORDER_F},
      {"c/struct", "T{i:a:d:b:}", {3}, v1::ORDER_C},
  };
  const int64_t before_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
  std::set<uint64_t> generations;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    v1::ArrayInfo info;
    SHMARRAY_ASSERT_RPC_OK(api_->Create(c.name, c.format, c.shape, c.order, &info));
    const shm::Format format = shm::Format::Parse(c.format.empty() ? "B" : c.format);
    EXPECT_EQ(info.name(), c.name);
    EXPECT_EQ(info.format(), format.canonical());
    ExpectLayout(info, Contiguous(format.itemsize(), c.shape,
                                  c.order == v1::ORDER_F ? shm::Order::kF : shm::Order::kC));
    EXPECT_FALSE(info.readonly());
    EXPECT_NE(info.generation(), 0u);
    EXPECT_TRUE(generations.insert(info.generation()).second) << "generation reused";
    EXPECT_EQ(info.base(), "");
    EXPECT_EQ(info.kind(), v1::ARRAY_KIND_ARRAY);
    EXPECT_EQ(info.data_offset(), shm::kDataOffset);
    EXPECT_GE(info.data_size(), info.nbytes());
    EXPECT_EQ(info.segment_size(), info.data_offset() + info.data_size());
    EXPECT_THAT(info.segment_name(), ::testing::StartsWith(daemon_->segment_prefix() + "/"));
    EXPECT_TRUE(FileExists("/dev/shm/" + info.segment_name()));
    EXPECT_GE(info.created_unix_ns(), before_ns);
    // A fresh array reads as zeros.
    std::string bytes;
    SHMARRAY_ASSERT_RPC_OK(api_->Read(c.name, "", &bytes));
    EXPECT_EQ(bytes, std::string(static_cast<size_t>(info.nbytes()), '\0'));
    // Stat says the same as Create.
    v1::ArrayInfo stat;
    SHMARRAY_ASSERT_RPC_OK(api_->Stat(c.name, &stat));
    EXPECT_TRUE(SameInfo(info, stat)) << info.DebugString() << "\nvs\n" << stat.DebugString();
  }
  EXPECT_EQ(daemon_->ListSegments().size(), cases.size());
  DeleteEverything();
}

TEST_F(DaemonTest, CreateWithFillAndItemsize) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  const std::string item("\x01\x02\x03\x04", 4);
  v1::ArrayInfo info;
  SHMARRAY_ASSERT_RPC_OK(api_->Create(CreateReq("fill/a", "<i", {2, 3}, v1::ORDER_C, item), &info));
  std::string bytes;
  SHMARRAY_ASSERT_RPC_OK(api_->Read("fill/a", "", &bytes));
  std::string expected;
  for (int i = 0; i < 6; ++i) expected += item;
  EXPECT_EQ(bytes, expected);

  // itemsize larger than the format's: trailing padding, kept as given.
  SHMARRAY_ASSERT_RPC_OK(
      api_->Create(CreateReq("fill/padded", "<h", {3}, v1::ORDER_C, "", 8), &info));
  EXPECT_EQ(info.itemsize(), 8);
  EXPECT_THAT(info.strides(), ElementsAre(8));
  EXPECT_EQ(info.nbytes(), 24);
  const std::string item8 = Pattern(8, 3);
  SHMARRAY_ASSERT_RPC_OK(
      api_->Create(CreateReq("fill/padded2", "<h", {2}, v1::ORDER_C, item8, 8), &info));
  SHMARRAY_ASSERT_RPC_OK(api_->Read("fill/padded2", "", &bytes));
  EXPECT_EQ(bytes, item8 + item8);
  DeleteEverything();
}

TEST_F(DaemonTest, ListIsSortedFilteredAndPaged) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  for (const char* name : {"l/c", "l/a", "m/x", "l/b", "l2", "l/d/e"}) {
    SHMARRAY_ASSERT_RPC_OK(api_->Create(name, "B", {4}));
  }
  SHMARRAY_ASSERT_RPC_OK(api_->Slice("l/a", "1:", "l/v"));
  std::vector<std::string> names;
  SHMARRAY_ASSERT_RPC_OK(api_->ListNames("l/", &names));
  EXPECT_THAT(names, ElementsAre("l/a", "l/b", "l/c", "l/d/e", "l/v"));
  for (int page_size : {1, 2, 3, 1000}) {
    SCOPED_TRACE(page_size);
    SHMARRAY_ASSERT_RPC_OK(api_->ListNames("l/", &names, page_size));
    EXPECT_THAT(names, ElementsAre("l/a", "l/b", "l/c", "l/d/e", "l/v"));
  }
  SHMARRAY_ASSERT_RPC_OK(api_->ListNames("", &names, 2));
  EXPECT_THAT(names, ElementsAre("l/a", "l/b", "l/c", "l/d/e", "l/v", "l2", "m/x"));
  SHMARRAY_ASSERT_RPC_OK(api_->ListNames("zzz", &names));
  EXPECT_THAT(names, IsEmpty());

  // A page holds at most page_size entries and full descriptions.
  v1::ListRequest req;
  req.set_prefix("l/");
  req.set_page_size(2);
  v1::ListResponse resp;
  SHMARRAY_ASSERT_RPC_OK(api_->List(req, &resp));
  ASSERT_EQ(resp.arrays_size(), 2);
  EXPECT_FALSE(resp.next_page_token().empty());
  v1::ArrayInfo stat;
  SHMARRAY_ASSERT_RPC_OK(api_->Stat("l/a", &stat));
  EXPECT_TRUE(SameInfo(resp.arrays(0), stat)) << resp.arrays(0).DebugString();
  DeleteEverything();
}

TEST_F(DaemonTest, DeleteRemovesNameAndSegment) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  v1::ArrayInfo info;
  SHMARRAY_ASSERT_RPC_OK(api_->Create("d/a", "d", {10}, v1::ORDER_C, &info));
  ASSERT_TRUE(FileExists("/dev/shm/" + info.segment_name()));
  v1::DeleteResponse resp;
  SHMARRAY_ASSERT_RPC_OK(api_->Delete("d/a", false, &resp));
  EXPECT_THAT(resp.deleted(), ElementsAre("d/a"));
  EXPECT_FALSE(FileExists("/dev/shm/" + info.segment_name()));
  SHMARRAY_EXPECT_RPC_CODE(api_->Stat("d/a"), Code::NOT_FOUND);
  SHMARRAY_EXPECT_RPC_CODE(api_->Delete("d/a"), Code::NOT_FOUND);
  // The name is free at once, with a new generation.
  v1::ArrayInfo again;
  SHMARRAY_ASSERT_RPC_OK(api_->Create("d/a", "d", {10}, v1::ORDER_C, &again));
  EXPECT_NE(again.generation(), info.generation());
  EXPECT_NE(again.segment_name(), info.segment_name());
  DeleteEverything();
}

TEST_F(DaemonTest, DeleteOfBaseIsRefusedWhileViewsExistUnlessCascade) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  SHMARRAY_ASSERT_RPC_OK(api_->Create("v/base", "<i", {4, 4}));
  SHMARRAY_ASSERT_RPC_OK(api_->Slice("v/base", "::2", "v/even"));
  SHMARRAY_ASSERT_RPC_OK(api_->Slice("v/base", "..., 1", "v/col1"));
  const std::vector<std::string> before = daemon_->ListSegments();
  EXPECT_EQ(before.size(), 3u);  // one array, two header-only view segments

  const grpc::Status refused = api_->Delete("v/base");
  EXPECT_EQ(refused.error_code(), Code::FAILED_PRECONDITION) << DescribeStatus(refused);
  EXPECT_THAT(refused.error_message(), HasSubstr("v/even"));
  EXPECT_THAT(refused.error_message(), HasSubstr("v/col1"));
  EXPECT_EQ(daemon_->ListSegments(), before);
  SHMARRAY_EXPECT_RPC_OK(api_->Stat("v/base"));

  // Deleting a view alone is fine and leaves the base.
  v1::DeleteResponse resp;
  SHMARRAY_ASSERT_RPC_OK(api_->Delete("v/col1", false, &resp));
  EXPECT_THAT(resp.deleted(), ElementsAre("v/col1"));
  SHMARRAY_EXPECT_RPC_OK(api_->Stat("v/base"));
  EXPECT_EQ(daemon_->ListSegments().size(), 2u);

  SHMARRAY_ASSERT_RPC_OK(api_->Slice("v/base", "1:3, 1:3", "v/mid"));
  SHMARRAY_ASSERT_RPC_OK(api_->Delete("v/base", /*cascade=*/true, &resp));
  ASSERT_EQ(resp.deleted_size(), 3);
  EXPECT_EQ(resp.deleted(0), "v/base");
  EXPECT_THAT(std::vector<std::string>(resp.deleted().begin() + 1, resp.deleted().end()),
              UnorderedElementsAreArray({"v/even", "v/mid"}));
  for (const char* name : {"v/base", "v/even", "v/mid"}) {
    SHMARRAY_EXPECT_RPC_CODE(api_->Stat(name), Code::NOT_FOUND);
  }
  EXPECT_THAT(daemon_->ListSegments(), IsEmpty());
}

TEST_F(DaemonTest, SealMakesReadOnlyForGood) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  const std::string data = Pattern(48, 1);
  SHMARRAY_ASSERT_RPC_OK(api_->Create("s/a", "<i", {3, 4}));
  SHMARRAY_ASSERT_RPC_OK(api_->Write("s/a", "", data));
  SHMARRAY_ASSERT_RPC_OK(api_->Slice("s/a", "1:", "s/before"));
  v1::ArrayInfo info;
  SHMARRAY_ASSERT_RPC_OK(api_->Seal("s/a", &info));
  EXPECT_TRUE(info.readonly());
  EXPECT_EQ(info.name(), "s/a");
  SHMARRAY_ASSERT_RPC_OK(api_->Stat("s/a", &info));
  EXPECT_TRUE(info.readonly());
  // The file mode lost every write bit.
  EXPECT_EQ(FileMode("/dev/shm/" + info.segment_name()) & 0222, 0u);
  // Views of a sealed array are read-only, whenever they were made.
  SHMARRAY_ASSERT_RPC_OK(api_->Stat("s/before", &info));
  EXPECT_TRUE(info.readonly());
  SHMARRAY_ASSERT_RPC_OK(api_->Slice("s/a", "::2", "s/after", &info));
  EXPECT_TRUE(info.readonly());
  SHMARRAY_ASSERT_RPC_OK(api_->Slice("s/a", "0", "", &info));
  EXPECT_TRUE(info.readonly());

  SHMARRAY_EXPECT_RPC_CODE(api_->Write("s/a", "", Pattern(48, 2)), Code::FAILED_PRECONDITION);
  SHMARRAY_EXPECT_RPC_CODE(api_->Write("s/before", "", Pattern(32, 2)), Code::FAILED_PRECONDITION);
  // Reads and copies out still work; the copy is writable.
  std::string bytes;
  SHMARRAY_ASSERT_RPC_OK(api_->Read("s/a", "", &bytes));
  EXPECT_EQ(bytes, data);
  v1::CopyRequest copy;
  copy.set_source("s/a");
  copy.set_new_name("s/copy");
  SHMARRAY_ASSERT_RPC_OK(api_->Copy(copy, &info));
  EXPECT_FALSE(info.readonly());
  SHMARRAY_EXPECT_RPC_OK(api_->Write("s/copy", "0", Pattern(16, 4)));
  DeleteEverything();
}

TEST_F(DaemonTest, SliceComputesNumpyLayouts) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  v1::ArrayInfo base;
  SHMARRAY_ASSERT_RPC_OK(api_->Create("sl/a", "<d", {5, 6, 7}, v1::ORDER_C, &base));
  const std::string data = Pattern(5 * 6 * 7 * 8, 9);
  SHMARRAY_ASSERT_RPC_OK(api_->Write("sl/a", "", data));
  const shm::Layout layout = LayoutOf(base);
  const std::vector<std::string> texts = {"",
                                          "1",
                                          "::-1",
                                          "1:4, ::2, -1",
                                          "..., None",
                                          "-2:, 1, :0",
                                          "None, ::-2, 3:1:-1",
                                          "4:0:-3, ..., 6"};
  const std::vector<std::string> before = daemon_->ListSegments();
  for (const std::string& text : texts) {
    SCOPED_TRACE(text);
    v1::ArrayInfo info;
    SHMARRAY_ASSERT_RPC_OK(api_->Slice("sl/a", text, "", &info));
    const shm::Layout expected = layout.slice(shm::ParseIndex(text));
    ExpectLayout(info, expected);
    EXPECT_EQ(info.format(), base.format());
    EXPECT_EQ(info.generation(), base.generation());
    EXPECT_EQ(info.segment_name(), base.segment_name());
    std::string bytes;
    SHMARRAY_ASSERT_RPC_OK(api_->Read("sl/a", text, &bytes));
    EXPECT_EQ(bytes, Gather(data, expected, shm::Order::kC));
  }
  // The structured form means the same as the text.
  v1::SliceRequest req;
  req.set_name("sl/a");
  req.mutable_index()->add_items()->set_index(-1);
  v1::SliceItem* s = req.mutable_index()->add_items()->mutable_slice();
  s->set_start(5);
  s->set_step(-2);
  req.mutable_index()->add_items()->mutable_new_axis();
  req.mutable_index()->add_items()->mutable_ellipsis();
  v1::ArrayInfo info;
  SHMARRAY_ASSERT_RPC_OK(api_->Slice(req, &info));
  ExpectLayout(info, layout.slice(shm::ParseIndex("-1, 5::-2, None, ...")));
  // No name: nothing registered.
  EXPECT_EQ(daemon_->ListSegments(), before);
  std::vector<std::string> names;
  SHMARRAY_ASSERT_RPC_OK(api_->ListNames("", &names));
  EXPECT_THAT(names, ElementsAre("sl/a"));
  DeleteEverything();
}

TEST_F(DaemonTest, NamedViewIsAnEntryThatSharesTheBase) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  v1::ArrayInfo base;
  SHMARRAY_ASSERT_RPC_OK(api_->Create("nv/a", "<i", {4, 5}, v1::ORDER_F, &base));
  std::string region = Pattern(80, 5);
  SHMARRAY_ASSERT_RPC_OK(api_->Write("nv/a", "", region, v1::ORDER_F));
  v1::ArrayInfo view;
  SHMARRAY_ASSERT_RPC_OK(api_->Slice("nv/a", "::-1, 1:4", "nv/v", &view));
  const shm::Layout expected = LayoutOf(base).slice(shm::ParseIndex("::-1, 1:4"));
  ExpectLayout(view, expected);
  EXPECT_EQ(view.name(), "nv/v");
  EXPECT_EQ(view.kind(), v1::ARRAY_KIND_VIEW);
  EXPECT_EQ(view.base(), "nv/a");
  EXPECT_EQ(view.base_generation(), base.generation());
  EXPECT_EQ(view.segment_name(), base.segment_name());
  EXPECT_EQ(view.data_size(), base.data_size());
  v1::ArrayInfo stat;
  SHMARRAY_ASSERT_RPC_OK(api_->Stat("nv/v", &stat));
  EXPECT_TRUE(SameInfo(view, stat)) << view.DebugString() << "\nvs\n" << stat.DebugString();

  std::string bytes;
  SHMARRAY_ASSERT_RPC_OK(api_->Read("nv/v", "", &bytes));
  EXPECT_EQ(bytes, Gather(region, expected, shm::Order::kC));
  // A view of a view composes.
  SHMARRAY_ASSERT_RPC_OK(api_->Read("nv/v", "1, ::2", &bytes));
  EXPECT_EQ(bytes, Gather(region, expected.slice(shm::ParseIndex("1, ::2")), shm::Order::kC));
  // Writing through the view lands in the base.
  const std::string patch = Pattern(4 * 3 * 4, 6);
  SHMARRAY_ASSERT_RPC_OK(api_->Write("nv/v", "", patch));
  Scatter(&region, expected, shm::Order::kC, patch);
  SHMARRAY_ASSERT_RPC_OK(api_->Read("nv/a", "", &bytes, v1::ORDER_F));
  EXPECT_EQ(bytes, region);
  // A named view of a named view names the array as its base.
  SHMARRAY_ASSERT_RPC_OK(api_->Slice("nv/v", "0", "nv/vv", &view));
  EXPECT_EQ(view.base(), "nv/a");
  DeleteEverything();
}

TEST_F(DaemonTest, CopyMaterializesAndCopiesBetweenArrays) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  v1::ArrayInfo src;
  SHMARRAY_ASSERT_RPC_OK(api_->Create("cp/a", "<q", {6, 5}, v1::ORDER_C, &src));
  const std::string data = Pattern(6 * 5 * 8, 11);
  SHMARRAY_ASSERT_RPC_OK(api_->Write("cp/a", "", data));
  const shm::Layout sel = LayoutOf(src).slice(shm::ParseIndex("::2, 1:"));

  for (v1::Order order : {v1::ORDER_C, v1::ORDER_F}) {
    SCOPED_TRACE(order);
    const std::string name = order == v1::ORDER_C ? "cp/c" : "cp/f";
    v1::CopyRequest req;
    req.set_source("cp/a");
    *req.mutable_source_index() = TextIndex("::2, 1:");
    req.set_new_name(name);
    req.set_order(order);
    v1::ArrayInfo info;
    SHMARRAY_ASSERT_RPC_OK(api_->Copy(req, &info));
    EXPECT_EQ(info.name(), name);
    EXPECT_EQ(info.format(), src.format());
    EXPECT_NE(info.generation(), src.generation());
    ExpectLayout(info,
                 Contiguous(8, {3, 4}, order == v1::ORDER_C ? shm::Order::kC : shm::Order::kF));
    std::string bytes;
    SHMARRAY_ASSERT_RPC_OK(api_->Read(name, "", &bytes));
    EXPECT_EQ(bytes, Gather(data, sel, shm::Order::kC));
  }
  // Into an existing array: cp/a[1, 1:] -> cp/c[2].
  v1::CopyRequest into;
  into.set_source("cp/a");
  *into.mutable_source_index() = TextIndex("1, 1:");
  into.set_destination("cp/c");
  *into.mutable_destination_index() = TextIndex("2");
  v1::ArrayInfo info;
  SHMARRAY_ASSERT_RPC_OK(api_->Copy(into, &info));
  std::string row;
  SHMARRAY_ASSERT_RPC_OK(api_->Read("cp/c", "2", &row));
  EXPECT_EQ(row, Gather(data, LayoutOf(src).slice(shm::ParseIndex("1, 1:")), shm::Order::kC));
  // Broadcasting as Cython: a source axis of extent 1 is repeated.
  into.set_source("cp/a");
  *into.mutable_source_index() = TextIndex("0:1, 1:");
  into.set_destination("cp/f");
  into.clear_destination_index();
  SHMARRAY_ASSERT_RPC_OK(api_->Copy(into, &info));
  std::string all;
  SHMARRAY_ASSERT_RPC_OK(api_->Read("cp/f", "", &all));
  const std::string row0 =
      Gather(data, LayoutOf(src).slice(shm::ParseIndex("0, 1:")), shm::Order::kC);
  EXPECT_EQ(all, row0 + row0 + row0);
  DeleteEverything();
}

TEST_F(DaemonTest, ReadStreamsChunksInEitherOrder) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  v1::ArrayInfo info;
  SHMARRAY_ASSERT_RPC_OK(api_->Create("rd/a", "<H", {9, 7}, v1::ORDER_C, &info));
  const std::string data = Pattern(9 * 7 * 2, 12);
  SHMARRAY_ASSERT_RPC_OK(api_->Write("rd/a", "", data));
  const shm::Layout layout = LayoutOf(info);

  v1::ReadRequest req;
  req.set_name("rd/a");
  req.set_order(v1::ORDER_F);
  req.set_chunk_size(10);
  std::string bytes;
  v1::ArrayInfo header;
  int chunks = 0;
  SHMARRAY_ASSERT_RPC_OK(api_->Read(req, &bytes, &header, &chunks));
  EXPECT_EQ(bytes, Gather(data, layout, shm::Order::kF));
  EXPECT_EQ(chunks, 1);  // chunk_size 10 is raised to the 64 KiB floor
  // The header describes the stream: contiguous in the requested order.
  EXPECT_THAT(header.shape(), ElementsAre(9, 7));
  EXPECT_TRUE(header.f_contiguous());
  EXPECT_EQ(header.format(), info.format());

  *req.mutable_index() = TextIndex("1::3, ::-2");
  req.set_order(v1::ORDER_C);
  req.set_chunk_size(0);
  SHMARRAY_ASSERT_RPC_OK(api_->Read(req, &bytes, &header, &chunks));
  EXPECT_EQ(bytes, Gather(data, layout.slice(shm::ParseIndex("1::3, ::-2")), shm::Order::kC));
  EXPECT_EQ(chunks, 1);
  EXPECT_THAT(header.shape(), ElementsAre(3, 4));

  // Empty selection: a header and no data.
  SHMARRAY_ASSERT_RPC_OK(api_->Read("rd/a", "3:3", &bytes));
  EXPECT_EQ(bytes, "");
  // A big array arrives in chunks of at most 4 MiB.
  SHMARRAY_ASSERT_RPC_OK(api_->Create("rd/big", "B", {9 * kMiB + 5}));
  const std::string big = Pattern(9 * kMiB + 5, 13);
  SHMARRAY_ASSERT_RPC_OK(api_->Write("rd/big", "", big));
  req.Clear();
  req.set_name("rd/big");
  req.set_chunk_size(64 << 20);
  SHMARRAY_ASSERT_RPC_OK(api_->Read(req, &bytes, &header, &chunks));
  EXPECT_TRUE(bytes == big);
  EXPECT_GE(chunks, 3);
  // A tiny chunk_size does not make a message per byte: 64 KiB at least.
  req.set_chunk_size(1);
  SHMARRAY_ASSERT_RPC_OK(api_->Read(req, &bytes, &header, &chunks));
  EXPECT_TRUE(bytes == big);
  EXPECT_EQ(chunks, (9 * kMiB + 5 + 65535) / 65536);
  DeleteEverything();
}

// Byte ranges (the parts of a split transfer): a Read of [offset, offset +
// count) of a strided selection's stream carries exactly those bytes after
// the whole selection's description; a count past the end is cut there.
TEST_F(DaemonTest, ReadOfAByteRangeCarriesThoseBytesOfTheStream) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  v1::ArrayInfo info;
  SHMARRAY_ASSERT_RPC_OK(api_->Create("br/a", "<i", {8, 10}, v1::ORDER_C, &info));
  SHMARRAY_ASSERT_RPC_OK(api_->Write("br/a", "", Pattern(320, 41)));
  for (const v1::Order order : {v1::ORDER_C, v1::ORDER_F}) {
    std::string whole;
    SHMARRAY_ASSERT_RPC_OK(api_->Read("br/a", "::-2, 1::3", &whole, order));
    ASSERT_EQ(whole.size(), 4u * 3u * 4u);
    const int64_t n = static_cast<int64_t>(whole.size());
    for (const auto& [offset, count] : std::vector<std::pair<int64_t, int64_t>>{
             {0, 0}, {0, 5}, {5, 0}, {7, 13}, {n - 1, 1}, {n, 0}, {n, 3}, {10, 1000}}) {
      v1::ReadRequest req;
      req.set_name("br/a");
      *req.mutable_index() = TextIndex("::-2, 1::3");
      req.set_order(order);
      req.set_byte_offset(offset);
      req.set_byte_count(count);
      req.set_generation(info.generation());
      std::string bytes;
      v1::ArrayInfo described;
      SCOPED_TRACE(absl::StrCat("offset ", offset, ", count ", count));
      SHMARRAY_ASSERT_RPC_OK(api_->Read(req, &bytes, &described));
      const size_t end = count == 0 ? whole.size() : std::min<size_t>(whole.size(), offset + count);
      EXPECT_EQ(bytes, whole.substr(offset, end - offset));
      EXPECT_THAT(described.shape(), ElementsAre(4, 3));  // the whole selection
    }
  }
  v1::ReadRequest req;
  req.set_name("br/a");
  std::string bytes;
  req.set_byte_offset(321);
  SHMARRAY_EXPECT_RPC_CODE(api_->Read(req, &bytes), Code::OUT_OF_RANGE);
  req.set_byte_offset(-1);
  SHMARRAY_EXPECT_RPC_CODE(api_->Read(req, &bytes), Code::INVALID_ARGUMENT);
  req.set_byte_offset(0);
  req.set_byte_count(-5);
  SHMARRAY_EXPECT_RPC_CODE(api_->Read(req, &bytes), Code::INVALID_ARGUMENT);
  req.set_byte_count(0);
  req.set_generation(info.generation() + 1);
  SHMARRAY_EXPECT_RPC_CODE(api_->Read(req, &bytes), Code::FAILED_PRECONDITION);
  DeleteEverything();
}

// Write parts (WriteTarget.byte_offset set): each lands at its offset of the
// selection's stream; a part past the end, a negative offset, or a stale
// generation is refused before a byte lands.
TEST_F(DaemonTest, WritePartsLandAtTheirOffsetsOfTheSelection) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  v1::ArrayInfo info;
  SHMARRAY_ASSERT_RPC_OK(api_->Create("bw/a", "<h", {6, 8}, v1::ORDER_C, &info));
  const std::string before = Pattern(96, 42);
  SHMARRAY_ASSERT_RPC_OK(api_->Write("bw/a", "", before));
  const std::string index = "1::2, ::-1";  // 3 x 8 items of 2 bytes
  const std::string patch = Pattern(48, 43);
  // Three parts, sent out of order, each in odd-sized chunks.
  for (const auto& [begin, end] :
       std::vector<std::pair<int64_t, int64_t>>{{30, 48}, {0, 11}, {11, 30}}) {
    std::vector<v1::WriteRequest> msgs = {TargetMsg("bw/a", index, end - begin, v1::ORDER_F)};
    msgs[0].mutable_target()->set_byte_offset(begin);
    msgs[0].mutable_target()->set_generation(info.generation());
    for (int64_t at = begin; at < end; at += 7) {
      msgs.push_back(DataMsg(patch.substr(at, std::min<int64_t>(7, end - at))));
    }
    v1::WriteResponse resp;
    SCOPED_TRACE(absl::StrCat("part at ", begin));
    SHMARRAY_ASSERT_RPC_OK(api_->Write(msgs, &resp));
    EXPECT_EQ(resp.bytes_written(), end - begin);
  }
  std::string expected = before;
  Scatter(&expected, LayoutOf(info).slice(shm::ParseIndex(index)), shm::Order::kF, patch);
  std::string bytes;
  SHMARRAY_ASSERT_RPC_OK(api_->Read("bw/a", "", &bytes));
  EXPECT_EQ(bytes, expected);

  // Refused parts change nothing.
  const auto part = [&](int64_t offset, int64_t nbytes, uint64_t generation) {
    std::vector<v1::WriteRequest> msgs = {TargetMsg("bw/a", index, nbytes)};
    msgs[0].mutable_target()->set_byte_offset(offset);
    msgs[0].mutable_target()->set_generation(generation);
    if (nbytes > 0) msgs.push_back(DataMsg(std::string(static_cast<size_t>(nbytes), 'x')));
    return api_->Write(msgs);
  };
  SHMARRAY_EXPECT_RPC_CODE(part(40, 9, 0), Code::OUT_OF_RANGE);
  SHMARRAY_EXPECT_RPC_CODE(part(49, 0, 0), Code::OUT_OF_RANGE);
  SHMARRAY_EXPECT_RPC_CODE(part(-1, 1, 0), Code::INVALID_ARGUMENT);
  SHMARRAY_EXPECT_RPC_CODE(part(0, -1, 0), Code::INVALID_ARGUMENT);
  SHMARRAY_EXPECT_RPC_CODE(part(0, 4, info.generation() + 1), Code::FAILED_PRECONDITION);
  SHMARRAY_ASSERT_RPC_OK(api_->Read("bw/a", "", &bytes));
  EXPECT_EQ(bytes, expected);
  // A part that carries more or fewer bytes than its nbytes fails as a
  // whole write does.
  std::vector<v1::WriteRequest> msgs = {TargetMsg("bw/a", index, 4)};
  msgs[0].mutable_target()->set_byte_offset(2);
  msgs.push_back(DataMsg("abcdef"));
  SHMARRAY_EXPECT_RPC_CODE(api_->Write(msgs), Code::INVALID_ARGUMENT);
  DeleteEverything();
}

TEST_F(DaemonTest, WriteAcceptsAnyChunkingAndOrder) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  v1::ArrayInfo info;
  SHMARRAY_ASSERT_RPC_OK(api_->Create("wr/a", "<f", {4, 6}, v1::ORDER_F, &info));
  std::string region(96, '\0');
  const shm::Layout layout = LayoutOf(info);

  // Whole array in C order, 7-byte chunks (not item aligned).
  const std::string whole = Pattern(96, 14);
  v1::WriteResponse resp;
  SHMARRAY_ASSERT_RPC_OK(api_->Write("wr/a", "", whole, v1::ORDER_C, &resp, 7));
  EXPECT_EQ(resp.bytes_written(), 96);
  Scatter(&region, layout, shm::Order::kC, whole);
  std::string bytes;
  SHMARRAY_ASSERT_RPC_OK(api_->Read("wr/a", "", &bytes, v1::ORDER_F));
  EXPECT_EQ(bytes, region);

  // A strided selection in F order.
  const shm::Layout sel = layout.slice(shm::ParseIndex("::-2, 1::2"));
  const std::string patch = Pattern(2 * 3 * 4, 15);
  SHMARRAY_ASSERT_RPC_OK(api_->Write("wr/a", "::-2, 1::2", patch, v1::ORDER_F, &resp, 5));
  EXPECT_EQ(resp.bytes_written(), 24);
  ExpectLayout(resp.info(), sel);
  Scatter(&region, sel, shm::Order::kF, patch);
  SHMARRAY_ASSERT_RPC_OK(api_->Read("wr/a", "", &bytes, v1::ORDER_F));
  EXPECT_EQ(bytes, region);

  // Explicit matching format spellings are accepted.
  std::vector<v1::WriteRequest> msgs = {TargetMsg("wr/a", "0, 0", 4, v1::ORDER_C, "f"),
                                        DataMsg(std::string("\0\0\x80\x3f", 4))};
  SHMARRAY_ASSERT_RPC_OK(api_->Write(msgs, &resp));
  SHMARRAY_ASSERT_RPC_OK(api_->Read("wr/a", "0, 0", &bytes));
  EXPECT_EQ(bytes, std::string("\0\0\x80\x3f", 4));
  // A 0-d array and a zero-byte write.
  SHMARRAY_ASSERT_RPC_OK(api_->Create("wr/scalar", "<d", {}));
  SHMARRAY_ASSERT_RPC_OK(api_->Write("wr/scalar", "", Pattern(8, 16), v1::ORDER_C, &resp));
  EXPECT_EQ(resp.bytes_written(), 8);
  SHMARRAY_ASSERT_RPC_OK(api_->Read("wr/scalar", "", &bytes));
  EXPECT_EQ(bytes, Pattern(8, 16));
  SHMARRAY_ASSERT_RPC_OK(api_->Write("wr/a", "2:2", "", v1::ORDER_C, &resp));
  EXPECT_EQ(resp.bytes_written(), 0);
  DeleteEverything();
}

// Events of a Watch stream, read by a thread.
class WatchReader {
 public:
  WatchReader(const Api& api, const std::string& prefix) {
    api.Prepare(&ctx_);
    v1::WatchRequest req;
    req.set_prefix(prefix);
    reader_ = api.stub()->Watch(&ctx_, req);
    thread_ = std::thread([this] {
      v1::WatchEvent event;
      while (reader_->Read(&event)) {
        std::lock_guard<std::mutex> lock(mu_);
        events_.push_back(event);
        cv_.notify_all();
      }
      grpc::Status status = reader_->Finish();
      std::lock_guard<std::mutex> lock(mu_);
      status_ = status;
      done_ = true;
      cv_.notify_all();
    });
  }
  ~WatchReader() {
    ctx_.TryCancel();
    thread_.join();
  }
  // The next event, or nullopt after `timeout` or when the stream ended.
  std::optional<v1::WatchEvent> Next(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [this] { return !events_.empty() || done_; });
    if (events_.empty()) return std::nullopt;
    v1::WatchEvent event = events_.front();
    events_.pop_front();
    return event;
  }
  std::string status() {
    std::lock_guard<std::mutex> lock(mu_);
    return done_ ? DescribeStatus(status_) : "running";
  }

 private:
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<v1::WatchEvent>> reader_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<v1::WatchEvent> events_;
  bool done_ = false;
  grpc::Status status_;
};

TEST_F(DaemonTest, WatchStreamsCreatedSealedDeleted) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  WatchReader watch(*api_, "w/");
  // The watch is registered once an event for a probe arrives: create probes
  // until one is seen (bounded).
  bool synced = false;
  for (int i = 0; i < 40 && !synced; ++i) {
    SHMARRAY_ASSERT_RPC_OK(api_->Create("w/probe" + std::to_string(i), "B", {1}));
    for (;;) {
      std::optional<v1::WatchEvent> event = watch.Next(std::chrono::milliseconds(250));
      if (!event) break;
      if (event->type() == v1::WatchEvent::TYPE_CREATED) synced = true;
    }
  }
  ASSERT_TRUE(synced) << "no event for any probe; stream: " << watch.status();

  SHMARRAY_ASSERT_RPC_OK(api_->Create("other/x", "B", {1}));  // outside the prefix
  v1::ArrayInfo created;
  SHMARRAY_ASSERT_RPC_OK(api_->Create("w/a", "<i", {2}, v1::ORDER_C, &created));
  SHMARRAY_ASSERT_RPC_OK(api_->Seal("w/a"));
  SHMARRAY_ASSERT_RPC_OK(api_->Delete("w/a"));
  const auto timeout = std::chrono::seconds(10);
  std::optional<v1::WatchEvent> e1 = watch.Next(timeout);
  ASSERT_TRUE(e1.has_value()) << watch.status();
  EXPECT_EQ(e1->type(), v1::WatchEvent::TYPE_CREATED);
  EXPECT_EQ(e1->name(), "w/a");
  EXPECT_TRUE(SameInfo(e1->info(), created)) << e1->info().DebugString();
  EXPECT_GT(e1->unix_ns(), 0);
  std::optional<v1::WatchEvent> e2 = watch.Next(timeout);
  ASSERT_TRUE(e2.has_value()) << watch.status();
  EXPECT_EQ(e2->type(), v1::WatchEvent::TYPE_SEALED);
  EXPECT_EQ(e2->name(), "w/a");
  EXPECT_TRUE(e2->info().readonly());
  std::optional<v1::WatchEvent> e3 = watch.Next(timeout);
  ASSERT_TRUE(e3.has_value()) << watch.status();
  EXPECT_EQ(e3->type(), v1::WatchEvent::TYPE_DELETED);
  EXPECT_EQ(e3->name(), "w/a");
  EXPECT_GE(e3->unix_ns(), e1->unix_ns());
  DeleteEverything();
}

TEST_F(DaemonTest, QuotasAnswerResourceExhausted) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon(WithFlags({"--max-arrays", "3", "--max-bytes", "64K"})));
  SHMARRAY_ASSERT_RPC_OK(api_->Create("q/a", "B", {48 * 1024}));
  const grpc::Status over_bytes = api_->Create("q/b", "B", {32 * 1024});
  EXPECT_EQ(over_bytes.error_code(), Code::RESOURCE_EXHAUSTED) << DescribeStatus(over_bytes);
  v1::CopyRequest copy;
  copy.set_source("q/a");
  copy.set_new_name("q/c");
  SHMARRAY_EXPECT_RPC_CODE(api_->Copy(copy), Code::RESOURCE_EXHAUSTED);
  SHMARRAY_ASSERT_RPC_OK(api_->Create("q/b", "B", {8 * 1024}));
  SHMARRAY_ASSERT_RPC_OK(api_->Slice("q/a", "::2", "q/v"));  // a view is an entry, without bytes
  SHMARRAY_EXPECT_RPC_CODE(api_->Create("q/d", "B", {1}), Code::RESOURCE_EXHAUSTED);
  SHMARRAY_EXPECT_RPC_CODE(api_->Slice("q/a", "1::2", "q/w"), Code::RESOURCE_EXHAUSTED);
  EXPECT_EQ(daemon_->ListSegments().size(), 3u);
  SHMARRAY_ASSERT_RPC_OK(api_->Delete("q/v"));
  SHMARRAY_ASSERT_RPC_OK(api_->Create("q/d", "B", {4 * 1024}));
  SHMARRAY_ASSERT_RPC_OK(api_->Delete("q/a"));
  SHMARRAY_ASSERT_RPC_OK(api_->Create("q/e", "B", {48 * 1024}));  // the bytes came back
  DeleteEverything();
}

}  // namespace
}  // namespace shmarray
