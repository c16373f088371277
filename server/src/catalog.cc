// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: catalog.cc
// -----------------------------------------------------------------------------
// Catalog implementation: names, quotas, generations, views, recovery, write
// gates and the mapping cache. See catalog.h.

#include "shmarray/server/catalog.h"

#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <limits>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "clock_internal.h"
#include "shmarray/server/log.h"
#include "shmarray/shm/array_name.h"
#include "shmarray/shm/catalog_file.h"
#include "shmarray/shm/errors.h"
#include "shmarray/shm/layout.h"
#include "shmarray/shm/status.h"

namespace shmarray::server {
namespace {

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;
constexpr int64_t kDefaultMaxArrays = 100000;
constexpr char kTokenMark = '>';

using internal::NowNs;
using shm::Quoted;

std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "%" PRIx64, v);
  return buf;
}

// Parses a lowercase/uppercase hex number of 1-16 digits; nullopt otherwise.
std::optional<uint64_t> ParseHex(std::string_view s) {
  if (s.empty() || s.size() > 16) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else {
      return std::nullopt;
    }
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  return v;
}

}  // namespace

Catalog::Catalog(CatalogOptions options)
    : options_([&] {
        if (options.max_arrays <= 0) options.max_arrays = kDefaultMaxArrays;
        if (options.mapping_cache_size == 0) options.mapping_cache_size = 1;
        return options;
      }()) {}

Catalog::~Catalog() = default;

std::string Catalog::SegmentName(uint64_t generation) const {
  return absl::StrCat(options_.prefix, "/", Hex(generation));
}

// One per array: counts the writes in flight and, once closed, refuses new
// ones (see Seal).
struct Catalog::WriteTicket::Gate {
  explicit Gate(uint64_t gen, bool sealed) : generation(gen), closed(sealed) {}
  const uint64_t generation;
  absl::Mutex mu;
  int writers ABSL_GUARDED_BY(mu) = 0;
  bool closed ABSL_GUARDED_BY(mu);
};

absl::Status Catalog::WriteTicket::Run(const std::function<absl::Status()>& write) const {
  {
    absl::MutexLock lock(&gate_->mu);
    if (gate_->closed) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot write to ", Quoted(name_), ": it was sealed during the write"));
    }
    ++gate_->writers;
  }
  absl::Status status = write();
  absl::MutexLock lock(&gate_->mu);
  --gate_->writers;
  return status;
}

absl::StatusOr<std::unique_ptr<Catalog>> Catalog::Open(CatalogOptions options,
                                                       std::vector<std::string>* actions) {
  if (options.prefix.empty()) return absl::InvalidArgumentError("catalog prefix is empty");
  std::unique_ptr<Catalog> catalog(new Catalog(std::move(options)));
  SHMARRAY_RETURN_IF_ERROR(catalog->Recover(actions));
  return catalog;
}

