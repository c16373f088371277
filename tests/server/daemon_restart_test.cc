// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: daemon_restart_test.cc
// -----------------------------------------------------------------------------
// Restart and recovery of the REAL shmarrayd binary: restart after SIGKILL
// keeps every array, restart removes half-created segments and orphan views,
// SIGTERM and SIGINT are graceful, a second daemon on a live socket fails and
// leaves the first alone, a stale socket file is replaced.
// Nothing waits by sleeping: every wait polls with a deadline.

#include <fcntl.h>
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/daemon_fixture.h"
#include "shmarray/shm/format.h"
#include "shmarray/shm/layout.h"
#include "shmarray/shm/segment.h"
#include "shmarray/v1/array_service.grpc.pb.h"

namespace shmarray {
namespace {

using ::shmarray::testing::Contiguous;
using ::shmarray::testing::DaemonTest;
using ::shmarray::testing::ExitResult;
using ::shmarray::testing::FileExists;
using ::shmarray::testing::Pattern;
using ::shmarray::testing::SameInfo;
using ::shmarray::testing::TestDaemon;
using ::shmarray::testing::TestDaemonOptions;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Code = grpc::StatusCode;

std::string Canonical(const std::string& format) {
  return shm::Format::Parse(format.empty() ? "B" : format).canonical();
}

TestDaemonOptions WithSocket(std::string path) {
  TestDaemonOptions options;
  options.socket_path = std::move(path);
  return options;
}

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
    SHMARRAY_ASSERT_RPC_OK(api_->Create(spec.name, spec.format, spec.shape, spec.order, &info));
    SHMARRAY_ASSERT_RPC_OK(api_->Write(spec.name, "", Pattern(info.nbytes(), seed++)));
  }
  SHMARRAY_ASSERT_RPC_OK(api_->Seal("r/sealed"));
  SHMARRAY_ASSERT_RPC_OK(api_->Slice("r/int", "::-1, 1:3", "r/view"));
  SHMARRAY_ASSERT_RPC_OK(api_->Slice("r/dbl", "1", "r/dbl_row"));

  auto snapshot = [&]() {
    std::map<std::string, Snapshot> snap;
    std::vector<std::string> names;
    SHMARRAY_EXPECT_RPC_OK(api_->ListNames("", &names));
    for (const std::string& name : names) {
      Snapshot s;
      SHMARRAY_EXPECT_RPC_OK(api_->Stat(name, &s.info));
      SHMARRAY_EXPECT_RPC_OK(api_->Read(name, "", &s.bytes));
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
  SHMARRAY_EXPECT_RPC_CODE(api_->Write("r/sealed", "", Pattern(12, 1)), Code::FAILED_PRECONDITION);
  const std::string patch = Pattern(3 * 2 * 4, 40);
  SHMARRAY_ASSERT_RPC_OK(api_->Write("r/view", "", patch));
  std::string bytes;
  SHMARRAY_ASSERT_RPC_OK(api_->Read("r/int", "::-1, 1:3", &bytes));
  EXPECT_EQ(bytes, patch);
  SHMARRAY_EXPECT_RPC_CODE(api_->Delete("r/int"), Code::FAILED_PRECONDITION);
  // New arrays never reuse a generation.
  v1::ArrayInfo fresh;
  SHMARRAY_ASSERT_RPC_OK(api_->Create("r/new", "B", {3}, v1::ORDER_C, &fresh));
  for (const auto& [name, snap] : before) EXPECT_NE(fresh.generation(), snap.info.generation());
  DeleteEverything();
}

TEST_F(DaemonTest, RestartRemovesHalfCreatedSegmentsAndOrphanViews) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  SHMARRAY_ASSERT_RPC_OK(api_->Create("h/keep", "<i", {4}));
  SHMARRAY_ASSERT_RPC_OK(api_->Write("h/keep", "", Pattern(16, 50)));
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
  SHMARRAY_ASSERT_RPC_OK(api_->ListNames("", &names));
  EXPECT_THAT(names, ElementsAre("h/keep"));
  std::string bytes;
  SHMARRAY_ASSERT_RPC_OK(api_->Read("h/keep", "", &bytes));
  EXPECT_EQ(bytes, Pattern(16, 50));
  SHMARRAY_EXPECT_RPC_CODE(api_->Stat("h/half"), Code::NOT_FOUND);
  SHMARRAY_EXPECT_RPC_CODE(api_->Stat("h/orphan"), Code::NOT_FOUND);
  // The names are usable.
  SHMARRAY_EXPECT_RPC_OK(api_->Create("h/half", "B", {16}));
  DeleteEverything();
}

TEST_F(DaemonTest, SigtermIsGracefulAndKeepsArrays) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  SHMARRAY_ASSERT_RPC_OK(api_->Create("t/a", "<d", {100}));
  SHMARRAY_ASSERT_RPC_OK(api_->Write("t/a", "", Pattern(800, 60)));
  SHMARRAY_ASSERT_RPC_OK(api_->Slice("t/a", "::3", "t/v"));
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
  SHMARRAY_ASSERT_RPC_OK(api_->Read("t/a", "", &bytes));
  EXPECT_EQ(bytes, Pattern(800, 60));
  v1::ArrayInfo view;
  SHMARRAY_ASSERT_RPC_OK(api_->Stat("t/v", &view));
  EXPECT_EQ(view.base(), "t/a");
  // SIGINT is graceful too.
  ASSERT_TRUE(daemon_->Signal(SIGINT).ok());
  code = daemon_->WaitForExit(std::chrono::seconds(10));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  EXPECT_EQ(daemon_->ListSegments(), segments);
}

