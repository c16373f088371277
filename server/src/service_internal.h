// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: service_internal.h
// -----------------------------------------------------------------------------
// The gRPC implementation of shmarray.v1.ArrayService (docs/wire.md) over a
// Catalog; the Watch streams take their events from a WatchHub
// (watch_hub.h). Private to server/src (it includes *.pb.h); the public entry
// point is server.h.
//
// Requests that are not valid messages: the generated handlers parse the
// request before the method runs and answer INTERNAL (synchronous API) or
// UNIMPLEMENTED (callback API: Stat, Watch) with an empty message when it
// does not parse. MalformedRequestInterceptor (installed by server.cc
// on every call) sees that (the call's message is missing) and turns the
// status into INVALID_ARGUMENT "malformed <Method>Request message", so that
// the typed handlers (and their speed) stay as generated.
//
// Read and Write are served on gRPC's callback API by raw (ByteBuffer)
// methods, the generated WithRawCallbackMethod_Read/_Write: no thread is
// handed the call and no protobuf `bytes` copy is made. Each call is a
// reactor (ReadReactor, WriteReactor in service.cc) that does its work in
// gRPC's callbacks, one message at a time.
//
// Read parses its ReadRequest itself and writes the ReadResponse wire format
// itself (proto::DataFieldHeader). A sealed array's contiguous data goes out
// as grpc::Slices referencing the mapped shared memory (no copy: only its
// owner's uid or root can still shrink it); an array that is still writable
// is copied chunk by chunk, so that a segment truncated by another process is
// noticed (shm::SegmentFaulted) and the Read fails with DATA_LOSS instead of
// sending zeros or breaking the connection.
//
// Write parses the first message (the target) as a WriteRequest; a data
// message that is exactly one `data` field (proto::ParseDataFieldHeader: what
// every client sends) has its payload slices copied straight into the mapped
// selection (one copy, no protobuf string). Any other message is parsed as a
// WriteRequest, so the accepted wire format and the errors are those of the
// generated handler. Every chunk is copied under the array's write ticket
// (Catalog::BeginWrite), so a concurrent Seal stops the stream between two
// chunks.
//
// Stat and Watch are served on gRPC's callback API, the other methods on the
// synchronous one. A Watch stream is a reactor (WatchReactor, in service.cc)
// that holds no thread while it waits: subscribed to the hub from its start,
// it sends the initial metadata once subscribed (the client's sign that
// events from then on reach it), writes one event at a time, and is woken by
// the hub's notify when its queue gets an event after it had found none. It
// ends with OK once the hub is shut down and what was queued is written, and
// at once when the client cancels or a write fails. The call stays counted
// (BeginCall/EndCall, see Drain) until the reactor is done.
//
// Errors: every handler converts absl::Status to grpc::Status with
// proto::ToGrpcStatus, the only conversion point; library exceptions become
// statuses with shm::StatusFromCurrentException where the library is called.
//
// Thread-safety: all handlers are thread-safe (the Catalog synchronises; a
// Watch reactor guards its own state with its mutex).

#ifndef SHMARRAY_SERVER_SERVICE_INTERNAL_H_
#define SHMARRAY_SERVER_SERVICE_INTERNAL_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "shmarray/server/auth.h"
#include "shmarray/server/catalog.h"
#include "shmarray/v1/array_service.grpc.pb.h"
#include "shmarray/v1/array_service.pb.h"

namespace shmarray::server::internal {

class Metrics;
class WatchHub;

// The WatchEvent of a catalog event.
v1::WatchEvent ToWatchEvent(const CatalogEvent& event);

// Fills `info` with `entry`'s description and `layout` (the entry's own or a
// selection of it).
void FillInfo(const CatalogEntry& entry, const shm::Layout& layout, v1::ArrayInfo* info);

// See the file comment: rewrites gRPC's status for a request that did not
// parse, on the unary and server-streaming methods of ArrayService.
class MalformedRequestInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;
};

