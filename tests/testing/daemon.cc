// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: daemon.cc
// -----------------------------------------------------------------------------
// TestDaemon: fork/exec of the real shmarrayd, readiness through the health
// service, stderr capture by a reader thread, and waiting for the process with
// a pidfd (poll with a deadline, never a sleep).

#include "testing/daemon.h"

#include <fcntl.h>
#include <grp.h>
#include <grpcpp/impl/client_unary_call.h>
#include <grpcpp/impl/rpc_method.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"

#ifndef SHMARRAY_DAEMON_PATH
#error "SHMARRAY_DAEMON_PATH must name the shmarrayd binary"
#endif

namespace shmarray::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::atomic<int> g_instance_counter{0};

std::string ErrnoText(std::string_view what) {
  return absl::StrCat(std::string(what), ": ", std::strerror(errno));
}

// "exit code N" / "killed by signal N (NAME)".
std::string DescribeWaitStatus(int wait_status) {
  if (WIFEXITED(wait_status)) return absl::StrCat("exit code ", WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    const char* name = strsignal(WTERMSIG(wait_status));
    return absl::StrCat("killed by signal ", WTERMSIG(wait_status), " (", name ? name : "?", ")");
  }
  return absl::StrCat("wait status ", wait_status);
}

std::string LastLines(const std::string& text, int max_lines) {
  size_t pos = text.size();
  if (pos > 0 && text[pos - 1] == '\n') --pos;
  int lines = 0;
  while (pos > 0) {
    size_t nl = text.rfind('\n', pos - 1);
    if (nl == std::string::npos) return text;
    if (++lines >= max_lines) return text.substr(nl + 1);
    pos = nl;
  }
  return text;
}

// Reads a base-128 varint at *pos; false when truncated or too long.
bool ReadVarint(const std::string& bytes, size_t* pos, uint64_t* value) {
  *value = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*pos >= bytes.size()) return false;
    const uint8_t b = static_cast<uint8_t>(bytes[(*pos)++]);
    *value |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

// Field 1 (status, a varint) of a serialised grpc.health.v1.HealthCheckResponse.
absl::StatusOr<int> ParseHealthResponse(const std::string& bytes) {
  int status = 0;  // proto3: an absent field is UNKNOWN (0)
  size_t pos = 0;
  while (pos < bytes.size()) {
    uint64_t key = 0;
    if (!ReadVarint(bytes, &pos, &key)) return absl::DataLossError("bad health response");
    const uint64_t field = key >> 3;
    const uint64_t wire_type = key & 7;
    uint64_t value = 0;
    switch (wire_type) {
      case 0:
        if (!ReadVarint(bytes, &pos, &value)) return absl::DataLossError("bad health response");
        if (field == 1) status = static_cast<int>(value);
        break;
      case 1:
        pos += 8;
        break;
      case 2:
        if (!ReadVarint(bytes, &pos, &value)) return absl::DataLossError("bad health response");
        pos += value;
        break;
      case 5:
        pos += 4;
        break;
      default:
        return absl::DataLossError("bad wire type in health response");
    }
    if (pos > bytes.size()) return absl::DataLossError("truncated health response");
  }
  return status;
}

int PidfdOpen(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

}  // namespace

std::string DescribeStatus(const grpc::Status& status) {
  static constexpr const char* kNames[] = {"OK",
                                           "CANCELLED",
                                           "UNKNOWN",
                                           "INVALID_ARGUMENT",
                                           "DEADLINE_EXCEEDED",
                                           "NOT_FOUND",
                                           "ALREADY_EXISTS",
                                           "PERMISSION_DENIED",
                                           "RESOURCE_EXHAUSTED",
                                           "FAILED_PRECONDITION",
                                           "ABORTED",
                                           "OUT_OF_RANGE",
                                           "UNIMPLEMENTED",
                                           "INTERNAL",
                                           "UNAVAILABLE",
                                           "DATA_LOSS",
                                           "UNAUTHENTICATED"};
  const int code = static_cast<int>(status.error_code());
  const std::string name = code >= 0 && code < 17 ? kNames[code] : absl::StrCat("CODE_", code);
  return absl::StrCat(name, ": ", status.error_message());
}

TestDaemon::TestDaemon(TestDaemonOptions options) : options_(std::move(options)) {
  if (options_.instance.empty()) {
    options_.instance = absl::StrCat("t", getpid(), "n", g_instance_counter.fetch_add(1));
  }
  if (options_.binary.empty()) options_.binary = DefaultBinary();
}

