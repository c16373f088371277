// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: daemon_test.cc
// -----------------------------------------------------------------------------
// Integration tests of the REAL shmarrayd binary (started by TestDaemon with
// fork/exec, its own --instance and socket): every RPC over the Unix socket,
// the error codes of docs/wire.md, a table of malformed requests (after each
// one the daemon still answers and the canary arrays are byte-for-byte
// unchanged), restart after SIGKILL, delete while another process holds a
// mapping, concurrent clients, bearer tokens, TCP, and graceful SIGTERM.
// Nothing waits by sleeping: every wait polls with a deadline.

#include "testing/daemon.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <google/protobuf/util/message_differencer.h>
#include <grp.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/client_unary_call.h>
#include <grpcpp/impl/rpc_method.h>
#include <grpcpp/support/sync_stream.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "shmarray/shm/format.h"
#include "shmarray/shm/index.h"
#include "shmarray/shm/layout.h"
#include "shmarray/shm/segment.h"
#include "shmarray/v1/array_service.grpc.pb.h"

namespace shmarray {
namespace {

using ::shmarray::testing::DescribeStatus;
using ::shmarray::testing::ExitResult;
using ::shmarray::testing::TestDaemon;
using ::shmarray::testing::TestDaemonOptions;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAreArray;
using Code = grpc::StatusCode;
using Clock = std::chrono::steady_clock;

constexpr auto kRpcTimeout = std::chrono::seconds(30);
constexpr int64_t kMiB = 1 << 20;

// --- assertions on grpc::Status ---------------------------------------------

#define EXPECT_RPC_OK(expr)                                                          \
  do {                                                                               \
    const grpc::Status rpc_status_ = (expr);                                         \
    EXPECT_TRUE(rpc_status_.ok()) << #expr << " -> " << DescribeStatus(rpc_status_); \
  } while (0)
#define ASSERT_RPC_OK(expr)                                                          \
  do {                                                                               \
    const grpc::Status rpc_status_ = (expr);                                         \
    ASSERT_TRUE(rpc_status_.ok()) << #expr << " -> " << DescribeStatus(rpc_status_); \
  } while (0)
#define EXPECT_RPC_CODE(expr, code)                                                                \
  do {                                                                                             \
    const grpc::Status rpc_status_ = (expr);                                                       \
    EXPECT_EQ(rpc_status_.error_code(), (code)) << #expr << " -> " << DescribeStatus(rpc_status_); \
  } while (0)

// --- byte helpers -------------------------------------------------------------

// Deterministic, seed-dependent bytes (never all zero).
std::string Pattern(int64_t n, int seed) {
  std::string s(static_cast<size_t>(n), '\0');
  for (int64_t i = 0; i < n; ++i) {
    s[static_cast<size_t>(i)] = static_cast<char>((i * 131 + seed * 17 + 1 + (i >> 8)) & 0xff);
  }
  return s;
}

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

// The bytes of `layout` over `region` (a data region), item by item in `order`.
std::string Gather(const std::string& region, const shm::Layout& layout, shm::Order order) {
  std::string out;
  const auto itemsize = static_cast<size_t>(layout.itemsize);
  ForEachItemOffset(layout, order, [&](size_t off) { out.append(region, off, itemsize); });
  return out;
}

// The inverse of Gather: stores `bytes` (item by item in `order`) into the
// items `layout` selects in `region`.
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

std::string Canonical(const std::string& format) {
  return shm::Format::Parse(format.empty() ? "B" : format).canonical();
}

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

// --- other users -----------------------------------------------------------------

bool IsRoot() { return geteuid() == 0; }

// Runs `fn` in a forked child as `uid`/`gid` with supplementary `groups` and
// returns what it returned (its exit code), or -1 if it could not become that
// user or died. The child only makes system calls (no gRPC).
// REQUIRES: root.
int RunAsUser(uid_t uid, gid_t gid, const std::vector<gid_t>& groups,
              const std::function<int()>& fn) {
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    if (setgroups(groups.size(), groups.data()) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
      _exit(255);
    }
    _exit(fn());
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) != 255 ? WEXITSTATUS(status) : -1;
}

constexpr uid_t kNobody = 65534;
constexpr gid_t kNogroup = 65534;

// The bytes of a complete, committed segment file for `meta` with `data` (as
// a forger would make it: same header format, valid checksum).
std::string SegmentFileBytes(shm::SegmentMeta meta, const std::string& data) {
  const std::string scratch =
      "shmarray-forge." + std::to_string(getpid()) + "." + std::to_string(meta.generation);
  meta.state = shm::SegmentState::kCommitted;
  std::string bytes;
  {
    absl::StatusOr<shm::Segment> seg = shm::Segment::Create(scratch, meta, 0600);
    if (!seg.ok()) return "";
    std::memcpy(seg->data(), data.data(), std::min<size_t>(data.size(), seg->data_size_bytes()));
    if (!seg->Commit().ok()) return "";
    std::ifstream in("/dev/shm/" + scratch, std::ios::binary);
    std::stringstream all;
    all << in.rdbuf();
    bytes = all.str();
  }
  (void)shm::Segment::Unlink(scratch);
  return bytes;
}

// Writes `bytes` to a new file `path` with `mode` (exactly); returns errno or 0.
int WriteNewFile(const std::string& path, const std::string& bytes, mode_t mode) {
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
  if (fd < 0) return errno;
  const bool ok = write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()) &&
                  fchmod(fd, mode) == 0;
  const int err = ok ? 0 : errno;
  close(fd);
  return err;
}

// TCP ports of the listening sockets that process `pid` holds (from /proc).
std::vector<int> ListeningTcpPorts(pid_t pid) {
  std::set<std::string> inodes;
  std::error_code ec;
  for (const auto& fd :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    std::error_code link_ec;
    const std::string target = std::filesystem::read_symlink(fd.path(), link_ec).string();
    if (target.rfind("socket:[", 0) == 0) inodes.insert(target.substr(8, target.size() - 9));
  }
  std::vector<int> ports;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state, queues, timer, retrans, uid, timeout, inode;
      fields >> slot >> local >> remote >> state >> queues >> timer >> retrans >> uid >> timeout >>
          inode;
      if (state != "0A" || inodes.count(inode) == 0) continue;  // 0A = LISTEN
      ports.push_back(std::stoi(local.substr(local.rfind(':') + 1), nullptr, 16));
    }
  }
  std::sort(ports.begin(), ports.end());
  return ports;
}

// --- raw calls: bytes that are not a valid message ------------------------------

// A byte string no protobuf message parses: field 1 with the invalid wire
// type 7, then a truncated varint.
const std::string kNotAMessage("\x0f\xff\xff\xff", 4);

grpc::ByteBuffer Bytes(const std::string& s) {
  grpc::Slice slice(s);
  return grpc::ByteBuffer(&slice, 1);
}

// Calls unary method `method` ("/shmarray.v1.ArrayService/Stat") with `bytes`.
grpc::Status RawUnary(grpc::ChannelInterface* channel, const char* method,
                      const std::string& bytes) {
  const grpc::internal::RpcMethod rpc(method, grpc::internal::RpcMethod::NORMAL_RPC);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + kRpcTimeout);
  grpc::ByteBuffer response;
  return grpc::internal::BlockingUnaryCall<grpc::ByteBuffer, grpc::ByteBuffer>(
      channel, rpc, &ctx, Bytes(bytes), &response);
}

// Calls server-streaming `method` with `bytes` and drains the stream.
grpc::Status RawServerStream(grpc::ChannelInterface* channel, const char* method,
                             const std::string& bytes) {
  const grpc::internal::RpcMethod rpc(method, grpc::internal::RpcMethod::SERVER_STREAMING);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + kRpcTimeout);
  std::unique_ptr<grpc::ClientReader<grpc::ByteBuffer>> reader(
      grpc::internal::ClientReaderFactory<grpc::ByteBuffer>::Create(channel, rpc, &ctx,
                                                                    Bytes(bytes)));
  grpc::ByteBuffer msg;
  while (reader->Read(&msg)) {
  }
  return reader->Finish();
}

// Calls client-streaming `method` with the messages `msgs`.
grpc::Status RawClientStream(grpc::ChannelInterface* channel, const char* method,
                             const std::vector<std::string>& msgs) {
  const grpc::internal::RpcMethod rpc(method, grpc::internal::RpcMethod::CLIENT_STREAMING);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + kRpcTimeout);
  grpc::ByteBuffer response;
  std::unique_ptr<grpc::ClientWriter<grpc::ByteBuffer>> writer(
      grpc::internal::ClientWriterFactory<grpc::ByteBuffer>::Create(channel, rpc, &ctx, &response));
  for (const std::string& m : msgs) {
    if (!writer->Write(Bytes(m))) break;
  }
  writer->WritesDone();
  return writer->Finish();
}

// --- daemon options ---

TestDaemonOptions WithFlags(std::vector<std::string> flags) {
  TestDaemonOptions options;
  options.extra_flags = std::move(flags);
  return options;
}
TestDaemonOptions WithToken(std::string token) {
  TestDaemonOptions options;
  options.token = std::move(token);
  return options;
}
TestDaemonOptions WithTcp() {
  TestDaemonOptions options;
  options.listen_tcp = true;
  return options;
}
TestDaemonOptions WithSocket(std::string path) {
  TestDaemonOptions options;
  options.socket_path = std::move(path);
  return options;
}

// --- requests -----------------------------------------------------------------

v1::CreateRequest CreateReq(const std::string& name, const std::string& format,
                            std::vector<int64_t> shape, v1::Order order = v1::ORDER_C,
                            const std::string& fill = "", int64_t itemsize = 0) {
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
                           v1::Order order = v1::ORDER_C, const std::string& format = "") {
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

// The calls every test makes, each with a deadline (a hung daemon fails the
// test instead of hanging it) and, when set, an authorization header.
class Api {
 public:
  explicit Api(v1::ArrayService::Stub* stub, std::string authorization = "")
      : stub_(stub), authorization_(std::move(authorization)) {}

  void Prepare(grpc::ClientContext* ctx) const {
    ctx->set_deadline(std::chrono::system_clock::now() + kRpcTimeout);
    if (!authorization_.empty()) ctx->AddMetadata("authorization", authorization_);
  }

  grpc::Status Create(const v1::CreateRequest& req, v1::ArrayInfo* info = nullptr) const {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::ArrayInfo local;
    return stub_->Create(&ctx, req, info ? info : &local);
  }
  grpc::Status Create(const std::string& name, const std::string& format,
                      std::vector<int64_t> shape, v1::Order order = v1::ORDER_C,
                      v1::ArrayInfo* info = nullptr) const {
    return Create(CreateReq(name, format, std::move(shape), order), info);
  }
  grpc::Status Stat(const std::string& name, v1::ArrayInfo* info = nullptr) const {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::StatRequest req;
    req.set_name(name);
    v1::ArrayInfo local;
    return stub_->Stat(&ctx, req, info ? info : &local);
  }
  grpc::Status List(const v1::ListRequest& req, v1::ListResponse* resp) const {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    return stub_->List(&ctx, req, resp);
  }
  // Every name under `prefix`, following page tokens.
  grpc::Status ListNames(const std::string& prefix, std::vector<std::string>* names,
                         int page_size = 0) const {
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
  grpc::Status Delete(const std::string& name, bool cascade = false,
                      v1::DeleteResponse* resp = nullptr) const {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::DeleteRequest req;
    req.set_name(name);
    req.set_cascade(cascade);
    v1::DeleteResponse local;
    return stub_->Delete(&ctx, req, resp ? resp : &local);
  }
  grpc::Status Seal(const std::string& name, v1::ArrayInfo* info = nullptr) const {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::SealRequest req;
    req.set_name(name);
    v1::ArrayInfo local;
    return stub_->Seal(&ctx, req, info ? info : &local);
  }
  grpc::Status Slice(const v1::SliceRequest& req, v1::ArrayInfo* info = nullptr) const {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::ArrayInfo local;
    return stub_->Slice(&ctx, req, info ? info : &local);
  }
  grpc::Status Slice(const std::string& name, const std::string& text,
                     const std::string& new_name = "", v1::ArrayInfo* info = nullptr) const {
    v1::SliceRequest req;
    req.set_name(name);
    *req.mutable_index() = TextIndex(text);
    req.set_new_name(new_name);
    return Slice(req, info);
  }
  grpc::Status Copy(const v1::CopyRequest& req, v1::ArrayInfo* info = nullptr) const {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::ArrayInfo local;
    return stub_->Copy(&ctx, req, info ? info : &local);
  }
  // Reads the whole stream: `info` from the first message, the data after.
  grpc::Status Read(const v1::ReadRequest& req, std::string* bytes, v1::ArrayInfo* info = nullptr,
                    int* data_messages = nullptr) const {
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
  grpc::Status Read(const std::string& name, const std::string& text, std::string* bytes,
                    v1::Order order = v1::ORDER_C, v1::ArrayInfo* info = nullptr) const {
    v1::ReadRequest req;
    req.set_name(name);
    if (!text.empty()) *req.mutable_index() = TextIndex(text);
    req.set_order(order);
    return Read(req, bytes, info);
  }
  grpc::Status Write(const std::vector<v1::WriteRequest>& msgs,
                     v1::WriteResponse* resp = nullptr) const {
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
  // Writes `bytes` into name[text] in `chunk`-byte data messages.
  grpc::Status Write(const std::string& name, const std::string& text, const std::string& bytes,
                     v1::Order order = v1::ORDER_C, v1::WriteResponse* resp = nullptr,
                     int64_t chunk = kMiB) const {
    std::vector<v1::WriteRequest> msgs = {
        TargetMsg(name, text, static_cast<int64_t>(bytes.size()), order)};
    for (size_t pos = 0; pos < bytes.size(); pos += static_cast<size_t>(chunk)) {
      msgs.push_back(DataMsg(bytes.substr(pos, static_cast<size_t>(chunk))));
    }
    return Write(msgs, resp);
  }
  v1::ArrayService::Stub* stub() const { return stub_; }

 private:
  v1::ArrayService::Stub* stub_;
  std::string authorization_;
};

// --- a fixture with one daemon per test -----------------------------------------

class DaemonTest : public ::testing::Test {
 protected:
  void StartDaemon(TestDaemonOptions options = {}) {
    absl::StatusOr<std::unique_ptr<TestDaemon>> daemon = TestDaemon::Start(std::move(options));
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = std::move(daemon).value();
    ResetApi();
  }
  // After a restart: the old stub is gone.
  void ResetApi() {
    const std::string auth =
        daemon_->options().token.empty() ? "" : "Bearer " + daemon_->options().token;
    api_ = std::make_unique<Api>(&daemon_->stub(), auth);
  }
  // The daemon answers, and nothing of its prefix is left in /dev/shm once
  // every name is deleted.
  void ExpectHealthy() {
    absl::StatusOr<int> serving =
        TestDaemon::HealthCheck(daemon_->channel().get(), std::chrono::seconds(10));
    ASSERT_TRUE(serving.ok()) << serving.status() << "\n" << daemon_->StderrTail();
    EXPECT_EQ(*serving, TestDaemon::kServing);
  }
  void DeleteEverything() {
    std::vector<std::string> names;
    ASSERT_RPC_OK(api_->ListNames("", &names));
    for (const std::string& name : names) {
      grpc::Status s = api_->Delete(name, /*cascade=*/true);
      EXPECT_TRUE(s.ok() || s.error_code() == Code::NOT_FOUND) << name << DescribeStatus(s);
    }
    ASSERT_RPC_OK(api_->ListNames("", &names));
    EXPECT_THAT(names, IsEmpty());
    EXPECT_THAT(daemon_->ListSegments(), IsEmpty());
  }

  std::unique_ptr<TestDaemon> daemon_;
  std::unique_ptr<Api> api_;
};

// ==============================================================================
// Success paths of every RPC.
// ==============================================================================

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
    ASSERT_RPC_OK(api_->Create(c.name, c.format, c.shape, c.order, &info));
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
    ASSERT_RPC_OK(api_->Read(c.name, "", &bytes));
    EXPECT_EQ(bytes, std::string(static_cast<size_t>(info.nbytes()), '\0'));
    // Stat says the same as Create.
    v1::ArrayInfo stat;
    ASSERT_RPC_OK(api_->Stat(c.name, &stat));
    EXPECT_TRUE(SameInfo(info, stat)) << info.DebugString() << "\nvs\n" << stat.DebugString();
  }
  EXPECT_EQ(daemon_->ListSegments().size(), cases.size());
  DeleteEverything();
}

TEST_F(DaemonTest, CreateWithFillAndItemsize) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  const std::string item("\x01\x02\x03\x04", 4);
  v1::ArrayInfo info;
  ASSERT_RPC_OK(api_->Create(CreateReq("fill/a", "<i", {2, 3}, v1::ORDER_C, item), &info));
  std::string bytes;
  ASSERT_RPC_OK(api_->Read("fill/a", "", &bytes));
  std::string expected;
  for (int i = 0; i < 6; ++i) expected += item;
  EXPECT_EQ(bytes, expected);

  // itemsize larger than the format's: trailing padding, kept as given.
  ASSERT_RPC_OK(api_->Create(CreateReq("fill/padded", "<h", {3}, v1::ORDER_C, "", 8), &info));
  EXPECT_EQ(info.itemsize(), 8);
  EXPECT_THAT(info.strides(), ElementsAre(8));
  EXPECT_EQ(info.nbytes(), 24);
  const std::string item8 = Pattern(8, 3);
  ASSERT_RPC_OK(api_->Create(CreateReq("fill/padded2", "<h", {2}, v1::ORDER_C, item8, 8), &info));
  ASSERT_RPC_OK(api_->Read("fill/padded2", "", &bytes));
  EXPECT_EQ(bytes, item8 + item8);
  DeleteEverything();
}

TEST_F(DaemonTest, ListIsSortedFilteredAndPaged) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  for (const char* name : {"l/c", "l/a", "m/x", "l/b", "l2", "l/d/e"}) {
    ASSERT_RPC_OK(api_->Create(name, "B", {4}));
  }
  ASSERT_RPC_OK(api_->Slice("l/a", "1:", "l/v"));
  std::vector<std::string> names;
  ASSERT_RPC_OK(api_->ListNames("l/", &names));
  EXPECT_THAT(names, ElementsAre("l/a", "l/b", "l/c", "l/d/e", "l/v"));
  for (int page_size : {1, 2, 3, 1000}) {
    SCOPED_TRACE(page_size);
    ASSERT_RPC_OK(api_->ListNames("l/", &names, page_size));
    EXPECT_THAT(names, ElementsAre("l/a", "l/b", "l/c", "l/d/e", "l/v"));
  }
  ASSERT_RPC_OK(api_->ListNames("", &names, 2));
  EXPECT_THAT(names, ElementsAre("l/a", "l/b", "l/c", "l/d/e", "l/v", "l2", "m/x"));
  ASSERT_RPC_OK(api_->ListNames("zzz", &names));
  EXPECT_THAT(names, IsEmpty());

  // A page holds at most page_size entries and full descriptions.
  v1::ListRequest req;
  req.set_prefix("l/");
  req.set_page_size(2);
  v1::ListResponse resp;
  ASSERT_RPC_OK(api_->List(req, &resp));
  ASSERT_EQ(resp.arrays_size(), 2);
  EXPECT_FALSE(resp.next_page_token().empty());
  v1::ArrayInfo stat;
  ASSERT_RPC_OK(api_->Stat("l/a", &stat));
  EXPECT_TRUE(SameInfo(resp.arrays(0), stat)) << resp.arrays(0).DebugString();
  DeleteEverything();
}

