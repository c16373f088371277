// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: segment.h
// -----------------------------------------------------------------------------
// Segment: one file on the shared-memory tmpfs (/dev/shm) that holds one array
// (or, for a named view, only a header), mapped with mmap(2).
//
// Where segments live. The daemon keeps its segments in a private directory
// /dev/shm/<dir> that it creates and checks at start (PrepareDirectory): owned
// by its uid, mode 0700, or 02750 with the group of `--group` (members may
// enter and open files; nobody else may create, rename or remove anything in
// it). A segment's OS name is then "<dir>/<file>", and its path is
// "/dev/shm/<dir>/<file>": this is what ArrayInfo.segment_name carries and
// what clients map. A bare "<file>" (directly in /dev/shm, like a POSIX
// shm_open name) is accepted too, for tools and tests.
//
// Layout of the file: bytes [0, 4096) are a fixed, versioned header page
// (magic, version, state creating/committed, kind, generation, user name,
// canonical format, layout, read-only flag, data size, base generation for a
// view, creation time, checksum); the data region starts at byte 4096
// (kDataOffset), so it is page aligned. Clients map only the data region and
// never write the header.
//
// Creation is crash-safe: Create() writes the header with state kCreating,
// reserves the data bytes up front (fallocate on the tmpfs file, so a full
// /dev/shm is a clean kResourceExhausted, never a later SIGBUS), and only
// Commit() flips the state to kCommitted. Recovery (Segment::List + Open)
// ignores or removes segments that never committed.
//
//   SHMARRAY_RETURN_IF_ERROR(Segment::PrepareDirectory("shmarray.0", std::nullopt).status());
//   SHMARRAY_ASSIGN_OR_RETURN(Segment seg, Segment::Create("shmarray.0/1f", meta, 0600));
//   std::memset(seg.data(), 0, seg.data_size_bytes());
//   SHMARRAY_RETURN_IF_ERROR(seg.Commit());
//   SHMARRAY_ASSIGN_OR_RETURN(Segment ro,
//                             Segment::Open("shmarray.0/1f", Segment::Access::kReadOnly));
//
// Seal and permissions: Seal() drops every write bit of the file's mode, so a
// later open for writing by anyone but root fails. What that guarantees:
// against a process of another uid (e.g. a client in --group), the seal holds:
// it can neither open the file for writing nor chmod it back nor truncate it.
// The file's owner (the daemon's uid) may chmod it back (POSIX), root ignores
// modes, and writable mappings that existed before the seal stay writable:
// they cannot be revoked.
//
// A crash between creating the file and writing its header leaves a file that
// Open() reports as kDataLoss (too small, or a zero header); recovery should
// remove such files as well as kCreating ones.
//
// Hostile files: every open uses O_NOFOLLOW (a symlink is refused) and
// O_NONBLOCK, and refuses anything but a regular file; headers are read with
// pread and fully validated (a bad one is kDataLoss, never a crash). Seal
// rewrites a header in place while clients may read it: it stores only the
// read-only flag and then the checksum, and a reader that finds the checksum
// matching the header with that flag flipped takes it as it was just before
// (or after) the seal; any other checksum mismatch is read again for up to
// 100 ms before it is reported. Owner and mode are reported (owner_uid(),
// file_mode()) so that recovery can refuse files the daemon did not make.
//
// Unmapping: a mapping goes with one munmap when its last owner goes, which
// costs what its populated pages cost (an untouched mapping of any size is
// unmapped in microseconds). A process may ask for steps instead
// (SetUnmapStepBytes): the daemon does, see there.
//
// Truncation (SIGBUS). A process that may open a segment for writing can
// ftruncate it under every mapping; touching the lost pages then raises
// SIGBUS, which kills the process that touches them. A process that must
// survive this (the daemon) calls InstallSegmentFaultHandler() once: a SIGBUS
// inside a mapping made by this file is then recorded for that mapping, the
// mapping's pages from the faulting one to its end are replaced by private
// zero pages, and the access completes. Code that copies to or from a mapping
// asks SegmentFaulted() afterwards and fails that one request. Faults anywhere
// else behave as before (the previous handler runs, or the process dies).
//
// Thread-safety: a Segment is a move-only handle; distinct handles may be used
// from different threads; one handle is not synchronised. The free functions
// are thread-safe. The bytes of the data region are not synchronised.

