// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: segment.cc
// -----------------------------------------------------------------------------
// Named shared-memory segments through Boost.Interprocess. Every
// interprocess_exception (and any other exception) is caught here and turned
// into an absl::Status; nothing escapes this file.
//
// The header is always read with pread into a local copy and validated before
// any field is trusted, so a corrupt or hostile object yields kDataLoss, never
// a crash. Handles never read the header back from the mapping: meta_ is the
// validated copy, and Commit/Seal re-encode it.

#include "shmarray/shm/segment.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <exception>
#include <limits>
#include <new>
#include <system_error>
#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "boost/interprocess/exceptions.hpp"
#include "boost/interprocess/mapped_region.hpp"
#include "boost/interprocess/permissions.hpp"
#include "boost/interprocess/shared_memory_object.hpp"
#include "shmarray/shm/status.h"

namespace shmarray::shm {

namespace bip = boost::interprocess;
using internal::SegmentHeader;

static_assert(std::endian::native == std::endian::little,
              "the segment header stores native integers and assumes a little-endian host");
static_assert(std::is_standard_layout_v<SegmentHeader>);
static_assert(std::is_trivially_copyable_v<SegmentHeader>);
static_assert(std::has_unique_object_representations_v<SegmentHeader>,
              "SegmentHeader must have no padding (the checksum covers every byte)");
static_assert(sizeof(SegmentHeader) <= static_cast<size_t>(kDataOffset),
              "the header must fit in the header page");

// Owns the mapping of a whole segment (header page + data region).
struct Segment::Mapping {
  bip::mapped_region region;
};

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

}  // namespace internal

namespace {

constexpr const char* kShmDir = "/dev/shm";

// A single path component of [A-Za-z0-9._-], not "." or "..".
bool IsValidOsName(std::string_view name) {
  if (name.empty() || name.size() > 255 || name == "." || name == "..") return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

absl::Status BadOsName(std::string_view os_name) {
  const std::string name(os_name);
  return absl::InvalidArgumentError(
      absl::StrCat("invalid shared memory object name '", name,
                   "': it must be a single component of [A-Za-z0-9._-], at most 255 bytes"));
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
    default:
      return absl::StatusCode::kInternal;
  }
}

// "<doing>: <strerror>" with the code for `err`.
absl::Status OsError(int err, const std::string& doing) {
  return absl::Status(CodeForErrno(err),
                      absl::StrCat(doing, ": ", std::system_category().message(err)));
}

absl::Status FromInterprocess(const bip::interprocess_exception& e, const std::string& doing) {
  if (e.get_native_error() != 0) return OsError(e.get_native_error(), doing);
  absl::StatusCode code = absl::StatusCode::kInternal;
  switch (e.get_error_code()) {
    case bip::already_exists_error:
      code = absl::StatusCode::kAlreadyExists;
      break;
    case bip::not_found_error:
    case bip::not_such_file_or_directory:
      code = absl::StatusCode::kNotFound;
      break;
    case bip::security_error:
      code = absl::StatusCode::kPermissionDenied;
      break;
    case bip::out_of_space_error:
    case bip::out_of_memory_error:
    case bip::out_of_resource_error:
    case bip::size_error:
      code = absl::StatusCode::kResourceExhausted;
      break;
    default:
      break;
  }
  return absl::Status(code, absl::StrCat(doing, ": ", e.what()));
}

// For the `catch (...)` after the interprocess_exception handler.
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

// Decodes and validates `h` from an object of `object_size` bytes. Returns
// the reason on failure (empty on success).
std::string DecodeHeader(const SegmentHeader& h, int64_t object_size, SegmentMeta* meta) {
  if (std::memcmp(h.magic, internal::kSegmentMagic, sizeof(h.magic)) != 0) {
    return "bad magic (not a shmarray segment)";
  }
  if (h.version != internal::kSegmentVersion) {
    return absl::StrCat("unsupported header version ", h.version, " (expected ",
                        internal::kSegmentVersion, ")");
  }
  const uint64_t computed = internal::SegmentHeaderChecksum(h);
  if (computed != h.checksum) {
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
    return absl::StrCat("the object has ", object_size, " bytes but the header says ", kDataOffset,
                        " + ", m.data_size_bytes);
  }
  *meta = std::move(m);
  return std::string();
}

// Reads and validates the header of the open object `fd`. kDataLoss names
// `os_name` and the reason; kInternal for I/O errors.
absl::Status ReadHeader(int fd, const std::string& os_name, SegmentMeta* meta) {
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    return OsError(errno, absl::StrCat("reading the size of shared memory object '", os_name, "'"));
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
  std::string reason = DecodeHeader(h, static_cast<int64_t>(st.st_size), meta);
  if (!reason.empty()) {
    return absl::DataLossError(absl::StrCat("segment '", os_name, "' has a bad header: ", reason));
  }
  return absl::OkStatus();
}

bip::mode_t BoostMode(Segment::Access access) {
  return access == Segment::Access::kReadOnly ? bip::read_only : bip::read_write;
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

// Removes a half-made object on error paths unless dismissed.
class UnlinkGuard {
 public:
  explicit UnlinkGuard(std::string path) : path_(std::move(path)) {}
  UnlinkGuard(const UnlinkGuard&) = delete;
  UnlinkGuard& operator=(const UnlinkGuard&) = delete;
  ~UnlinkGuard() {
    if (armed_) shm_unlink(path_.c_str());
  }
  void Arm() { armed_ = true; }
  void Dismiss() { armed_ = false; }

 private:
  std::string path_;
  bool armed_ = false;
};

}  // namespace

namespace internal {

std::string DecodeSegmentHeader(const SegmentHeader& header, int64_t object_size,
                                SegmentMeta* meta) {
  return DecodeHeader(header, object_size, meta);
}

std::string EncodeSegmentHeader(const SegmentMeta& meta, SegmentHeader* header) {
  std::string reason = CheckMeta(meta);
  if (reason.empty()) *header = EncodeHeader(meta);
  return reason;
}

}  // namespace internal

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

