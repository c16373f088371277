// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: client.cc
// -----------------------------------------------------------------------------
// The client library: a gRPC stub behind a pimpl, statuses turned into
// RpcError at one place (Check), attach = Stat + MapDataRegion + AnyView, and
// the Read/Write/Watch streams.

#include "shmarray/client/client.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/rpc_method.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "local_catalog.h"
#include "read_buffers.h"
#include "shmarray/proto/convert.h"
#include "shmarray/shm/array_name.h"
#include "shmarray/shm/errors.h"
#include "shmarray/shm/malloc_tuning.h"
#include "shmarray/shm/segment.h"
#include "shmarray/shm/status.h"
#include "shmarray/v1/array_service.grpc.pb.h"
#include "shmarray/v1/array_service.pb.h"

namespace shmarray::client {
namespace {

constexpr int64_t kWriteChunkBytes = int64_t{1} << 20;  // 1 MiB
// With ClientOptions::streams > 1, a transfer's first kFirstPartBytes go
// over one stream (a smaller one never opens a second) and the rest is split
// across the streams in parts aligned to kWriteChunkBytes.
constexpr int64_t kFirstPartBytes = int64_t{4} << 20;
// A local read (ClientOptions::local_reads) copies runs of contiguous bytes
// with one pread each: a selection of more than kMaxShortRuns runs shorter
// than kMinLocalRunBytes is streamed instead (the daemon packs it in memory).
constexpr int64_t kMinLocalRunBytes = int64_t{64} << 10;
constexpr int64_t kMaxShortRuns = 64;
// A local read reports progress after each piece of at most this many bytes.
constexpr int64_t kLocalPieceBytes = int64_t{4} << 20;
// After this many segments in a row that could not be opened (another
// container's /dev/shm, no permission), a Client stops trying local reads.
constexpr int kMaxLocalMisses = 4;

// Throws RpcError for a non-OK gRPC status (the one conversion point).
// Refuses a bad array name before any RPC, in the daemon's own words.
void CheckName(std::string_view name) {
  absl::Status status = shm::ArrayName::Validate(name);
  if (!status.ok()) throw RpcError(status);
}

void Check(const grpc::Status& status) {
  if (status.ok()) return;
  throw RpcError(proto::FromGrpcStatus(status));
}

// The full name of the Read method, as the generated stub spells it.
const char* ReadMethodName() {
  static const std::string* const name =
      new std::string(std::string("/") + v1::ArrayService::service_full_name() + "/Read");
  return name->c_str();
}

// The full name of the Write method, as the generated stub spells it.
const char* WriteMethodName() {
  static const std::string* const name =
      new std::string(std::string("/") + v1::ArrayService::service_full_name() + "/Write");
  return name->c_str();
}

// Drops the owner reference a zero-copy slice held.
void ReleaseOwner(void* owner) { delete static_cast<std::shared_ptr<const void>*>(owner); }

void SetIndex(const Index& index, v1::Index* out) {
  if (index.structured()) {
    *out = proto::IndexToProto(index.expr());
  } else {
    out->set_text(index.text());
  }
}

// The library form of a wire ArrayInfo. A malformed description from the
// server is kDataLoss.
ArrayInfo FromProto(const v1::ArrayInfo& in) {
  ArrayInfo out;
  out.name = in.name();
  try {
    out.format = shm::Format::Parse(in.format());
  } catch (const std::exception& e) {
    throw RpcError(absl::StatusCode::kDataLoss,
                   "server sent a bad format for '" + in.name() + "': " + e.what());
  }
  absl::StatusOr<shm::Layout> layout = proto::LayoutFromInfo(in);
  if (!layout.ok()) {
    throw RpcError(absl::StatusCode::kDataLoss, "server sent a bad layout for '" + in.name() +
                                                    "': " + std::string(layout.status().message()));
  }
  out.layout = *std::move(layout);
  out.readonly = in.readonly();
  out.c_contiguous = in.c_contiguous();
  out.f_contiguous = in.f_contiguous();
  out.generation = in.generation();
  out.kind = in.kind() == v1::ARRAY_KIND_VIEW ? ArrayKind::kView : ArrayKind::kArray;
  out.base = in.base();
  out.base_generation = in.base_generation();
  out.segment_name = in.segment_name();
  out.segment_size = in.segment_size();
  out.data_offset = in.data_offset();
  out.data_size = in.data_size();
  out.created_unix_ns = in.created_unix_ns();
  return out;
}

// The streams of one split transfer: the first error is kept and cancels
// every stream still running. Thread-safe.
class StreamGroup {
 public:
  // Registers a running stream; false (do not start) once the group failed.
  bool Add(grpc::ClientContext* ctx) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!status_.ok()) return false;
    live_.push_back(ctx);
    return true;
  }
  void Remove(grpc::ClientContext* ctx) {
    std::lock_guard<std::mutex> lock(mu_);
    std::erase(live_, ctx);
  }
  void Fail(absl::Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!status_.ok() || status.ok()) return;
    status_ = std::move(status);
    for (grpc::ClientContext* ctx : live_) ctx->TryCancel();
  }
  absl::Status status() {
    std::lock_guard<std::mutex> lock(mu_);
    return status_;
  }

 private:
  std::mutex mu_;
  std::vector<grpc::ClientContext*> live_;  // guarded by mu_
  absl::Status status_;                     // guarded by mu_
};

// Bytes [begin, end) of a transfer.
struct Part {
  int64_t begin = 0;
  int64_t end = 0;
};

// [begin, end) cut into `n` parts whose inner bounds are multiples of
// kWriteChunkBytes; trailing parts may be empty.
std::vector<Part> SplitParts(int64_t begin, int64_t end, int n) {
  std::vector<Part> parts;
  int64_t at = begin;
  for (int k = 1; k <= n; ++k) {
    int64_t bound = k == n ? end : begin + (end - begin) / n * k;
    if (k < n) bound = std::max(at, bound / kWriteChunkBytes * kWriteChunkBytes);
    parts.push_back(Part{at, bound});
    at = bound;
  }
  return parts;
}

