// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: clock_internal.h
// -----------------------------------------------------------------------------
// The daemon's wall clock for timestamps that go on the wire and into segment
// headers (created_unix_ns, WatchEvent.unix_ns). Private to server/src.
//
// Thread-safety: pure function.

#ifndef SHMARRAY_SERVER_SRC_CLOCK_INTERNAL_H_
#define SHMARRAY_SERVER_SRC_CLOCK_INTERNAL_H_

#include <chrono>
#include <cstdint>

namespace shmarray::server::internal {

// Nanoseconds since the Unix epoch (system_clock, so it can jump).
inline int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace shmarray::server::internal

#endif  // SHMARRAY_SERVER_SRC_CLOCK_INTERNAL_H_
