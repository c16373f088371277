// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: daemon_bad_input_test.cc
// -----------------------------------------------------------------------------
// A table of malformed requests sent to the REAL shmarrayd binary (one daemon
// for the whole table): each case is refused with the code of docs/wire.md
// and a message, and after each one the daemon still answers and the canary
// arrays are byte-for-byte unchanged. Some cases send raw bytes that are not
// a valid message.
// Nothing waits by sleeping: every wait polls with a deadline.

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/client_unary_call.h>
#include <grpcpp/impl/rpc_method.h>
#include <grpcpp/support/sync_stream.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "server/daemon_fixture.h"
#include "shmarray/shm/index.h"
#include "shmarray/shm/layout.h"
#include "shmarray/v1/array_service.grpc.pb.h"

namespace shmarray {
namespace {

using ::shmarray::testing::Api;
using ::shmarray::testing::Contiguous;
using ::shmarray::testing::CreateReq;
using ::shmarray::testing::DataMsg;
using ::shmarray::testing::DescribeStatus;
using ::shmarray::testing::Gather;
using ::shmarray::testing::kRpcTimeout;
using ::shmarray::testing::Pattern;
using ::shmarray::testing::TargetMsg;
using ::shmarray::testing::TestDaemon;
using ::shmarray::testing::TextIndex;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Code = grpc::StatusCode;

// --- raw calls: bytes that are not a valid message ------------------------------

// A byte string no protobuf message parses: field 1 with the invalid wire
// type 7, then a truncated varint.
const std::string kNotAMessage("\x0f\xff\xff\xff", 4);

grpc::ByteBuffer Bytes(const std::string& s) {
  grpc::Slice slice(s);
  return grpc::ByteBuffer(&slice, 1);
}

// Calls unary method `method` ("/shmarray.v1.ArrayService/Stat") with `bytes`.
grpc::Status RawUnary(grpc::ChannelInterface* channel, const char* method,
                      const std::string& bytes) {
  const grpc::internal::RpcMethod rpc(method, grpc::internal::RpcMethod::NORMAL_RPC);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + kRpcTimeout);
  grpc::ByteBuffer response;
  return grpc::internal::BlockingUnaryCall<grpc::ByteBuffer, grpc::ByteBuffer>(
      channel, rpc, &ctx, Bytes(bytes), &response);
}

// Calls server-streaming `method` with `bytes` and drains the stream.
grpc::Status RawServerStream(grpc::ChannelInterface* channel, const char* method,
                             const std::string& bytes) {
  const grpc::internal::RpcMethod rpc(method, grpc::internal::RpcMethod::SERVER_STREAMING);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + kRpcTimeout);
  std::unique_ptr<grpc::ClientReader<grpc::ByteBuffer>> reader(
      grpc::internal::ClientReaderFactory<grpc::ByteBuffer>::Create(channel, rpc, &ctx,
                                                                    Bytes(bytes)));
  grpc::ByteBuffer msg;
  while (reader->Read(&msg)) {
  }
  return reader->Finish();
}

// Calls client-streaming `method` with the messages `msgs`.
grpc::Status RawClientStream(grpc::ChannelInterface* channel, const char* method,
                             const std::vector<std::string>& msgs) {
  const grpc::internal::RpcMethod rpc(method, grpc::internal::RpcMethod::CLIENT_STREAMING);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + kRpcTimeout);
  grpc::ByteBuffer response;
  std::unique_ptr<grpc::ClientWriter<grpc::ByteBuffer>> writer(
      grpc::internal::ClientWriterFactory<grpc::ByteBuffer>::Create(channel, rpc, &ctx, &response));
  for (const std::string& m : msgs) {
    if (!writer->Write(Bytes(m))) break;
  }
  writer->WritesDone();
  return writer->Finish();
}