// The progress of a transfer whose streams run on several threads: every
// stream adds its chunks; only the calling thread's chunks report (so that
// the callback runs on the thread that called read() or write()).
class Progress {
 public:
  Progress(const ProgressCallback& callback, const int64_t* total)
      : callback_(callback), total_(total) {}
  // A chunk of the calling thread's stream: counted and reported.
  void Report(int64_t n) {
    const int64_t now = done_.fetch_add(n) + n;
    if (callback_) callback_(now, *total_);
    reported_ = now;
  }
  // A chunk of another stream: counted.
  void Add(int64_t n) { done_.fetch_add(n); }
  // After the streams joined: the final report, unless it was made.
  void Finish() {
    if (callback_ && reported_ != *total_) callback_(*total_, *total_);
  }

 private:
  const ProgressCallback& callback_;
  const int64_t* const total_;  // known once the first stream has its description
  std::atomic<int64_t> done_{0};
  int64_t reported_ = -1;
};

// Runs fn(0) on this thread and fn(1..n-1) on their own threads; joins all.
void RunParts(int n, const std::function<void(int)>& fn) {
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(n - 1));
  for (int k = 1; k < n; ++k) threads.emplace_back(fn, k);
  fn(0);
  for (std::thread& t : threads) t.join();
}

// A selection read in an order, as equal runs of contiguous bytes of the
// data region: `run_bytes` from each offset the outer axes step through.
struct RunPlan {
  int64_t run_bytes = 0;
  int64_t runs = 0;                  // 0 when the selection is empty
  int64_t offset = 0;                // of the first run, in the data region
  std::vector<int64_t> outer_shape;  // outermost first
  std::vector<int64_t> outer_strides;
};

// The runs of `sel` in `order`: the innermost axes (last ones for C, first
// ones for Fortran) whose items lie back to back form one run.
RunPlan PlanRuns(const shm::Layout& sel, shm::Order order) {
  RunPlan plan;
  plan.offset = sel.offset;
  std::vector<std::pair<int64_t, int64_t>> axes;  // (extent, stride), outermost first
  for (int i = 0; i < sel.ndim(); ++i) {
    const size_t k = static_cast<size_t>(order == shm::Order::kC ? i : sel.ndim() - 1 - i);
    if (sel.shape[k] == 0) return plan;
    if (sel.shape[k] != 1) axes.emplace_back(sel.shape[k], sel.strides[k]);
  }
  int64_t run = sel.itemsize;
  while (!axes.empty() && axes.back().second == run) {
    run *= axes.back().first;
    axes.pop_back();
  }
  plan.run_bytes = run;
  plan.runs = 1;
  for (const auto& [extent, stride] : axes) {
    plan.outer_shape.push_back(extent);
    plan.outer_strides.push_back(stride);
    plan.runs *= extent;
  }
  return plan;
}

WatchEvent::Type EventTypeFromProto(v1::WatchEvent::Type t) {
  switch (t) {
    case v1::WatchEvent::TYPE_SEALED:
      return WatchEvent::Type::kSealed;
    case v1::WatchEvent::TYPE_DELETED:
      return WatchEvent::Type::kDeleted;
    case v1::WatchEvent::TYPE_OVERFLOW:
      return WatchEvent::Type::kOverflow;
    default:
      return WatchEvent::Type::kCreated;
  }
}

}  // namespace

// --- Client::Impl ----------------------------------------------------------

class Client::Impl {
 public:
  Impl(ClientOptions options, std::string target,
       std::shared_ptr<grpc::ChannelCredentials> credentials, grpc::ChannelArguments args)
      : options_(std::move(options)),
        target_(std::move(target)),
        credentials_(std::move(credentials)),
        args_(std::move(args)),
        channel_(grpc::CreateCustomChannel(target_, credentials_, args_)),
        stub_(v1::ArrayService::NewStub(channel_)) {}

  // The channel of stream `k` of a split transfer: the client's own for 0;
  // for k > 0 a channel of its own (a separate connection), made on first
  // use and kept.
  std::shared_ptr<grpc::Channel> TransferChannel(int k) {
    if (k == 0) return channel_;
    std::lock_guard<std::mutex> lock(transfer_mu_);
    if (transfer_channels_.size() < static_cast<size_t>(k)) {
      transfer_channels_.resize(static_cast<size_t>(k));
    }
    std::shared_ptr<grpc::Channel>& channel = transfer_channels_[static_cast<size_t>(k - 1)];
    if (channel == nullptr) {
      grpc::ChannelArguments args = args_;
      // Distinct arguments: gRPC does not share the connection of channel 0.
      args.SetInt("shmarray.transfer_stream", k);
      channel = grpc::CreateCustomChannel(target_, credentials_, args);
    }
    return channel;
  }

  // One Read stream of bytes [req.byte_offset, + req.byte_count) of the
  // selection (count 0 = to the end). `on_info` receives the description
  // and returns where byte req.byte_offset goes and how many bytes the
  // stream must carry. `on_chunk` is called with each chunk's size. Errors
  // are recorded in `group` (which cancels the group's other streams) and
  // returned.
  using InfoSink =
      std::function<absl::StatusOr<std::pair<std::byte*, int64_t>>(const v1::ArrayInfo&)>;
  absl::Status ReadStream(grpc::Channel* channel, const v1::ReadRequest& req, StreamGroup* group,
                          const InfoSink& on_info, const std::function<void(int64_t)>& on_chunk);
  // name[index] in `order`, over options_.streams streams, into the
  // contiguous memory that `destination` returns for the stream's
  // description (or its error, which cancels the stream before any byte
  // lands). Returns the bytes read; throws RpcError.
  using Destination = std::function<absl::StatusOr<std::byte*>(const ArrayInfo&)>;
  int64_t Read(std::string_view name, const Index& index, shm::Order order,
               const ProgressCallback& progress, ArrayInfo* info_out,
               const Destination& destination);
  // Read() from the segment itself (ClientOptions::local_reads): resolves
  // the name (catalog file or Stat), opens the segment read-only and copies
  // the selection's runs with pread. nullopt = stream it instead: local
  // reads are off, the segment cannot be opened here, the selection is
  // made of many short runs, or the daemon must judge the request (an error
  // of any kind before the destination is asked for). Throws RpcError
  // (kDataLoss when another process truncated the segment meanwhile) once
  // the destination was asked for.
  std::optional<int64_t> ReadLocal(std::string_view name, const Index& index, shm::Order order,
                                   const ProgressCallback& progress, ArrayInfo* info_out,
                                   const Destination& destination);
  // One Write stream of bytes [part.begin, part.end) of `src` serialized in
  // `order`, to `target` (whose byte_offset and nbytes the caller set).
  absl::StatusOr<v1::WriteResponse> WriteStream(grpc::Channel* channel,
                                                const v1::WriteRequest& target,
                                                const shm::AnyView& src, shm::Order order,
                                                Part part, StreamGroup* group,
                                                const std::function<void(int64_t)>& on_chunk);

