// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: read_buffers.h
// -----------------------------------------------------------------------------
// Memory for large read() results (ClientOptions::reuse_read_buffers). A new
// anonymous mapping costs a page fault per page (per 2 MiB with transparent
// huge pages) as the bytes land, and on a virtual machine that hands freed
// memory back to its host, faulting it in again costs far more (see
// docs/performance.md). So the memory of the last large result dropped is
// kept, and the next read() it fits (not more than twice its size) reuses
// it: its pages are already there.
//
// One buffer per process is kept (the last one released); a new release
// replaces it. Contents of a reused buffer are stale: the caller overwrites
// every byte it hands out.
//
// Thread-safety: thread-safe.

#ifndef SHMARRAY_CLIENT_SRC_READ_BUFFERS_H_
#define SHMARRAY_CLIENT_SRC_READ_BUFFERS_H_

#include <cstddef>
#include <cstdint>
#include <memory>

namespace shmarray::client::internal {

// Requests below this many bytes are not pooled (AnyView::Allocate's heap
// memory is cheap to fault in).
inline constexpr int64_t kMinPooledReadBytes = int64_t{4} << 20;

// At least `nbytes` (>= kMinPooledReadBytes) of writable memory, whose
// contents are unspecified: the kept buffer when it fits, else a new
// mapping (MADV_HUGEPAGE). Releasing the last owner keeps the memory for
// the next call (replacing what was kept). Throws std::bad_alloc.
std::shared_ptr<std::byte> AcquireReadBuffer(int64_t nbytes);

// The bytes kept for reuse now (0 or the size of one buffer). For tests.
int64_t KeptReadBufferBytes();

// Unmaps the kept buffer, if any. For tests.
void DropKeptReadBuffer();

}  // namespace shmarray::client::internal

#endif  // SHMARRAY_CLIENT_SRC_READ_BUFFERS_H_
