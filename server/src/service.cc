// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: service.cc
// -----------------------------------------------------------------------------
// shmarray.v1.ArrayService over the Catalog. See service_internal.h.

#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "clock_internal.h"
#include "metrics.h"
#include "service_internal.h"
#include "shmarray/proto/convert.h"
#include "shmarray/server/log.h"
#include "shmarray/shm/any_view.h"
#include "shmarray/shm/array_name.h"
#include "shmarray/shm/errors.h"
#include "shmarray/shm/format.h"
#include "shmarray/shm/status.h"
#include "watch_hub.h"

namespace shmarray::server::internal {
namespace {

constexpr int64_t kDefaultChunkBytes = int64_t{1} << 20;
// Smaller chunk_size requests are raised to this: a 1-byte chunk would turn
// one Read into a message per byte.
constexpr int64_t kMinChunkBytes = int64_t{64} << 10;
// 4 MiB minus room for the message header, so that a whole ReadResponse fits
// gRPC's default 4 MiB receive limit of clients.
constexpr int64_t kMaxChunkBytes = (int64_t{4} << 20) - 16;
// Once the fill pattern covers this many bytes, it is copied block by block
// (cache-friendly) instead of doubling further.
constexpr int64_t kFillBlockBytes = int64_t{1} << 20;

using proto::ToGrpcStatus;

using internal::NowNs;
using shm::Quoted;

absl::StatusOr<shm::Order> CheckedOrder(v1::Order order) {
  if (order != v1::ORDER_UNSPECIFIED && order != v1::ORDER_C && order != v1::ORDER_F) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown order ", static_cast<int>(order), " (use ORDER_C or ORDER_F)"));
  }
  return proto::OrderFromProto(order);
}

// The layout of entry[index]. Errors as Layout::slice plus bad index messages.
absl::StatusOr<shm::Layout> Select(const CatalogEntry& entry, const v1::Index& index) {
  SHMARRAY_ASSIGN_OR_RETURN(shm::IndexExpr expr, proto::IndexFromProto(index));
  try {
    return entry.layout.slice(expr);
  } catch (...) {
    return shm::StatusFromCurrentException();
  }
}

// entry[index] mapped. Read-only unless `writable`.
absl::StatusOr<shm::AnyView> MapSelection(Catalog& catalog, const CatalogEntry& entry,
                                          const v1::Index& index, bool writable) {
  SHMARRAY_ASSIGN_OR_RETURN(shm::IndexExpr expr, proto::IndexFromProto(index));
  SHMARRAY_ASSIGN_OR_RETURN(shm::AnyView view, catalog.Map(entry, writable));
  try {
    return view.slice(expr);
  } catch (...) {
    return shm::StatusFromCurrentException();
  }
}

// FAILED_PRECONDITION when `expected` is non-zero and `entry` is another
// incarnation of the name. `what` is "read of" or "write to".
absl::Status CheckGeneration(std::string_view what, const CatalogEntry& entry, uint64_t expected) {
  if (expected == 0 || expected == entry.generation) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat(std::string(what), " ", Quoted(entry.name), ": expected generation ", expected,
                   " but the name now holds generation ", entry.generation,
                   " (it was deleted and created again)"));
}

// Bytes [begin, end) of a selection's stream.
struct ByteRange {
  int64_t begin = 0;
  int64_t end = 0;
};

// The range of `count` bytes (nullopt = to the end) from `offset` of a
// stream of `total` bytes. REQUIRES: offset, count >= 0. OUT_OF_RANGE when
// it does not lie within [0, total].
absl::StatusOr<ByteRange> CheckedByteRange(const CatalogEntry& entry, int64_t total, int64_t offset,
                                           std::optional<int64_t> count) {
  if (offset > total) {
    return absl::OutOfRangeError(absl::StrCat("byte offset ", offset, " is past the end of the ",
                                              total, "-byte selection of ", Quoted(entry.name)));
  }
  if (count && *count > total - offset) {
    return absl::OutOfRangeError(absl::StrCat("byte range (offset ", offset, ", count ", *count,
                                              ") ends past the end of the ", total,
                                              "-byte selection of ", Quoted(entry.name)));
  }
  return ByteRange{offset, count ? offset + *count : total};
}

// Parses `buffer` (consumed) as a WriteRequest, as the generated handler
// does.
bool ParseWriteRequest(grpc::ByteBuffer* buffer, v1::WriteRequest* msg) {
  return grpc::SerializationTraits<v1::WriteRequest>::Deserialize(buffer, msg).ok();
}

void ReleaseMapping(void* owner) { delete static_cast<std::shared_ptr<const void>*>(owner); }

// Fills data [0, total) with copies of its first `itemsize` bytes.
void RepeatPattern(std::byte* data, int64_t itemsize, int64_t total) {
  int64_t done = itemsize;
  while (done < total && done < kFillBlockBytes) {
    const int64_t n = std::min(done, total - done);
    std::memcpy(data + done, data, static_cast<size_t>(n));
    done += n;
  }
  const int64_t block = done;
  while (done < total) {
    const int64_t n = std::min(block, total - done);
    std::memcpy(data + done, data, static_cast<size_t>(n));
    done += n;
  }
}

}  // namespace

// --- Conversions ---------------------------------------------------------------