std::string TestDaemon::DefaultBinary() {
  const char* other = std::getenv("SHMARRAY_TEST_DAEMON");
  return other != nullptr && other[0] != '\0' ? other : SHMARRAY_DAEMON_PATH;
}

absl::StatusOr<std::unique_ptr<TestDaemon>> TestDaemon::Start(TestDaemonOptions options) {
  RemoveStaleSegments();
  std::unique_ptr<TestDaemon> daemon(new TestDaemon(std::move(options)));
  absl::Status status = daemon->StartProcess();
  if (!status.ok()) return status;  // the destructor cleans up
  return daemon;
}

absl::StatusOr<ExitResult> TestDaemon::RunUntilExit(TestDaemonOptions options,
                                                    std::chrono::milliseconds timeout) {
  std::unique_ptr<TestDaemon> daemon(new TestDaemon(std::move(options)));
  absl::Status status = daemon->Spawn();
  if (!status.ok()) return status;
  std::optional<int> wait_status = daemon->Reap(timeout);
  if (!wait_status.has_value()) {
    daemon->Kill();
    return absl::DeadlineExceededError(absl::StrCat(
        "shmarrayd still running after ", timeout.count(), " ms; stderr:\n", daemon->StderrTail()));
  }
  ExitResult result;
  result.exited = WIFEXITED(*wait_status);
  result.code = result.exited ? WEXITSTATUS(*wait_status) : 0;
  result.signal = WIFSIGNALED(*wait_status) ? WTERMSIG(*wait_status) : 0;
  result.stderr_text = daemon->StderrText();
  return result;
}