TEST_F(DaemonTest, DeleteRemovesNameAndSegment) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  v1::ArrayInfo info;
  ASSERT_RPC_OK(api_->Create("d/a", "d", {10}, v1::ORDER_C, &info));
  ASSERT_TRUE(FileExists("/dev/shm/" + info.segment_name()));
  v1::DeleteResponse resp;
  ASSERT_RPC_OK(api_->Delete("d/a", false, &resp));
  EXPECT_THAT(resp.deleted(), ElementsAre("d/a"));
  EXPECT_FALSE(FileExists("/dev/shm/" + info.segment_name()));
  EXPECT_RPC_CODE(api_->Stat("d/a"), Code::NOT_FOUND);
  EXPECT_RPC_CODE(api_->Delete("d/a"), Code::NOT_FOUND);
  // The name is free at once, with a new generation.
  v1::ArrayInfo again;
  ASSERT_RPC_OK(api_->Create("d/a", "d", {10}, v1::ORDER_C, &again));
  EXPECT_NE(again.generation(), info.generation());
  EXPECT_NE(again.segment_name(), info.segment_name());
  DeleteEverything();
}

TEST_F(DaemonTest, DeleteOfBaseIsRefusedWhileViewsExistUnlessCascade) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_RPC_OK(api_->Create("v/base", "<i", {4, 4}));
  ASSERT_RPC_OK(api_->Slice("v/base", "::2", "v/even"));
  ASSERT_RPC_OK(api_->Slice("v/base", "..., 1", "v/col1"));
  const std::vector<std::string> before = daemon_->ListSegments();
  EXPECT_EQ(before.size(), 3u);  // one array, two header-only view segments

  const grpc::Status refused = api_->Delete("v/base");
  EXPECT_EQ(refused.error_code(), Code::FAILED_PRECONDITION) << DescribeStatus(refused);
  EXPECT_THAT(refused.error_message(), HasSubstr("v/even"));
  EXPECT_THAT(refused.error_message(), HasSubstr("v/col1"));
  EXPECT_EQ(daemon_->ListSegments(), before);
  EXPECT_RPC_OK(api_->Stat("v/base"));

  // Deleting a view alone is fine and leaves the base.
  v1::DeleteResponse resp;
  ASSERT_RPC_OK(api_->Delete("v/col1", false, &resp));
  EXPECT_THAT(resp.deleted(), ElementsAre("v/col1"));
  EXPECT_RPC_OK(api_->Stat("v/base"));
  EXPECT_EQ(daemon_->ListSegments().size(), 2u);

  ASSERT_RPC_OK(api_->Slice("v/base", "1:3, 1:3", "v/mid"));
  ASSERT_RPC_OK(api_->Delete("v/base", /*cascade=*/true, &resp));
  ASSERT_EQ(resp.deleted_size(), 3);
  EXPECT_EQ(resp.deleted(0), "v/base");
  EXPECT_THAT(std::vector<std::string>(resp.deleted().begin() + 1, resp.deleted().end()),
              UnorderedElementsAreArray({"v/even", "v/mid"}));
  for (const char* name : {"v/base", "v/even", "v/mid"}) {
    EXPECT_RPC_CODE(api_->Stat(name), Code::NOT_FOUND);
  }
  EXPECT_THAT(daemon_->ListSegments(), IsEmpty());
}

TEST_F(DaemonTest, SealMakesReadOnlyForGood) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  const std::string data = Pattern(48, 1);
  ASSERT_RPC_OK(api_->Create("s/a", "<i", {3, 4}));
  ASSERT_RPC_OK(api_->Write("s/a", "", data));
  ASSERT_RPC_OK(api_->Slice("s/a", "1:", "s/before"));
  v1::ArrayInfo info;
  ASSERT_RPC_OK(api_->Seal("s/a", &info));
  EXPECT_TRUE(info.readonly());
  EXPECT_EQ(info.name(), "s/a");
  ASSERT_RPC_OK(api_->Stat("s/a", &info));
  EXPECT_TRUE(info.readonly());
  // The file mode lost every write bit.
  EXPECT_EQ(FileMode("/dev/shm/" + info.segment_name()) & 0222, 0u);
  // Views of a sealed array are read-only, whenever they were made.
  ASSERT_RPC_OK(api_->Stat("s/before", &info));
  EXPECT_TRUE(info.readonly());
  ASSERT_RPC_OK(api_->Slice("s/a", "::2", "s/after", &info));
  EXPECT_TRUE(info.readonly());
  ASSERT_RPC_OK(api_->Slice("s/a", "0", "", &info));
  EXPECT_TRUE(info.readonly());

  EXPECT_RPC_CODE(api_->Write("s/a", "", Pattern(48, 2)), Code::FAILED_PRECONDITION);
  EXPECT_RPC_CODE(api_->Write("s/before", "", Pattern(32, 2)), Code::FAILED_PRECONDITION);
  // Reads and copies out still work; the copy is writable.
  std::string bytes;
  ASSERT_RPC_OK(api_->Read("s/a", "", &bytes));
  EXPECT_EQ(bytes, data);
  v1::CopyRequest copy;
  copy.set_source("s/a");
  copy.set_new_name("s/copy");
  ASSERT_RPC_OK(api_->Copy(copy, &info));
  EXPECT_FALSE(info.readonly());
  EXPECT_RPC_OK(api_->Write("s/copy", "0", Pattern(16, 4)));
  DeleteEverything();
}

TEST_F(DaemonTest, SliceComputesNumpyLayouts) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  v1::ArrayInfo base;
  ASSERT_RPC_OK(api_->Create("sl/a", "<d", {5, 6, 7}, v1::ORDER_C, &base));
  const std::string data = Pattern(5 * 6 * 7 * 8, 9);
  ASSERT_RPC_OK(api_->Write("sl/a", "", data));
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
    ASSERT_RPC_OK(api_->Slice("sl/a", text, "", &info));
    const shm::Layout expected = layout.slice(shm::ParseIndex(text));
    ExpectLayout(info, expected);
    EXPECT_EQ(info.format(), base.format());
    EXPECT_EQ(info.generation(), base.generation());
    EXPECT_EQ(info.segment_name(), base.segment_name());
    std::string bytes;
    ASSERT_RPC_OK(api_->Read("sl/a", text, &bytes));
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
  ASSERT_RPC_OK(api_->Slice(req, &info));
  ExpectLayout(info, layout.slice(shm::ParseIndex("-1, 5::-2, None, ...")));
  // No name: nothing registered.
  EXPECT_EQ(daemon_->ListSegments(), before);
  std::vector<std::string> names;
  ASSERT_RPC_OK(api_->ListNames("", &names));
  EXPECT_THAT(names, ElementsAre("sl/a"));
  DeleteEverything();
}

TEST_F(DaemonTest, NamedViewIsAnEntryThatSharesTheBase) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  v1::ArrayInfo base;
  ASSERT_RPC_OK(api_->Create("nv/a", "<i", {4, 5}, v1::ORDER_F, &base));
  std::string region = Pattern(80, 5);
  ASSERT_RPC_OK(api_->Write("nv/a", "", region, v1::ORDER_F));
  v1::ArrayInfo view;
  ASSERT_RPC_OK(api_->Slice("nv/a", "::-1, 1:4", "nv/v", &view));
  const shm::Layout expected = LayoutOf(base).slice(shm::ParseIndex("::-1, 1:4"));
  ExpectLayout(view, expected);
  EXPECT_EQ(view.name(), "nv/v");
  EXPECT_EQ(view.kind(), v1::ARRAY_KIND_VIEW);
  EXPECT_EQ(view.base(), "nv/a");
  EXPECT_EQ(view.base_generation(), base.generation());
  EXPECT_EQ(view.segment_name(), base.segment_name());
  EXPECT_EQ(view.data_size(), base.data_size());
  v1::ArrayInfo stat;
  ASSERT_RPC_OK(api_->Stat("nv/v", &stat));
  EXPECT_TRUE(SameInfo(view, stat)) << view.DebugString() << "\nvs\n" << stat.DebugString();

  std::string bytes;
  ASSERT_RPC_OK(api_->Read("nv/v", "", &bytes));
  EXPECT_EQ(bytes, Gather(region, expected, shm::Order::kC));
  // A view of a view composes.
  ASSERT_RPC_OK(api_->Read("nv/v", "1, ::2", &bytes));
  EXPECT_EQ(bytes, Gather(region, expected.slice(shm::ParseIndex("1, ::2")), shm::Order::kC));
  // Writing through the view lands in the base.
  const std::string patch = Pattern(4 * 3 * 4, 6);
  ASSERT_RPC_OK(api_->Write("nv/v", "", patch));
  Scatter(&region, expected, shm::Order::kC, patch);
  ASSERT_RPC_OK(api_->Read("nv/a", "", &bytes, v1::ORDER_F));
  EXPECT_EQ(bytes, region);
  // A named view of a named view names the array as its base.
  ASSERT_RPC_OK(api_->Slice("nv/v", "0", "nv/vv", &view));
  EXPECT_EQ(view.base(), "nv/a");
  DeleteEverything();
}

TEST_F(DaemonTest, CopyMaterializesAndCopiesBetweenArrays) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  v1::ArrayInfo src;
  ASSERT_RPC_OK(api_->Create("cp/a", "<q", {6, 5}, v1::ORDER_C, &src));
  const std::string data = Pattern(6 * 5 * 8, 11);
  ASSERT_RPC_OK(api_->Write("cp/a", "", data));
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
    ASSERT_RPC_OK(api_->Copy(req, &info));
    EXPECT_EQ(info.name(), name);
    EXPECT_EQ(info.format(), src.format());
    EXPECT_NE(info.generation(), src.generation());
    ExpectLayout(info,
                 Contiguous(8, {3, 4}, order == v1::ORDER_C ? shm::Order::kC : shm::Order::kF));
    std::string bytes;
    ASSERT_RPC_OK(api_->Read(name, "", &bytes));
    EXPECT_EQ(bytes, Gather(data, sel, shm::Order::kC));
  }
  // Into an existing array: cp/a[1, 1:] -> cp/c[2].
  v1::CopyRequest into;
  into.set_source("cp/a");
  *into.mutable_source_index() = TextIndex("1, 1:");
  into.set_destination("cp/c");
  *into.mutable_destination_index() = TextIndex("2");
  v1::ArrayInfo info;
  ASSERT_RPC_OK(api_->Copy(into, &info));
  std::string row;
  ASSERT_RPC_OK(api_->Read("cp/c", "2", &row));
  EXPECT_EQ(row, Gather(data, LayoutOf(src).slice(shm::ParseIndex("1, 1:")), shm::Order::kC));
  // Broadcasting as Cython: a source axis of extent 1 is repeated.
  into.set_source("cp/a");
  *into.mutable_source_index() = TextIndex("0:1, 1:");
  into.set_destination("cp/f");
  into.clear_destination_index();
  ASSERT_RPC_OK(api_->Copy(into, &info));
  std::string all;
  ASSERT_RPC_OK(api_->Read("cp/f", "", &all));
  const std::string row0 =
      Gather(data, LayoutOf(src).slice(shm::ParseIndex("0, 1:")), shm::Order::kC);
  EXPECT_EQ(all, row0 + row0 + row0);
  DeleteEverything();
}

