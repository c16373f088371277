// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: log.h
// -----------------------------------------------------------------------------
// The daemon's log: one line per event on stderr, filtered by a process-wide
// level (--log-level). Lines of level kInfo are printed as they are; warnings
// and errors carry a "warning: " / "error: " prefix.
//
//   server::SetLogLevel(server::LogLevel::kWarn);
//   server::Log(server::LogLevel::kInfo, "created 'x' <i (3,4) 48 bytes gen 1f");
//
// Thread-safety: all functions are thread-safe; each line is written with a
// single write(2) so lines of concurrent threads never interleave.

#ifndef SHMARRAY_SERVER_LOG_H_
#define SHMARRAY_SERVER_LOG_H_

#include <unistd.h>

#include <atomic>
#include <string>
#include <string_view>

namespace shmarray::server {

enum class LogLevel { kInfo = 0, kWarn = 1, kError = 2 };

namespace internal {
inline std::atomic<int> g_log_level{static_cast<int>(LogLevel::kInfo)};
}  // namespace internal

// Lines below `level` are dropped from now on.
inline void SetLogLevel(LogLevel level) {
  internal::g_log_level.store(static_cast<int>(level), std::memory_order_relaxed);
}

// Writes `message` plus a newline to stderr if `level` passes the filter.
inline void Log(LogLevel level, std::string_view message) {
  if (static_cast<int>(level) < internal::g_log_level.load(std::memory_order_relaxed)) return;
  std::string line;
  if (level == LogLevel::kWarn) line = "warning: ";
  if (level == LogLevel::kError) line = "error: ";
  line.append(message);
  line.push_back('\n');
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n <= 0) break;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace shmarray::server

#endif  // SHMARRAY_SERVER_LOG_H_