struct BadCase {
  BadCase(std::string name_in, Code code_in, std::function<grpc::Status(const Api&)> call_in,
          std::string message_contains_in = "")
      : name(std::move(name_in)),
        code(code_in),
        call(std::move(call_in)),
        message_contains(std::move(message_contains_in)) {}
  std::string name;  // a valid test-name suffix
  Code code;
  std::function<grpc::Status(const Api&)> call;
  std::string message_contains;  // optional
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

struct Canary {
  std::string name;
  v1::Order order;      // order to read it back in
  std::string content;  // its bytes in that order
};

// The channel of the BadInputTest daemon, for the cases that send raw bytes.
grpc::ChannelInterface* g_bad_input_channel = nullptr;

class BadInputTest : public ::testing::TestWithParam<BadCase> {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::unique_ptr<TestDaemon>> daemon = TestDaemon::Start();
    if (!daemon.ok()) {
      setup_error_ = daemon.status().ToString();
      return;
    }
    daemon_ = std::move(daemon).value();
    g_bad_input_channel = daemon_->channel().get();
    api_ = std::make_unique<Api>(&daemon_->stub());
    std::string err = MakeCanaries();
    if (!err.empty()) {
      setup_error_ = err;
      daemon_.reset();
    }
  }
  static void TearDownTestSuite() {
    g_bad_input_channel = nullptr;
    api_.reset();
    daemon_.reset();
  }
  static std::string MakeCanaries() {
    auto check = [](const char* what, const grpc::Status& s) {
      return s.ok() ? std::string() : std::string(what) + ": " + DescribeStatus(s);
    };
    std::string e;
    const std::string c = Pattern(48, 21), f = Pattern(80, 22), sealed = Pattern(48, 23);
    if (!(e = check("c", api_->Create("canary/c", "<i", {3, 4}))).empty()) return e;
    if (!(e = check("c w", api_->Write("canary/c", "", c))).empty()) return e;
    if (!(e = check("f", api_->Create("canary/f", "d", {5, 2}, v1::ORDER_F))).empty()) return e;
    if (!(e = check("f w", api_->Write("canary/f", "", f, v1::ORDER_F))).empty()) return e;
    if (!(e = check("s", api_->Create("canary/sealed", "<i", {3, 4}))).empty()) return e;
    if (!(e = check("s w", api_->Write("canary/sealed", "", sealed))).empty()) return e;
    if (!(e = check("s s", api_->Seal("canary/sealed"))).empty()) return e;
    if (!(e = check("v", api_->Slice("canary/c", "1:, ::2", "canary/view"))).empty()) return e;
    const shm::Layout view =
        Contiguous(4, {3, 4}, shm::Order::kC).slice(shm::ParseIndex("1:, ::2"));
    canaries_ = {{"canary/c", v1::ORDER_C, c},
                 {"canary/f", v1::ORDER_F, f},
                 {"canary/sealed", v1::ORDER_C, sealed},
                 {"canary/view", v1::ORDER_C, Gather(c, view, shm::Order::kC)}};
    segments_ = daemon_->ListSegments();
    if (segments_.size() != 4) return "expected 4 segments after making the canaries";
    return "";
  }

  void SetUp() override { ASSERT_TRUE(daemon_ != nullptr) << setup_error_; }

  // The daemon answers and nothing changed.
  void ExpectUnchanged() {
    ASSERT_TRUE(daemon_->running()) << "the daemon died:\n" << daemon_->StderrTail();
    v1::ArrayInfo info;
    SHMARRAY_ASSERT_RPC_OK(api_->Stat("canary/c", &info));
    EXPECT_THAT(info.shape(), ElementsAre(3, 4));
    for (const Canary& canary : canaries_) {
      std::string bytes;
      SHMARRAY_ASSERT_RPC_OK(api_->Read(canary.name, "", &bytes, canary.order));
      EXPECT_EQ(bytes, canary.content) << canary.name << " changed";
    }
    std::vector<std::string> names;
    SHMARRAY_ASSERT_RPC_OK(api_->ListNames("", &names));
    EXPECT_THAT(names, ElementsAre("canary/c", "canary/f", "canary/sealed", "canary/view"));
    EXPECT_EQ(daemon_->ListSegments(), segments_);
  }