// Stat is served on the callback API: it never blocks (a catalog lookup),
// so it runs on the thread that received it, without the sync API's handoff
// to a pool thread (which cost Stat a third of its rate against an empty
// call; bench/server_bench BM_StatPaired). Read and Write are raw callback
// methods, and Watch is a callback method too, so that no open stream pins a
// thread (see the file comment).
class ArrayServiceImpl final
    : public v1::ArrayService::WithCallbackMethod_Stat<v1::ArrayService::WithRawCallbackMethod_Read<
          v1::ArrayService::WithRawCallbackMethod_Write<
              v1::ArrayService::WithCallbackMethod_Watch<v1::ArrayService::Service>>>> {
 public:
  // `catalog` and `hub` must outlive the service; `auth` may be null (no token
  // required).
  ArrayServiceImpl(Catalog* catalog, WatchHub* hub, const TokenAuthenticator* auth);

  grpc::Status Create(grpc::ServerContext* ctx, const v1::CreateRequest* req,
                      v1::ArrayInfo* resp) override;
  grpc::ServerUnaryReactor* Stat(grpc::CallbackServerContext* ctx, const v1::StatRequest* req,
                                 v1::ArrayInfo* resp) override;
  // What Stat answers, without a reactor (Stat finishes with it; the service
  // fuzzer calls it directly).
  grpc::Status ServeStat(grpc::ServerContextBase* ctx, const v1::StatRequest* req,
                         v1::ArrayInfo* resp);
  grpc::Status List(grpc::ServerContext* ctx, const v1::ListRequest* req,
                    v1::ListResponse* resp) override;
  grpc::Status Delete(grpc::ServerContext* ctx, const v1::DeleteRequest* req,
                      v1::DeleteResponse* resp) override;
  grpc::Status Seal(grpc::ServerContext* ctx, const v1::SealRequest* req,
                    v1::ArrayInfo* resp) override;
  grpc::Status Slice(grpc::ServerContext* ctx, const v1::SliceRequest* req,
                     v1::ArrayInfo* resp) override;
  grpc::Status Copy(grpc::ServerContext* ctx, const v1::CopyRequest* req,
                    v1::ArrayInfo* resp) override;
  grpc::ServerWriteReactor<v1::WatchEvent>* Watch(grpc::CallbackServerContext* ctx,
                                                  const v1::WatchRequest* req) override;

  // Reports bytes read, written and copied to `metrics` (may be null; must
  // outlive the service). REQUIRES: called before the service serves calls.
  void SetMetrics(Metrics* metrics) { metrics_ = metrics; }

  // Refuses new calls (UNAVAILABLE) from now on and waits up to `timeout`
  // for the calls in flight to finish. Returns true if none is left. Watch
  // streams end only when the WatchHub is shut down (or their client goes
  // away): shut it down first.
  bool Drain(absl::Duration timeout) ABSL_LOCKS_EXCLUDED(calls_mu_);

  // Read: the request is a serialized ReadRequest; the responses are
  // ReadResponses.
  grpc::ServerWriteReactor<grpc::ByteBuffer>* Read(grpc::CallbackServerContext* ctx,
                                                   const grpc::ByteBuffer* request) override;
  // Write: the requests are serialized WriteRequests; *response is set to a
  // serialized WriteResponse.
  grpc::ServerReadReactor<grpc::ByteBuffer>* Write(grpc::CallbackServerContext* ctx,
                                                   grpc::ByteBuffer* response) override;

 private:
  // One Watch stream (service.cc).
  class WatchReactor;

  // Counts a call in flight for the lifetime of a handler (of a reactor, for
  // Watch).
  class CallScope {
   public:
    explicit CallScope(ArrayServiceImpl* service)
        : service_(service), status_(service->BeginCall()) {}
    ~CallScope() {
      if (status_.ok()) service_->EndCall();
    }
    const absl::Status& status() const { return status_; }

   private:
    ArrayServiceImpl* const service_;
    const absl::Status status_;
  };

  absl::Status BeginCall() ABSL_LOCKS_EXCLUDED(calls_mu_);
  void EndCall() ABSL_LOCKS_EXCLUDED(calls_mu_);
  absl::Status Authorize(grpc::ServerContextBase* ctx) const;
  // Serves one unary call: counts it, authorizes it, runs `impl`.
  template <typename Req, typename Resp>
  grpc::Status ServeUnary(grpc::ServerContextBase* ctx, const Req& req, Resp* resp,
                          absl::Status (ArrayServiceImpl::*impl)(const Req&, Resp*));
  absl::Status CreateImpl(const v1::CreateRequest& req, v1::ArrayInfo* resp);
  absl::Status StatImpl(const v1::StatRequest& req, v1::ArrayInfo* resp);
  absl::Status ListImpl(const v1::ListRequest& req, v1::ListResponse* resp);
  absl::Status DeleteImpl(const v1::DeleteRequest& req, v1::DeleteResponse* resp);
  absl::Status SealImpl(const v1::SealRequest& req, v1::ArrayInfo* resp);
  absl::Status SliceImpl(const v1::SliceRequest& req, v1::ArrayInfo* resp);
  absl::Status CopyImpl(const v1::CopyRequest& req, v1::ArrayInfo* resp);
  class ReadReactor;
  class WriteReactor;

  Catalog* const catalog_;
  WatchHub* const hub_;
  const TokenAuthenticator* const auth_;
  Metrics* metrics_ = nullptr;
  absl::Mutex calls_mu_;
  int active_calls_ ABSL_GUARDED_BY(calls_mu_) = 0;
  bool draining_ ABSL_GUARDED_BY(calls_mu_) = false;
};

}  // namespace shmarray::server::internal

#endif  // SHMARRAY_SERVER_SERVICE_INTERNAL_H_
