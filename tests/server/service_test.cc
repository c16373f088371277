// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: service_test.cc
// -----------------------------------------------------------------------------
// Tests of server/src/service.cc and server.cc: the server runs in-process on a
// temporary Unix socket with a unique --instance; every RPC's success path and
// the error codes of docs/wire.md. Each test removes its segments and checks
// that nothing with its prefix stays in /dev/shm.

#include <gmock/gmock.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/rpc_method.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "shmarray/server/server.h"
#include "shmarray/shm/segment.h"
#include "shmarray/v1/array_service.grpc.pb.h"

namespace shmarray::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string UniqueInstance() {
  static std::atomic<int> counter{0};
  return "t" + std::to_string(getpid()) + "x" + std::to_string(counter++);
}

std::string I32Bytes(const std::vector<int32_t>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4);
}

std::vector<int32_t> I32s(const std::string& s) {
  std::vector<int32_t> v(s.size() / 4);
  std::memcpy(v.data(), s.data(), v.size() * 4);
  return v;
}

v1::Index Text(const std::string& text) {
  v1::Index i;
  i.set_text(text);
  return i;
}

// The number of threads of this process.
int ThreadCount() {
  int n = 0;
  for ([[maybe_unused]] const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    ++n;
  }
  return n;
}

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/shmarray-svc-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    instance_ = UniqueInstance();
    StartServer();
  }

  void TearDown() override {
    server_.reset();
    const std::string prefix = SegmentPrefix(instance_);
    auto names = shm::Segment::List(prefix);
    if (names.ok()) {
      for (const std::string& n : *names) (void)shm::Segment::Unlink(n);
    }
    ::rmdir(("/dev/shm/" + prefix).c_str());
    std::remove((dir_ + "/token").c_str());
    std::remove((dir_ + "/d.sock").c_str());
    ::rmdir(dir_.c_str());
  }

  void StartServer(const std::function<void(ServerOptions&)>& tweak = nullptr) {
    stub_.reset();
    server_.reset();
    ServerOptions o;
    o.socket_path = dir_ + "/d.sock";
    o.instance = instance_;
    o.log_level = LogLevel::kError;
    if (tweak) tweak(o);
    auto s = Server::Start(o);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
    channel_ = grpc::CreateChannel("unix:" + o.socket_path, grpc::InsecureChannelCredentials());
    stub_ = v1::ArrayService::NewStub(channel_);
  }

  // The segment files of the daemon's directory (the catalog file, see
  // shm/catalog_file.h, is not one).
  std::vector<std::string> Segments() {
    auto names = shm::Segment::List(SegmentPrefix(instance_));
    EXPECT_TRUE(names.ok());
    if (!names.ok()) return {};
    std::erase_if(*names, [](const std::string& n) { return n.ends_with("/catalog"); });
    return *names;
  }

  grpc::Status Create(const std::string& name, const std::string& format,
                      std::vector<int64_t> shape, v1::Order order = v1::ORDER_C,
                      const std::string& fill = "", v1::ArrayInfo* out = nullptr,
                      int64_t itemsize = 0) {
    v1::CreateRequest req;
    req.set_name(name);
    req.set_format(format);
    for (int64_t e : shape) req.add_shape(e);
    req.set_order(order);
    req.set_fill(fill);
    req.set_itemsize(itemsize);
    v1::ArrayInfo info;
    grpc::ClientContext ctx;
    grpc::Status s = stub_->Create(&ctx, req, out ? out : &info);
    return s;
  }

  grpc::Status Stat(const std::string& name, v1::ArrayInfo* out) {
    v1::StatRequest req;
    req.set_name(name);
    grpc::ClientContext ctx;
    return stub_->Stat(&ctx, req, out);
  }

  // A Watch stream whose subscription is active (its initial metadata came).
  struct WatchStream {
    grpc::ClientContext ctx;
    std::unique_ptr<grpc::ClientReader<v1::WatchEvent>> reader;
  };
  // `n` watches of `prefix`, each subscribed, with a 60 s deadline.
  std::vector<std::unique_ptr<WatchStream>> OpenWatches(const std::string& prefix, int n) {
    v1::WatchRequest req;
    req.set_prefix(prefix);
    std::vector<std::unique_ptr<WatchStream>> streams;
    for (int i = 0; i < n; ++i) {
      auto s = std::make_unique<WatchStream>();
      s->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
      s->reader = stub_->Watch(&s->ctx, req);
      s->reader->WaitForInitialMetadata();
      streams.push_back(std::move(s));
    }
    return streams;
  }

  grpc::Status Delete(const std::string& name, bool cascade,
                      std::vector<std::string>* deleted = nullptr) {
    v1::DeleteRequest req;
    req.set_name(name);
    req.set_cascade(cascade);
    v1::DeleteResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = stub_->Delete(&ctx, req, &resp);
    if (deleted) deleted->assign(resp.deleted().begin(), resp.deleted().end());
    return s;
  }

  struct ReadResult {
    grpc::Status status;
    v1::ArrayInfo info;
    std::string bytes;
    int data_messages = 0;
  };
  ReadResult Read(const std::string& name, const std::string& index, v1::Order order,
                  int32_t chunk = 0) {
    v1::ReadRequest req;
    req.set_name(name);
    *req.mutable_index() = Text(index);
    req.set_order(order);
    req.set_chunk_size(chunk);
    grpc::ClientContext ctx;
    auto reader = stub_->Read(&ctx, req);
    ReadResult r;
    v1::ReadResponse msg;
    bool first = true;
    while (reader->Read(&msg)) {
      if (first) {
        EXPECT_TRUE(msg.has_info());
        r.info = msg.info();
        first = false;
      } else {
        EXPECT_EQ(msg.payload_case(), v1::ReadResponse::kData);
        r.bytes += msg.data();
        ++r.data_messages;
      }
    }
    r.status = reader->Finish();
    return r;
  }

  grpc::Status Write(const std::string& name, const std::string& index, const std::string& format,
                     v1::Order order, int64_t nbytes, const std::string& data, size_t chunk,
                     v1::WriteResponse* out = nullptr) {
    grpc::ClientContext ctx;
    v1::WriteResponse resp;
    auto writer = stub_->Write(&ctx, out ? out : &resp);
    v1::WriteRequest first;
    first.mutable_target()->set_name(name);
    *first.mutable_target()->mutable_index() = Text(index);
    first.mutable_target()->set_format(format);
    first.mutable_target()->set_order(order);
    first.mutable_target()->set_nbytes(nbytes);
    if (writer->Write(first)) {
      for (size_t off = 0; off < data.size(); off += chunk) {
        v1::WriteRequest m;
        m.set_data(data.substr(off, chunk));
        if (!writer->Write(m)) break;
      }
    }
    writer->WritesDone();
    return writer->Finish();
  }

  // A Write stream of hand-made messages (serialized WriteRequests), each
  // sent as a ByteBuffer of two slices (its first byte, the rest) so that the
  // server sees more than the protobuf encoder would produce.
  grpc::Status WriteWire(const std::vector<std::string>& messages,
                         v1::WriteResponse* out = nullptr) {
    static const std::string name =
        std::string("/") + v1::ArrayService::service_full_name() + "/Write";
    const grpc::internal::RpcMethod method(name.c_str(),
                                           grpc::internal::RpcMethod::CLIENT_STREAMING);
    grpc::ClientContext ctx;
    v1::WriteResponse resp;
    std::unique_ptr<grpc::ClientWriter<grpc::ByteBuffer>> writer(
        grpc::internal::ClientWriterFactory<grpc::ByteBuffer>::Create(channel_.get(), method, &ctx,
                                                                      out ? out : &resp));
    for (const std::string& m : messages) {
      std::vector<grpc::Slice> parts;
      if (!m.empty()) parts.emplace_back(m.substr(0, 1));
      if (m.size() > 1) parts.emplace_back(m.substr(1));
      if (!writer->Write(grpc::ByteBuffer(parts.data(), parts.size()))) break;
    }
    writer->WritesDone();
    return writer->Finish();
  }

  static std::string TargetWire(const std::string& name, const std::string& index, int64_t nbytes) {
    v1::WriteRequest m;
    m.mutable_target()->set_name(name);
    *m.mutable_target()->mutable_index() = Text(index);
    m.mutable_target()->set_nbytes(nbytes);
    return m.SerializeAsString();
  }

  std::string dir_;
  std::string instance_;
  std::unique_ptr<Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::ArrayService::Stub> stub_;
};