TEST_F(DaemonTest, ReadStreamsChunksInEitherOrder) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  v1::ArrayInfo info;
  ASSERT_RPC_OK(api_->Create("rd/a", "<H", {9, 7}, v1::ORDER_C, &info));
  const std::string data = Pattern(9 * 7 * 2, 12);
  ASSERT_RPC_OK(api_->Write("rd/a", "", data));
  const shm::Layout layout = LayoutOf(info);

  v1::ReadRequest req;
  req.set_name("rd/a");
  req.set_order(v1::ORDER_F);
  req.set_chunk_size(10);
  std::string bytes;
  v1::ArrayInfo header;
  int chunks = 0;
  ASSERT_RPC_OK(api_->Read(req, &bytes, &header, &chunks));
  EXPECT_EQ(bytes, Gather(data, layout, shm::Order::kF));
  EXPECT_EQ(chunks, 1);  // chunk_size 10 is raised to the 64 KiB floor
  // The header describes the stream: contiguous in the requested order.
  EXPECT_THAT(header.shape(), ElementsAre(9, 7));
  EXPECT_TRUE(header.f_contiguous());
  EXPECT_EQ(header.format(), info.format());

  *req.mutable_index() = TextIndex("1::3, ::-2");
  req.set_order(v1::ORDER_C);
  req.set_chunk_size(0);
  ASSERT_RPC_OK(api_->Read(req, &bytes, &header, &chunks));
  EXPECT_EQ(bytes, Gather(data, layout.slice(shm::ParseIndex("1::3, ::-2")), shm::Order::kC));
  EXPECT_EQ(chunks, 1);
  EXPECT_THAT(header.shape(), ElementsAre(3, 4));

  // Empty selection: a header and no data.
  ASSERT_RPC_OK(api_->Read("rd/a", "3:3", &bytes));
  EXPECT_EQ(bytes, "");
  // A big array arrives in chunks of at most 4 MiB.
  ASSERT_RPC_OK(api_->Create("rd/big", "B", {9 * kMiB + 5}));
  const std::string big = Pattern(9 * kMiB + 5, 13);
  ASSERT_RPC_OK(api_->Write("rd/big", "", big));
  req.Clear();
  req.set_name("rd/big");
  req.set_chunk_size(64 << 20);
  ASSERT_RPC_OK(api_->Read(req, &bytes, &header, &chunks));
  EXPECT_TRUE(bytes == big);
  EXPECT_GE(chunks, 3);
  // A tiny chunk_size does not make a message per byte: 64 KiB at least.
  req.set_chunk_size(1);
  ASSERT_RPC_OK(api_->Read(req, &bytes, &header, &chunks));
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
  ASSERT_RPC_OK(api_->Create("br/a", "<i", {8, 10}, v1::ORDER_C, &info));
  ASSERT_RPC_OK(api_->Write("br/a", "", Pattern(320, 41)));
  for (const v1::Order order : {v1::ORDER_C, v1::ORDER_F}) {
    std::string whole;
    ASSERT_RPC_OK(api_->Read("br/a", "::-2, 1::3", &whole, order));
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
      ASSERT_RPC_OK(api_->Read(req, &bytes, &described));
      const size_t end = count == 0 ? whole.size() : std::min<size_t>(whole.size(), offset + count);
      EXPECT_EQ(bytes, whole.substr(offset, end - offset));
      EXPECT_THAT(described.shape(), ElementsAre(4, 3));  // the whole selection
    }
  }
  v1::ReadRequest req;
  req.set_name("br/a");
  std::string bytes;
  req.set_byte_offset(321);
  EXPECT_RPC_CODE(api_->Read(req, &bytes), Code::OUT_OF_RANGE);
  req.set_byte_offset(-1);
  EXPECT_RPC_CODE(api_->Read(req, &bytes), Code::INVALID_ARGUMENT);
  req.set_byte_offset(0);
  req.set_byte_count(-5);
  EXPECT_RPC_CODE(api_->Read(req, &bytes), Code::INVALID_ARGUMENT);
  req.set_byte_count(0);
  req.set_generation(info.generation() + 1);
  EXPECT_RPC_CODE(api_->Read(req, &bytes), Code::FAILED_PRECONDITION);
  DeleteEverything();
}

// Write parts (WriteTarget.byte_offset set): each lands at its offset of the
// selection's stream; a part past the end, a negative offset, or a stale
// generation is refused before a byte lands.
TEST_F(DaemonTest, WritePartsLandAtTheirOffsetsOfTheSelection) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  v1::ArrayInfo info;
  ASSERT_RPC_OK(api_->Create("bw/a", "<h", {6, 8}, v1::ORDER_C, &info));
  const std::string before = Pattern(96, 42);
  ASSERT_RPC_OK(api_->Write("bw/a", "", before));
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
    ASSERT_RPC_OK(api_->Write(msgs, &resp));
    EXPECT_EQ(resp.bytes_written(), end - begin);
  }
  std::string expected = before;
  Scatter(&expected, LayoutOf(info).slice(shm::ParseIndex(index)), shm::Order::kF, patch);
  std::string bytes;
  ASSERT_RPC_OK(api_->Read("bw/a", "", &bytes));
  EXPECT_EQ(bytes, expected);

  // Refused parts change nothing.
  const auto part = [&](int64_t offset, int64_t nbytes, uint64_t generation) {
    std::vector<v1::WriteRequest> msgs = {TargetMsg("bw/a", index, nbytes)};
    msgs[0].mutable_target()->set_byte_offset(offset);
    msgs[0].mutable_target()->set_generation(generation);
    if (nbytes > 0) msgs.push_back(DataMsg(std::string(static_cast<size_t>(nbytes), 'x')));
    return api_->Write(msgs);
  };
  EXPECT_RPC_CODE(part(40, 9, 0), Code::OUT_OF_RANGE);
  EXPECT_RPC_CODE(part(49, 0, 0), Code::OUT_OF_RANGE);
  EXPECT_RPC_CODE(part(-1, 1, 0), Code::INVALID_ARGUMENT);
  EXPECT_RPC_CODE(part(0, -1, 0), Code::INVALID_ARGUMENT);
  EXPECT_RPC_CODE(part(0, 4, info.generation() + 1), Code::FAILED_PRECONDITION);
  ASSERT_RPC_OK(api_->Read("bw/a", "", &bytes));
  EXPECT_EQ(bytes, expected);
  // A part that carries more or fewer bytes than its nbytes fails as a
  // whole write does.
  std::vector<v1::WriteRequest> msgs = {TargetMsg("bw/a", index, 4)};
  msgs[0].mutable_target()->set_byte_offset(2);
  msgs.push_back(DataMsg("abcdef"));
  EXPECT_RPC_CODE(api_->Write(msgs), Code::INVALID_ARGUMENT);
  DeleteEverything();
}

TEST_F(DaemonTest, WriteAcceptsAnyChunkingAndOrder) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  v1::ArrayInfo info;
  ASSERT_RPC_OK(api_->Create("wr/a", "<f", {4, 6}, v1::ORDER_F, &info));
  std::string region(96, '\0');
  const shm::Layout layout = LayoutOf(info);

  // Whole array in C order, 7-byte chunks (not item aligned).
  const std::string whole = Pattern(96, 14);
  v1::WriteResponse resp;
  ASSERT_RPC_OK(api_->Write("wr/a", "", whole, v1::ORDER_C, &resp, 7));
  EXPECT_EQ(resp.bytes_written(), 96);
  Scatter(&region, layout, shm::Order::kC, whole);
  std::string bytes;
  ASSERT_RPC_OK(api_->Read("wr/a", "", &bytes, v1::ORDER_F));
  EXPECT_EQ(bytes, region);

  // A strided selection in F order.
  const shm::Layout sel = layout.slice(shm::ParseIndex("::-2, 1::2"));
  const std::string patch = Pattern(2 * 3 * 4, 15);
  ASSERT_RPC_OK(api_->Write("wr/a", "::-2, 1::2", patch, v1::ORDER_F, &resp, 5));
  EXPECT_EQ(resp.bytes_written(), 24);
  ExpectLayout(resp.info(), sel);
  Scatter(&region, sel, shm::Order::kF, patch);
  ASSERT_RPC_OK(api_->Read("wr/a", "", &bytes, v1::ORDER_F));
  EXPECT_EQ(bytes, region);

  // Explicit matching format spellings are accepted.
  std::vector<v1::WriteRequest> msgs = {TargetMsg("wr/a", "0, 0", 4, v1::ORDER_C, "f"),
                                        DataMsg(std::string("\0\0\x80\x3f", 4))};
  ASSERT_RPC_OK(api_->Write(msgs, &resp));
  ASSERT_RPC_OK(api_->Read("wr/a", "0, 0", &bytes));
  EXPECT_EQ(bytes, std::string("\0\0\x80\x3f", 4));
  // A 0-d array and a zero-byte write.
  ASSERT_RPC_OK(api_->Create("wr/scalar", "<d", {}));
  ASSERT_RPC_OK(api_->Write("wr/scalar", "", Pattern(8, 16), v1::ORDER_C, &resp));
  EXPECT_EQ(resp.bytes_written(), 8);
  ASSERT_RPC_OK(api_->Read("wr/scalar", "", &bytes));
  EXPECT_EQ(bytes, Pattern(8, 16));
  ASSERT_RPC_OK(api_->Write("wr/a", "2:2", "", v1::ORDER_C, &resp));
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
    ASSERT_RPC_OK(api_->Create("w/probe" + std::to_string(i), "B", {1}));
    for (;;) {
      std::optional<v1::WatchEvent> event = watch.Next(std::chrono::milliseconds(250));
      if (!event) break;
      if (event->type() == v1::WatchEvent::TYPE_CREATED) synced = true;
    }
  }
  ASSERT_TRUE(synced) << "no event for any probe; stream: " << watch.status();

  ASSERT_RPC_OK(api_->Create("other/x", "B", {1}));  // outside the prefix
  v1::ArrayInfo created;
  ASSERT_RPC_OK(api_->Create("w/a", "<i", {2}, v1::ORDER_C, &created));
  ASSERT_RPC_OK(api_->Seal("w/a"));
  ASSERT_RPC_OK(api_->Delete("w/a"));
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

TEST_F(DaemonTest, SocketAndSegmentModesAre0600) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  EXPECT_EQ(FileMode(daemon_->socket_path()), 0600u);
  v1::ArrayInfo info;
  ASSERT_RPC_OK(api_->Create("m/a", "B", {4}, v1::ORDER_C, &info));
  EXPECT_EQ(FileMode("/dev/shm/" + info.segment_name()), 0600u);
  ASSERT_RPC_OK(api_->Slice("m/a", "1:", "m/v"));
  for (const std::string& seg : daemon_->ListSegments()) {
    EXPECT_EQ(FileMode("/dev/shm/" + seg), 0600u) << seg;
  }
  ASSERT_RPC_OK(api_->Seal("m/a"));
  EXPECT_EQ(FileMode("/dev/shm/" + info.segment_name()), 0400u);
  DeleteEverything();
}

TEST_F(DaemonTest, QuotasAnswerResourceExhausted) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon(WithFlags({"--max-arrays", "3", "--max-bytes", "64K"})));
  ASSERT_RPC_OK(api_->Create("q/a", "B", {48 * 1024}));
  const grpc::Status over_bytes = api_->Create("q/b", "B", {32 * 1024});
  EXPECT_EQ(over_bytes.error_code(), Code::RESOURCE_EXHAUSTED) << DescribeStatus(over_bytes);
  v1::CopyRequest copy;
  copy.set_source("q/a");
  copy.set_new_name("q/c");
  EXPECT_RPC_CODE(api_->Copy(copy), Code::RESOURCE_EXHAUSTED);
  ASSERT_RPC_OK(api_->Create("q/b", "B", {8 * 1024}));
  ASSERT_RPC_OK(api_->Slice("q/a", "::2", "q/v"));  // a view is an entry, without bytes
  EXPECT_RPC_CODE(api_->Create("q/d", "B", {1}), Code::RESOURCE_EXHAUSTED);
  EXPECT_RPC_CODE(api_->Slice("q/a", "1::2", "q/w"), Code::RESOURCE_EXHAUSTED);
  EXPECT_EQ(daemon_->ListSegments().size(), 3u);
  ASSERT_RPC_OK(api_->Delete("q/v"));
  ASSERT_RPC_OK(api_->Create("q/d", "B", {4 * 1024}));
  ASSERT_RPC_OK(api_->Delete("q/a"));
  ASSERT_RPC_OK(api_->Create("q/e", "B", {48 * 1024}));  // the bytes came back
  DeleteEverything();
}

// ==============================================================================
// Malformed requests: one daemon for the table; after each case the daemon
// answers and the canaries are byte-for-byte unchanged.
// ==============================================================================

struct BadCase {
  BadCase(std::string name_in, Code code_in, std::function<grpc::Status(const Api&)> call_in,
          std::string message_contains_in = "")
      : name(std::move(name_in)),
        code(code_in),
        call(std::move(call_in)),
        message_contains(std::move(message_contains_in)) {}
  std::string name;  // a valid test-name suffix
  Code code;
  std::function<grpc::Status(const Api&)> call;
  std::string message_contains;  // optional
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

struct Canary {
  std::string name;
  v1::Order order;      // order to read it back in
  std::string content;  // its bytes in that order
};

// The channel of the BadInputTest daemon, for the cases that send raw bytes.
grpc::ChannelInterface* g_bad_input_channel = nullptr;

class BadInputTest : public ::testing::TestWithParam<BadCase> {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::unique_ptr<TestDaemon>> daemon = TestDaemon::Start();
    if (!daemon.ok()) {
      setup_error_ = daemon.status().ToString();
      return;
    }
    daemon_ = std::move(daemon).value();
    g_bad_input_channel = daemon_->channel().get();
    api_ = std::make_unique<Api>(&daemon_->stub());
    std::string err = MakeCanaries();
    if (!err.empty()) {
      setup_error_ = err;
      daemon_.reset();
    }
  }
  static void TearDownTestSuite() {
    g_bad_input_channel = nullptr;
    api_.reset();
    daemon_.reset();
  }
  static std::string MakeCanaries() {
    auto check = [](const char* what, const grpc::Status& s) {
      return s.ok() ? std::string() : std::string(what) + ": " + DescribeStatus(s);
    };
    std::string e;
    const std::string c = Pattern(48, 21), f = Pattern(80, 22), sealed = Pattern(48, 23);
    if (!(e = check("c", api_->Create("canary/c", "<i", {3, 4}))).empty()) return e;
    if (!(e = check("c w", api_->Write("canary/c", "", c))).empty()) return e;
    if (!(e = check("f", api_->Create("canary/f", "d", {5, 2}, v1::ORDER_F))).empty()) return e;
    if (!(e = check("f w", api_->Write("canary/f", "", f, v1::ORDER_F))).empty()) return e;
    if (!(e = check("s", api_->Create("canary/sealed", "<i", {3, 4}))).empty()) return e;
    if (!(e = check("s w", api_->Write("canary/sealed", "", sealed))).empty()) return e;
    if (!(e = check("s s", api_->Seal("canary/sealed"))).empty()) return e;
    if (!(e = check("v", api_->Slice("canary/c", "1:, ::2", "canary/view"))).empty()) return e;
    const shm::Layout view =
        Contiguous(4, {3, 4}, shm::Order::kC).slice(shm::ParseIndex("1:, ::2"));
    canaries_ = {{"canary/c", v1::ORDER_C, c},
                 {"canary/f", v1::ORDER_F, f},
                 {"canary/sealed", v1::ORDER_C, sealed},
                 {"canary/view", v1::ORDER_C, Gather(c, view, shm::Order::kC)}};
    segments_ = daemon_->ListSegments();
    if (segments_.size() != 4) return "expected 4 segments after making the canaries";
    return "";
  }

  void SetUp() override { ASSERT_TRUE(daemon_ != nullptr) << setup_error_; }

  // The daemon answers and nothing changed.
  void ExpectUnchanged() {
    ASSERT_TRUE(daemon_->running()) << "the daemon died:\n" << daemon_->StderrTail();
    v1::ArrayInfo info;
    ASSERT_RPC_OK(api_->Stat("canary/c", &info));
    EXPECT_THAT(info.shape(), ElementsAre(3, 4));
    for (const Canary& canary : canaries_) {
      std::string bytes;
      ASSERT_RPC_OK(api_->Read(canary.name, "", &bytes, canary.order));
      EXPECT_EQ(bytes, canary.content) << canary.name << " changed";
    }
    std::vector<std::string> names;
    ASSERT_RPC_OK(api_->ListNames("", &names));
    EXPECT_THAT(names, ElementsAre("canary/c", "canary/f", "canary/sealed", "canary/view"));
    EXPECT_EQ(daemon_->ListSegments(), segments_);
  }

  static inline std::unique_ptr<TestDaemon> daemon_;
  static inline std::unique_ptr<Api> api_;
  static inline std::string setup_error_;
  static inline std::vector<Canary> canaries_;
  static inline std::vector<std::string> segments_;
};

