// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: server.cc
// -----------------------------------------------------------------------------
// The daemon as a library: listeners, socket files, TLS, tokens, health and
// reflection around the ArrayService. See server.h.

#include "shmarray/server/server.h"

#include <grp.h>
#include <grpcpp/ext/health_check_service_server_builder_option.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "address.h"
#include "call_observer.h"
#include "catalog_publisher.h"
#include "clock_internal.h"
#include "health.h"
#include "metrics.h"
#include "reflection.h"
#include "service_internal.h"
#include "shmarray/server/auth.h"
#include "shmarray/server/catalog.h"
#include "shmarray/shm/instance.h"
#include "shmarray/shm/layout.h"
#include "shmarray/shm/segment.h"
#include "shmarray/shm/status.h"
#include "watch_hub.h"

namespace shmarray::server {
namespace {

constexpr int kMaxMessageBytes = 64 << 20;
// The daemon unmaps segments in steps of this many bytes (shm::SetUnmapStepBytes).
constexpr size_t kUnmapStepBytes = size_t{4} << 20;

// The Unix socket the daemon binds: --socket, else the instance's default.
absl::StatusOr<std::string> SocketPath(const ServerOptions& options) {
  if (!options.socket_path.empty()) return options.socket_path;
  return shm::DefaultSocketPath(options.instance);
}

using internal::ListenAddress;
using internal::ResolveListen;
using internal::SplitHostPort;

absl::StatusOr<std::string> ReadFile(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read ", what, " ", path, ": ", std::strerror(errno)));
  }
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

absl::StatusOr<gid_t> ResolveGroup(const std::string& group) {
  unsigned int gid = 0;
  if (absl::SimpleAtoi(group, &gid)) return static_cast<gid_t>(gid);
  struct group grp;
  struct group* result = nullptr;
  std::vector<char> buf(16384);
  if (getgrnam_r(group.c_str(), &grp, buf.data(), buf.size(), &result) != 0 || result == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("unknown group '", group, "'"));
  }
  return result->gr_gid;
}

// mkdir -p with `mode` for the directories it creates.
absl::Status MakeParents(const std::string& path, mode_t mode, std::optional<gid_t> group) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return absl::OkStatus();
  const std::string dir = path.substr(0, slash);
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    const std::string part = dir.substr(0, pos);
    struct stat st;
    if (::stat(part.c_str(), &st) == 0) continue;
    if (::mkdir(part.c_str(), mode) != 0 && errno != EEXIST) {
      return absl::PermissionDeniedError(
          absl::StrCat("cannot create directory ", part, ": ", std::strerror(errno)));
    }
    ::chmod(part.c_str(), mode);  // not subject to the umask
    if (group) (void)::chown(part.c_str(), static_cast<uid_t>(-1), *group);
  }
  return absl::OkStatus();
}

// Fails if a live daemon answers on `path`; removes a stale socket file.
absl::Status ClaimSocketPath(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return absl::OkStatus();
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " exists and is not a socket; refusing to replace it"));
  }
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket(): ", std::strerror(errno)));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  const int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::close(fd);
  if (rc == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("another shmarrayd is already listening on ", path));
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot remove stale socket ", path, ": ", std::strerror(errno)));
  }
  Log(LogLevel::kInfo, absl::StrCat("removed stale socket ", path));
  return absl::OkStatus();
}

// One log line per catalog event: what changed, its generation (hex, as in
// segment names) and, through ScopedLogPeer, who asked.
void LogCatalogEvent(const CatalogEvent& event) {
  const CatalogEntry& e = event.entry;
  const bool view = e.kind == shm::SegmentKind::kView;
  const std::string generation = absl::StrCat(absl::Hex(e.generation));
  switch (event.type) {
    case CatalogEventType::kCreated:
      if (view) {
        Log(LogLevel::kInfo, "created",
            {{"name", e.name},
             {"kind", "view"},
             {"base", e.base},
             {"format", e.format.canonical()},
             {"shape", shm::TupleString(e.layout.shape, ",")},
             {"generation", generation}});
      } else {
        Log(LogLevel::kInfo, "created",
            {{"name", e.name},
             {"kind", "array"},
             {"format", e.format.canonical()},
             {"shape", shm::TupleString(e.layout.shape, ",")},
             {"bytes", e.data_size_bytes},
             {"generation", generation}});
      }
      break;
    case CatalogEventType::kSealed:
      Log(LogLevel::kInfo, "sealed", {{"name", e.name}, {"generation", generation}});
      break;
    case CatalogEventType::kDeleted:
      Log(LogLevel::kInfo, "deleted",
          {{"name", e.name}, {"kind", view ? "view" : "array"}, {"generation", generation}});
      break;
  }
}

}  // namespace

