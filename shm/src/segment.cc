// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: segment.cc
// -----------------------------------------------------------------------------
// Segments as files on the shared-memory tmpfs, opened with open(2)
// (O_NOFOLLOW, O_NONBLOCK, regular files only) and mapped with mmap(2); the
// SIGBUS fault containment for their mappings. Nothing here throws: every
// error is an absl::Status, and allocation failures are caught.
//
// The header is always read with pread into a local copy and validated before
// any field is trusted, so a corrupt or hostile file yields kDataLoss, never a
// crash. Handles never read the header back from the mapping: meta_ is the
// validated copy, and Commit/Seal re-encode it.
//
// Fault zones: every mapping made here registers its address range in a
// lock-free list of zones (nodes are reused, never freed, so the signal
// handler may walk the list at any time). The SIGBUS handler looks the
// faulting address up, marks the zone faulted, and maps private zero pages
// over the rest of the zone (mmap is async-signal-safe in practice: a plain
// system call); the faulting instruction then completes.

#include "shmarray/shm/segment.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <exception>
#include <limits>
#include <new>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "shmarray/shm/status.h"

namespace shmarray::shm {

using internal::SegmentHeader;

static_assert(std::endian::native == std::endian::little,
              "the segment header stores native integers and assumes a little-endian host");
static_assert(std::is_standard_layout_v<SegmentHeader>);
static_assert(std::is_trivially_copyable_v<SegmentHeader>);
static_assert(std::has_unique_object_representations_v<SegmentHeader>,
              "SegmentHeader must have no padding (the checksum covers every byte)");
static_assert(sizeof(SegmentHeader) <= static_cast<size_t>(kDataOffset),
              "the header must fit in the header page");
static_assert(std::atomic<uintptr_t>::is_always_lock_free);
static_assert(std::atomic<bool>::is_always_lock_free);

namespace internal {

uint64_t SegmentHeaderChecksum(const SegmentHeader& header) {
  SegmentHeader copy = header;
  copy.checksum = 0;
  unsigned char bytes[sizeof(SegmentHeader)];
  std::memcpy(bytes, &copy, sizeof(bytes));
  uint64_t hash = 14695981039346656037ull;  // FNV-1a 64 offset basis
  for (unsigned char b : bytes) {
    hash ^= b;
    hash *= 1099511628211ull;  // FNV-1a 64 prime
  }
  return hash;
}

// One registered mapping. Nodes are claimed and released, never freed.
struct FaultZone {
  std::atomic<uintptr_t> begin{0};  // 0 = not registered
  std::atomic<uintptr_t> end{0};
  std::atomic<int> prot{PROT_NONE};
  std::atomic<bool> faulted{false};
  std::atomic<bool> claimed{false};
  FaultZone* next = nullptr;  // immutable once the node is published
};

// One mmap'ed range and its fault zone; unmapped on destruction.
class MappedRange {
 public:
  MappedRange() = default;
  MappedRange(void* addr, size_t len, int prot);
  MappedRange(const MappedRange&) = delete;
  MappedRange& operator=(const MappedRange&) = delete;
  ~MappedRange();
  std::byte* addr() const { return static_cast<std::byte*>(addr_); }