v1::WatchEvent ToWatchEvent(const CatalogEvent& event) {
  v1::WatchEvent out;
  switch (event.type) {
    case CatalogEventType::kCreated:
      out.set_type(v1::WatchEvent::TYPE_CREATED);
      break;
    case CatalogEventType::kSealed:
      out.set_type(v1::WatchEvent::TYPE_SEALED);
      break;
    case CatalogEventType::kDeleted:
      out.set_type(v1::WatchEvent::TYPE_DELETED);
      break;
  }
  out.set_name(event.entry.name);
  FillInfo(event.entry, event.entry.layout, out.mutable_info());
  out.set_unix_ns(event.unix_ns);
  return out;
}

void FillInfo(const CatalogEntry& entry, const shm::Layout& layout, v1::ArrayInfo* info) {
  info->set_name(entry.name);
  info->set_format(entry.format.canonical());
  proto::LayoutToInfo(layout, info);
  info->set_readonly(entry.readonly);
  info->set_generation(entry.generation);
  info->set_base(entry.base);
  info->set_segment_name(entry.segment_name);
  info->set_segment_size(shm::kDataOffset + entry.data_size_bytes);
  info->set_data_offset(shm::kDataOffset);
  info->set_created_unix_ns(entry.created_unix_ns);
  info->set_kind(entry.kind == shm::SegmentKind::kView ? v1::ARRAY_KIND_VIEW
                                                       : v1::ARRAY_KIND_ARRAY);
  info->set_base_generation(entry.base_generation);
  info->set_data_size(entry.data_size_bytes);
}

// --- MalformedRequestInterceptor ----------------------------------------------

namespace {

constexpr std::string_view kServicePrefix = "/shmarray.v1.ArrayService/";

class MalformedRequestInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit MalformedRequestInterceptor(std::string_view method) : method_(method) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    // The request of a unary or server-streaming call is parsed before the
    // handler runs; a missing message here means it did not parse.
    if (!seen_request_ &&
        methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE)) {
      seen_request_ = true;
      malformed_ = methods->GetRecvMessage() == nullptr;
    }
    if (malformed_ &&
        methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      const grpc::Status status = methods->GetSendStatus();
      // What the generated handlers answer for a request that does not parse:
      // INTERNAL (sync API) or UNIMPLEMENTED (callback API, Stat), with no
      // message.
      if ((status.error_code() == grpc::StatusCode::INTERNAL ||
           status.error_code() == grpc::StatusCode::UNIMPLEMENTED) &&
          status.error_message().empty()) {
        const std::string_view rpc = method_.substr(kServicePrefix.size());
        methods->ModifySendStatus(
            grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                         absl::StrCat("malformed ", absl::string_view(rpc.data(), rpc.size()),
                                      "Request message: the request is not a valid shmarray.v1.",
                                      absl::string_view(rpc.data(), rpc.size()), "Request")));
      }
    }
    methods->Proceed();
  }

 private:
  const std::string_view method_;  // owned by gRPC for the call's lifetime
  bool seen_request_ = false;
  bool malformed_ = false;
};

}  // namespace

grpc::experimental::Interceptor* MalformedRequestInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  using Type = grpc::experimental::ServerRpcInfo::Type;
  const std::string_view method = info->method();
  // Read is a raw method: it parses its request itself.
  if ((info->type() != Type::UNARY && info->type() != Type::SERVER_STREAMING) ||
      method.substr(0, kServicePrefix.size()) != kServicePrefix ||
      method.substr(kServicePrefix.size()) == "Read") {
    return nullptr;  // no interceptor for this call
  }
  return new MalformedRequestInterceptor(method);
}

// --- ArrayServiceImpl ---------------------------------------------------------

ArrayServiceImpl::ArrayServiceImpl(Catalog* catalog, WatchHub* hub, const TokenAuthenticator* auth)
    : catalog_(catalog), hub_(hub), auth_(auth) {}

absl::Status ArrayServiceImpl::BeginCall() {
  absl::MutexLock lock(&calls_mu_);
  if (draining_) return absl::UnavailableError("shmarrayd is shutting down");
  ++active_calls_;
  return absl::OkStatus();
}

void ArrayServiceImpl::EndCall() {
  absl::MutexLock lock(&calls_mu_);
  --active_calls_;
}

bool ArrayServiceImpl::Drain(absl::Duration timeout) {
  absl::MutexLock lock(&calls_mu_);
  draining_ = true;
  return calls_mu_.AwaitWithTimeout(absl::Condition(
                                        +[](int* n) { return *n == 0; }, &active_calls_),
                                    timeout);
}

absl::Status ArrayServiceImpl::Authorize(grpc::ServerContextBase* ctx) const {
  if (auth_ == nullptr) return absl::OkStatus();
  const auto& md = ctx->client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) return auth_->Check(std::nullopt);
  return auth_->Check(std::string_view(it->second.data(), it->second.size()));
}

template <typename Req, typename Resp>
grpc::Status ArrayServiceImpl::ServeUnary(grpc::ServerContextBase* ctx, const Req& req, Resp* resp,
                                          absl::Status (ArrayServiceImpl::*impl)(const Req&,
                                                                                 Resp*)) {
  CallScope scope(this);
  absl::Status s = scope.status().ok() ? Authorize(ctx) : scope.status();
  if (s.ok()) s = (this->*impl)(req, resp);
  return ToGrpcStatus(s);
}