#ifndef SHMARRAY_SHM_SEGMENT_H_
#define SHMARRAY_SHM_SEGMENT_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "shmarray/shm/array_name.h"
#include "shmarray/shm/layout.h"

namespace shmarray::shm {

// Bytes before the data region; the header page.
inline constexpr int64_t kDataOffset = 4096;
// Longest canonical format stored in a header.
inline constexpr size_t kMaxStoredFormatLength = 2048;

enum class SegmentKind : uint32_t { kArray = 1, kView = 2 };
enum class SegmentState : uint32_t { kCreating = 1, kCommitted = 2 };

namespace internal {

// The header stored at byte 0 of every segment (the rest of the 4096-byte
// header page is zero; static_asserts in segment.cc). Standard layout,
// trivially copyable, no padding, fixed-width little-endian integers (the
// header is host-local), no pointers. Strings are length + bytes (not NUL
// terminated; unused bytes are zero). `checksum` is FNV-1a 64 over the whole
// struct with `checksum` set to 0. Exposed for tests and tools; use Segment.
struct SegmentHeader {
  char magic[8];      // kSegmentMagic, no NUL
  uint32_t version;   // kSegmentVersion
  uint32_t state;     // SegmentState
  uint32_t kind;      // SegmentKind
  uint32_t readonly;  // 0 or 1
  uint64_t generation;
  uint64_t base_generation;  // kView only
  int64_t created_unix_ns;
  int64_t data_size_bytes;  // the object is kDataOffset + this many bytes
  int64_t itemsize;
  int64_t offset;             // byte offset of item [0,...,0] in the data region
  uint32_t ndim;              // <= kMaxDims
  uint32_t name_length;       // <= kMaxNameLength
  uint32_t format_length;     // <= kMaxStoredFormatLength
  uint32_t base_name_length;  // <= kMaxNameLength
  int64_t shape[kMaxDims];    // entries >= ndim are 0
  int64_t strides[kMaxDims];  // bytes; entries >= ndim are 0
  char name[kMaxNameLength + 1];
  char base_name[kMaxNameLength + 1];
  char format[kMaxStoredFormatLength];
  uint64_t checksum;
};

inline constexpr char kSegmentMagic[8] = {'S', 'H', 'M', 'A', 'R', 'R', 'A', 'Y'};
inline constexpr uint32_t kSegmentVersion = 1;

// FNV-1a 64 of `header` with its checksum field taken as 0.
uint64_t SegmentHeaderChecksum(const SegmentHeader& header);

}  // namespace internal

// What a header records. For a kView segment, `layout` is the view's layout
// over the base's data region, data_size_bytes is 0, and base_generation
// names the base array's incarnation.
struct SegmentMeta {
  SegmentKind kind = SegmentKind::kArray;
  uint64_t generation = 0;  // unique per incarnation of a name
  std::string name;         // the user's name, <= kMaxNameLength
  std::string format;       // canonical PEP 3118 format, <= kMaxStoredFormatLength
  Layout layout;            // itemsize, shape, byte strides, byte offset in the data region
  bool readonly = false;
  int64_t data_size_bytes = 0;   // size of the data region (0 for a view)
  uint64_t base_generation = 0;  // kView only: generation of the base array
  std::string base_name;         // kView only: the base array's user name
  int64_t created_unix_ns = 0;   // creation time, ns since the Unix epoch
  SegmentState state = SegmentState::kCreating;
};

namespace internal {

// The header codec that Segment uses, exposed for tests and the fuzzer.
// DecodeSegmentHeader validates `header` as read from an object of
// `object_size` bytes (as Open does: magic, version, checksum, enums,
// lengths, layout, size) and fills *meta; it returns the reason when the
// header is bad (empty on success, *meta untouched on failure). Never throws
// for any bytes. EncodeSegmentHeader stores `meta` with a fresh checksum, or
// returns the reason it cannot be stored (as Create checks it).
std::string DecodeSegmentHeader(const SegmentHeader& header, int64_t object_size,
                                SegmentMeta* meta);
std::string EncodeSegmentHeader(const SegmentMeta& meta, SegmentHeader* header);

}  // namespace internal

// The exclusive lock (flock(2)) that Segment::PrepareDirectory takes on a
// segment directory when asked: one process at a time owns a directory. The
// lock goes when this object is destroyed or reset, or when the process ends,
// however it ends (the kernel drops it with the descriptor). Move-only.
class DirectoryLock {
 public:
  DirectoryLock() = default;
  DirectoryLock(DirectoryLock&& other) noexcept;
  DirectoryLock& operator=(DirectoryLock&& other) noexcept;
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;
  ~DirectoryLock();

