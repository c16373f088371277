// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: catalog_file.cc
// -----------------------------------------------------------------------------
// The catalog file's writer (the daemon) and reader (clients); see
// catalog_file.h. Shared words are accessed with std::atomic_ref (the
// seqlock pattern: the writer stores the sequence word odd, a release fence,
// the record with relaxed stores, then the word even with release; the
// reader loads the word with acquire, the record with relaxed loads, an
// acquire fence, and the word again). The records are copied as 64-bit
// words, so no access is a data race in the C++ sense.

#include "shmarray/shm/catalog_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "shmarray/shm/status.h"

namespace shmarray::shm {

using internal::CatalogFileHeader;
using internal::CatalogRecord;

static_assert(std::is_standard_layout_v<CatalogRecord> &&
              std::is_trivially_copyable_v<CatalogRecord>);
static_assert(std::has_unique_object_representations_v<CatalogRecord>, "no padding");
static_assert(sizeof(CatalogRecord) % 8 == 0);
static_assert(std::has_unique_object_representations_v<CatalogFileHeader>, "no padding");
static_assert(sizeof(CatalogFileHeader) <= 4096);
static_assert(offsetof(CatalogFileHeader, state) % 8 == 0);
static_assert(std::atomic_ref<uint64_t>::is_always_lock_free);

namespace internal {

uint64_t CatalogNameHash(std::string_view name) {
  uint64_t hash = 14695981039346656037ull;  // FNV-1a 64
  for (unsigned char c : name) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return hash;
}

}  // namespace internal

namespace {

constexpr uint64_t kHeaderBytes = 4096;
constexpr size_t kRecordWords = sizeof(CatalogRecord) / 8;
constexpr int kTornRetries = 64;

std::string CatalogPath(std::string_view dir) {
  return absl::StrCat("/dev/shm/", absl::string_view(dir.data(), dir.size()), "/",
                      kCatalogFileName);
}

bool IsValidFileName(std::string_view name) {
  if (name.empty() || name.size() > 255 || name == "." || name == "..") return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

absl::Status Os(int err, const std::string& doing) {
  absl::StatusCode code = absl::StatusCode::kInternal;
  if (err == ENOENT) code = absl::StatusCode::kNotFound;
  if (err == EACCES || err == EPERM) code = absl::StatusCode::kPermissionDenied;
  if (err == ENOSPC || err == ENOMEM) code = absl::StatusCode::kResourceExhausted;
  if (err == ELOOP) code = absl::StatusCode::kFailedPrecondition;
  return absl::Status(code, absl::StrCat(doing, ": ", std::system_category().message(err)));
}

uint64_t* Words(std::byte* p) { return reinterpret_cast<uint64_t*>(p); }
const uint64_t* Words(const std::byte* p) { return reinterpret_cast<const uint64_t*>(p); }

uint64_t LoadWord(const uint64_t* w, std::memory_order order) {
  return std::atomic_ref<uint64_t>(*const_cast<uint64_t*>(w)).load(order);
}
void StoreWord(uint64_t* w, uint64_t value, std::memory_order order) {
  std::atomic_ref<uint64_t>(*w).store(value, order);
}

// Marks an existing catalog file at `path` closed, without reading it: only
// a regular file of ours is touched.
void MarkOldFileClosed(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return;
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
      st.st_size < static_cast<off_t>(sizeof(CatalogFileHeader))) {
    ::close(fd);
    return;
  }
  (void)fchmod(fd, 0600);
  const int wfd = ::open(path.c_str(), O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  struct stat wst {};
  if (wfd >= 0 && fstat(wfd, &wst) == 0 && wst.st_dev == st.st_dev && wst.st_ino == st.st_ino) {
    // One aligned 8-byte word whose values differ in one byte: a reader
    // sees the old or the new value.
    const uint64_t closed = internal::kCatalogClosed;
    (void)pwrite(wfd, &closed, sizeof(closed), offsetof(CatalogFileHeader, state));
  }
  if (wfd >= 0) ::close(wfd);
  ::close(fd);
}

}  // namespace

// --- Writer -----------------------------------------------------------------

absl::StatusOr<std::unique_ptr<CatalogFileWriter>> CatalogFileWriter::Create(std::string_view dir,
                                                                             uint32_t capacity,
                                                                             mode_t mode) {
  if (!IsValidFileName(dir)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid segment directory '", std::string(dir), "'"));
  }
  if (capacity == 0) return absl::InvalidArgumentError("catalog capacity is 0");
  capacity = std::min(capacity, internal::kCatalogMaxRecords);
  const uint32_t slots = std::max<uint32_t>(64, std::bit_ceil(capacity * 2u));
  std::unique_ptr<CatalogFileWriter> w(new CatalogFileWriter);
  w->path_ = CatalogPath(dir);
  CatalogFileHeader& h = w->header_;
  std::memcpy(h.magic, internal::kCatalogMagic, sizeof(h.magic));
  h.version = internal::kCatalogVersion;
  h.header_bytes = kHeaderBytes;
  h.record_bytes = sizeof(CatalogRecord);
  h.record_capacity = capacity;
  h.index_slots = slots;
  h.index_offset = kHeaderBytes;
  const uint64_t index_bytes = (uint64_t{slots} * 8 + 4095) / 4096 * 4096;
  h.records_offset = kHeaderBytes + index_bytes;
  h.file_bytes = h.records_offset + uint64_t{capacity} * sizeof(CatalogRecord);
  h.file_bytes = (h.file_bytes + 4095) / 4096 * 4096;
  h.state = internal::kCatalogLive;

  MarkOldFileClosed(w->path_);
  const std::string tmp = w->path_ + ".new";
  (void)::unlink(tmp.c_str());
  const int fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return Os(errno, absl::StrCat("creating ", tmp));
  auto fail = [&](absl::Status s) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return s;
  };
  // Sparse: the header and the index are reserved now, the records page by
  // page as they are used (Reserve).
  if (ftruncate(fd, static_cast<off_t>(h.file_bytes)) != 0) {
    return fail(Os(errno, absl::StrCat("sizing ", tmp)));
  }
  if (fallocate(fd, 0, 0, static_cast<off_t>(h.records_offset)) != 0 && errno != EOPNOTSUPP) {
    return fail(Os(errno, absl::StrCat("reserving space for ", tmp)));
  }
  std::byte* addr = nullptr;
  absl::StatusOr<std::shared_ptr<const void>> mapping = internal::MapSharedRange(
      fd, static_cast<size_t>(h.file_bytes), PROT_READ | PROT_WRITE, 0, &addr);
  if (!mapping.ok()) return fail(mapping.status());
  std::memcpy(addr, &h, sizeof(h));
  if (fchmod(fd, mode & 0440) != 0)
    return fail(Os(errno, absl::StrCat("setting the mode of ", tmp)));
  struct stat st {};
  if (fstat(fd, &st) != 0) return fail(Os(errno, absl::StrCat("checking ", tmp)));
  if (::rename(tmp.c_str(), w->path_.c_str()) != 0) {
    return fail(Os(errno, absl::StrCat("publishing ", w->path_)));
  }
  w->fd_ = fd;
  w->reserved_ = h.records_offset;
  w->dev_ = st.st_dev;
  w->ino_ = st.st_ino;
  w->mapping_ = *std::move(mapping);
  w->base_ = addr;
  w->seq_.assign(capacity, 0);
  w->slots_.assign(slots, 0);
  w->free_.reserve(capacity);
  for (uint32_t r = capacity; r > 0; --r) w->free_.push_back(r - 1);
  return w;
}

CatalogFileWriter::~CatalogFileWriter() { Close(); }

void CatalogFileWriter::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (closed_ || base_ == nullptr) return;
  closed_ = true;
  StoreWord(Words(base_ + offsetof(CatalogFileHeader, state)), internal::kCatalogClosed,
            std::memory_order_release);
  struct stat st {};
  if (::lstat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_) {
    ::unlink(path_.c_str());
  }
  mapping_.reset();
  base_ = nullptr;
}