 private:
  void* addr_ = nullptr;
  size_t len_ = 0;
  FaultZone* zone_ = nullptr;
};

}  // namespace internal

namespace {

using internal::FaultZone;
using internal::MappedRange;

constexpr const char* kShmDir = "/dev/shm";
// How long a header that fails its checksum is read again (a concurrent Seal
// rewrites it) before it is reported as corrupt.
constexpr auto kTornHeaderRetry = std::chrono::milliseconds(100);
// Mappings are unmapped in steps of this many bytes (a multiple of the page
// size; 0: in one call), see SetUnmapStepBytes and ~MappedRange.
std::atomic<size_t> g_unmap_step_bytes{0};

std::atomic<FaultZone*> g_zones{nullptr};
uintptr_t g_page_size = 4096;
struct sigaction g_previous_sigbus;

uintptr_t PageSize() {
  static const uintptr_t size = [] {
    const long n = sysconf(_SC_PAGESIZE);
    return n > 0 ? static_cast<uintptr_t>(n) : uintptr_t{4096};
  }();
  return size;
}

FaultZone* ClaimZone(void* addr, size_t len, int prot) {
  FaultZone* zone = nullptr;
  for (FaultZone* z = g_zones.load(std::memory_order_acquire); z != nullptr; z = z->next) {
    bool expected = false;
    if (!z->claimed.load(std::memory_order_relaxed) &&
        z->claimed.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) {
      zone = z;
      break;
    }
  }
  if (zone == nullptr) {
    zone = new FaultZone;  // never freed: the signal handler may be reading it
    zone->claimed.store(true, std::memory_order_relaxed);
    FaultZone* head = g_zones.load(std::memory_order_relaxed);
    do {
      zone->next = head;
    } while (!g_zones.compare_exchange_weak(head, zone, std::memory_order_release,
                                            std::memory_order_relaxed));
  }
  const uintptr_t page = PageSize();
  const auto begin = reinterpret_cast<uintptr_t>(addr);
  const uintptr_t end = begin + ((len + page - 1) & ~(page - 1));
  zone->faulted.store(false, std::memory_order_relaxed);
  zone->prot.store(prot, std::memory_order_relaxed);
  zone->end.store(end, std::memory_order_release);
  zone->begin.store(begin, std::memory_order_release);
  return zone;
}

void ReleaseZone(FaultZone* zone) {
  zone->begin.store(0, std::memory_order_release);
  zone->end.store(0, std::memory_order_release);
  zone->claimed.store(false, std::memory_order_release);
}

// The registered zone containing `addr`, or null. Async-signal-safe.
FaultZone* FindZone(uintptr_t addr, uintptr_t* zone_end) {
  for (FaultZone* z = g_zones.load(std::memory_order_acquire); z != nullptr; z = z->next) {
    const uintptr_t begin = z->begin.load(std::memory_order_acquire);
    if (begin == 0 || addr < begin) continue;
    const uintptr_t end = z->end.load(std::memory_order_acquire);
    // A node being released and claimed again meanwhile changes `begin`.
    if (z->begin.load(std::memory_order_acquire) != begin || addr >= end) continue;
    *zone_end = end;
    return z;
  }
  return nullptr;
}

void OnSigbus(int signo, siginfo_t* info, void* context) {
  const int saved_errno = errno;
  // si_code > 0: raised by the kernel for a fault (not sent with kill()).
  if (info != nullptr && info->si_code > 0) {
    const auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
    uintptr_t end = 0;
    if (FaultZone* zone = FindZone(addr, &end)) {
      zone->faulted.store(true, std::memory_order_seq_cst);
      const uintptr_t page = addr & ~(g_page_size - 1);
      void* replaced = mmap(reinterpret_cast<void*>(page), end - page,
                            zone->prot.load(std::memory_order_relaxed),
                            MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (replaced != MAP_FAILED) {
        errno = saved_errno;
        return;  // the access is retried on the zero pages
      }
    }
  }
  errno = saved_errno;
  // Not a segment mapping: what happened before the handler was installed.
  if ((g_previous_sigbus.sa_flags & SA_SIGINFO) != 0) {
    if (g_previous_sigbus.sa_sigaction != nullptr) {
      g_previous_sigbus.sa_sigaction(signo, info, context);
      return;
    }
  } else if (g_previous_sigbus.sa_handler != SIG_DFL && g_previous_sigbus.sa_handler != SIG_IGN) {
    g_previous_sigbus.sa_handler(signo);
    return;
  }
  // The default action: a fault repeats at once and ends the process; a
  // signal sent with kill() is raised again (delivered when this returns).
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(SIGBUS, &dfl, nullptr);
  if (info == nullptr || info->si_code <= 0) raise(SIGBUS);
}

// [A-Za-z0-9._-]{1,255}, not "." or "..".
bool IsValidComponent(std::string_view name) {
  if (name.empty() || name.size() > 255 || name == "." || name == "..") return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

// "<file>" or "<dir>/<file>".
bool IsValidOsName(std::string_view name) {
  const size_t slash = name.find('/');
  if (slash == std::string_view::npos) return IsValidComponent(name);
  return IsValidComponent(name.substr(0, slash)) && IsValidComponent(name.substr(slash + 1));
}

absl::Status BadOsName(std::string_view os_name) {
  const std::string name(os_name);
  return absl::InvalidArgumentError(absl::StrCat(
      "invalid segment name '", name,
      "': it must be <file> or <dir>/<file>, each 1-255 of [A-Za-z0-9._-] and not '.' or '..'"));
}

absl::Status BadDirName(std::string_view dir) {
  const std::string name(dir);
  return absl::InvalidArgumentError(
      absl::StrCat("invalid segment directory name '", name,
                   "': it must be one component of 1-255 of [A-Za-z0-9._-], not '.' or '..'"));
}

std::string PathOf(std::string_view os_name) {
  return absl::StrCat(kShmDir, "/", absl::string_view(os_name.data(), os_name.size()));
}

absl::StatusCode CodeForErrno(int err) {
  switch (err) {
    case EEXIST:
      return absl::StatusCode::kAlreadyExists;
    case ENOENT:
      return absl::StatusCode::kNotFound;
    case EACCES:
    case EPERM:
      return absl::StatusCode::kPermissionDenied;
    case ENOSPC:
    case ENOMEM:
    case EFBIG:
      return absl::StatusCode::kResourceExhausted;
    case ELOOP:
      return absl::StatusCode::kFailedPrecondition;
    default:
      return absl::StatusCode::kInternal;
  }
}

// "<doing>: <strerror>" with the code for `err`.
absl::Status OsError(int err, const std::string& doing) {
  const std::string what =
      err == ELOOP ? std::string("it is a symbolic link") : std::system_category().message(err);
  return absl::Status(CodeForErrno(err), absl::StrCat(doing, ": ", what));
}

// For a `catch (...)`.
absl::Status FromOtherException(const std::string& doing) {
  try {
    throw;
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(absl::StrCat(doing, ": out of memory"));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(doing, ": ", e.what()));
  } catch (...) {
    return absl::InternalError(absl::StrCat(doing, ": unknown exception"));
  }
}

// Closes a file descriptor on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// Opens the existing file `os_name` with `flags` plus O_NOFOLLOW, O_CLOEXEC
// and O_NONBLOCK (a FIFO must not block us), and checks that it is a regular
// file. Returns the descriptor (the caller owns it) and its stat in *st.
absl::StatusOr<int> OpenRegular(const std::string& os_name, int flags, struct stat* st) {
  const std::string path = PathOf(os_name);
  const int fd = ::open(path.c_str(), flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return OsError(errno, absl::StrCat("opening shared memory object '", os_name, "'"));
  if (fstat(fd, st) != 0) {
    const int err = errno;
    ::close(fd);
    return OsError(err, absl::StrCat("opening shared memory object '", os_name, "'"));
  }
  if (!S_ISREG(st->st_mode)) {
    ::close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat("shared memory object '", os_name, "' is not a regular file"));
  }
  return fd;
}

int64_t NowUnixNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Empty when `meta` can be stored and describes a consistent segment, else
// the reason. Never throws.
std::string CheckMeta(const SegmentMeta& meta) {
  if (meta.kind != SegmentKind::kArray && meta.kind != SegmentKind::kView) {
    return absl::StrCat("unknown segment kind ", static_cast<uint32_t>(meta.kind));
  }
  if (meta.state != SegmentState::kCreating && meta.state != SegmentState::kCommitted) {
    return absl::StrCat("unknown segment state ", static_cast<uint32_t>(meta.state));
  }
  if (meta.name.size() > kMaxNameLength) {
    return absl::StrCat("name of ", meta.name.size(), " bytes is longer than ", kMaxNameLength);
  }
  if (meta.base_name.size() > kMaxNameLength) {
    return absl::StrCat("base name of ", meta.base_name.size(), " bytes is longer than ",
                        kMaxNameLength);
  }
  if (meta.format.size() > kMaxStoredFormatLength) {
    return absl::StrCat("format of ", meta.format.size(), " bytes is longer than ",
                        kMaxStoredFormatLength);
  }
  if (meta.data_size_bytes < 0 ||
      meta.data_size_bytes > std::numeric_limits<int64_t>::max() - kDataOffset) {
    return absl::StrCat("data size ", meta.data_size_bytes, " is out of range");
  }
  const Layout& layout = meta.layout;
  if (layout.shape.size() > static_cast<size_t>(kMaxDims)) {
    return absl::StrCat("layout has ", layout.shape.size(), " dimensions, more than ", kMaxDims);
  }
  if (layout.shape.size() != layout.strides.size()) {
    return absl::StrCat("layout has ", layout.shape.size(), " extents but ", layout.strides.size(),
                        " strides");
  }
  if (layout.itemsize <= 0) return absl::StrCat("itemsize ", layout.itemsize, " is not positive");
  // A view's layout addresses its base's data region, whose size is not here.
  const int64_t limit =
      meta.kind == SegmentKind::kView ? std::numeric_limits<int64_t>::max() : meta.data_size_bytes;
  try {
    layout.CheckWithin(limit);
    // A broadcast (zero strides) lies inside any region yet may have more
    // items or bytes than int64 can count.
    (void)layout.nbytes();
  } catch (const std::exception& e) {
    return absl::StrCat("layout ", layout.DebugString(), " is invalid: ", e.what());
  } catch (...) {
    return "layout is invalid";
  }
  return std::string();
}

// REQUIRES: CheckMeta(meta) is empty.
SegmentHeader EncodeHeader(const SegmentMeta& meta) {
  SegmentHeader h;
  std::memset(&h, 0, sizeof(h));
  std::memcpy(h.magic, internal::kSegmentMagic, sizeof(h.magic));
  h.version = internal::kSegmentVersion;
  h.state = static_cast<uint32_t>(meta.state);
  h.kind = static_cast<uint32_t>(meta.kind);
  h.readonly = meta.readonly ? 1 : 0;
  h.generation = meta.generation;
  h.base_generation = meta.base_generation;
  h.created_unix_ns = meta.created_unix_ns;
  h.data_size_bytes = meta.data_size_bytes;
  h.itemsize = meta.layout.itemsize;
  h.offset = meta.layout.offset;
  h.ndim = static_cast<uint32_t>(meta.layout.shape.size());
  for (size_t i = 0; i < meta.layout.shape.size(); ++i) {
    h.shape[i] = meta.layout.shape[i];
    h.strides[i] = meta.layout.strides[i];
  }
  h.name_length = static_cast<uint32_t>(meta.name.size());
  std::memcpy(h.name, meta.name.data(), meta.name.size());
  h.base_name_length = static_cast<uint32_t>(meta.base_name.size());
  std::memcpy(h.base_name, meta.base_name.data(), meta.base_name.size());
  h.format_length = static_cast<uint32_t>(meta.format.size());
  std::memcpy(h.format, meta.format.data(), meta.format.size());
  h.checksum = internal::SegmentHeaderChecksum(h);
  return h;
}

// Whether `h` matches its checksum (sets *computed). The header this thread
// last found matching is kept: the same bytes again, as when a client
// attaches one segment again and again, are compared (a memcmp) instead of
// hashed again, which was the largest user-space cost of an attach (FNV-1a
// over ~3 KB, one byte at a time).
bool ChecksumMatches(const SegmentHeader& h, uint64_t* computed) {
  thread_local SegmentHeader last_match{};
  thread_local bool has_last_match = false;
  if (has_last_match && std::memcmp(&h, &last_match, sizeof(h)) == 0) {
    *computed = h.checksum;
    return true;
  }
  *computed = internal::SegmentHeaderChecksum(h);
  if (*computed != h.checksum) return false;
  std::memcpy(&last_match, &h, sizeof(h));
  has_last_match = true;
  return true;
}

// Decodes and validates `h` from a file of `object_size` bytes. Returns the
// reason on failure (empty on success); sets *torn when the reason is a
// checksum mismatch (which a concurrent rewrite of the header can cause).
std::string DecodeHeader(const SegmentHeader& h, int64_t object_size, SegmentMeta* meta,
                         bool* torn) {
  *torn = false;
  if (std::memcmp(h.magic, internal::kSegmentMagic, sizeof(h.magic)) != 0) {
    return "bad magic (not a shmarray segment)";
  }
  if (h.version != internal::kSegmentVersion) {
    return absl::StrCat("unsupported header version ", h.version, " (expected ",
                        internal::kSegmentVersion, ")");
  }
  uint64_t computed = 0;
  if (!ChecksumMatches(h, &computed)) {
    *torn = true;
    return absl::StrCat("header checksum mismatch (stored ", absl::Hex(h.checksum), ", computed ",
                        absl::Hex(computed), ")");
  }
  if (h.readonly > 1) return absl::StrCat("bad read-only flag ", h.readonly);
  if (h.ndim > static_cast<uint32_t>(kMaxDims)) {
    return absl::StrCat("ndim ", h.ndim, " is more than ", kMaxDims);
  }
  if (h.name_length > kMaxNameLength) return absl::StrCat("name length ", h.name_length);
  if (h.base_name_length > kMaxNameLength) {
    return absl::StrCat("base name length ", h.base_name_length);
  }
  if (h.format_length > kMaxStoredFormatLength) {
    return absl::StrCat("format length ", h.format_length);
  }
  SegmentMeta m;
  m.kind = static_cast<SegmentKind>(h.kind);
  m.state = static_cast<SegmentState>(h.state);
  m.generation = h.generation;
  m.base_generation = h.base_generation;
  m.created_unix_ns = h.created_unix_ns;
  m.data_size_bytes = h.data_size_bytes;
  m.readonly = h.readonly != 0;
  m.name.assign(h.name, h.name_length);
  m.base_name.assign(h.base_name, h.base_name_length);
  m.format.assign(h.format, h.format_length);
  m.layout.itemsize = h.itemsize;
  m.layout.offset = h.offset;
  m.layout.shape.assign(h.shape, h.shape + h.ndim);
  m.layout.strides.assign(h.strides, h.strides + h.ndim);
  std::string reason = CheckMeta(m);
  if (!reason.empty()) return reason;
  if (object_size != kDataOffset + m.data_size_bytes) {
    return absl::StrCat("the file has ", object_size, " bytes but the header says ", kDataOffset,
                        " + ", m.data_size_bytes);
  }
  *meta = std::move(m);
  return std::string();
}

// Reads and validates the header of the open file `fd`. kDataLoss names
// `os_name` and the reason; kInternal for I/O errors. A checksum mismatch is
// read again for up to kTornHeaderRetry: the daemon rewrites the header when
// it seals, and a pread that overlaps that write sees half of each.
absl::Status ReadHeader(int fd, const std::string& os_name, SegmentMeta* meta) {
  const auto deadline = std::chrono::steady_clock::now() + kTornHeaderRetry;
  for (int attempt = 0;; ++attempt) {
    struct stat st {};
    if (fstat(fd, &st) != 0) {
      return OsError(errno,
                     absl::StrCat("reading the size of shared memory object '", os_name, "'"));
    }
    if (st.st_size < kDataOffset) {
      return absl::DataLossError(absl::StrCat("segment '", os_name, "' is truncated: ", st.st_size,
                                              " bytes, less than the ", kDataOffset,
                                              "-byte header page"));
    }
    SegmentHeader h;
    size_t done = 0;
    auto* bytes = reinterpret_cast<char*>(&h);
    while (done < sizeof(h)) {
      const ssize_t n = pread(fd, bytes + done, sizeof(h) - done, static_cast<off_t>(done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        return OsError(errno,
                       absl::StrCat("reading the header of shared memory object '", os_name, "'"));
      }
      if (n == 0) {
        return absl::DataLossError(
            absl::StrCat("segment '", os_name, "' is truncated: the header ends early"));
      }
      done += static_cast<size_t>(n);
    }
    bool torn = false;
    std::string reason = DecodeHeader(h, static_cast<int64_t>(st.st_size), meta, &torn);
    if (reason.empty()) return absl::OkStatus();
    if (torn && h.readonly <= 1) {
      // Seal stores the read-only flag and the checksum one after the other:
      // a read between the two stores sees a header that is consistent with
      // the flag flipped. That is the header as it was just before (or just
      // after) the seal; take it.
      SegmentHeader flipped = h;
      flipped.readonly ^= 1;
      if (internal::SegmentHeaderChecksum(flipped) == flipped.checksum &&
          DecodeHeader(flipped, static_cast<int64_t>(st.st_size), meta, &torn).empty()) {
        return absl::OkStatus();
      }
    }
    if (!torn || std::chrono::steady_clock::now() >= deadline) {
      return absl::DataLossError(
          absl::StrCat("segment '", os_name, "' has a bad header: ", reason));
    }
    // Give the writer a chance to finish: yield first, then short naps.
    if (attempt < 16) {
      sched_yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  }
}

// Free bytes of /dev/shm for unprivileged use, or -1 if unknown.
int64_t ShmFreeBytes() {
  struct statvfs vfs {};
  if (statvfs(kShmDir, &vfs) != 0) return -1;
  const uint64_t block = vfs.f_frsize == 0 ? 1 : vfs.f_frsize;
  const uint64_t max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (vfs.f_bavail > max / block) return std::numeric_limits<int64_t>::max();
  return static_cast<int64_t>(vfs.f_bavail * block);
}

absl::Status NoSpace(const std::string& user_name, int64_t need_bytes) {
  const int64_t free_bytes = ShmFreeBytes();
  return absl::ResourceExhaustedError(absl::StrCat(
      "not enough shared memory in ", kShmDir, " for array '", user_name, "': need ", need_bytes,
      " bytes, ", free_bytes < 0 ? std::string("unknown") : absl::StrCat(free_bytes), " free"));
}

absl::Status Truncated(const std::string& os_name) {
  return absl::DataLossError(absl::StrCat("segment '", os_name,
                                          "' was truncated by another process while it was "
                                          "being written"));
}

// Removes a half-made file on error paths unless dismissed.
class UnlinkGuard {
 public:
  explicit UnlinkGuard(std::string path) : path_(std::move(path)) {}
  UnlinkGuard(const UnlinkGuard&) = delete;
  UnlinkGuard& operator=(const UnlinkGuard&) = delete;
  ~UnlinkGuard() {
    if (armed_) ::unlink(path_.c_str());
  }
  void Arm() { armed_ = true; }
  void Dismiss() { armed_ = false; }

 private:
  std::string path_;
  bool armed_ = false;
};

// mmap of `len` bytes of `fd` at `offset`, owned by a MappedRange.
absl::StatusOr<std::shared_ptr<MappedRange>> MapFile(int fd, size_t len, int prot, off_t offset,
                                                     const std::string& os_name) {
  void* addr = mmap(nullptr, len, prot, MAP_SHARED, fd, offset);
  if (addr == MAP_FAILED) {
    return OsError(errno, absl::StrCat("mapping shared memory object '", os_name, "'"));
  }
  try {
    return std::make_shared<MappedRange>(addr, len, prot);
  } catch (...) {
    munmap(addr, len);
    return FromOtherException(absl::StrCat("mapping shared memory object '", os_name, "'"));
  }
}

}  // namespace

namespace internal {

std::string DecodeSegmentHeader(const SegmentHeader& header, int64_t object_size,
                                SegmentMeta* meta) {
  bool torn = false;
  return DecodeHeader(header, object_size, meta, &torn);
}

std::string EncodeSegmentHeader(const SegmentMeta& meta, SegmentHeader* header) {
  std::string reason = CheckMeta(meta);
  if (reason.empty()) *header = EncodeHeader(meta);
  return reason;
}

MappedRange::MappedRange(void* addr, size_t len, int prot)
    : addr_(addr), len_(len), zone_(ClaimZone(addr, len, prot)) {}

MappedRange::~MappedRange() {
  if (zone_ != nullptr) ReleaseZone(zone_);
  if (addr_ == nullptr) return;
  // With a step set (SetUnmapStepBytes), a large mapping is unmapped piece by
  // piece, so that no one munmap holds the process's mmap lock for long.
  auto* p = static_cast<std::byte*>(addr_);
  size_t left = len_;
  const size_t step = g_unmap_step_bytes.load(std::memory_order_relaxed);
  while (step != 0 && left > step) {
    munmap(p, step);
    p += step;
    left -= step;
  }
  munmap(p, left);
}

}  // namespace internal

// Owns the mapping of a whole segment (header page + data region).
struct Segment::Mapping {
  std::shared_ptr<MappedRange> range;
};

DirectoryLock::DirectoryLock(DirectoryLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

DirectoryLock& DirectoryLock::operator=(DirectoryLock&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

DirectoryLock::~DirectoryLock() { reset(); }

void DirectoryLock::reset() {
  if (fd_ >= 0) ::close(std::exchange(fd_, -1));  // drops the flock with it
}

namespace {

// The pid that holds a flock on the file `st` describes, from /proc/locks
// ("1: FLOCK  ADVISORY  WRITE 1234 00:1a:5678 0 EOF"), or 0 when it does not
// tell (no /proc, another pid namespace's lock, a lock gone meanwhile).
pid_t FlockHolder(const struct stat& st) {
  std::FILE* f = std::fopen("/proc/locks", "re");
  if (f == nullptr) return 0;
  const std::string want =
      absl::StrCat(absl::Hex(major(st.st_dev), absl::kZeroPad2), ":",
                   absl::Hex(minor(st.st_dev), absl::kZeroPad2), ":", st.st_ino);
  pid_t holder = 0;
  char line[256];
  while (holder == 0 && std::fgets(line, sizeof line, f) != nullptr) {
    char kind[16], mode[16], access[16], id[64];
    long pid = 0;  // NOLINT(runtime/int): sscanf's %ld
    if (std::sscanf(line, "%*s %15s %15s %15s %ld %63s", kind, mode, access, &pid, id) == 5 &&
        std::strcmp(kind, "FLOCK") == 0 && want == id && pid > 0) {
      holder = static_cast<pid_t>(pid);
    }
  }
  std::fclose(f);
  return holder;
}

}  // namespace

absl::StatusOr<std::string> Segment::PrepareDirectory(std::string_view dir,
                                                      std::optional<gid_t> group,
                                                      DirectoryLock* lock) {
  if (!IsValidComponent(dir)) return BadDirName(dir);
  const std::string path = PathOf(dir);
  const mode_t want = group ? 02750 : 0700;
  std::string done;
  if (::mkdir(path.c_str(), 0700) == 0) {
    done = absl::StrCat("created ", path);
  } else if (errno != EEXIST) {
    return OsError(errno, absl::StrCat("creating directory ", path));
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return OsError(errno, absl::StrCat("checking ", path));
  if (S_ISLNK(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path,
                     " is a symbolic link, not the daemon's directory; only root can "
                     "remove it"));
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(path, " exists and is not a directory"));
  }
  if (st.st_uid != geteuid()) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, " belongs to uid ", st.st_uid, ", not to this process's uid ", geteuid(),
        ": someone else made it, and only root can remove it (or use another --instance)"));
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return OsError(errno, absl::StrCat("opening directory ", path));
  Fd closer(fd);
  struct stat fst {};
  if (fstat(fd, &fst) != 0) return OsError(errno, absl::StrCat("checking ", path));
  if (fst.st_dev != st.st_dev || fst.st_ino != st.st_ino) {
    return absl::FailedPreconditionError(absl::StrCat(path, " changed while it was checked"));
  }
  DirectoryLock held;
  if (lock != nullptr) {
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK) return OsError(errno, absl::StrCat("locking ", path));
      const pid_t holder = FlockHolder(fst);
      return absl::FailedPreconditionError(absl::StrCat(
          path, " is in use by another process",
          holder > 0 ? absl::StrCat(" (pid ", holder, ")") : std::string(),
          ": another shmarrayd serves this instance; stop it first, or use another --instance"));
    }
    // `closer` closes `fd`; the lock belongs to the open file, which the
    // duplicate keeps open.
    held = DirectoryLock(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
    if (!held.held()) return OsError(errno, absl::StrCat("locking ", path));
  }
  if (group && fst.st_gid != *group) {
    if (fchown(fd, static_cast<uid_t>(-1), *group) != 0) {
      return OsError(errno, absl::StrCat("setting the group of ", path, " to gid ", *group,
                                         " (the daemon's user must be a member of it)"));
    }
    absl::StrAppend(&done, done.empty() ? "" : "; ", "set the group of ", path, " to ", *group);
  }
  if ((fst.st_mode & 07777) != want || (group && fst.st_gid != *group)) {
    if (fchmod(fd, want) != 0) {
      return OsError(errno, absl::StrCat("setting the mode of ", path));
    }
    if ((fst.st_mode & 07777) != want) {
      char buf[64];
      std::snprintf(buf, sizeof(buf), "mode %04o -> %04o", fst.st_mode & 07777, want);
      absl::StrAppend(&done, done.empty() ? "" : "; ", "set ", path, " ", buf);
    }
  }
  // The kernel silently drops the setgid bit for an owner outside the group.
  if (fstat(fd, &fst) != 0) return OsError(errno, absl::StrCat("checking ", path));
  if ((fst.st_mode & 07777) != want) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%04o instead of %04o", fst.st_mode & 07777, want);
    return absl::FailedPreconditionError(absl::StrCat("cannot give ", path, " mode ", buf,
                                                      " (with --group, the daemon's user must be a "
                                                      "member of the group)"));
  }
  if (lock != nullptr) *lock = std::move(held);
  return done;
}

absl::StatusOr<Segment> Segment::Create(std::string_view os_name, const SegmentMeta& meta,
                                        mode_t mode) {
  if (!IsValidOsName(os_name)) return BadOsName(os_name);
  const std::string name(os_name);
  std::string reason = CheckMeta(meta);
  if (!reason.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot create segment '", name, "' for array '", meta.name, "': ", reason));
  }
  SegmentMeta stored = meta;
  stored.state = SegmentState::kCreating;
  if (stored.created_unix_ns == 0) stored.created_unix_ns = NowUnixNs();
  const SegmentHeader header = EncodeHeader(stored);
  const int64_t total_bytes = kDataOffset + stored.data_size_bytes;
  const mode_t file_mode = mode & 0777;

  // Fail early, before touching anything, when the request cannot fit; the
  // fallocate below is the authoritative check.
  const int64_t free_bytes = ShmFreeBytes();
  if (free_bytes >= 0 && total_bytes > free_bytes) return NoSpace(stored.name, total_bytes);

  const std::string path = PathOf(name);
  UnlinkGuard guard(path);
  const char* doing = "creating";
  try {
    const int raw_fd =
        ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, file_mode);
    if (raw_fd < 0) {
      return OsError(errno, absl::StrCat(doing, " shared memory object '", name, "'"));
    }
    Fd fd(raw_fd);
    guard.Arm();
    doing = "setting the mode of";
    if (fchmod(fd.get(), file_mode) != 0) {
      return OsError(errno, absl::StrCat(doing, " shared memory object '", name, "'"));
    }
    doing = "reserving space for";
    int rc;
    do {
      rc = fallocate(fd.get(), 0, 0, static_cast<off_t>(total_bytes));
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) {
      const int err = errno;
      if (err == ENOSPC || err == ENOMEM || err == EFBIG) return NoSpace(stored.name, total_bytes);
      if (err != EOPNOTSUPP) {
        return OsError(err, absl::StrCat(doing, " shared memory object '", name, "'"));
      }
      if (ftruncate(fd.get(), static_cast<off_t>(total_bytes)) != 0) {
        return OsError(errno, absl::StrCat(doing, " shared memory object '", name, "'"));
      }
    }
    struct stat st {};
    if (fstat(fd.get(), &st) != 0) {
      return OsError(errno, absl::StrCat(doing, " shared memory object '", name, "'"));
    }
    if (st.st_size != total_bytes) {
      return absl::InternalError(absl::StrCat("shared memory object '", name, "' has ", st.st_size,
                                              " bytes after reserving ", total_bytes));
    }
    SHMARRAY_ASSIGN_OR_RETURN(
        std::shared_ptr<MappedRange> range,
        MapFile(fd.get(), static_cast<size_t>(total_bytes), PROT_READ | PROT_WRITE, 0, name));
    std::byte* base = range->addr();
    std::memcpy(base, &header, sizeof(header));
    if (SegmentFaulted(base)) return Truncated(name);

    Segment seg;
    seg.dev_ = st.st_dev;
    seg.ino_ = st.st_ino;
    seg.owner_uid_ = st.st_uid;
    seg.file_mode_ = st.st_mode & 07777;
    seg.os_name_ = name;
    seg.meta_ = std::move(stored);
    seg.data_ = seg.meta_.data_size_bytes > 0 ? base + kDataOffset : nullptr;
    seg.writable_ = true;
    seg.mapping_ = std::make_shared<Mapping>(Mapping{std::move(range)});
    guard.Dismiss();
    return seg;
  } catch (...) {
    return FromOtherException(absl::StrCat(doing, " shared memory object '", name, "'"));
  }
}