absl::Status Catalog::Recover(std::vector<std::string>* actions) {
  auto note = [&](std::string line) {
    if (actions != nullptr) actions->push_back(std::move(line));
  };
  auto remove = [&](const std::string& os_name, const std::string& why) {
    absl::Status s = shm::Segment::Unlink(os_name);
    if (s.ok() || absl::IsNotFound(s)) {
      note(absl::StrCat("removed segment ", os_name, ": ", why));
    } else {
      note(absl::StrCat("could not remove segment ", os_name, " (", why, "): ", s.message()));
    }
  };
  auto ignore = [&](const std::string& os_name, const std::string& why) {
    note(absl::StrCat("ignored segment ", os_name, ": ", why));
  };
  const uid_t uid = ::geteuid();
  // Mode bits the daemon never sets: anything for others, execute, setuid...
  // (0660 is what it sets with --group, 0600 without; a restart with another
  // --group setting still owns the segments of the previous run.)
  const mode_t foreign_bits = static_cast<mode_t>(07777 & ~0660);

  SHMARRAY_ASSIGN_OR_RETURN(std::string prepared, shm::Segment::PrepareDirectory(
                                                      options_.prefix, options_.group, &dir_lock_));
  if (!prepared.empty()) note(prepared);
  SHMARRAY_ASSIGN_OR_RETURN(std::vector<std::string> names, shm::Segment::List(options_.prefix));
  std::vector<shm::SegmentMeta> arrays;
  std::vector<shm::SegmentMeta> views;
  for (const std::string& os_name : names) {
    const std::string_view leaf = std::string_view(os_name).substr(options_.prefix.size() + 1);
    // The catalog file (and its temporary name) is the daemon's own, not a segment.
    if (leaf.starts_with(shm::kCatalogFileName)) continue;
    std::optional<uint64_t> gen = ParseHex(leaf);
    // Files the daemon could have made: regular, not a symlink, its uid, no
    // mode bit it never sets. Only these are ever adopted or removed.
    struct stat st {};
    const std::string path = absl::StrCat("/dev/shm/", os_name);
    if (::lstat(path.c_str(), &st) != 0) continue;  // gone meanwhile
    if (!S_ISREG(st.st_mode)) {
      ignore(os_name, S_ISLNK(st.st_mode) ? "a symbolic link" : "not a regular file");
      continue;
    }
    if (st.st_uid != uid) {
      ignore(os_name,
             absl::StrCat("owned by uid ", st.st_uid, ", not by this daemon (uid ", uid, ")"));
      continue;
    }
    if ((st.st_mode & foreign_bits) != 0) {
      char mode[16];
      std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
      ignore(os_name, absl::StrCat("mode ", mode, " is not one this daemon sets"));
      continue;
    }
    if (!gen || *gen == 0) {
      ignore(os_name, "not a segment name");
      continue;
    }
    absl::StatusOr<shm::Segment> seg = shm::Segment::Open(os_name, shm::Segment::Access::kReadOnly);
    if (!seg.ok()) {
      if (absl::IsDataLoss(seg.status())) {
        remove(os_name, absl::StrCat("corrupt (", seg.status().message(), ")"));
      } else if (!absl::IsNotFound(seg.status())) {
        ignore(os_name, std::string(seg.status().message()));
      }
      continue;
    }
    if (seg->owner_uid() != uid || (seg->file_mode() & foreign_bits) != 0) {
      ignore(os_name, "changed while it was checked");  // replaced after the lstat
      continue;
    }
    const shm::SegmentMeta& meta = seg->meta();
    if (meta.state != shm::SegmentState::kCommitted) {
      remove(os_name, absl::StrCat("half-created array ", Quoted(meta.name)));
      continue;
    }
    if (meta.generation != *gen) {
      remove(os_name,
             absl::StrCat("header generation ", Hex(meta.generation), " does not match its name"));
      continue;
    }
    if (!shm::ArrayName::IsValid(meta.name)) {
      remove(os_name, absl::StrCat("invalid name ", Quoted(meta.name)));
      continue;
    }
    if (meta.kind == shm::SegmentKind::kArray) {
      arrays.push_back(meta);
    } else {
      views.push_back(meta);
    }
  }

  absl::MutexLock lock(&mu_);
  // Newest first (creation time, then generation), so that a duplicate name
  // keeps the newest of the daemon's own segments.
  auto newest_first = [](const shm::SegmentMeta& a, const shm::SegmentMeta& b) {
    if (a.created_unix_ns != b.created_unix_ns) return a.created_unix_ns > b.created_unix_ns;
    return a.generation > b.generation;
  };
  std::sort(arrays.begin(), arrays.end(), newest_first);
  std::sort(views.begin(), views.end(), newest_first);
  std::map<uint64_t, std::string> array_by_generation;
  for (const shm::SegmentMeta& meta : arrays) {
    const std::string os_name = SegmentName(meta.generation);
    if (entries_.count(meta.name) > 0) {
      remove(os_name, absl::StrCat("older duplicate of ", Quoted(meta.name)));
      continue;
    }
    CatalogEntry e;
    try {
      e.format = shm::Format::Parse(meta.format);
      meta.layout.CheckWithin(meta.data_size_bytes);
    } catch (...) {
      remove(os_name, absl::StrCat("bad format or layout for ", Quoted(meta.name), ": ",
                                   shm::StatusFromCurrentException().message()));
      continue;
    }
    e.name = meta.name;
    e.kind = shm::SegmentKind::kArray;
    e.generation = meta.generation;
    e.segment_name = os_name;
    e.own_segment_name = os_name;
    e.layout = meta.layout;
    e.readonly = meta.readonly;
    e.data_size_bytes = meta.data_size_bytes;
    e.created_unix_ns = meta.created_unix_ns;
    bytes_in_use_ += meta.data_size_bytes;
    array_by_generation[meta.generation] = meta.name;
    note(absl::StrCat("adopted ", Quoted(e.name), " ", e.format.canonical(), " ",
                      shm::TupleString(e.layout.shape, ","), " ", e.data_size_bytes, " bytes gen ",
                      Hex(e.generation), e.readonly ? " (sealed)" : ""));
    gates_[e.name] = std::make_shared<WriteTicket::Gate>(e.generation, e.readonly);
    entries_.emplace(e.name, std::move(e));
  }
  for (const shm::SegmentMeta& meta : views) {
    const std::string os_name = SegmentName(meta.generation);
    auto base = array_by_generation.find(meta.base_generation);
    if (base == array_by_generation.end() || base->second != meta.base_name) {
      remove(os_name,
             absl::StrCat("view ", Quoted(meta.name), " whose base ", Quoted(meta.base_name),
                          " generation ", Hex(meta.base_generation), " is gone"));
      continue;
    }
    if (entries_.count(meta.name) > 0) {
      remove(os_name, absl::StrCat("duplicate of ", Quoted(meta.name)));
      continue;
    }
    const CatalogEntry& b = entries_.at(meta.base_name);
    CatalogEntry e;
    try {
      e.format = shm::Format::Parse(meta.format);
      meta.layout.CheckWithin(b.data_size_bytes);
    } catch (...) {
      remove(os_name, absl::StrCat("bad format or layout for view ", Quoted(meta.name), ": ",
                                   shm::StatusFromCurrentException().message()));
      continue;
    }
    e.name = meta.name;
    e.kind = shm::SegmentKind::kView;
    e.generation = meta.generation;
    e.segment_name = b.segment_name;
    e.own_segment_name = os_name;
    e.layout = meta.layout;
    e.readonly = meta.readonly;
    e.data_size_bytes = b.data_size_bytes;
    e.base = b.name;
    e.base_generation = b.generation;
    e.created_unix_ns = meta.created_unix_ns;
    views_of_[e.base].insert(e.name);
    note(absl::StrCat("adopted view ", Quoted(e.name), " of ", Quoted(e.base), " ",
                      shm::TupleString(e.layout.shape, ","), " gen ", Hex(e.generation)));
    entries_.emplace(e.name, std::move(e));
  }
  if (static_cast<int64_t>(entries_.size()) > options_.max_arrays) {
    note(absl::StrCat("adopted ", entries_.size(), " entries, over --max-arrays ",
                      options_.max_arrays));
  }
  return absl::OkStatus();
}

