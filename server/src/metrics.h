// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: metrics.h
// -----------------------------------------------------------------------------
// Metrics: the daemon's Prometheus metrics (prometheus-cpp), served over HTTP
// at http://<--metrics-listen>/metrics when a listen address is given. The
// rest of the server reports to it through a few calls: the call interceptor
// (call_observer.h) per RPC, the service per byte moved, the catalog listener
// per created/deleted entry.
//
// Exposed series (stable names; README "Operations" lists them):
//   grpc_server_started_total{grpc_type,grpc_service,grpc_method}
//   grpc_server_handled_total{grpc_type,grpc_service,grpc_method,grpc_code}
//   grpc_server_handling_seconds{grpc_type,grpc_service,grpc_method} (histogram)
//   shmarray_read_bytes_total, shmarray_written_bytes_total, shmarray_copied_bytes_total
//   shmarray_catalog_entries{kind="array"|"view"}, shmarray_catalog_bytes
//   shmarray_quota_max_entries, shmarray_quota_max_bytes (0 = no byte quota)
//   shmarray_watchers, shmarray_active_streams{grpc_method}
//   shmarray_recovered_entries{kind}, shmarray_recovery_removed_segments,
//   shmarray_recovery_failed_segments (what the start-up recovery did)
//   shmarray_log_lines_dropped_total, shmarray_start_time_seconds
//
// Thread-safety: every method is thread-safe and never blocks on I/O (the
// HTTP server runs on threads of its own).

#ifndef SHMARRAY_SERVER_SRC_METRICS_H_
#define SHMARRAY_SERVER_SRC_METRICS_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "shmarray/server/catalog.h"

namespace prometheus {
class Counter;
class Exposer;
class Gauge;
class Histogram;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace shmarray::server::internal {

struct MetricsOptions {
  // "HOST:PORT" of the HTTP endpoint; "" = collect only (nothing served).
  std::string listen;
  int64_t max_bytes = 0;    // --max-bytes (0 = none)
  int64_t max_entries = 0;  // the effective --max-arrays
};

// What Catalog::Open did, from its action lines and the catalog it built.
struct RecoveryCounts {
  int64_t arrays = 0;       // adopted arrays
  int64_t views = 0;        // adopted named views
  int64_t array_bytes = 0;  // data bytes of the adopted arrays
  int64_t removed = 0;      // segments removed (half-created, corrupt, orphaned, ...)
  int64_t failed = 0;       // segments that could not be removed or opened
};

// Counts what Catalog::Open did from its action lines ("removed segment ...",
// "could not remove segment ...", "skipped segment ...") and the entries of
// the catalog it built.
RecoveryCounts CountRecovery(const std::vector<std::string>& actions, const Catalog& catalog);

// Checks a --metrics-listen value: HOST:PORT, and a loopback HOST unless
// `insecure` (the endpoint has neither TLS nor tokens). Errors:
// kInvalidArgument with a message for the user.
absl::Status ValidateMetricsListen(const std::string& listen, bool insecure);

class Metrics {
 public:
  // Per-method handles, made once per method and kept for the server's life.
  struct Method;

  // Builds the registry and, when options.listen is set, starts the HTTP
  // endpoint. Errors: kUnavailable when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<Metrics>> Create(const MetricsOptions& options);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // The HTTP port bound (0 when nothing is served).
  int port() const { return port_; }

  // The handles of `method` ("/package.Service/Method"); its grpc_type
  // ("unary", "client_stream", "server_stream", "bidi_stream") is the one
  // its .proto declares when protobuf knows the method, else `type`. The
  // pointer stays valid while this lives.
  Method* ForMethod(std::string_view method, std::string_view type) ABSL_LOCKS_EXCLUDED(mu_);
  void CallStarted(Method* method);
  // `code` is the gRPC status code (0..16) of the finished call.
  void CallFinished(Method* method, int code, double seconds) ABSL_LOCKS_EXCLUDED(mu_);

  void AddBytesRead(int64_t n);
  void AddBytesWritten(int64_t n);
  void AddBytesCopied(int64_t n);

  // The catalog as recovered at start, then every change.
  void SetRecovery(const RecoveryCounts& counts);
  void OnCatalogEvent(const CatalogEvent& event);

 private:
  Metrics() = default;
  class DynamicCollectable;

  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<DynamicCollectable> dynamic_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;

  prometheus::Family<prometheus::Counter>* started_ = nullptr;
  prometheus::Family<prometheus::Counter>* handled_ = nullptr;
  prometheus::Family<prometheus::Histogram>* seconds_ = nullptr;
  prometheus::Family<prometheus::Gauge>* streams_ = nullptr;
  prometheus::Counter* read_bytes_ = nullptr;
  prometheus::Counter* written_bytes_ = nullptr;
  prometheus::Counter* copied_bytes_ = nullptr;
  prometheus::Gauge* arrays_ = nullptr;
  prometheus::Gauge* views_ = nullptr;
  prometheus::Gauge* catalog_bytes_ = nullptr;
  prometheus::Gauge* watchers_ = nullptr;
  prometheus::Gauge* recovered_arrays_ = nullptr;
  prometheus::Gauge* recovered_views_ = nullptr;
  prometheus::Gauge* recovery_removed_ = nullptr;
  prometheus::Gauge* recovery_failed_ = nullptr;

  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<Method>> methods_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shmarray::server::internal

#endif  // SHMARRAY_SERVER_SRC_METRICS_H_
