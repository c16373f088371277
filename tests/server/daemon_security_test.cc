// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: daemon_security_test.cc
// -----------------------------------------------------------------------------
// Access control and hardening of the REAL shmarrayd binary: file modes,
// bearer tokens, TCP listeners and the flags that guard them (DaemonFlagsTest),
// and what other local users can do: planted and squatted segments,
// truncated segments, a seal undone by the owner or tested by another uid.
// Nothing waits by sleeping: every wait polls with a deadline.

#include <fcntl.h>
#include <gmock/gmock.h>
#include <grp.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/daemon_fixture.h"
#include "shmarray/shm/segment.h"
#include "shmarray/v1/array_service.grpc.pb.h"

namespace shmarray {
namespace {

using ::shmarray::testing::Api;
using ::shmarray::testing::DaemonTest;
using ::shmarray::testing::DescribeStatus;
using ::shmarray::testing::ExitResult;
using ::shmarray::testing::FileExists;
using ::shmarray::testing::FileMode;
using ::shmarray::testing::kMiB;
using ::shmarray::testing::LayoutOf;
using ::shmarray::testing::Pattern;
using ::shmarray::testing::SameInfo;
using ::shmarray::testing::TestDaemon;
using ::shmarray::testing::TestDaemonOptions;
using ::shmarray::testing::WithFlags;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using Code = grpc::StatusCode;
using Clock = std::chrono::steady_clock;

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

TEST_F(DaemonTest, SocketAndSegmentModesAre0600) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  EXPECT_EQ(FileMode(daemon_->socket_path()), 0600u);
  v1::ArrayInfo info;
  SHMARRAY_ASSERT_RPC_OK(api_->Create("m/a", "B", {4}, v1::ORDER_C, &info));
  EXPECT_EQ(FileMode("/dev/shm/" + info.segment_name()), 0600u);
  SHMARRAY_ASSERT_RPC_OK(api_->Slice("m/a", "1:", "m/v"));
  for (const std::string& seg : daemon_->ListSegments()) {
    EXPECT_EQ(FileMode("/dev/shm/" + seg), 0600u) << seg;
  }
  SHMARRAY_ASSERT_RPC_OK(api_->Seal("m/a"));
  EXPECT_EQ(FileMode("/dev/shm/" + info.segment_name()), 0400u);
  DeleteEverything();
}

TEST_F(DaemonTest, BearerTokenIsRequiredExceptForHealth) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon(WithToken("s3cret-token")));
  const Api authorized(&daemon_->stub(), "Bearer s3cret-token");
  const Api anonymous(&daemon_->stub());
  const Api wrong(&daemon_->stub(), "Bearer s3cret-tokem");
  const Api basic(&daemon_->stub(), "Basic s3cret-token");

  SHMARRAY_ASSERT_RPC_OK(authorized.Create("a/x", "B", {4}));
  for (const Api* api : {&anonymous, &wrong, &basic}) {
    SHMARRAY_EXPECT_RPC_CODE(api->Stat("a/x"), Code::UNAUTHENTICATED);
    SHMARRAY_EXPECT_RPC_CODE(api->Create("a/y", "B", {4}), Code::UNAUTHENTICATED);
    SHMARRAY_EXPECT_RPC_CODE(api->Delete("a/x"), Code::UNAUTHENTICATED);
    std::string bytes;
    SHMARRAY_EXPECT_RPC_CODE(api->Read("a/x", "", &bytes), Code::UNAUTHENTICATED);
    SHMARRAY_EXPECT_RPC_CODE(api->Write("a/x", "", "abcd"), Code::UNAUTHENTICATED);
    std::vector<std::string> names;
    SHMARRAY_EXPECT_RPC_CODE(api->ListNames("", &names), Code::UNAUTHENTICATED);
  }
  EXPECT_THAT(wrong.Stat("a/x").error_message(), HasSubstr("invalid bearer token"));
  // Nothing happened without the token.
  SHMARRAY_EXPECT_RPC_CODE(authorized.Stat("a/y"), Code::NOT_FOUND);
  std::string bytes;
  SHMARRAY_ASSERT_RPC_OK(authorized.Read("a/x", "", &bytes));
  EXPECT_EQ(bytes, std::string(4, '\0'));
  // The health service stays open.
  absl::StatusOr<int> serving =
      TestDaemon::HealthCheck(daemon_->channel().get(), std::chrono::seconds(10));
  ASSERT_TRUE(serving.ok()) << serving.status();
  EXPECT_EQ(*serving, TestDaemon::kServing);
  SHMARRAY_ASSERT_RPC_OK(authorized.Delete("a/x"));
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
  SHMARRAY_ASSERT_RPC_OK(tcp.Create("tcp/a", "B", {n}, v1::ORDER_C, &made));
  SHMARRAY_ASSERT_RPC_OK(tcp.Write("tcp/a", "", data));
  v1::ArrayInfo over_unix;
  SHMARRAY_ASSERT_RPC_OK(api_->Stat("tcp/a", &over_unix));
  EXPECT_TRUE(SameInfo(made, over_unix));
  std::string bytes;
  SHMARRAY_ASSERT_RPC_OK(tcp.Read("tcp/a", "", &bytes));
  EXPECT_TRUE(bytes == data);
  SHMARRAY_ASSERT_RPC_OK(api_->Read("tcp/a", "", &bytes));
  EXPECT_TRUE(bytes == data);
  SHMARRAY_ASSERT_RPC_OK(tcp.Delete("tcp/a"));
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