grpc::Status ArrayServiceImpl::Create(grpc::ServerContext* ctx, const v1::CreateRequest* req,
                                      v1::ArrayInfo* resp) {
  return ServeUnary(ctx, *req, resp, &ArrayServiceImpl::CreateImpl);
}

grpc::ServerUnaryReactor* ArrayServiceImpl::Stat(grpc::CallbackServerContext* ctx,
                                                 const v1::StatRequest* req, v1::ArrayInfo* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ServeStat(ctx, req, resp));
  return reactor;
}

grpc::Status ArrayServiceImpl::ServeStat(grpc::ServerContextBase* ctx, const v1::StatRequest* req,
                                         v1::ArrayInfo* resp) {
  return ServeUnary(ctx, *req, resp, &ArrayServiceImpl::StatImpl);
}

grpc::Status ArrayServiceImpl::List(grpc::ServerContext* ctx, const v1::ListRequest* req,
                                    v1::ListResponse* resp) {
  return ServeUnary(ctx, *req, resp, &ArrayServiceImpl::ListImpl);
}

grpc::Status ArrayServiceImpl::Delete(grpc::ServerContext* ctx, const v1::DeleteRequest* req,
                                      v1::DeleteResponse* resp) {
  return ServeUnary(ctx, *req, resp, &ArrayServiceImpl::DeleteImpl);
}

grpc::Status ArrayServiceImpl::Seal(grpc::ServerContext* ctx, const v1::SealRequest* req,
                                    v1::ArrayInfo* resp) {
  return ServeUnary(ctx, *req, resp, &ArrayServiceImpl::SealImpl);
}

grpc::Status ArrayServiceImpl::Slice(grpc::ServerContext* ctx, const v1::SliceRequest* req,
                                     v1::ArrayInfo* resp) {
  return ServeUnary(ctx, *req, resp, &ArrayServiceImpl::SliceImpl);
}

grpc::Status ArrayServiceImpl::Copy(grpc::ServerContext* ctx, const v1::CopyRequest* req,
                                    v1::ArrayInfo* resp) {
  return ServeUnary(ctx, *req, resp, &ArrayServiceImpl::CopyImpl);
}

absl::Status ArrayServiceImpl::CreateImpl(const v1::CreateRequest& req, v1::ArrayInfo* resp) {
  SHMARRAY_RETURN_IF_ERROR(shm::ArrayName::Validate(req.name()));
  SHMARRAY_ASSIGN_OR_RETURN(shm::Order order, CheckedOrder(req.order()));
  if (req.shape_size() > shm::kMaxDims) {
    return absl::InvalidArgumentError(absl::StrCat(
        "shape has ", req.shape_size(), " dimensions; at most ", shm::kMaxDims, " are allowed"));
  }
  for (int i = 0; i < req.shape_size(); ++i) {
    if (req.shape(i) < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("negative dimensions are not allowed (axis ", i, " is ", req.shape(i), ")"));
    }
  }
  shm::Format format;
  shm::Layout layout;
  try {
    const shm::Format parsed = shm::Format::Parse(req.format().empty() ? "B" : req.format());
    format = shm::Format::Parse(parsed.canonical());
    int64_t itemsize = format.itemsize();
    if (req.itemsize() != 0) {
      if (req.itemsize() > shm::kMaxItemsizeBytes) {
        return absl::InvalidArgumentError(
            absl::StrCat("itemsize ", req.itemsize(), " is too large: at most ",
                         shm::kMaxItemsizeBytes, " bytes (2^40) per item are allowed"));
      }
      if (req.itemsize() < format.itemsize()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "itemsize ", req.itemsize(), " is invalid for format ", Quoted(format.canonical()),
            ": it must be at least the format's ", format.itemsize(), " bytes"));
      }
      itemsize = req.itemsize();
    }
    if (format.canonical().size() > shm::kMaxStoredFormatLength) {
      return absl::InvalidArgumentError(absl::StrCat(
          "format is too long: its canonical form ", Quoted(format.canonical().substr(0, 40)),
          "... has ", format.canonical().size(), " characters; at most ",
          shm::kMaxStoredFormatLength, " can be stored with an array"));
    }
    const std::vector<int64_t> shape(req.shape().begin(), req.shape().end());
    layout = shm::Layout::Contiguous(itemsize, shape, order);
  } catch (...) {
    return shm::StatusFromCurrentException();
  }
  Catalog::Initializer init;
  const std::string& fill = req.fill();
  if (!fill.empty()) {
    if (static_cast<int64_t>(fill.size()) != layout.itemsize) {
      return absl::InvalidArgumentError(absl::StrCat(
          "fill has ", fill.size(), " bytes but one item has ", layout.itemsize, " bytes"));
    }
    const bool zero = std::all_of(fill.begin(), fill.end(), [](char c) { return c == 0; });
    // Fresh segments read as zeros (fallocate'd tmpfs pages): a zero fill
    // needs no writes.
    if (!zero) {
      init = [&fill](const shm::AnyView& data) -> absl::Status {
        const int64_t total = data.nbytes();
        if (total == 0) return absl::OkStatus();
        std::memcpy(data.data(), fill.data(), fill.size());
        RepeatPattern(data.data(), static_cast<int64_t>(fill.size()), total);
        return absl::OkStatus();
      };
    }
  }
  SHMARRAY_ASSIGN_OR_RETURN(CatalogEntry entry,
                            catalog_->CreateArray(req.name(), format, layout, init));
  FillInfo(entry, entry.layout, resp);
  return absl::OkStatus();
}