std::string SegmentPrefix(const std::string& instance) {
  std::string prefix = absl::StrCat("shmarray.", ::getuid());
  if (!instance.empty()) absl::StrAppend(&prefix, ".", instance);
  return prefix;
}

absl::Status ValidateOptions(const ServerOptions& options) {
  if (!options.instance.empty() && !shm::IsValidInstance(options.instance)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--instance '", options.instance, "' is invalid: use 1-64 of [A-Za-z0-9_-]"));
  }
  if (options.max_bytes < 0) return absl::InvalidArgumentError("--max-bytes is negative");
  if (options.max_arrays < 0) return absl::InvalidArgumentError("--max-arrays is negative");
  if (options.tls_cert.empty() != options.tls_key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key must be given together");
  }
  if (!options.unix_socket && options.listen.empty()) {
    return absl::InvalidArgumentError("--no-unix requires --listen HOST:PORT");
  }
  if (!options.listen.empty()) {
    auto hp = SplitHostPort(options.listen);
    if (!hp) {
      return absl::InvalidArgumentError(
          absl::StrCat("--listen '", options.listen, "' is not HOST:PORT"));
    }
    // Every local user can connect to a TCP port, loopback included: without
    // a token, the socket's and the segments' modes would protect nothing.
    if (options.token_file.empty() && !options.insecure) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--listen ", options.listen,
          " without --token-file would let every user who can reach the port (on a loopback "
          "address: every local user) read, write and delete arrays: give --token-file, or "
          "--insecure to accept that"));
    }
  } else if (!options.tls_cert.empty()) {
    return absl::InvalidArgumentError("--tls-cert/--tls-key need --listen HOST:PORT");
  }
  SHMARRAY_RETURN_IF_ERROR(
      internal::ValidateMetricsListen(options.metrics_listen, options.insecure));
  SHMARRAY_ASSIGN_OR_RETURN(const std::string path, SocketPath(options));
  if (options.unix_socket && path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("socket path ", path, " is too long (", path.size(), " bytes)"));
  }
  return absl::OkStatus();
}