  // Token and (for unary calls) deadline.
  void Prepare(grpc::ClientContext* ctx, bool unary) const {
    if (!options_.token.empty()) ctx->AddMetadata("authorization", "Bearer " + options_.token);
    if (unary && options_.timeout_ms > 0) {
      ctx->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::milliseconds(options_.timeout_ms));
    }
  }

  v1::ArrayInfo Stat(std::string_view name) {
    CheckName(name);
    grpc::ClientContext ctx;
    Prepare(&ctx, true);
    v1::StatRequest req;
    req.set_name(std::string(name));
    v1::ArrayInfo info;
    Check(stub_->Stat(&ctx, req, &info));
    return info;
  }

  shm::AnyView Attach(std::string_view name, bool readonly, ArrayInfo* info_out);
  // Attach through the catalog file (no RPC); nullopt = ask with Stat.
  std::optional<shm::AnyView> AttachLocal(std::string_view name, bool readonly,
                                          ArrayInfo* info_out);

  // A live mapping of (segment, generation, access), or an empty owner.
  std::shared_ptr<const void> CachedMapping(const std::string& key, std::byte** data) {
    std::lock_guard<std::mutex> lock(mappings_mu_);
    auto it = mappings_.find(key);
    if (it == mappings_.end()) return nullptr;
    std::shared_ptr<const void> owner = it->second.owner.lock();
    if (owner) *data = it->second.data;
    return owner;
  }
  void CacheMapping(const std::string& key, const std::shared_ptr<const void>& owner,
                    std::byte* data) {
    std::lock_guard<std::mutex> lock(mappings_mu_);
    if (mappings_.size() >= next_sweep_) {
      std::erase_if(mappings_, [](const auto& kv) { return kv.second.owner.expired(); });
      next_sweep_ = std::max<size_t>(64, 2 * mappings_.size());
    }
    mappings_[key] = MappingEntry{owner, data};
  }

  ClientOptions options_;
  std::string target_;
  std::shared_ptr<grpc::ChannelCredentials> credentials_;
  grpc::ChannelArguments args_;
  std::shared_ptr<grpc::Channel> channel_;
  std::shared_ptr<v1::ArrayService::Stub> stub_;
  // Set for a Unix-socket target with options_.use_shm_catalog.
  std::unique_ptr<internal::LocalCatalog> local_catalog_;
  // Set for a Unix-socket target with options_.local_reads.
  bool local_reads_ = false;
  // Segments in a row that a local read could not open (see kMaxLocalMisses).
  std::atomic<int> local_misses_{0};

 private:
  struct MappingEntry {
    std::weak_ptr<const void> owner;  // the mapping, while some view holds it
    std::byte* data = nullptr;        // start of its data region
  };
  std::mutex transfer_mu_;
  std::vector<std::shared_ptr<grpc::Channel>> transfer_channels_;  // guarded by transfer_mu_
  std::mutex mappings_mu_;
  // "<segment>/<generation>/<data bytes>/<r|w>" -> mapping; expired entries are swept
  // when the map doubles.
  std::unordered_map<std::string, MappingEntry> mappings_;  // guarded by mappings_mu_
  size_t next_sweep_ = 64;                                  // guarded by mappings_mu_
};

