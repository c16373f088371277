// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: log.cc
// -----------------------------------------------------------------------------
// The daemon's log over spdlog's asynchronous logger. See log.h.
//
// The logger, its thread pool and the sink are created on first use and never
// destroyed: destroying spdlog's thread pool joins its writer thread, which
// would hang the exit of a daemon whose stderr is stuck. An atexit handler
// drains the queue for a bounded time instead.

#include "shmarray/server/log.h"

#include <errno.h>
#include <poll.h>
#include <spdlog/async_logger.h>
#include <spdlog/details/thread_pool.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace shmarray::server {
namespace {

// Lines queued before the oldest are dropped.
constexpr size_t kQueueLines = 8192;
constexpr absl::Duration kExitDrain = absl::Seconds(2);

thread_local const std::string* t_peer = nullptr;

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};

// Writes each formatted line with write(2) on stderr and counts what it wrote,
// so that FlushLog can wait for the queue to drain. Called by the logger's
// single writer thread only (hence null_mutex).
class StderrSink final : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
 public:
  absl::Mutex& mu() { return mu_; }
  int64_t written_locked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return written_; }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t buf;
    formatter_->format(msg, buf);
    const char* p = buf.data();
    size_t left = buf.size();
    while (left > 0) {
      const ssize_t n = ::write(STDERR_FILENO, p, left);
      if (n > 0) {
        p += n;
        left -= static_cast<size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        pollfd pfd = {STDERR_FILENO, POLLOUT, 0};
        (void)::poll(&pfd, 1, -1);  // this is the writer thread: waiting here is its job
      } else {
        break;  // closed or broken: the line is lost
      }
    }
    absl::MutexLock lock(&mu_);
    ++written_;
  }
  void flush_() override {}

 private:
  absl::Mutex mu_;
  int64_t written_ ABSL_GUARDED_BY(mu_) = 0;
};

struct LogState {
  std::shared_ptr<spdlog::details::thread_pool> pool;
  std::shared_ptr<StderrSink> sink;
  std::shared_ptr<spdlog::async_logger> logger;
  std::atomic<int64_t> posted{0};
  int64_t stuck_at = -1;  // guarded by sink->mu(): lines written when a flush gave up
};

LogState& State() {
  static LogState* const state = [] {
    auto* s = new LogState;
    s->pool = std::make_shared<spdlog::details::thread_pool>(kQueueLines, 1);
    s->sink = std::make_shared<StderrSink>();
    s->sink->set_formatter(std::make_unique<spdlog::pattern_formatter>(
        "%Y-%m-%dT%H:%M:%S.%fZ %l %v", spdlog::pattern_time_type::utc));
    s->logger = std::make_shared<spdlog::async_logger>(
        "shmarrayd", s->sink, s->pool, spdlog::async_overflow_policy::overrun_oldest);
    s->logger->set_level(spdlog::level::trace);
    std::atexit([] { (void)FlushLog(kExitDrain); });
    return s;
  }();
  return *state;
}

spdlog::level::level_enum SpdLevel(LogLevel level) {
  switch (level) {
    case LogLevel::kWarn:
      return spdlog::level::warn;
    case LogLevel::kError:
      return spdlog::level::err;
    case LogLevel::kInfo:
      break;
  }
  return spdlog::level::info;
}

bool NeedsQuotes(std::string_view v) {
  if (v.empty()) return true;
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '"' || c == '=' || c == '\\') return true;
  }
  return false;
}

void AppendField(std::string* out, std::string_view key, std::string_view value) {
  out->push_back(' ');
  out->append(key);
  out->push_back('=');
  if (!NeedsQuotes(value)) {
    out->append(value);
    return;
  }
  out->push_back('"');
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(c);
    } else if (c == '\n') {
      out->append("\\n");
    } else if (u < 0x20 || u == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out->append("\\x");
      out->push_back(kHex[u >> 4]);
      out->push_back(kHex[u & 15]);
    } else {
      out->push_back(c);
    }
  }
  out->push_back('"');
}

void Emit(LogLevel level, std::string line) {
  LogState& s = State();
  if (t_peer != nullptr) AppendField(&line, "peer", *t_peer);
  s.posted.fetch_add(1, std::memory_order_relaxed);
  s.logger->log(SpdLevel(level), std::string_view(line));
}

bool Enabled(LogLevel level) {
  return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

}  // namespace

void SetLogLevel(LogLevel level) {
  g_level.store(static_cast<int>(level), std::memory_order_relaxed);
}

void Log(LogLevel level, std::string_view message) {
  if (!Enabled(level)) return;
  Emit(level, std::string(message));
}

void Log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields) {
  if (!Enabled(level)) return;
  std::string line(message);
  for (const LogField& f : fields) AppendField(&line, f.key, f.value);
  Emit(level, std::move(line));
}

std::string FormatLogFields(std::initializer_list<LogField> fields) {
  std::string out;
  for (const LogField& f : fields) AppendField(&out, f.key, f.value);
  return out;
}

ScopedLogPeer::ScopedLogPeer(std::string peer) : owned_(std::move(peer)), previous_(t_peer) {
  t_peer = &owned_;
}

ScopedLogPeer::ScopedLogPeer(const std::string* peer) : previous_(t_peer) { t_peer = peer; }

ScopedLogPeer::~ScopedLogPeer() { t_peer = previous_; }

int64_t LogLinesDropped() { return static_cast<int64_t>(State().pool->overrun_counter()); }

bool FlushLog(absl::Duration timeout) {
  LogState& s = State();
  const int64_t target = s.posted.load(std::memory_order_relaxed);
  StderrSink& sink = *s.sink;
  auto done = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return sink.written_locked() + static_cast<int64_t>(s.pool->overrun_counter()) >= target;
  };
  absl::MutexLock lock(&sink.mu());
  // A writer that made no progress since the last flush timed out is stuck:
  // do not wait for it again (the exit path flushes after Shutdown did).
  if (s.stuck_at == sink.written_locked() && !done()) return false;
  if (sink.mu().AwaitWithTimeout(absl::Condition(&done), timeout)) return true;
  s.stuck_at = sink.written_locked();
  return false;
}

}  // namespace shmarray::server