TEST_P(BadInputTest, IsRefusedAndChangesNothing) {
  const BadCase& c = GetParam();
  const grpc::Status status = c.call(*api_);
  EXPECT_EQ(status.error_code(), c.code) << "got " << DescribeStatus(status);
  if (!c.message_contains.empty()) {
    EXPECT_THAT(status.error_message(), HasSubstr(c.message_contains));
  }
  if (!status.ok()) {
    EXPECT_FALSE(status.error_message().empty()) << "errors need a message";
  }
  ExpectUnchanged();
}

// --- the table ---

std::function<grpc::Status(const Api&)> CreateCall(v1::CreateRequest req) {
  return [req](const Api& api) { return api.Create(req); };
}
std::function<grpc::Status(const Api&)> CreateCall(const std::string& name,
                                                   const std::string& format,
                                                   std::vector<int64_t> shape) {
  return CreateCall(CreateReq(name, format, std::move(shape)));
}
std::function<grpc::Status(const Api&)> SliceCall(v1::SliceRequest req) {
  return [req](const Api& api) { return api.Slice(req); };
}
std::function<grpc::Status(const Api&)> SliceText(const std::string& name, const std::string& text,
                                                  const std::string& new_name = "") {
  v1::SliceRequest req;
  req.set_name(name);
  *req.mutable_index() = TextIndex(text);
  req.set_new_name(new_name);
  return SliceCall(req);
}
std::function<grpc::Status(const Api&)> ReadCall(v1::ReadRequest req) {
  return [req](const Api& api) {
    std::string bytes;
    return api.Read(req, &bytes);
  };
}
std::function<grpc::Status(const Api&)> ReadText(const std::string& name, const std::string& text) {
  v1::ReadRequest req;
  req.set_name(name);
  *req.mutable_index() = TextIndex(text);
  return ReadCall(req);
}
std::function<grpc::Status(const Api&)> WriteCall(std::vector<v1::WriteRequest> msgs) {
  return [msgs](const Api& api) { return api.Write(msgs); };
}
std::function<grpc::Status(const Api&)> CopyCall(v1::CopyRequest req) {
  return [req](const Api& api) { return api.Copy(req); };
}
v1::CopyRequest CopyReq(const std::string& source, const std::string& source_index,
                        const std::string& new_name, const std::string& destination,
                        const std::string& destination_index) {
  v1::CopyRequest req;
  req.set_source(source);
  if (!source_index.empty()) *req.mutable_source_index() = TextIndex(source_index);
  req.set_new_name(new_name);
  req.set_destination(destination);
  if (!destination_index.empty()) {
    *req.mutable_destination_index() = TextIndex(destination_index);
  }
  return req;
}
std::function<grpc::Status(const Api&)> ListCall(v1::ListRequest req) {
  return [req](const Api& api) {
    v1::ListResponse resp;
    return api.List(req, &resp);
  };
}

std::vector<BadCase> BadCases() {
  const Code kInvalid = Code::INVALID_ARGUMENT;
  const std::string c48 = Pattern(48, 21);  // canary/c's own bytes
  const std::string junk48(48, '\xee');
  std::vector<BadCase> cases = {
      // Names.
      {"NameEmpty", kInvalid, CreateCall("", "B", {4})},
      {"Name256Chars", kInvalid, CreateCall(std::string(256, 'a'), "B", {4})},
      {"NameDotDot", kInvalid, CreateCall("..", "B", {4})},
      {"NameDotDotComponent", kInvalid, CreateCall("a/../b", "B", {4})},
      {"NameDoubleSlash", kInvalid, CreateCall("a//b", "B", {4})},
      {"NameLeadingSlash", kInvalid, CreateCall("/a", "B", {4})},
      {"NameTrailingSlash", kInvalid, CreateCall("a/", "B", {4})},
      {"NameSpace", kInvalid, CreateCall("a b", "B", {4})},
      {"NameNulByte", kInvalid, CreateCall(std::string("a\0b", 3), "B", {4})},
      {"NameUnicode", kInvalid, CreateCall("\xc3\xa4rray", "B", {4})},
      {"NameNewline", kInvalid, CreateCall("a\nb", "B", {4})},
      {"StatEmptyName", kInvalid, [](const Api& api) { return api.Stat(""); }},
      {"SliceBadNewName", kInvalid, SliceText("canary/c", "", "a b")},
      {"CopyBadNewName", kInvalid, CopyCall(CopyReq("canary/c", "", "/x", "", ""))},
      // Formats.
      {"FormatUnknownCode", kInvalid, CreateCall("bad/f", "y", {4})},
      {"FormatUnclosedStruct", kInvalid, CreateCall("bad/f", "T{i", {4})},
      {"FormatUnclosedStructField", kInvalid, CreateCall("bad/f", "T{i:a", {4}),
       "is not a valid PEP 3118 buffer format string"},
      {"FormatUnclosedSubarray", kInvalid, CreateCall("bad/f", "(2,3", {4})},
      {"FormatComplexOfInt", kInvalid, CreateCall("bad/f", "Zi", {4})},
      {"FormatHugeSubarray", kInvalid, CreateCall("bad/f", "(4294967296,4294967296)d", {1})},
      {"FormatIndirect", kInvalid, CreateCall("bad/f", "&d", {4})},
      {"FormatTrailingGarbage", kInvalid, CreateCall("bad/f", "d)", {4})},
      {"FormatByteOrderOnly", kInvalid, CreateCall("bad/f", "<", {4})},
      {"ItemsizeBelowFormat", kInvalid, CreateCall(CreateReq("bad/f", "d", {4}, v1::ORDER_C, "", 4))},
      {"ItemsizeNegative", kInvalid, CreateCall(CreateReq("bad/f", "d", {4}, v1::ORDER_C, "", -1))},
      // Shapes.
      {"ShapeNegative", kInvalid, CreateCall("bad/s", "B", {-1})},
      {"ShapeNegativeSecondAxis", kInvalid, CreateCall("bad/s", "B", {3, -2})},
      {"Shape33Dims", kInvalid, CreateCall("bad/s", "B", std::vector<int64_t>(33, 1))},
      {"ShapeProductOverflows", kInvalid, CreateCall("bad/s", "B", {int64_t{1} << 32, int64_t{1} << 32})},
      {"ShapeBytesOverflow", kInvalid, CreateCall("bad/s", "d", {int64_t{1} << 61})},
      {"ShapeInt64MaxTimesTwo", kInvalid,
       CreateCall("bad/s", "<H", {std::numeric_limits<int64_t>::max()})},
      {"Shape2Pow62Items", Code::RESOURCE_EXHAUSTED, CreateCall("bad/s", "B", {int64_t{1} << 62})},
      {"CreateBadOrder", kInvalid, CreateCall(CreateReq("bad/s", "B", {4}, static_cast<v1::Order>(7)))},
      // Fill.
      {"FillTooShort", kInvalid, CreateCall(CreateReq("bad/fill", "<i", {4}, v1::ORDER_C, "abc"))},
      {"FillTooLong", kInvalid, CreateCall(CreateReq("bad/fill", "<i", {4}, v1::ORDER_C, "abcde"))},
      {"FillTwoBytesForByteArray", kInvalid, CreateCall(CreateReq("bad/fill", "B", {4}, v1::ORDER_C, "ab"))},
      {"FillShorterThanItemsize", kInvalid,
       CreateCall(CreateReq("bad/fill", "<h", {4}, v1::ORDER_C, "ab", 4))},
      // Index expressions.
      {"SliceStepZero", kInvalid, SliceText("canary/c", "::0"), "Step may not be zero (axis 0)"},
      {"SliceStepZeroSecondAxis", kInvalid, SliceText("canary/c", ":, ::0"),
       "Step may not be zero (axis 1)"},
      {"SliceTwoEllipses", kInvalid, SliceText("canary/c", "..., ..."),
       "an index can only have a single ellipsis ('...')"},
      {"SliceTooManyIndices", kInvalid, SliceText("canary/c", "0, 0, 0"),
       "too many indices for array: array is 2-dimensional, but 3 were indexed"},
      {"SliceIndexOutOfRange", Code::OUT_OF_RANGE, SliceText("canary/c", "3"),
       "Index out of bounds (axis 0)"},
      {"SliceNegativeIndexOutOfRange", Code::OUT_OF_RANGE, SliceText("canary/c", "-4")},
      {"SliceSecondAxisOutOfRange", Code::OUT_OF_RANGE, SliceText("canary/c", "0, 4"),
       "Index out of bounds (axis 1)"},
      {"SliceViewOutOfRange", Code::OUT_OF_RANGE, SliceText("canary/view", "0, 2")},
      {"SliceFourColons", kInvalid, SliceText("canary/c", "1:2:3:4")},
      {"SliceGarbageText", kInvalid, SliceText("canary/c", "abc")},
      {"SliceUnbalancedBracket", kInvalid, SliceText("canary/c", "[0")},
      {"SliceTwoNumbers", kInvalid, SliceText("canary/c", "1 2")},
      {"SliceNewNameOnNothing", Code::NOT_FOUND, SliceText("nothing", "", "bad/v")},
      // Structured index items.
      {"ItemsStepZero", kInvalid,
       [] {
         v1::SliceRequest req;
         req.set_name("canary/c");
         req.mutable_index()->add_items()->mutable_slice()->set_step(0);
         return SliceCall(req);
       }()},
      {"ItemsEmptyItem", kInvalid,
       [] {
         v1::SliceRequest req;
         req.set_name("canary/c");
         req.mutable_index()->add_items();
         return SliceCall(req);
       }()},
      {"ItemsAndTextBoth", kInvalid,
       [] {
         v1::SliceRequest req;
         req.set_name("canary/c");
         req.mutable_index()->add_items()->set_index(0);
         req.mutable_index()->set_text("0");
         return SliceCall(req);
       }()},
      {"ItemsIndexOutOfRange", Code::OUT_OF_RANGE,
       [] {
         v1::SliceRequest req;
         req.set_name("canary/c");
         req.mutable_index()->add_items()->set_index(99);
         return SliceCall(req);
       }()},
      {"ItemsTwoEllipses", kInvalid,
       [] {
         v1::SliceRequest req;
         req.set_name("canary/c");
         req.mutable_index()->add_items()->mutable_ellipsis();
         req.mutable_index()->add_items()->mutable_ellipsis();
         return SliceCall(req);
       }()},
      {"ItemsTooManyNewAxes", kInvalid,
       [] {
         v1::SliceRequest req;
         req.set_name("canary/c");
         for (int i = 0; i < 31; ++i) req.mutable_index()->add_items()->mutable_new_axis();
         return SliceCall(req);
       }()},
      // Reads.
      {"ReadStepZero", kInvalid, ReadText("canary/c", "::0")},
      {"ReadOutOfRange", Code::OUT_OF_RANGE, ReadText("canary/c", "5")},
      {"ReadNegativeChunkSize", kInvalid,
       [] {
         v1::ReadRequest req;
         req.set_name("canary/c");
         req.set_chunk_size(-1);
         return ReadCall(req);
       }()},
      {"ReadBadOrder", kInvalid,
       [] {
         v1::ReadRequest req;
         req.set_name("canary/c");
         req.set_order(static_cast<v1::Order>(9));
         return ReadCall(req);
       }()},
      // Writes (the short/long cases resend canary/c's own bytes, so a
      // streaming server that wrote what arrived still leaves it unchanged).
      {"WriteFewerBytes", kInvalid,
       WriteCall({TargetMsg("canary/c", "", 48), DataMsg(c48.substr(0, 40))})},
      {"WriteMoreBytes", kInvalid,
       WriteCall({TargetMsg("canary/c", "", 48), DataMsg(c48), DataMsg(c48.substr(0, 8))})},
      {"WriteMoreBytesInOneMessage", kInvalid,
       WriteCall({TargetMsg("canary/c", "", 48), DataMsg(c48 + c48.substr(0, 4))})},
      {"WriteDeclaredNbytesMismatch", kInvalid,
       WriteCall({TargetMsg("canary/c", "", 40), DataMsg(junk48.substr(0, 40))})},
      {"WriteDeclaredNbytesMissing", kInvalid,
       WriteCall({TargetMsg("canary/c", "", 0), DataMsg(junk48)})},
      {"WriteDataBeforeTarget", kInvalid,
       WriteCall({DataMsg(junk48), TargetMsg("canary/c", "", 48)})},
      {"WriteEmptyStream", kInvalid, WriteCall({})},
      {"WriteTwoTargets", kInvalid,
       WriteCall({TargetMsg("canary/c", "", 48), TargetMsg("canary/c", "", 48), DataMsg(junk48)})},
      {"WriteWrongFormat", kInvalid,
       WriteCall({TargetMsg("canary/c", "", 48, v1::ORDER_C, "d"), DataMsg(junk48)})},
      {"WriteBadFormat", kInvalid,
       WriteCall({TargetMsg("canary/c", "", 48, v1::ORDER_C, "T{i"), DataMsg(junk48)})},
      {"WriteBadOrder", kInvalid,
       WriteCall({TargetMsg("canary/c", "", 48, static_cast<v1::Order>(5)), DataMsg(junk48)})},
      {"WriteIndexOutOfRange", Code::OUT_OF_RANGE,
       WriteCall({TargetMsg("canary/c", "3", 16), DataMsg(junk48.substr(0, 16))})},
      {"WriteIndexStepZero", kInvalid,
       WriteCall({TargetMsg("canary/c", "::0", 16), DataMsg(junk48.substr(0, 16))})},
      {"WriteSealed", Code::FAILED_PRECONDITION,
       WriteCall({TargetMsg("canary/sealed", "", 48), DataMsg(junk48)})},
      {"WriteSealedRow", Code::FAILED_PRECONDITION,
       WriteCall({TargetMsg("canary/sealed", "0", 16), DataMsg(junk48.substr(0, 16))})},
      {"WriteMissing", Code::NOT_FOUND, WriteCall({TargetMsg("nothing", "", 4), DataMsg("abcd")})},
      // Copies.
      {"CopyIntoSealed", Code::FAILED_PRECONDITION,
       CopyCall(CopyReq("canary/c", "", "", "canary/sealed", ""))},
      {"CopyShapeMismatch", kInvalid, CopyCall(CopyReq("canary/c", "", "", "canary/view", ""))},
      {"CopyFormatMismatch", kInvalid,
       CopyCall(CopyReq("canary/f", ":3", "", "canary/c", ":, :2"))},
      {"CopyBothDestinations", kInvalid,
       CopyCall(CopyReq("canary/c", "", "bad/copy", "canary/f", ""))},
      {"CopyNoDestination", kInvalid, CopyCall(CopyReq("canary/c", "", "", "", ""))},
      {"CopySourceOutOfRange", Code::OUT_OF_RANGE,
       CopyCall(CopyReq("canary/c", "7", "bad/copy", "", ""))},
      {"CopyDestinationIndexBad", kInvalid,
       CopyCall(CopyReq("canary/c", "0", "", "canary/f", "::0"))},
      {"CopyMissingSource", Code::NOT_FOUND, CopyCall(CopyReq("nothing", "", "bad/copy", "", ""))},
      {"CopyMissingDestination", Code::NOT_FOUND,
       CopyCall(CopyReq("canary/c", "", "", "nothing", ""))},
      {"CopyNewNameTaken", Code::ALREADY_EXISTS,
       CopyCall(CopyReq("canary/c", "", "canary/f", "", ""))},
      // Missing names.
      {"StatMissing", Code::NOT_FOUND, [](const Api& api) { return api.Stat("nothing"); }},
      {"StatPrefixOfAName", Code::NOT_FOUND, [](const Api& api) { return api.Stat("canary"); }},
      {"DeleteMissing", Code::NOT_FOUND, [](const Api& api) { return api.Delete("nothing"); }},
      {"SealMissing", Code::NOT_FOUND, [](const Api& api) { return api.Seal("nothing"); }},
      {"SliceMissing", Code::NOT_FOUND, SliceText("nothing", "0")},
      {"ReadMissing", Code::NOT_FOUND, ReadText("nothing", "")},
      // Taken names.
      {"CreateTaken", Code::ALREADY_EXISTS, CreateCall("canary/c", "<i", {3, 4})},
      {"CreateTakenDifferentShape", Code::ALREADY_EXISTS, CreateCall("canary/c", "B", {1})},
      {"CreateTakenByView", Code::ALREADY_EXISTS, CreateCall("canary/view", "B", {1})},
      {"SliceNewNameTaken", Code::ALREADY_EXISTS, SliceText("canary/c", "0", "canary/f")},
      // Views block deletes.
      {"DeleteBaseWithViews", Code::FAILED_PRECONDITION,
       [](const Api& api) { return api.Delete("canary/c"); }, "canary/view"},
      // Listing.
      {"ListBadPageToken", kInvalid,
       [] {
         v1::ListRequest req;
         req.set_page_token("not-a-token");
         return ListCall(req);
       }()},
      {"ListNegativePageSize", kInvalid,
       [] {
         v1::ListRequest req;
         req.set_page_size(-1);
         return ListCall(req);
       }()},
      // Item sizes, formats and sub-arrays beyond what can be stored or
      // exported: refused with the real reason.
      {"CreateItemsizeOver2To40", kInvalid,
       CreateCall(CreateReq("bad/x", "B", {1}, v1::ORDER_C, "", (int64_t{1} << 40) + 1)),
       "too large"},
      {"CreateCanonicalFormatTooLongToStore", kInvalid, CreateCall("bad/x", std::string(1100, 'i'), {1}),
       "format is too long"},
      {"CreateSubarrayOf33Dims", kInvalid,
       CreateCall("bad/x", "(" + [] {
         std::string dims;
         for (int i = 0; i < 33; ++i) dims += i == 0 ? "1" : ",1";
         return dims;
       }() + ")d", {1}),
       "at most 32"},
  };
  // Bytes that are not a valid message: INVALID_ARGUMENT with a message, on
  // every method (not gRPC's INTERNAL with an empty message).
  static constexpr const char* kUnary[] = {"Create", "Stat",  "List", "Delete",
                                           "Seal",   "Slice", "Copy"};
  for (const char* method : kUnary) {
    const std::string full = std::string("/shmarray.v1.ArrayService/") + method;
    cases.push_back(
        {std::string("Malformed") + method + "Request", kInvalid,
         [full](const Api&) { return RawUnary(g_bad_input_channel, full.c_str(), kNotAMessage); },
         "malformed"});
  }
  for (const char* method : {"Read", "Watch"}) {
    const std::string full = std::string("/shmarray.v1.ArrayService/") + method;
    cases.push_back({std::string("Malformed") + method + "Request", kInvalid,
                     [full](const Api&) {
                       return RawServerStream(g_bad_input_channel, full.c_str(), kNotAMessage);
                     },
                     "malformed"});
  }
  cases.push_back({"MalformedWriteRequest", kInvalid,
                   [](const Api&) {
                     return RawClientStream(g_bad_input_channel, "/shmarray.v1.ArrayService/Write",
                                            {kNotAMessage});
                   },
                   "malformed"});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Table, BadInputTest, ::testing::ValuesIn(BadCases()),
                         [](const ::testing::TestParamInfo<BadCase>& info) {
                           return info.param.name;
                         });