  static inline std::unique_ptr<TestDaemon> daemon_;
  static inline std::unique_ptr<Api> api_;
  static inline std::string setup_error_;
  static inline std::vector<Canary> canaries_;
  static inline std::vector<std::string> segments_;
};

TEST_P(BadInputTest, IsRefusedAndChangesNothing) {
  const BadCase& c = GetParam();
  const grpc::Status status = c.call(*api_);
  EXPECT_EQ(status.error_code(), c.code) << "got " << DescribeStatus(status);
  if (!c.message_contains.empty()) {
    EXPECT_THAT(status.error_message(), HasSubstr(c.message_contains));
  }
  if (!status.ok()) {
    EXPECT_FALSE(status.error_message().empty()) << "errors need a message";
  }
  ExpectUnchanged();
}

// --- the table ---

std::function<grpc::Status(const Api&)> CreateCall(v1::CreateRequest req) {
  return [req](const Api& api) { return api.Create(req); };
}
std::function<grpc::Status(const Api&)> CreateCall(const std::string& name,
                                                   const std::string& format,
                                                   std::vector<int64_t> shape) {
  return CreateCall(CreateReq(name, format, std::move(shape)));
}
std::function<grpc::Status(const Api&)> SliceCall(v1::SliceRequest req) {
  return [req](const Api& api) { return api.Slice(req); };
}
std::function<grpc::Status(const Api&)> SliceText(const std::string& name, const std::string& text,
                                                  const std::string& new_name = "") {
  v1::SliceRequest req;
  req.set_name(name);
  *req.mutable_index() = TextIndex(text);
  req.set_new_name(new_name);
  return SliceCall(req);
}
std::function<grpc::Status(const Api&)> ReadCall(v1::ReadRequest req) {
  return [req](const Api& api) {
    std::string bytes;
    return api.Read(req, &bytes);
  };
}
std::function<grpc::Status(const Api&)> ReadText(const std::string& name, const std::string& text) {
  v1::ReadRequest req;
  req.set_name(name);
  *req.mutable_index() = TextIndex(text);
  return ReadCall(req);
}
std::function<grpc::Status(const Api&)> WriteCall(std::vector<v1::WriteRequest> msgs) {
  return [msgs](const Api& api) { return api.Write(msgs); };
}
std::function<grpc::Status(const Api&)> CopyCall(v1::CopyRequest req) {
  return [req](const Api& api) { return api.Copy(req); };
}
v1::CopyRequest CopyReq(const std::string& source, const std::string& source_index,
                        const std::string& new_name, const std::string& destination,
                        const std::string& destination_index) {
  v1::CopyRequest req;
  req.set_source(source);
  if (!source_index.empty()) *req.mutable_source_index() = TextIndex(source_index);
  req.set_new_name(new_name);
  req.set_destination(destination);
  if (!destination_index.empty()) {
    *req.mutable_destination_index() = TextIndex(destination_index);
  }
  return req;
}
std::function<grpc::Status(const Api&)> ListCall(v1::ListRequest req) {
  return [req](const Api& api) {
    v1::ListResponse resp;
    return api.List(req, &resp);
  };
}

