// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: convert.cc
// -----------------------------------------------------------------------------
// Conversions between shmarray.v1 messages and shm library types. See
// convert.h. Thread-safety: pure functions.

#include "shmarray/proto/convert.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>

#include "shmarray/shm/status.h"

namespace shmarray::proto {

absl::StatusOr<shm::IndexExpr> IndexFromProto(const v1::Index& index) {
  if (!index.text().empty()) {
    if (index.items_size() > 0) {
      return absl::InvalidArgumentError("an index carries either text or items, not both");
    }
    try {
      return shm::ParseIndex(index.text());
    } catch (...) {
      return shm::StatusFromCurrentException();
    }
  }
  if (static_cast<size_t>(index.items_size()) > shm::kMaxIndexItems) {
    return absl::InvalidArgumentError("an index has " + std::to_string(index.items_size()) +
                                      " items; at most " + std::to_string(shm::kMaxIndexItems) +
                                      " are allowed");
  }
  shm::IndexExpr expr;
  expr.reserve(static_cast<size_t>(index.items_size()));
  for (int i = 0; i < index.items_size(); ++i) {
    const v1::IndexItem& item = index.items(i);
    switch (item.item_case()) {
      case v1::IndexItem::kIndex:
        expr.emplace_back(int64_t{item.index()});
        break;
      case v1::IndexItem::kSlice: {
        shm::Slice s;
        if (item.slice().has_start()) s.start = item.slice().start();
        if (item.slice().has_stop()) s.stop = item.slice().stop();
        if (item.slice().has_step()) s.step = item.slice().step();
        expr.emplace_back(s);
        break;
      }
      case v1::IndexItem::kEllipsis:
        expr.emplace_back(shm::Ellipsis{});
        break;
      case v1::IndexItem::kNewAxis:
        expr.emplace_back(shm::NewAxis{});
        break;
      default:
        return absl::InvalidArgumentError("index item " + std::to_string(i) +
                                          " is empty (none of index, slice, ellipsis, "
                                          "new_axis is set)");
    }
  }
  return expr;
}

v1::Index IndexToProto(const shm::IndexExpr& expr) {
  v1::Index out;
  for (const shm::IndexItem& item : expr) {
    v1::IndexItem* p = out.add_items();
    if (const int64_t* i = std::get_if<int64_t>(&item)) {
      p->set_index(*i);
    } else if (const shm::Slice* s = std::get_if<shm::Slice>(&item)) {
      v1::SliceItem* ps = p->mutable_slice();
      if (s->start) ps->set_start(*s->start);
      if (s->stop) ps->set_stop(*s->stop);
      if (s->step) ps->set_step(*s->step);
    } else if (std::holds_alternative<shm::Ellipsis>(item)) {
      p->mutable_ellipsis();
    } else {
      p->mutable_new_axis();
    }
  }
  return out;
}

shm::Order OrderFromProto(v1::Order order) {
  return order == v1::ORDER_F ? shm::Order::kF : shm::Order::kC;
}

v1::Order OrderToProto(shm::Order order) {
  return order == shm::Order::kF ? v1::ORDER_F : v1::ORDER_C;
}

absl::StatusOr<shm::Layout> LayoutFromInfo(const v1::ArrayInfo& info) {
  if (info.shape_size() != info.strides_size()) {
    return absl::InvalidArgumentError("ArrayInfo has " + std::to_string(info.shape_size()) +
                                      " extents but " + std::to_string(info.strides_size()) +
                                      " strides");
  }
  if (info.shape_size() > shm::kMaxDims) {
    return absl::InvalidArgumentError("ArrayInfo has " + std::to_string(info.shape_size()) +
                                      " dimensions; at most " + std::to_string(shm::kMaxDims) +
                                      " are allowed");
  }
  if (info.itemsize() <= 0) {
    return absl::InvalidArgumentError("ArrayInfo has itemsize " + std::to_string(info.itemsize()) +
                                      "; it must be positive");
  }
  shm::Layout layout;
  layout.itemsize = info.itemsize();
  layout.shape.assign(info.shape().begin(), info.shape().end());
  layout.strides.assign(info.strides().begin(), info.strides().end());
  layout.offset = info.offset();
  for (size_t i = 0; i < layout.shape.size(); ++i) {
    if (layout.shape[i] < 0) {
      return absl::InvalidArgumentError("ArrayInfo has a negative extent on axis " +
                                        std::to_string(i));
    }
  }
  return layout;
}

void LayoutToInfo(const shm::Layout& layout, v1::ArrayInfo* info) {
  info->set_itemsize(layout.itemsize);
  info->clear_shape();
  info->clear_strides();
  for (int64_t e : layout.shape) info->add_shape(e);
  for (int64_t s : layout.strides) info->add_strides(s);
  info->set_offset(layout.offset);
  info->set_nbytes(layout.nbytes());
  info->set_c_contiguous(layout.is_c_contig());
  info->set_f_contiguous(layout.is_f_contig());
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

namespace {

using google::protobuf::internal::WireFormatLite;

// The tag of `bytes data = 2`, the same field number in ReadResponse and
// WriteRequest.
static_assert(int{v1::ReadResponse::kDataFieldNumber} == int{v1::WriteRequest::kDataFieldNumber});
constexpr uint32_t kDataTag = WireFormatLite::MakeTag(v1::WriteRequest::kDataFieldNumber,
                                                      WireFormatLite::WIRETYPE_LENGTH_DELIMITED);

}  // namespace

size_t DataFieldHeader(int64_t len_bytes, uint8_t* out) {
  uint8_t* end = google::protobuf::io::CodedOutputStream::WriteTagToArray(kDataTag, out);
  end = google::protobuf::io::CodedOutputStream::WriteVarint64ToArray(
      static_cast<uint64_t>(len_bytes), end);
  return static_cast<size_t>(end - out);
}

size_t ParseDataFieldHeader(const uint8_t* head, size_t have, size_t size, int64_t* len_bytes) {
  google::protobuf::io::CodedInputStream in(head,
                                            static_cast<int>(std::min(have, kDataFieldHeadBytes)));
  uint64_t value = 0;
  if (in.ReadTag() != kDataTag || !in.ReadVarint64(&value)) return 0;
  const auto header = static_cast<size_t>(in.CurrentPosition());
  if (value > static_cast<uint64_t>(INT32_MAX) || header + value != size) return 0;
  *len_bytes = static_cast<int64_t>(value);
  return header;
}

size_t ParseDataFieldHeader(const std::vector<grpc::Slice>& slices, size_t size,
                            int64_t* len_bytes) {
  uint8_t head[kDataFieldHeadBytes];
  size_t have = 0;
  for (const grpc::Slice& sl : slices) {
    const size_t n = std::min(sl.size(), sizeof(head) - have);
    if (n > 0) std::memcpy(head + have, sl.begin(), n);
    have += n;
    if (have == sizeof(head)) break;
  }
  return ParseDataFieldHeader(head, have, size, len_bytes);
}

}  // namespace shmarray::proto