  bool held() const { return fd_ >= 0; }
  void reset();  // releases the lock now (nothing when not held)

 private:
  friend class Segment;
  explicit DirectoryLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

class Segment {
 public:
  enum class Access { kReadOnly, kReadWrite };

  // OS names: "<dir>/<file>" (a file in the directory /dev/shm/<dir>) or a
  // bare "<file>" (directly in /dev/shm). Each component is 1-255 of
  // [A-Za-z0-9._-] and not "." or "..". Anything else is kInvalidArgument
  // ("invalid segment name ...") in every function below.

  // Creates the private directory /dev/shm/<dir> (one component) if it does
  // not exist, owned by this process's effective uid, with mode 0700, or
  // 02750 and group `group` when `group` is set (new files inherit the
  // group). If it exists, it must be a real directory (not a symlink) owned
  // by this process's effective uid; a different mode or group is corrected.
  // Returns what was done, for a log line ("" when nothing was).
  // With `lock`, the directory is first locked exclusively for this process
  // (*lock holds it on success) and nothing is changed when another process
  // holds it: kFailedPrecondition naming that process's pid when /proc/locks
  // tells it. The daemon takes it, so that a second daemon for the same
  // directory stops before it touches anything of the first one's.
  // Errors: kInvalidArgument (bad name); kFailedPrecondition when the path
  // exists but is not a directory, is a symlink, or belongs to another uid
  // (the message names the owner: someone else made it; only root can
  // remove it), or is locked by another process; kPermissionDenied /
  // kInternal from the OS.
  static absl::StatusOr<std::string> PrepareDirectory(std::string_view dir,
                                                      std::optional<gid_t> group,
                                                      DirectoryLock* lock = nullptr);

  // Creates the file `os_name` (exclusively: O_CREAT|O_EXCL|O_NOFOLLOW) with
  // file mode exactly `mode` & 0777 (the umask does not apply), sized
  // kDataOffset + meta.data_size_bytes, the whole size reserved with fallocate
  // (the data bytes are zero), and the header written from `meta` with state
  // kCreating (meta.state and meta.readonly are taken as given, except that
  // state is always stored as kCreating). Returns the read-write handle.
  // REQUIRES for `meta` (else kInvalidArgument): strings within their limits,
  // data_size_bytes >= 0, a well-formed layout of at most kMaxDims axes that,
  // for kArray, lies inside [0, data_size_bytes).
  // Errors: kInvalidArgument (bad os_name or meta), kAlreadyExists (the name
  // exists, whoever made it), kNotFound (the directory does not exist),
  // kResourceExhausted (not enough space: "not enough shared memory in
  // /dev/shm for array 'x': need N bytes, M free"), kPermissionDenied,
  // kDataLoss (another process truncated the new file while its header was
  // written; needs InstallSegmentFaultHandler), kInternal for other OS
  // errors. On error nothing is left behind.
  static absl::StatusOr<Segment> Create(std::string_view os_name, const SegmentMeta& meta,
                                        mode_t mode);

  // Opens an existing file and validates its header: magic, version,
  // checksum, enum values, string lengths, that the file is exactly
  // kDataOffset + data size bytes, and that the layout lies inside the data
  // region (for a kView only that it is well formed). Half-created (kCreating)
  // segments open fine; see meta().state. kReadOnly maps everything
  // PROT_READ; kReadWrite maps everything writable.
  // Errors: kInvalidArgument (bad os_name), kNotFound, kPermissionDenied (e.g.
  // kReadWrite on a sealed file, for a non-root user), kFailedPrecondition
  // (a symlink or not a regular file), kDataLoss (the message says what is
  // wrong with the header or size), kInternal.
  static absl::StatusOr<Segment> Open(std::string_view os_name, Access access);