void Catalog::SetListener(Listener listener) {
  absl::MutexLock lock(&mu_);
  listener_ = std::move(listener);
}

absl::Status Catalog::CheckQuotaLocked(std::string_view name, int64_t more_bytes) const {
  const int64_t count = static_cast<int64_t>(entries_.size() + pending_.size());
  if (count >= options_.max_arrays) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot create ", Quoted(name), ": quota --max-arrays exceeded (limit ",
                     options_.max_arrays, " entries, ", count, " in use)"));
  }
  if (options_.max_bytes > 0 && more_bytes > 0) {
    const int64_t used = bytes_in_use_ + pending_bytes_;
    if (more_bytes > options_.max_bytes - used) {
      return absl::ResourceExhaustedError(
          absl::StrCat("cannot create ", Quoted(name), " of ", more_bytes,
                       " bytes: quota --max-bytes exceeded (limit ", options_.max_bytes, " bytes, ",
                       used, " in use)"));
    }
  }
  return absl::OkStatus();
}

CatalogEntry Catalog::SnapshotLocked(const CatalogEntry& e) const {
  CatalogEntry out = e;
  if (e.kind == shm::SegmentKind::kView) {
    auto base = entries_.find(e.base);
    if (base != entries_.end() && base->second.readonly) out.readonly = true;
  }
  return out;
}

void Catalog::EmitLocked(CatalogEventType type, const CatalogEntry& entry) {
  if (listener_) listener_(CatalogEvent{type, SnapshotLocked(entry), NowNs()});
}

uint64_t Catalog::NewGenerationLocked() {
  if (!test_generations_.empty()) {
    const uint64_t g = test_generations_.front();
    test_generations_.erase(test_generations_.begin());
    return g;
  }
  for (;;) {
    uint64_t g = 0;
    auto* bytes = reinterpret_cast<char*>(&g);
    size_t got = 0;
    while (got < sizeof(g)) {
      const ssize_t n = ::getrandom(bytes + got, sizeof(g) - got, 0);
      if (n < 0) {
        SHMARRAY_CHECK(errno == EINTR);  // getrandom(0) only fails on a signal
        continue;
      }
      got += static_cast<size_t>(n);
    }
    if (g != 0) return g;
  }
}

