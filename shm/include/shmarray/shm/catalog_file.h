// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: catalog_file.h
// -----------------------------------------------------------------------------
// The catalog file: a read-only copy of the daemon's catalog (name -> segment,
// generation, format, layout, read-only flag) that the daemon publishes in
// shared memory, /dev/shm/<dir>/catalog, beside its segments. A local client
// maps it once and resolves a name with no RPC (docs/architecture.md,
// "Attach without a round trip").
//
// Layout of the file (all integers native little-endian, fixed width):
//   [0, 4096)            CatalogFileHeader (magic "SHMACAT1", version,
//                        sizes and offsets of the two regions below, state)
//   [index_offset, ...)  index_slots 64-bit words, an open-addressing table
//                        (linear probing) over FNV-1a 64 of the name: 0 =
//                        empty, kCatalogTombstone = deleted, else
//                        (tag << 32) | (record + 1), tag = the hash's top 32 bits
//   [records_offset,...) record_capacity CatalogRecords, allocated densely
//                        (so the file's touched pages grow with the entries)
//
// Every record has a sequence word (a seqlock): the daemon makes it odd,
// rewrites the record, then makes it even again. A reader copies a record
// between two reads of the word and keeps the copy only if both reads are
// the same even value, so it never sees a torn record. The word only grows,
// so a record freed and reused for another name is never mistaken for the
// old one: Unchanged() tells whether the entry a reader found is still
// current (the client asks again after it has mapped the segment).
//
// Only the daemon writes the file (CatalogFileWriter), and it never reads
// it: it writes from its own state, so a corrupt file cannot mislead it.
// The reader (CatalogFileReader) trusts nothing it reads: every length,
// offset and string is bounds checked, a record must hold the NUL-terminated
// name asked for, and anything odd is a miss (the client then asks the
// daemon with a Stat RPC). A miss is never authoritative: the file may lack
// an entry (full, a format longer than a record holds, a rebuild of the
// index in progress).
//
// Who may read it: the file has the segments' mode without write bits (0400,
// or 0440 with the daemon's --group) in the daemon's private directory, so
// exactly who may open the segments may read it; it reveals the names,
// formats, shapes and generations of the arrays, which those processes can
// get with List anyway.
//
// Lifetime: on start the daemon marks an old file closed (state word), then
// publishes a new one with rename(2); on a graceful stop it marks its file
// closed and removes it. A reader seeing kCatalogClosed drops its mapping.
//
// Thread-safety: CatalogFileWriter is not synchronised (the daemon calls it
// under its catalog lock). CatalogFileReader is immutable after Open and
// thread-safe.

#ifndef SHMARRAY_SHM_CATALOG_FILE_H_
#define SHMARRAY_SHM_CATALOG_FILE_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "shmarray/shm/layout.h"
#include "shmarray/shm/segment.h"

namespace shmarray::shm {

// The file name of the catalog file in the daemon's segment directory (not a
// hex number, so it never collides with a segment).
inline constexpr char kCatalogFileName[] = "catalog";

namespace internal {

inline constexpr char kCatalogMagic[8] = {'S', 'H', 'M', 'A', 'C', 'A', 'T', '1'};
inline constexpr uint32_t kCatalogVersion = 1;
inline constexpr uint64_t kCatalogLive = 1;
inline constexpr uint64_t kCatalogClosed = 2;
inline constexpr uint64_t kCatalogTombstone = 0xFFFFFFFFull;
inline constexpr size_t kCatalogSegmentBytes = 64;  // file name + NUL
inline constexpr size_t kCatalogFormatBytes = 512;  // canonical format + NUL
inline constexpr uint32_t kCatalogMaxRecords = 1u << 20;
// A reader gives up a probe sequence after this many slots (a miss).
inline constexpr uint32_t kCatalogMaxProbes = 128;

// At byte 0 of the file. `state` is written atomically (8-byte aligned).
struct CatalogFileHeader {
  char magic[8];
  uint32_t version;
  uint32_t header_bytes;  // 4096
  uint32_t record_bytes;  // sizeof(CatalogRecord)
  uint32_t record_capacity;
  uint32_t index_slots;  // a power of two
  uint32_t reserved;
  uint64_t index_offset;    // bytes from the start of the file
  uint64_t records_offset;  // bytes from the start of the file
  uint64_t file_bytes;      // the size the daemon gave the file
  uint64_t state;           // kCatalogLive or kCatalogClosed
};

// One entry. Strings are NUL-terminated and also carry their length.
struct CatalogRecord {
  uint64_t seq;              // odd while the daemon rewrites the record
  uint32_t live;             // 1 = holds an entry, 0 = free
  uint32_t kind;             // SegmentKind
  uint64_t generation;       // the entry's
  uint64_t data_generation;  // the data segment's (a view: its base's)
  int64_t data_size_bytes;   // of the data segment's data region
  int64_t created_unix_ns;
  int64_t itemsize;
  int64_t offset;  // layout offset in the data region
  uint32_t readonly;
  uint32_t ndim;
  uint32_t name_length;
  uint32_t base_name_length;
  uint32_t segment_length;
  uint32_t format_length;
  char name[kMaxNameLength + 1];
  char base_name[kMaxNameLength + 1];
  char segment[kCatalogSegmentBytes];  // the data segment's file name in the directory
  char format[kCatalogFormatBytes];
  int64_t shape[kMaxDims];
  int64_t strides[kMaxDims];  // bytes
};

uint64_t CatalogNameHash(std::string_view name);

}  // namespace internal

// What the catalog file says about one name.
struct CatalogFileEntry {
  std::string name;
  SegmentKind kind = SegmentKind::kArray;
  uint64_t generation = 0;
  uint64_t data_generation = 0;  // generation in the data segment's header
  std::string segment;           // the data segment's file name in the directory
  std::string format;            // canonical PEP 3118 format
  Layout layout;                 // over the data region of `segment`
  bool readonly = false;
  int64_t data_size_bytes = 0;
  std::string base_name;  // a view's base array
  int64_t created_unix_ns = 0;
};

// The daemon's side, held by pointer (not copyable); closes the file on
// destruction.
class CatalogFileWriter {
 public:
  // Publishes a new, empty catalog file /dev/shm/<dir>/catalog holding up to
  // `capacity` entries (at most internal::kCatalogMaxRecords), with file mode
  // `mode` & 0444: an old file of that name is marked closed first (without
  // reading it), and the new one replaces it with rename(2). The directory
  // must exist (Segment::PrepareDirectory). Errors: kInvalidArgument (bad
  // dir, capacity 0); the OS errors of open/ftruncate/mmap/rename.
  static absl::StatusOr<std::unique_ptr<CatalogFileWriter>> Create(std::string_view dir,
                                                                   uint32_t capacity, mode_t mode);
  CatalogFileWriter(const CatalogFileWriter&) = delete;
  CatalogFileWriter& operator=(const CatalogFileWriter&) = delete;
  ~CatalogFileWriter();

