// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: log.h
// -----------------------------------------------------------------------------
// The daemon's log: one line per event on stderr, filtered by a process-wide
// level (--log-level). A line is a UTC timestamp, the level and the event,
// followed by key=value fields (logfmt: a value is double-quoted when it
// holds a space, a quote, '=' or a control character, or is empty) and, while
// the thread serves an RPC, the caller's address as peer=...:
//
//   2026-03-01T09:30:12.345678Z info created name=temps kind=array format=<d
//       shape=(4,6) bytes=192 generation=18ea33960ae6f523 peer=unix:
//   2026-03-01T09:30:12.400112Z warning cannot set the group of /dev/shm/...
//
//   server::Log(server::LogLevel::kInfo, "sealed", {{"name", name}, {"generation", "1f"}});
//
// Lines are formatted on the calling thread and handed to one writer thread
// (spdlog's asynchronous logger) through a bounded queue. A caller never
// waits for stderr: when the queue is full (stderr is a pipe nobody reads, a
// stopped terminal), the oldest queued lines are dropped and counted
// (LogLinesDropped()), so a stuck stderr costs log lines, never progress.
// At exit the queue is drained for at most two seconds.
//
// Thread-safety: every function is thread-safe; each line is one write(2), so
// lines never interleave.

#ifndef SHMARRAY_SERVER_LOG_H_
#define SHMARRAY_SERVER_LOG_H_

#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "absl/time/time.h"

namespace shmarray::server {

enum class LogLevel { kInfo = 0, kWarn = 1, kError = 2 };

// One key=value field of a log line. Integers are written in decimal.
struct LogField {
  LogField(std::string_view k, std::string_view v) : key(k), value(v) {}
  LogField(std::string_view k, const char* v) : key(k), value(v) {}
  LogField(std::string_view k, const std::string& v) : key(k), value(v) {}
  template <std::integral T>
  LogField(std::string_view k, T v) : key(k), value(std::to_string(v)) {}

  std::string_view key;
  std::string value;
};

// Lines below `level` are dropped from now on.
void SetLogLevel(LogLevel level);

// Logs `message` (free text) if `level` passes the filter.
void Log(LogLevel level, std::string_view message);
// Logs the event `message` followed by `fields` (see the file comment).
void Log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields);

// While one lives, lines logged by this thread carry peer=<peer> (the gRPC
// peer of the call being served, e.g. "ipv4:127.0.0.1:50712" or "unix:").
// Nests; restores the previous peer when destroyed. Not movable.
class ScopedLogPeer {
 public:
  explicit ScopedLogPeer(std::string peer);
  // Refers to `*peer` instead of copying it (a call's callbacks, each of
  // which sets the peer again); it must outlive this object.
  // REQUIRES: peer != nullptr.
  explicit ScopedLogPeer(const std::string* peer);
  ~ScopedLogPeer();
  ScopedLogPeer(const ScopedLogPeer&) = delete;
  ScopedLogPeer& operator=(const ScopedLogPeer&) = delete;

 private:
  std::string owned_;  // the peer, unless the constructor was given a pointer
  const std::string* previous_;
};

// Lines dropped so far because the queue was full (stderr did not keep up).
int64_t LogLinesDropped();

// Waits until every line logged so far is written (or dropped), for at most
// `timeout`. Returns whether it got there.
bool FlushLog(absl::Duration timeout);

// Formats `fields` as the log does (" key=value" each); for tests.
std::string FormatLogFields(std::initializer_list<LogField> fields);

}  // namespace shmarray::server

#endif  // SHMARRAY_SERVER_LOG_H_
