// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: convert.h
// -----------------------------------------------------------------------------
// The single place where wire messages (shmarray.v1) and library types meet:
// index messages <-> IndexExpr, Order, ArrayInfo <-> Layout, and absl::Status
// <-> grpc::Status. Both the server and the client use it; nothing else
// converts. Include only from server/src and client/src (it pulls in *.pb.h).
//
//   SHMARRAY_ASSIGN_OR_RETURN(shm::IndexExpr expr, IndexFromProto(req.index()));
//   return ToGrpcStatus(status);
//
// Thread-safety: pure functions.

#ifndef SHMARRAY_PROTO_CONVERT_H_
#define SHMARRAY_PROTO_CONVERT_H_

#include <grpcpp/support/slice.h>
#include <grpcpp/support/status.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "shmarray/shm/index.h"
#include "shmarray/shm/layout.h"
#include "shmarray/v1/array_service.pb.h"

namespace shmarray::proto {

// The expression of `index`: its text (parsed with shm::ParseIndex) when set,
// else its items. kInvalidArgument for malformed text, an empty oneof, or both
// text and items set.
absl::StatusOr<shm::IndexExpr> IndexFromProto(const v1::Index& index);
// Structured form of `expr` (no text).
v1::Index IndexToProto(const shm::IndexExpr& expr);

// ORDER_UNSPECIFIED and ORDER_C are C order.
shm::Order OrderFromProto(v1::Order order);
v1::Order OrderToProto(shm::Order order);

// The layout an ArrayInfo describes (itemsize, shape, strides, offset).
// kInvalidArgument when it is malformed (mismatched shape/strides lengths,
// more than shm::kMaxDims axes, bad itemsize).
absl::StatusOr<shm::Layout> LayoutFromInfo(const v1::ArrayInfo& info);
// Fills itemsize, shape, strides, offset, nbytes, c_contiguous, f_contiguous.
void LayoutToInfo(const shm::Layout& layout, v1::ArrayInfo* info);

// Read and Write stream their data messages raw (no protobuf `bytes`
// copy): a ReadResponse / WriteRequest that holds only `bytes data = 2` is
// this header followed by `len_bytes` bytes. Writes the header (the field's
// tag and the varint length, framed with protobuf's WireFormatLite and
// CodedOutputStream) into `out` and returns its size, at most
// kMaxDataFieldHeaderBytes. REQUIRES: len_bytes >= 0.
inline constexpr size_t kMaxDataFieldHeaderBytes = 11;
size_t DataFieldHeader(int64_t len_bytes, uint8_t* out);
// The reverse, for a received message of `size` bytes whose first `have`
// bytes are `head` (kDataFieldHeadBytes are enough): if the message is
// exactly one data field -- its tag, a varint length, that many payload
// bytes, read with protobuf's CodedInputStream -- returns the length of the
// tag and varint and sets *len_bytes to the payload's. Otherwise (another field, several fields, a
// length over INT32_MAX or not matching `size`) returns 0: the caller then parses the message with
// protobuf, which decides what it means.
inline constexpr size_t kDataFieldHeadBytes = 6;  // the tag and at most 5 varint bytes
size_t ParseDataFieldHeader(const uint8_t* head, size_t have, size_t size, int64_t* len_bytes);
// The same for a message received as gRPC slices (ByteBuffer::Dump) of
// `size` bytes in all: gathers the head from the first slices.
size_t ParseDataFieldHeader(const std::vector<grpc::Slice>& slices, size_t size,
                            int64_t* len_bytes);

// absl codes are google.rpc codes: the conversion is a cast of the code plus
// the message.
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace shmarray::proto

#endif  // SHMARRAY_PROTO_CONVERT_H_