// Finding: a segment planted by another user (valid header, newer generation,
// an existing array's name) was adopted at restart and the real one unlinked.
TEST_F(DaemonTest, RestartIgnoresSegmentsTheDaemonDidNotMake) {
  if (!IsRoot()) GTEST_SKIP() << "needs root to act as a second user (nobody)";
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  v1::ArrayInfo info;
  SHMARRAY_ASSERT_RPC_OK(api_->Create("victim", "<q", {64}, v1::ORDER_C, &info));
  const std::string real = Pattern(512, 31);
  SHMARRAY_ASSERT_RPC_OK(api_->Write("victim", "", real));
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
  SHMARRAY_ASSERT_RPC_OK(api_->Stat("victim", &after));
  EXPECT_EQ(after.generation(), info.generation()) << "a forged segment was adopted";
  EXPECT_EQ(after.segment_name(), info.segment_name());
  std::string bytes;
  SHMARRAY_ASSERT_RPC_OK(api_->Read("victim", "", &bytes));
  EXPECT_EQ(bytes, real);
  std::vector<std::string> names;
  SHMARRAY_ASSERT_RPC_OK(api_->ListNames("", &names));
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
  SHMARRAY_ASSERT_RPC_OK(api_->Create("sq/0", "B", {8}, v1::ORDER_C, &first));
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
    SHMARRAY_ASSERT_RPC_OK(api_->Create("sq/" + std::to_string(i), "B", {8}, v1::ORDER_C, &info));
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
  SHMARRAY_ASSERT_RPC_OK(api_->Create("tr/canary", "B", {kMiB}));
  SHMARRAY_ASSERT_RPC_OK(api_->Write("tr/canary", "", canary));
  SHMARRAY_ASSERT_RPC_OK(api_->Create("tr/dst", "B", {kBytes}));
  const std::string data = Pattern(kBytes, 91);
  std::mt19937 rng(20240917);
  int data_loss = 0;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const std::string name = "tr/a" + std::to_string(round);
    v1::ArrayInfo info;
    SHMARRAY_ASSERT_RPC_OK(api_->Create(name, "B", {kBytes}, v1::ORDER_C, &info));
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
    SHMARRAY_ASSERT_RPC_OK(api_->Read("tr/canary", "", &bytes));
    ASSERT_TRUE(bytes == canary) << "another array changed";
    SHMARRAY_ASSERT_RPC_OK(api_->Delete(name));
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
  SHMARRAY_ASSERT_RPC_OK(api_->Create("ts/a", "B", {8 * kMiB}, v1::ORDER_C, &info));
  SHMARRAY_ASSERT_RPC_OK(api_->Write("ts/a", "", Pattern(8 * kMiB, 92)));
  SHMARRAY_ASSERT_RPC_OK(api_->Seal("ts/a"));
  std::string bytes;
  SHMARRAY_ASSERT_RPC_OK(api_->Read("ts/a", "", &bytes));  // the daemon now holds it mapped
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
  SHMARRAY_EXPECT_RPC_OK(fresh.Create("ts/b", "B", {16}));
  SHMARRAY_EXPECT_RPC_OK(fresh.Delete("ts/a"));
  SHMARRAY_EXPECT_RPC_OK(fresh.Delete("ts/b"));
}

// Finding: chmod u+w after a seal let the owner write while Stat still said
// readonly. The daemon reports such an array instead of handing it out.
TEST_F(DaemonTest, SealUndoneByTheOwnerIsReportedAsDataLoss) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  v1::ArrayInfo info;
  SHMARRAY_ASSERT_RPC_OK(api_->Create("tamper/a", "<i", {16}, v1::ORDER_C, &info));
  SHMARRAY_ASSERT_RPC_OK(api_->Slice("tamper/a", "::2", "tamper/v"));
  SHMARRAY_ASSERT_RPC_OK(api_->Seal("tamper/a"));
  SHMARRAY_ASSERT_RPC_OK(api_->Stat("tamper/a"));
  const std::string path = "/dev/shm/" + info.segment_name();
  ASSERT_EQ(FileMode(path) & 0222, 0u);
  ASSERT_EQ(chmod(path.c_str(), 0640), 0);  // what `chmod u+w` does as the owner
  for (const char* name : {"tamper/a", "tamper/v"}) {
    const grpc::Status stat = api_->Stat(name);
    EXPECT_EQ(stat.error_code(), Code::DATA_LOSS) << name << ": " << DescribeStatus(stat);
    EXPECT_THAT(stat.error_message(), HasSubstr("writable again"));
    EXPECT_THAT(stat.error_message(), HasSubstr(std::string("'") + name + "'"));
    std::string bytes;
    SHMARRAY_EXPECT_RPC_CODE(api_->Read(name, "", &bytes), Code::DATA_LOSS);
  }
  // It can still be listed and deleted.
  std::vector<std::string> names;
  SHMARRAY_ASSERT_RPC_OK(api_->ListNames("", &names));
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
  SHMARRAY_ASSERT_RPC_OK(api_->Create("g/a", "<i", {1024}, v1::ORDER_C, &info));
  const std::string data = Pattern(4096, 93);
  SHMARRAY_ASSERT_RPC_OK(api_->Write("g/a", "", data));
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
  SHMARRAY_ASSERT_RPC_OK(api_->Seal("g/a"));
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
  SHMARRAY_ASSERT_RPC_OK(api_->Stat("g/a", &sealed));
  EXPECT_TRUE(sealed.readonly());
  std::string bytes;
  SHMARRAY_ASSERT_RPC_OK(api_->Read("g/a", "", &bytes));
  EXPECT_EQ(bytes, data);
  DeleteEverything();
}

}  // namespace
}  // namespace shmarray
