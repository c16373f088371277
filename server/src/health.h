// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: health.h
// -----------------------------------------------------------------------------
// The gRPC health service (grpc.health.v1.Health, what Kubernetes and
// grpc-health-probe ask), with a status per service name: Check answers the
// status of a known name (NOT_FOUND for others), Watch sends the current
// status (SERVICE_UNKNOWN for an unknown name) and every change until the
// client goes away. It replaces gRPC's default health service so that the
// daemon's statuses are set before the first connection is accepted: a probe
// never sees "" SERVING while "shmarray.v1.ArrayService" is still unknown.
// Both handlers use the callback API (no thread is pinned by a Watch). The
// service needs no token. Private to server/src.
//
//   HealthService health({"", "shmarray.v1.ArrayService"});  // SERVING
//   builder.RegisterService(&health);
//   ...
//   health.Shutdown();  // NOT_SERVING for every name from now on
//
// Thread-safety: every method is thread-safe.

#ifndef SHMARRAY_SERVER_SRC_HEALTH_H_
#define SHMARRAY_SERVER_SRC_HEALTH_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace shmarray::server::internal {

class HealthService final : public grpc::health::v1::Health::CallbackService {
 public:
  using ServingStatus = grpc::health::v1::HealthCheckResponse::ServingStatus;

  // Every name in `services` starts SERVING.
  explicit HealthService(const std::vector<std::string>& services);
  ~HealthService() override;

  // Sets the status of `service` (adds the name when new) and tells its
  // watchers. Ignored after Shutdown().
  void SetStatus(const std::string& service, ServingStatus status) ABSL_LOCKS_EXCLUDED(mu_);
  // NOT_SERVING for every name, for good. Idempotent.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);

  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* context,
                                  const grpc::health::v1::HealthCheckRequest* request,
                                  grpc::health::v1::HealthCheckResponse* response) override;
  grpc::ServerWriteReactor<grpc::health::v1::HealthCheckResponse>* Watch(
      grpc::CallbackServerContext* context,
      const grpc::health::v1::HealthCheckRequest* request) override;

 private:
  class Watcher;
  void SetStatusLocked(const std::string& service, ServingStatus status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Remove(Watcher* watcher) ABSL_LOCKS_EXCLUDED(mu_);

  absl::Mutex mu_;
  std::map<std::string, ServingStatus> statuses_ ABSL_GUARDED_BY(mu_);
  std::set<Watcher*> watchers_ ABSL_GUARDED_BY(mu_);
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace shmarray::server::internal

#endif  // SHMARRAY_SERVER_SRC_HEALTH_H_
