// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: catalog.h
// -----------------------------------------------------------------------------
// Catalog: the daemon's map from user names to arrays and named views, backed
// by one segment file per entry on the shared-memory tmpfs
// (docs/architecture.md). An array owns a
// segment "<prefix>/<generation in hex>" (in the daemon's private directory
// /dev/shm/<prefix>) holding a header page and its data; a named view owns a
// header-only segment (kind kView) naming its base array's generation and its
// layout over the base's data region.
//
// Names are shm::ArrayName's (shmarray/shm/array_name.h): 1-255 characters of
// [A-Za-z0-9._-] and '/', where '/' separates namespace components. Every
// function taking a name checks it there first and answers kInvalidArgument
// with its message.
//
// Generations are 64-bit, random (getrandom), never 0: unique per
// incarnation of a name and not predictable, so nobody can prepare the name
// of a future segment. A segment name that exists already (whoever made it)
// is retried with a new generation; it is never reported as the user's name
// being taken.
//
// Quotas: `max_arrays` bounds the number of entries (arrays + views);
// `max_bytes` bounds the total bytes of data regions. Exceeding either is
// kResourceExhausted naming the quota, its limit and the current use.
//
// Recovery (Open): the private directory is created or checked
// (shm::Segment::PrepareDirectory), then every file in it is looked at. Only
// files the daemon could have made are adopted or removed: regular files (not
// symlinks) owned by the daemon's uid whose mode has no bit outside 0660. Anything else is logged
// and left alone, and never displaces a legitimate segment. Of the daemon's own files, committed
// arrays and views are adopted; half-created (kCreating) or corrupt ones are unlinked, and so are
// views whose base generation is gone. Two arrays of one name (which only a crash in the middle of
// a replacement could leave) keep the newer by creation time.
//
// Seal: Seal first closes the array's write gate (new writes through
// BeginWrite fail), waits for writes in flight to finish, then changes the
// segment; once Seal returns OK, no byte written through BeginWrite lands.
// A sealed array whose segment was made writable again afterwards (chmod by
// the daemon's uid or root) is reported as tampered: Lookup succeeds, but
// CheckSeal, Map and Stat fail with kDataLoss.
//
// Truncation: if another process shrinks a segment while the daemon copies to
// or from it (and shm::InstallSegmentFaultHandler is installed), CheckIntact
// turns the recorded fault into kDataLoss for that request and drops the
// damaged mapping.
//
// Locking: the catalog lock guards only in-memory state. Segment I/O (create,
// fallocate, mmap/munmap, unlink, fchmod) and log lines happen after it is
// released (leveldb's RemoveObsoleteFiles pattern); a Stat never waits for a
// Delete's munmap of a large array.
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
// entries, another the mapping cache, one per array its writes). Listeners
// are called with the catalog lock held, in event order, and must not call
// back into the catalog or block.

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
  std::string prefix;              // the private directory in /dev/shm, e.g. "shmarray.1000.t1"
  int64_t max_bytes = 0;           // quota on data bytes; 0 = none
  int64_t max_arrays = 100000;     // quota on entries; <= 0 means 100000
  mode_t mode = 0600;              // file mode of new segments (0600, or 0660 with a group)
  std::optional<gid_t> group;      // group of the directory and segments (with --group)
  size_t mapping_cache_size = 32;  // segment handles kept open (LRU)
};

// A snapshot of one catalog entry. Plain value.
struct CatalogEntry {
  std::string name;
  shm::SegmentKind kind = shm::SegmentKind::kArray;
  uint64_t generation = 0;
  std::string segment_name;  // segment holding the data (the base's for a view), "<prefix>/<hex>"
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

  // Builds a catalog over the segments of the directory /dev/shm/<prefix>,
  // creating it or checking it first, and recovering what a previous instance
  // left (see file comment). The catalog holds an exclusive lock on the
  // directory for its lifetime (shm::DirectoryLock): a second catalog over the
  // same directory, in this process or another, fails before it changes or
  // removes anything. Appends one human-readable line per recovery action to
  // *actions when it is non-null.
  // Errors: kInvalidArgument for an empty or invalid prefix;
  // kFailedPrecondition when /dev/shm/<prefix> exists but is not the
  // daemon's directory (another owner, a symlink, a file) or another catalog
  // holds it (the message names its pid when the system tells it); kInternal
  // if it cannot be listed. Individual bad segments are removed or skipped,
  // not errors.
  static absl::StatusOr<std::unique_ptr<Catalog>> Open(CatalogOptions options,
                                                       std::vector<std::string>* actions);

  Catalog(const Catalog&) = delete;
  Catalog& operator=(const Catalog&) = delete;
  ~Catalog();

  // Installs the listener of created/sealed/deleted events (replaces any).
  void SetListener(Listener listener) ABSL_LOCKS_EXCLUDED(mu_);

  // Creates array `name` with `format` (canonical) and `layout` (a fresh
  // contiguous layout with offset 0), reserving its memory up front. `init`
  // (may be empty) fills the new data (zeros otherwise) before it commits.
  // Errors: kInvalidArgument (bad name), kAlreadyExists (the name is
  // taken), kResourceExhausted (quota or /dev/shm full), kDataLoss (the new
  // segment was truncated by another process during `init`), whatever `init`
  // returns, kInternal.
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

  // Makes array `name` read-only for good (Segment::Seal): closes its write
  // gate, waits for the writes in flight through BeginWrite (each is one
  // chunk or one copy), then seals the segment. Idempotent.
  // Errors: kNotFound (also when deleted meanwhile); kFailedPrecondition for
  // a named view; segment errors (the gate then opens again).
  absl::StatusOr<CatalogEntry> Seal(std::string_view name) ABSL_LOCKS_EXCLUDED(mu_);

