// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: catalog_publisher.h
// -----------------------------------------------------------------------------
// CatalogPublisher: keeps the catalog file (shm/catalog_file.h) of the
// daemon's segment directory in step with its Catalog, so that local clients
// resolve names without an RPC. Create() publishes every current entry; the
// catalog listener then calls OnEvent() for each created, sealed and deleted
// entry, under the catalog lock and in event order, so the file changes in
// the order the catalog does. A seal of an array also republishes its named
// views (they become read-only with it). Writes go to a mapping of the file
// (no blocking I/O); the file's contents are never read.
//
// Thread-safety: every method is thread-safe (one mutex).

#ifndef SHMARRAY_SERVER_SRC_CATALOG_PUBLISHER_H_
#define SHMARRAY_SERVER_SRC_CATALOG_PUBLISHER_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "shmarray/server/catalog.h"
#include "shmarray/shm/catalog_file.h"

namespace shmarray::server::internal {

class CatalogPublisher {
 public:
  // Publishes a new catalog file for `catalog` (in its prefix directory)
  // with the read bits of `mode`, holding every current entry. REQUIRES: no
  // catalog events until SetListener routes them to OnEvent (the daemon
  // calls this before it serves). Errors: those of CatalogFileWriter::Create.
  static absl::StatusOr<std::unique_ptr<CatalogPublisher>> Create(const Catalog& catalog,
                                                                  mode_t mode);

  void OnEvent(const CatalogEvent& event) ABSL_LOCKS_EXCLUDED(mu_);
  // Marks the file closed and removes it; later events are ignored.
  void Close() ABSL_LOCKS_EXCLUDED(mu_);
  // Entries in the file.
  size_t size() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void PutLocked(const CatalogEntry& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::unique_ptr<shm::CatalogFileWriter> writer_ ABSL_GUARDED_BY(mu_);
  // Named views by base array, to republish them when the base is sealed.
  std::map<std::string, std::map<std::string, CatalogEntry>> views_of_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shmarray::server::internal

#endif  // SHMARRAY_SERVER_SRC_CATALOG_PUBLISHER_H_