  UnlinkGuard guard("/" + name);
  const char* doing = "creating";
  try {
    bip::shared_memory_object shm(bip::create_only, name.c_str(), bip::read_write,
                                  bip::permissions(file_mode));
    guard.Arm();
    const int fd = shm.get_mapping_handle().handle;
    doing = "setting the mode of";
    if (fchmod(fd, file_mode) != 0) {
      return OsError(errno, absl::StrCat(doing, " shared memory object '", name, "'"));
    }
    doing = "reserving space for";
    int rc;
    do {
      rc = fallocate(fd, 0, 0, static_cast<off_t>(total_bytes));
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) {
      const int err = errno;
      if (err == ENOSPC || err == ENOMEM || err == EFBIG) return NoSpace(stored.name, total_bytes);
      if (err != EOPNOTSUPP) {
        return OsError(err, absl::StrCat(doing, " shared memory object '", name, "'"));
      }
      if (ftruncate(fd, static_cast<off_t>(total_bytes)) != 0) {
        return OsError(errno, absl::StrCat(doing, " shared memory object '", name, "'"));
      }
    }
    struct stat st {};
    if (fstat(fd, &st) != 0) {
      return OsError(errno, absl::StrCat(doing, " shared memory object '", name, "'"));
    }
    if (st.st_size != total_bytes) {
      return absl::InternalError(absl::StrCat("shared memory object '", name, "' has ", st.st_size,
                                              " bytes after reserving ", total_bytes));
    }
    doing = "mapping";
    auto mapping = std::make_shared<Mapping>();
    mapping->region = bip::mapped_region(shm, bip::read_write, 0, static_cast<size_t>(total_bytes));
    auto* base = static_cast<std::byte*>(mapping->region.get_address());
    std::memcpy(base, &header, sizeof(header));

    Segment seg;
    seg.dev_ = st.st_dev;
    seg.ino_ = st.st_ino;
    seg.os_name_ = name;
    seg.meta_ = std::move(stored);
    seg.data_ = seg.meta_.data_size_bytes > 0 ? base + kDataOffset : nullptr;
    seg.writable_ = true;
    seg.mapping_ = std::move(mapping);
    guard.Dismiss();
    return seg;
  } catch (const bip::interprocess_exception& e) {
    return FromInterprocess(e, absl::StrCat(doing, " shared memory object '", name, "'"));
  } catch (...) {
    return FromOtherException(absl::StrCat(doing, " shared memory object '", name, "'"));
  }
}

