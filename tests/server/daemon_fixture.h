// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: daemon_fixture.h
// -----------------------------------------------------------------------------
// Test support shared by the daemon_*_test.cc files, which test the REAL
// shmarrayd binary (started by TestDaemon with fork/exec, its own --instance
// and socket): assertions on grpc::Status, byte helpers that compute what the
// daemon must answer (Pattern, Gather, Scatter), request builders, `Api` (the
// calls every test makes, each with a deadline) and `DaemonTest`, the fixture
// with one daemon per test.
//
//   TEST_F(DaemonTest, Example) {
//     ASSERT_NO_FATAL_FAILURE(StartDaemon());
//     SHMARRAY_ASSERT_RPC_OK(api_->Create("a", "<i", {3, 4}));
//     SHMARRAY_ASSERT_RPC_OK(api_->Write("a", "", Pattern(48, 1)));
//     DeleteEverything();  // and expects nothing left in /dev/shm
//   }
//
// Nothing waits by sleeping: every wait polls with a deadline.
// Thread-safety: an `Api` may be used from several threads (its stub is
// thread-safe); the fixture's members belong to the test's main thread.

#ifndef SHMARRAY_TESTS_SERVER_DAEMON_FIXTURE_H_
#define SHMARRAY_TESTS_SERVER_DAEMON_FIXTURE_H_

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "shmarray/shm/layout.h"
#include "shmarray/v1/array_service.grpc.pb.h"
#include "testing/daemon.h"

namespace shmarray::testing {

// The deadline of every call a test makes: a hung daemon fails the test
// instead of hanging it.
inline constexpr auto kRpcTimeout = std::chrono::seconds(30);
inline constexpr int64_t kMiB = 1 << 20;

// --- assertions on grpc::Status ---------------------------------------------

#define SHMARRAY_EXPECT_RPC_OK(expr)                                                   \
  do {                                                                                 \
    const grpc::Status rpc_status_ = (expr);                                           \
    EXPECT_TRUE(rpc_status_.ok()) << #expr << " -> "                                   \
                                  << ::shmarray::testing::DescribeStatus(rpc_status_); \
  } while (0)
#define SHMARRAY_ASSERT_RPC_OK(expr)                                                   \
  do {                                                                                 \
    const grpc::Status rpc_status_ = (expr);                                           \
    ASSERT_TRUE(rpc_status_.ok()) << #expr << " -> "                                   \
                                  << ::shmarray::testing::DescribeStatus(rpc_status_); \
  } while (0)
#define SHMARRAY_EXPECT_RPC_CODE(expr, code)                                    \
  do {                                                                          \
    const grpc::Status rpc_status_ = (expr);                                    \
    EXPECT_EQ(rpc_status_.error_code(), (code))                                 \
        << #expr << " -> " << ::shmarray::testing::DescribeStatus(rpc_status_); \
  } while (0)

// --- byte helpers -------------------------------------------------------------

// Deterministic, seed-dependent bytes (never all zero).
std::string Pattern(int64_t n, int seed);

// The bytes of `layout` over `region` (a data region), item by item in
// `order` (C: last index fastest). The reference the daemon's results are
// checked with.
std::string Gather(const std::string& region, const shm::Layout& layout, shm::Order order);

// The inverse of Gather: stores `bytes` (item by item in `order`) into the
// items `layout` selects in `region`.
void Scatter(std::string* region, const shm::Layout& layout, shm::Order order,
             const std::string& bytes);

// The layout `info` describes.
shm::Layout LayoutOf(const v1::ArrayInfo& info);

shm::Layout Contiguous(int64_t itemsize, std::vector<int64_t> shape, shm::Order order);

// Whether `a` and `b` are equal field by field.
bool SameInfo(const v1::ArrayInfo& a, const v1::ArrayInfo& b);

// Whether `path` exists (lstat: a dangling symlink exists).
bool FileExists(const std::string& path);

// The permission bits of `path` (07777 if it cannot be stat'ed).
mode_t FileMode(const std::string& path);

// --- daemon options -----------------------------------------------------------

// Options that pass `flags` to the daemon.
TestDaemonOptions WithFlags(std::vector<std::string> flags);

// --- requests -----------------------------------------------------------------

v1::CreateRequest CreateReq(const std::string& name, const std::string& format,
                            std::vector<int64_t> shape, v1::Order order = v1::ORDER_C,
                            const std::string& fill = "", int64_t itemsize = 0);

v1::Index TextIndex(const std::string& text);

// The first message of a Write: its target (an empty `index_text` selects
// the whole array).
v1::WriteRequest TargetMsg(const std::string& name, const std::string& index_text, int64_t nbytes,
                           v1::Order order = v1::ORDER_C, const std::string& format = "");

// A data message of a Write.
v1::WriteRequest DataMsg(std::string bytes);

// The calls every test makes, each with a deadline (a hung daemon fails the
// test instead of hanging it) and, when set, an authorization header.
// `stub` is not owned and must outlive the Api.
class Api {
 public:
  explicit Api(v1::ArrayService::Stub* stub, std::string authorization = "")
      : stub_(stub), authorization_(std::move(authorization)) {}

