// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: read_buffers.cc
// -----------------------------------------------------------------------------
// See read_buffers.h.

#include "read_buffers.h"

#include <sys/mman.h>

#include <mutex>
#include <new>
#include <utility>

namespace shmarray::client::internal {
namespace {

struct Kept {
  void* addr = nullptr;
  size_t len = 0;
};

std::mutex g_mu;
Kept g_kept;  // guarded by g_mu

void Unmap(Kept k) {
  if (k.addr != nullptr) munmap(k.addr, k.len);
}

// Keeps `k` for the next AcquireReadBuffer; unmaps what was kept before.
void Release(Kept k) {
  Kept old;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    old = std::exchange(g_kept, k);
  }
  Unmap(old);  // outside the lock: a large munmap takes a while
}

}  // namespace

std::shared_ptr<std::byte> AcquireReadBuffer(int64_t nbytes) {
  if (nbytes < 0) throw std::bad_alloc();
  const size_t want = static_cast<size_t>(nbytes);
  Kept k;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    // Fits, and wastes at most half of itself.
    if (g_kept.addr != nullptr && g_kept.len >= want && g_kept.len / 2 <= want) {
      k = std::exchange(g_kept, Kept{});
    }
  }
  if (k.addr == nullptr) {
    void* p = mmap(nullptr, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
    madvise(p, want, MADV_HUGEPAGE);
#endif
    k = Kept{p, want};
  }
  return std::shared_ptr<std::byte>(static_cast<std::byte*>(k.addr),
                                    [k](std::byte*) { Release(k); });
}

int64_t KeptReadBufferBytes() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_kept.addr == nullptr ? 0 : static_cast<int64_t>(g_kept.len);
}

void DropKeptReadBuffer() {
  Kept old;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    old = std::exchange(g_kept, Kept{});
  }
  Unmap(old);
}

}  // namespace shmarray::client::internal
