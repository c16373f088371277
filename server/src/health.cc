// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: health.cc
// -----------------------------------------------------------------------------
// See health.h.

#include "health.h"

#include <optional>
#include <utility>

namespace shmarray::server::internal {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// One Watch stream. At most one write is in flight; a status that changes
// meanwhile is sent when it completes (only the latest one). Deletes itself
// in OnDone, after leaving the service's set.
class HealthService::Watcher final : public grpc::ServerWriteReactor<HealthCheckResponse> {
 public:
  Watcher(HealthService* service, std::string name) : service_(service), name_(std::move(name)) {}

  void Update(ServingStatus status) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (finishing_) return;
    pending_ = status;
    if (!writing_) WriteLocked();
  }

  void OnWriteDone(bool ok) override ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) {
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
      return;
    }
    if (finish_pending_) {
      finish_pending_ = false;
      Finish(finish_status_);
      return;
    }
    WriteLocked();
  }

  void OnCancel() override ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    FinishLocked(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    service_->Remove(this);
    delete this;
  }

 private:
  void WriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!pending_ || (last_ && *last_ == *pending_)) {
      pending_.reset();
      return;
    }
    response_.set_status(*pending_);
    last_ = pending_;
    pending_.reset();
    writing_ = true;
    StartWrite(&response_);
  }

  void FinishLocked(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finishing_) return;
    finishing_ = true;
    if (writing_) {
      finish_pending_ = true;
      finish_status_ = status;
    } else {
      Finish(status);
    }
  }

  HealthService* const service_;
  const std::string name_;
  absl::Mutex mu_;
  HealthCheckResponse response_ ABSL_GUARDED_BY(mu_);
  std::optional<ServingStatus> pending_ ABSL_GUARDED_BY(mu_);
  std::optional<ServingStatus> last_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_pending_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status finish_status_ ABSL_GUARDED_BY(mu_);

  friend class HealthService;
};

HealthService::HealthService(const std::vector<std::string>& services) {
  absl::MutexLock lock(&mu_);
  for (const std::string& s : services) statuses_[s] = HealthCheckResponse::SERVING;
}

HealthService::~HealthService() = default;

void HealthService::SetStatus(const std::string& service, ServingStatus status) {
  absl::MutexLock lock(&mu_);
  if (!shut_down_) SetStatusLocked(service, status);
}

void HealthService::SetStatusLocked(const std::string& service, ServingStatus status) {
  statuses_[service] = status;
  for (Watcher* w : watchers_) {
    if (w->name_ == service) w->Update(status);
  }
}

void HealthService::Shutdown() {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  for (auto& [name, status] : statuses_) SetStatusLocked(name, HealthCheckResponse::NOT_SERVING);
  shut_down_ = true;
}

void HealthService::Remove(Watcher* watcher) {
  absl::MutexLock lock(&mu_);
  watchers_.erase(watcher);
}

grpc::ServerUnaryReactor* HealthService::Check(grpc::CallbackServerContext* context,
                                               const HealthCheckRequest* request,
                                               HealthCheckResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::MutexLock lock(&mu_);
  auto it = statuses_.find(request->service());
  if (it == statuses_.end()) {
    reactor->Finish(
        grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service '" + request->service() + "'"));
  } else {
    response->set_status(it->second);
    reactor->Finish(grpc::Status::OK);
  }
  return reactor;
}

grpc::ServerWriteReactor<HealthCheckResponse>* HealthService::Watch(
    grpc::CallbackServerContext* /*context*/, const HealthCheckRequest* request) {
  auto* watcher = new Watcher(this, request->service());
  absl::MutexLock lock(&mu_);
  watchers_.insert(watcher);
  auto it = statuses_.find(request->service());
  watcher->Update(it == statuses_.end() ? HealthCheckResponse::SERVICE_UNKNOWN : it->second);
  return watcher;
}

}  // namespace shmarray::server::internal