absl::StatusOr<shm::Segment> Catalog::CreateSegment(shm::SegmentMeta* meta) {
  // A name that exists is not ours to take (another process made it, or a
  // 2^-64 coincidence): draw again. Never the user's "already exists".
  constexpr int kAttempts = 16;
  absl::Status last;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    {
      absl::MutexLock lock(&mu_);
      meta->generation = NewGenerationLocked();
    }
    const std::string os_name = SegmentName(meta->generation);
    absl::StatusOr<shm::Segment> seg = shm::Segment::Create(os_name, *meta, options_.mode);
    if (!absl::IsAlreadyExists(seg.status())) return seg;
    last = seg.status();
    Log(LogLevel::kWarn, absl::StrCat("segment ", os_name, " exists already (", last.message(),
                                      "); trying another generation"));
  }
  return absl::InternalError(absl::StrCat("cannot create a segment for ", Quoted(meta->name), ": ",
                                          kAttempts, " generations in a row were taken (",
                                          last.message(), ")"));
}

absl::StatusOr<CatalogEntry> Catalog::CreateArray(std::string_view name, const shm::Format& format,
                                                  const shm::Layout& layout,
                                                  const Initializer& init) {
  SHMARRAY_RETURN_IF_ERROR(shm::ArrayName::Validate(name));
  int64_t nbytes = 0;
  try {
    layout.CheckWithin(std::numeric_limits<int64_t>::max());
    nbytes = layout.nbytes();
  } catch (...) {
    return shm::StatusFromCurrentException();
  }
  {
    absl::MutexLock lock(&mu_);
    if (entries_.count(name) > 0 || pending_.count(name) > 0) {
      return absl::AlreadyExistsError(absl::StrCat("array ", Quoted(name), " already exists"));
    }
    SHMARRAY_RETURN_IF_ERROR(CheckQuotaLocked(name, nbytes));
    pending_.emplace(std::string(name), nbytes);
    pending_bytes_ += nbytes;
  }
  auto release = [&] {
    absl::MutexLock lock(&mu_);
    pending_.erase(std::string(name));
    pending_bytes_ -= nbytes;
  };

  shm::SegmentMeta meta;
  meta.kind = shm::SegmentKind::kArray;
  meta.name = std::string(name);
  meta.format = format.canonical();
  meta.layout = layout;
  meta.readonly = false;
  meta.data_size_bytes = nbytes;
  meta.created_unix_ns = NowNs();
  absl::StatusOr<shm::Segment> seg = CreateSegment(&meta);
  if (!seg.ok()) {
    release();
    return seg.status();
  }
  const uint64_t generation = meta.generation;
  const std::string os_name = seg->os_name();
  absl::Status status;
  if (init) {
    try {
      shm::AnyView view(format, layout, seg->data(), false, seg->mapping());
      status = init(view);
    } catch (...) {
      status = shm::StatusFromCurrentException();
    }
    if (status.ok() && seg->data() != nullptr && shm::SegmentFaulted(seg->data())) {
      status = absl::DataLossError(
          absl::StrCat("cannot create ", Quoted(name), ": its new segment ", os_name,
                       " was truncated by another process while it was filled"));
    }
  }
  if (status.ok()) status = seg->Commit();
  if (!status.ok()) {
    (void)shm::Segment::Unlink(os_name);
    release();
    return status;
  }

  CatalogEntry e;
  e.name = std::string(name);
  e.kind = shm::SegmentKind::kArray;
  e.generation = generation;
  e.segment_name = os_name;
  e.own_segment_name = os_name;
  e.format = format;
  e.layout = layout;
  e.readonly = false;
  e.data_size_bytes = nbytes;
  e.created_unix_ns = meta.created_unix_ns;
  {
    absl::MutexLock lock(&mu_);
    pending_.erase(e.name);
    pending_bytes_ -= nbytes;
    bytes_in_use_ += nbytes;
    entries_.emplace(e.name, e);
    gates_[e.name] = std::make_shared<WriteTicket::Gate>(generation, false);
    EmitLocked(CatalogEventType::kCreated, e);
  }
  CachePut(std::move(*seg));
  return e;
}