TEST_F(DaemonTest, SecondDaemonOnALiveSocketFailsAndLeavesTheFirstAlone) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  SHMARRAY_ASSERT_RPC_OK(api_->Create("live/a", "B", {4}));
  absl::StatusOr<ExitResult> second =
      TestDaemon::RunUntilExit(WithSocket(daemon_->socket_path()), std::chrono::seconds(10));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(second->exited);
  EXPECT_NE(second->code, 0) << second->stderr_text;
  EXPECT_TRUE(FileExists(daemon_->socket_path()));
  ASSERT_NO_FATAL_FAILURE(ExpectHealthy());
  SHMARRAY_EXPECT_RPC_OK(api_->Stat("live/a"));
  DeleteEverything();
}

// Finding: a second shmarrayd for the same --instance on another socket
// started: it adopted the first one's segments, served them beside it and
// could remove the ones the first was still making. It now stops before it
// touches anything, naming the first daemon's pid; once the first is gone the
// next one starts and adopts its arrays.
TEST_F(DaemonTest, SecondDaemonForTheSameInstanceStopsBeforeTouchingAnything) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  const std::string data = Pattern(4096, 41);
  SHMARRAY_ASSERT_RPC_OK(api_->Create("dup/a", "B", {4096}));
  SHMARRAY_ASSERT_RPC_OK(api_->Write("dup/a", "", data));
  const std::vector<std::string> segments = daemon_->ListSegments();
  struct stat dir_before {};
  ASSERT_EQ(::stat(daemon_->segment_dir().c_str(), &dir_before), 0);

  TestDaemonOptions second = WithSocket(daemon_->dir() + "/second.sock");
  second.instance = daemon_->instance();
  absl::StatusOr<ExitResult> r = TestDaemon::RunUntilExit(second, std::chrono::seconds(10));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->exited);
  EXPECT_EQ(r->code, 1) << r->stderr_text;
  EXPECT_THAT(r->stderr_text, HasSubstr("is in use by another process (pid " +
                                        std::to_string(daemon_->pid()) + ")"));
  EXPECT_THAT(r->stderr_text, HasSubstr("another shmarrayd serves this instance"));
  EXPECT_FALSE(FileExists(second.socket_path));
  struct stat dir_after {};
  ASSERT_EQ(::stat(daemon_->segment_dir().c_str(), &dir_after), 0);
  EXPECT_EQ(dir_after.st_mode, dir_before.st_mode);
  EXPECT_EQ(daemon_->ListSegments(), segments);
  ASSERT_NO_FATAL_FAILURE(ExpectHealthy());
  std::string bytes;
  SHMARRAY_ASSERT_RPC_OK(api_->Read("dup/a", "", &bytes));
  EXPECT_TRUE(bytes == data);

  // Killed, the first daemon lets the next one in (the kernel drops its lock).
  daemon_->Kill();
  const absl::Status restarted = daemon_->Restart();
  ASSERT_TRUE(restarted.ok()) << restarted;
  ResetApi();
  SHMARRAY_ASSERT_RPC_OK(api_->Read("dup/a", "", &bytes));
  EXPECT_TRUE(bytes == data);
  DeleteEverything();
}

TEST_F(DaemonTest, StaleSocketFileIsReplaced) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  daemon_->Kill();
  ASSERT_TRUE(FileExists(daemon_->socket_path())) << "SIGKILL cannot remove the socket";
  const absl::Status restarted = daemon_->Restart();
  ASSERT_TRUE(restarted.ok()) << restarted;
  ResetApi();
  SHMARRAY_EXPECT_RPC_CODE(api_->Stat("x"), Code::NOT_FOUND);
}

}  // namespace
}  // namespace shmarray