TEST_F(ServiceTest, CreateAndStatDescribeTheArray) {
  v1::ArrayInfo info;
  ASSERT_TRUE(Create("x", "i", {3, 4}, v1::ORDER_C, "", &info).ok());
  EXPECT_EQ(info.name(), "x");
  EXPECT_EQ(info.format(), "<i");
  EXPECT_EQ(info.itemsize(), 4);
  EXPECT_THAT(info.shape(), ElementsAre(3, 4));
  EXPECT_THAT(info.strides(), ElementsAre(16, 4));
  EXPECT_EQ(info.nbytes(), 48);
  EXPECT_TRUE(info.c_contiguous());
  EXPECT_FALSE(info.f_contiguous());
  EXPECT_EQ(info.kind(), v1::ARRAY_KIND_ARRAY);
  EXPECT_EQ(info.data_offset(), 4096);
  EXPECT_EQ(info.segment_size(), 4096 + 48);
  EXPECT_EQ(
      info.segment_name(), server_->segment_prefix() + "/" + [&] {
        char buf[20];
        std::snprintf(buf, sizeof(buf), "%llx", static_cast<unsigned long long>(info.generation()));
        return std::string(buf);
      }());
  v1::ArrayInfo stat;
  ASSERT_TRUE(Stat("x", &stat).ok());
  EXPECT_EQ(stat.generation(), info.generation());
  EXPECT_EQ(Stat("nope", &stat).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Stat("", &stat).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  v1::ArrayInfo f;
  ASSERT_TRUE(Create("f", "d", {3, 4}, v1::ORDER_F, "", &f).ok());
  EXPECT_THAT(f.strides(), ElementsAre(8, 24));
  EXPECT_TRUE(f.f_contiguous());
  ASSERT_TRUE(Delete("x", false).ok());
  ASSERT_TRUE(Delete("f", false).ok());
}

TEST_F(ServiceTest, CreateRejectsBadInputWithTheTableCodes) {
  using grpc::StatusCode;
  EXPECT_EQ(Create("bad//name", "i", {1}).error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Create("a", "T{i:a", {1}).error_code(), StatusCode::INVALID_ARGUMENT);
  grpc::Status fmt = Create("a", "T{i:a", {1});
  EXPECT_THAT(fmt.error_message(), HasSubstr("is not a valid PEP 3118 buffer format string"));
  EXPECT_EQ(Create("a", "i", {2, -1}).error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Create("a", "i", std::vector<int64_t>(33, 1)).error_code(),
            StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Create("a", "d", {int64_t{1} << 40, int64_t{1} << 40}).error_code(),
            StatusCode::INVALID_ARGUMENT);
  grpc::Status fill = Create("a", "i", {2}, v1::ORDER_C, "abc");
  EXPECT_EQ(fill.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(fill.error_message(), HasSubstr("fill has 3 bytes"));
  EXPECT_EQ(Create("a", "i", {2}, v1::ORDER_C, "", nullptr, 2).error_code(),
            StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Create("a", "i", {2}, static_cast<v1::Order>(7)).error_code(),
            StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(Create("a", "i", {2}).ok());
  EXPECT_EQ(Create("a", "i", {2}).error_code(), StatusCode::ALREADY_EXISTS);
  EXPECT_THAT(Segments().size(), 1u);  // failures left nothing behind
  ASSERT_TRUE(Delete("a", false).ok());
}

TEST_F(ServiceTest, FillPaddingAndZeroSizeArrays) {
  // Itemsize 12 for "<i" (4 bytes of format, 8 of padding) filled with a pattern.
  std::string pattern = "ABCDEFGHIJKL";
  v1::ArrayInfo info;
  ASSERT_TRUE(Create("p", "<i", {5}, v1::ORDER_C, pattern, &info, 12).ok());
  EXPECT_EQ(info.itemsize(), 12);
  EXPECT_EQ(info.nbytes(), 60);
  ReadResult r = Read("p", "", v1::ORDER_C);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  std::string expected;
  for (int i = 0; i < 5; ++i) expected += pattern;
  EXPECT_EQ(r.bytes, expected);

  // A large non-zero fill (crosses the 1 MiB block size).
  const std::string one = I32Bytes({7});
  ASSERT_TRUE(Create("big", "i", {700000}, v1::ORDER_C, one).ok());
  ReadResult big = Read("big", "699998:", v1::ORDER_C);
  ASSERT_TRUE(big.status.ok());
  EXPECT_THAT(I32s(big.bytes), ElementsAre(7, 7));
  ASSERT_TRUE(Create("zero", "i", {4}, v1::ORDER_C, std::string(4, '\0')).ok());
  EXPECT_THAT(I32s(Read("zero", "", v1::ORDER_C).bytes), ElementsAre(0, 0, 0, 0));

  v1::ArrayInfo empty;
  ASSERT_TRUE(Create("empty", "d", {0, 3}, v1::ORDER_C, "", &empty).ok());
  EXPECT_EQ(empty.nbytes(), 0);
  ReadResult re = Read("empty", "", v1::ORDER_C);
  ASSERT_TRUE(re.status.ok());
  EXPECT_EQ(re.data_messages, 0);
  EXPECT_THAT(re.info.shape(), ElementsAre(0, 3));
  EXPECT_TRUE(Write("empty", "", "", v1::ORDER_C, 0, "", 1).ok());
  for (const char* n : {"p", "big", "zero", "empty"}) ASSERT_TRUE(Delete(n, false).ok());
}

TEST_F(ServiceTest, QuotasAreResourceExhausted) {
  StartServer([](ServerOptions& o) {
    o.max_arrays = 2;
    o.max_bytes = 1024;
  });
  grpc::Status big = Create("a", "d", {200});
  EXPECT_EQ(big.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(big.error_message(), HasSubstr("--max-bytes"));
  EXPECT_THAT(big.error_message(), HasSubstr("1024"));
  ASSERT_TRUE(Create("a", "d", {10}).ok());
  ASSERT_TRUE(Create("b", "d", {10}).ok());
  grpc::Status count = Create("c", "d", {1});
  EXPECT_EQ(count.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(count.error_message(), HasSubstr("--max-arrays"));
  ASSERT_TRUE(Delete("a", false).ok());
  ASSERT_TRUE(Delete("b", false).ok());
}

TEST_F(ServiceTest, ListPaginatesInSortedOrder) {
  for (int i = 0; i < 25; ++i) {
    char name[16];
    std::snprintf(name, sizeof(name), "p/%02d", 24 - i);
    ASSERT_TRUE(Create(name, "B", {1}).ok());
  }
  ASSERT_TRUE(Create("other", "B", {1}).ok());
  std::vector<std::string> names;
  std::string token;
  int pages = 0;
  do {
    v1::ListRequest req;
    req.set_prefix("p/");
    req.set_page_size(10);
    req.set_page_token(token);
    v1::ListResponse resp;
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->List(&ctx, req, &resp).ok());
    for (const auto& a : resp.arrays()) names.push_back(a.name());
    token = resp.next_page_token();
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(names.size(), 25u);
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_EQ(names.front(), "p/00");

  v1::ListRequest all;
  v1::ListResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->List(&ctx, all, &resp).ok());
  EXPECT_EQ(resp.arrays_size(), 26);
  EXPECT_TRUE(resp.next_page_token().empty());

  v1::ListRequest bad;
  bad.set_prefix("p/");
  bad.set_page_token("p/05");  // a name is not a token
  grpc::ClientContext ctx2;
  EXPECT_EQ(stub_->List(&ctx2, bad, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  for (const std::string& n : names) ASSERT_TRUE(Delete(n, false).ok());
  ASSERT_TRUE(Delete("other", false).ok());
}

TEST_F(ServiceTest, SliceNamedViewsAndCascadingDelete) {
  ASSERT_TRUE(Create("a", "<i", {4, 6}).ok());
  v1::SliceRequest req;
  req.set_name("a");
  v1::IndexItem* it = req.mutable_index()->add_items();
  it->mutable_slice()->set_step(2);
  req.mutable_index()->add_items()->set_index(-1);
  v1::ArrayInfo info;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->Slice(&ctx, req, &info).ok());
  }
  EXPECT_THAT(info.shape(), ElementsAre(2));
  EXPECT_THAT(info.strides(), ElementsAre(48));
  EXPECT_EQ(info.offset(), 20);
  EXPECT_EQ(info.name(), "a");

  v1::SliceRequest named;
  named.set_name("a");
  *named.mutable_index() = Text("1:, ::-1");
  named.set_new_name("views/v");
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->Slice(&ctx, named, &info).ok());
  }
  EXPECT_EQ(info.kind(), v1::ARRAY_KIND_VIEW);
  EXPECT_EQ(info.base(), "a");
  EXPECT_THAT(info.shape(), ElementsAre(3, 6));
  EXPECT_THAT(info.strides(), ElementsAre(24, -4));
  v1::ArrayInfo stat;
  ASSERT_TRUE(Stat("views/v", &stat).ok());
  EXPECT_EQ(stat.base_generation(), info.base_generation());
  EXPECT_EQ(Segments().size(), 2u);

  auto slice_code = [&](const std::string& text) {
    v1::SliceRequest r;
    r.set_name("a");
    *r.mutable_index() = Text(text);
    grpc::ClientContext ctx;
    v1::ArrayInfo out;
    return stub_->Slice(&ctx, r, &out);
  };
  grpc::Status oob = slice_code("4");
  EXPECT_EQ(oob.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_EQ(oob.error_message(), "Index out of bounds (axis 0)");
  EXPECT_EQ(slice_code("::0").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(slice_code("1,2,3").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(slice_code("1:2:3:4").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  named.set_new_name("views/v");
  {
    grpc::ClientContext ctx;
    EXPECT_EQ(stub_->Slice(&ctx, named, &info).error_code(), grpc::StatusCode::ALREADY_EXISTS);
  }

  grpc::Status refused = Delete("a", false);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(refused.error_message(), HasSubstr("'views/v'"));
  std::vector<std::string> deleted;
  ASSERT_TRUE(Delete("a", true, &deleted).ok());
  EXPECT_THAT(deleted, ElementsAre("a", "views/v"));
  EXPECT_EQ(Delete("a", false).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(Segments(), IsEmpty());
}

TEST_F(ServiceTest, ReadWriteRoundTripsInCAndFOrderAndSlices) {
  ASSERT_TRUE(Create("m", "i", {3, 4}).ok());
  std::vector<int32_t> values(12);
  for (int i = 0; i < 12; ++i) values[i] = i;
  v1::WriteResponse wr;
  grpc::Status w = Write("m", "", "i", v1::ORDER_C, 48, I32Bytes(values), 20, &wr);
  ASSERT_TRUE(w.ok()) << w.error_message();
  EXPECT_EQ(wr.bytes_written(), 48);

  ReadResult c = Read("m", "", v1::ORDER_C, 16);
  ASSERT_TRUE(c.status.ok());
  EXPECT_EQ(I32s(c.bytes), values);
  EXPECT_EQ(c.data_messages, 1);  // chunk sizes are raised to 64 KiB
  ReadResult f = Read("m", "", v1::ORDER_F);
  ASSERT_TRUE(f.status.ok());
  EXPECT_THAT(I32s(f.bytes), ElementsAre(0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11));
  EXPECT_THAT(f.info.strides(), ElementsAre(4, 12));
  EXPECT_TRUE(f.info.f_contiguous());

  // Non-contiguous selection.
  ReadResult s = Read("m", "::2, ::-3", v1::ORDER_C, 5);
  ASSERT_TRUE(s.status.ok());
  EXPECT_THAT(I32s(s.bytes), ElementsAre(3, 0, 11, 8));
  EXPECT_EQ(s.data_messages, 1);
  ReadResult sf = Read("m", "::2, ::-3", v1::ORDER_F, 3);
  ASSERT_TRUE(sf.status.ok());
  EXPECT_THAT(I32s(sf.bytes), ElementsAre(3, 11, 0, 8));

  // Write a column in F order (a non-contiguous selection), odd chunking.
  ASSERT_TRUE(Write("m", ":, 1", "<i", v1::ORDER_F, 12, I32Bytes({-1, -2, -3}), 5).ok());
  EXPECT_THAT(I32s(Read("m", ":, 1", v1::ORDER_C).bytes), ElementsAre(-1, -2, -3));
  // A 2-d block written in F order lands transposed correctly.
  ASSERT_TRUE(Write("m", "1:, 2:", "", v1::ORDER_F, 16, I32Bytes({100, 101, 102, 103}), 4).ok());
  EXPECT_THAT(I32s(Read("m", "1:, 2:", v1::ORDER_C).bytes), ElementsAre(100, 102, 101, 103));

  // Unknown name, bad index.
  EXPECT_EQ(Read("nope", "", v1::ORDER_C).status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Read("m", "7", v1::ORDER_C).status.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_EQ(Read("m", "", v1::ORDER_C, -1).status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(Delete("m", false).ok());
}

// chunk_size has a floor of 64 KiB (a chunk of 1 byte would mean a message
// per byte); chunk boundaries may fall inside items.
TEST_F(ServiceTest, ReadChunkSizeHasAFloorOf64KiB) {
  constexpr int kRows = 2;
  constexpr int kCols = 50000;  // 400,000 bytes of int32
  std::vector<int32_t> values(kRows * kCols);
  for (int i = 0; i < kRows * kCols; ++i) values[i] = i * 3 + 1;
  ASSERT_TRUE(Create("fl", "i", {kRows, kCols}).ok());
  ASSERT_TRUE(Write("fl", "", "i", v1::ORDER_C, 4 * kRows * kCols, I32Bytes(values), 1 << 20).ok());
  std::vector<int32_t> f_order;
  for (int j = 0; j < kCols; ++j) {
    for (int i = 0; i < kRows; ++i) f_order.push_back(values[i * kCols + j]);
  }
  for (int32_t chunk : {1, 5, 65535}) {
    ReadResult r = Read("fl", "", v1::ORDER_F, chunk);
    ASSERT_TRUE(r.status.ok()) << r.status.error_message();
    EXPECT_EQ(r.data_messages, (400000 + 65535) / 65536) << chunk;
    EXPECT_EQ(I32s(r.bytes), f_order) << chunk;
  }
  ReadResult odd = Read("fl", "", v1::ORDER_F, 65537);  // boundaries inside items
  ASSERT_TRUE(odd.status.ok());
  EXPECT_EQ(odd.data_messages, (400000 + 65536) / 65537);
  EXPECT_EQ(I32s(odd.bytes), f_order);
  ASSERT_TRUE(Delete("fl", false).ok());
}

TEST_F(ServiceTest, ReadChunksLargeArraysAtOneMiBByDefault) {
  const int64_t n = (int64_t{5} << 20) / 4 + 3;  // 5 MiB + 12 bytes of int32
  ASSERT_TRUE(Create("L", "i", {n}, v1::ORDER_C, I32Bytes({42})).ok());
  ReadResult r = Read("L", "", v1::ORDER_C);
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.data_messages, 6);
  ASSERT_EQ(static_cast<int64_t>(r.bytes.size()), n * 4);
  EXPECT_EQ(I32s(r.bytes.substr(r.bytes.size() - 4))[0], 42);
  ReadResult capped = Read("L", "", v1::ORDER_C, 64 << 20);
  ASSERT_TRUE(capped.status.ok()) << capped.status.error_message();
  EXPECT_EQ(capped.data_messages, 2);  // capped near 4 MiB (fits default client limits)
  ASSERT_TRUE(Delete("L", false).ok());
}

TEST_F(ServiceTest, WriteValidatesBeforeTheFirstByte) {
  ASSERT_TRUE(Create("w", "i", {4}, v1::ORDER_C, I32Bytes({9})).ok());
  const std::string data = I32Bytes({1, 2, 3, 4});
  grpc::Status n = Write("w", "", "i", v1::ORDER_C, 12, data, 16);
  EXPECT_EQ(n.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(n.error_message(), HasSubstr("nbytes 12"));
  grpc::Status f = Write("w", "", "d", v1::ORDER_C, 16, data, 16);
  EXPECT_EQ(f.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(f.error_message(), "Buffer dtype mismatch, expected 'int32_t' but got 'double'");
  EXPECT_EQ(Write("w", "", "T{i", v1::ORDER_C, 16, data, 16).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Write("nope", "", "i", v1::ORDER_C, 16, data, 16).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Write("w", "9", "i", v1::ORDER_C, 4, data.substr(0, 4), 4).error_code(),
            grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_THAT(I32s(Read("w", "", v1::ORDER_C).bytes), ElementsAre(9, 9, 9, 9));

  // Too many bytes: what fit was written, the rest refused.
  grpc::Status more = Write("w", ":2", "i", v1::ORDER_C, 8, data, 4);
  EXPECT_EQ(more.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(I32s(Read("w", "", v1::ORDER_C).bytes), ElementsAre(1, 2, 9, 9));
  // Too few bytes.
  grpc::Status fewer = Write("w", "", "i", v1::ORDER_C, 16, data.substr(0, 8), 8);
  EXPECT_EQ(fewer.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(fewer.error_message(), HasSubstr("after 8 of 16 bytes"));

  // Sealed target.
  v1::SealRequest seal;
  seal.set_name("w");
  v1::ArrayInfo info;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->Seal(&ctx, seal, &info).ok());
  EXPECT_TRUE(info.readonly());
  EXPECT_EQ(Write("w", "", "i", v1::ORDER_C, 16, data, 16).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  ASSERT_TRUE(Delete("w", false).ok());
}

// Write copies a lone data field straight from the received slices; every
// other encoding is parsed as a WriteRequest, with protobuf's meaning.
TEST_F(ServiceTest, WriteAcceptsEveryEncodingOfDataMessages) {
  ASSERT_TRUE(Create("r", "i", {4}).ok());
  const std::string t16 = TargetWire("r", "", 16);
  const std::string a = I32Bytes({1, 2});
  const std::string b = I32Bytes({3, 4});
  v1::WriteResponse wr;
  // Canonical messages, an empty one among them.
  ASSERT_TRUE(
      WriteWire({t16, "\x12\x08" + a, std::string("\x12\x00", 2), "\x12\x08" + b}, &wr).ok());
  EXPECT_EQ(wr.bytes_written(), 16);
  EXPECT_THAT(I32s(Read("r", "", v1::ORDER_C).bytes), ElementsAre(1, 2, 3, 4));
  // An over-long varint length; an unknown field after the data; the data
  // field twice (the last one counts).
  const std::string c = I32Bytes({5});
  const std::string d = I32Bytes({6});
  grpc::Status s = WriteWire({t16, std::string("\x12\x88\x80\x00", 4) + a,
                              "\x12\x04" + c + "\x18\x05", "\x12\x04" + c + "\x12\x04" + d});
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_THAT(I32s(Read("r", "", v1::ORDER_C).bytes), ElementsAre(1, 2, 5, 6));
  // A target then data in one message: the oneof keeps the data.
  s = WriteWire({TargetWire("r", "3", 4), TargetWire("r", "", 16) + "\x12\x04" + c});
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_THAT(I32s(Read("r", "", v1::ORDER_C).bytes), ElementsAre(1, 2, 5, 5));
  // A non-contiguous selection, an item split across messages.
  ASSERT_TRUE(WriteWire({TargetWire("r", "::-3", 8), "\x12\x02" + I32Bytes({7}).substr(0, 2),
                         "\x12\x06" + I32Bytes({7}).substr(2) + I32Bytes({8})})
                  .ok());
  EXPECT_THAT(I32s(Read("r", "", v1::ORDER_C).bytes), ElementsAre(8, 2, 5, 7));
  ASSERT_TRUE(Delete("r", false).ok());
}

TEST_F(ServiceTest, WriteRefusesMalformedAndExtraMessages) {
  ASSERT_TRUE(Create("r", "i", {4}, v1::ORDER_C, I32Bytes({9})).ok());
  const std::string t16 = TargetWire("r", "", 16);
  const std::string a = I32Bytes({1, 2});
  const auto code = [](const grpc::Status& s) { return s.error_code(); };
  // A length past the end of the message; the wrong wire type for data; an
  // empty message; a second target; a garbled first message.
  EXPECT_EQ(code(WriteWire({t16, "\x12\x10" + a})), grpc::StatusCode::INVALID_ARGUMENT);
  grpc::Status varint = WriteWire({t16, "\x12\x08" + a, "\x10\x05"});
  EXPECT_EQ(varint.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(varint.error_message(), HasSubstr("message after 8 bytes is not data"));
  grpc::Status empty = WriteWire({t16, ""});
  EXPECT_EQ(empty.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(empty.error_message(), HasSubstr("message after 0 bytes is not data"));
  EXPECT_EQ(code(WriteWire({t16, t16, "\x12\x08" + a})), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(code(WriteWire({std::string("\xff\xff", 2), "\x12\x08" + a})),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(code(WriteWire({"\x12\x08" + a, t16})), grpc::StatusCode::INVALID_ARGUMENT);
  // The first bad message wrote nothing; 8 bytes of the varint and empty
  // cases landed.
  EXPECT_THAT(I32s(Read("r", "", v1::ORDER_C).bytes), ElementsAre(1, 2, 9, 9));
  // More bytes than announced, in one canonical message: nothing of it lands.
  grpc::Status more = WriteWire({TargetWire("r", "2:", 8), "\x12\x0c" + I32Bytes({3, 4, 5})});
  EXPECT_EQ(more.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(more.error_message(), HasSubstr("more than the announced 8 bytes (12 so far)"));
  EXPECT_THAT(I32s(Read("r", "", v1::ORDER_C).bytes), ElementsAre(1, 2, 9, 9));
  ASSERT_TRUE(Delete("r", false).ok());
}

TEST_F(ServiceTest, WriteOfManyMiBIntoContiguousAndStridedSelections) {
  const int64_t n = (int64_t{3} << 20) + 5;
  ASSERT_TRUE(Create("big", "B", {n}).ok());
  std::string data(static_cast<size_t>(n), '\0');
  for (int64_t i = 0; i < n; ++i) data[i] = static_cast<char>((i * 7 + i / 251) & 0xff);
  grpc::Status w = Write("big", "", "B", v1::ORDER_C, n, data, size_t{1} << 20);
  ASSERT_TRUE(w.ok()) << w.error_message();
  ReadResult r = Read("big", "", v1::ORDER_C);
  ASSERT_TRUE(r.status.ok());
  EXPECT_TRUE(r.bytes == data);
  // Every other byte, backwards, in odd-sized chunks.
  const int64_t half = (n + 1) / 2;
  const std::string rev(data.rbegin(), data.rbegin() + half);
  w = Write("big", "::-2", "", v1::ORDER_C, half, rev, 333333);
  ASSERT_TRUE(w.ok()) << w.error_message();
  r = Read("big", "::-2", v1::ORDER_C);
  ASSERT_TRUE(r.status.ok());
  EXPECT_TRUE(r.bytes == rev);
  r = Read("big", "1::2", v1::ORDER_C);
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.bytes[0], data[1]);
  ASSERT_TRUE(Delete("big", false).ok());
}

TEST_F(ServiceTest, SealMakesArraysAndTheirViewsReadOnly) {
  ASSERT_TRUE(Create("s", "d", {4}).ok());
  ASSERT_TRUE(Create("dst", "d", {4}).ok());
  v1::SliceRequest sl;
  sl.set_name("s");
  sl.set_new_name("sv");
  v1::ArrayInfo info;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->Slice(&ctx, sl, &info).ok());
  }
  v1::SealRequest seal;
  seal.set_name("s");
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->Seal(&ctx, seal, &info).ok());
    EXPECT_TRUE(info.readonly());
  }
  ASSERT_TRUE(Stat("sv", &info).ok());
  EXPECT_TRUE(info.readonly());
  seal.set_name("sv");
  {
    grpc::ClientContext ctx;
    EXPECT_EQ(stub_->Seal(&ctx, seal, &info).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  }
  seal.set_name("nope");
  {
    grpc::ClientContext ctx;
    EXPECT_EQ(stub_->Seal(&ctx, seal, &info).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  v1::CopyRequest cp;
  cp.set_source("dst");
  cp.set_destination("sv");
  {
    grpc::ClientContext ctx;
    EXPECT_EQ(stub_->Copy(&ctx, cp, &info).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  }
  // Reading a sealed array still works.
  EXPECT_TRUE(Read("s", "", v1::ORDER_C).status.ok());
  ASSERT_TRUE(Delete("s", true).ok());
  ASSERT_TRUE(Delete("dst", false).ok());
}

TEST_F(ServiceTest, CopyToNewArraysAndIntoExistingOnes) {
  ASSERT_TRUE(Create("src", "i", {2, 3}).ok());
  ASSERT_TRUE(Write("src", "", "i", v1::ORDER_C, 24, I32Bytes({0, 1, 2, 3, 4, 5}), 24).ok());
  v1::CopyRequest req;
  req.set_source("src");
  *req.mutable_source_index() = Text(":, ::-1");
  req.set_new_name("cf");
  req.set_order(v1::ORDER_F);
  v1::ArrayInfo info;
  {
    grpc::ClientContext ctx;
    grpc::Status s = stub_->Copy(&ctx, req, &info);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_TRUE(info.f_contiguous());
  EXPECT_THAT(info.strides(), ElementsAre(4, 8));
  EXPECT_THAT(I32s(Read("cf", "", v1::ORDER_C).bytes), ElementsAre(2, 1, 0, 5, 4, 3));

  // Into an existing array, broadcasting a row over two rows.
  ASSERT_TRUE(Create("dst", "i", {2, 3}).ok());
  v1::CopyRequest into;
  into.set_source("src");
  *into.mutable_source_index() = Text("1:2");
  into.set_destination("dst");
  {
    grpc::ClientContext ctx;
    grpc::Status s = stub_->Copy(&ctx, into, &info);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_THAT(I32s(Read("dst", "", v1::ORDER_C).bytes), ElementsAre(3, 4, 5, 3, 4, 5));

  // Shape and format mismatches, both destinations or none.
  *into.mutable_destination_index() = Text(":, :2");
  {
    grpc::ClientContext ctx;
    grpc::Status s = stub_->Copy(&ctx, into, &info);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("got differing extents in dimension 1"));
  }
  ASSERT_TRUE(Create("dd", "d", {2, 3}).ok());
  into.set_destination("dd");
  into.clear_destination_index();
  {
    grpc::ClientContext ctx;
    EXPECT_EQ(stub_->Copy(&ctx, into, &info).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  into.set_new_name("both");
  {
    grpc::ClientContext ctx;
    EXPECT_EQ(stub_->Copy(&ctx, into, &info).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  req.set_new_name("cf");
  {
    grpc::ClientContext ctx;
    EXPECT_EQ(stub_->Copy(&ctx, req, &info).error_code(), grpc::StatusCode::ALREADY_EXISTS);
  }
  req.set_source("nope");
  {
    grpc::ClientContext ctx;
    EXPECT_EQ(stub_->Copy(&ctx, req, &info).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  for (const char* n : {"src", "cf", "dst", "dd"}) ASSERT_TRUE(Delete(n, false).ok());
  EXPECT_THAT(Segments(), IsEmpty());
}

TEST_F(ServiceTest, WatchStreamsEventsUnderItsPrefix) {
  grpc::ClientContext ctx;
  v1::WatchRequest req;
  req.set_prefix("w/");
  auto reader = stub_->Watch(&ctx, req);
  reader->WaitForInitialMetadata();  // the subscription is active
  ASSERT_TRUE(Create("other", "B", {1}).ok());
  ASSERT_TRUE(Create("w/a", "B", {2}).ok());
  v1::SealRequest seal;
  seal.set_name("w/a");
  v1::ArrayInfo info;
  {
    grpc::ClientContext c;
    ASSERT_TRUE(stub_->Seal(&c, seal, &info).ok());
  }
  ASSERT_TRUE(Delete("w/a", false).ok());
  ASSERT_TRUE(Delete("other", false).ok());
  std::vector<std::pair<v1::WatchEvent::Type, std::string>> events;
  v1::WatchEvent ev;
  while (events.size() < 3 && reader->Read(&ev)) events.emplace_back(ev.type(), ev.name());
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0], std::make_pair(v1::WatchEvent::TYPE_CREATED, std::string("w/a")));
  EXPECT_EQ(events[1], std::make_pair(v1::WatchEvent::TYPE_SEALED, std::string("w/a")));
  EXPECT_EQ(events[2], std::make_pair(v1::WatchEvent::TYPE_DELETED, std::string("w/a")));
  // Shutdown ends the stream.
  server_->Shutdown();
  while (reader->Read(&ev)) {
  }
  EXPECT_TRUE(reader->Finish().ok());
}

// A watcher that does not read never blocks the daemon: once its queue (and
// gRPC's flow-control window) is full, events are dropped and counted, and
// the watcher learns how many through TYPE_OVERFLOW.
TEST_F(ServiceTest, SlowWatcherGetsOverflowAndNeverBlocksTheDaemon) {
  StartServer([](ServerOptions& o) { o.watch_queue_capacity = 4; });
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));  // never hang
  v1::WatchRequest req;
  req.set_prefix("slow/");
  auto reader = stub_->Watch(&ctx, req);
  reader->WaitForInitialMetadata();
  // Long names make each event large, so the stream's window fills quickly.
  const std::string stem = "slow/" + std::string(240, 'n');
  constexpr int kPairs = 8000;
  for (int i = 0; i < kPairs; ++i) {
    const std::string name = stem + std::to_string(i);
    ASSERT_TRUE(Create(name, "B", {1}).ok()) << i;  // the daemon keeps answering
    ASSERT_TRUE(Delete(name, false).ok()) << i;
  }
  // Every event is either delivered or counted as dropped.
  constexpr int64_t kEvents = 2 * kPairs;
  int64_t delivered = 0;
  int64_t dropped = 0;
  int overflows = 0;
  v1::WatchEvent ev;
  while (delivered + dropped < kEvents && reader->Read(&ev)) {
    if (ev.type() == v1::WatchEvent::TYPE_OVERFLOW) {
      ++overflows;
      EXPECT_GT(ev.dropped(), 0);
      dropped += ev.dropped();
    } else {
      ++delivered;
    }
  }
  EXPECT_EQ(delivered + dropped, kEvents);
  EXPECT_GE(overflows, 1);
  EXPECT_GT(delivered, 0);
  // Drained, the watcher gets new events again.
  ASSERT_TRUE(Create("slow/last", "B", {1}).ok());
  ASSERT_TRUE(reader->Read(&ev));
  EXPECT_EQ(ev.type(), v1::WatchEvent::TYPE_CREATED);
  EXPECT_EQ(ev.name(), "slow/last");
  ctx.TryCancel();
  while (reader->Read(&ev)) {
  }
  (void)reader->Finish();
  ASSERT_TRUE(Delete("slow/last", false).ok());
}

// Shutdown ends every open watch with OK, after the events queued for it
// (here none of them has been read yet). A watch that did not end would be
// cut by gRPC's own shutdown after the 5 s drain: not OK.
TEST_F(ServiceTest, ShutdownEndsEveryWatchWithOkAfterWhatWasQueued) {
  constexpr int kWatches = 8;
  constexpr int kEvents = 5;
  std::vector<std::unique_ptr<WatchStream>> streams = OpenWatches("end/", kWatches);
  for (int i = 0; i < kEvents; ++i) ASSERT_TRUE(Create("end/" + std::to_string(i), "B", {1}).ok());
  server_->Shutdown();
  for (int i = 0; i < kWatches; ++i) {
    std::vector<std::string> names;
    v1::WatchEvent ev;
    while (streams[i]->reader->Read(&ev)) names.push_back(ev.name());
    EXPECT_THAT(names, ElementsAre("end/0", "end/1", "end/2", "end/3", "end/4")) << "watch " << i;
    const grpc::Status status = streams[i]->reader->Finish();
    EXPECT_TRUE(status.ok()) << "watch " << i << ": " << status.error_code() << " "
                             << status.error_message();
  }
}

// Watches cancelled by their clients while events stream to them end, and
// the daemon keeps serving: Publish races the streams' ends (this runs under
// the sanitizers, where a stream deleted while the hub still wakes it would
// be reported).
TEST_F(ServiceTest, WatchesCancelledWhileEventsFlowEndAndTheDaemonGoesOn) {
  constexpr int kWatches = 16;
  std::vector<std::unique_ptr<WatchStream>> streams = OpenWatches("churn/", kWatches);
  // Events flow until every watch has been cancelled.
  std::atomic<bool> stop{false};
  std::atomic<int> churned{0};
  std::thread churn([&] {
    for (int i = 0; !stop && i < 100000; ++i) {
      const std::string name = "churn/" + std::to_string(i % 4);
      if (!Create(name, "B", {1}).ok() || !Delete(name, false).ok()) break;
      ++churned;
    }
  });
  for (int i = 0; i < kWatches; ++i) {
    v1::WatchEvent ev;
    // Read some of the stream (half of the watches), then cancel it.
    for (int n = 0; n < (i % 2 == 0 ? 3 : 0); ++n) {
      if (!streams[i]->reader->Read(&ev)) {
        ADD_FAILURE() << "watch " << i << " ended before it was cancelled";
        break;
      }
    }
    streams[i]->ctx.TryCancel();
  }
  for (int i = 0; i < kWatches; ++i) {
    v1::WatchEvent ev;
    while (streams[i]->reader->Read(&ev)) {
    }
    EXPECT_EQ(streams[i]->reader->Finish().error_code(), grpc::StatusCode::CANCELLED) << i;
  }
  stop = true;
  churn.join();
  EXPECT_GT(churned.load(), 0);
  // The daemon still answers, and a new watch still gets events.
  std::unique_ptr<WatchStream> last = std::move(OpenWatches("churn/", 1).front());
  ASSERT_TRUE(Create("churn/last", "B", {1}).ok());
  v1::WatchEvent ev;
  ASSERT_TRUE(last->reader->Read(&ev));
  EXPECT_EQ(ev.name(), "churn/last");
  last->ctx.TryCancel();
  (void)last->reader->Finish();
  for (int i = 0; i < 4; ++i) (void)Delete("churn/" + std::to_string(i), false);
  ASSERT_TRUE(Delete("churn/last", false).ok());
  EXPECT_THAT(Segments(), IsEmpty());
}

// An open watch holds no thread of the daemon (Watch is served on gRPC's
// callback API): with hundreds open, the daemon's thread count barely moves,
// unary calls are answered, and every watch gets an event published after it
// opened. One completion queue reads all the streams, so the client side adds
// no thread per stream either.
TEST_F(ServiceTest, HundredsOfOpenWatchesHoldNoThreadAndEachGetsTheNextEvent) {
  constexpr int kWatches = 200;
  enum Op : intptr_t { kStarted, kMetadata, kRead, kFinished, kOps };
  const auto tag = [](int stream, Op op) {
    return reinterpret_cast<void*>(static_cast<intptr_t>(stream) * kOps + op);
  };
  grpc::CompletionQueue cq;
  // Waits for `count` completions of `op`, each ok (a stream that failed is
  // reported by index); anything else arriving meanwhile fails the test.
  const auto await_all = [&](Op op, int count) {
    const auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(60);
    for (int seen = 0; seen < count; ++seen) {
      void* got = nullptr;
      bool ok = false;
      ASSERT_EQ(cq.AsyncNext(&got, &ok, deadline), grpc::CompletionQueue::GOT_EVENT)
          << "only " << seen << " of " << count << " completions of op " << op;
      const auto value = reinterpret_cast<intptr_t>(got);
      ASSERT_EQ(value % kOps, op) << "stream " << value / kOps;
      ASSERT_TRUE(ok) << "op " << op << " failed on stream " << value / kOps;
    }
  };
  {  // Every kind of call once, so that gRPC's own threads exist before counting.
    ASSERT_TRUE(Create("warm", "B", {1}).ok());
    v1::ArrayInfo info;
    ASSERT_TRUE(Stat("warm", &info).ok());
    ASSERT_TRUE(Delete("warm", false).ok());
    grpc::ClientContext ctx;
    v1::WatchRequest req;
    auto reader = stub_->Watch(&ctx, req);
    reader->WaitForInitialMetadata();
    ctx.TryCancel();
    (void)reader->Finish();
  }
  const int threads_before = ThreadCount();

  struct Stream {
    grpc::ClientContext ctx;
    std::unique_ptr<grpc::ClientAsyncReader<v1::WatchEvent>> reader;
    v1::WatchEvent event;
    grpc::Status status;
  };
  std::vector<std::unique_ptr<Stream>> streams;
  v1::WatchRequest req;
  req.set_prefix("many/");
  for (int i = 0; i < kWatches; ++i) {
    auto s = std::make_unique<Stream>();
    s->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    s->reader = stub_->PrepareAsyncWatch(&s->ctx, req, &cq);
    s->reader->StartCall(tag(i, kStarted));
    streams.push_back(std::move(s));
  }
  ASSERT_NO_FATAL_FAILURE(await_all(kStarted, kWatches));
  // Initial metadata: the daemon has subscribed every watch.
  for (int i = 0; i < kWatches; ++i) streams[i]->reader->ReadInitialMetadata(tag(i, kMetadata));
  ASSERT_NO_FATAL_FAILURE(await_all(kMetadata, kWatches));

  // The daemon still answers (each call has a deadline: a daemon out of
  // threads fails the test instead of hanging it).
  const auto with_deadline = [](grpc::ClientContext* ctx) {
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  };
  {
    grpc::ClientContext ctx;
    with_deadline(&ctx);
    v1::CreateRequest create;
    create.set_name("many/a");
    create.set_format("B");
    create.add_shape(4);
    v1::ArrayInfo info;
    ASSERT_TRUE(stub_->Create(&ctx, create, &info).ok());
  }
  {
    grpc::ClientContext ctx;
    with_deadline(&ctx);
    v1::StatRequest stat;
    stat.set_name("many/a");
    v1::ArrayInfo info;
    ASSERT_TRUE(stub_->Stat(&ctx, stat, &info).ok());
  }
  {
    grpc::ClientContext ctx;
    with_deadline(&ctx);
    v1::ListRequest list;
    list.set_prefix("many/");
    v1::ListResponse resp;
    ASSERT_TRUE(stub_->List(&ctx, list, &resp).ok());
    EXPECT_EQ(resp.arrays_size(), 1);
  }
  // Every watch gets the create.
  for (int i = 0; i < kWatches; ++i) streams[i]->reader->Read(&streams[i]->event, tag(i, kRead));
  ASSERT_NO_FATAL_FAILURE(await_all(kRead, kWatches));
  for (int i = 0; i < kWatches; ++i) {
    EXPECT_EQ(streams[i]->event.type(), v1::WatchEvent::TYPE_CREATED) << i;
    EXPECT_EQ(streams[i]->event.name(), "many/a") << i;
  }
  // Not one thread per watch (the old synchronous handler pinned one each);
  // the margin is for gRPC's own pools.
  EXPECT_LT(ThreadCount() - threads_before, kWatches / 4);

  for (const auto& s : streams) s->ctx.TryCancel();
  for (int i = 0; i < kWatches; ++i)
    streams[i]->reader->Finish(&streams[i]->status, tag(i, kFinished));
  {
    const auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(60);
    for (int seen = 0; seen < kWatches; ++seen) {
      void* got = nullptr;
      bool ok = false;
      ASSERT_EQ(cq.AsyncNext(&got, &ok, deadline), grpc::CompletionQueue::GOT_EVENT);
    }
  }
  for (const auto& s : streams) EXPECT_EQ(s->status.error_code(), grpc::StatusCode::CANCELLED);
  cq.Shutdown();
  void* ignored = nullptr;
  bool ok = false;
  while (cq.Next(&ignored, &ok)) {
  }
  ASSERT_TRUE(Delete("many/a", false).ok());
}

TEST_F(ServiceTest, TokenIsRequiredAndHealthStaysOpen) {
  { std::ofstream(dir_ + "/token") << "  s3cret\n"; }
  StartServer([this](ServerOptions& o) { o.token_file = dir_ + "/token"; });
  v1::ArrayInfo info;
  grpc::Status missing = Stat("x", &info);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer wrong");
    v1::StatRequest req;
    req.set_name("x");
    grpc::Status s = stub_->Stat(&ctx, req, &info);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(s.error_message(), "invalid bearer token");
  }
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer s3cret");
    v1::StatRequest req;
    req.set_name("x");
    EXPECT_EQ(stub_->Stat(&ctx, req, &info).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  {
    grpc::ClientContext ctx;
    v1::ReadRequest req;
    req.set_name("x");
    auto reader = stub_->Read(&ctx, req);
    v1::ReadResponse msg;
    while (reader->Read(&msg)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::ClientContext ctx;
    v1::WatchRequest req;
    auto reader = stub_->Watch(&ctx, req);
    v1::WatchEvent ev;
    EXPECT_FALSE(reader->Read(&ev));
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  // The health service needs no token.
  grpc::GenericStub generic(channel_);
  grpc::CompletionQueue cq;
  grpc::ClientContext hctx;
  hctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::ByteBuffer request;  // empty HealthCheckRequest = service ""
  grpc::Slice empty_slice("", 0);
  request = grpc::ByteBuffer(&empty_slice, 1);
  auto call = generic.PrepareUnaryCall(&hctx, "/grpc.health.v1.Health/Check", request, &cq);
  call->StartCall();
  grpc::ByteBuffer response;
  grpc::Status hs;
  call->Finish(&response, &hs, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  ASSERT_TRUE(cq.Next(&tag, &ok));
  EXPECT_TRUE(ok);
  EXPECT_TRUE(hs.ok()) << hs.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string body;
  for (auto& s : slices) body.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_EQ(body, std::string("\x08\x01", 2));  // status: SERVING
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

TEST_F(ServiceTest, RestartAdoptsArraysAndASecondServerOnTheSocketFails) {
  ASSERT_TRUE(Create("keep", "i", {3}, v1::ORDER_C, I32Bytes({5})).ok());
  v1::SliceRequest sl;
  sl.set_name("keep");
  *sl.mutable_index() = Text("1:");
  sl.set_new_name("keepv");
  v1::ArrayInfo info;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->Slice(&ctx, sl, &info).ok());
  }
  ServerOptions o;
  o.socket_path = dir_ + "/d.sock";
  o.instance = instance_ + "b";
  o.log_level = LogLevel::kError;
  auto second = Server::Start(o);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition) << second.status();
  ::rmdir(("/dev/shm/" + SegmentPrefix(o.instance)).c_str());  // its (empty) segment directory

  StartServer();  // shuts the first down (socket removed), starts anew
  EXPECT_THAT(I32s(Read("keepv", "", v1::ORDER_C).bytes), ElementsAre(5, 5));
  ASSERT_TRUE(Stat("keepv", &info).ok());
  EXPECT_EQ(info.base(), "keep");
  ASSERT_TRUE(Delete("keep", true).ok());
  EXPECT_THAT(Segments(), IsEmpty());
}

TEST_F(ServiceTest, NothingStaysInDevShmAfterDeletingEverything) {
  ASSERT_TRUE(Create("a/b", "d", {10, 10}).ok());
  ASSERT_TRUE(Create("c", "Zd", {3}).ok());
  v1::CopyRequest cp;
  cp.set_source("a/b");
  *cp.mutable_source_index() = Text("::3, ::3");
  cp.set_new_name("a/copy");
  v1::ArrayInfo info;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->Copy(&ctx, cp, &info).ok());
  }
  v1::SliceRequest sl;
  sl.set_name("a/copy");
  *sl.mutable_index() = Text("..., None");
  sl.set_new_name("a/view");
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->Slice(&ctx, sl, &info).ok());
  }
  EXPECT_EQ(Segments().size(), 4u);
  for (const char* n : {"a/b", "c", "a/copy"}) ASSERT_TRUE(Delete(n, true).ok());
  EXPECT_THAT(Segments(), IsEmpty());
}

}  // namespace
}  // namespace shmarray::server