  // Adds or replaces the entry of `e.name`. Returns false (and removes any
  // older record of the name) when it cannot be stored: the file is full, a
  // string or ndim exceeds a record, or /dev/shm has no room for another
  // page of records (space is reserved with fallocate ahead of use, so a full
  // /dev/shm never faults). Readers then miss it and ask the daemon. If the
  // file was truncated under the mapping (by a process of the daemon's uid),
  // the writer closes it: readers drop it and ask the daemon.
  bool Put(const CatalogFileEntry& e);
  // Removes the entry of `name` (nothing if there is none).
  void Remove(std::string_view name);
  // Marks the file closed and removes its name (if it still names this
  // file). Idempotent; Put/Remove do nothing afterwards.
  void Close();

  size_t size() const { return by_name_.size(); }
  const std::string& path() const { return path_; }

 private:
  CatalogFileWriter() = default;
  void WriteRecord(uint32_t record, const internal::CatalogRecord& value);
  void InsertSlot(uint64_t hash, uint32_t record);
  void RebuildIndex();
  void StoreSlot(uint32_t slot, uint64_t value);

  // Reserves the file's pages up to byte `end` (fallocate, 1 MiB steps).
  bool Reserve(uint64_t end);
  // Closes the file if a write faulted (the file was truncated).
  void CheckFaulted();

  std::string path_;
  int fd_ = -1;            // kept for fallocate
  uint64_t reserved_ = 0;  // bytes of the file reserved so far
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  std::shared_ptr<const void> mapping_;
  std::byte* base_ = nullptr;
  internal::CatalogFileHeader header_{};
  bool closed_ = false;
  std::unordered_map<std::string, uint32_t> by_name_;
  std::vector<uint64_t> seq_;    // per record, the daemon's own copy
  std::vector<uint64_t> slots_;  // the index as written
  std::vector<uint32_t> free_;   // free records, lowest last
  size_t tombstones_ = 0;
};

// The client's side: a read-only mapping of one catalog file.
class CatalogFileReader {
 public:
  // Opens and maps /dev/shm/<dir>/catalog read-only (O_NOFOLLOW, regular
  // files only, owned by the directory's owner, no write bit for group or
  // others) and validates its header against the file's size.
  // Errors: kInvalidArgument (bad dir), kNotFound / kPermissionDenied from
  // the OS, kFailedPrecondition (not a regular file, foreign owner, writable
  // mode, closed), kDataLoss (a header that does not describe the file).
  static absl::StatusOr<std::unique_ptr<CatalogFileReader>> Open(std::string_view dir);

  // A consistent, validated record for `name` and the token that
  // Unchanged() checks.
  struct Hit {
    CatalogFileEntry entry;
    uint32_t record = 0;
    uint64_t seq = 0;
  };
  // True and *hit when the file has a valid record for `name`; false for a
  // miss (absent, closed, invalid, or still torn after a few retries).
  // Never throws, whatever the file holds. Thread-safe.
  bool Lookup(std::string_view name, Hit* hit) const;
  // True if the record of `hit` is still exactly what Lookup copied and the
  // file is still live. Thread-safe.
  bool Unchanged(const Hit& hit) const;
  // True once the daemon has marked the file closed.
  bool closed() const;
  const std::string& dir() const { return dir_; }

 private:
  CatalogFileReader() = default;
  std::string dir_;
  std::shared_ptr<const void> mapping_;
  const std::byte* base_ = nullptr;
  internal::CatalogFileHeader header_{};  // validated copy
};

}  // namespace shmarray::shm

#endif  // SHMARRAY_SHM_CATALOG_FILE_H_
