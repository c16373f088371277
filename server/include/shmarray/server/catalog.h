// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: catalog.h
// -----------------------------------------------------------------------------
// Catalog: the daemon's map from user names to arrays and named views, backed
// by one POSIX shared-memory segment per entry (docs/architecture.md). An array owns a
// segment "<prefix>.<generation in hex>" holding a header page and its data;
// a named view owns a header-only segment (kind kView) naming its base
// array's generation and its layout over the base's data region.
//
// Names: 1-255 characters of [A-Za-z0-9._-] and '/', where '/' separates
// namespace components; no empty component, no "." or ".." component, no
// leading or trailing '/'.
//
// Generations are 64-bit and unique per incarnation of a name: a counter
// seeded with the wall clock in nanoseconds, and at least one more than the
// largest generation adopted at recovery, so they grow across restarts.
//
// Quotas: `max_arrays` bounds the number of entries (arrays + views);
// `max_bytes` bounds the total bytes of data regions. Exceeding either is
// kResourceExhausted naming the quota, its limit and the current use.
//
// Recovery (Open): every segment "<prefix>.<hex>" is opened; committed arrays
// and views are adopted, half-created (kCreating) or corrupt segments are
// unlinked, and views whose base generation is gone are unlinked too.
//
// Mappings: the catalog does not keep every array mapped. Map() opens the
// segment on demand and keeps a small LRU cache of segment handles; the
// AnyView it returns keeps its mapping alive on its own (AnyView::base()).
//
//   SHMARRAY_ASSIGN_OR_RETURN(auto catalog, Catalog::Open({.prefix = "shmarray.0.t1"}, nullptr));
//   SHMARRAY_ASSIGN_OR_RETURN(CatalogEntry e,
//       catalog->CreateArray("x", shm::Format::Parse("<i"),
//                            shm::Layout::Contiguous(4, {3, 4}, shm::Order::kC), nullptr));
//   SHMARRAY_ASSIGN_OR_RETURN(shm::AnyView v, catalog->Map(e, /*writable=*/true));
//
// Thread-safety: every method is thread-safe (one absl::Mutex guards the
// entries, another the mapping cache). Listeners are called with the catalog
// lock held, in event order, and must not call back into the catalog.

#ifndef SHMARRAY_SERVER_CATALOG_H_
#define SHMARRAY_SERVER_CATALOG_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "shmarray/shm/any_view.h"
#include "shmarray/shm/format.h"
#include "shmarray/shm/layout.h"
#include "shmarray/shm/segment.h"

namespace shmarray::server {

struct CatalogOptions {
  std::string prefix;              // segment OS-name prefix, e.g. "shmarray.1000.t1"
  int64_t max_bytes = 0;           // quota on data bytes; 0 = none
  int64_t max_arrays = 100000;     // quota on entries; <= 0 means 100000
  mode_t mode = 0600;              // file mode of new segments
  std::optional<gid_t> group;      // group of new segments (with --group)
  size_t mapping_cache_size = 32;  // segment handles kept open (LRU)
};

// A snapshot of one catalog entry. Plain value.
struct CatalogEntry {
  std::string name;
  shm::SegmentKind kind = shm::SegmentKind::kArray;
  uint64_t generation = 0;
  std::string segment_name;      // segment holding the data (the base's for a view)
  std::string own_segment_name;  // this entry's own segment (== segment_name for an array)
  shm::Format format;            // canonical
  shm::Layout layout;            // over the data region of segment_name
  bool readonly = false;         // sealed (for a view: its base is sealed)
  int64_t data_size_bytes = 0;   // bytes of the data region of segment_name
  std::string base;              // view only: the base array's name
  uint64_t base_generation = 0;  // view only: the base array's generation
  int64_t created_unix_ns = 0;

  // The generation the data segment's header carries (the base's for a view).
  uint64_t data_generation() const {
    return kind == shm::SegmentKind::kView ? base_generation : generation;
  }
};

enum class CatalogEventType { kCreated, kSealed, kDeleted };

struct CatalogEvent {
  CatalogEventType type;
  CatalogEntry entry;  // deleted: the entry's last description
  int64_t unix_ns = 0;
};

class Catalog {
 public:
  // Runs on the new array's data before it is committed (e.g. a fill or a
  // copy); a non-OK status aborts the creation.
  using Initializer = std::function<absl::Status(const shm::AnyView& data)>;
  using Listener = std::function<void(const CatalogEvent&)>;

  // Builds a catalog over the segments of `options.prefix`, recovering what a
  // previous instance left (see file comment). Appends one human-readable line
  // per recovery action to *actions when it is non-null.
  // Errors: kInvalidArgument for an empty prefix; kInternal if /dev/shm
  // cannot be listed. Individual bad segments are removed, not errors.
  static absl::StatusOr<std::unique_ptr<Catalog>> Open(CatalogOptions options,
                                                       std::vector<std::string>* actions);

  Catalog(const Catalog&) = delete;
  Catalog& operator=(const Catalog&) = delete;
  ~Catalog();

  // OK if `name` is a valid entry name (see file comment), else
  // kInvalidArgument saying what is wrong.
  static absl::Status ValidateName(std::string_view name);

  // Installs the listener of created/sealed/deleted events (replaces any).
  void SetListener(Listener listener) ABSL_LOCKS_EXCLUDED(mu_);