absl::StatusOr<CatalogEntry> Catalog::CreateView(std::string_view name, const CatalogEntry& source,
                                                 const shm::Layout& layout) {
  SHMARRAY_RETURN_IF_ERROR(shm::ArrayName::Validate(name));
  const std::string base_name = source.kind == shm::SegmentKind::kView ? source.base : source.name;
  const uint64_t base_generation = source.data_generation();
  auto base_is_there = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> const CatalogEntry* {
    auto base = entries_.find(base_name);
    if (base == entries_.end() || base->second.generation != base_generation ||
        base->second.kind != shm::SegmentKind::kArray) {
      return nullptr;
    }
    return &base->second;
  };
  {
    absl::MutexLock lock(&mu_);
    if (entries_.count(name) > 0 || pending_.count(name) > 0) {
      return absl::AlreadyExistsError(absl::StrCat("array ", Quoted(name), " already exists"));
    }
    const CatalogEntry* base = base_is_there();
    if (base == nullptr) {
      return absl::NotFoundError(
          absl::StrCat("array ", Quoted(base_name), " was deleted or replaced"));
    }
    try {
      layout.CheckWithin(base->data_size_bytes);
    } catch (...) {
      return shm::StatusFromCurrentException();
    }
    SHMARRAY_RETURN_IF_ERROR(CheckQuotaLocked(name, 0));
    pending_.emplace(std::string(name), 0);
  }
  auto release = [&] {
    absl::MutexLock lock(&mu_);
    pending_.erase(std::string(name));
  };
  shm::SegmentMeta meta;
  meta.kind = shm::SegmentKind::kView;
  meta.name = std::string(name);
  meta.format = source.format.canonical();
  meta.layout = layout;
  meta.readonly = false;
  meta.data_size_bytes = 0;
  meta.base_generation = base_generation;
  meta.base_name = base_name;
  meta.created_unix_ns = NowNs();
  absl::StatusOr<shm::Segment> seg = CreateSegment(&meta);
  absl::Status status = seg.ok() ? seg->Commit() : seg.status();
  if (!status.ok()) {
    if (seg.ok()) (void)shm::Segment::Unlink(seg->os_name());
    release();
    return status;
  }
  const std::string os_name = seg->os_name();
  CatalogEntry e;
  {
    absl::MutexLock lock(&mu_);
    pending_.erase(std::string(name));
    const CatalogEntry* base = base_is_there();
    if (base == nullptr) {  // deleted while the segment was made
      status = absl::NotFoundError(
          absl::StrCat("array ", Quoted(base_name), " was deleted or replaced"));
    } else {
      e.name = std::string(name);
      e.kind = shm::SegmentKind::kView;
      e.generation = meta.generation;
      e.segment_name = base->segment_name;
      e.own_segment_name = os_name;
      e.format = source.format;
      e.layout = layout;
      e.readonly = false;
      e.data_size_bytes = base->data_size_bytes;
      e.base = base_name;
      e.base_generation = base_generation;
      e.created_unix_ns = meta.created_unix_ns;
      entries_.emplace(e.name, e);
      views_of_[base_name].insert(e.name);
      EmitLocked(CatalogEventType::kCreated, e);
      e = SnapshotLocked(e);
    }
  }
  if (!status.ok()) {
    (void)shm::Segment::Unlink(os_name);
    return status;
  }
  return e;
}

absl::StatusOr<CatalogEntry> Catalog::Lookup(std::string_view name) const {
  SHMARRAY_RETURN_IF_ERROR(shm::ArrayName::Validate(name));
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(name);
  if (it == entries_.end()) {
    return absl::NotFoundError(absl::StrCat("no array named ", Quoted(name)));
  }
  return SnapshotLocked(it->second);
}