  // Removes the name `os_name`; the name is free for Create at once. Mappings
  // already held (in any process) stay valid until unmapped (POSIX).
  // Errors: kInvalidArgument (bad os_name), kNotFound, kPermissionDenied,
  // kInternal.
  static absl::Status Unlink(std::string_view os_name);

  // OS names "<dir>/<file>" of the entries of the directory /dev/shm/<dir>
  // (one component), sorted; empty when the directory does not exist.
  // Errors: kInvalidArgument (bad name), kInternal if it cannot be read.
  static absl::StatusOr<std::vector<std::string>> List(std::string_view dir);

  Segment(Segment&&) noexcept;
  Segment& operator=(Segment&&) noexcept;
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;
  ~Segment();  // drops this handle's reference to the mapping; never unlinks

  // Marks the header committed (state kCommitted, new checksum) and updates
  // meta().state. Idempotent. Writes that precede Commit() in this thread are
  // ordered before the state change.
  // Errors: kFailedPrecondition for a read-only (or moved-from) handle;
  // kDataLoss if the file was truncated under the mapping (needs
  // InstallSegmentFaultHandler).
  absl::Status Commit();

  // Sets the header's read-only flag (new checksum; meta().readonly) and
  // removes every write bit from the file's mode (0660 -> 0440), so a later
  // open for writing by a non-root user fails (see the file comment for what
  // that guarantees against whom). Existing writable mappings (this handle's
  // included) stay writable: they cannot be revoked. Idempotent.
  // Errors: kFailedPrecondition for a read-only (or moved-from) handle;
  // kNotFound if the name was unlinked or now names another file;
  // kPermissionDenied / kInternal from fchmod; kDataLoss as Commit.
  absl::Status Seal();

  // The header as read at Open (or written at Create), updated by Commit and
  // Seal of this handle only.
  const SegmentMeta& meta() const { return meta_; }
  const std::string& os_name() const { return os_name_; }
  // Owner and permission bits (st_mode & 07777) of the file when it was
  // opened or created (Seal updates file_mode()).
  uid_t owner_uid() const { return owner_uid_; }
  mode_t file_mode() const { return file_mode_; }
  // Start of the data region (kDataOffset into the file); null when
  // data_size_bytes is 0. Valid while this handle or a copy of mapping()
  // lives. Writable only if writable().
  std::byte* data() const { return data_; }
  int64_t data_size_bytes() const { return meta_.data_size_bytes; }
  bool writable() const { return writable_; }

  // Shares ownership of the mapping, e.g. as the base of an AnyView: the
  // mapping stays valid while any copy of the pointer lives, even after this
  // handle is destroyed or the name is unlinked. Non-null for a handle
  // returned by Create or Open (null once moved from).
  std::shared_ptr<const void> mapping() const;

 private:
  struct Mapping;
  Segment() = default;
  // Identity of the file this handle was created or opened on, so Seal()
  // never changes the mode of a newer file that reused the name.
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  uid_t owner_uid_ = 0;
  mode_t file_mode_ = 0;
  std::string os_name_;
  SegmentMeta meta_;
  std::shared_ptr<Mapping> mapping_;
  std::byte* data_ = nullptr;
  bool writable_ = false;
};

// Maps only the data region of `os_name` (offset kDataOffset, `size_bytes`
// bytes), as clients do: reads the header with pread (never maps it, never
// writes it), validates it as Open does, checks that it is committed and that
// its generation is `expected_generation`, then maps the bytes with `access`.
// Returns the owner of the mapping (keeps it mapped while any copy lives,
// even after Unlink) and sets *data (null when size_bytes is 0; the owner is
// still non-null). REQUIRES: data != nullptr.
// Errors: kInvalidArgument (bad os_name, negative size_bytes); kNotFound /
// kPermissionDenied from the OS; kFailedPrecondition for a symlink or a file
// that is not regular; kDataLoss for a bad header;
// kFailedPrecondition "array 'x' is not committed yet"; kAborted when the
// header's generation differs ("array 'x' was replaced: expected generation
// 1f, segment has 20"); kOutOfRange when size_bytes exceeds the data region.
// Thread-safe.
absl::StatusOr<std::shared_ptr<const void>> MapDataRegion(std::string_view os_name,
                                                          Segment::Access access,
                                                          uint64_t expected_generation,
                                                          int64_t size_bytes, std::byte** data);

// The data region of a segment opened for reading with pread(2), not mapped:
// how a client on the daemon's host copies an array's bytes out without a
// stream. A file truncated by another process under a copy makes ReadAt
// fail with kDataLoss; it cannot raise SIGBUS (nothing is mapped), so no
// fault handler is needed in the reading process. Move-only; closes its
// descriptor when destroyed.
class DataRegionFile {
 public:
  // Opens `os_name` read-only and validates its header as MapDataRegion
  // does (committed, generation `expected_generation`, at least `size_bytes`
  // of data region). Errors: those of MapDataRegion.
  static absl::StatusOr<DataRegionFile> Open(std::string_view os_name, uint64_t expected_generation,
                                             int64_t size_bytes);