struct Server::Impl {
  ServerOptions options;
  std::string socket_path;
  std::string prefix;
  int tcp_port = 0;
  std::optional<TokenAuthenticator> auth;
  std::unique_ptr<internal::Metrics> metrics;  // outlives the gRPC server
  std::unique_ptr<Catalog> catalog;
  std::unique_ptr<internal::CatalogPublisher> publisher;  // null: clients use Stat
  std::unique_ptr<internal::WatchHub> hub;
  std::unique_ptr<internal::ArrayServiceImpl> service;
  std::unique_ptr<internal::ReflectionService> reflection;
  std::unique_ptr<internal::HealthService> health;
  std::unique_ptr<grpc::Server> grpc_server;
  absl::Mutex mu;
  bool shutting_down ABSL_GUARDED_BY(mu) = false;
  absl::Notification stopped;
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { Shutdown(); }

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const ServerOptions& options) {
  SHMARRAY_RETURN_IF_ERROR(ValidateOptions(options));
  SetLogLevel(options.log_level);
  // A client that truncates a segment must not be able to kill the daemon
  // with SIGBUS (see shm/segment.h).
  SHMARRAY_RETURN_IF_ERROR(shm::InstallSegmentFaultHandler());
  // Deleting a large array that was written must not stall the threads that
  // serve other calls meanwhile (see shm/segment.h).
  SHMARRAY_RETURN_IF_ERROR(shm::SetUnmapStepBytes(kUnmapStepBytes));
  std::optional<ListenAddress> tcp;
  if (!options.listen.empty()) {
    SHMARRAY_ASSIGN_OR_RETURN(tcp, ResolveListen(options.listen, "--listen"));
    if (!tcp->loopback && options.tls_cert.empty() && !options.insecure) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--listen ", options.listen, " is not a loopback address (it resolves to ", tcp->numeric,
          "): give --tls-cert/--tls-key, or --insecure to serve plaintext"));
    }
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->prefix = SegmentPrefix(options.instance);
  std::optional<gid_t> group;
  if (!options.group.empty()) {
    SHMARRAY_ASSIGN_OR_RETURN(gid_t gid, ResolveGroup(options.group));
    group = gid;
  }
  if (!options.token_file.empty()) {
    absl::StatusOr<TokenAuthenticator> auth = TokenAuthenticator::FromFile(options.token_file);
    if (!auth.ok()) return absl::InvalidArgumentError(auth.status().message());
    impl->auth = std::move(*auth);
  }
  std::shared_ptr<grpc::ServerCredentials> tcp_creds = grpc::InsecureServerCredentials();
  if (!options.tls_cert.empty()) {
    SHMARRAY_ASSIGN_OR_RETURN(std::string cert, ReadFile(options.tls_cert, "--tls-cert"));
    SHMARRAY_ASSIGN_OR_RETURN(std::string key, ReadFile(options.tls_key, "--tls-key"));
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({key, cert});
    tcp_creds = grpc::SslServerCredentials(ssl);
  }

  CatalogOptions copts;
  copts.prefix = impl->prefix;
  copts.max_bytes = options.max_bytes;
  copts.max_arrays = options.max_arrays;
  copts.mode = group ? 0660 : 0600;
  copts.group = group;
  std::vector<std::string> actions;
  SHMARRAY_ASSIGN_OR_RETURN(impl->catalog, Catalog::Open(copts, &actions));
  for (const std::string& line : actions) Log(LogLevel::kInfo, line);
  {
    internal::MetricsOptions mopts;
    mopts.listen = options.metrics_listen;
    mopts.max_bytes = options.max_bytes;
    mopts.max_entries = impl->catalog->max_arrays();
    SHMARRAY_ASSIGN_OR_RETURN(impl->metrics, internal::Metrics::Create(mopts));
    impl->metrics->SetRecovery(internal::CountRecovery(actions, *impl->catalog));
  }
  {
    // The catalog file lets local clients attach without an RPC; without it
    // they ask with Stat, so a failure here is not fatal.
    absl::StatusOr<std::unique_ptr<internal::CatalogPublisher>> publisher =
        internal::CatalogPublisher::Create(*impl->catalog, copts.mode);
    if (publisher.ok()) {
      impl->publisher = *std::move(publisher);
    } else {
      Log(LogLevel::kWarn, absl::StrCat("cannot publish the catalog file (clients will use Stat): ",
                                        publisher.status().message()));
    }
  }
  impl->hub = std::make_unique<internal::WatchHub>(options.watch_queue_capacity);
  internal::WatchHub* hub = impl->hub.get();
  internal::Metrics* metrics = impl->metrics.get();
  internal::CatalogPublisher* publisher = impl->publisher.get();
  impl->catalog->SetListener([hub, metrics, publisher](const CatalogEvent& event) {
    v1::WatchEvent watched = internal::ToWatchEvent(event);
    if (publisher != nullptr) {
      publisher->OnEvent(event);
      // A watcher's time is when the change became visible to local clients
      // through the catalog file: an attach that starts later sees it.
      watched.set_unix_ns(internal::NowNs());
    }
    hub->Publish(std::move(watched));
    metrics->OnCatalogEvent(event);
    LogCatalogEvent(event);
  });
  impl->service = std::make_unique<internal::ArrayServiceImpl>(impl->catalog.get(), hub,
                                                               impl->auth ? &*impl->auth : nullptr);
  impl->service->SetMetrics(metrics);
  impl->reflection = std::make_unique<internal::ReflectionService>(
      std::vector<std::string>{v1::ArrayService::service_full_name(),
                               grpc::health::v1::Health::service_full_name(),
                               grpc::reflection::v1alpha::ServerReflection::service_full_name()},
      impl->auth ? &*impl->auth : nullptr);

  // Health per service: "" (the whole server) and the ArrayService, both
  // SERVING from the first accepted connection on.
  impl->health = std::make_unique<internal::HealthService>(
      std::vector<std::string>{"", v1::ArrayService::service_full_name()});

  grpc::ServerBuilder builder;
  // Our health service replaces gRPC's default one.
  builder.SetOption(std::make_unique<grpc::HealthCheckServiceServerBuilderOption>(nullptr));
  {
    // One call to SetInterceptorCreators: a second one would replace the
    // first. The observer (metrics, logs) comes first so that it also sees
    // the calls the malformed-request interceptor answers.
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
    creators.push_back(std::make_unique<internal::CallObserverFactory>(metrics));
    creators.push_back(std::make_unique<internal::MalformedRequestInterceptorFactory>());
    builder.experimental().SetInterceptorCreators(std::move(creators));
  }
  // One socket per listener: with SO_REUSEPORT, gRPC clones a listener per
  // poller, and a clone of "HOST:0" binds another random port.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  if (options.unix_socket) {
    SHMARRAY_ASSIGN_OR_RETURN(impl->socket_path, SocketPath(options));
    SHMARRAY_RETURN_IF_ERROR(MakeParents(impl->socket_path, group ? 0750 : 0700, group));
    SHMARRAY_RETURN_IF_ERROR(ClaimSocketPath(impl->socket_path));
    builder.AddListeningPort("unix:" + impl->socket_path, grpc::InsecureServerCredentials());
  }
  if (tcp) builder.AddListeningPort(tcp->numeric, tcp_creds, &impl->tcp_port);
  builder.RegisterService(impl->service.get());
  builder.RegisterService(impl->reflection.get());
  builder.RegisterService(impl->health.get());
  impl->grpc_server = builder.BuildAndStart();
  if (impl->grpc_server == nullptr) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", options.unix_socket ? "unix:" + impl->socket_path : std::string(),
        options.unix_socket && !options.listen.empty() ? " and " : "",
        options.listen.empty() ? std::string() : "tcp " + options.listen));
  }
  if (!options.listen.empty() && impl->tcp_port == 0) {
    impl->grpc_server->Shutdown();
    if (options.unix_socket) ::unlink(impl->socket_path.c_str());
    return absl::UnavailableError(absl::StrCat("cannot listen on tcp ", options.listen));
  }
  if (options.unix_socket) {
    ::chmod(impl->socket_path.c_str(), group ? 0660 : 0600);
    if (group) (void)::chown(impl->socket_path.c_str(), static_cast<uid_t>(-1), *group);
    Log(LogLevel::kInfo, absl::StrCat("listening on unix ", impl->socket_path));
  }
  if (tcp) {
    const std::string ip = tcp->numeric.substr(0, tcp->numeric.rfind(':'));
    const std::string bound = absl::StrCat(ip, ":", impl->tcp_port);
    Log(LogLevel::kInfo,
        absl::StrCat("listening on tcp ", bound, options.tls_cert.empty() ? "" : " (tls)",
                     options.token_file.empty() ? "" : " (token)",
                     tcp->numeric == options.listen ? "" : absl::StrCat(" for ", options.listen)));
    if (options.token_file.empty()) {
      Log(LogLevel::kWarn, absl::StrCat("tcp ", bound,
                                        " accepts every client without a token (--insecure): "
                                        "anyone who can reach it can read, write and delete"));
    }
    if (!tcp->loopback && options.tls_cert.empty()) {
      Log(LogLevel::kWarn, absl::StrCat("tcp ", bound,
                                        " is plaintext on a non-loopback address "
                                        "(--insecure)"));
    }
  }
  if (!options.metrics_listen.empty()) {
    auto hp = SplitHostPort(options.metrics_listen);
    Log(LogLevel::kInfo,
        absl::StrCat("metrics on http://", hp->first, ":", impl->metrics->port(), "/metrics"));
  }
  Log(LogLevel::kInfo, absl::StrCat("segment prefix ", impl->prefix));
  Log(LogLevel::kInfo, "shmarrayd ready");
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