absl::StatusOr<Catalog::Page> Catalog::List(std::string_view prefix, int page_size,
                                            std::string_view page_token) const {
  if (page_size < 0) {
    return absl::InvalidArgumentError(absl::StrCat("page_size ", page_size, " is negative"));
  }
  if (page_size == 0) page_size = kDefaultPageSize;
  page_size = std::min(page_size, kMaxPageSize);
  // A token is kTokenMark + the last name of the previous page ('>' never
  // occurs in a name, so a name alone or other text is not a token).
  std::string_view after;
  if (!page_token.empty()) {
    if (page_token.front() != kTokenMark) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid page_token ", Quoted(page_token),
                       ": pass the next_page_token of a previous ListResponse"));
    }
    after = page_token.substr(1);
    if (!shm::ArrayName::IsValid(after) || after.substr(0, prefix.size()) != prefix) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid page_token ", Quoted(page_token), " for prefix ", Quoted(prefix)));
    }
  }
  Page page;
  absl::MutexLock lock(&mu_);
  auto it = after.empty() ? entries_.lower_bound(prefix) : entries_.upper_bound(after);
  for (; it != entries_.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    if (static_cast<int>(page.entries.size()) == page_size) {
      page.next_token = kTokenMark + page.entries.back().name;
      break;
    }
    page.entries.push_back(SnapshotLocked(it->second));
  }
  return page;
}

void Catalog::RemoveLocked(const std::string& name, std::vector<CatalogEntry>* removed) {
  auto it = entries_.find(name);
  if (it == entries_.end()) return;
  CatalogEntry e = SnapshotLocked(it->second);
  if (e.kind == shm::SegmentKind::kArray) {
    bytes_in_use_ -= e.data_size_bytes;
    views_of_.erase(e.name);
    gates_.erase(e.name);
  } else {
    auto v = views_of_.find(e.base);
    if (v != views_of_.end()) {
      v->second.erase(e.name);
      if (v->second.empty()) views_of_.erase(v);
    }
  }
  entries_.erase(it);
  EmitLocked(CatalogEventType::kDeleted, e);
  removed->push_back(std::move(e));
}

absl::StatusOr<std::vector<std::string>> Catalog::Delete(std::string_view name, bool cascade) {
  SHMARRAY_RETURN_IF_ERROR(shm::ArrayName::Validate(name));
  std::vector<CatalogEntry> removed;
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(name);
    if (it == entries_.end()) {
      return absl::NotFoundError(absl::StrCat("no array named ", Quoted(name)));
    }
    std::vector<std::string> views;
    auto v = views_of_.find(name);
    if (v != views_of_.end()) views.assign(v->second.begin(), v->second.end());
    if (!views.empty() && !cascade) {
      std::vector<std::string> quoted;
      for (const std::string& n : views) quoted.push_back(Quoted(n));
      return absl::FailedPreconditionError(absl::StrCat("array ", Quoted(name), " has named views ",
                                                        absl::StrJoin(quoted, ", "),
                                                        "; delete them first or pass cascade"));
    }
    RemoveLocked(std::string(name), &removed);
    for (const std::string& view : views) RemoveLocked(view, &removed);
  }
  // The names are gone; now the I/O, with no lock held: unlink, and drop the
  // cached mapping (the munmap of a large array takes a while).
  std::vector<std::string> names;
  for (const CatalogEntry& e : removed) {
    absl::Status s = shm::Segment::Unlink(e.own_segment_name);
    if (!s.ok() && !absl::IsNotFound(s)) {
      Log(LogLevel::kWarn, absl::StrCat("deleting ", Quoted(e.name), ": cannot unlink ",
                                        e.own_segment_name, ": ", s.message()));
    }
    if (e.kind == shm::SegmentKind::kArray) CacheEvict(e.segment_name);
    names.push_back(e.name);
  }
  return names;
}

absl::StatusOr<CatalogEntry> Catalog::Seal(std::string_view name) {
  SHMARRAY_RETURN_IF_ERROR(shm::ArrayName::Validate(name));
  CatalogEntry entry;
  std::shared_ptr<WriteTicket::Gate> gate;
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(name);
    if (it == entries_.end()) {
      return absl::NotFoundError(absl::StrCat("no array named ", Quoted(name)));
    }
    const CatalogEntry& e = it->second;
    if (e.kind == shm::SegmentKind::kView) {
      return absl::FailedPreconditionError(absl::StrCat(
          Quoted(name), " is a named view of ", Quoted(e.base), "; seal the base array instead"));
    }
    if (e.readonly) return SnapshotLocked(e);
    entry = e;
    auto g = gates_.find(e.name);
    if (g == gates_.end()) {
      return absl::InternalError(absl::StrCat("array ", Quoted(name), " has no write gate"));
    }
    gate = g->second;
  }
  // No new writes; wait for those in flight (each is one chunk or one copy).
  {
    absl::MutexLock lock(&gate->mu);
    gate->closed = true;
    gate->mu.Await(absl::Condition(
        +[](WriteTicket::Gate* g) ABSL_NO_THREAD_SAFETY_ANALYSIS { return g->writers == 0; },
        gate.get()));
  }
  absl::Status sealed = SealSegment(entry);
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(name);
    const bool same = it != entries_.end() && it->second.generation == entry.generation;
    if (!sealed.ok()) {
      // Writes may go on unless another Seal got through meanwhile.
      if (same && !it->second.readonly) {
        absl::MutexLock gate_lock(&gate->mu);
        gate->closed = false;
      }
      if (!same && absl::IsNotFound(sealed)) {
        return absl::NotFoundError(absl::StrCat("array ", Quoted(name), " was deleted"));
      }
      return sealed;
    }
    if (!same) return absl::NotFoundError(absl::StrCat("array ", Quoted(name), " was deleted"));
    if (!it->second.readonly) {
      it->second.readonly = true;
      EmitLocked(CatalogEventType::kSealed, it->second);
    }
    entry = SnapshotLocked(it->second);
  }
  return entry;
}