absl::Status ArrayServiceImpl::StatImpl(const v1::StatRequest& req, v1::ArrayInfo* resp) {
  SHMARRAY_ASSIGN_OR_RETURN(CatalogEntry entry, catalog_->Lookup(req.name()));
  // A client attaches with what Stat says: a sealed array whose seal was
  // undone is reported, not handed out as read-only for good.
  SHMARRAY_RETURN_IF_ERROR(catalog_->CheckSeal(entry));
  FillInfo(entry, entry.layout, resp);
  return absl::OkStatus();
}

absl::Status ArrayServiceImpl::ListImpl(const v1::ListRequest& req, v1::ListResponse* resp) {
  SHMARRAY_ASSIGN_OR_RETURN(Catalog::Page page,
                            catalog_->List(req.prefix(), req.page_size(), req.page_token()));
  for (const CatalogEntry& e : page.entries) FillInfo(e, e.layout, resp->add_arrays());
  resp->set_next_page_token(page.next_token);
  return absl::OkStatus();
}

absl::Status ArrayServiceImpl::DeleteImpl(const v1::DeleteRequest& req, v1::DeleteResponse* resp) {
  SHMARRAY_ASSIGN_OR_RETURN(std::vector<std::string> deleted,
                            catalog_->Delete(req.name(), req.cascade()));
  for (const std::string& n : deleted) resp->add_deleted(n);
  return absl::OkStatus();
}

absl::Status ArrayServiceImpl::SealImpl(const v1::SealRequest& req, v1::ArrayInfo* resp) {
  SHMARRAY_ASSIGN_OR_RETURN(CatalogEntry entry, catalog_->Seal(req.name()));
  FillInfo(entry, entry.layout, resp);
  return absl::OkStatus();
}

absl::Status ArrayServiceImpl::SliceImpl(const v1::SliceRequest& req, v1::ArrayInfo* resp) {
  if (!req.new_name().empty()) SHMARRAY_RETURN_IF_ERROR(shm::ArrayName::Validate(req.new_name()));
  SHMARRAY_ASSIGN_OR_RETURN(CatalogEntry entry, catalog_->Lookup(req.name()));
  SHMARRAY_ASSIGN_OR_RETURN(shm::Layout layout, Select(entry, req.index()));
  if (req.new_name().empty()) {
    FillInfo(entry, layout, resp);
    return absl::OkStatus();
  }
  SHMARRAY_ASSIGN_OR_RETURN(CatalogEntry view, catalog_->CreateView(req.new_name(), entry, layout));
  FillInfo(view, view.layout, resp);
  return absl::OkStatus();
}

absl::Status ArrayServiceImpl::CopyImpl(const v1::CopyRequest& req, v1::ArrayInfo* resp) {
  const bool to_new = !req.new_name().empty();
  const bool to_existing = !req.destination().empty();
  if (to_new == to_existing) {
    return absl::InvalidArgumentError(
        "a copy needs exactly one destination: new_name (a new array) or destination (an "
        "existing array)");
  }
  if (to_new) {
    SHMARRAY_RETURN_IF_ERROR(shm::ArrayName::Validate(req.new_name()));
  } else if (req.order() != v1::ORDER_UNSPECIFIED) {
    return absl::InvalidArgumentError("order applies only to a copy into a new array (new_name)");
  }
  SHMARRAY_ASSIGN_OR_RETURN(shm::Order order, CheckedOrder(req.order()));
  SHMARRAY_ASSIGN_OR_RETURN(CatalogEntry src_entry, catalog_->Lookup(req.source()));
  SHMARRAY_ASSIGN_OR_RETURN(shm::AnyView src,
                            MapSelection(*catalog_, src_entry, req.source_index(), false));
  if (to_new) {
    shm::Layout layout;
    try {
      layout = shm::Layout::Contiguous(src.itemsize(), src.layout().shape, order);
    } catch (...) {
      return shm::StatusFromCurrentException();
    }
    Catalog::Initializer init = [&](const shm::AnyView& dst) -> absl::Status {
      try {
        shm::CopyInto(dst, src);
      } catch (...) {
        return shm::StatusFromCurrentException();
      }
      if (metrics_ != nullptr) metrics_->AddBytesCopied(src.nbytes());
      return catalog_->CheckIntact(src_entry, src);
    };
    SHMARRAY_ASSIGN_OR_RETURN(
        CatalogEntry entry, catalog_->CreateArray(req.new_name(), src_entry.format, layout, init));
    FillInfo(entry, entry.layout, resp);
    return absl::OkStatus();
  }
  SHMARRAY_ASSIGN_OR_RETURN(CatalogEntry dst_entry, catalog_->Lookup(req.destination()));
  if (dst_entry.readonly) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot copy into ", Quoted(dst_entry.name), ": it is read-only (sealed)"));
  }
  SHMARRAY_ASSIGN_OR_RETURN(shm::AnyView dst,
                            MapSelection(*catalog_, dst_entry, req.destination_index(), true));
  SHMARRAY_ASSIGN_OR_RETURN(Catalog::WriteTicket ticket, catalog_->BeginWrite(dst_entry));
  SHMARRAY_RETURN_IF_ERROR(ticket.Run([&]() -> absl::Status {
    try {
      shm::CopyInto(dst, src);
    } catch (...) {
      return shm::StatusFromCurrentException();
    }
    SHMARRAY_RETURN_IF_ERROR(catalog_->CheckIntact(src_entry, src));
    return catalog_->CheckIntact(dst_entry, dst);
  }));
  if (metrics_ != nullptr) metrics_->AddBytesCopied(src.nbytes());
  FillInfo(dst_entry, dst.layout(), resp);
  return absl::OkStatus();
}

