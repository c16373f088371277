// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: proc_maps.h
// -----------------------------------------------------------------------------
// Test helper: which mapping of this process holds an address, read from
// /proc/self/maps. Zero-copy tests use it to prove that a view points into
// the shared-memory segment itself (same physical pages), not into a copy:
//
//   EXPECT_EQ(MapsEntryOf(view.data()).path, "/dev/shm/" + info.segment_name);

#ifndef SHMARRAY_TESTS_TESTING_PROC_MAPS_H_
#define SHMARRAY_TESTS_TESTING_PROC_MAPS_H_

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

namespace shmarray::testing {

// The permissions ("rw-s") and the path of the /proc/self/maps line holding
// `p`; both empty when `p` is not mapped.
struct MapsEntry {
  std::string perms;
  std::string path;
};

inline MapsEntry MapsEntryOf(const void* p) {
  const auto addr = reinterpret_cast<uintptr_t>(p);
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    std::istringstream in(line);
    std::string range, perms, offset, dev, inode, path;
    in >> range >> perms >> offset >> dev >> inode;
    std::getline(in >> std::ws, path);
    const size_t dash = range.find('-');
    const uintptr_t lo = std::stoull(range.substr(0, dash), nullptr, 16);
    const uintptr_t hi = std::stoull(range.substr(dash + 1), nullptr, 16);
    if (addr >= lo && addr < hi) return {perms, path};
  }
  return {};
}

}  // namespace shmarray::testing

#endif  // SHMARRAY_TESTS_TESTING_PROC_MAPS_H_