TEST(BadInputTableTest, HasAtLeastFortyDistinctCases) {
  const std::vector<BadCase> cases = BadCases();
  EXPECT_GE(cases.size(), 40u);
  std::set<std::string> names;
  for (const BadCase& c : cases) EXPECT_TRUE(names.insert(c.name).second) << c.name;
}

// ==============================================================================
// Restart, crash recovery, SIGTERM.
// ==============================================================================

struct Snapshot {
  v1::ArrayInfo info;
  std::string bytes;  // read in C order
};

TEST_F(DaemonTest, RestartAfterSigkillKeepsEveryArray) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  struct Spec {
    std::string name, format;
    std::vector<int64_t> shape;
    v1::Order order;
  };
  const std::vector<Spec> specs = {
      {"r/int", "i", {3, 4}, v1::ORDER_C},   {"r/dbl", "d", {4, 3}, v1::ORDER_F},
      {"r/cplx", "Zd", {5}, v1::ORDER_C},    {"r/struct", "T{i:a:d:b:}", {2, 2}, v1::ORDER_F},
      {"r/scalar", "<q", {}, v1::ORDER_C},   {"r/sealed", "<H", {6}, v1::ORDER_C},
      {"r/empty", "f", {0, 3}, v1::ORDER_C}, {"r/deep/name.x-1", "b", {2, 1, 3}, v1::ORDER_F},
  };
  int seed = 30;
  for (const Spec& spec : specs) {
    v1::ArrayInfo info;
    ASSERT_RPC_OK(api_->Create(spec.name, spec.format, spec.shape, spec.order, &info));
    ASSERT_RPC_OK(api_->Write(spec.name, "", Pattern(info.nbytes(), seed++)));
  }
  ASSERT_RPC_OK(api_->Seal("r/sealed"));
  ASSERT_RPC_OK(api_->Slice("r/int", "::-1, 1:3", "r/view"));
  ASSERT_RPC_OK(api_->Slice("r/dbl", "1", "r/dbl_row"));

  auto snapshot = [&]() {
    std::map<std::string, Snapshot> snap;
    std::vector<std::string> names;
    EXPECT_RPC_OK(api_->ListNames("", &names));
    for (const std::string& name : names) {
      Snapshot s;
      EXPECT_RPC_OK(api_->Stat(name, &s.info));
      EXPECT_RPC_OK(api_->Read(name, "", &s.bytes));
      snap[name] = s;
    }
    return snap;
  };
  const std::map<std::string, Snapshot> before = snapshot();
  ASSERT_EQ(before.size(), specs.size() + 2);
  const std::vector<std::string> segments = daemon_->ListSegments();
  ASSERT_EQ(segments.size(), specs.size() + 2);

  daemon_->Kill();
  const absl::Status restarted = daemon_->Restart();
  ASSERT_TRUE(restarted.ok()) << restarted;
  ResetApi();

  const std::map<std::string, Snapshot> after = snapshot();
  ASSERT_EQ(after.size(), before.size());
  for (const auto& [name, snap] : before) {
    SCOPED_TRACE(name);
    auto it = after.find(name);
    ASSERT_NE(it, after.end());
    EXPECT_TRUE(SameInfo(snap.info, it->second.info)) << snap.info.DebugString() << "\nvs\n"
                                                      << it->second.info.DebugString();
    EXPECT_EQ(snap.bytes, it->second.bytes);
  }
  EXPECT_EQ(daemon_->ListSegments(), segments);
  // Sealed stays sealed; the views still work and still write through.
  EXPECT_TRUE(after.at("r/sealed").info.readonly());
  EXPECT_RPC_CODE(api_->Write("r/sealed", "", Pattern(12, 1)), Code::FAILED_PRECONDITION);
  const std::string patch = Pattern(3 * 2 * 4, 40);
  ASSERT_RPC_OK(api_->Write("r/view", "", patch));
  std::string bytes;
  ASSERT_RPC_OK(api_->Read("r/int", "::-1, 1:3", &bytes));
  EXPECT_EQ(bytes, patch);
  EXPECT_RPC_CODE(api_->Delete("r/int"), Code::FAILED_PRECONDITION);
  // New arrays never reuse a generation.
  v1::ArrayInfo fresh;
  ASSERT_RPC_OK(api_->Create("r/new", "B", {3}, v1::ORDER_C, &fresh));
  for (const auto& [name, snap] : before) EXPECT_NE(fresh.generation(), snap.info.generation());
  DeleteEverything();
}

TEST_F(DaemonTest, RestartRemovesHalfCreatedSegmentsAndOrphanViews) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_RPC_OK(api_->Create("h/keep", "<i", {4}));
  ASSERT_RPC_OK(api_->Write("h/keep", "", Pattern(16, 50)));
  const std::vector<std::string> good = daemon_->ListSegments();
  ASSERT_EQ(good.size(), 1u);
  daemon_->Kill();

  const std::string prefix = daemon_->segment_prefix();
  const int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  {
    // Created but never committed (a crash in the middle of Create).
    shm::SegmentMeta meta;
    meta.kind = shm::SegmentKind::kArray;
    meta.generation = 0xfffffff0;
    meta.name = "h/half";
    meta.format = Canonical("B");
    meta.layout = Contiguous(1, {16}, shm::Order::kC);
    meta.data_size_bytes = 16;
    meta.created_unix_ns = now_ns;
    absl::StatusOr<shm::Segment> half = shm::Segment::Create(prefix + "/fffffff0", meta, 0600);
    ASSERT_TRUE(half.ok()) << half.status();
    EXPECT_EQ(half->meta().state, shm::SegmentState::kCreating);
  }
  {
    // A committed view whose base is gone.
    shm::SegmentMeta meta;
    meta.kind = shm::SegmentKind::kView;
    meta.generation = 0xfffffff1;
    meta.name = "h/orphan";
    meta.format = Canonical("B");
    meta.layout = Contiguous(1, {4}, shm::Order::kC);
    meta.base_generation = 0xfffffffe;
    meta.base_name = "h/gone";
    meta.created_unix_ns = now_ns;
    absl::StatusOr<shm::Segment> orphan = shm::Segment::Create(prefix + "/fffffff1", meta, 0600);
    ASSERT_TRUE(orphan.ok()) << orphan.status();
    ASSERT_TRUE(orphan->Commit().ok());
  }
  {
    // A file whose header was never written (crash right after creating it).
    const std::string path = "/dev/shm/" + prefix + "/fffffff2";
    const int fd = open(path.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    EXPECT_EQ(ftruncate(fd, 4096), 0);
    close(fd);
  }
  ASSERT_EQ(daemon_->ListSegments().size(), 4u);

  const absl::Status restarted = daemon_->Restart();
  ASSERT_TRUE(restarted.ok()) << restarted;
  ResetApi();
  EXPECT_EQ(daemon_->ListSegments(), good);
  std::vector<std::string> names;
  ASSERT_RPC_OK(api_->ListNames("", &names));
  EXPECT_THAT(names, ElementsAre("h/keep"));
  std::string bytes;
  ASSERT_RPC_OK(api_->Read("h/keep", "", &bytes));
  EXPECT_EQ(bytes, Pattern(16, 50));
  EXPECT_RPC_CODE(api_->Stat("h/half"), Code::NOT_FOUND);
  EXPECT_RPC_CODE(api_->Stat("h/orphan"), Code::NOT_FOUND);
  // The names are usable.
  EXPECT_RPC_OK(api_->Create("h/half", "B", {16}));
  DeleteEverything();
}

TEST_F(DaemonTest, SigtermIsGracefulAndKeepsArrays) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_RPC_OK(api_->Create("t/a", "<d", {100}));
  ASSERT_RPC_OK(api_->Write("t/a", "", Pattern(800, 60)));
  ASSERT_RPC_OK(api_->Slice("t/a", "::3", "t/v"));
  const std::vector<std::string> segments = daemon_->ListSegments();
  ASSERT_TRUE(FileExists(daemon_->socket_path()));

  absl::StatusOr<int> code = daemon_->Stop();
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << daemon_->StderrTail();
  EXPECT_FALSE(FileExists(daemon_->socket_path())) << "socket file left behind";
  EXPECT_EQ(daemon_->ListSegments(), segments);

  const absl::Status restarted = daemon_->Restart();
  ASSERT_TRUE(restarted.ok()) << restarted;
  ResetApi();
  std::string bytes;
  ASSERT_RPC_OK(api_->Read("t/a", "", &bytes));
  EXPECT_EQ(bytes, Pattern(800, 60));
  v1::ArrayInfo view;
  ASSERT_RPC_OK(api_->Stat("t/v", &view));
  EXPECT_EQ(view.base(), "t/a");
  // SIGINT is graceful too.
  ASSERT_TRUE(daemon_->Signal(SIGINT).ok());
  code = daemon_->WaitForExit(std::chrono::seconds(10));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  EXPECT_EQ(daemon_->ListSegments(), segments);
}

// ==============================================================================
// Delete while another process holds a mapping.
// ==============================================================================

// Reads one byte from `fd`, waiting at most `timeout`.
bool ReadByte(int fd, char* c, std::chrono::milliseconds timeout) {
  pollfd pfd{fd, POLLIN, 0};
  int n;
  do {
    n = poll(&pfd, 1, static_cast<int>(timeout.count()));
  } while (n < 0 && errno == EINTR);
  if (n != 1) return false;
  return read(fd, c, 1) == 1;
}

// Whether this process maps the file `path` (also once it is unlinked).
bool ProcMapsHasPath(const std::string& path) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  const std::string deleted = path + " (deleted)";
  auto ends_with = [&line](const std::string& tail) {
    return line.size() >= tail.size() &&
           line.compare(line.size() - tail.size(), tail.size(), tail) == 0;
  };
  while (std::getline(maps, line)) {
    if (ends_with(" " + path) || ends_with(" " + deleted)) return true;
  }
  return false;
}

TEST_F(DaemonTest, DeleteWhileAnotherProcessHoldsAMapping) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  const int64_t n = 3 * 4096 + 100;
  v1::ArrayInfo info;
  ASSERT_RPC_OK(api_->Create("dm/a", "B", {n}, v1::ORDER_C, &info));
  const std::string first = Pattern(n, 70);
  const std::string second = Pattern(n, 71);
  ASSERT_RPC_OK(api_->Write("dm/a", "", first));
  ASSERT_RPC_OK(api_->Stat("dm/a", &info));
  const std::string segment = info.segment_name();

  int ready[2], go[2], done[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(go), 0);
  ASSERT_EQ(pipe(done), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child maps the data region as a client would and never uses gRPC.
    close(ready[0]);
    close(go[1]);
    close(done[0]);
    std::byte* data = nullptr;
    absl::StatusOr<std::shared_ptr<const void>> owner = shm::MapDataRegion(
        segment, shm::Segment::Access::kReadWrite, info.generation(), info.data_size(), &data);
    char c = owner.ok() ? 'R' : 'E';
    if (write(ready[1], &c, 1) != 1 || !owner.ok()) _exit(2);
    if (read(go[0], &c, 1) != 1) _exit(3);
    if (std::memcmp(data, first.data(), static_cast<size_t>(n)) != 0) _exit(4);
    std::memcpy(data, second.data(), static_cast<size_t>(n));
    c = 'W';
    if (write(done[1], &c, 1) != 1) _exit(5);
    // Hold the mapping until the parent closes its end (EOF).
    const ssize_t ignored = read(go[0], &c, 1);
    (void)ignored;
    _exit(0);
  }
  close(ready[1]);
  close(go[0]);
  close(done[1]);
  // Whatever happens, the child is reaped.
  struct Reaper {
    pid_t pid;
    int go_fd;
    int status = -1;
    int Wait() {
      if (pid > 0) {
        close(go_fd);
        go_fd = -1;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        pid = -1;
      }
      return status;
    }
    ~Reaper() {
      if (pid > 0) kill(pid, SIGKILL);
      Wait();
    }
  } reaper{child, go[1]};

  char c = 0;
  ASSERT_TRUE(ReadByte(ready[0], &c, std::chrono::seconds(10)));
  ASSERT_EQ(c, 'R') << "the child could not map the data region";
  // The parent maps it too (read-only), to see the child's writes later.
  std::byte* mine = nullptr;
  absl::StatusOr<std::shared_ptr<const void>> owner = shm::MapDataRegion(
      segment, shm::Segment::Access::kReadOnly, info.generation(), info.data_size(), &mine);
  ASSERT_TRUE(owner.ok()) << owner.status();

  v1::DeleteResponse deleted;
  ASSERT_RPC_OK(api_->Delete("dm/a", false, &deleted));
  // The segment's file is gone at once; the name is free at once.
  EXPECT_FALSE(FileExists("/dev/shm/" + segment));
  EXPECT_TRUE(ProcMapsHasPath("/dev/shm/" + segment));
  v1::ArrayInfo again;
  ASSERT_RPC_OK(api_->Create("dm/a", "B", {n}, v1::ORDER_C, &again));
  EXPECT_NE(again.generation(), info.generation());
  EXPECT_NE(again.segment_name(), segment);
  // The old generation can no longer be mapped by name.
  std::byte* none = nullptr;
  EXPECT_FALSE(shm::MapDataRegion(segment, shm::Segment::Access::kReadOnly, info.generation(),
                                  info.data_size(), &none)
                   .ok());

  // The child still sees the old bytes and writes new ones.
  c = 'G';
  ASSERT_EQ(write(reaper.go_fd, &c, 1), 1);
  ASSERT_TRUE(ReadByte(done[0], &c, std::chrono::seconds(10))) << "child did not finish";
  EXPECT_EQ(c, 'W');
  EXPECT_EQ(std::memcmp(mine, second.data(), static_cast<size_t>(n)), 0)
      << "the child's write is not visible in the old (deleted) mapping";
  // The new array is other memory: still zeros.
  std::string bytes;
  ASSERT_RPC_OK(api_->Read("dm/a", "", &bytes));
  EXPECT_EQ(bytes, std::string(static_cast<size_t>(n), '\0'));

  const int status = reaper.Wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  // The memory goes with the last unmap.
  owner->reset();
  EXPECT_FALSE(ProcMapsHasPath("/dev/shm/" + segment));
  close(ready[0]);
  close(done[0]);
  DeleteEverything();
}

