// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: call_observer.h
// -----------------------------------------------------------------------------
// A gRPC server interceptor installed on every call of the daemon (public
// gRPC API: grpc::experimental::ServerInterceptorFactoryInterface). It
//   - reports each call to Metrics (started, status code, latency, streams in
//     progress), and
//   - names the caller in the log: while a synchronous handler runs, lines
//     logged by its thread carry peer=<the call's peer> (ScopedLogPeer).
// The handlers themselves are untouched. Private to server/src.
//
// Thread-safety: the factory is immutable and thread-safe; each interceptor
// belongs to one call.

#ifndef SHMARRAY_SERVER_SRC_CALL_OBSERVER_H_
#define SHMARRAY_SERVER_SRC_CALL_OBSERVER_H_

#include <grpcpp/support/server_interceptor.h>

#include "metrics.h"

namespace shmarray::server::internal {

class CallObserverFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  // `metrics` must outlive the server.
  explicit CallObserverFactory(Metrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  Metrics* const metrics_;
};

}  // namespace shmarray::server::internal

#endif  // SHMARRAY_SERVER_SRC_CALL_OBSERVER_H_