void Server::Shutdown() {
  {
    absl::MutexLock lock(&impl_->mu);
    if (impl_->shutting_down) return;
    impl_->shutting_down = true;
  }
  // Health checks answer NOT_SERVING (for "" and every service) from now on.
  impl_->health->Shutdown();
  // Graceful: end Watch streams, refuse new calls, give the calls in flight
  // up to 5 s, then stop soon (idle client connections would otherwise hold
  // gRPC's shutdown until their peers notice the GOAWAY).
  impl_->hub->Shutdown();
  if (!impl_->service->Drain(absl::Seconds(5))) {
    Log(LogLevel::kWarn, "calls still in flight after 5 s; cancelling them");
  }
  // A short grace lets the final statuses of the drained calls go out.
  impl_->grpc_server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(250));
  impl_->grpc_server->Wait();
  if (impl_->options.unix_socket) ::unlink(impl_->socket_path.c_str());
  if (impl_->publisher) impl_->publisher->Close();
  Log(LogLevel::kInfo, "shmarrayd stopped");
  (void)FlushLog(absl::Seconds(2));
  impl_->stopped.Notify();
}

void Server::Wait() { impl_->stopped.WaitForNotification(); }

const std::string& Server::socket_path() const { return impl_->socket_path; }
int Server::tcp_port() const { return impl_->tcp_port; }
int Server::metrics_port() const { return impl_->metrics->port(); }
const std::string& Server::segment_prefix() const { return impl_->prefix; }

}  // namespace shmarray::server