// ==============================================================================
// Concurrency.
// ==============================================================================

TEST_F(DaemonTest, SixteenConcurrentClients) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  constexpr int kThreads = 16;
  constexpr int kMaxIterations = 400;
  const Clock::time_point end = Clock::now() + std::chrono::seconds(3);
  std::mutex mu;
  std::vector<std::string> errors;
  std::atomic<int64_t> ops{0};
  auto record = [&](const std::string& what, const grpc::Status& s) {
    std::lock_guard<std::mutex> lock(mu);
    if (errors.size() < 50) errors.push_back(what + " -> " + DescribeStatus(s));
  };
  auto expect = [&](const std::string& what, const grpc::Status& s,
                    std::initializer_list<Code> allowed) {
    ops.fetch_add(1, std::memory_order_relaxed);
    for (Code code : allowed) {
      if (s.error_code() == code) return s.ok();
    }
    record(what, s);
    return false;
  };

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Half the threads share the daemon's channel, half have their own.
      std::unique_ptr<v1::ArrayService::Stub> own = t % 2 ? daemon_->NewStub() : nullptr;
      Api api(own ? own.get() : &daemon_->stub());
      std::mt19937 rng(static_cast<unsigned>(t));
      for (int it = 0; it < kMaxIterations && Clock::now() < end; ++it) {
        const std::string name = "cc/t" + std::to_string(t) + "/a" + std::to_string(it % 3);
        const std::string data = Pattern(6 * 4 * 8, t * 1000 + it);
        if (!expect("create " + name, api.Create(name, "<d", {6, 4}), {Code::OK})) continue;
        expect("write " + name, api.Write(name, "", data), {Code::OK});
        v1::ArrayInfo info;
        if (expect("stat " + name, api.Stat(name, &info), {Code::OK}) && info.nbytes() != 192) {
          record("stat " + name + " nbytes", grpc::Status::OK);
        }
        std::string bytes;
        if (expect("read " + name, api.Read(name, "", &bytes), {Code::OK}) && bytes != data) {
          record("read " + name + " content", grpc::Status::OK);
        }
        if (it % 4 == 0) {
          expect("slice " + name, api.Slice(name, "::2", name + "v"), {Code::OK});
          expect("read view " + name, api.Read(name + "v", "", &bytes), {Code::OK});
          v1::DeleteResponse resp;
          if (expect("cascade " + name, api.Delete(name, true, &resp), {Code::OK}) &&
              resp.deleted_size() != 2) {
            record("cascade " + name + " deleted count", grpc::Status::OK);
          }
        } else {
          expect("delete " + name, api.Delete(name), {Code::OK});
        }
        // Shared names: races are expected outcomes.
        const std::string shared = "cc/shared/" + std::to_string(rng() % 3);
        switch (rng() % 6) {
          case 0:
            expect("shared create", api.Create(shared, "<i", {16}),
                   {Code::OK, Code::ALREADY_EXISTS});
            break;
          case 1:
            expect("shared stat", api.Stat(shared), {Code::OK, Code::NOT_FOUND});
            break;
          case 2:
            expect("shared write", api.Write(shared, "", Pattern(64, 1)),
                   {Code::OK, Code::NOT_FOUND, Code::ABORTED});
            break;
          case 3:
            if (expect("shared read", api.Read(shared, "", &bytes),
                       {Code::OK, Code::NOT_FOUND, Code::ABORTED}) &&
                bytes.size() != 64) {
              record("shared read size", grpc::Status::OK);
            }
            break;
          case 4:
            expect("shared delete", api.Delete(shared), {Code::OK, Code::NOT_FOUND});
            break;
          default: {
            std::vector<std::string> names;
            expect("list", api.ListNames("cc/", &names), {Code::OK});
            break;
          }
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_THAT(errors, IsEmpty());
  EXPECT_GT(ops.load(), kThreads * 5);
  ASSERT_NO_FATAL_FAILURE(ExpectHealthy());
  for (int i = 0; i < 3; ++i) {
    const grpc::Status s = api_->Delete("cc/shared/" + std::to_string(i));
    EXPECT_TRUE(s.ok() || s.error_code() == Code::NOT_FOUND) << DescribeStatus(s);
  }
  std::vector<std::string> names;
  ASSERT_RPC_OK(api_->ListNames("", &names));
  EXPECT_THAT(names, IsEmpty());
  EXPECT_THAT(daemon_->ListSegments(), IsEmpty()) << "segments leaked";
}

// ==============================================================================
// Authentication, TCP, flags.
// ==============================================================================

TEST_F(DaemonTest, BearerTokenIsRequiredExceptForHealth) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon(WithToken("s3cret-token")));
  const Api authorized(&daemon_->stub(), "Bearer s3cret-token");
  const Api anonymous(&daemon_->stub());
  const Api wrong(&daemon_->stub(), "Bearer s3cret-tokem");
  const Api basic(&daemon_->stub(), "Basic s3cret-token");

  ASSERT_RPC_OK(authorized.Create("a/x", "B", {4}));
  for (const Api* api : {&anonymous, &wrong, &basic}) {
    EXPECT_RPC_CODE(api->Stat("a/x"), Code::UNAUTHENTICATED);
    EXPECT_RPC_CODE(api->Create("a/y", "B", {4}), Code::UNAUTHENTICATED);
    EXPECT_RPC_CODE(api->Delete("a/x"), Code::UNAUTHENTICATED);
    std::string bytes;
    EXPECT_RPC_CODE(api->Read("a/x", "", &bytes), Code::UNAUTHENTICATED);
    EXPECT_RPC_CODE(api->Write("a/x", "", "abcd"), Code::UNAUTHENTICATED);
    std::vector<std::string> names;
    EXPECT_RPC_CODE(api->ListNames("", &names), Code::UNAUTHENTICATED);
  }
  EXPECT_THAT(wrong.Stat("a/x").error_message(), HasSubstr("invalid bearer token"));
  // Nothing happened without the token.
  EXPECT_RPC_CODE(authorized.Stat("a/y"), Code::NOT_FOUND);
  std::string bytes;
  ASSERT_RPC_OK(authorized.Read("a/x", "", &bytes));
  EXPECT_EQ(bytes, std::string(4, '\0'));
  // The health service stays open.
  absl::StatusOr<int> serving =
      TestDaemon::HealthCheck(daemon_->channel().get(), std::chrono::seconds(10));
  ASSERT_TRUE(serving.ok()) << serving.status();
  EXPECT_EQ(*serving, TestDaemon::kServing);
  ASSERT_RPC_OK(authorized.Delete("a/x"));
  EXPECT_THAT(daemon_->ListSegments(), IsEmpty());
}

TEST_F(DaemonTest, TcpLoopbackListenerServesTheSameCatalog) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon(WithTcp()));
  ASSERT_GT(daemon_->tcp_port(), 0);
  std::unique_ptr<v1::ArrayService::Stub> tcp_stub = daemon_->NewTcpStub();
  const Api tcp(tcp_stub.get());
  absl::StatusOr<int> serving = TestDaemon::HealthCheck(
      TestDaemon::NewChannel(daemon_->tcp_target()).get(), std::chrono::seconds(10), true);
  ASSERT_TRUE(serving.ok()) << serving.status();
  EXPECT_EQ(*serving, TestDaemon::kServing);

  const int64_t n = 3 * kMiB + 17;
  const std::string data = Pattern(n, 80);
  v1::ArrayInfo made;
  ASSERT_RPC_OK(tcp.Create("tcp/a", "B", {n}, v1::ORDER_C, &made));
  ASSERT_RPC_OK(tcp.Write("tcp/a", "", data));
  v1::ArrayInfo over_unix;
  ASSERT_RPC_OK(api_->Stat("tcp/a", &over_unix));
  EXPECT_TRUE(SameInfo(made, over_unix));
  std::string bytes;
  ASSERT_RPC_OK(tcp.Read("tcp/a", "", &bytes));
  EXPECT_TRUE(bytes == data);
  ASSERT_RPC_OK(api_->Read("tcp/a", "", &bytes));
  EXPECT_TRUE(bytes == data);
  ASSERT_RPC_OK(tcp.Delete("tcp/a"));
  EXPECT_THAT(daemon_->ListSegments(), IsEmpty());
}

TEST(DaemonFlagsTest, NonLoopbackListenWithoutTlsOrInsecureExitsWith2) {
  TestDaemonOptions options = WithToken("t");  // a token, but plaintext on the network
  options.extra_flags = {"--listen", "0.0.0.0:0"};
  absl::StatusOr<ExitResult> result = TestDaemon::RunUntilExit(options, std::chrono::seconds(10));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->exited) << "signal " << result->signal;
  EXPECT_EQ(result->code, 2) << result->stderr_text;
  EXPECT_THAT(result->stderr_text, HasSubstr("not a loopback address"));
}

TEST(DaemonFlagsTest, NonLoopbackListenWithInsecureServes) {
  absl::StatusOr<std::unique_ptr<TestDaemon>> daemon =
      TestDaemon::Start(WithFlags({"--listen", "0.0.0.0:0", "--insecure"}));
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  EXPECT_TRUE((*daemon)->WaitForStderr("listening on tcp ", std::chrono::seconds(10)))
      << (*daemon)->StderrTail();
  absl::StatusOr<int> code = (*daemon)->Stop();
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
}

TEST(DaemonFlagsTest, BadFlagsExitWith2) {
  const std::vector<std::vector<std::string>> bad = {
      {"--no-such-flag"},       {"--instance", "bad/name"}, {"--instance", ""},
      {"--log-level", "loud"},  {"--max-bytes", "12Q"},     {"--max-arrays", "-1"},
      {"--listen", "nonsense"},
  };
  for (const std::vector<std::string>& flags : bad) {
    SCOPED_TRACE(::testing::PrintToString(flags));
    absl::StatusOr<ExitResult> result =
        TestDaemon::RunUntilExit(WithFlags(flags), std::chrono::seconds(10));
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_TRUE(result->exited) << "signal " << result->signal;
    EXPECT_EQ(result->code, 2) << result->stderr_text;
  }
}

TEST_F(DaemonTest, SecondDaemonOnALiveSocketFailsAndLeavesTheFirstAlone) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_RPC_OK(api_->Create("live/a", "B", {4}));
  absl::StatusOr<ExitResult> second =
      TestDaemon::RunUntilExit(WithSocket(daemon_->socket_path()), std::chrono::seconds(10));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(second->exited);
  EXPECT_NE(second->code, 0) << second->stderr_text;
  EXPECT_TRUE(FileExists(daemon_->socket_path()));
  ASSERT_NO_FATAL_FAILURE(ExpectHealthy());
  EXPECT_RPC_OK(api_->Stat("live/a"));
  DeleteEverything();
}

TEST_F(DaemonTest, StaleSocketFileIsReplaced) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  daemon_->Kill();
  ASSERT_TRUE(FileExists(daemon_->socket_path())) << "SIGKILL cannot remove the socket";
  const absl::Status restarted = daemon_->Restart();
  ASSERT_TRUE(restarted.ok()) << restarted;
  ResetApi();
  EXPECT_RPC_CODE(api_->Stat("x"), Code::NOT_FOUND);
}

// ==============================================================================
// Hardening: other local users, truncation, seals, TCP listeners, the lock.
// ==============================================================================

// Finding: a segment planted by another user (valid header, newer generation,
// an existing array's name) was adopted at restart and the real one unlinked.
TEST_F(DaemonTest, RestartIgnoresSegmentsTheDaemonDidNotMake) {
  if (!IsRoot()) GTEST_SKIP() << "needs root to act as a second user (nobody)";
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  v1::ArrayInfo info;
  ASSERT_RPC_OK(api_->Create("victim", "<q", {64}, v1::ORDER_C, &info));
  const std::string real = Pattern(512, 31);
  ASSERT_RPC_OK(api_->Write("victim", "", real));
  const std::string legit_path = "/dev/shm/" + info.segment_name();
  const std::string prefix = daemon_->segment_prefix();
  daemon_->Kill();

  // Forged segments: the same name and layout, newer generations and times.
  auto forged = [&](uint64_t generation, const std::string& name) {
    shm::SegmentMeta meta;
    meta.kind = shm::SegmentKind::kArray;
    meta.generation = generation;
    meta.name = name;
    meta.format = info.format();
    meta.layout = LayoutOf(info);
    meta.data_size_bytes = info.data_size();
    meta.created_unix_ns = info.created_unix_ns() + 1000000000;
    return SegmentFileBytes(meta, std::string(512, '\x66'));
  };
  char hex[32];
  auto hex_of = [&](uint64_t g) {
    std::snprintf(hex, sizeof(hex), "%llx", static_cast<unsigned long long>(g));
    return std::string(hex);
  };
  const uint64_t g1 = info.generation() + 1;
  const uint64_t g2 = info.generation() + 2;
  const uint64_t g3 = info.generation() + 3;
  // As nobody: where the segments of this instance used to be named, and in
  // the daemon's directory (which nobody may write).
  const std::string flat = "/dev/shm/" + prefix + "." + hex_of(g1);
  const std::string forged1 = forged(g1, "victim");
  ASSERT_FALSE(forged1.empty());
  const int as_nobody = RunAsUser(kNobody, kNogroup, {}, [&]() -> int {
    if (WriteNewFile(flat, forged1, 0666) != 0) return 1;
    const int err = WriteNewFile("/dev/shm/" + prefix + "/" + hex_of(g1), forged1, 0666);
    return err == EACCES ? 0 : 2;
  });
  EXPECT_EQ(as_nobody, 0) << "nobody could write into the daemon's directory";
  // Inside the directory (as only root or the daemon's uid could): a file of
  // another owner, a file with a mode the daemon never sets, and a symlink.
  const std::string other_owner = "/dev/shm/" + prefix + "/" + hex_of(g2);
  ASSERT_EQ(WriteNewFile(other_owner, forged(g2, "victim"), 0600), 0);
  ASSERT_EQ(chown(other_owner.c_str(), kNobody, kNogroup), 0);
  const std::string world_writable = "/dev/shm/" + prefix + "/" + hex_of(g3);
  ASSERT_EQ(WriteNewFile(world_writable, forged(g3, "victim"), 0666), 0);
  const std::string link = "/dev/shm/" + prefix + "/" + hex_of(g3 + 1);
  ASSERT_EQ(symlink(legit_path.c_str(), link.c_str()), 0);

  const absl::Status restarted = daemon_->Restart();
  ASSERT_TRUE(restarted.ok()) << restarted;
  ResetApi();
  v1::ArrayInfo after;
  ASSERT_RPC_OK(api_->Stat("victim", &after));
  EXPECT_EQ(after.generation(), info.generation()) << "a forged segment was adopted";
  EXPECT_EQ(after.segment_name(), info.segment_name());
  std::string bytes;
  ASSERT_RPC_OK(api_->Read("victim", "", &bytes));
  EXPECT_EQ(bytes, real);
  std::vector<std::string> names;
  ASSERT_RPC_OK(api_->ListNames("", &names));
  EXPECT_THAT(names, ElementsAre("victim"));
  // The legitimate segment is still there; the foreign files were left alone.
  EXPECT_TRUE(FileExists(legit_path));
  EXPECT_TRUE(FileExists(other_owner));
  EXPECT_TRUE(FileExists(world_writable));
  EXPECT_TRUE(FileExists(link));
  EXPECT_TRUE(daemon_->WaitForStderr("ignored segment", std::chrono::seconds(5)))
      << daemon_->StderrTail();
  EXPECT_THAT(daemon_->StderrText(), HasSubstr("owned by uid 65534"));
  unlink(flat.c_str());
  unlink(other_owner.c_str());
  unlink(world_writable.c_str());
  unlink(link.c_str());
  DeleteEverything();
}

