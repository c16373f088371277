// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: daemon.h
// -----------------------------------------------------------------------------
// TestDaemon: runs the REAL `shmarrayd` binary (SHMARRAY_DAEMON_PATH, set by
// tests/server/CMakeLists.txt) for integration tests and benchmarks, the way
// STYLE.md §5 asks: fork/exec (never system()), a private temporary directory
// holding the Unix socket and the logs, a unique `--instance` per daemon (so
// its segments live in /dev/shm/shmarray.<uid>.<instance>/ and never collide
// with another test's or a real daemon's), readiness by polling the gRPC health
// service `grpc.health.v1.Health/Check` with a deadline (never a log line,
// never a sleep), and a destructor that always stops and reaps the process
// and removes whatever segments of its prefix are left.
//
//   auto daemon = shmarray::testing::TestDaemon::Start();
//   ASSERT_TRUE(daemon.ok()) << daemon.status();
//   grpc::ClientContext ctx;
//   shmarray::v1::StatRequest req;
//   req.set_name("a");
//   shmarray::v1::ArrayInfo info;
//   grpc::Status s = (*daemon)->stub().Stat(&ctx, req, &info);
//   ...
//   EXPECT_THAT((*daemon)->ListSegments(), ::testing::IsEmpty());  // nothing leaked
//
// The daemon's stderr (and stdout) is read by a thread of the test process
// and appended to `<dir>/stderr.<run>.log` (one file per start), so a test can
// look for log lines (`WaitForStderr`) and failures quote the tail.
//
// Restart semantics: `Kill()` (SIGKILL, a crash) or `Stop()` (SIGTERM, a
// graceful exit) end the process; `Restart()` starts it again with the same
// instance, socket and flags, so it adopts the segments the last run left.
// Every start builds a new channel and stub: references returned by
// `stub()`/`channel()` before a restart must not be used after it.
//
// Thread-safety: the control methods (Start/Stop/Kill/Restart, the
// destructor) must not race with each other or with uses of `stub()`; the
// stub and channel themselves are thread-safe (gRPC), and the read-only
// accessors may be called from any thread while the daemon runs.

#ifndef SHMARRAY_TESTING_DAEMON_H_
#define SHMARRAY_TESTING_DAEMON_H_

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "shmarray/v1/array_service.grpc.pb.h"

namespace shmarray::testing {

// How to start a TestDaemon.
struct TestDaemonOptions {
  // Extra command-line flags, appended after the harness's own (--socket,
  // --instance and, with listen_tcp, --listen). E.g. {"--max-arrays", "10"}.
  std::vector<std::string> extra_flags;
  // Adds `--listen 127.0.0.1:0` (and `--insecure` when there is no token: a
  // TCP listener without a token is refused otherwise); Start() then reads
  // the chosen port from the log line "listening on tcp 127.0.0.1:NNNNN"
  // (tcp_target(), tcp_stub()).
  bool listen_tcp = false;
  // When non-empty: written to `<dir>/token` and passed as --token-file.
  // Authorize() then adds `authorization: Bearer <token>` to a context.
  std::string token;
  // The --instance name; empty = a unique "t<pid>n<counter>".
  std::string instance;
  // The --socket path; empty = "<dir>/d.sock" in the daemon's own directory.
  // Set it to another daemon's socket to test that startup fails.
  std::string socket_path;
  // How long Start()/Restart() wait for SERVING before failing.
  std::chrono::milliseconds ready_timeout{10000};
  // The binary to run; empty = $SHMARRAY_TEST_DAEMON when set (to run the
  // suite against another build of the daemon), else SHMARRAY_DAEMON_PATH.
  std::string binary;
  // Words put before the daemon's argv, e.g. {"unshare", "-m", "sh", "-c",
  // "...; exec \"$@\"", "sh"}; the last of them must exec the daemon so that
  // pid() stays the daemon's. Empty = exec the daemon directly.
  std::vector<std::string> wrapper;
  // When set (REQUIRES: root), the daemon runs as this uid and gid, with
  // `supplementary_gids` as its groups; the temporary directory is given to
  // that uid. segment_prefix() then names that uid.
  std::optional<uid_t> run_as_uid;
  gid_t run_as_gid = 0;
  std::vector<gid_t> supplementary_gids;
};

// How a process ended: either exited with `code`, or was killed by `signal`.
struct ExitResult {
  bool exited = false;  // true: exit(code); false: killed by `signal`
  int code = 0;
  int signal = 0;
  std::string stderr_text;  // everything the process wrote to stderr/stdout
};

// A running (or stopped) shmarrayd owned by a test. Not copyable or movable
// (threads and channels refer to it); hold it in a std::unique_ptr.
class TestDaemon {
 public:
  // Creates the temporary directory, starts the daemon and waits until the
  // health service reports SERVING on the Unix socket (and, with listen_tcp,
  // until the TCP port is logged).
  // Errors: kInternal if the directory, pipe or fork fails;
  // kFailedPrecondition if the daemon exits during startup (the message holds
  // its exit status and the tail of its stderr); kDeadlineExceeded if it is
  // not ready within options.ready_timeout (the process is killed and reaped;
  // the message holds the stderr tail). On error nothing is left running.
  static absl::StatusOr<std::unique_ptr<TestDaemon>> Start(TestDaemonOptions options = {});

