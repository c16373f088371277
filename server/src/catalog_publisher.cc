// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: catalog_publisher.cc
// -----------------------------------------------------------------------------
// See catalog_publisher.h.

#include "catalog_publisher.h"

#include <algorithm>
#include <limits>
#include <string_view>
#include <utility>
#include <vector>

#include "shmarray/shm/status.h"

namespace shmarray::server::internal {
namespace {

shm::CatalogFileEntry ToFileEntry(const CatalogEntry& e) {
  shm::CatalogFileEntry f;
  f.name = e.name;
  f.kind = e.kind;
  f.generation = e.generation;
  f.data_generation = e.data_generation();
  const size_t slash = e.segment_name.rfind('/');
  f.segment = slash == std::string::npos ? e.segment_name : e.segment_name.substr(slash + 1);
  f.format = e.format.canonical();
  f.layout = e.layout;
  f.readonly = e.readonly;
  f.data_size_bytes = e.data_size_bytes;
  f.base_name = e.base;
  f.created_unix_ns = e.created_unix_ns;
  return f;
}

}  // namespace

absl::StatusOr<std::unique_ptr<CatalogPublisher>> CatalogPublisher::Create(const Catalog& catalog,
                                                                           mode_t mode) {
  const int64_t limit = std::min<int64_t>(catalog.max_arrays(), shm::internal::kCatalogMaxRecords);
  SHMARRAY_ASSIGN_OR_RETURN(
      std::unique_ptr<shm::CatalogFileWriter> writer,
      shm::CatalogFileWriter::Create(catalog.prefix(), static_cast<uint32_t>(limit), mode));
  // The entries first, then our lock: the listener takes our lock while the
  // catalog's is held, so never the other way round.
  std::vector<CatalogEntry> entries;
  std::string token;
  do {
    SHMARRAY_ASSIGN_OR_RETURN(Catalog::Page page, catalog.List("", 1000, token));
    for (CatalogEntry& e : page.entries) entries.push_back(std::move(e));
    token = page.next_token;
  } while (!token.empty());
  std::unique_ptr<CatalogPublisher> p(new CatalogPublisher);
  absl::MutexLock lock(&p->mu_);
  p->writer_ = std::move(writer);
  for (const CatalogEntry& e : entries) p->PutLocked(e);
  return p;
}

void CatalogPublisher::PutLocked(const CatalogEntry& e) {
  if (writer_ == nullptr) return;
  (void)writer_->Put(ToFileEntry(e));
  if (e.kind == shm::SegmentKind::kView) views_of_[e.base][e.name] = e;
}

void CatalogPublisher::OnEvent(const CatalogEvent& event) {
  absl::MutexLock lock(&mu_);
  if (writer_ == nullptr) return;
  const CatalogEntry& e = event.entry;
  switch (event.type) {
    case CatalogEventType::kCreated:
      PutLocked(e);
      break;
    case CatalogEventType::kSealed: {
      PutLocked(e);
      auto views = views_of_.find(e.name);
      if (views != views_of_.end() && e.kind == shm::SegmentKind::kArray) {
        for (auto& [name, view] : views->second) {
          view.readonly = true;
          (void)writer_->Put(ToFileEntry(view));
        }
      }
      break;
    }
    case CatalogEventType::kDeleted:
      writer_->Remove(e.name);
      if (e.kind == shm::SegmentKind::kView) {
        auto views = views_of_.find(e.base);
        if (views != views_of_.end()) {
          views->second.erase(e.name);
          if (views->second.empty()) views_of_.erase(views);
        }
      } else {
        views_of_.erase(e.name);
      }
      break;
  }
}

void CatalogPublisher::Close() {
  absl::MutexLock lock(&mu_);
  if (writer_ != nullptr) writer_->Close();
  writer_.reset();
}

size_t CatalogPublisher::size() const {
  absl::MutexLock lock(&mu_);
  return writer_ == nullptr ? 0 : writer_->size();
}

}  // namespace shmarray::server::internal