  // Permission to write into one array's memory, from BeginWrite. Cheap to
  // copy. Thread-safe.
  class WriteTicket {
   public:
    // Runs `write` (which writes into the array's mapped memory) unless the
    // array has been sealed meanwhile; a Seal waits until `write` returns.
    // Errors: kFailedPrecondition "cannot write to 'x': it was sealed during
    // the write" (and `write` does not run); whatever `write` returns.
    absl::Status Run(const std::function<absl::Status()>& write) const;

   private:
    friend class Catalog;
    struct Gate;
    std::shared_ptr<Gate> gate_;
    std::string name_;
  };
  // A ticket for writing into `entry`'s memory (an array, or the base array
  // of a named view). Errors: kFailedPrecondition "cannot write to 'x': it is
  // read-only (sealed)"; kNotFound when the array was deleted or replaced.
  absl::StatusOr<WriteTicket> BeginWrite(const CatalogEntry& entry) const ABSL_LOCKS_EXCLUDED(mu_);

  // OK unless `entry` is sealed and its data segment was made writable again
  // after the seal (or is gone): then kDataLoss "array 'x' was sealed, but
  // its segment ... is writable again (mode 0640) ...", or kNotFound. Costs
  // one stat(2) for a sealed entry, nothing otherwise.
  absl::Status CheckSeal(const CatalogEntry& entry) const;

  // OK unless an access to `view`'s memory (from Map(entry)) faulted because
  // the segment was truncated by another process; then the damaged mapping
  // is dropped from the cache and the result is kDataLoss naming the entry.
  absl::Status CheckIntact(const CatalogEntry& entry, const shm::AnyView& view)
      ABSL_LOCKS_EXCLUDED(cache_mu_);

  // A view of `entry`'s items in shared memory. The returned AnyView owns a
  // reference to the mapping (valid even after Delete). Read-only when the
  // entry is. Errors: kFailedPrecondition "array 'x' is read-only" when
  // `writable` and the entry is read-only; kNotFound when the segment is gone
  // (deleted meanwhile); kAborted when it was replaced; kDataLoss when it is
  // damaged (truncated, bad header) or a sealed entry was tampered with
  // (CheckSeal); kInternal.
  absl::StatusOr<shm::AnyView> Map(const CatalogEntry& entry, bool writable)
      ABSL_LOCKS_EXCLUDED(cache_mu_);

  // The OS name of the segment of `generation`: "<prefix>/<hex>".
  std::string SegmentName(uint64_t generation) const;
  const std::string& prefix() const { return options_.prefix; }
  int64_t max_arrays() const { return options_.max_arrays; }

  size_t TEST_entry_count() const ABSL_LOCKS_EXCLUDED(mu_);
  int64_t TEST_bytes_in_use() const ABSL_LOCKS_EXCLUDED(mu_);
  size_t TEST_cached_mappings() const ABSL_LOCKS_EXCLUDED(cache_mu_);
  // The generations the next creations draw, in order, before random ones.
  void TEST_SetNextGenerations(std::vector<uint64_t> generations) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  explicit Catalog(CatalogOptions options);
  absl::Status Recover(std::vector<std::string>* actions);
  absl::Status CheckQuotaLocked(std::string_view name, int64_t more_bytes) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  CatalogEntry SnapshotLocked(const CatalogEntry& e) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EmitLocked(CatalogEventType type, const CatalogEntry& entry)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Erases `name` from the maps (and its gate), emits the event and appends
  // the entry to *removed; the segment is left for the caller to unlink.
  void RemoveLocked(const std::string& name, std::vector<CatalogEntry>* removed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint64_t NewGenerationLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Creates the segment of `meta` (its generation is drawn here, retried on a
  // name that exists), with `mode`. Sets meta->generation.
  absl::StatusOr<shm::Segment> CreateSegment(shm::SegmentMeta* meta) ABSL_LOCKS_EXCLUDED(mu_);

  // Mapping cache. Segments dropped from it are destroyed (munmap) after
  // cache_mu_ is released.
  void CachePut(shm::Segment segment) ABSL_LOCKS_EXCLUDED(cache_mu_);
  void CacheEvict(const std::string& os_name) ABSL_LOCKS_EXCLUDED(cache_mu_);
  absl::Status SealSegment(const CatalogEntry& entry);

  const CatalogOptions options_;
  shm::DirectoryLock dir_lock_;  // on /dev/shm/<prefix>, taken by Recover

  mutable absl::Mutex mu_;
  std::map<std::string, CatalogEntry, std::less<>> entries_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::set<std::string>, std::less<>> views_of_ ABSL_GUARDED_BY(mu_);
  // Write gates of the arrays (not views), by name.
  std::map<std::string, std::shared_ptr<WriteTicket::Gate>, std::less<>> gates_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t, std::less<>> pending_ ABSL_GUARDED_BY(mu_);  // name -> bytes
  int64_t bytes_in_use_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t pending_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<uint64_t> test_generations_ ABSL_GUARDED_BY(mu_);
  Listener listener_ ABSL_GUARDED_BY(mu_);

  mutable absl::Mutex cache_mu_;
  std::list<shm::Segment> lru_ ABSL_GUARDED_BY(cache_mu_);  // most recent first
  std::unordered_map<std::string, std::list<shm::Segment>::iterator> cache_index_
      ABSL_GUARDED_BY(cache_mu_);
};

}  // namespace shmarray::server

#endif  // SHMARRAY_SERVER_CATALOG_H_