std::optional<shm::AnyView> Client::Impl::AttachLocal(std::string_view name, bool readonly,
                                                      ArrayInfo* info_out) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    internal::LocalCatalog::Found found;
    if (!local_catalog_->Lookup(name, &found)) return std::nullopt;
    const ArrayInfo& desc = found.info;
    const bool ro = readonly || desc.readonly;
    const uint64_t generation =
        desc.kind == ArrayKind::kView ? desc.base_generation : desc.generation;
    const std::string key = desc.segment_name + "/" + std::to_string(generation) + "/" +
                            std::to_string(desc.data_size) + (ro ? "/r" : "/w");
    if (desc.readonly) {
      // Sealed: as Stat does, refuse a segment made writable again after the
      // seal (the Stat path then reports it as DATA_LOSS).
      struct stat st {};
      const std::string path = "/dev/shm/" + desc.segment_name;
      if (::stat(path.c_str(), &st) != 0 || (st.st_mode & 0222) != 0) return std::nullopt;
    }
    std::byte* data = nullptr;
    std::shared_ptr<const void> owner = CachedMapping(key, &data);
    const bool fresh = owner == nullptr;
    if (fresh) {
      // Checks the generation in the segment header; any failure (deleted,
      // replaced, not visible, no permission) is left to the Stat path.
      absl::StatusOr<std::shared_ptr<const void>> mapped = shm::MapDataRegion(
          desc.segment_name,
          ro ? shm::Segment::Access::kReadOnly : shm::Segment::Access::kReadWrite, generation,
          desc.data_size, &data);
      if (!mapped.ok()) return std::nullopt;
      owner = *std::move(mapped);
    }
    // Deleted, replaced or sealed since the lookup: look again.
    if (!internal::LocalCatalog::StillCurrent(found)) continue;
    if (fresh) CacheMapping(key, owner, data);
    try {
      shm::AnyView view(desc.format, desc.layout, data, ro, std::move(owner));
      if (info_out != nullptr) *info_out = desc;
      return view;
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

shm::AnyView Client::Impl::Attach(std::string_view name, bool readonly, ArrayInfo* info_out) {
  if (local_catalog_ != nullptr) {
    std::optional<shm::AnyView> view = AttachLocal(name, readonly, info_out);
    if (view.has_value()) return *std::move(view);
  }
  for (int attempt = 0;; ++attempt) {
    const v1::ArrayInfo info = Stat(name);
    const ArrayInfo desc = FromProto(info);
    const bool ro = readonly || desc.readonly;
    const uint64_t generation =
        desc.kind == ArrayKind::kView ? desc.base_generation : desc.generation;
    const std::string key = desc.segment_name + "/" + std::to_string(generation) + "/" +
                            std::to_string(desc.data_size) + (ro ? "/r" : "/w");
    std::byte* data = nullptr;
    absl::StatusOr<std::shared_ptr<const void>> owner = CachedMapping(key, &data);
    if (*owner == nullptr) {
      owner = shm::MapDataRegion(
          desc.segment_name,
          ro ? shm::Segment::Access::kReadOnly : shm::Segment::Access::kReadWrite, generation,
          desc.data_size, &data);
      if (owner.ok()) CacheMapping(key, *owner, data);
    }
    if (owner.ok()) {
      try {
        desc.layout.CheckWithin(desc.data_size);
        shm::AnyView view(desc.format, desc.layout, data, ro, *std::move(owner));
        if (info_out != nullptr) *info_out = desc;
        if (local_catalog_ != nullptr) local_catalog_->Learn(desc);
        return view;
      } catch (const std::exception& e) {
        throw RpcError(absl::StatusCode::kDataLoss, "array '" + desc.name +
                                                        "' has a layout outside its segment '" +
                                                        desc.segment_name + "': " + e.what());
      }
    }
    const absl::Status& status = owner.status();
    if (status.code() == absl::StatusCode::kAborted) {
      if (attempt == 0) continue;  // replaced between Stat and map: once more
      throw RpcError(status);
    }
    if (status.code() == absl::StatusCode::kNotFound ||
        status.code() == absl::StatusCode::kPermissionDenied) {
      if (status.code() == absl::StatusCode::kNotFound) {
        // Deleted or replaced meanwhile? Stat again (throws kNotFound if gone).
        const v1::ArrayInfo again = Stat(name);
        if (again.generation() != info.generation() && attempt == 0) continue;
      }
      const int err = status.code() == absl::StatusCode::kNotFound ? ENOENT : EACCES;
      std::string hint = err == ENOENT ? "are you on another host or in another container?"
                                       : "is the daemon's --group set, and is this process in it?";
      throw SegmentUnreachableError(absl::StatusCode::kFailedPrecondition,
                                    "array '" + desc.name + "' lives in shared memory segment '" +
                                        desc.segment_name + "' that this process cannot open (" +
                                        std::strerror(err) + "); " + hint +
                                        " use Client::read()/write(), which stream over gRPC");
    }
    throw RpcError(status);
  }
}

// --- WatchHandle ------------------------------------------------------------

class WatchHandle::Impl {
 public:
  ~Impl() { Cancel(); }

  void Cancel() {
    std::call_once(cancel_once_, [this] {
      ctx_.TryCancel();
      if (thread_.joinable()) thread_.join();
    });
  }

  absl::Status Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return !active_; });
    return status_;
  }

  void Run(std::function<void(const WatchEvent&)> callback) {
    v1::WatchEvent event;
    while (reader_->Read(&event)) {
      WatchEvent out;
      out.type = EventTypeFromProto(event.type());
      out.name = event.name();
      out.unix_ns = event.unix_ns();
      out.dropped = event.dropped();
      if (event.has_info() && !event.info().format().empty()) {
        try {
          out.info = FromProto(event.info());
        } catch (const RpcError&) {
          out.info.name = event.info().name();
        }
      }
      callback(out);
    }
    absl::Status status = proto::FromGrpcStatus(reader_->Finish());
    std::lock_guard<std::mutex> lock(mu_);
    status_ = std::move(status);
    active_ = false;
    cv_.notify_all();
  }

  std::shared_ptr<grpc::Channel> channel_;  // keeps the connection alive
  std::shared_ptr<v1::ArrayService::Stub> stub_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<v1::WatchEvent>> reader_;
  std::thread thread_;
  std::once_flag cancel_once_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool active_ = true;   // guarded by mu_
  absl::Status status_;  // guarded by mu_
};

WatchHandle::WatchHandle() = default;
WatchHandle::WatchHandle(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
WatchHandle::WatchHandle(WatchHandle&&) noexcept = default;
WatchHandle& WatchHandle::operator=(WatchHandle&& other) noexcept {
  if (this != &other) {
    if (impl_) impl_->Cancel();
    impl_ = std::move(other.impl_);
  }
  return *this;
}
WatchHandle::~WatchHandle() = default;

void WatchHandle::cancel() {
  if (impl_) impl_->Cancel();
}

bool WatchHandle::active() const {
  if (!impl_) return false;
  std::lock_guard<std::mutex> lock(impl_->mu_);
  return impl_->active_;
}

void WatchHandle::wait() {
  if (!impl_) throw RpcError(absl::StatusCode::kFailedPrecondition, "no watch");
  const absl::Status status = impl_->Wait();
  if (!status.ok() && status.code() != absl::StatusCode::kCancelled) throw RpcError(status);
}

// --- Client -------------------------------------------------------------------

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;
Client::~Client() = default;

Client Client::Connect(const ClientOptions& options) {
  std::string target = options.target;
  bool local = false;
  if (target.empty()) {
    absl::StatusOr<std::string> path = DefaultSocketPath(options.instance);
    if (!path.ok()) throw RpcError(path.status());
    target = "unix:" + *path;
    local = true;
  } else if (target.starts_with("unix:")) {
    if (target.size() == 5) {
      throw RpcError(absl::StatusCode::kInvalidArgument, "empty unix: socket path");
    }
    local = true;
  } else if (target.starts_with("/")) {
    target = "unix:" + target;
    local = true;
  }
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (!local && !options.tls_root_cert_pem.empty()) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options.tls_root_cert_pem;
    creds = grpc::SslCredentials(ssl);
  } else {
    creds = grpc::InsecureChannelCredentials();
  }
  grpc::ChannelArguments args;
  if (!local && !options.tls_root_cert_pem.empty() && !options.tls_server_name.empty()) {
    args.SetSslTargetNameOverride(options.tls_server_name);
  }
  if (options.streams < 1 || options.streams > kMaxStreams) {
    throw RpcError(
        absl::StatusCode::kInvalidArgument,
        absl::StrCat("streams must be in [1, ", kMaxStreams, "], got ", options.streams));
  }
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  if (options.tune_malloc) shm::TuneMallocForStreaming();
  auto impl = std::make_unique<Impl>(options, std::move(target), std::move(creds), args);
  if (impl->channel_ == nullptr) {
    throw RpcError(absl::StatusCode::kInternal, "cannot create a channel to " + impl->target_);
  }
  if (local && options.use_shm_catalog) {
    impl->local_catalog_ = std::make_unique<internal::LocalCatalog>();
  }
  impl->local_reads_ = local && options.local_reads;
  return Client(std::move(impl));
}

