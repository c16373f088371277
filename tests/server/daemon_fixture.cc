// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: daemon_fixture.cc
// -----------------------------------------------------------------------------
// The shared helpers, `Api` and `DaemonTest` of daemon_fixture.h.

#include "server/daemon_fixture.h"

#include <gmock/gmock.h>
#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/support/sync_stream.h>
#include <sys/stat.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace shmarray::testing {
namespace {

using ::testing::IsEmpty;

// Calls fn(byte offset) for every item of `layout`, in `order` (C: last
// index fastest). The reference walk the daemon's results are checked with.
template <typename Fn>
void ForEachItemOffset(const shm::Layout& layout, shm::Order order, Fn&& fn) {
  if (layout.size() == 0) return;
  const int nd = layout.ndim();
  std::vector<int64_t> idx(static_cast<size_t>(nd), 0);
  for (;;) {
    int64_t off = layout.offset;
    for (int k = 0; k < nd; ++k) off += idx[k] * layout.strides[k];
    fn(static_cast<size_t>(off));
    bool done = true;
    for (int j = 0; j < nd; ++j) {
      const int k = order == shm::Order::kC ? nd - 1 - j : j;
      if (++idx[k] < layout.shape[k]) {
        done = false;
        break;
      }
      idx[k] = 0;
    }
    if (done) return;
  }
}

}  // namespace

std::string Pattern(int64_t n, int seed) {
  std::string s(static_cast<size_t>(n), '\0');
  for (int64_t i = 0; i < n; ++i) {
    s[static_cast<size_t>(i)] = static_cast<char>((i * 131 + seed * 17 + 1 + (i >> 8)) & 0xff);
  }
  return s;
}

std::string Gather(const std::string& region, const shm::Layout& layout, shm::Order order) {
  std::string out;
  const auto itemsize = static_cast<size_t>(layout.itemsize);
  ForEachItemOffset(layout, order, [&](size_t off) { out.append(region, off, itemsize); });
  return out;
}

void Scatter(std::string* region, const shm::Layout& layout, shm::Order order,
             const std::string& bytes) {
  const auto itemsize = static_cast<size_t>(layout.itemsize);
  size_t pos = 0;
  ForEachItemOffset(layout, order, [&](size_t off) {
    region->replace(off, itemsize, bytes, pos, itemsize);
    pos += itemsize;
  });
}

shm::Layout LayoutOf(const v1::ArrayInfo& info) {
  shm::Layout layout;
  layout.itemsize = info.itemsize();
  layout.shape.assign(info.shape().begin(), info.shape().end());
  layout.strides.assign(info.strides().begin(), info.strides().end());
  layout.offset = info.offset();
  return layout;
}

shm::Layout Contiguous(int64_t itemsize, std::vector<int64_t> shape, shm::Order order) {
  return shm::Layout::Contiguous(itemsize, shape, order);
}

bool SameInfo(const v1::ArrayInfo& a, const v1::ArrayInfo& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}

bool FileExists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

mode_t FileMode(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return 07777;
  return st.st_mode & 0777;
}

TestDaemonOptions WithFlags(std::vector<std::string> flags) {
  TestDaemonOptions options;
  options.extra_flags = std::move(flags);
  return options;
}

v1::CreateRequest CreateReq(const std::string& name, const std::string& format,
                            std::vector<int64_t> shape, v1::Order order, const std::string& fill,
                            int64_t itemsize) {
  v1::CreateRequest req;
  req.set_name(name);
  req.set_format(format);
  for (int64_t n : shape) req.add_shape(n);
  req.set_order(order);
  req.set_fill(fill);
  req.set_itemsize(itemsize);
  return req;
}

v1::Index TextIndex(const std::string& text) {
  v1::Index index;
  index.set_text(text);
  return index;
}

v1::WriteRequest TargetMsg(const std::string& name, const std::string& index_text, int64_t nbytes,
                           v1::Order order, const std::string& format) {
  v1::WriteRequest msg;
  v1::WriteTarget* target = msg.mutable_target();
  target->set_name(name);
  if (!index_text.empty()) *target->mutable_index() = TextIndex(index_text);
  target->set_format(format);
  target->set_order(order);
  target->set_nbytes(nbytes);
  return msg;
}

v1::WriteRequest DataMsg(std::string bytes) {
  v1::WriteRequest msg;
  msg.set_data(std::move(bytes));
  return msg;
}

// --- Api ---

void Api::Prepare(grpc::ClientContext* ctx) const {
  ctx->set_deadline(std::chrono::system_clock::now() + kRpcTimeout);
  if (!authorization_.empty()) ctx->AddMetadata("authorization", authorization_);
}

grpc::Status Api::Create(const v1::CreateRequest& req, v1::ArrayInfo* info) const {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  v1::ArrayInfo local;
  return stub_->Create(&ctx, req, info ? info : &local);
}

grpc::Status Api::Create(const std::string& name, const std::string& format,
                         std::vector<int64_t> shape, v1::Order order, v1::ArrayInfo* info) const {
  return Create(CreateReq(name, format, std::move(shape), order), info);
}

grpc::Status Api::Stat(const std::string& name, v1::ArrayInfo* info) const {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  v1::StatRequest req;
  req.set_name(name);
  v1::ArrayInfo local;
  return stub_->Stat(&ctx, req, info ? info : &local);
}

grpc::Status Api::List(const v1::ListRequest& req, v1::ListResponse* resp) const {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  return stub_->List(&ctx, req, resp);
}

