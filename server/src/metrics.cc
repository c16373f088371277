// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: metrics.cc
// -----------------------------------------------------------------------------
// See metrics.h.

#include "metrics.h"

#include <google/protobuf/descriptor.h>
#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"
#include "address.h"
#include "shmarray/server/log.h"
#include "shmarray/shm/status.h"

namespace shmarray::server::internal {
namespace {

constexpr int kCodes = 17;  // gRPC status codes 0..16

constexpr const char* kCodeNames[kCodes] = {
    "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
    "DATA_LOSS", "UNAUTHENTICATED"};

// Latency buckets in seconds: 100 us (an empty local call) to 30 s (a big stream).
const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* const buckets = new prometheus::Histogram::BucketBoundaries{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
      0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30};
  return *buckets;
}

}  // namespace

struct Metrics::Method {
  std::string service;
  std::string name;
  std::string type;
  bool is_watch = false;
  prometheus::Counter* started = nullptr;
  prometheus::Histogram* seconds = nullptr;
  prometheus::Gauge* active = nullptr;  // streaming methods only
  std::array<std::atomic<prometheus::Counter*>, kCodes> handled{};
};

// Values read when scraped rather than pushed: the log's dropped lines.
class Metrics::DynamicCollectable final : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override {
    prometheus::MetricFamily dropped;
    dropped.name = "shmarray_log_lines_dropped_total";
    dropped.help = "Log lines dropped because stderr did not keep up";
    dropped.type = prometheus::MetricType::Counter;
    prometheus::ClientMetric m;
    m.counter.value = static_cast<double>(LogLinesDropped());
    dropped.metric.push_back(std::move(m));
    return {std::move(dropped)};
  }
};

RecoveryCounts CountRecovery(const std::vector<std::string>& actions, const Catalog& catalog) {
  RecoveryCounts counts;
  for (const std::string& line : actions) {
    if (line.rfind("removed segment ", 0) == 0) {
      ++counts.removed;
    } else if (line.rfind("could not remove segment ", 0) == 0 ||
               line.rfind("skipped segment ", 0) == 0) {
      ++counts.failed;
    }
  }
  std::string token;
  do {
    absl::StatusOr<Catalog::Page> page = catalog.List("", 1000, token);
    if (!page.ok()) break;
    for (const CatalogEntry& e : page->entries) {
      if (e.kind == shm::SegmentKind::kView) {
        ++counts.views;
      } else {
        ++counts.arrays;
        counts.array_bytes += e.data_size_bytes;
      }
    }
    token = page->next_token;
  } while (!token.empty());
  return counts;
}