// --- Read ----------------------------------------------------------------------

// Serves one Read on the callback API (see service_internal.h): sends the
// stream's ArrayInfo, then one data message per chunk, each made when the
// previous one is done (gRPC allows one write in flight per call).
class ArrayServiceImpl::ReadReactor final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  ReadReactor(ArrayServiceImpl* service, grpc::CallbackServerContext* ctx,
              const grpc::ByteBuffer& request)
      : service_(service), peer_(ctx->peer()) {
    absl::MutexLock lock(&mu_);
    ScopedLogPeer log_peer(&peer_);
    scope_.emplace(service);
    absl::Status s = scope_->status().ok() ? service->Authorize(ctx) : scope_->status();
    if (s.ok()) s = Start(request);
    if (s.ok()) {
      StartWrite(&message_);
    } else {
      End(s);
    }
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    if (!ok) return End(absl::CancelledError("the client went away"));
    ScopedLogPeer log_peer(&peer_);
    if (in_flight_ > 0 && service_->metrics_ != nullptr) {
      service_->metrics_->AddBytesRead(in_flight_);
    }
    if (next_ == range_.end) {
      // (A zero-copy chunk read by gRPC in user space, e.g. for TLS, after
      // its segment was cut would have sent zeros: say so in the status.)
      return End(service_->catalog_->CheckIntact(entry_, sel_));
    }
    const absl::Status s = MakeChunk();
    if (!s.ok()) return End(s);
    StartWrite(&message_);
  }

  void OnDone() override {
    mu_.Lock();  // after the last callback (see mu_)
    mu_.Unlock();
    delete this;
  }

 private:
  // Checks the request and makes the first message (the ArrayInfo).
  absl::Status Start(const grpc::ByteBuffer& request) {
    v1::ReadRequest req;
    grpc::ByteBuffer copy(request);  // Deserialize consumes its buffer
    if (!grpc::SerializationTraits<v1::ReadRequest>::Deserialize(&copy, &req).ok()) {
      return absl::InvalidArgumentError("malformed ReadRequest message");
    }
    SHMARRAY_ASSIGN_OR_RETURN(order_, CheckedOrder(req.order()));
    if (req.chunk_size() < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("chunk_size ", req.chunk_size(), " is negative"));
    }
    chunk_ = req.chunk_size() == 0
                 ? kDefaultChunkBytes
                 : std::clamp<int64_t>(req.chunk_size(), kMinChunkBytes, kMaxChunkBytes);
    if (req.byte_offset() < 0 || req.byte_count() < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "byte range (offset ", req.byte_offset(), ", count ", req.byte_count(), ") is negative"));
    }
    Catalog& catalog = *service_->catalog_;
    SHMARRAY_ASSIGN_OR_RETURN(entry_, catalog.Lookup(req.name()));
    SHMARRAY_RETURN_IF_ERROR(CheckGeneration("read of", entry_, req.generation()));
    SHMARRAY_ASSIGN_OR_RETURN(sel_, MapSelection(catalog, entry_, req.index(), false));
    // A count past the end is cut there (as read(2) does); an offset past it
    // is OUT_OF_RANGE.
    const int64_t left = std::max<int64_t>(0, sel_.nbytes() - req.byte_offset());
    SHMARRAY_ASSIGN_OR_RETURN(
        range_,
        CheckedByteRange(entry_, sel_.nbytes(), req.byte_offset(),
                         req.byte_count() == 0 ? std::nullopt
                                               : std::optional(std::min(req.byte_count(), left))));
    next_ = range_.begin;
    contiguous_ = order_ == shm::Order::kC ? sel_.is_c_contig() : sel_.is_f_contig();
    // Zero copy only for sealed arrays: no other uid can shrink their
    // segment any more. The bytes of a writable array are copied here, where
    // a truncation by another process is a recorded fault (DATA_LOSS), not
    // an EFAULT inside gRPC's sendmsg that would break the whole connection.
    zero_copy_ = contiguous_ && entry_.readonly;

    // First message: what the stream holds, as a contiguous array.
    v1::ReadResponse first;
    shm::Layout stream_layout;
    try {
      stream_layout = shm::Layout::Contiguous(sel_.itemsize(), sel_.layout().shape, order_);
    } catch (...) {
      return shm::StatusFromCurrentException();
    }
    FillInfo(entry_, stream_layout, first.mutable_info());
    grpc::Slice slice(first.SerializeAsString());
    message_ = grpc::ByteBuffer(&slice, 1);
    return absl::OkStatus();
  }

  // Makes the data message of the chunk at next_ and advances next_.
  absl::Status MakeChunk() {
    const int64_t len = std::min(chunk_, range_.end - next_);
    uint8_t header[proto::kMaxDataFieldHeaderBytes];
    const size_t header_len = proto::DataFieldHeader(len, header);
    if (zero_copy_) {
      // Zero copy: the slice references the mapping and keeps it alive.
      grpc::Slice parts[2] = {
          grpc::Slice(header, header_len),
          grpc::Slice(static_cast<void*>(sel_.first() + next_), static_cast<size_t>(len),
                      &ReleaseMapping, new std::shared_ptr<const void>(sel_.base()))};
      message_ = grpc::ByteBuffer(parts, 2);
    } else {
      grpc::Slice buf(header_len + static_cast<size_t>(len));
      uint8_t* out = const_cast<uint8_t*>(buf.begin());
      std::memcpy(out, header, header_len);
      try {
        if (contiguous_) {
          std::memcpy(out + header_len, sel_.first() + next_, static_cast<size_t>(len));
        } else {
          shm::PackRange(sel_.layout(), sel_.data(), order_, next_, len,
                         reinterpret_cast<std::byte*>(out + header_len));
        }
      } catch (...) {
        return shm::StatusFromCurrentException();
      }
      SHMARRAY_RETURN_IF_ERROR(service_->catalog_->CheckIntact(entry_, sel_));
      message_ = grpc::ByteBuffer(&buf, 1);
    }
    next_ += len;
    in_flight_ = len;
    return absl::OkStatus();
  }

  // Ends the call (once) with `status`; the call stops counting as in flight.
  void End(const absl::Status& status) {
    scope_.reset();
    Finish(ToGrpcStatus(status));
  }

  // gRPC runs a reactor's callbacks one at a time but on different threads,
  // handing the reactor over through its completion queue, which
  // ThreadSanitizer cannot see into (Debian's gRPC is not instrumented).
  // Every callback holds this uncontended lock, which states that order
  // where it can be checked (tests/sanitizers/tsan_absl_annotations.cc).
  // gRPC never calls back into a reactor from StartWrite, StartRead or
  // Finish, so holding it there cannot deadlock.
  absl::Mutex mu_;
  ArrayServiceImpl* const service_;
  const std::string peer_;  // for the log lines of the call's callbacks
  std::optional<CallScope> scope_;
  CatalogEntry entry_;
  shm::AnyView sel_;
  shm::Order order_ = shm::Order::kC;
  int64_t chunk_ = 0;
  ByteRange range_;
  int64_t next_ = 0;       // the first byte of the next chunk
  int64_t in_flight_ = 0;  // the data bytes of message_ (0: the ArrayInfo)
  bool contiguous_ = false;
  bool zero_copy_ = false;
  grpc::ByteBuffer message_;  // the message being written
};