std::vector<BadCase> BadCases() {
  const Code kInvalid = Code::INVALID_ARGUMENT;
  const std::string c48 = Pattern(48, 21);  // canary/c's own bytes
  const std::string junk48(48, '\xee');
  std::vector<BadCase> cases = {
      // Names.
      {"NameEmpty", kInvalid, CreateCall("", "B", {4})},
      {"Name256Chars", kInvalid, CreateCall(std::string(256, 'a'), "B", {4})},
      {"NameDotDot", kInvalid, CreateCall("..", "B", {4})},
      {"NameDotDotComponent", kInvalid, CreateCall("a/../b", "B", {4})},
      {"NameDoubleSlash", kInvalid, CreateCall("a//b", "B", {4})},
      {"NameLeadingSlash", kInvalid, CreateCall("/a", "B", {4})},
      {"NameTrailingSlash", kInvalid, CreateCall("a/", "B", {4})},
      {"NameSpace", kInvalid, CreateCall("a b", "B", {4})},
      {"NameNulByte", kInvalid, CreateCall(std::string("a\0b", 3), "B", {4})},
      {"NameUnicode", kInvalid, CreateCall("\xc3\xa4rray", "B", {4})},
      {"NameNewline", kInvalid, CreateCall("a\nb", "B", {4})},
      {"StatEmptyName", kInvalid, [](const Api& api) { return api.Stat(""); }},
      {"SliceBadNewName", kInvalid, SliceText("canary/c", "", "a b")},
      {"CopyBadNewName", kInvalid, CopyCall(CopyReq("canary/c", "", "/x", "", ""))},
      // Formats.
      {"FormatUnknownCode", kInvalid, CreateCall("bad/f", "y", {4})},
      {"FormatUnclosedStruct", kInvalid, CreateCall("bad/f", "T{i", {4})},
      {"FormatUnclosedStructField", kInvalid, CreateCall("bad/f", "T{i:a", {4}),
       "is not a valid PEP 3118 buffer format string"},
      {"FormatUnclosedSubarray", kInvalid, CreateCall("bad/f", "(2,3", {4})},
      {"FormatComplexOfInt", kInvalid, CreateCall("bad/f", "Zi", {4})},
      {"FormatHugeSubarray", kInvalid, CreateCall("bad/f", "(4294967296,4294967296)d", {1})},
      {"FormatIndirect", kInvalid, CreateCall("bad/f", "&d", {4})},
      {"FormatTrailingGarbage", kInvalid, CreateCall("bad/f", "d)", {4})},
      {"FormatByteOrderOnly", kInvalid, CreateCall("bad/f", "<", {4})},
      {"ItemsizeBelowFormat", kInvalid, CreateCall(CreateReq("bad/f", "d", {4}, v1::ORDER_C, "", 4))},
      {"ItemsizeNegative", kInvalid, CreateCall(CreateReq("bad/f", "d", {4}, v1::ORDER_C, "", -1))},
      // Shapes.
      {"ShapeNegative", kInvalid, CreateCall("bad/s", "B", {-1})},
      {"ShapeNegativeSecondAxis", kInvalid, CreateCall("bad/s", "B", {3, -2})},
      {"Shape33Dims", kInvalid, CreateCall("bad/s", "B", std::vector<int64_t>(33, 1))},
      {"ShapeProductOverflows", kInvalid, CreateCall("bad/s", "B", {int64_t{1} << 32, int64_t{1} << 32})},
      {"ShapeBytesOverflow", kInvalid, CreateCall("bad/s", "d", {int64_t{1} << 61})},
      {"ShapeInt64MaxTimesTwo", kInvalid,
       CreateCall("bad/s", "<H", {std::numeric_limits<int64_t>::max()})},
      {"Shape2Pow62Items", Code::RESOURCE_EXHAUSTED, CreateCall("bad/s", "B", {int64_t{1} << 62})},
      {"CreateBadOrder", kInvalid, CreateCall(CreateReq("bad/s", "B", {4}, static_cast<v1::Order>(7)))},
      // Fill.
      {"FillTooShort", kInvalid, CreateCall(CreateReq("bad/fill", "<i", {4}, v1::ORDER_C, "abc"))},
      {"FillTooLong", kInvalid, CreateCall(CreateReq("bad/fill", "<i", {4}, v1::ORDER_C, "abcde"))},
      {"FillTwoBytesForByteArray", kInvalid, CreateCall(CreateReq("bad/fill", "B", {4}, v1::ORDER_C, "ab"))},
      {"FillShorterThanItemsize", kInvalid,
       CreateCall(CreateReq("bad/fill", "<h", {4}, v1::ORDER_C, "ab", 4))},
      // Index expressions.
      {"SliceStepZero", kInvalid, SliceText("canary/c", "::0"), "Step may not be zero (axis 0)"},
      {"SliceStepZeroSecondAxis", kInvalid, SliceText("canary/c", ":, ::0"),
       "Step may not be zero (axis 1)"},
      {"SliceTwoEllipses", kInvalid, SliceText("canary/c", "..., ..."),
       "an index can only have a single ellipsis ('...')"},
      {"SliceTooManyIndices", kInvalid, SliceText("canary/c", "0, 0, 0"),
       "too many indices for array: array is 2-dimensional, but 3 were indexed"},
      {"SliceIndexOutOfRange", Code::OUT_OF_RANGE, SliceText("canary/c", "3"),
       "Index out of bounds (axis 0)"},
      {"SliceNegativeIndexOutOfRange", Code::OUT_OF_RANGE, SliceText("canary/c", "-4")},
      {"SliceSecondAxisOutOfRange", Code::OUT_OF_RANGE, SliceText("canary/c", "0, 4"),
       "Index out of bounds (axis 1)"},
      {"SliceViewOutOfRange", Code::OUT_OF_RANGE, SliceText("canary/view", "0, 2")},
      {"SliceFourColons", kInvalid, SliceText("canary/c", "1:2:3:4")},
      {"SliceGarbageText", kInvalid, SliceText("canary/c", "abc")},
      {"SliceUnbalancedBracket", kInvalid, SliceText("canary/c", "[0")},
      {"SliceTwoNumbers", kInvalid, SliceText("canary/c", "1 2")},
      {"SliceNewNameOnNothing", Code::NOT_FOUND, SliceText("nothing", "", "bad/v")},
      // Structured index items.
      {"ItemsStepZero", kInvalid,
       [] {
         v1::SliceRequest req;
         req.set_name("canary/c");
         req.mutable_index()->add_items()->mutable_slice()->set_step(0);
         return SliceCall(req);
       }()},
      {"ItemsEmptyItem", kInvalid,
       [] {
         v1::SliceRequest req;
         req.set_name("canary/c");
         req.mutable_index()->add_items();
         return SliceCall(req);
       }()},
      {"ItemsAndTextBoth", kInvalid,
       [] {
         v1::SliceRequest req;
         req.set_name("canary/c");
         req.mutable_index()->add_items()->set_index(0);
         req.mutable_index()->set_text("0");
         return SliceCall(req);
       }()},
      {"ItemsIndexOutOfRange", Code::OUT_OF_RANGE,
       [] {
         v1::SliceRequest req;
         req.set_name("canary/c");
         req.mutable_index()->add_items()->set_index(99);
         return SliceCall(req);
       }()},
      {"ItemsTwoEllipses", kInvalid,
       [] {
         v1::SliceRequest req;
         req.set_name("canary/c");
         req.mutable_index()->add_items()->mutable_ellipsis();
         req.mutable_index()->add_items()->mutable_ellipsis();
         return SliceCall(req);
       }()},
      {"ItemsTooManyNewAxes", kInvalid,
       [] {
         v1::SliceRequest req;
         req.set_name("canary/c");
         for (int i = 0; i < 31; ++i) req.mutable_index()->add_items()->mutable_new_axis();
         return SliceCall(req);
       }()},
      // Reads.
      {"ReadStepZero", kInvalid, ReadText("canary/c", "::0")},
      {"ReadOutOfRange", Code::OUT_OF_RANGE, ReadText("canary/c", "5")},
      {"ReadNegativeChunkSize", kInvalid,
       [] {
         v1::ReadRequest req;
         req.set_name("canary/c");
         req.set_chunk_size(-1);
         return ReadCall(req);
       }()},
      {"ReadBadOrder", kInvalid,
       [] {
         v1::ReadRequest req;
         req.set_name("canary/c");
         req.set_order(static_cast<v1::Order>(9));
         return ReadCall(req);
       }()},
      // Writes (the short/long cases resend canary/c's own bytes, so a
      // streaming server that wrote what arrived still leaves it unchanged).
      {"WriteFewerBytes", kInvalid,
       WriteCall({TargetMsg("canary/c", "", 48), DataMsg(c48.substr(0, 40))})},
      {"WriteMoreBytes", kInvalid,
       WriteCall({TargetMsg("canary/c", "", 48), DataMsg(c48), DataMsg(c48.substr(0, 8))})},
      {"WriteMoreBytesInOneMessage", kInvalid,
       WriteCall({TargetMsg("canary/c", "", 48), DataMsg(c48 + c48.substr(0, 4))})},
      {"WriteDeclaredNbytesMismatch", kInvalid,
       WriteCall({TargetMsg("canary/c", "", 40), DataMsg(junk48.substr(0, 40))})},
      {"WriteDeclaredNbytesMissing", kInvalid,
       WriteCall({TargetMsg("canary/c", "", 0), DataMsg(junk48)})},
      {"WriteDataBeforeTarget", kInvalid,
       WriteCall({DataMsg(junk48), TargetMsg("canary/c", "", 48)})},
      {"WriteEmptyStream", kInvalid, WriteCall({})},
      {"WriteTwoTargets", kInvalid,
       WriteCall({TargetMsg("canary/c", "", 48), TargetMsg("canary/c", "", 48), DataMsg(junk48)})},
      {"WriteWrongFormat", kInvalid,
       WriteCall({TargetMsg("canary/c", "", 48, v1::ORDER_C, "d"), DataMsg(junk48)})},
      {"WriteBadFormat", kInvalid,
       WriteCall({TargetMsg("canary/c", "", 48, v1::ORDER_C, "T{i"), DataMsg(junk48)})},
      {"WriteBadOrder", kInvalid,
       WriteCall({TargetMsg("canary/c", "", 48, static_cast<v1::Order>(5)), DataMsg(junk48)})},
      {"WriteIndexOutOfRange", Code::OUT_OF_RANGE,
       WriteCall({TargetMsg("canary/c", "3", 16), DataMsg(junk48.substr(0, 16))})},
      {"WriteIndexStepZero", kInvalid,
       WriteCall({TargetMsg("canary/c", "::0", 16), DataMsg(junk48.substr(0, 16))})},
      {"WriteSealed", Code::FAILED_PRECONDITION,
       WriteCall({TargetMsg("canary/sealed", "", 48), DataMsg(junk48)})},
      {"WriteSealedRow", Code::FAILED_PRECONDITION,
       WriteCall({TargetMsg("canary/sealed", "0", 16), DataMsg(junk48.substr(0, 16))})},
      {"WriteMissing", Code::NOT_FOUND, WriteCall({TargetMsg("nothing", "", 4), DataMsg("abcd")})},
      // Copies.
      {"CopyIntoSealed", Code::FAILED_PRECONDITION,
       CopyCall(CopyReq("canary/c", "", "", "canary/sealed", ""))},
      {"CopyShapeMismatch", kInvalid, CopyCall(CopyReq("canary/c", "", "", "canary/view", ""))},
      {"CopyFormatMismatch", kInvalid,
       CopyCall(CopyReq("canary/f", ":3", "", "canary/c", ":, :2"))},
      {"CopyBothDestinations", kInvalid,
       CopyCall(CopyReq("canary/c", "", "bad/copy", "canary/f", ""))},
      {"CopyNoDestination", kInvalid, CopyCall(CopyReq("canary/c", "", "", "", ""))},
      {"CopySourceOutOfRange", Code::OUT_OF_RANGE,
       CopyCall(CopyReq("canary/c", "7", "bad/copy", "", ""))},
      {"CopyDestinationIndexBad", kInvalid,
       CopyCall(CopyReq("canary/c", "0", "", "canary/f", "::0"))},
      {"CopyMissingSource", Code::NOT_FOUND, CopyCall(CopyReq("nothing", "", "bad/copy", "", ""))},
      {"CopyMissingDestination", Code::NOT_FOUND,
       CopyCall(CopyReq("canary/c", "", "", "nothing", ""))},
      {"CopyNewNameTaken", Code::ALREADY_EXISTS,
       CopyCall(CopyReq("canary/c", "", "canary/f", "", ""))},
      // Missing names.
      {"StatMissing", Code::NOT_FOUND, [](const Api& api) { return api.Stat("nothing"); }},
      {"StatPrefixOfAName", Code::NOT_FOUND, [](const Api& api) { return api.Stat("canary"); }},
      {"DeleteMissing", Code::NOT_FOUND, [](const Api& api) { return api.Delete("nothing"); }},
      {"SealMissing", Code::NOT_FOUND, [](const Api& api) { return api.Seal("nothing"); }},
      {"SliceMissing", Code::NOT_FOUND, SliceText("nothing", "0")},
      {"ReadMissing", Code::NOT_FOUND, ReadText("nothing", "")},
      // Taken names.
      {"CreateTaken", Code::ALREADY_EXISTS, CreateCall("canary/c", "<i", {3, 4})},
      {"CreateTakenDifferentShape", Code::ALREADY_EXISTS, CreateCall("canary/c", "B", {1})},
      {"CreateTakenByView", Code::ALREADY_EXISTS, CreateCall("canary/view", "B", {1})},
      {"SliceNewNameTaken", Code::ALREADY_EXISTS, SliceText("canary/c", "0", "canary/f")},
      // Views block deletes.
      {"DeleteBaseWithViews", Code::FAILED_PRECONDITION,
       [](const Api& api) { return api.Delete("canary/c"); }, "canary/view"},
      // Listing.
      {"ListBadPageToken", kInvalid,
       [] {
         v1::ListRequest req;
         req.set_page_token("not-a-token");
         return ListCall(req);
       }()},
      {"ListNegativePageSize", kInvalid,
       [] {
         v1::ListRequest req;
         req.set_page_size(-1);
         return ListCall(req);
       }()},
      // Item sizes, formats and sub-arrays beyond what can be stored or
      // exported: refused with the real reason.
      {"CreateItemsizeOver2To40", kInvalid,
       CreateCall(CreateReq("bad/x", "B", {1}, v1::ORDER_C, "", (int64_t{1} << 40) + 1)),
       "too large"},
      {"CreateCanonicalFormatTooLongToStore", kInvalid, CreateCall("bad/x", std::string(1100, 'i'), {1}),
       "format is too long"},
      {"CreateSubarrayOf33Dims", kInvalid,
       CreateCall("bad/x", "(" + [] {
         std::string dims;
         for (int i = 0; i < 33; ++i) dims += i == 0 ? "1" : ",1";
         return dims;
       }() + ")d", {1}),
       "at most 32"},
  };
  // Bytes that are not a valid message: INVALID_ARGUMENT with a message, on
  // every method (not gRPC's INTERNAL with an empty message).
  static constexpr const char* kUnary[] = {"Create", "Stat",  "List", "Delete",
                                           "Seal",   "Slice", "Copy"};
  for (const char* method : kUnary) {
    const std::string full = std::string("/shmarray.v1.ArrayService/") + method;
    cases.push_back(
        {std::string("Malformed") + method + "Request", kInvalid,
         [full](const Api&) { return RawUnary(g_bad_input_channel, full.c_str(), kNotAMessage); },
         "malformed"});
  }
  for (const char* method : {"Read", "Watch"}) {
    const std::string full = std::string("/shmarray.v1.ArrayService/") + method;
    cases.push_back({std::string("Malformed") + method + "Request", kInvalid,
                     [full](const Api&) {
                       return RawServerStream(g_bad_input_channel, full.c_str(), kNotAMessage);
                     },
                     "malformed"});
  }
  cases.push_back({"MalformedWriteRequest", kInvalid,
                   [](const Api&) {
                     return RawClientStream(g_bad_input_channel, "/shmarray.v1.ArrayService/Write",
                                            {kNotAMessage});
                   },
                   "malformed"});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Table, BadInputTest, ::testing::ValuesIn(BadCases()),
                         [](const ::testing::TestParamInfo<BadCase>& info) {
                           return info.param.name;
                         });

TEST(BadInputTableTest, HasAtLeastFortyDistinctCases) {
  const std::vector<BadCase> cases = BadCases();
  EXPECT_GE(cases.size(), 40u);
  std::set<std::string> names;
  for (const BadCase& c : cases) EXPECT_TRUE(names.insert(c.name).second) << c.name;
}

}  // namespace
}  // namespace shmarray
