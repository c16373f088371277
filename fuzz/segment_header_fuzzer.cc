// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: segment_header_fuzzer.cc
// -----------------------------------------------------------------------------
// libFuzzer target for the segment header reader
// (shm::internal::DecodeSegmentHeader, what Segment::Open, MapDataRegion and
// the daemon's recovery run on every header they read from /dev/shm, where
// another local user may have written anything).
//
// Input: one control byte, then the header bytes (zero-filled or cut to
// sizeof(SegmentHeader)). Control bit 0 set: the checksum is recomputed
// first, so that the fuzzer explores everything behind it (a planted header
// can carry a valid checksum). Bit 1 set: the object size is what the header
// claims (kDataOffset + data_size_bytes), else taken from the next 8 input
// bytes. Checks: decoding never crashes or throws; a decoded header
// describes a layout inside its data region (for an array) and encodes back
// to an equal header.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

#include "fuzz_util.h"
#include "shmarray/shm/layout.h"
#include "shmarray/shm/segment.h"

namespace {

namespace shm = shmarray::shm;
using shm::internal::SegmentHeader;

bool SameMeta(const shm::SegmentMeta& a, const shm::SegmentMeta& b) {
  return a.kind == b.kind && a.generation == b.generation && a.name == b.name &&
         a.format == b.format && a.layout == b.layout && a.readonly == b.readonly &&
         a.data_size_bytes == b.data_size_bytes && a.base_generation == b.base_generation &&
         a.base_name == b.base_name && a.created_unix_ns == b.created_unix_ns && a.state == b.state;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  shmarray::fuzz::Input in(data, size);
  const uint8_t control = in.Take<uint8_t>();
  int64_t object_size = 0;
  if ((control & 2) == 0) object_size = in.Take<int64_t>();
  SegmentHeader h;
  std::memset(&h, 0, sizeof(h));
  const std::string_view bytes = in.TakeBytes(sizeof(h));
  std::memcpy(&h, bytes.data(), bytes.size());
  if ((control & 1) != 0) h.checksum = shm::internal::SegmentHeaderChecksum(h);
  if ((control & 2) != 0) {
    object_size = h.data_size_bytes > std::numeric_limits<int64_t>::max() - shm::kDataOffset
                      ? std::numeric_limits<int64_t>::max()
                      : shm::kDataOffset + h.data_size_bytes;
  }

  shm::SegmentMeta meta;
  const std::string reason = shm::internal::DecodeSegmentHeader(h, object_size, &meta);
  if (!reason.empty()) return 0;

  SHMARRAY_FUZZ_CHECK(object_size == shm::kDataOffset + meta.data_size_bytes, reason);
  SHMARRAY_FUZZ_CHECK(meta.layout.ndim() <= shm::kMaxDims, meta.layout.DebugString());
  SHMARRAY_FUZZ_CHECK(meta.name.size() <= shm::kMaxNameLength, meta.name);
  SHMARRAY_FUZZ_CHECK(meta.format.size() <= shm::kMaxStoredFormatLength, meta.format);
  if (meta.kind == shm::SegmentKind::kArray) {
    try {
      meta.layout.CheckWithin(meta.data_size_bytes);
      (void)meta.layout.nbytes();
    } catch (const std::exception& e) {
      shmarray::fuzz::Fail("an accepted header has a layout outside its data region", e.what());
    }
  }
  SegmentHeader again;
  const std::string encode_reason = shm::internal::EncodeSegmentHeader(meta, &again);
  SHMARRAY_FUZZ_CHECK(encode_reason.empty(), encode_reason);
  shm::SegmentMeta back;
  const std::string back_reason = shm::internal::DecodeSegmentHeader(again, object_size, &back);
  SHMARRAY_FUZZ_CHECK(back_reason.empty(), back_reason);
  SHMARRAY_FUZZ_CHECK(SameMeta(meta, back), meta.layout.DebugString());
  return 0;
}
