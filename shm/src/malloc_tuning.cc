// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0

#include "shmarray/shm/malloc_tuning.h"

#include <cstdlib>  // defines __GLIBC__ on glibc

#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace shmarray::shm {

bool TuneMallocForStreaming() {
#ifdef __GLIBC__
  static const bool tuned = mallopt(M_MMAP_THRESHOLD, kStreamingMmapThreshold) == 1 &&
                            mallopt(M_TRIM_THRESHOLD, kStreamingTrimThreshold) == 1;
  return tuned;
#else
  return false;
#endif
}

}  // namespace shmarray::shm