// Finding: pre-creating the next segment names made Creates fail with
// ALREADY_EXISTS. Generations are unpredictable and live in a directory that
// no other user can write.
TEST_F(DaemonTest, SquattedSegmentNamesDoNotBlockCreate) {
  if (!IsRoot()) GTEST_SKIP() << "needs root to act as a second user (nobody)";
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  v1::ArrayInfo first;
  ASSERT_RPC_OK(api_->Create("sq/0", "B", {8}, v1::ORDER_C, &first));
  const std::string prefix = daemon_->segment_prefix();
  std::vector<std::string> squatted;
  for (uint64_t g = first.generation() + 1; g <= first.generation() + 200; ++g) {
    char hex[32];
    std::snprintf(hex, sizeof(hex), "%llx", static_cast<unsigned long long>(g));
    squatted.push_back("/dev/shm/" + prefix + "." + hex);  // the flat names
    squatted.push_back("/dev/shm/" + prefix + "/" + hex);  // in the directory
  }
  const int rc = RunAsUser(kNobody, kNogroup, {}, [&]() -> int {
    int in_dir = 0;
    for (size_t i = 0; i < squatted.size(); ++i) {
      const int err = WriteNewFile(squatted[i], "", 0666);
      if (i % 2 == 1 && err == 0) ++in_dir;
    }
    return in_dir == 0 ? 0 : 1;
  });
  EXPECT_EQ(rc, 0) << "nobody could create files in the daemon's directory";
  std::vector<uint64_t> generations = {first.generation()};
  for (int i = 1; i <= 50; ++i) {
    v1::ArrayInfo info;
    ASSERT_RPC_OK(api_->Create("sq/" + std::to_string(i), "B", {8}, v1::ORDER_C, &info));
    generations.push_back(info.generation());
  }
  // Not a counter: nobody can tell the next name from the last one.
  int close = 0;
  for (size_t i = 1; i < generations.size(); ++i) {
    const uint64_t a = generations[i - 1], b = generations[i];
    if ((a > b ? a - b : b - a) < (uint64_t{1} << 32)) ++close;
  }
  EXPECT_LE(close, 1);
  for (const std::string& path : squatted) unlink(path.c_str());
  DeleteEverything();
}

// Finding: ftruncate of a segment by a process that may write it killed the
// daemon (SIGBUS) on its next Write or Copy. Now the requests that touch the
// lost pages fail with DATA_LOSS naming the array; the daemon and every other
// array are fine. 100 truncations, each during Writes, Reads and Copies.
TEST_F(DaemonTest, TruncatedSegmentFailsOnlyTheRequestsThatTouchIt) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  constexpr int kRounds = 100;
  constexpr int64_t kBytes = 2 * kMiB;
  const std::string canary = Pattern(kMiB, 90);
  ASSERT_RPC_OK(api_->Create("tr/canary", "B", {kMiB}));
  ASSERT_RPC_OK(api_->Write("tr/canary", "", canary));
  ASSERT_RPC_OK(api_->Create("tr/dst", "B", {kBytes}));
  const std::string data = Pattern(kBytes, 91);
  std::mt19937 rng(20240917);
  int data_loss = 0;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const std::string name = "tr/a" + std::to_string(round);
    v1::ArrayInfo info;
    ASSERT_RPC_OK(api_->Create(name, "B", {kBytes}, v1::ORDER_C, &info));
    struct Worker {
      std::atomic<int> done{0};         // requests finished OK
      std::atomic<bool> failed{false};  // set after `error`
      grpc::Status error;               // the first error
      std::thread thread;
    };
    Worker workers[3];
    std::atomic<bool> give_up{false};
    auto loop = [&](Worker* w, const std::function<grpc::Status()>& call) {
      while (!give_up.load()) {
        grpc::Status s = call();
        if (!s.ok()) {
          w->error = s;
          w->failed.store(true);
          return;
        }
        w->done.fetch_add(1);
      }
    };
    workers[0].thread = std::thread(loop, &workers[0], [&] {
      return api_->Write(name, "", data, v1::ORDER_C, nullptr, 64 << 10);
    });
    workers[1].thread = std::thread(loop, &workers[1], [&] {
      std::string bytes;
      return api_->Read(name, "", &bytes);
    });
    workers[2].thread = std::thread(loop, &workers[2], [&] {
      v1::CopyRequest req;
      req.set_source(name);
      req.set_destination("tr/dst");
      return api_->Copy(req);
    });
    // Cut the file once every worker is under way (polling, no sleep).
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    while (Clock::now() < deadline && (workers[0].done.load() == 0 || workers[1].done.load() == 0 ||
                                       workers[2].done.load() == 0)) {
      std::this_thread::yield();
    }
    const off_t sizes[] = {0, shm::kDataOffset, shm::kDataOffset + kBytes / 2};
    {
      const int fd = open(("/dev/shm/" + info.segment_name()).c_str(), O_RDWR);
      ASSERT_GE(fd, 0) << std::strerror(errno);
      ASSERT_EQ(ftruncate(fd, sizes[rng() % 3]), 0);
      close(fd);
    }
    // Every worker now fails, each on its own request.
    const auto stop_by = Clock::now() + std::chrono::seconds(60);
    while (Clock::now() < stop_by) {
      bool all = true;
      for (Worker& w : workers) all = all && w.failed.load();
      if (all) break;
      std::this_thread::yield();
    }
    give_up = true;
    for (Worker& w : workers) w.thread.join();
    for (const Worker& w : workers) {
      EXPECT_TRUE(w.error.error_code() == Code::DATA_LOSS ||
                  w.error.error_code() == Code::FAILED_PRECONDITION)
          << DescribeStatus(w.error);
      EXPECT_THAT(w.error.error_message(), HasSubstr("'" + name + "'"));
      if (w.error.error_code() == Code::DATA_LOSS) ++data_loss;
    }
    ASSERT_TRUE(daemon_->running()) << "the daemon died:\n" << daemon_->StderrTail();
    std::string bytes;
    ASSERT_RPC_OK(api_->Read("tr/canary", "", &bytes));
    ASSERT_TRUE(bytes == canary) << "another array changed";
    ASSERT_RPC_OK(api_->Delete(name));
  }
  EXPECT_GT(data_loss, 0);
  ASSERT_NO_FATAL_FAILURE(ExpectHealthy());
  DeleteEverything();
}

// A sealed array is read zero-copy. Only root or the daemon's uid can still
// shrink it; if that happens under a Read, that Read fails, and nothing else.
TEST_F(DaemonTest, TruncatedSealedSegmentDoesNotKillTheDaemon) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  v1::ArrayInfo info;
  ASSERT_RPC_OK(api_->Create("ts/a", "B", {8 * kMiB}, v1::ORDER_C, &info));
  ASSERT_RPC_OK(api_->Write("ts/a", "", Pattern(8 * kMiB, 92)));
  ASSERT_RPC_OK(api_->Seal("ts/a"));
  std::string bytes;
  ASSERT_RPC_OK(api_->Read("ts/a", "", &bytes));  // the daemon now holds it mapped
  if (!IsRoot()) GTEST_SKIP() << "opening a sealed segment for writing needs root";
  const int fd = open(("/dev/shm/" + info.segment_name()).c_str(), O_RDWR);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  ASSERT_EQ(ftruncate(fd, shm::kDataOffset), 0);
  close(fd);
  {
    std::unique_ptr<v1::ArrayService::Stub> stub = daemon_->NewStub();
    const Api fresh(stub.get());
    EXPECT_FALSE(fresh.Read("ts/a", "", &bytes).ok());
  }
  ASSERT_TRUE(daemon_->running()) << daemon_->StderrTail();
  ASSERT_NO_FATAL_FAILURE(ExpectHealthy());
  std::unique_ptr<v1::ArrayService::Stub> stub = daemon_->NewStub();
  const Api fresh(stub.get());
  EXPECT_RPC_OK(fresh.Create("ts/b", "B", {16}));
  EXPECT_RPC_OK(fresh.Delete("ts/a"));
  EXPECT_RPC_OK(fresh.Delete("ts/b"));
}

// Finding: chmod u+w after a seal let the owner write while Stat still said
// readonly. The daemon reports such an array instead of handing it out.
TEST_F(DaemonTest, SealUndoneByTheOwnerIsReportedAsDataLoss) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  v1::ArrayInfo info;
  ASSERT_RPC_OK(api_->Create("tamper/a", "<i", {16}, v1::ORDER_C, &info));
  ASSERT_RPC_OK(api_->Slice("tamper/a", "::2", "tamper/v"));
  ASSERT_RPC_OK(api_->Seal("tamper/a"));
  ASSERT_RPC_OK(api_->Stat("tamper/a"));
  const std::string path = "/dev/shm/" + info.segment_name();
  ASSERT_EQ(FileMode(path) & 0222, 0u);
  ASSERT_EQ(chmod(path.c_str(), 0640), 0);  // what `chmod u+w` does as the owner
  for (const char* name : {"tamper/a", "tamper/v"}) {
    const grpc::Status stat = api_->Stat(name);
    EXPECT_EQ(stat.error_code(), Code::DATA_LOSS) << name << ": " << DescribeStatus(stat);
    EXPECT_THAT(stat.error_message(), HasSubstr("writable again"));
    EXPECT_THAT(stat.error_message(), HasSubstr(std::string("'") + name + "'"));
    std::string bytes;
    EXPECT_RPC_CODE(api_->Read(name, "", &bytes), Code::DATA_LOSS);
  }
  // It can still be listed and deleted.
  std::vector<std::string> names;
  ASSERT_RPC_OK(api_->ListNames("", &names));
  EXPECT_THAT(names, ElementsAre("tamper/a", "tamper/v"));
  DeleteEverything();
}

// The production setup: the daemon runs as its own user, clients are other
// uids in --group. Against them a seal holds: no write access, no chmod, no
// truncate. A uid outside the group cannot even enter the directory.
TEST_F(DaemonTest, SealHoldsAgainstAnotherUidInTheGroup) {
  if (!IsRoot()) GTEST_SKIP() << "needs root to run the daemon and a client as two uids";
  // The checkout may sit in a directory other uids cannot enter (e.g. under
  // a 0700 mktemp -d): the daemon runs from a copy that nobody can execute.
  char bin_dir[] = "/tmp/shmarray-bin-XXXXXX";
  ASSERT_NE(mkdtemp(bin_dir), nullptr) << std::strerror(errno);
  const std::unique_ptr<char, void (*)(char*)> remove_bin_dir(
      bin_dir, [](char* d) { std::filesystem::remove_all(d); });
  const std::string binary = std::string(bin_dir) + "/shmarrayd";
  std::filesystem::copy_file(TestDaemon::DefaultBinary(), binary);
  ASSERT_EQ(chmod(bin_dir, 0755), 0) << std::strerror(errno);
  ASSERT_EQ(chmod(binary.c_str(), 0755), 0) << std::strerror(errno);
  TestDaemonOptions options;
  options.binary = binary;
  options.run_as_uid = kNobody;
  options.run_as_gid = kNogroup;
  options.supplementary_gids = {kNogroup};
  options.extra_flags = {"--group", std::to_string(kNogroup)};
  ASSERT_NO_FATAL_FAILURE(StartDaemon(options));
  v1::ArrayInfo info;
  ASSERT_RPC_OK(api_->Create("g/a", "<i", {1024}, v1::ORDER_C, &info));
  const std::string data = Pattern(4096, 93);
  ASSERT_RPC_OK(api_->Write("g/a", "", data));
  const std::string path = "/dev/shm/" + info.segment_name();
  struct stat dir {};
  ASSERT_EQ(stat(daemon_->segment_dir().c_str(), &dir), 0);
  EXPECT_EQ(dir.st_uid, kNobody);
  EXPECT_EQ(dir.st_gid, kNogroup);
  EXPECT_EQ(dir.st_mode & 07777, 02750u);
  constexpr uid_t kClient = 65533;    // another uid, in the group
  constexpr uid_t kStranger = 65532;  // another uid, not in the group
  // Before the seal, a group member may write.
  EXPECT_EQ(RunAsUser(kClient, kClient, {kNogroup},
                      [&]() -> int {
                        const int fd = open(path.c_str(), O_RDWR);
                        if (fd < 0) return 1;
                        close(fd);
                        return 0;
                      }),
            0);
  ASSERT_RPC_OK(api_->Seal("g/a"));
  EXPECT_EQ(RunAsUser(kClient, kClient, {kNogroup},
                      [&]() -> int {
                        if (open(path.c_str(), O_RDWR) >= 0 || errno != EACCES) return 1;
                        if (chmod(path.c_str(), 0660) == 0 || errno != EPERM) return 2;
                        if (truncate(path.c_str(), 0) == 0 || errno != EACCES) return 3;
                        const int fd = open(path.c_str(), O_RDONLY);  // reading is fine
                        if (fd < 0) return 4;
                        char c = 0;
                        const bool read_ok = pread(fd, &c, 1, shm::kDataOffset) == 1;
                        close(fd);
                        return read_ok && c == data[0] ? 0 : 5;
                      }),
            0);
  EXPECT_EQ(RunAsUser(kStranger, kStranger, {},
                      [&]() -> int {
                        return open(path.c_str(), O_RDONLY) < 0 && errno == EACCES ? 0 : 1;
                      }),
            0);
  v1::ArrayInfo sealed;
  ASSERT_RPC_OK(api_->Stat("g/a", &sealed));
  EXPECT_TRUE(sealed.readonly());
  std::string bytes;
  ASSERT_RPC_OK(api_->Read("g/a", "", &bytes));
  EXPECT_EQ(bytes, data);
  DeleteEverything();
}

