// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: call_observer.cc
// -----------------------------------------------------------------------------
// See call_observer.h.

#include "call_observer.h"

#include <grpcpp/server_context.h>

#include <chrono>
#include <string_view>

#include "shmarray/server/log.h"

namespace shmarray::server::internal {
namespace {

using grpc::experimental::InterceptionHookPoints;
using grpc::experimental::ServerRpcInfo;

std::string_view TypeName(ServerRpcInfo::Type type) {
  switch (type) {
    case ServerRpcInfo::Type::CLIENT_STREAMING:
      return "client_stream";
    case ServerRpcInfo::Type::SERVER_STREAMING:
      return "server_stream";
    case ServerRpcInfo::Type::BIDI_STREAMING:
      return "bidi_stream";
    case ServerRpcInfo::Type::UNARY:
      break;
  }
  return "unary";
}

class CallObserver final : public grpc::experimental::Interceptor {
 public:
  CallObserver(ServerRpcInfo* info, Metrics* metrics)
      : info_(info),
        metrics_(metrics),
        method_(metrics->ForMethod(info->method() ? info->method() : "", TypeName(info->type()))),
        start_(std::chrono::steady_clock::now()) {
    metrics_->CallStarted(method_);
  }

  ~CallObserver() override {
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start_;
    // A call that ends without sending a status was cancelled.
    metrics_->CallFinished(method_, has_status_ ? code_ : grpc::StatusCode::CANCELLED,
                           elapsed.count());
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      has_status_ = true;
      code_ = methods->GetSendStatus().error_code();
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      // A synchronous handler runs within this Proceed(), on this thread.
      ScopedLogPeer peer(info_->server_context()->peer());
      methods->Proceed();
      return;
    }
    methods->Proceed();
  }

 private:
  ServerRpcInfo* const info_;
  Metrics* const metrics_;
  Metrics::Method* const method_;
  const std::chrono::steady_clock::time_point start_;
  bool has_status_ = false;
  int code_ = 0;
};

}  // namespace

grpc::experimental::Interceptor* CallObserverFactory::CreateServerInterceptor(ServerRpcInfo* info) {
  return new CallObserver(info, metrics_);
}

}  // namespace shmarray::server::internal