absl::StatusOr<Segment> Segment::Open(std::string_view os_name, Access access) {
  if (!IsValidOsName(os_name)) return BadOsName(os_name);
  const std::string name(os_name);
  const char* doing = "opening";
  try {
    bip::shared_memory_object shm(bip::open_only, name.c_str(), BoostMode(access));
    const int fd = shm.get_mapping_handle().handle;
    SegmentMeta meta;
    SHMARRAY_RETURN_IF_ERROR(ReadHeader(fd, name, &meta));
    struct stat st {};
    if (fstat(fd, &st) != 0) {
      return OsError(errno, absl::StrCat(doing, " shared memory object '", name, "'"));
    }
    const int64_t total_bytes = kDataOffset + meta.data_size_bytes;
    if (st.st_size != total_bytes) {  // changed under us since ReadHeader
      return absl::DataLossError(absl::StrCat("segment '", name, "' changed size while opening"));
    }
    doing = "mapping";
    auto mapping = std::make_shared<Mapping>();
    mapping->region =
        bip::mapped_region(shm, BoostMode(access), 0, static_cast<size_t>(total_bytes));
    auto* base = static_cast<std::byte*>(mapping->region.get_address());

    Segment seg;
    seg.dev_ = st.st_dev;
    seg.ino_ = st.st_ino;
    seg.os_name_ = name;
    seg.meta_ = std::move(meta);
    seg.data_ = seg.meta_.data_size_bytes > 0 ? base + kDataOffset : nullptr;
    seg.writable_ = access == Access::kReadWrite;
    seg.mapping_ = std::move(mapping);
    return seg;
  } catch (const bip::interprocess_exception& e) {
    return FromInterprocess(e, absl::StrCat(doing, " shared memory object '", name, "'"));
  } catch (...) {
    return FromOtherException(absl::StrCat(doing, " shared memory object '", name, "'"));
  }
}