absl::Status ValidateMetricsListen(const std::string& listen, bool insecure) {
  if (listen.empty()) return absl::OkStatus();
  SHMARRAY_ASSIGN_OR_RETURN(const ListenAddress address, ResolveListen(listen, "--metrics-listen"));
  if (!address.loopback && !insecure) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics-listen ", listen,
                     " is not a loopback address: the metrics endpoint has no TLS and no "
                     "token; pass --insecure to serve it there anyway"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Metrics>> Metrics::Create(const MetricsOptions& options) {
  std::unique_ptr<Metrics> m(new Metrics());
  m->registry_ = std::make_shared<prometheus::Registry>();
  prometheus::Registry& r = *m->registry_;
  m->started_ = &prometheus::BuildCounter()
                     .Name("grpc_server_started_total")
                     .Help("RPCs started on the server")
                     .Register(r);
  m->handled_ = &prometheus::BuildCounter()
                     .Name("grpc_server_handled_total")
                     .Help("RPCs completed on the server, by status code")
                     .Register(r);
  m->seconds_ = &prometheus::BuildHistogram()
                     .Name("grpc_server_handling_seconds")
                     .Help("Time from the start of an RPC to its status, in seconds")
                     .Register(r);
  m->streams_ = &prometheus::BuildGauge()
                     .Name("shmarray_active_streams")
                     .Help("Streaming RPCs (Read, Write, Watch) in progress")
                     .Register(r);
  auto counter = [&r](const char* name, const char* help) {
    return &prometheus::BuildCounter().Name(name).Help(help).Register(r).Add({});
  };
  auto gauge_family = [&r](const char* name, const char* help) {
    return &prometheus::BuildGauge().Name(name).Help(help).Register(r);
  };
  m->read_bytes_ = counter("shmarray_read_bytes_total", "Array bytes sent by Read");
  m->written_bytes_ = counter("shmarray_written_bytes_total", "Array bytes stored by Write");
  m->copied_bytes_ = counter("shmarray_copied_bytes_total", "Array bytes copied by Copy");
  auto* entries = gauge_family("shmarray_catalog_entries", "Catalog entries by kind");
  m->arrays_ = &entries->Add({{"kind", "array"}});
  m->views_ = &entries->Add({{"kind", "view"}});
  m->catalog_bytes_ =
      &gauge_family("shmarray_catalog_bytes", "Bytes of the data regions of all arrays")->Add({});
  gauge_family("shmarray_quota_max_bytes", "--max-bytes (0 = no quota)")
      ->Add({})
      .Set(static_cast<double>(options.max_bytes));
  gauge_family("shmarray_quota_max_entries", "--max-arrays: the most catalog entries allowed")
      ->Add({})
      .Set(static_cast<double>(options.max_entries));
  m->watchers_ = &gauge_family("shmarray_watchers", "Watch streams open")->Add({});
  auto* recovered =
      gauge_family("shmarray_recovered_entries", "Entries adopted by the recovery at start");
  m->recovered_arrays_ = &recovered->Add({{"kind", "array"}});
  m->recovered_views_ = &recovered->Add({{"kind", "view"}});
  m->recovery_removed_ =
      &gauge_family("shmarray_recovery_removed_segments",
                    "Segments the recovery at start removed (half-created, corrupt, orphaned)")
           ->Add({});
  m->recovery_failed_ =
      &gauge_family("shmarray_recovery_failed_segments",
                    "Segments the recovery at start could neither adopt nor remove")
           ->Add({});
  gauge_family("shmarray_start_time_seconds", "Start time of the daemon, seconds since the epoch")
      ->Add({})
      .Set(std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
               .count());
  m->dynamic_ = std::make_shared<DynamicCollectable>();

  if (!options.listen.empty()) {
    try {
      m->exposer_ = std::make_unique<prometheus::Exposer>(options.listen, 2);
    } catch (const std::exception& e) {
      return absl::UnavailableError(
          absl::StrCat("cannot serve metrics on ", options.listen, ": ", e.what()));
    }
    m->exposer_->RegisterCollectable(m->registry_);
    m->exposer_->RegisterCollectable(m->dynamic_);
    const std::vector<int> ports = m->exposer_->GetListeningPorts();
    m->port_ = ports.empty() ? 0 : ports.front();
  }
  return m;
}

// Takes mu_ once: every CallFinished before (see there) is ordered before
// the members go.
Metrics::~Metrics() { absl::MutexLock lock(&mu_); }

Metrics::Method* Metrics::ForMethod(std::string_view method, std::string_view type) {
  const absl::string_view key(method.data(), method.size());
  {  // Every call after a method's first: a shared lock, no allocation.
    absl::ReaderMutexLock lock(&mu_);
    auto it = methods_.find(key);
    if (it != methods_.end()) return it->second.get();
  }
  absl::MutexLock lock(&mu_);
  auto it = methods_.find(key);
  if (it != methods_.end()) return it->second.get();
  auto m = std::make_unique<Method>();
  // "/package.Service/Method"
  const std::string_view path = method.substr(method.empty() || method[0] != '/' ? 0 : 1);
  const size_t slash = path.find('/');
  m->service = std::string(path.substr(0, slash));
  m->name = slash == std::string_view::npos ? std::string() : std::string(path.substr(slash + 1));
  // A handler may be registered as another type than the .proto declares
  // (a raw method): the type reported is the declared one, when the method
  // is known.
  m->type = std::string(type);
  const auto* descriptor = google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(
      m->service + "." + m->name);
  if (descriptor != nullptr) {
    m->type = descriptor->client_streaming()
                  ? (descriptor->server_streaming() ? "bidi_stream" : "client_stream")
                  : (descriptor->server_streaming() ? "server_stream" : "unary");
  }
  m->is_watch = m->service == "shmarray.v1.ArrayService" && m->name == "Watch";
  const prometheus::Labels labels = {
      {"grpc_service", m->service}, {"grpc_method", m->name}, {"grpc_type", m->type}};
  m->started = &started_->Add(labels);
  m->seconds = &seconds_->Add(labels, LatencyBuckets());
  if (m->type != "unary") m->active = &streams_->Add({{"grpc_method", m->name}});
  Method* out = m.get();
  methods_.emplace(std::string(method), std::move(m));
  return out;
}

void Metrics::CallStarted(Method* method) {
  method->started->Increment();
  if (method->active != nullptr) method->active->Increment();
  if (method->is_watch) watchers_->Increment();
}

void Metrics::CallFinished(Method* method, int code, double seconds) {
  // A shared lock (as ForMethod's): it also orders the end of every call
  // before ~Metrics. gRPC destroys a callback call's interceptors (so calls
  // this) on one of its own threads and orders that before Server::Wait
  // returns, but through its uninstrumented code, which ThreadSanitizer
  // cannot see.
  absl::ReaderMutexLock lock(&mu_);
  if (code < 0 || code >= kCodes) code = 2;  // UNKNOWN
  prometheus::Counter* c = method->handled[code].load(std::memory_order_acquire);
  if (c == nullptr) {
    // Family::Add returns the same counter for the same labels, so a race
    // here only stores the same pointer twice.
    c = &handled_->Add({{"grpc_service", method->service},
                        {"grpc_method", method->name},
                        {"grpc_type", method->type},
                        {"grpc_code", kCodeNames[code]}});
    method->handled[code].store(c, std::memory_order_release);
  }
  c->Increment();
  method->seconds->Observe(seconds);
  if (method->active != nullptr) method->active->Decrement();
  if (method->is_watch) watchers_->Decrement();
}

void Metrics::AddBytesRead(int64_t n) { read_bytes_->Increment(static_cast<double>(n)); }
void Metrics::AddBytesWritten(int64_t n) { written_bytes_->Increment(static_cast<double>(n)); }
void Metrics::AddBytesCopied(int64_t n) { copied_bytes_->Increment(static_cast<double>(n)); }

void Metrics::SetRecovery(const RecoveryCounts& counts) {
  recovered_arrays_->Set(static_cast<double>(counts.arrays));
  recovered_views_->Set(static_cast<double>(counts.views));
  recovery_removed_->Set(static_cast<double>(counts.removed));
  recovery_failed_->Set(static_cast<double>(counts.failed));
  arrays_->Set(static_cast<double>(counts.arrays));
  views_->Set(static_cast<double>(counts.views));
  catalog_bytes_->Set(static_cast<double>(counts.array_bytes));
}

void Metrics::OnCatalogEvent(const CatalogEvent& event) {
  const bool view = event.entry.kind == shm::SegmentKind::kView;
  const double sign = event.type == CatalogEventType::kCreated   ? 1.0
                      : event.type == CatalogEventType::kDeleted ? -1.0
                                                                 : 0.0;
  if (sign == 0.0) return;
  (view ? views_ : arrays_)->Increment(sign);
  if (!view) catalog_bytes_->Increment(sign * static_cast<double>(event.entry.data_size_bytes));
}

}  // namespace shmarray::server::internal