absl::StatusOr<Segment> Segment::Open(std::string_view os_name, Access access) {
  if (!IsValidOsName(os_name)) return BadOsName(os_name);
  const std::string name(os_name);
  try {
    struct stat st {};
    SHMARRAY_ASSIGN_OR_RETURN(
        const int raw_fd, OpenRegular(name, access == Access::kReadWrite ? O_RDWR : O_RDONLY, &st));
    Fd fd(raw_fd);
    SegmentMeta meta;
    SHMARRAY_RETURN_IF_ERROR(ReadHeader(fd.get(), name, &meta));
    if (fstat(fd.get(), &st) != 0) {
      return OsError(errno, absl::StrCat("opening shared memory object '", name, "'"));
    }
    const int64_t total_bytes = kDataOffset + meta.data_size_bytes;
    if (st.st_size != total_bytes) {  // changed under us since ReadHeader
      return absl::DataLossError(absl::StrCat("segment '", name, "' changed size while opening"));
    }
    const int prot = access == Access::kReadWrite ? PROT_READ | PROT_WRITE : PROT_READ;
    SHMARRAY_ASSIGN_OR_RETURN(std::shared_ptr<MappedRange> range,
                              MapFile(fd.get(), static_cast<size_t>(total_bytes), prot, 0, name));
    std::byte* base = range->addr();

    Segment seg;
    seg.dev_ = st.st_dev;
    seg.ino_ = st.st_ino;
    seg.owner_uid_ = st.st_uid;
    seg.file_mode_ = st.st_mode & 07777;
    seg.os_name_ = name;
    seg.meta_ = std::move(meta);
    seg.data_ = seg.meta_.data_size_bytes > 0 ? base + kDataOffset : nullptr;
    seg.writable_ = access == Access::kReadWrite;
    seg.mapping_ = std::make_shared<Mapping>(Mapping{std::move(range)});
    return seg;
  } catch (...) {
    return FromOtherException(absl::StrCat("opening shared memory object '", name, "'"));
  }
}