const std::string& Client::target() const { return impl_->target_; }

ArrayInfo Client::create_any(std::string_view name, std::string_view format,
                             std::span<const int64_t> shape, shm::Order order,
                             std::span<const std::byte> fill, int64_t itemsize) {
  CheckName(name);
  grpc::ClientContext ctx;
  impl_->Prepare(&ctx, true);
  v1::CreateRequest req;
  req.set_name(std::string(name));
  req.set_format(std::string(format));
  for (int64_t e : shape) req.add_shape(e);
  req.set_order(proto::OrderToProto(order));
  if (!fill.empty()) {
    req.set_fill(std::string(reinterpret_cast<const char*>(fill.data()), fill.size()));
  }
  req.set_itemsize(itemsize);
  v1::ArrayInfo info;
  Check(impl_->stub_->Create(&ctx, req, &info));
  return FromProto(info);
}

shm::AnyView Client::attach_any(std::string_view name, bool readonly, ArrayInfo* info) {
  return impl_->Attach(name, readonly, info);
}

ArrayInfo Client::stat(std::string_view name) { return FromProto(impl_->Stat(name)); }

std::vector<ArrayInfo> Client::list(std::string_view prefix) {
  std::vector<ArrayInfo> out;
  std::string token;
  do {
    grpc::ClientContext ctx;
    impl_->Prepare(&ctx, true);
    v1::ListRequest req;
    req.set_prefix(std::string(prefix));
    req.set_page_size(1000);
    req.set_page_token(token);
    v1::ListResponse resp;
    Check(impl_->stub_->List(&ctx, req, &resp));
    for (const v1::ArrayInfo& info : resp.arrays()) out.push_back(FromProto(info));
    token = resp.next_page_token();
  } while (!token.empty());
  return out;
}

std::vector<std::string> Client::remove(std::string_view name, bool cascade) {
  CheckName(name);
  grpc::ClientContext ctx;
  impl_->Prepare(&ctx, true);
  v1::DeleteRequest req;
  req.set_name(std::string(name));
  req.set_cascade(cascade);
  v1::DeleteResponse resp;
  Check(impl_->stub_->Delete(&ctx, req, &resp));
  return {resp.deleted().begin(), resp.deleted().end()};
}

ArrayInfo Client::seal(std::string_view name) {
  CheckName(name);
  grpc::ClientContext ctx;
  impl_->Prepare(&ctx, true);
  v1::SealRequest req;
  req.set_name(std::string(name));
  v1::ArrayInfo info;
  Check(impl_->stub_->Seal(&ctx, req, &info));
  return FromProto(info);
}

ArrayInfo Client::slice(std::string_view name, const Index& index, std::string_view new_name) {
  CheckName(name);
  if (!new_name.empty()) CheckName(new_name);
  grpc::ClientContext ctx;
  impl_->Prepare(&ctx, true);
  v1::SliceRequest req;
  req.set_name(std::string(name));
  SetIndex(index, req.mutable_index());
  req.set_new_name(std::string(new_name));
  v1::ArrayInfo info;
  Check(impl_->stub_->Slice(&ctx, req, &info));
  return FromProto(info);
}

ArrayInfo Client::copy(std::string_view source, const Index& source_index,
                       std::string_view new_name, shm::Order order) {
  CheckName(source);
  if (!new_name.empty()) CheckName(new_name);
  grpc::ClientContext ctx;
  impl_->Prepare(&ctx, true);
  v1::CopyRequest req;
  req.set_source(std::string(source));
  SetIndex(source_index, req.mutable_source_index());
  req.set_new_name(std::string(new_name));
  req.set_order(proto::OrderToProto(order));
  v1::ArrayInfo info;
  Check(impl_->stub_->Copy(&ctx, req, &info));
  return FromProto(info);
}

ArrayInfo Client::copy_into(std::string_view source, const Index& source_index,
                            std::string_view destination, const Index& dest_index) {
  CheckName(source);
  CheckName(destination);
  grpc::ClientContext ctx;
  impl_->Prepare(&ctx, true);
  v1::CopyRequest req;
  req.set_source(std::string(source));
  SetIndex(source_index, req.mutable_source_index());
  req.set_destination(std::string(destination));
  SetIndex(dest_index, req.mutable_destination_index());
  v1::ArrayInfo info;
  Check(impl_->stub_->Copy(&ctx, req, &info));
  return FromProto(info);
}