absl::Status Catalog::SealSegment(const CatalogEntry& entry) {
  SHMARRAY_ASSIGN_OR_RETURN(
      shm::Segment seg, shm::Segment::Open(entry.segment_name, shm::Segment::Access::kReadWrite));
  if (seg.meta().generation != entry.generation) {
    return absl::AbortedError(absl::StrCat("array ", Quoted(entry.name), " was replaced"));
  }
  return seg.Seal();
}

absl::StatusOr<Catalog::WriteTicket> Catalog::BeginWrite(const CatalogEntry& entry) const {
  const std::string& array = entry.kind == shm::SegmentKind::kView ? entry.base : entry.name;
  std::shared_ptr<WriteTicket::Gate> gate;
  {
    absl::MutexLock lock(&mu_);
    auto it = gates_.find(array);
    if (it == gates_.end() || it->second->generation != entry.data_generation()) {
      return absl::NotFoundError(absl::StrCat("array ", Quoted(array), " was deleted or replaced"));
    }
    gate = it->second;
  }
  {
    absl::MutexLock lock(&gate->mu);
    if (gate->closed) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot write to ", Quoted(entry.name), ": it is read-only (sealed)"));
    }
  }
  WriteTicket ticket;
  ticket.gate_ = std::move(gate);
  ticket.name_ = entry.name;
  return ticket;
}

absl::Status Catalog::CheckSeal(const CatalogEntry& entry) const {
  if (!entry.readonly) return absl::OkStatus();
  const std::string path = absl::StrCat("/dev/shm/", entry.segment_name);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat("array ", Quoted(entry.name), " was deleted"));
  }
  if ((st.st_mode & 0222) == 0) return absl::OkStatus();
  char mode[16];
  std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
  return absl::DataLossError(absl::StrCat(
      "array ", Quoted(entry.name), " was sealed, but its segment ", entry.segment_name,
      " is writable again (mode ", mode, "): a process of uid ", st.st_uid,
      " (its owner) or root changed it after the seal, so its bytes may have changed; delete "
      "it, or copy what you can trust"));
}

void Catalog::CachePut(shm::Segment segment) {
  std::vector<shm::Segment> dropped;  // destroyed (unmapped) after the lock
  {
    absl::MutexLock lock(&cache_mu_);
    const std::string os_name = segment.os_name();
    auto it = cache_index_.find(os_name);
    if (it != cache_index_.end()) {
      dropped.push_back(std::move(*it->second));
      lru_.erase(it->second);
      cache_index_.erase(it);
    }
    lru_.push_front(std::move(segment));
    cache_index_[os_name] = lru_.begin();
    while (lru_.size() > options_.mapping_cache_size) {
      cache_index_.erase(lru_.back().os_name());
      dropped.push_back(std::move(lru_.back()));
      lru_.pop_back();
    }
  }
}

void Catalog::CacheEvict(const std::string& os_name) {
  // Declared before the lock: destroyed (unmapped) after it is released.
  std::optional<shm::Segment> dropped;
  absl::MutexLock lock(&cache_mu_);
  auto it = cache_index_.find(os_name);
  if (it == cache_index_.end()) return;
  dropped.emplace(std::move(*it->second));
  lru_.erase(it->second);
  cache_index_.erase(it);
}

