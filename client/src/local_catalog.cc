// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: local_catalog.cc
// -----------------------------------------------------------------------------
// See local_catalog.h.

#include "local_catalog.h"

#include <exception>
#include <string>
#include <utility>

#include "shmarray/shm/segment.h"

namespace shmarray::client::internal {
namespace {

// Learn() stops trying after this many files that would not bind.
constexpr int kMaxBindAttempts = 8;

// The library form of a catalog record; false if it does not describe a
// usable array (bad format, layout outside the data region).
bool ToArrayInfo(const shm::CatalogFileEntry& e, const std::string& dir, ArrayInfo* out) {
  try {
    out->name = e.name;
    out->format = shm::Format::Parse(e.format);
    out->layout = e.layout;
    out->layout.CheckWithin(e.data_size_bytes);
    out->readonly = e.readonly;
    out->c_contiguous = out->layout.is_c_contig();
    out->f_contiguous = out->layout.is_f_contig();
    out->generation = e.generation;
    out->kind = e.kind == shm::SegmentKind::kView ? ArrayKind::kView : ArrayKind::kArray;
    out->base = e.base_name;
    out->base_generation = e.kind == shm::SegmentKind::kView ? e.data_generation : 0;
    if (e.kind == shm::SegmentKind::kArray && e.data_generation != e.generation) return false;
    out->segment_name = dir + "/" + e.segment;
    out->segment_size = shm::kDataOffset + e.data_size_bytes;
    out->data_offset = shm::kDataOffset;
    out->data_size = e.data_size_bytes;
    out->created_unix_ns = e.created_unix_ns;
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

}  // namespace

bool LocalCatalog::Lookup(std::string_view name, Found* found) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (reader_ == nullptr) return false;
    if (reader_->closed()) {
      reader_.reset();  // the daemon stopped or restarted: bind again later
      attempts_ = 0;
      return false;
    }
    found->reader = reader_;
  }
  if (!found->reader->Lookup(name, &found->hit)) return false;
  return ToArrayInfo(found->hit.entry, found->reader->dir(), &found->info);
}

bool LocalCatalog::StillCurrent(const Found& found) {
  return found.reader != nullptr && found.reader->Unchanged(found.hit);
}

void LocalCatalog::Learn(const ArrayInfo& desc) {
  const size_t slash = desc.segment_name.find('/');
  if (slash == std::string::npos || slash == 0) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if ((reader_ != nullptr && !reader_->closed()) || attempts_ >= kMaxBindAttempts) return;
    ++attempts_;
  }
  const std::string dir = desc.segment_name.substr(0, slash);
  absl::StatusOr<std::unique_ptr<shm::CatalogFileReader>> reader =
      shm::CatalogFileReader::Open(dir);
  if (!reader.ok()) return;
  shm::CatalogFileReader::Hit hit;
  if (!(*reader)->Lookup(desc.name, &hit) || hit.entry.generation != desc.generation ||
      dir + "/" + hit.entry.segment != desc.segment_name) {
    return;  // not this daemon's file, or the entry changed meanwhile
  }
  std::lock_guard<std::mutex> lock(mu_);
  reader_ = std::shared_ptr<const shm::CatalogFileReader>(std::move(*reader));
  attempts_ = 0;
}

bool LocalCatalog::bound() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reader_ != nullptr;
}

}  // namespace shmarray::client::internal