// Finding: Write and Copy checked read-only once and then streamed, so bytes
// landed after Seal had returned OK. A test-paced Write stream: the chunks
// sent after Seal returned must not land, and the stream fails.
TEST_F(DaemonTest, NoByteLandsAfterSealReturns) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  constexpr int64_t kBytes = 4 * kMiB;
  v1::ArrayInfo info;
  ASSERT_RPC_OK(api_->Create("sw/a", "B", {kBytes}, v1::ORDER_C, &info));
  std::byte* mapped = nullptr;
  absl::StatusOr<std::shared_ptr<const void>> owner = shm::MapDataRegion(
      info.segment_name(), shm::Segment::Access::kReadOnly, info.generation(), kBytes, &mapped);
  ASSERT_TRUE(owner.ok()) << owner.status();
  const std::string data = Pattern(kBytes, 94);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + kRpcTimeout);
  v1::WriteResponse resp;
  std::unique_ptr<grpc::ClientWriter<v1::WriteRequest>> writer = daemon_->stub().Write(&ctx, &resp);
  ASSERT_TRUE(writer->Write(TargetMsg("sw/a", "", kBytes)));
  ASSERT_TRUE(writer->Write(DataMsg(data.substr(0, kMiB))));
  // Wait (polling the mapping) until the first chunk has landed.
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline && std::memcmp(mapped, data.data(), kMiB) != 0) {
    std::this_thread::yield();
  }
  // (Seen once under load: the first MiB compared equal in the loop and then
  // differed. The message says where and how, for whoever sees it again.)
  for (int64_t i = 0; i < kMiB; ++i) {
    const int got = std::to_integer<int>(mapped[i]);
    const int sent = static_cast<unsigned char>(data[static_cast<size_t>(i)]);
    ASSERT_EQ(got, sent) << "the first MiB differs at byte " << i;
  }
  ASSERT_RPC_OK(api_->Seal("sw/a"));
  const std::string at_seal(reinterpret_cast<const char*>(mapped), kBytes);
  for (int64_t pos = kMiB; pos < kBytes; pos += kMiB) {
    if (!writer->Write(DataMsg(data.substr(pos, kMiB)))) break;
  }
  writer->WritesDone();
  const grpc::Status finished = writer->Finish();
  EXPECT_EQ(finished.error_code(), Code::FAILED_PRECONDITION) << DescribeStatus(finished);
  EXPECT_THAT(finished.error_message(), HasSubstr("sealed"));
  const std::string after(reinterpret_cast<const char*>(mapped), kBytes);
  EXPECT_TRUE(after == at_seal) << "bytes landed after Seal returned";
  EXPECT_TRUE(after.substr(kMiB) == std::string(kBytes - kMiB, '\0'));
  // Copy into a sealed array is refused the same way.
  ASSERT_RPC_OK(api_->Create("sw/src", "B", {kBytes}));
  v1::CopyRequest copy;
  copy.set_source("sw/src");
  copy.set_destination("sw/a");
  EXPECT_RPC_CODE(api_->Copy(copy), Code::FAILED_PRECONDITION);
  owner = absl::CancelledError("unmapped");
  DeleteEverything();
}

// The same race with real concurrency: Writes and Copies stream while Seal
// comes at an arbitrary moment; what the array holds when Seal returns is
// what it holds afterwards.
TEST_F(DaemonTest, SealRacingWritesAndCopiesFreezesTheArray) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  constexpr int64_t kBytes = 2 * kMiB;
  ASSERT_RPC_OK(api_->Create("sr/src", "B", {kBytes}));
  ASSERT_RPC_OK(api_->Write("sr/src", "", Pattern(kBytes, 95)));
  std::mt19937 rng(77);
  for (int round = 0; round < 20; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const std::string name = "sr/a" + std::to_string(round);
    v1::ArrayInfo info;
    ASSERT_RPC_OK(api_->Create(name, "B", {kBytes}, v1::ORDER_C, &info));
    std::byte* mapped = nullptr;
    absl::StatusOr<std::shared_ptr<const void>> owner = shm::MapDataRegion(
        info.segment_name(), shm::Segment::Access::kReadOnly, info.generation(), kBytes, &mapped);
    ASSERT_TRUE(owner.ok()) << owner.status();
    std::atomic<bool> stop{false};
    std::atomic<int> started{0};
    std::vector<grpc::Status> last(2);
    std::thread writer([&] {
      for (int i = 0; !stop.load(); ++i) {
        started.fetch_add(1);
        last[0] = api_->Write(name, "", Pattern(kBytes, 100 + i), v1::ORDER_C, nullptr, 32 << 10);
        if (!last[0].ok()) return;
      }
    });
    std::thread copier([&] {
      v1::CopyRequest req;
      req.set_source("sr/src");
      req.set_destination(name);
      while (!stop.load()) {
        started.fetch_add(1);
        last[1] = api_->Copy(req);
        if (!last[1].ok()) return;
      }
    });
    const int wait_for = 2 + static_cast<int>(rng() % 6);
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    while (started.load() < wait_for && Clock::now() < deadline) std::this_thread::yield();
    ASSERT_RPC_OK(api_->Seal(name));
    const std::string at_seal(reinterpret_cast<const char*>(mapped), kBytes);
    stop = true;
    writer.join();
    copier.join();
    const std::string after(reinterpret_cast<const char*>(mapped), kBytes);
    EXPECT_TRUE(after == at_seal) << "bytes landed after Seal returned";
    for (const grpc::Status& s : last) {
      EXPECT_TRUE(s.ok() || s.error_code() == Code::FAILED_PRECONDITION) << DescribeStatus(s);
    }
  }
  DeleteEverything();
}

// Finding: Seal rewrote the header while clients pread it, so an attach
// racing a seal could fail its checksum (DATA_LOSS). Clients attach as the
// client library does (Stat's segment, then MapDataRegion) in a loop while
// the daemon seals the array.
TEST_F(DaemonTest, AttachRacingASealIsNeverDataLoss) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  int attaches = 0;
  int failures = 0;
  std::string first_failure;
  for (int round = 0; round < 50; ++round) {
    const std::string name = "as/a" + std::to_string(round);
    v1::ArrayInfo info;
    ASSERT_RPC_OK(api_->Create(name, "<d", {512}, v1::ORDER_C, &info));
    std::atomic<bool> stop{false};
    std::thread client([&] {
      while (!stop.load()) {
        std::byte* data = nullptr;
        absl::StatusOr<std::shared_ptr<const void>> owner =
            shm::MapDataRegion(info.segment_name(), shm::Segment::Access::kReadOnly,
                               info.generation(), info.data_size(), &data);
        ++attaches;
        if (!owner.ok() && failures++ == 0) first_failure = owner.status().ToString();
      }
    });
    ASSERT_RPC_OK(api_->Seal(name));
    stop = true;
    client.join();
  }
  EXPECT_GT(attaches, 0);
  EXPECT_EQ(failures, 0) << "of " << attaches << " attaches; first: " << first_failure;
  DeleteEverything();
}

// Finding: the catalog lock was held across unlink/munmap: a Stat of an
// unrelated array waited ~0.5 s while a filled 512 MiB array was deleted.
// Stats run back to back on their own connection while big arrays are
// deleted; the latency a Stat arriving at a random moment would see is
// derived from the recorded calls (so a stall counts for its whole length),
// and its 99th percentile during the deletes must stay under 5 ms (or, on a
// machine so loaded that Stats are slow anyway, under four times their own
// 99th percentile measured while nothing is deleted: a Stat stuck behind a
// Delete waits for the whole Delete, hundreds of ms, far above either bound).
TEST_F(DaemonTest, StatIsNotBlockedByDeletingLargeArrays) {
  constexpr int64_t kBig = 512 * kMiB;
  struct statvfs vfs {};
  ASSERT_EQ(statvfs("/dev/shm", &vfs), 0);
  if (static_cast<int64_t>(vfs.f_bavail) * static_cast<int64_t>(vfs.f_frsize) < 3 * kBig) {
    GTEST_SKIP() << "needs 1.5 GiB free in /dev/shm";
  }
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_RPC_OK(api_->Create("lat/small", "B", {8}));
  using Ns = std::chrono::nanoseconds;
  struct Call {
    Clock::time_point start, end;
  };
  std::vector<Call> calls;
  calls.reserve(1 << 20);
  std::atomic<bool> stop{false};
  grpc::Status stat_error;
  std::thread prober([&] {
    std::unique_ptr<v1::ArrayService::Stub> stub = daemon_->NewStub();
    const Api api(stub.get());
    while (!stop.load()) {
      const Clock::time_point start = Clock::now();
      grpc::Status s = api.Stat("lat/small");
      if (!s.ok()) {
        stat_error = s;
        return;
      }
      calls.push_back({start, Clock::now()});
    }
  });
  // The latency a request arriving at t would see: the rest of the call in
  // flight at t (a stalled daemon stalls it too), or a call's own time.
  auto percentile_99 =
      [&](const std::vector<std::pair<Clock::time_point, Clock::time_point>>& windows) -> Ns {
    std::vector<Ns> samples;
    size_t k = 0;
    for (const auto& [from, to] : windows) {
      for (Clock::time_point t = from; t < to; t += std::chrono::microseconds(250)) {
        while (k + 1 < calls.size() && calls[k + 1].start <= t) ++k;
        while (k > 0 && calls[k].start > t) --k;
        if (k >= calls.size()) break;
        const Call& c = calls[k];
        if (t < c.end) {
          samples.push_back(c.end - t);
        } else if (k + 1 < calls.size()) {
          samples.push_back(calls[k + 1].end - calls[k + 1].start);
        }
      }
    }
    if (samples.empty()) return Ns(0);
    std::sort(samples.begin(), samples.end());
    return samples[samples.size() * 99 / 100];
  };
  std::vector<std::pair<Clock::time_point, Clock::time_point>> deleting, quiet;
  for (int round = 0; round < 4; ++round) {
    // A filled array: its pages are mapped and populated in the daemon.
    ASSERT_RPC_OK(api_->Create(CreateReq("lat/big", "B", {kBig}, v1::ORDER_C, "\x5a")));
    const Clock::time_point quiet_from = Clock::now();
    // A quiet window of comparable length: only Stats.
    while (Clock::now() - quiet_from < std::chrono::milliseconds(300)) std::this_thread::yield();
    quiet.emplace_back(quiet_from, Clock::now());
    const Clock::time_point from = Clock::now();
    ASSERT_RPC_OK(api_->Delete("lat/big"));
    deleting.emplace_back(from, Clock::now());
  }
  stop = true;
  prober.join();
  ASSERT_TRUE(stat_error.ok()) << DescribeStatus(stat_error);
  ASSERT_GT(calls.size(), 100u);
  std::string windows;
  for (const auto& [from, to] : deleting) {
    Ns worst(0);
    for (const Call& c : calls) {
      if (c.end >= from && c.start <= to) worst = std::max<Ns>(worst, c.end - c.start);
    }
    absl::StrAppend(&windows, " [delete ",
                    std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count(),
                    " ms, slowest Stat ",
                    std::chrono::duration_cast<std::chrono::milliseconds>(worst).count(), " ms]");
  }
  const Ns during = percentile_99(deleting);
  const Ns baseline = percentile_99(quiet);
  // A Stat that waits for a delete takes about as long as the delete itself
  // (before the fix: p99 782 ms for deletes of ~800 ms). On a loaded machine
  // both figures stretch, so the bound is the larger of 4x the quiet p99 and
  // a third of the shortest delete: a blocked Stat exceeds both.
  Ns shortest_delete = Ns::max();
  for (const auto& [from, to] : deleting)
    shortest_delete = std::min<Ns>(shortest_delete, to - from);
  const Ns bound = std::max({Ns(std::chrono::milliseconds(5)), 4 * baseline, shortest_delete / 3});
  EXPECT_LT(during, bound) << "Stat p99 while deleting: "
                           << std::chrono::duration<double, std::milli>(during).count()
                           << " ms; without deletes: "
                           << std::chrono::duration<double, std::milli>(baseline).count() << " ms; "
                           << calls.size() << " Stat calls;" << windows;
  DeleteEverything();
}

// Finding: `--listen 127.0.0.1:PORT` without a token let every local user
// read, write and delete. A TCP listener needs --token-file or --insecure.
TEST(DaemonFlagsTest, TcpWithoutTokenNeedsInsecureEvenOnLoopback) {
  for (const char* address : {"127.0.0.1:0", "localhost:0", "[::1]:0"}) {
    SCOPED_TRACE(address);
    absl::StatusOr<ExitResult> result =
        TestDaemon::RunUntilExit(WithFlags({"--listen", address}), std::chrono::seconds(10));
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_TRUE(result->exited) << "signal " << result->signal;
    EXPECT_EQ(result->code, 2) << result->stderr_text;
    EXPECT_THAT(result->stderr_text, HasSubstr("--token-file"));
    EXPECT_THAT(result->stderr_text, HasSubstr("--insecure"));
  }
  // With a token it serves; with --insecure it serves and warns.
  TestDaemonOptions with_token = WithToken("tcp-token");
  with_token.listen_tcp = true;
  absl::StatusOr<std::unique_ptr<TestDaemon>> daemon = TestDaemon::Start(with_token);
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  EXPECT_THAT((*daemon)->StderrText(), ::testing::Not(HasSubstr("warning")));
  daemon->reset();
  daemon = TestDaemon::Start(WithTcp());
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  EXPECT_TRUE(
      (*daemon)->WaitForStderr("accepts every client without a token", std::chrono::seconds(10)))
      << (*daemon)->StderrTail();
}

// Finding: the loopback check was a text prefix, so a host name starting with
// "127." that resolves elsewhere was served in plaintext. The daemon runs in
// a mount namespace whose /etc/hosts maps such names.
TEST(DaemonFlagsTest, LoopbackIsDecidedOnTheResolvedAddress) {
  if (!IsRoot()) GTEST_SKIP() << "needs root for a private /etc/hosts (mount namespace)";
  char tmpl[] = "/tmp/shmarray-hosts-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string hosts = std::string(tmpl) + "/hosts";
  {
    std::ofstream out(hosts);
    out << "0.0.0.0 127.everywhere.test\n127.0.0.1 loop.test\n";
  }
  const std::vector<std::string> wrapper = {
      "unshare", "-m", "sh", "-c", "mount --bind '" + hosts + "' /etc/hosts && exec \"$@\"", "sh"};
  TestDaemonOptions spoofed = WithToken("t");
  spoofed.wrapper = wrapper;
  spoofed.extra_flags = {"--listen", "127.everywhere.test:0"};
  absl::StatusOr<ExitResult> result = TestDaemon::RunUntilExit(spoofed, std::chrono::seconds(10));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->exited) << "signal " << result->signal;
  EXPECT_EQ(result->code, 2) << result->stderr_text;
  EXPECT_THAT(result->stderr_text, HasSubstr("not a loopback address"));
  EXPECT_THAT(result->stderr_text, HasSubstr("0.0.0.0"));
  // A name that resolves to 127.0.0.1 is loopback, however it is spelled.
  TestDaemonOptions named = WithToken("t");
  named.wrapper = wrapper;
  named.extra_flags = {"--listen", "loop.test:0"};
  absl::StatusOr<std::unique_ptr<TestDaemon>> daemon = TestDaemon::Start(named);
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  EXPECT_TRUE((*daemon)->WaitForStderr("listening on tcp 127.0.0.1:", std::chrono::seconds(10)))
      << (*daemon)->StderrTail();
  EXPECT_THAT((*daemon)->StderrText(), HasSubstr("for loop.test:0"));
  daemon->reset();
  std::remove(hosts.c_str());
  rmdir(tmpl);
}

// Finding: `--listen HOST:0` opened a second, unlogged TCP listener (gRPC's
// per-poller SO_REUSEPORT clones, each on its own random port). One socket
// per --listen, and it is the one logged.
TEST(DaemonFlagsTest, OneListenerPerListenFlagAndItIsLogged) {
  for (const char* address : {"127.0.0.1:0", "localhost:0", "0.0.0.0:0"}) {
    SCOPED_TRACE(address);
    TestDaemonOptions options = WithFlags({"--listen", address, "--insecure"});
    absl::StatusOr<std::unique_ptr<TestDaemon>> daemon = TestDaemon::Start(options);
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    ASSERT_TRUE((*daemon)->WaitForStderr("listening on tcp ", std::chrono::seconds(10)));
    const std::vector<int> ports = ListeningTcpPorts((*daemon)->pid());
    ASSERT_EQ(ports.size(), 1u) << ::testing::PrintToString(ports);
    EXPECT_THAT((*daemon)->StderrText(), HasSubstr(":" + std::to_string(ports[0])))
        << "the bound port is not in the log";
  }
}

}  // namespace
}  // namespace shmarray