  // The binary an empty TestDaemonOptions::binary stands for:
  // $SHMARRAY_TEST_DAEMON when set, else the build's shmarrayd.
  static std::string DefaultBinary();

  // Runs the daemon with the harness's flags plus `options` and waits for it
  // to exit on its own (for tests of bad flags, e.g. exit code 2). If it is
  // still running after `timeout`, it is killed, reaped, and the result is
  // kDeadlineExceeded. The temporary directory is removed afterwards.
  static absl::StatusOr<ExitResult> RunUntilExit(TestDaemonOptions options,
                                                 std::chrono::milliseconds timeout);

  TestDaemon(const TestDaemon&) = delete;
  TestDaemon& operator=(const TestDaemon&) = delete;

  // Stops the daemon (Stop(), then Kill() if needed), removes the segments of
  // its prefix that are left in /dev/shm and the temporary directory.
  ~TestDaemon();

  // Sends SIGTERM and waits up to `timeout` for the process to exit, then
  // reaps it. Returns its exit code (0 for a graceful shutdown).
  // Errors: kFailedPrecondition if it was not running; kInternal if it died
  // from a signal (the message names it); kDeadlineExceeded if it did not
  // exit in time (it is then SIGKILLed and reaped).
  absl::StatusOr<int> Stop(std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Waits up to `timeout` for the process to exit on its own (e.g. after a
  // signal the test sent), without signalling it, and reaps it. Returns its
  // exit code. Errors as Stop(), except that on timeout it keeps running.
  absl::StatusOr<int> WaitForExit(std::chrono::milliseconds timeout);

  // Drops the harness's channel and stub (see stub()) and sends `signo` to
  // the daemon; use WaitForExit() afterwards for a signal that ends it.
  // Errors: kFailedPrecondition if it is not running; kInternal from kill().
  absl::Status Signal(int signo);

  // SIGKILL (a crash, as far as the daemon is concerned) and reap. No-op when
  // not running.
  void Kill();

  // Starts the daemon again with the same instance, socket, token and flags
  // (a running daemon is stopped gracefully first) and waits for readiness as
  // Start() does. A new channel and stub are built; with listen_tcp the new
  // port is read from the new log. Errors as Start().
  absl::Status Restart();

  // True while the process has not been reaped.
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  // A stub on the Unix socket (its channel is target()). Valid until the next
  // Restart/Stop/Kill, which drop it (Stop() closes the harness's connection
  // before SIGTERM, since a graceful gRPC shutdown waits for clients with
  // open connections). REQUIRES: running(). Thread-safe.
  v1::ArrayService::Stub& stub() const { return *stub_; }
  // The channel stub() uses, or null after Stop/Kill. Valid until the next
  // restart. Channels the test made itself (NewStub) should be destroyed
  // before Stop() for a quick shutdown.
  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  // A fresh channel (its own connection: a local subchannel pool) to
  // `target`, with fast reconnects. For benchmarks that want one connection
  // per thread and for TCP.
  static std::shared_ptr<grpc::Channel> NewChannel(const std::string& target);
  // A fresh stub on its own channel to target(), or to tcp_target().
  std::unique_ptr<v1::ArrayService::Stub> NewStub() const;
  // REQUIRES: options.listen_tcp.
  std::unique_ptr<v1::ArrayService::Stub> NewTcpStub() const;

  // "unix:<socket path>".
  std::string target() const { return "unix:" + socket_path_; }
  // "127.0.0.1:<port>" with listen_tcp, else empty.
  std::string tcp_target() const;
  int tcp_port() const { return tcp_port_; }
  const std::string& socket_path() const { return socket_path_; }
  // The temporary directory (removed by the destructor). Tests may put files
  // there (e.g. a token file for a second daemon).
  const std::string& dir() const { return dir_; }
  const std::string& instance() const { return options_.instance; }
  const TestDaemonOptions& options() const { return options_; }

  // "shmarray.<uid>.<instance>" (the daemon's uid): the segment prefix of
  // this daemon, the name of its private directory in /dev/shm. Its segments
  // are named "<prefix>/<generation in hex>".
  std::string segment_prefix() const;
  // "/dev/shm/" + segment_prefix().
  std::string segment_dir() const;
  // Segment names "<prefix>/<file>" (as ArrayInfo.segment_name has them;
  // "/dev/shm/" + name is the path) of the files in segment_dir() but the
  // catalog file, sorted.
  // Use to assert that nothing leaked.
  std::vector<std::string> ListSegments() const;
  // Unlinks every file ListSegments() returns (and the catalog file, which
  // ListSegments() leaves out) and removes segment_dir().
  // Returns how many files it removed.
  int RemoveSegments() const;
  // Removes what earlier, killed test processes left behind: the
  // directories /dev/shm/shmarray.<euid>.t<pid>n<k> (the harness's default
  // instance names) whose <pid> no longer exists, with their files. Start()
  // calls it, so a crashed or timed-out test run does not leak into the next.
  // Returns how many files it removed.
  static int RemoveStaleSegments();

  // Adds `authorization: Bearer <options.token>` to `context` when the daemon
  // was started with a token; no-op otherwise.
  void Authorize(grpc::ClientContext* context) const;

  // Everything the current (or last) run wrote to stderr so far.
  std::string StderrText() const;
  // The last `max_lines` lines of StderrText().
  std::string StderrTail(int max_lines = 30) const;
  // Path of the current run's log file.
  std::string stderr_path() const;
  // Waits until the current run's stderr contains `needle` or the process
  // closed its stderr (exited), at most `timeout`. Returns whether it appeared.
  bool WaitForStderr(std::string_view needle, std::chrono::milliseconds timeout) const;

  // Calls grpc.health.v1.Health/Check(service "") on `channel` with the given
  // deadline and wait_for_ready. Returns the serving status from the response
  // (1 = SERVING, 2 = NOT_SERVING, 0 = UNKNOWN), or the RPC's error as a
  // Status. Uses no token (the health service is open). Thread-safe.
  static absl::StatusOr<int> HealthCheck(grpc::ChannelInterface* channel,
                                         std::chrono::milliseconds timeout,
                                         bool wait_for_ready = false);
  static constexpr int kServing = 1;

 private:
  explicit TestDaemon(TestDaemonOptions options);

  // Creates the directory (once), spawns, waits for readiness.
  absl::Status StartProcess();
  // fork/exec with stderr/stdout on a pipe read by reader_.
  absl::Status Spawn();
  // Reaps the process (blocking up to `timeout`); returns the wait status or
  // nullopt on timeout. Joins the reader after a successful reap.
  std::optional<int> Reap(std::chrono::milliseconds timeout);
  void JoinReader();
  absl::Status WaitReady();
  absl::StatusOr<int> ReadTcpPort() const;
  std::vector<std::string> Argv() const;

  TestDaemonOptions options_;
  std::string dir_;
  std::string socket_path_;
  int run_ = 0;  // number of starts so far; names the log file
  pid_t pid_ = -1;
  int tcp_port_ = 0;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::ArrayService::Stub> stub_;

  // The stderr of the current run, filled by reader_.
  mutable std::mutex log_mu_;
  mutable std::condition_variable log_cv_;
  std::string log_text_;  // guarded by log_mu_
  bool log_eof_ = true;   // guarded by log_mu_
  std::thread reader_;
};

// Formats a grpc::Status as "CODE: message" for test failure messages.
std::string DescribeStatus(const grpc::Status& status);

}  // namespace shmarray::testing

#endif  // SHMARRAY_TESTING_DAEMON_H_