  DataRegionFile(DataRegionFile&& other) noexcept;
  DataRegionFile& operator=(DataRegionFile&& other) noexcept;
  DataRegionFile(const DataRegionFile&) = delete;
  DataRegionFile& operator=(const DataRegionFile&) = delete;
  ~DataRegionFile();

  // Copies `len` bytes from byte `offset` of the data region into `out`.
  // Errors: kOutOfRange when [offset, offset + len) is not inside the
  // `size_bytes` given to Open; kDataLoss "segment 'd/f' ends at byte N of
  // its data region: another process truncated it" when the file is
  // shorter now (out may hold part of the bytes); the OS error otherwise.
  // Thread-safe (pread has no file position).
  absl::Status ReadAt(int64_t offset, int64_t len, std::byte* out) const;

  // The file's permission bits when it was opened (st_mode & 07777).
  unsigned mode() const { return mode_; }

 private:
  DataRegionFile(int fd, std::string os_name, int64_t size_bytes, unsigned mode)
      : fd_(fd), os_name_(std::move(os_name)), size_bytes_(size_bytes), mode_(mode) {}
  int fd_ = -1;
  std::string os_name_;
  int64_t size_bytes_ = 0;
  unsigned mode_ = 0;
};

namespace internal {

// mmap(MAP_SHARED) of `len` bytes of the open file `fd` from `offset` with
// `prot`, registered like a segment mapping: with InstallSegmentFaultHandler,
// a SIGBUS in it (the file was truncated) is contained and SegmentFaulted()
// reports it. Sets *addr; the result owns the mapping (unmapped when the last
// copy goes). For files that are not segments, e.g. the catalog file
// (catalog_file.h). Errors: kInvalidArgument for a null addr or len 0; the
// OS error of mmap. Thread-safe.
absl::StatusOr<std::shared_ptr<const void>> MapSharedRange(int fd, size_t len, int prot,
                                                           off_t offset, std::byte** addr);

}  // namespace internal

// Makes every later unmap of a mapping made by this file go in steps of
// `bytes` (0, the default: one munmap per mapping). One munmap of a large,
// populated mapping holds the process's mmap lock while it tears the page
// tables down (Linux takes it for reading for that part, so page faults go
// on, but every mmap, munmap and mprotect of another thread, e.g. a malloc
// arena that grows, waits for it). shmarrayd, whose many threads serve other
// calls while an array is deleted, unmaps in 4 MiB steps; a client that
// attaches and drops views in a loop would pay one system call per step.
// Errors: kInvalidArgument when `bytes` is not a multiple of the page size.
// Thread-safe (a mapping being unmapped meanwhile uses either value).
absl::Status SetUnmapStepBytes(size_t bytes);

// Installs, once per process, the SIGBUS handler described in the file
// comment (later calls do nothing). Mappings made before the call are covered
// too. Errors: kInternal if sigaction fails. Thread-safe.
absl::Status InstallSegmentFaultHandler();

// True if an access inside the mapping (made by Segment or MapDataRegion)
// that contains `address` has faulted since the mapping was made: the file
// was truncated under it, and the pages from the faulting one on now hold
// private zeros. False for addresses outside every such mapping and when no
// handler is installed (a fault then kills the process). Thread-safe and
// lock-free.
bool SegmentFaulted(const void* address);

}  // namespace shmarray::shm

#endif  // SHMARRAY_SHM_SEGMENT_H_