absl::Status Client::Impl::ReadStream(grpc::Channel* channel, const v1::ReadRequest& req,
                                      StreamGroup* group, const InfoSink& on_info,
                                      const std::function<void(int64_t)>& on_chunk) {
  grpc::ClientContext ctx;
  Prepare(&ctx, false);
  if (!group->Add(&ctx)) return group->status();
  const std::string& name = req.name();
  // The Read method with raw response messages: a data message's payload is
  // copied from gRPC's receive slices straight into the destination (no
  // protobuf string in between). Same bytes on the wire as the generated
  // stub's; anything but a lone data field is parsed with protobuf.
  const grpc::internal::RpcMethod method(ReadMethodName(),
                                         grpc::internal::RpcMethod::SERVER_STREAMING);
  grpc::Slice request_slice(req.SerializeAsString());
  const grpc::ByteBuffer request(&request_slice, 1);
  std::unique_ptr<grpc::ClientReader<grpc::ByteBuffer>> reader(
      grpc::internal::ClientReaderFactory<grpc::ByteBuffer>::Create(channel, method, &ctx,
                                                                    request));
  grpc::ByteBuffer buffer;
  std::vector<grpc::Slice> slices;
  v1::ReadResponse msg;
  std::byte* dst = nullptr;
  bool have_info = false;
  int64_t expected = 0;
  int64_t done = 0;
  absl::Status error;
  while (reader->Read(&buffer)) {
    int64_t len = 0;
    size_t skip = 0;
    if (have_info) {
      if (!buffer.Dump(&slices).ok()) {
        error = absl::DataLossError("read of '" + name + "': an unreadable message");
        break;
      }
      skip = proto::ParseDataFieldHeader(slices, buffer.Length(), &len);
    }
    if (skip == 0) {
      if (!grpc::SerializationTraits<v1::ReadResponse>::Deserialize(&buffer, &msg).ok()) {
        error = absl::DataLossError("read of '" + name + "': a malformed message");
        break;
      }
    }
    if (skip == 0 && msg.has_info()) {
      if (have_info) {
        error = absl::DataLossError("read of '" + name + "': a second description in the stream");
        break;
      }
      absl::StatusOr<std::pair<std::byte*, int64_t>> sink = on_info(msg.info());
      if (!sink.ok()) {
        error = sink.status();
        break;
      }
      std::tie(dst, expected) = *sink;
      have_info = true;
      continue;
    }
    if (!have_info) {
      error = absl::DataLossError("read of '" + name + "': data before the description");
      break;
    }
    if (skip == 0) len = static_cast<int64_t>(msg.data().size());
    if (len > expected - done) {
      error = absl::DataLossError("read of '" + name + "': the stream holds more than " +
                                  std::to_string(expected) + " bytes");
      break;
    }
    std::byte* out = dst + done;
    if (skip == 0) {
      std::memcpy(out, msg.data().data(), static_cast<size_t>(len));
    } else {
      for (const grpc::Slice& sl : slices) {
        const size_t drop = std::min(skip, sl.size());
        skip -= drop;
        const size_t n = sl.size() - drop;
        if (n > 0) std::memcpy(out, sl.begin() + drop, n);
        out += n;
      }
    }
    done += len;
    if (on_chunk) on_chunk(len);
  }
  if (!error.ok()) ctx.TryCancel();
  const grpc::Status finished = reader->Finish();
  group->Remove(&ctx);
  if (error.ok() && !finished.ok()) error = proto::FromGrpcStatus(finished);
  if (error.ok() && !have_info) {
    error = absl::DataLossError("read of '" + name + "': the stream carried no description");
  }
  if (error.ok() && done != expected) {
    error = absl::DataLossError("read of '" + name + "': got " + std::to_string(done) +
                                " bytes, expected " + std::to_string(expected));
  }
  group->Fail(error);
  return error;
}