  // Sets the deadline and the authorization header of `ctx`.
  void Prepare(grpc::ClientContext* ctx) const;

  grpc::Status Create(const v1::CreateRequest& req, v1::ArrayInfo* info = nullptr) const;
  grpc::Status Create(const std::string& name, const std::string& format,
                      std::vector<int64_t> shape, v1::Order order = v1::ORDER_C,
                      v1::ArrayInfo* info = nullptr) const;
  grpc::Status Stat(const std::string& name, v1::ArrayInfo* info = nullptr) const;
  grpc::Status List(const v1::ListRequest& req, v1::ListResponse* resp) const;
  // Every name under `prefix`, following page tokens.
  grpc::Status ListNames(const std::string& prefix, std::vector<std::string>* names,
                         int page_size = 0) const;
  grpc::Status Delete(const std::string& name, bool cascade = false,
                      v1::DeleteResponse* resp = nullptr) const;
  grpc::Status Seal(const std::string& name, v1::ArrayInfo* info = nullptr) const;
  grpc::Status Slice(const v1::SliceRequest& req, v1::ArrayInfo* info = nullptr) const;
  grpc::Status Slice(const std::string& name, const std::string& text,
                     const std::string& new_name = "", v1::ArrayInfo* info = nullptr) const;
  grpc::Status Copy(const v1::CopyRequest& req, v1::ArrayInfo* info = nullptr) const;
  // Reads the whole stream: `info` from the first message, the data after.
  grpc::Status Read(const v1::ReadRequest& req, std::string* bytes, v1::ArrayInfo* info = nullptr,
                    int* data_messages = nullptr) const;
  grpc::Status Read(const std::string& name, const std::string& text, std::string* bytes,
                    v1::Order order = v1::ORDER_C, v1::ArrayInfo* info = nullptr) const;
  grpc::Status Write(const std::vector<v1::WriteRequest>& msgs,
                     v1::WriteResponse* resp = nullptr) const;
  // Writes `bytes` into name[text] in `chunk`-byte data messages.
  grpc::Status Write(const std::string& name, const std::string& text, const std::string& bytes,
                     v1::Order order = v1::ORDER_C, v1::WriteResponse* resp = nullptr,
                     int64_t chunk = kMiB) const;
  v1::ArrayService::Stub* stub() const { return stub_; }

 private:
  v1::ArrayService::Stub* stub_;
  std::string authorization_;
};

// --- a fixture with one daemon per test -----------------------------------------

class DaemonTest : public ::testing::Test {
 protected:
  void StartDaemon(TestDaemonOptions options = {});
  // After a restart: the old stub is gone.
  void ResetApi();
  // The daemon answers the health service with SERVING.
  void ExpectHealthy();
  // Deletes every name; then nothing of the daemon's prefix is left in
  // /dev/shm.
  void DeleteEverything();

  std::unique_ptr<TestDaemon> daemon_;
  std::unique_ptr<Api> api_;
};

}  // namespace shmarray::testing

#endif  // SHMARRAY_TESTS_SERVER_DAEMON_FIXTURE_H_
