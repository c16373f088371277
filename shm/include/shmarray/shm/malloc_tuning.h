// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: malloc_tuning.h
// -----------------------------------------------------------------------------
// The glibc malloc settings that streamed Reads and Writes need, made in one
// place for shmarrayd, the client library (ClientOptions::tune_malloc) and
// the benchmarks' baselines.
//
// gRPC allocates its receive buffers (up to a few MiB) per read and frees them
// soon after. With glibc's defaults each one is a fresh mmap, or a heap top
// that is trimmed with madvise: every buffer then costs a page fault per
// 4 KiB, which made a streamed Read or Write several times slower than the
// socket it rides on. With these settings buffers up to 32 MiB come from the
// heap and up to 128 MiB of free heap top is kept (measured in
// bench/server_bench; docs/performance.md).
//
//   shm::TuneMallocForStreaming();  // first thing in main(), or before the
//                                   // first large transfer
//
// Thread-safety: safe to call from any thread, any number of times; the
// settings are made once per process.

#ifndef SHMARRAY_SHM_MALLOC_TUNING_H_
#define SHMARRAY_SHM_MALLOC_TUNING_H_

namespace shmarray::shm {

// Allocations up to this size come from the heap (M_MMAP_THRESHOLD).
inline constexpr int kStreamingMmapThreshold = 32 << 20;
// Free heap top kept instead of returned to the OS (M_TRIM_THRESHOLD).
inline constexpr int kStreamingTrimThreshold = 128 << 20;

// Sets M_MMAP_THRESHOLD and M_TRIM_THRESHOLD to the values above, once per
// process; later calls do nothing. Returns whether the settings are in force
// (false without glibc, or if malloc refused them, as a sanitizer's
// allocator does).
bool TuneMallocForStreaming();

}  // namespace shmarray::shm

#endif  // SHMARRAY_SHM_MALLOC_TUNING_H_