grpc::Status Api::ListNames(const std::string& prefix, std::vector<std::string>* names,
                            int page_size) const {
  names->clear();
  v1::ListRequest req;
  req.set_prefix(prefix);
  req.set_page_size(page_size);
  for (int page = 0; page < 100000; ++page) {
    v1::ListResponse resp;
    grpc::Status s = List(req, &resp);
    if (!s.ok()) return s;
    for (const v1::ArrayInfo& info : resp.arrays()) names->push_back(info.name());
    if (resp.next_page_token().empty()) return grpc::Status::OK;
    req.set_page_token(resp.next_page_token());
  }
  return grpc::Status(grpc::StatusCode::INTERNAL, "List never ended");
}

grpc::Status Api::Delete(const std::string& name, bool cascade, v1::DeleteResponse* resp) const {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  v1::DeleteRequest req;
  req.set_name(name);
  req.set_cascade(cascade);
  v1::DeleteResponse local;
  return stub_->Delete(&ctx, req, resp ? resp : &local);
}

grpc::Status Api::Seal(const std::string& name, v1::ArrayInfo* info) const {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  v1::SealRequest req;
  req.set_name(name);
  v1::ArrayInfo local;
  return stub_->Seal(&ctx, req, info ? info : &local);
}

grpc::Status Api::Slice(const v1::SliceRequest& req, v1::ArrayInfo* info) const {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  v1::ArrayInfo local;
  return stub_->Slice(&ctx, req, info ? info : &local);
}

grpc::Status Api::Slice(const std::string& name, const std::string& text,
                        const std::string& new_name, v1::ArrayInfo* info) const {
  v1::SliceRequest req;
  req.set_name(name);
  *req.mutable_index() = TextIndex(text);
  req.set_new_name(new_name);
  return Slice(req, info);
}

grpc::Status Api::Copy(const v1::CopyRequest& req, v1::ArrayInfo* info) const {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  v1::ArrayInfo local;
  return stub_->Copy(&ctx, req, info ? info : &local);
}

grpc::Status Api::Read(const v1::ReadRequest& req, std::string* bytes, v1::ArrayInfo* info,
                       int* data_messages) const {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  std::unique_ptr<grpc::ClientReader<v1::ReadResponse>> reader = stub_->Read(&ctx, req);
  v1::ReadResponse msg;
  bytes->clear();
  int count = 0;
  bool first = true;
  bool bad_order = false;
  while (reader->Read(&msg)) {
    if (first) {
      if (!msg.has_info()) bad_order = true;
      if (info) *info = msg.info();
      first = false;
      continue;
    }
    if (msg.payload_case() != v1::ReadResponse::kData) bad_order = true;
    bytes->append(msg.data());
    ++count;
  }
  if (data_messages) *data_messages = count;
  grpc::Status status = reader->Finish();
  if (status.ok() && (first || bad_order)) {
    return grpc::Status(grpc::StatusCode::INTERNAL,
                        "test: Read stream did not start with exactly one info message");
  }
  return status;
}

grpc::Status Api::Read(const std::string& name, const std::string& text, std::string* bytes,
                       v1::Order order, v1::ArrayInfo* info) const {
  v1::ReadRequest req;
  req.set_name(name);
  if (!text.empty()) *req.mutable_index() = TextIndex(text);
  req.set_order(order);
  return Read(req, bytes, info);
}

grpc::Status Api::Write(const std::vector<v1::WriteRequest>& msgs, v1::WriteResponse* resp) const {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  v1::WriteResponse local;
  std::unique_ptr<grpc::ClientWriter<v1::WriteRequest>> writer =
      stub_->Write(&ctx, resp ? resp : &local);
  for (const v1::WriteRequest& msg : msgs) {
    if (!writer->Write(msg)) break;  // the server ended the call; Finish says why
  }
  writer->WritesDone();
  return writer->Finish();
}

grpc::Status Api::Write(const std::string& name, const std::string& text, const std::string& bytes,
                        v1::Order order, v1::WriteResponse* resp, int64_t chunk) const {
  std::vector<v1::WriteRequest> msgs = {
      TargetMsg(name, text, static_cast<int64_t>(bytes.size()), order)};
  for (size_t pos = 0; pos < bytes.size(); pos += static_cast<size_t>(chunk)) {
    msgs.push_back(DataMsg(bytes.substr(pos, static_cast<size_t>(chunk))));
  }
  return Write(msgs, resp);
}

// --- DaemonTest ---

void DaemonTest::StartDaemon(TestDaemonOptions options) {
  absl::StatusOr<std::unique_ptr<TestDaemon>> daemon = TestDaemon::Start(std::move(options));
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  daemon_ = std::move(daemon).value();
  ResetApi();
}

void DaemonTest::ResetApi() {
  const std::string auth =
      daemon_->options().token.empty() ? "" : "Bearer " + daemon_->options().token;
  api_ = std::make_unique<Api>(&daemon_->stub(), auth);
}

void DaemonTest::ExpectHealthy() {
  absl::StatusOr<int> serving =
      TestDaemon::HealthCheck(daemon_->channel().get(), std::chrono::seconds(10));
  ASSERT_TRUE(serving.ok()) << serving.status() << "\n" << daemon_->StderrTail();
  EXPECT_EQ(*serving, TestDaemon::kServing);
}

void DaemonTest::DeleteEverything() {
  std::vector<std::string> names;
  SHMARRAY_ASSERT_RPC_OK(api_->ListNames("", &names));
  for (const std::string& name : names) {
    grpc::Status s = api_->Delete(name, /*cascade=*/true);
    EXPECT_TRUE(s.ok() || s.error_code() == grpc::StatusCode::NOT_FOUND)
        << name << DescribeStatus(s);
  }
  SHMARRAY_ASSERT_RPC_OK(api_->ListNames("", &names));
  EXPECT_THAT(names, IsEmpty());
  EXPECT_THAT(daemon_->ListSegments(), IsEmpty());
}

}  // namespace shmarray::testing