grpc::ServerWriteReactor<grpc::ByteBuffer>* ArrayServiceImpl::Read(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request) {
  return new ReadReactor(this, ctx, *request);
}

// --- Write ---------------------------------------------------------------------

// Serves one Write on the callback API (see service_internal.h): the first
// message is the target, checked before any byte lands; every later message
// is copied into the selection as it arrives, under the array's write
// ticket. Bytes that arrived before an error stay written: the array is not
// rolled back (there is no transaction over shared memory that others may
// map).
class ArrayServiceImpl::WriteReactor final : public grpc::ServerReadReactor<grpc::ByteBuffer> {
 public:
  WriteReactor(ArrayServiceImpl* service, grpc::CallbackServerContext* ctx,
               grpc::ByteBuffer* response)
      : service_(service), peer_(ctx->peer()), response_(response) {
    absl::MutexLock lock(&mu_);
    ScopedLogPeer log_peer(&peer_);
    scope_.emplace(service);
    const absl::Status s = scope_->status().ok() ? service->Authorize(ctx) : scope_->status();
    if (s.ok()) {
      StartRead(&buffer_);
    } else {
      End(s);
    }
  }

  void OnReadDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    ScopedLogPeer log_peer(&peer_);
    absl::Status s;
    if (!ok) {  // the client closed its side (or went away)
      s = ticket_ ? Complete()
                  : absl::InvalidArgumentError(
                        "empty Write stream: the first message must be the target");
      return End(s);
    }
    s = ticket_ ? Chunk() : Target();
    if (!s.ok()) return End(s);
    StartRead(&buffer_);
  }

  void OnDone() override {
    mu_.Lock();  // after the last callback (see mu_)
    mu_.Unlock();
    delete this;
  }

 private:
  // The first message: checks the target and takes the write ticket.
  absl::Status Target() {
    if (!ParseWriteRequest(&buffer_, &msg_)) {
      return absl::InvalidArgumentError("malformed WriteRequest message");
    }
    if (!msg_.has_target()) {
      return absl::InvalidArgumentError("the first message of a Write stream must be the target");
    }
    const v1::WriteTarget& target = msg_.target();
    Catalog& catalog = *service_->catalog_;
    SHMARRAY_RETURN_IF_ERROR(shm::ArrayName::Validate(target.name()));
    SHMARRAY_ASSIGN_OR_RETURN(entry_, catalog.Lookup(target.name()));
    SHMARRAY_RETURN_IF_ERROR(CheckGeneration("write to", entry_, target.generation()));
    SHMARRAY_ASSIGN_OR_RETURN(order_, CheckedOrder(target.order()));
    SHMARRAY_ASSIGN_OR_RETURN(shm::Layout layout, Select(entry_, target.index()));
    if (target.has_shape() && !std::ranges::equal(target.shape().extents(), layout.shape)) {
      const std::vector<int64_t> sent(target.shape().extents().begin(),
                                      target.shape().extents().end());
      return absl::InvalidArgumentError(absl::StrCat(
          "write to ", Quoted(entry_.name), ": the source has shape ", shm::TupleString(sent),
          " but the selection has shape ", shm::TupleString(layout.shape)));
    }
    if (!target.format().empty()) {
      try {
        shm::CheckFormatMatches(entry_.format, entry_.format.description(),
                                shm::Format::Parse(target.format()));
      } catch (...) {
        return shm::StatusFromCurrentException();
      }
    }
    if (entry_.readonly) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot write to ", Quoted(entry_.name), ": it is read-only (sealed)"));
    }
    range_ = ByteRange{0, layout.nbytes()};
    if (target.has_byte_offset()) {
      if (target.byte_offset() < 0 || target.nbytes() < 0) {
        return absl::InvalidArgumentError(absl::StrCat("byte range (offset ", target.byte_offset(),
                                                       ", nbytes ", target.nbytes(),
                                                       ") is negative"));
      }
      SHMARRAY_ASSIGN_OR_RETURN(
          range_, CheckedByteRange(entry_, layout.nbytes(), target.byte_offset(), target.nbytes()));
    } else if (target.nbytes() != layout.nbytes()) {
      return absl::InvalidArgumentError(
          absl::StrCat("nbytes ", target.nbytes(), " does not match the selection's ",
                       layout.nbytes(), " bytes (shape ", shm::TupleString(layout.shape, ","),
                       ", itemsize ", layout.itemsize, ")"));
    }
    total_ = range_.end - range_.begin;
    SHMARRAY_ASSIGN_OR_RETURN(sel_, MapSelection(catalog, entry_, target.index(), true));
    SHMARRAY_ASSIGN_OR_RETURN(Catalog::WriteTicket ticket, catalog.BeginWrite(entry_));
    ticket_.emplace(std::move(ticket));
    return absl::OkStatus();
  }

  // A data message: copies its payload into the selection.
  absl::Status Chunk() {
    parts_.clear();
    int64_t len = 0;
    if (!buffer_.Dump(&slices_).ok()) return absl::InvalidArgumentError("unreadable WriteRequest");
    size_t skip = proto::ParseDataFieldHeader(slices_, buffer_.Length(), &len);
    if (skip > 0) {
      // The common case: one data field. Its payload is copied from the
      // slices straight into the selection.
      for (const grpc::Slice& sl : slices_) {
        const size_t drop = std::min(skip, sl.size());
        skip -= drop;
        if (sl.size() > drop) {
          parts_.emplace_back(reinterpret_cast<const std::byte*>(sl.begin() + drop),
                              static_cast<int64_t>(sl.size() - drop));
        }
      }
    } else {
      if (!ParseWriteRequest(&buffer_, &msg_)) {
        return absl::InvalidArgumentError("malformed WriteRequest message");
      }
      if (msg_.payload_case() != v1::WriteRequest::kData) {
        return absl::InvalidArgumentError(absl::StrCat(
            "a Write stream has one target; message after ", written_, " bytes is not data"));
      }
      len = static_cast<int64_t>(msg_.data().size());
      if (len > 0) parts_.emplace_back(reinterpret_cast<const std::byte*>(msg_.data().data()), len);
    }
    if (len > total_ - written_) {
      return absl::InvalidArgumentError(
          absl::StrCat("the stream carries more than the announced ", total_, " bytes (",
                       written_ + len, " so far); the first ", written_, " bytes were written"));
    }
    // One chunk under the write ticket: a Seal waits for it, and no chunk
    // starts once the array is sealed.
    Metrics* const metrics = service_->metrics_;
    absl::Status copied = ticket_->Run([&]() -> absl::Status {
      for (const auto& [data, n] : parts_) {
        try {
          shm::UnpackRange(data, range_.begin + written_, n, order_, sel_.layout(), sel_.data());
        } catch (...) {
          return shm::StatusFromCurrentException();
        }
        if (metrics != nullptr) metrics->AddBytesWritten(n);
        written_ += n;
      }
      return service_->catalog_->CheckIntact(entry_, sel_);
    });
    slices_.clear();  // releases gRPC's receive buffers before the next read
    if (!copied.ok() && absl::IsFailedPrecondition(copied)) {
      return absl::FailedPreconditionError(
          absl::StrCat(copied.message(), "; the first ", written_, " bytes were written"));
    }
    return copied;
  }

  // The end of the stream: answers the WriteResponse.
  absl::Status Complete() {
    if (written_ != total_) {
      return absl::InvalidArgumentError(absl::StrCat("the stream ended after ", written_, " of ",
                                                     total_, " bytes; they were written"));
    }
    v1::WriteResponse resp;
    resp.set_bytes_written(written_);
    FillInfo(entry_, sel_.layout(), resp.mutable_info());
    grpc::Slice slice(resp.SerializeAsString());
    *response_ = grpc::ByteBuffer(&slice, 1);
    return absl::OkStatus();
  }

  // Ends the call (once) with `status`; the ticket is given back and the
  // call stops counting as in flight.
  void End(const absl::Status& status) {
    ticket_.reset();
    scope_.reset();
    Finish(ToGrpcStatus(status));
  }

  absl::Mutex mu_;  // held by every callback, as in ReadReactor
  ArrayServiceImpl* const service_;
  const std::string peer_;            // for the log lines of the call's callbacks
  grpc::ByteBuffer* const response_;  // owned by gRPC for the call's lifetime
  std::optional<CallScope> scope_;
  std::optional<Catalog::WriteTicket> ticket_;  // set once the target is checked
  grpc::ByteBuffer buffer_;                     // the message being read
  v1::WriteRequest msg_;
  CatalogEntry entry_;
  shm::AnyView sel_;
  shm::Order order_ = shm::Order::kC;
  ByteRange range_;
  int64_t total_ = 0;
  int64_t written_ = 0;
  // The received slices (references into gRPC's buffers) and the payload
  // parts within them; reused across messages.
  std::vector<grpc::Slice> slices_;
  std::vector<std::pair<const std::byte*, int64_t>> parts_;
};