TestDaemon::~TestDaemon() {
  if (running()) {
    absl::StatusOr<int> stopped = Stop(std::chrono::seconds(5));
    (void)stopped;  // Stop kills and reaps on any failure
  }
  if (running()) Kill();
  JoinReader();
  stub_.reset();
  channel_.reset();
  RemoveSegments();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

absl::Status TestDaemon::StartProcess() {
  absl::Status status = Spawn();
  if (!status.ok()) return status;
  return WaitReady();
}

std::vector<std::string> TestDaemon::Argv() const {
  std::vector<std::string> argv = options_.wrapper;
  for (const std::string& arg : {options_.binary, std::string("--socket"), socket_path_,
                                 std::string("--instance"), options_.instance}) {
    argv.push_back(arg);
  }
  if (options_.listen_tcp) {
    argv.push_back("--listen");
    argv.push_back("127.0.0.1:0");
    if (options_.token.empty()) argv.push_back("--insecure");
  }
  if (!options_.token.empty()) {
    argv.push_back("--token-file");
    argv.push_back(dir_ + "/token");
  }
  argv.insert(argv.end(), options_.extra_flags.begin(), options_.extra_flags.end());
  return argv;
}

absl::Status TestDaemon::Spawn() {
  if (running()) return absl::FailedPreconditionError("shmarrayd is already running");
  if (dir_.empty()) {
    char templ[] = "/tmp/shmarray-test-XXXXXX";
    if (mkdtemp(templ) == nullptr) return absl::InternalError(ErrnoText("mkdtemp"));
    dir_ = templ;
    if (options_.run_as_uid &&
        chown(dir_.c_str(), *options_.run_as_uid, options_.run_as_gid) != 0) {
      return absl::InternalError(ErrnoText("chown of the test directory"));
    }
    socket_path_ = options_.socket_path.empty() ? dir_ + "/d.sock" : options_.socket_path;
    if (!options_.token.empty()) {
      std::ofstream token_file(dir_ + "/token");
      token_file << options_.token << "\n";
      if (!token_file) return absl::InternalError("cannot write the token file");
    }
  }
  JoinReader();
  ++run_;
  const int log_fd = open(stderr_path().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (log_fd < 0) return absl::InternalError(ErrnoText("open log"));
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    close(log_fd);
    return absl::InternalError(ErrnoText("pipe2"));
  }

  // Everything the child needs is prepared before fork: after it, the child
  // (a copy of a multi-threaded process) only makes async-signal-safe calls.
  const std::vector<std::string> args = Argv();
  std::vector<char*> argv;
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  const pid_t parent = getpid();
  const std::optional<uid_t> run_as_uid = options_.run_as_uid;
  const gid_t run_as_gid = options_.run_as_gid;
  const std::vector<gid_t> groups = options_.supplementary_gids;

  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    close(log_fd);
    return absl::InternalError(ErrnoText("fork"));
  }
  if (pid == 0) {
    // Child. Die with the test process (the forking thread, in fact), so a
    // crashed test never leaves a daemon behind.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    const int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0) dup2(null_fd, 0);
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    close_range(3, ~0U, 0);
    if (run_as_uid) {
      if (setgroups(groups.size(), groups.data()) != 0 || setgid(run_as_gid) != 0 ||
          setuid(*run_as_uid) != 0) {
        static constexpr char kIdMsg[] = "TestDaemon: cannot change uid/gid\n";
        ssize_t ignored = write(2, kIdMsg, sizeof(kIdMsg) - 1);
        (void)ignored;
        _exit(126);
      }
      // Changing the uid clears the parent-death signal: set it again.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);
    }
    execvp(argv[0], argv.data());
    static constexpr char kMsg[] = "TestDaemon: execv of shmarrayd failed\n";
    ssize_t ignored = write(2, kMsg, sizeof(kMsg) - 1);
    (void)ignored;
    _exit(127);
  }
  close(fds[1]);
  pid_ = pid;
  {
    std::lock_guard<std::mutex> lock(log_mu_);
    log_text_.clear();
    log_eof_ = false;
  }
  const int read_fd = fds[0];
  reader_ = std::thread([this, read_fd, log_fd] {
    char buf[4096];
    for (;;) {
      const ssize_t n = read(read_fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      ssize_t ignored = write(log_fd, buf, static_cast<size_t>(n));
      (void)ignored;
      std::lock_guard<std::mutex> lock(log_mu_);
      log_text_.append(buf, static_cast<size_t>(n));
      log_cv_.notify_all();
    }
    close(read_fd);
    close(log_fd);
    std::lock_guard<std::mutex> lock(log_mu_);
    log_eof_ = true;
    log_cv_.notify_all();
  });
  return absl::OkStatus();
}

void TestDaemon::JoinReader() {
  if (reader_.joinable()) reader_.join();
}

std::optional<int> TestDaemon::Reap(std::chrono::milliseconds timeout) {
  if (!running()) return std::nullopt;
  int wait_status = 0;
  pid_t r = waitpid(pid_, &wait_status, WNOHANG);
  if (r == 0) {
    const int pidfd = PidfdOpen(pid_);
    if (pidfd >= 0) {
      pollfd pfd{pidfd, POLLIN, 0};
      const Clock::time_point deadline = Clock::now() + timeout;
      int n = 0;
      do {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        n = poll(&pfd, 1, static_cast<int>(std::max<int64_t>(0, left.count())));
      } while (n < 0 && errno == EINTR);
      close(pidfd);
      if (n == 0) return std::nullopt;
    } else {
      // No pidfd (old kernel): the pipe's EOF tells that the process is gone.
      std::unique_lock<std::mutex> lock(log_mu_);
      if (!log_cv_.wait_for(lock, timeout, [this] { return log_eof_; })) return std::nullopt;
    }
    do {
      r = waitpid(pid_, &wait_status, 0);
    } while (r < 0 && errno == EINTR);
  }
  pid_ = -1;
  JoinReader();
  if (r < 0) return std::nullopt;
  return wait_status;
}

absl::StatusOr<int> TestDaemon::WaitForExit(std::chrono::milliseconds timeout) {
  if (!running()) return absl::FailedPreconditionError("shmarrayd is not running");
  std::optional<int> wait_status = Reap(timeout);
  if (!wait_status.has_value()) {
    return absl::DeadlineExceededError(
        absl::StrCat("shmarrayd did not exit within ", timeout.count(), " ms"));
  }
  if (!WIFEXITED(*wait_status)) {
    return absl::InternalError(
        absl::StrCat("shmarrayd ", DescribeWaitStatus(*wait_status), "; stderr:\n", StderrTail()));
  }
  return WEXITSTATUS(*wait_status);
}

absl::StatusOr<int> TestDaemon::Stop(std::chrono::milliseconds timeout) {
  if (!running()) return absl::FailedPreconditionError("shmarrayd is not running");
  // Drop our own connection first: a graceful gRPC shutdown waits (up to its
  // deadline) for clients that keep an idle connection open.
  stub_.reset();
  channel_.reset();
  kill(pid_, SIGTERM);
  std::optional<int> wait_status = Reap(timeout);
  if (!wait_status.has_value()) {
    Kill();
    return absl::DeadlineExceededError(absl::StrCat("shmarrayd did not exit within ",
                                                    timeout.count(), " ms of SIGTERM; stderr:\n",
                                                    StderrTail()));
  }
  if (!WIFEXITED(*wait_status)) {
    return absl::InternalError(
        absl::StrCat("shmarrayd ", DescribeWaitStatus(*wait_status), "; stderr:\n", StderrTail()));
  }
  return WEXITSTATUS(*wait_status);
}

absl::Status TestDaemon::Signal(int signo) {
  if (!running()) return absl::FailedPreconditionError("shmarrayd is not running");
  stub_.reset();
  channel_.reset();
  if (kill(pid_, signo) != 0) return absl::InternalError(ErrnoText("kill"));
  return absl::OkStatus();
}

void TestDaemon::Kill() {
  if (!running()) return;
  stub_.reset();
  channel_.reset();
  kill(pid_, SIGKILL);
  int wait_status = 0;
  while (waitpid(pid_, &wait_status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  JoinReader();
}

absl::Status TestDaemon::Restart() {
  if (running()) {
    absl::StatusOr<int> stopped = Stop();
    if (!stopped.ok()) return stopped.status();
  }
  stub_.reset();
  channel_.reset();
  tcp_port_ = 0;
  return StartProcess();
}

absl::Status TestDaemon::WaitReady() {
  const Clock::time_point deadline = Clock::now() + options_.ready_timeout;
  std::shared_ptr<grpc::Channel> channel = NewChannel(target());
  absl::Status last = absl::UnavailableError("no health check answered yet");
  for (;;) {
    // An early exit is reported at once, with the reason from stderr.
    int wait_status = 0;
    if (waitpid(pid_, &wait_status, WNOHANG) == pid_) {
      pid_ = -1;
      JoinReader();
      return absl::FailedPreconditionError(absl::StrCat("shmarrayd exited during startup (",
                                                        DescribeWaitStatus(wait_status),
                                                        "); stderr:\n", StderrTail()));
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    absl::StatusOr<int> serving = HealthCheck(
        channel.get(), std::min(left, std::chrono::milliseconds(250)), /*wait_for_ready=*/true);
    if (serving.ok() && *serving == kServing) {
      last = absl::OkStatus();
      break;
    }
    last = serving.ok() ? absl::UnavailableError(absl::StrCat("health status ", *serving))
                        : serving.status();
  }
  if (!last.ok()) {
    Kill();
    return absl::DeadlineExceededError(
        absl::StrCat("shmarrayd not SERVING within ", options_.ready_timeout.count(),
                     " ms (last: ", last.ToString(), "); stderr:\n", StderrTail()));
  }
  channel_ = channel;
  stub_ = v1::ArrayService::NewStub(channel_);
  if (options_.listen_tcp) {
    absl::StatusOr<int> port = ReadTcpPort();
    if (!port.ok()) {
      Kill();
      return port.status();
    }
    tcp_port_ = *port;
  }
  return absl::OkStatus();
}

absl::StatusOr<int> TestDaemon::ReadTcpPort() const {
  static constexpr std::string_view kNeedle = "listening on tcp 127.0.0.1:";
  if (!WaitForStderr(kNeedle, options_.ready_timeout)) {
    return absl::DeadlineExceededError(
        absl::StrCat("no \"", std::string(kNeedle), "\" line in stderr:\n", StderrTail()));
  }
  const std::string text = StderrText();
  size_t pos = text.find(kNeedle) + kNeedle.size();
  int port = 0;
  while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9' && port < 65536) {
    port = port * 10 + (text[pos++] - '0');
  }
  if (port <= 0 || port > 65535) {
    return absl::InternalError(absl::StrCat("bad port in stderr:\n", StderrTail()));
  }
  return port;
}

std::shared_ptr<grpc::Channel> TestDaemon::NewChannel(const std::string& target) {
  grpc::ChannelArguments args;
  // Its own connection, and quick reconnects while a daemon starts.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 10);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 10);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 100);
  args.SetMaxReceiveMessageSize(64 << 20);
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

std::unique_ptr<v1::ArrayService::Stub> TestDaemon::NewStub() const {
  return v1::ArrayService::NewStub(NewChannel(target()));
}

std::unique_ptr<v1::ArrayService::Stub> TestDaemon::NewTcpStub() const {
  return v1::ArrayService::NewStub(NewChannel(tcp_target()));
}

std::string TestDaemon::tcp_target() const {
  if (tcp_port_ == 0) return "";
  return absl::StrCat("127.0.0.1:", tcp_port_);
}

std::string TestDaemon::segment_prefix() const {
  const uid_t uid = options_.run_as_uid ? *options_.run_as_uid : geteuid();
  return absl::StrCat("shmarray.", uid, ".", options_.instance);
}

std::string TestDaemon::segment_dir() const { return "/dev/shm/" + segment_prefix(); }

std::vector<std::string> TestDaemon::ListSegments() const {
  const std::string prefix = segment_prefix();
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(segment_dir(), ec)) {
    // The catalog file (see shm/catalog_file.h) is not a segment.
    if (entry.path().filename() == "catalog") continue;
    names.push_back(prefix + "/" + entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

int TestDaemon::RemoveSegments() const {
  // A directory that a live daemon holds (a second TestDaemon for another's
  // instance, e.g. one expected to refuse to start) is that daemon's: left
  // alone. Held while the files go, so that no daemon starts on it meanwhile.
  const int dir_fd = ::open(segment_dir().c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir_fd >= 0 && ::flock(dir_fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
    ::close(dir_fd);
    return 0;
  }
  int removed = 0;
  for (const std::string& name : ListSegments()) {
    if (unlink(("/dev/shm/" + name).c_str()) == 0) ++removed;
  }
  unlink((segment_dir() + "/catalog").c_str());  // left by a daemon that was killed
  rmdir(segment_dir().c_str());
  if (dir_fd >= 0) ::close(dir_fd);
  return removed;
}

int TestDaemon::RemoveStaleSegments() {
  const std::string prefix = absl::StrCat("shmarray.", geteuid(), ".t");
  int removed = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    // "<digits>n<digits>" must follow, and nothing else.
    size_t pos = prefix.size();
    int64_t pid = 0;
    while (pos < name.size() && name[pos] >= '0' && name[pos] <= '9' && pid < (1 << 30)) {
      pid = pid * 10 + (name[pos++] - '0');
    }
    if (pid <= 0 || pos == prefix.size() || pos >= name.size() || name[pos] != 'n') continue;
    const size_t digits = ++pos;
    while (pos < name.size() && name[pos] >= '0' && name[pos] <= '9') ++pos;
    if (pos == digits || pos != name.size()) continue;
    if (kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;  // still alive
    std::error_code files_ec;
    for (const auto& file : std::filesystem::directory_iterator(entry.path(), files_ec)) {
      if (unlink(file.path().c_str()) == 0) ++removed;
    }
    rmdir(entry.path().c_str());
  }
  return removed;
}

void TestDaemon::Authorize(grpc::ClientContext* context) const {
  if (!options_.token.empty()) {
    context->AddMetadata("authorization", "Bearer " + options_.token);
  }
}

std::string TestDaemon::StderrText() const {
  std::lock_guard<std::mutex> lock(log_mu_);
  return log_text_;
}

std::string TestDaemon::StderrTail(int max_lines) const {
  return LastLines(StderrText(), max_lines);
}

std::string TestDaemon::stderr_path() const { return absl::StrCat(dir_, "/stderr.", run_, ".log"); }

bool TestDaemon::WaitForStderr(std::string_view needle, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(log_mu_);
  log_cv_.wait_for(lock, timeout,
                   [&] { return log_text_.find(needle) != std::string::npos || log_eof_; });
  return log_text_.find(needle) != std::string::npos;
}

absl::StatusOr<int> TestDaemon::HealthCheck(grpc::ChannelInterface* channel,
                                            std::chrono::milliseconds timeout,
                                            bool wait_for_ready) {
  // No generated health stubs on Debian: call the method by name with raw
  // bytes, as generated stubs do. HealthCheckRequest{service: ""} serialises
  // to zero bytes.
  static const grpc::internal::RpcMethod kCheck("/grpc.health.v1.Health/Check",
                                                grpc::internal::RpcMethod::NORMAL_RPC);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  context.set_wait_for_ready(wait_for_ready);
  grpc::Slice empty;
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  grpc::Status status = grpc::internal::BlockingUnaryCall<grpc::ByteBuffer, grpc::ByteBuffer>(
      channel, kCheck, &context, request, &response);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  }
  std::vector<grpc::Slice> slices;
  if (response.Valid() && !response.Dump(&slices).ok())
    return absl::DataLossError("unreadable health response");
  std::string bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return ParseHealthResponse(bytes);
}

}  // namespace shmarray::testing