  // Creates array `name` with `format` (canonical) and `layout` (a fresh
  // contiguous layout with offset 0), reserving its memory up front. `init`
  // (may be empty) fills the new data (zeros otherwise) before it commits.
  // Errors: kInvalidArgument (bad name), kAlreadyExists, kResourceExhausted
  // (quota or /dev/shm full), whatever `init` returns, kInternal.
  absl::StatusOr<CatalogEntry> CreateArray(std::string_view name, const shm::Format& format,
                                           const shm::Layout& layout, const Initializer& init)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Registers named view `name` with `layout` over the data of `source` (an
  // array or a view; a view of a view refers to the underlying array).
  // REQUIRES: layout lies inside source.data_size_bytes.
  // Errors: kInvalidArgument (bad name), kAlreadyExists, kResourceExhausted,
  // kNotFound (the source's base is gone), kInternal.
  absl::StatusOr<CatalogEntry> CreateView(std::string_view name, const CatalogEntry& source,
                                          const shm::Layout& layout) ABSL_LOCKS_EXCLUDED(mu_);

  // The entry of `name`. Errors: kInvalidArgument (bad name), kNotFound
  // "no array named 'x'". Delete and Seal validate names the same way.
  absl::StatusOr<CatalogEntry> Lookup(std::string_view name) const ABSL_LOCKS_EXCLUDED(mu_);

  struct Page {
    std::vector<CatalogEntry> entries;  // sorted by name
    std::string next_token;             // empty on the last page
  };
  // Entries whose name starts with `prefix`, sorted, starting after
  // `page_token` ('>' + the last name of the previous page, as returned in
  // next_token; stable when entries are added or removed meanwhile). page_size 0 means 100,
  // larger than 1000 means 1000. Errors: kInvalidArgument for a negative
  // page_size or a token that is not a name under `prefix`.
  absl::StatusOr<Page> List(std::string_view prefix, int page_size,
                            std::string_view page_token) const ABSL_LOCKS_EXCLUDED(mu_);

  // Removes `name` and unlinks its segment; with `cascade`, also the named
  // views of an array. Returns the removed names (the entry first).
  // Errors: kNotFound; kFailedPrecondition naming the views when an array
  // has views and !cascade.
  absl::StatusOr<std::vector<std::string>> Delete(std::string_view name, bool cascade)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Makes array `name` read-only for good (Segment::Seal). Idempotent.
  // Errors: kNotFound; kFailedPrecondition for a named view; segment errors.
  absl::StatusOr<CatalogEntry> Seal(std::string_view name) ABSL_LOCKS_EXCLUDED(mu_);

  // A view of `entry`'s items in shared memory. The returned AnyView owns a
  // reference to the mapping (valid even after Delete). Read-only when the
  // entry is. Errors: kFailedPrecondition "array 'x' is read-only" when
  // `writable` and the entry is read-only; kNotFound when the segment is gone
  // (deleted meanwhile); kAborted when it was replaced; kInternal.
  absl::StatusOr<shm::AnyView> Map(const CatalogEntry& entry, bool writable)
      ABSL_LOCKS_EXCLUDED(cache_mu_);

  // The OS name of the segment of `generation`: "<prefix>.<hex>".
  std::string SegmentName(uint64_t generation) const;
  const std::string& prefix() const { return options_.prefix; }
  int64_t max_arrays() const { return options_.max_arrays; }

  size_t TEST_entry_count() const ABSL_LOCKS_EXCLUDED(mu_);
  int64_t TEST_bytes_in_use() const ABSL_LOCKS_EXCLUDED(mu_);
  size_t TEST_cached_mappings() const ABSL_LOCKS_EXCLUDED(cache_mu_);

 private:
  explicit Catalog(CatalogOptions options);
  absl::Status Recover(std::vector<std::string>* actions);
  absl::Status CheckQuotaLocked(std::string_view name, int64_t more_bytes) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  CatalogEntry SnapshotLocked(const CatalogEntry& e) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EmitLocked(CatalogEventType type, const CatalogEntry& entry)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RemoveLocked(const std::string& name, std::vector<std::string>* removed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ApplyGroup(const std::string& os_name) const;

  // Mapping cache.
  void CachePut(shm::Segment segment) ABSL_LOCKS_EXCLUDED(cache_mu_);
  void CacheEvict(const std::string& os_name) ABSL_LOCKS_EXCLUDED(cache_mu_);
  absl::Status SealSegment(const CatalogEntry& entry) ABSL_LOCKS_EXCLUDED(cache_mu_);

  const CatalogOptions options_;

  mutable absl::Mutex mu_;
  std::map<std::string, CatalogEntry, std::less<>> entries_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::set<std::string>, std::less<>> views_of_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t, std::less<>> pending_ ABSL_GUARDED_BY(mu_);  // name -> bytes
  int64_t bytes_in_use_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t pending_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_generation_ ABSL_GUARDED_BY(mu_) = 1;
  Listener listener_ ABSL_GUARDED_BY(mu_);

  mutable absl::Mutex cache_mu_;
  std::list<shm::Segment> lru_ ABSL_GUARDED_BY(cache_mu_);  // most recent first
  std::unordered_map<std::string, std::list<shm::Segment>::iterator> cache_index_
      ABSL_GUARDED_BY(cache_mu_);
};

// "(3,4)", "(5,)", "()": a shape as Python prints it, without spaces.
std::string ShapeString(const std::vector<int64_t>& shape);

}  // namespace shmarray::server

#endif  // SHMARRAY_SERVER_CATALOG_H_