grpc::ServerReadReactor<grpc::ByteBuffer>* ArrayServiceImpl::Write(grpc::CallbackServerContext* ctx,
                                                                   grpc::ByteBuffer* response) {
  return new WriteReactor(this, ctx, response);
}

// --- Watch ------------------------------------------------------------------------

// One Watch stream (see the file comment of service_internal.h). The state
// below is guarded by mu_; callbacks come from gRPC (OnWriteDone, OnCancel,
// OnDone) and from the hub's notifier thread (Wake). StartWrite and Finish
// are called with mu_ held: gRPC never runs a reaction inline in them (it
// dispatches reactions to its own threads). Wake can race with OnDone:
// OnDone clears the watcher's notify first, which waits for a Wake that is
// running, and only then deletes the reactor.
class ArrayServiceImpl::WatchReactor final : public grpc::ServerWriteReactor<v1::WatchEvent> {
 public:
  explicit WatchReactor(ArrayServiceImpl* service) : service_(service), scope_(service) {}

  // Authorizes and subscribes. REQUIRES: called once, by Watch, before it
  // returns the reactor to gRPC (operations started here are held by gRPC
  // until then).
  void Start(grpc::CallbackServerContext* ctx, const v1::WatchRequest& req)
      ABSL_LOCKS_EXCLUDED(mu_) {
    const absl::Status s = scope_.status().ok() ? service_->Authorize(ctx) : scope_.status();
    if (!s.ok()) {
      absl::MutexLock lock(&mu_);
      FinishLocked(ToGrpcStatus(s));
      return;
    }
    // `this` outlives every notify call: OnDone clears it before deleting.
    std::shared_ptr<WatchHub::Watcher> watcher =
        service_->hub_->Subscribe(req.prefix(), [this] { Wake(); });
    absl::MutexLock lock(&mu_);
    watcher_ = std::move(watcher);
    // Tells the client that the subscription is active (its
    // WaitForInitialMetadata returns). gRPC wants it before any write:
    // nothing is written until started_.
    StartSendInitialMetadata();
    started_ = true;
    PumpLocked();
  }