absl::Status Segment::Unlink(std::string_view os_name) {
  if (!IsValidOsName(os_name)) return BadOsName(os_name);
  const std::string name(os_name);
  const std::string path = "/" + name;
  if (shm_unlink(path.c_str()) != 0) {
    return OsError(errno, absl::StrCat("removing shared memory object '", name, "'"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> Segment::List(std::string_view prefix) {
  const std::string want = std::string(prefix) + ".";
  std::vector<std::string> names;
  try {
    DIR* dir = opendir(kShmDir);
    if (dir == nullptr) {
      return absl::InternalError(
          absl::StrCat("listing ", kShmDir, ": ", std::system_category().message(errno)));
    }
    while (true) {
      errno = 0;
      const dirent* entry = readdir(dir);
      if (entry == nullptr) break;
      std::string_view entry_name(entry->d_name);
      if (entry_name == "." || entry_name == "..") continue;
      if (entry_name.substr(0, want.size()) == want) names.emplace_back(entry_name);
    }
    const int err = errno;
    closedir(dir);
    if (err != 0) {
      return absl::InternalError(
          absl::StrCat("listing ", kShmDir, ": ", std::system_category().message(err)));
    }
    std::sort(names.begin(), names.end());
  } catch (...) {
    return FromOtherException(absl::StrCat("listing ", kShmDir));
  }
  return names;
}

Segment::Segment(Segment&& other) noexcept
    : dev_(std::exchange(other.dev_, 0)),
      ino_(std::exchange(other.ino_, 0)),
      os_name_(std::move(other.os_name_)),
      meta_(std::move(other.meta_)),
      mapping_(std::move(other.mapping_)),
      data_(std::exchange(other.data_, nullptr)),
      writable_(std::exchange(other.writable_, false)) {}

Segment& Segment::operator=(Segment&& other) noexcept {
  if (this != &other) {
    dev_ = std::exchange(other.dev_, 0);
    ino_ = std::exchange(other.ino_, 0);
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
  std::memcpy(mapping_->region.get_address(), &header, sizeof(header));
  meta_.state = SegmentState::kCommitted;
  return absl::OkStatus();
}

absl::Status Segment::Seal() {
  if (!writable_ || mapping_ == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot seal segment '", os_name_, "': the handle is read-only"));
  }
  const char* doing = "sealing";
  try {
    // Reopen by name, but change the mode only if it is still our object.
    bip::shared_memory_object shm(bip::open_only, os_name_.c_str(), bip::read_only);
    const int fd = shm.get_mapping_handle().handle;
    struct stat st {};
    if (fstat(fd, &st) != 0) {
      return OsError(errno, absl::StrCat(doing, " shared memory object '", os_name_, "'"));
    }
    if (st.st_dev != dev_ || st.st_ino != ino_) {
      return absl::NotFoundError(absl::StrCat("cannot seal segment '", os_name_,
                                              "': the name now refers to another object"));
    }
    if (fchmod(fd, st.st_mode & 0555) != 0) {
      return OsError(errno, absl::StrCat(doing, " shared memory object '", os_name_, "'"));
    }
  } catch (const bip::interprocess_exception& e) {
    return FromInterprocess(e, absl::StrCat(doing, " shared memory object '", os_name_, "'"));
  } catch (...) {
    return FromOtherException(absl::StrCat(doing, " shared memory object '", os_name_, "'"));
  }
  SegmentMeta sealed = meta_;
  sealed.readonly = true;
  const SegmentHeader header = EncodeHeader(sealed);
  std::memcpy(mapping_->region.get_address(), &header, sizeof(header));
  meta_.readonly = true;
  return absl::OkStatus();
}

std::shared_ptr<const void> Segment::mapping() const { return mapping_; }

absl::StatusOr<std::shared_ptr<const void>> MapDataRegion(std::string_view os_name,
                                                          Segment::Access access,
                                                          uint64_t expected_generation,
                                                          int64_t size_bytes, std::byte** data) {
  if (data == nullptr) return absl::InvalidArgumentError("MapDataRegion: data is null");
  *data = nullptr;
  if (!IsValidOsName(os_name)) return BadOsName(os_name);
  const std::string name(os_name);
  if (size_bytes < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot map ", size_bytes, " bytes of segment '", name, "'"));
  }
  const char* doing = "opening";
  try {
    bip::shared_memory_object shm(bip::open_only, name.c_str(), BoostMode(access));
    SegmentMeta meta;
    SHMARRAY_RETURN_IF_ERROR(ReadHeader(shm.get_mapping_handle().handle, name, &meta));
    if (meta.generation != expected_generation) {
      return absl::AbortedError(absl::StrCat(
          "array '", meta.name, "' was replaced: expected generation ",
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
    auto owner = std::make_shared<bip::mapped_region>();
    if (size_bytes > 0) {
      doing = "mapping";
      *owner =
          bip::mapped_region(shm, BoostMode(access), kDataOffset, static_cast<size_t>(size_bytes));
      *data = static_cast<std::byte*>(owner->get_address());
    }
    return std::shared_ptr<const void>(std::move(owner));
  } catch (const bip::interprocess_exception& e) {
    return FromInterprocess(e, absl::StrCat(doing, " shared memory object '", name, "'"));
  } catch (...) {
    return FromOtherException(absl::StrCat(doing, " shared memory object '", name, "'"));
  }
}

}  // namespace shmarray::shm