absl::Status Segment::Unlink(std::string_view os_name) {
  if (!IsValidOsName(os_name)) return BadOsName(os_name);
  const std::string name(os_name);
  if (::unlink(PathOf(name).c_str()) != 0) {
    return OsError(errno, absl::StrCat("removing shared memory object '", name, "'"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> Segment::List(std::string_view dir) {
  if (!IsValidComponent(dir)) return BadDirName(dir);
  const std::string path = PathOf(dir);
  std::vector<std::string> names;
  try {
    DIR* d = opendir(path.c_str());
    if (d == nullptr) {
      if (errno == ENOENT) return names;
      return absl::InternalError(
          absl::StrCat("listing ", path, ": ", std::system_category().message(errno)));
    }
    while (true) {
      errno = 0;
      const dirent* entry = readdir(d);
      if (entry == nullptr) break;
      std::string_view entry_name(entry->d_name);
      if (entry_name == "." || entry_name == "..") continue;
      names.push_back(std::string(dir) + "/" + std::string(entry_name));
    }
    const int err = errno;
    closedir(d);
    if (err != 0) {
      return absl::InternalError(
          absl::StrCat("listing ", path, ": ", std::system_category().message(err)));
    }
    std::sort(names.begin(), names.end());
  } catch (...) {
    return FromOtherException(absl::StrCat("listing ", path));
  }
  return names;
}

Segment::Segment(Segment&& other) noexcept
    : dev_(std::exchange(other.dev_, 0)),
      ino_(std::exchange(other.ino_, 0)),
      owner_uid_(std::exchange(other.owner_uid_, 0)),
      file_mode_(std::exchange(other.file_mode_, 0)),
      os_name_(std::move(other.os_name_)),
      meta_(std::move(other.meta_)),
      mapping_(std::move(other.mapping_)),
      data_(std::exchange(other.data_, nullptr)),
      writable_(std::exchange(other.writable_, false)) {}

Segment& Segment::operator=(Segment&& other) noexcept {
  if (this != &other) {
    dev_ = std::exchange(other.dev_, 0);
    ino_ = std::exchange(other.ino_, 0);
    owner_uid_ = std::exchange(other.owner_uid_, 0);
    file_mode_ = std::exchange(other.file_mode_, 0);
    os_name_ = std::move(other.os_name_);
    meta_ = std::move(other.meta_);
    mapping_ = std::move(other.mapping_);
    data_ = std::exchange(other.data_, nullptr);
    writable_ = std::exchange(other.writable_, false);
  }
  return *this;
}

Segment::~Segment() = default;

absl::Status Segment::Commit() {
  if (!writable_ || mapping_ == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot commit segment '", os_name_, "': the handle is read-only"));
  }
  SegmentMeta committed = meta_;
  committed.state = SegmentState::kCommitted;
  const SegmentHeader header = EncodeHeader(committed);
  // The data written so far is ordered before the state change.
  std::atomic_thread_fence(std::memory_order_release);
  std::byte* base = mapping_->range->addr();
  std::memcpy(base, &header, sizeof(header));
  if (SegmentFaulted(base)) return Truncated(os_name_);
  meta_.state = SegmentState::kCommitted;
  return absl::OkStatus();
}

absl::Status Segment::Seal() {
  if (!writable_ || mapping_ == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot seal segment '", os_name_, "': the handle is read-only"));
  }
  const std::string doing = absl::StrCat("sealing shared memory object '", os_name_, "'");
  // Reopen by name, but change the mode only if it is still our file.
  struct stat st {};
  absl::StatusOr<int> raw_fd = OpenRegular(os_name_, O_RDONLY, &st);
  if (!raw_fd.ok()) {
    if (absl::IsNotFound(raw_fd.status())) {
      return absl::NotFoundError(
          absl::StrCat("cannot seal segment '", os_name_, "': it was removed"));
    }
    return raw_fd.status();
  }
  Fd fd(*raw_fd);
  if (st.st_dev != dev_ || st.st_ino != ino_) {
    return absl::NotFoundError(absl::StrCat("cannot seal segment '", os_name_,
                                            "': the name now refers to another object"));
  }
  if (fchmod(fd.get(), st.st_mode & 0555) != 0) return OsError(errno, doing);
  file_mode_ = st.st_mode & 0555;
  SegmentMeta sealed = meta_;
  sealed.readonly = true;
  const SegmentHeader header = EncodeHeader(sealed);
  // Only the flag and the checksum change: store just those two aligned
  // words, so that a reader (ReadHeader) sees at most one of them changed.
  // (If the stored header is not exactly meta_'s encoding, it is rewritten
  // whole.)
  std::byte* base = mapping_->range->addr();
  const SegmentHeader before = EncodeHeader(meta_);
  if (std::memcmp(base, &before, sizeof(before)) == 0) {
    auto* stored = reinterpret_cast<SegmentHeader*>(base);
    std::atomic_ref<uint32_t>(stored->readonly).store(header.readonly, std::memory_order_release);
    std::atomic_ref<uint64_t>(stored->checksum).store(header.checksum, std::memory_order_release);
  } else {
    std::memcpy(base, &header, sizeof(header));
  }
  if (SegmentFaulted(base)) return Truncated(os_name_);
  meta_.readonly = true;
  return absl::OkStatus();
}

std::shared_ptr<const void> Segment::mapping() const { return mapping_; }

namespace {

// Opens the data region of `os_name` (`flags`: O_RDONLY or O_RDWR) and checks
// its header for MapDataRegion and DataRegionFile::Open: committed, of
// `expected_generation`, with at least `size_bytes` of data. Returns the
// descriptor (the caller owns it) and its stat in *st.
absl::StatusOr<int> OpenDataRegion(const std::string& name, int flags, uint64_t expected_generation,
                                   int64_t size_bytes, struct stat* st) {
  if (size_bytes < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot map ", size_bytes, " bytes of segment '", name, "'"));
  }
  SHMARRAY_ASSIGN_OR_RETURN(const int raw_fd, OpenRegular(name, flags, st));
  Fd fd(raw_fd);
  SegmentMeta meta;
  SHMARRAY_RETURN_IF_ERROR(ReadHeader(fd.get(), name, &meta));
  if (meta.generation != expected_generation) {
    return absl::AbortedError(
        absl::StrCat("array '", meta.name, "' was replaced: expected generation ",
                     absl::Hex(expected_generation), ", segment has ", absl::Hex(meta.generation)));
  }
  if (meta.state != SegmentState::kCommitted) {
    return absl::FailedPreconditionError(
        absl::StrCat("array '", meta.name, "' is not committed yet"));
  }
  if (size_bytes > meta.data_size_bytes) {
    return absl::OutOfRangeError(absl::StrCat("cannot map ", size_bytes, " bytes of array '",
                                              meta.name, "': its data region has ",
                                              meta.data_size_bytes, " bytes"));
  }
  return fd.release();
}

}  // namespace

absl::StatusOr<std::shared_ptr<const void>> MapDataRegion(std::string_view os_name,
                                                          Segment::Access access,
                                                          uint64_t expected_generation,
                                                          int64_t size_bytes, std::byte** data) {
  if (data == nullptr) return absl::InvalidArgumentError("MapDataRegion: data is null");
  *data = nullptr;
  if (!IsValidOsName(os_name)) return BadOsName(os_name);
  const std::string name(os_name);
  try {
    struct stat st {};
    const bool rw = access == Segment::Access::kReadWrite;
    SHMARRAY_ASSIGN_OR_RETURN(
        const int raw_fd,
        OpenDataRegion(name, rw ? O_RDWR : O_RDONLY, expected_generation, size_bytes, &st));
    Fd fd(raw_fd);
    if (size_bytes == 0) return std::shared_ptr<const void>(std::make_shared<MappedRange>());
    SHMARRAY_ASSIGN_OR_RETURN(
        std::shared_ptr<MappedRange> range,
        MapFile(fd.get(), static_cast<size_t>(size_bytes), rw ? PROT_READ | PROT_WRITE : PROT_READ,
                static_cast<off_t>(kDataOffset), name));
    *data = range->addr();
    return std::shared_ptr<const void>(std::move(range));
  } catch (...) {
    return FromOtherException(absl::StrCat("opening shared memory object '", name, "'"));
  }
}

// --- DataRegionFile -------------------------------------------------------------

absl::StatusOr<DataRegionFile> DataRegionFile::Open(std::string_view os_name,
                                                    uint64_t expected_generation,
                                                    int64_t size_bytes) {
  if (!IsValidOsName(os_name)) return BadOsName(os_name);
  std::string name(os_name);
  try {
    struct stat st {};
    SHMARRAY_ASSIGN_OR_RETURN(const int fd,
                              OpenDataRegion(name, O_RDONLY, expected_generation, size_bytes, &st));
    return DataRegionFile(fd, std::move(name), size_bytes,
                          static_cast<unsigned>(st.st_mode & 07777));
  } catch (...) {
    return FromOtherException(absl::StrCat("opening shared memory object '", name, "'"));
  }
}

DataRegionFile::DataRegionFile(DataRegionFile&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      os_name_(std::move(other.os_name_)),
      size_bytes_(other.size_bytes_),
      mode_(other.mode_) {}

DataRegionFile& DataRegionFile::operator=(DataRegionFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    os_name_ = std::move(other.os_name_);
    size_bytes_ = other.size_bytes_;
    mode_ = other.mode_;
  }
  return *this;
}

DataRegionFile::~DataRegionFile() {
  if (fd_ >= 0) ::close(fd_);
}

absl::Status DataRegionFile::ReadAt(int64_t offset, int64_t len, std::byte* out) const {
  if (offset < 0 || len < 0 || offset > size_bytes_ || len > size_bytes_ - offset) {
    return absl::OutOfRangeError(absl::StrCat("bytes [", offset, ", ", offset, " + ", len,
                                              ") are not inside the ", size_bytes_,
                                              "-byte data region of segment '", os_name_, "'"));
  }
  int64_t done = 0;
  while (done < len) {
    const ssize_t n = ::pread(fd_, out + done, static_cast<size_t>(len - done),
                              static_cast<off_t>(kDataOffset + offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return OsError(errno, absl::StrCat("reading shared memory object '", os_name_, "'"));
    }
    if (n == 0) {
      return absl::DataLossError(absl::StrCat("segment '", os_name_, "' ends at byte ",
                                              offset + done,
                                              " of its data region: another process truncated it"));
    }
    done += n;
  }
  return absl::OkStatus();
}

namespace internal {

absl::StatusOr<std::shared_ptr<const void>> MapSharedRange(int fd, size_t len, int prot,
                                                           off_t offset, std::byte** addr) {
  if (addr == nullptr || len == 0) {
    return absl::InvalidArgumentError("MapSharedRange: null address or empty range");
  }
  *addr = nullptr;
  SHMARRAY_ASSIGN_OR_RETURN(std::shared_ptr<MappedRange> range,
                            MapFile(fd, len, prot, offset, "catalog"));
  *addr = range->addr();
  return std::shared_ptr<const void>(std::move(range));
}

}  // namespace internal

absl::Status SetUnmapStepBytes(size_t bytes) {
  if (bytes % PageSize() != 0) {
    return absl::InvalidArgumentError(absl::StrCat("unmap step of ", bytes,
                                                   " bytes is not a multiple of the page size (",
                                                   PageSize(), " bytes)"));
  }
  g_unmap_step_bytes.store(bytes, std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::Status InstallSegmentFaultHandler() {
  static const absl::Status installed = [] {
    g_page_size = PageSize();
    struct sigaction action {};
    action.sa_sigaction = &OnSigbus;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    if (sigaction(SIGBUS, &action, &g_previous_sigbus) != 0) {
      return absl::InternalError(
          absl::StrCat("installing the SIGBUS handler: ", std::system_category().message(errno)));
    }
    return absl::OkStatus();
  }();
  return installed;
}

bool SegmentFaulted(const void* address) {
  uintptr_t end = 0;
  FaultZone* zone = FindZone(reinterpret_cast<uintptr_t>(address), &end);
  return zone != nullptr && zone->faulted.load(std::memory_order_seq_cst);
}

}  // namespace shmarray::shm