bool CatalogFileWriter::Reserve(uint64_t end) {
  if (end <= reserved_) return true;
  constexpr uint64_t kStep = uint64_t{1} << 20;
  const uint64_t want = std::min(header_.file_bytes, (end + kStep - 1) / kStep * kStep);
  int rc;
  do {
    rc = fallocate(fd_, 0, static_cast<off_t>(reserved_), static_cast<off_t>(want - reserved_));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0 && errno != EOPNOTSUPP) return false;
  reserved_ = want;
  return true;
}

void CatalogFileWriter::CheckFaulted() {
  if (!closed_ && SegmentFaulted(base_ + header_.file_bytes - 1)) Close();
}

void CatalogFileWriter::StoreSlot(uint32_t slot, uint64_t value) {
  slots_[slot] = value;
  StoreWord(Words(base_ + header_.index_offset) + slot, value, std::memory_order_release);
}

void CatalogFileWriter::WriteRecord(uint32_t record, const CatalogRecord& value) {
  uint64_t* dst = Words(base_ + header_.records_offset + uint64_t{record} * sizeof(CatalogRecord));
  const auto* src = reinterpret_cast<const uint64_t*>(&value);
  const uint64_t seq = seq_[record];
  StoreWord(&dst[0], seq + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  for (size_t i = 1; i < kRecordWords; ++i) StoreWord(&dst[i], src[i], std::memory_order_relaxed);
  StoreWord(&dst[0], seq + 2, std::memory_order_release);
  seq_[record] = seq + 2;
}

void CatalogFileWriter::InsertSlot(uint64_t hash, uint32_t record) {
  const uint32_t mask = header_.index_slots - 1;
  const uint64_t value = (hash & 0xFFFFFFFF00000000ull) | (uint64_t{record} + 1);
  for (uint32_t i = static_cast<uint32_t>(hash) & mask;; i = (i + 1) & mask) {
    if (slots_[i] == 0 || slots_[i] == internal::kCatalogTombstone) {
      if (slots_[i] == internal::kCatalogTombstone) --tombstones_;
      StoreSlot(i, value);
      return;
    }
  }
}

void CatalogFileWriter::RebuildIndex() {
  // Readers probing meanwhile may miss an entry; they then ask the daemon.
  for (uint32_t i = 0; i < header_.index_slots; ++i) {
    if (slots_[i] != 0) StoreSlot(i, 0);
  }
  tombstones_ = 0;
  for (const auto& [name, record] : by_name_) InsertSlot(internal::CatalogNameHash(name), record);
}

bool CatalogFileWriter::Put(const CatalogFileEntry& e) {
  if (closed_) return false;
  const size_t ndim = e.layout.shape.size();
  if (e.name.empty() || e.name.size() > kMaxNameLength || e.base_name.size() > kMaxNameLength ||
      e.segment.empty() || e.segment.size() >= internal::kCatalogSegmentBytes ||
      e.format.size() >= internal::kCatalogFormatBytes || ndim > static_cast<size_t>(kMaxDims) ||
      e.layout.strides.size() != ndim) {
    Remove(e.name);
    return false;
  }
  auto it = by_name_.find(e.name);
  uint32_t record;
  bool fresh = false;
  if (it != by_name_.end()) {
    record = it->second;
  } else {
    if (free_.empty()) return false;
    record = free_.back();
    fresh = true;
    if (!Reserve(header_.records_offset + (uint64_t{record} + 1) * sizeof(CatalogRecord))) {
      return false;
    }
  }
  CatalogRecord r;
  std::memset(&r, 0, sizeof(r));
  r.live = 1;
  r.kind = static_cast<uint32_t>(e.kind);
  r.generation = e.generation;
  r.data_generation = e.data_generation;
  r.data_size_bytes = e.data_size_bytes;
  r.created_unix_ns = e.created_unix_ns;
  r.itemsize = e.layout.itemsize;
  r.offset = e.layout.offset;
  r.readonly = e.readonly ? 1 : 0;
  r.ndim = static_cast<uint32_t>(ndim);
  r.name_length = static_cast<uint32_t>(e.name.size());
  r.base_name_length = static_cast<uint32_t>(e.base_name.size());
  r.segment_length = static_cast<uint32_t>(e.segment.size());
  r.format_length = static_cast<uint32_t>(e.format.size());
  std::memcpy(r.name, e.name.data(), e.name.size());
  std::memcpy(r.base_name, e.base_name.data(), e.base_name.size());
  std::memcpy(r.segment, e.segment.data(), e.segment.size());
  std::memcpy(r.format, e.format.data(), e.format.size());
  for (size_t i = 0; i < ndim; ++i) {
    r.shape[i] = e.layout.shape[i];
    r.strides[i] = e.layout.strides[i];
  }
  try {
    if (fresh) {
      by_name_.emplace(e.name, record);
      free_.pop_back();
    }
  } catch (...) {
    return false;
  }
  WriteRecord(record, r);
  if (fresh) InsertSlot(internal::CatalogNameHash(e.name), record);
  CheckFaulted();
  return !closed_;
}

void CatalogFileWriter::Remove(std::string_view name) {
  if (closed_) return;
  auto it = by_name_.find(std::string(name));
  if (it == by_name_.end()) return;
  const uint32_t record = it->second;
  const uint64_t hash = internal::CatalogNameHash(name);
  const uint64_t value = (hash & 0xFFFFFFFF00000000ull) | (uint64_t{record} + 1);
  const uint32_t mask = header_.index_slots - 1;
  for (uint32_t i = static_cast<uint32_t>(hash) & mask, n = 0; n < header_.index_slots;
       i = (i + 1) & mask, ++n) {
    if (slots_[i] == 0) break;
    if (slots_[i] == value) {
      StoreSlot(i, internal::kCatalogTombstone);
      ++tombstones_;
      break;
    }
  }
  CatalogRecord r;
  std::memset(&r, 0, sizeof(r));
  WriteRecord(record, r);
  by_name_.erase(it);
  free_.push_back(record);
  if (tombstones_ > header_.index_slots / 4) RebuildIndex();
  CheckFaulted();
}

// --- Reader -----------------------------------------------------------------

absl::StatusOr<std::unique_ptr<CatalogFileReader>> CatalogFileReader::Open(std::string_view dir) {
  if (!IsValidFileName(dir)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid segment directory '", std::string(dir), "'"));
  }
  const std::string path = CatalogPath(dir);
  struct stat dst {};
  const std::string dir_path = absl::StrCat("/dev/shm/", std::string(dir));
  if (::lstat(dir_path.c_str(), &dst) != 0) return Os(errno, absl::StrCat("checking ", dir_path));
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return Os(errno, absl::StrCat("opening ", path));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (fstat(fd, &st) != 0) return Os(errno, absl::StrCat("checking ", path));
  if (!S_ISREG(st.st_mode) || !S_ISDIR(dst.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(path, " is not a regular file"));
  }
  if (st.st_uid != dst.st_uid || (st.st_mode & 022) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is not the daemon's (owner or mode differ)"));
  }
  CatalogFileHeader h;
  if (st.st_size < static_cast<off_t>(kHeaderBytes) ||
      pread(fd, &h, sizeof(h), 0) != static_cast<ssize_t>(sizeof(h))) {
    return absl::DataLossError(absl::StrCat(path, " is too short"));
  }
  auto bad = [&](const char* why) {
    return absl::DataLossError(absl::StrCat(path, " has a bad header: ", why));
  };
  if (std::memcmp(h.magic, internal::kCatalogMagic, sizeof(h.magic)) != 0) return bad("magic");
  if (h.version != internal::kCatalogVersion) return bad("version");
  if (h.header_bytes != kHeaderBytes || h.record_bytes != sizeof(CatalogRecord)) {
    return bad("sizes");
  }
  if (h.record_capacity == 0 || h.record_capacity > internal::kCatalogMaxRecords ||
      h.index_slots == 0 || !std::has_single_bit(h.index_slots) ||
      h.index_slots > 4 * internal::kCatalogMaxRecords) {
    return bad("capacity");
  }
  const uint64_t index_end = h.index_offset + uint64_t{h.index_slots} * 8;
  const uint64_t records_end =
      h.records_offset + uint64_t{h.record_capacity} * sizeof(CatalogRecord);
  if (h.index_offset < kHeaderBytes || h.index_offset % 8 != 0 || h.records_offset % 8 != 0 ||
      h.records_offset < index_end || records_end > h.file_bytes ||
      h.file_bytes != static_cast<uint64_t>(st.st_size)) {
    return bad("offsets");
  }
  if (h.state != internal::kCatalogLive) {
    return absl::FailedPreconditionError(absl::StrCat(path, " is closed"));
  }
  std::byte* addr = nullptr;
  SHMARRAY_ASSIGN_OR_RETURN(
      std::shared_ptr<const void> mapping,
      internal::MapSharedRange(fd, static_cast<size_t>(h.file_bytes), PROT_READ, 0, &addr));
  std::unique_ptr<CatalogFileReader> r(new CatalogFileReader);
  r->dir_ = std::string(dir);
  r->mapping_ = std::move(mapping);
  r->base_ = addr;
  r->header_ = h;
  return r;
}

bool CatalogFileReader::closed() const {
  return LoadWord(Words(base_ + offsetof(CatalogFileHeader, state)), std::memory_order_acquire) !=
         internal::kCatalogLive;
}

namespace {

// Validates a consistent copy of a record for `name` and fills *out.
bool DecodeRecord(const CatalogRecord& r, std::string_view name, CatalogFileEntry* out) {
  if (r.live != 1) return false;
  if (r.kind != static_cast<uint32_t>(SegmentKind::kArray) &&
      r.kind != static_cast<uint32_t>(SegmentKind::kView)) {
    return false;
  }
  if (r.name_length != name.size() || r.name_length > kMaxNameLength ||
      r.name[r.name_length] != '\0' || std::memcmp(r.name, name.data(), name.size()) != 0) {
    return false;
  }
  if (r.base_name_length > kMaxNameLength || r.base_name[r.base_name_length] != '\0') return false;
  if (r.segment_length == 0 || r.segment_length >= internal::kCatalogSegmentBytes ||
      r.segment[r.segment_length] != '\0') {
    return false;
  }
  if (r.format_length >= internal::kCatalogFormatBytes || r.format[r.format_length] != '\0') {
    return false;
  }
  if (r.ndim > static_cast<uint32_t>(kMaxDims) || r.readonly > 1 || r.itemsize <= 0 ||
      r.data_size_bytes < 0 || r.generation == 0 || r.data_generation == 0) {
    return false;
  }
  const std::string_view segment(r.segment, r.segment_length);
  if (!IsValidFileName(segment) || segment == kCatalogFileName) return false;
  try {
    out->name.assign(r.name, r.name_length);
    out->kind = static_cast<SegmentKind>(r.kind);
    out->generation = r.generation;
    out->data_generation = r.data_generation;
    out->segment.assign(segment);
    out->format.assign(r.format, r.format_length);
    out->layout.itemsize = r.itemsize;
    out->layout.offset = r.offset;
    out->layout.shape.assign(r.shape, r.shape + r.ndim);
    out->layout.strides.assign(r.strides, r.strides + r.ndim);
    out->readonly = r.readonly != 0;
    out->data_size_bytes = r.data_size_bytes;
    out->base_name.assign(r.base_name, r.base_name_length);
    out->created_unix_ns = r.created_unix_ns;
  } catch (...) {
    return false;
  }
  return true;
}

}  // namespace

bool CatalogFileReader::Lookup(std::string_view name, Hit* hit) const {
  if (hit == nullptr || name.empty() || name.size() > kMaxNameLength || closed()) return false;
  const uint64_t hash = internal::CatalogNameHash(name);
  const uint64_t tag = hash & 0xFFFFFFFF00000000ull;
  const uint32_t mask = header_.index_slots - 1;
  const uint64_t* index = Words(base_ + header_.index_offset);
  const std::byte* records = base_ + header_.records_offset;
  uint32_t i = static_cast<uint32_t>(hash) & mask;
  for (uint32_t n = 0; n < internal::kCatalogMaxProbes; ++n, i = (i + 1) & mask) {
    const uint64_t slot = LoadWord(index + i, std::memory_order_acquire);
    if (slot == 0) return false;
    if (slot == internal::kCatalogTombstone || (slot & 0xFFFFFFFF00000000ull) != tag) continue;
    const uint64_t record = (slot & 0xFFFFFFFFull) - 1;
    if (record >= header_.record_capacity) continue;
    const uint64_t* src = Words(records + record * sizeof(CatalogRecord));
    CatalogRecord copy;
    auto* dst = reinterpret_cast<uint64_t*>(&copy);
    for (int attempt = 0; attempt < kTornRetries; ++attempt) {
      const uint64_t seq1 = LoadWord(&src[0], std::memory_order_acquire);
      if (seq1 & 1) continue;
      for (size_t w = 1; w < kRecordWords; ++w)
        dst[w] = LoadWord(&src[w], std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_acquire);
      if (LoadWord(&src[0], std::memory_order_relaxed) != seq1) continue;
      dst[0] = seq1;
      if (!DecodeRecord(copy, name, &hit->entry)) break;  // another name, or invalid
      hit->record = static_cast<uint32_t>(record);
      hit->seq = seq1;
      return true;
    }
  }
  return false;
}

bool CatalogFileReader::Unchanged(const Hit& hit) const {
  if (hit.record >= header_.record_capacity || closed()) return false;
  std::atomic_thread_fence(std::memory_order_acquire);
  const uint64_t* src =
      Words(base_ + header_.records_offset + uint64_t{hit.record} * sizeof(CatalogRecord));
  return LoadWord(&src[0], std::memory_order_acquire) == hit.seq;
}

}  // namespace shmarray::shm
