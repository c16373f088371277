// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: local_catalog.h
// -----------------------------------------------------------------------------
// LocalCatalog: a Client's view of the daemon's catalog file
// (shm/catalog_file.h), so that attach() resolves a name with no RPC.
//
// Binding: the client does not guess where the file is. After an attach
// through Stat has mapped a segment "<dir>/<file>" (so the segments of this
// daemon are visible here), Learn() opens /dev/shm/<dir>/catalog and keeps
// it only if its record for that name carries the generation the daemon
// just reported: a catalog of another daemon (another container's /dev/shm
// with a directory of the same name) cannot match a random 64-bit
// generation. Learn() gives up after a few failed tries.
//
// Lookup() returns what the file says, fully validated (format parses,
// layout inside the data region); the caller maps the segment (which checks
// the generation in the segment header) and then asks StillCurrent(): true
// means the record was not rewritten meanwhile (not deleted, replaced or
// sealed), so the view it makes is of the array the name denotes now. A
// closed file (daemon stopped or restarted) is dropped.
//
// Thread-safety: thread-safe.

#ifndef SHMARRAY_CLIENT_SRC_LOCAL_CATALOG_H_
#define SHMARRAY_CLIENT_SRC_LOCAL_CATALOG_H_

#include <memory>
#include <mutex>
#include <string_view>

#include "shmarray/client/client.h"
#include "shmarray/shm/catalog_file.h"

namespace shmarray::client::internal {

class LocalCatalog {
 public:
  struct Found {
    ArrayInfo info;
    std::shared_ptr<const shm::CatalogFileReader> reader;
    shm::CatalogFileReader::Hit hit;
  };
  // True and *found when the bound catalog file has a valid entry for
  // `name`; false otherwise (no file yet, closed, absent, torn, invalid).
  bool Lookup(std::string_view name, Found* found);
  // True if found's record is unchanged and its file still live.
  static bool StillCurrent(const Found& found);
  // Binds to the catalog file of `desc`'s segment directory if not bound
  // yet (see the file comment). `desc` was just attached through Stat.
  void Learn(const ArrayInfo& desc);
  bool bound() const;

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const shm::CatalogFileReader> reader_;  // guarded by mu_
  int attempts_ = 0;                                      // guarded by mu_
};

}  // namespace shmarray::client::internal

#endif  // SHMARRAY_CLIENT_SRC_LOCAL_CATALOG_H_