  void OnWriteDone(bool ok) override ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (finishing_) {
      Finish(status_);  // deferred by FinishLocked until this write was done
      return;
    }
    if (!ok) {
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
      return;
    }
    PumpLocked();
  }

  void OnCancel() override ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    FinishLocked(grpc::Status::CANCELLED);
  }

  void OnDone() override ABSL_LOCKS_EXCLUDED(mu_) {
    std::shared_ptr<WatchHub::Watcher> watcher;
    {
      absl::MutexLock lock(&mu_);
      watcher = std::move(watcher_);
    }
    if (watcher != nullptr) {
      // Outside mu_: a running Wake holds the notify lock and waits for mu_.
      watcher->ClearNotify();
      service_->hub_->Unsubscribe(watcher);
    }
    delete this;  // ends the call's CallScope, so Drain sees it gone
  }

 private:
  // The hub's notify: the queue has something (or the hub shut down).
  void Wake() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    PumpLocked();
  }

  // Starts the next write, if none is in flight; finishes once the hub is
  // shut down and everything taken is written.
  void PumpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!started_ || writing_ || finishing_) return;
    if (pending_.empty() && !closed_) closed_ = !watcher_->Take(&pending_);
    if (!pending_.empty()) {
      current_ = std::move(pending_.front());
      pending_.pop_front();
      writing_ = true;
      StartWrite(&current_);
    } else if (closed_) {
      FinishLocked(grpc::Status::OK);
    }
    // Else Take found nothing: the hub calls Wake on the next event.
  }

  // Finishes with `status`, now or, while a write is in flight, once it is
  // done (one operation of each kind at a time). Only the first call counts.
  void FinishLocked(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finishing_) return;
    finishing_ = true;
    status_ = std::move(status);
    if (!writing_) Finish(status_);
  }

  ArrayServiceImpl* const service_;
  // Counts the call from the start of the stream until the reactor is
  // deleted (declared before the state: destroyed after it).
  const CallScope scope_;
  absl::Mutex mu_;
  std::shared_ptr<WatchHub::Watcher> watcher_ ABSL_GUARDED_BY(mu_);
  // Taken from the hub, not yet written.
  std::deque<v1::WatchEvent> pending_ ABSL_GUARDED_BY(mu_);
  // The event being written (gRPC reads it until OnWriteDone).
  v1::WatchEvent current_ ABSL_GUARDED_BY(mu_);
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  // The hub is shut down: finish once pending_ is written.
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
};

grpc::ServerWriteReactor<v1::WatchEvent>* ArrayServiceImpl::Watch(grpc::CallbackServerContext* ctx,
                                                                  const v1::WatchRequest* req) {
  auto* reactor = new WatchReactor(this);
  reactor->Start(ctx, *req);
  return reactor;
}

}  // namespace shmarray::server::internal