absl::Status Catalog::CheckIntact(const CatalogEntry& entry, const shm::AnyView& view) {
  if (view.data() == nullptr || !shm::SegmentFaulted(view.data())) return absl::OkStatus();
  {
    // Drop the damaged mapping (if it is the cached one) so that the next
    // request opens the segment again and sees what is left of it.
    std::optional<shm::Segment> dropped;
    absl::MutexLock lock(&cache_mu_);
    auto it = cache_index_.find(entry.segment_name);
    if (it != cache_index_.end() && it->second->data() != nullptr &&
        shm::SegmentFaulted(it->second->data())) {
      dropped.emplace(std::move(*it->second));
      lru_.erase(it->second);
      cache_index_.erase(it);
    }
  }
  Log(LogLevel::kWarn, absl::StrCat("array ", Quoted(entry.name), ": segment ", entry.segment_name,
                                    " was truncated by another process during a request"));
  return absl::DataLossError(absl::StrCat("array ", Quoted(entry.name),
                                          " lost its memory during this request: another process "
                                          "truncated its segment ",
                                          entry.segment_name, "; the request did not complete"));
}

absl::StatusOr<shm::AnyView> Catalog::Map(const CatalogEntry& entry, bool writable) {
  if (writable && entry.readonly) {
    return absl::FailedPreconditionError(
        absl::StrCat("array ", Quoted(entry.name), " is read-only (sealed)"));
  }
  SHMARRAY_RETURN_IF_ERROR(CheckSeal(entry));
  std::shared_ptr<const void> mapping;
  std::byte* data = nullptr;
  bool handle_writable = false;
  {
    // Declared before the lock: destroyed (unmapped) after it is released.
    std::optional<shm::Segment> dropped;
    absl::MutexLock lock(&cache_mu_);
    auto it = cache_index_.find(entry.segment_name);
    if (it != cache_index_.end()) {
      const shm::Segment& seg = *it->second;
      const bool faulted = seg.data() != nullptr && shm::SegmentFaulted(seg.data());
      if (seg.meta().generation == entry.data_generation() && !faulted) {
        lru_.splice(lru_.begin(), lru_, it->second);
        mapping = lru_.front().mapping();
        data = lru_.front().data();
        handle_writable = lru_.front().writable();
      } else {
        dropped.emplace(std::move(*it->second));
        lru_.erase(it->second);
        cache_index_.erase(it);
      }
    }
  }
  if (mapping == nullptr) {
    absl::StatusOr<shm::Segment> seg =
        shm::Segment::Open(entry.segment_name, entry.readonly ? shm::Segment::Access::kReadOnly
                                                              : shm::Segment::Access::kReadWrite);
    if (!seg.ok() && absl::IsPermissionDenied(seg.status()) && !entry.readonly) {
      seg = shm::Segment::Open(entry.segment_name, shm::Segment::Access::kReadOnly);
    }
    if (!seg.ok()) {
      if (absl::IsNotFound(seg.status())) {
        return absl::NotFoundError(absl::StrCat("array ", Quoted(entry.name), " was deleted"));
      }
      return absl::Status(seg.status().code(),
                          absl::StrCat("array ", Quoted(entry.name), ": ", seg.status().message()));
    }
    if (seg->meta().generation != entry.data_generation()) {
      return absl::AbortedError(absl::StrCat("array ", Quoted(entry.name), " was replaced"));
    }
    mapping = seg->mapping();
    data = seg->data();
    handle_writable = seg->writable();
    CachePut(std::move(*seg));
  }
  if (writable && !handle_writable) {
    return absl::FailedPreconditionError(
        absl::StrCat("array ", Quoted(entry.name), " is read-only"));
  }
  try {
    return shm::AnyView(entry.format, entry.layout, data, entry.readonly || !handle_writable,
                        std::move(mapping));
  } catch (...) {
    return shm::StatusFromCurrentException();
  }
}

size_t Catalog::TEST_entry_count() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

int64_t Catalog::TEST_bytes_in_use() const {
  absl::MutexLock lock(&mu_);
  return bytes_in_use_;
}

size_t Catalog::TEST_cached_mappings() const {
  absl::MutexLock lock(&cache_mu_);
  return lru_.size();
}

void Catalog::TEST_SetNextGenerations(std::vector<uint64_t> generations) {
  absl::MutexLock lock(&mu_);
  test_generations_ = std::move(generations);
}

}  // namespace shmarray::server