std::optional<int64_t> Client::Impl::ReadLocal(std::string_view name, const Index& index,
                                               shm::Order order, const ProgressCallback& progress,
                                               ArrayInfo* info_out,
                                               const Destination& destination) {
  if (!local_reads_ || local_misses_.load(std::memory_order_relaxed) >= kMaxLocalMisses) {
    return std::nullopt;
  }
  // Everything up to the open is a question the stream answers with the
  // daemon's own words when it goes wrong.
  ArrayInfo desc;
  internal::LocalCatalog::Found found;
  const bool via_catalog = local_catalog_ != nullptr && local_catalog_->Lookup(name, &found);
  shm::Layout sel;
  RunPlan plan;
  try {
    const shm::IndexExpr expr = index.structured() ? index.expr() : shm::ParseIndex(index.text());
    desc = via_catalog ? found.info : FromProto(Stat(name));
    sel = desc.layout.slice(expr);
    plan = PlanRuns(sel, order);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (plan.runs > kMaxShortRuns && plan.run_bytes < kMinLocalRunBytes) return std::nullopt;
  const uint64_t generation =
      desc.kind == ArrayKind::kView ? desc.base_generation : desc.generation;
  absl::StatusOr<shm::DataRegionFile> file =
      shm::DataRegionFile::Open(desc.segment_name, generation, desc.data_size);
  if (!file.ok()) {
    // Not visible here, or not ours to read: after a few in a row, stop trying.
    if (absl::IsNotFound(file.status()) || absl::IsPermissionDenied(file.status())) {
      local_misses_.fetch_add(1, std::memory_order_relaxed);
    }
    return std::nullopt;
  }
  local_misses_.store(0, std::memory_order_relaxed);
  // A sealed segment made writable again is the daemon's to report (DATA_LOSS).
  if (desc.readonly && (file->mode() & 0222) != 0) return std::nullopt;
  // Deleted, replaced or sealed since the lookup: let the daemon answer.
  if (via_catalog && !internal::LocalCatalog::StillCurrent(found)) return std::nullopt;
  if (!via_catalog && local_catalog_ != nullptr) local_catalog_->Learn(desc);

  // What the stream's first message would say: the selection as a
  // contiguous array in `order`.
  ArrayInfo info = desc;
  try {
    info.layout = shm::Layout::Contiguous(desc.itemsize(), sel.shape, order);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  info.c_contiguous = info.layout.is_c_contig();
  info.f_contiguous = info.layout.is_f_contig();
  const int64_t total = info.nbytes();
  absl::StatusOr<std::byte*> out = destination(info);
  if (!out.ok()) throw RpcError(out.status());
  if (progress && total == 0) progress(0, 0);

  int64_t done = 0;
  std::vector<int64_t> at(plan.outer_shape.size(), 0);  // odometer over the outer axes
  for (int64_t r = 0; r < plan.runs; ++r) {
    int64_t offset = plan.offset;
    for (size_t k = 0; k < at.size(); ++k) offset += at[k] * plan.outer_strides[k];
    for (int64_t piece = 0; piece < plan.run_bytes; piece += kLocalPieceBytes) {
      const int64_t len = std::min(kLocalPieceBytes, plan.run_bytes - piece);
      const absl::Status status = file->ReadAt(offset + piece, len, *out + done);
      if (absl::IsDataLoss(status)) {
        throw RpcError(absl::StatusCode::kDataLoss,
                       "array '" + desc.name +
                           "' lost its memory during this request: another process truncated "
                           "its segment " +
                           desc.segment_name + "; the request did not complete");
      }
      if (!status.ok()) throw RpcError(status);
      done += len;
      // After each piece of a long run; short runs only at the end.
      if (progress && (plan.run_bytes >= kMinLocalRunBytes || done == total)) {
        progress(done, total);
      }
    }
    for (size_t k = at.size(); k-- > 0;) {
      if (++at[k] < plan.outer_shape[k]) break;
      at[k] = 0;
    }
  }
  if (info_out != nullptr) *info_out = std::move(info);
  return total;
}

int64_t Client::Impl::Read(std::string_view name, const Index& index, shm::Order order,
                           const ProgressCallback& progress, ArrayInfo* info_out,
                           const Destination& destination) {
  if (std::optional<int64_t> local =
          ReadLocal(name, index, order, progress, info_out, destination)) {
    return *local;
  }
  v1::ReadRequest req;
  req.set_name(std::string(name));
  SetIndex(index, req.mutable_index());
  req.set_order(proto::OrderToProto(order));
  const int streams = options_.streams;
  // Split: the first part alone says how large the whole is.
  if (streams > 1) req.set_byte_count(kFirstPartBytes);
  StreamGroup group;
  std::byte* out = nullptr;
  ArrayInfo info;
  int64_t total = 0;
  Progress counter(progress, &total);
  const auto report = [&](int64_t n) { counter.Report(n); };
  const absl::Status first = ReadStream(
      channel_.get(), req, &group,
      [&](const v1::ArrayInfo& wire) -> absl::StatusOr<std::pair<std::byte*, int64_t>> {
        try {
          info = FromProto(wire);
        } catch (const RpcError& e) {
          return e.status();
        }
        SHMARRAY_ASSIGN_OR_RETURN(out, destination(info));
        total = info.nbytes();
        if (progress && total == 0) progress(0, 0);
        return std::pair{out, streams > 1 ? std::min(total, kFirstPartBytes) : total};
      },
      report);
  if (!first.ok()) throw RpcError(first);
  if (total > kFirstPartBytes && streams > 1) {
    const std::vector<Part> parts = SplitParts(kFirstPartBytes, total, streams);
    RunParts(streams, [&](int k) {
      const Part part = parts[static_cast<size_t>(k)];
      if (part.begin == part.end) return;
      v1::ReadRequest part_req = req;
      part_req.set_byte_offset(part.begin);
      part_req.set_byte_count(part.end - part.begin);
      // The same incarnation, or FAILED_PRECONDITION.
      part_req.set_generation(info.generation);
      // An error is recorded in the group (and cancels the other parts).
      ReadStream(
          TransferChannel(k).get(), part_req, &group,
          [&](const v1::ArrayInfo& wire) -> absl::StatusOr<std::pair<std::byte*, int64_t>> {
            if (wire.generation() != info.generation) {
              return absl::DataLossError("read of '" + std::string(name) +
                                         "': a part of the stream describes generation " +
                                         std::to_string(wire.generation()) + ", not " +
                                         std::to_string(info.generation));
            }
            return std::pair{out + part.begin, part.end - part.begin};
          },
          k == 0 ? std::function<void(int64_t)>(report) : [&](int64_t n) { counter.Add(n); })
          .IgnoreError();
    });
    const absl::Status status = group.status();
    if (!status.ok()) throw RpcError(status);
    counter.Finish();
  }
  if (info_out != nullptr) *info_out = std::move(info);
  return total;
}

shm::AnyView Client::read(std::string_view name, const Index& index, shm::Order order,
                          const ProgressCallback& progress, ArrayInfo* info_out) {
  CheckName(name);
  shm::AnyView out;
  impl_->Read(
      name, index, order, progress, info_out,
      [&](const ArrayInfo& info) -> absl::StatusOr<std::byte*> {
        try {
          if (impl_->options_.reuse_read_buffers &&
              info.nbytes() >= internal::kMinPooledReadBytes) {
            // Every byte is overwritten: stale contents are fine.
            std::shared_ptr<std::byte> memory = internal::AcquireReadBuffer(info.nbytes());
            std::byte* data = memory.get();
            out = shm::AnyView(info.format,
                               shm::Layout::Contiguous(info.itemsize(), info.layout.shape, order),
                               data,
                               /*readonly=*/false, std::shared_ptr<const void>(std::move(memory)));
          } else {
            out = shm::AnyView::Allocate(info.format, info.layout.shape, order, info.itemsize());
          }
        } catch (const std::bad_alloc&) {
          return absl::ResourceExhaustedError("read of '" + std::string(name) +
                                              "': cannot allocate " +
                                              std::to_string(info.nbytes()) + " bytes");
        } catch (...) {
          return shm::StatusFromCurrentException();
        }
        return out.data();
      });
  return out;
}

int64_t Client::read_into(std::string_view name, const Index& index, const shm::AnyView& dst,
                          const ProgressCallback& progress, ArrayInfo* info_out) {
  CheckName(name);
  const std::string what = "read of '" + std::string(name) + "' into a destination";
  if (dst.readonly()) throw RpcError(absl::InvalidArgumentError(what + " that is read-only"));
  if (!dst.is_c_contig() && !dst.is_f_contig()) {
    throw RpcError(absl::InvalidArgumentError(what + " that is not contiguous (strides " +
                                              shm::TupleString(dst.strides()) +
                                              "): it must be C- or Fortran-contiguous"));
  }
  // The stream's order is the destination's: C unless only Fortran fits.
  const shm::Order order = dst.is_c_contig() ? shm::Order::kC : shm::Order::kF;
  return impl_->Read(
      name, index, order, progress, info_out,
      [&](const ArrayInfo& info) -> absl::StatusOr<std::byte*> {
        // Checked before any byte lands in dst; a mismatch cancels the stream.
        if (info.layout.shape != dst.shape()) {
          return absl::InvalidArgumentError(
              what + ": the selection has shape " + shm::TupleString(info.layout.shape) +
              " but the destination has shape " + shm::TupleString(dst.shape()));
        }
        if (info.itemsize() != dst.itemsize()) {
          return absl::InvalidArgumentError(
              what + ": the array's items have " + std::to_string(info.itemsize()) +
              " bytes but the destination's have " + std::to_string(dst.itemsize()));
        }
        try {
          shm::CheckFormatMatches(info.format, info.format.description(), dst.format());
        } catch (...) {
          return shm::StatusFromCurrentException();
        }
        return dst.first();
      });
}

absl::StatusOr<v1::WriteResponse> Client::Impl::WriteStream(
    grpc::Channel* channel, const v1::WriteRequest& target, const shm::AnyView& src,
    shm::Order order, Part part, StreamGroup* group, const std::function<void(int64_t)>& on_chunk) {
  grpc::ClientContext ctx;
  Prepare(&ctx, false);
  if (!group->Add(&ctx)) return group->status();
  v1::WriteResponse resp;
  // The Write method with raw request messages: each data message is built
  // in one gRPC slice (the WriteRequest wire format: tag 0x12, varint
  // length, payload) that the source is packed into directly -- one copy,
  // no protobuf string. Same bytes on the wire as the generated stub's.
  const grpc::internal::RpcMethod method(WriteMethodName(),
                                         grpc::internal::RpcMethod::CLIENT_STREAMING);
  std::unique_ptr<grpc::ClientWriter<grpc::ByteBuffer>> writer(
      grpc::internal::ClientWriterFactory<grpc::ByteBuffer>::Create(channel, method, &ctx, &resp));
  bool ok;
  {
    grpc::Slice first(target.SerializeAsString());
    ok = writer->Write(grpc::ByteBuffer(&first, 1));
  }
  // A source contiguous in the order sent, whose memory has an owner, is
  // sent without a copy: each message is the header plus a slice that
  // references the source and holds its owner until gRPC is done with it.
  const bool contiguous = order == shm::Order::kC ? src.is_c_contig() : src.is_f_contig();
  const bool zero_copy = contiguous && src.base() != nullptr;
  int64_t at = part.begin;
  while (ok && at < part.end) {
    const int64_t len = std::min(kWriteChunkBytes, part.end - at);
    uint8_t header[proto::kMaxDataFieldHeaderBytes];
    const size_t header_len = proto::DataFieldHeader(len, header);
    if (zero_copy) {
      grpc::Slice parts[2] = {
          grpc::Slice(header, header_len),
          grpc::Slice(static_cast<void*>(src.first() + at), static_cast<size_t>(len), &ReleaseOwner,
                      new std::shared_ptr<const void>(src.base()))};
      ok = writer->Write(grpc::ByteBuffer(parts, 2));
    } else {
      grpc::Slice chunk(header_len + static_cast<size_t>(len));
      uint8_t* out = const_cast<uint8_t*>(chunk.begin());
      std::memcpy(out, header, header_len);
      shm::PackRange(src.layout(), src.data(), order, at, len,
                     reinterpret_cast<std::byte*>(out + header_len));
      ok = writer->Write(grpc::ByteBuffer(&chunk, 1));
    }
    if (ok) {
      at += len;
      if (on_chunk) on_chunk(len);
    }
  }
  if (ok) writer->WritesDone();
  const grpc::Status finished = writer->Finish();
  group->Remove(&ctx);
  absl::Status status = proto::FromGrpcStatus(finished);
  group->Fail(status);
  if (!status.ok()) return status;
  return resp;
}

int64_t Client::write(std::string_view name, const Index& index, const shm::AnyView& src,
                      const ProgressCallback& progress, ArrayInfo* info,
                      uint64_t expected_generation) {
  CheckName(name);
  // Send in the source's own order when it is Fortran- but not C-contiguous:
  // the packing is then a plain copy.
  const shm::Order order =
      !src.is_c_contig() && src.is_f_contig() ? shm::Order::kF : shm::Order::kC;
  const int64_t total = src.nbytes();
  v1::WriteRequest msg;
  v1::WriteTarget* t = msg.mutable_target();
  t->set_name(std::string(name));
  SetIndex(index, t->mutable_index());
  t->set_format(src.format().canonical());
  t->set_order(proto::OrderToProto(order));
  t->set_nbytes(total);
  // The server checks the shape (and generation) with the rest of the target
  // before the first byte lands: no Slice round trip first.
  for (int64_t e : src.layout().shape) t->mutable_shape()->add_extents(e);
  if (!t->has_shape()) t->mutable_shape();  // a 0-d source: the shape () is still checked
  t->set_generation(expected_generation);

  const int streams = impl_->options_.streams;
  const bool split = streams > 1 && total > kFirstPartBytes;
  StreamGroup group;
  Progress counter(progress, &total);
  const auto report = [&](int64_t n) { counter.Report(n); };
  // Split: the first part alone pins the incarnation that every other part
  // must write to (unless the caller gave one).
  if (split) {
    t->set_byte_offset(0);
    t->set_nbytes(kFirstPartBytes);
  }
  absl::StatusOr<v1::WriteResponse> first =
      impl_->WriteStream(impl_->channel_.get(), msg, src, order,
                         Part{0, split ? kFirstPartBytes : total}, &group, report);
  if (!first.ok()) throw RpcError(first.status());
  int64_t written = first->bytes_written();
  if (split) {
    t->set_generation(first->info().generation());
    const std::vector<Part> parts = SplitParts(kFirstPartBytes, total, streams);
    std::atomic<int64_t> rest{0};
    RunParts(streams, [&](int k) {
      const Part part = parts[static_cast<size_t>(k)];
      if (part.begin == part.end) return;
      v1::WriteRequest part_msg = msg;
      part_msg.mutable_target()->set_byte_offset(part.begin);
      part_msg.mutable_target()->set_nbytes(part.end - part.begin);
      absl::StatusOr<v1::WriteResponse> resp = impl_->WriteStream(
          impl_->TransferChannel(k).get(), part_msg, src, order, part, &group,
          k == 0 ? std::function<void(int64_t)>(report) : [&](int64_t n) { counter.Add(n); });
      if (resp.ok()) rest.fetch_add(resp->bytes_written());
    });
    const absl::Status status = group.status();
    if (!status.ok()) throw RpcError(status);
    written += rest.load();
    counter.Finish();
  }
  if (progress && total == 0) progress(0, 0);
  if (info != nullptr) *info = FromProto(first->info());
  return written;
}

WatchHandle Client::watch(std::string_view prefix,
                          std::function<void(const WatchEvent&)> callback) {
  auto impl = std::make_unique<WatchHandle::Impl>();
  impl->channel_ = impl_->channel_;
  impl->stub_ = impl_->stub_;
  impl_->Prepare(&impl->ctx_, false);
  v1::WatchRequest req;
  req.set_prefix(std::string(prefix));
  impl->reader_ = impl->stub_->Watch(&impl->ctx_, req);
  // The daemon sends its initial metadata once the watch is registered (or
  // with the status when it refuses it).
  impl->reader_->WaitForInitialMetadata();
  WatchHandle::Impl* raw = impl.get();
  impl->thread_ =
      std::thread([raw, cb = std::move(callback)]() mutable { raw->Run(std::move(cb)); });
  return WatchHandle(std::move(impl));
}

}  // namespace shmarray::client
