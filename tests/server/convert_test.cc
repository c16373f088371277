// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: convert_test.cc
// -----------------------------------------------------------------------------
// Tests of the raw data-message framing of proto/convert.h against protobuf's
// own serialization of ReadResponse and WriteRequest: the header written by
// DataFieldHeader is what protobuf writes, and ParseDataFieldHeader accepts
// exactly the messages that are one data field.

#include "shmarray/proto/convert.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "shmarray/v1/array_service.pb.h"

namespace shmarray::proto {
namespace {

const std::vector<int64_t> kLengths = {
    0, 1, 127, 128, 300, 16383, 16384, (1 << 20), (4 << 20) - 16, 2097151, 2097152, (1 << 21) + 5};

std::string Header(int64_t len) {
  uint8_t out[kMaxDataFieldHeaderBytes];
  const size_t n = DataFieldHeader(len, out);
  return std::string(reinterpret_cast<const char*>(out), n);
}

// Parses a whole message given as one buffer.
size_t Parse(const std::string& message, int64_t* len) {
  return ParseDataFieldHeader(reinterpret_cast<const uint8_t*>(message.data()), message.size(),
                              message.size(), len);
}

TEST(DataFieldHeaderTest, IsWhatProtobufWritesForADataOnlyMessage) {
  for (int64_t len : kLengths) {
    v1::ReadResponse read;
    read.set_data(std::string(static_cast<size_t>(len), 'x'));
    v1::WriteRequest write;
    write.set_data(read.data());
    const std::string header = Header(len);
    EXPECT_LE(header.size(), kMaxDataFieldHeaderBytes);
    EXPECT_EQ(read.SerializeAsString(), header + read.data()) << "len " << len;
    EXPECT_EQ(write.SerializeAsString(), header + write.data()) << "len " << len;
  }
}

TEST(DataFieldHeaderTest, ParseAcceptsExactlyOneDataField) {
  for (int64_t len : kLengths) {
    v1::WriteRequest write;
    write.set_data(std::string(static_cast<size_t>(len), 'y'));
    const std::string message = write.SerializeAsString();
    int64_t parsed = -1;
    EXPECT_EQ(Parse(message, &parsed), Header(len).size()) << "len " << len;
    EXPECT_EQ(parsed, len);
  }
}

TEST(DataFieldHeaderTest, ParseGathersTheHeaderAcrossSlices) {
  const int64_t len = 300;  // a two-byte varint
  const std::string message = Header(len) + std::string(len, 'z');
  // The tag, then one varint byte, then the rest in another slice.
  std::vector<grpc::Slice> slices = {grpc::Slice(message.substr(0, 1)),
                                     grpc::Slice(message.substr(1, 1)),
                                     grpc::Slice(message.substr(2))};
  int64_t parsed = -1;
  EXPECT_EQ(ParseDataFieldHeader(slices, message.size(), &parsed), 3u);
  EXPECT_EQ(parsed, len);
}

TEST(DataFieldHeaderTest, ParseLeavesEverythingElseToProtobuf) {
  int64_t parsed = -1;
  // The target, not data.
  v1::WriteRequest target;
  target.mutable_target()->set_name("a");
  EXPECT_EQ(Parse(target.SerializeAsString(), &parsed), 0u);
  // A data field followed by another field (protobuf decides what it means).
  v1::WriteRequest data;
  data.set_data("abc");
  EXPECT_EQ(Parse(data.SerializeAsString() + target.SerializeAsString(), &parsed), 0u);
  // A length that does not match the message's size, either way.
  EXPECT_EQ(Parse(Header(10) + std::string(9, 'a'), &parsed), 0u);
  EXPECT_EQ(Parse(Header(10) + std::string(11, 'a'), &parsed), 0u);
  // A length over INT32_MAX.
  const std::string big = Header(int64_t{1} << 31);
  EXPECT_EQ(ParseDataFieldHeader(reinterpret_cast<const uint8_t*>(big.data()), big.size(),
                                 big.size() + (size_t{1} << 31), &parsed),
            0u);
  // A varint longer than the head (the continuation bit set on its 5th byte).
  const std::string endless = "\x12\xff\xff\xff\xff\xff";
  EXPECT_EQ(Parse(endless, &parsed), 0u);
  // Too short to hold a header, and empty.
  EXPECT_EQ(Parse("\x12", &parsed), 0u);
  EXPECT_EQ(Parse("", &parsed), 0u);
  EXPECT_EQ(parsed, -1) << "a refused message must not set the length";
}

}  // namespace
}  // namespace shmarray::proto
