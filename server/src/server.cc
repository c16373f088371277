// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: server.cc
// -----------------------------------------------------------------------------
// The daemon as a library: listeners, socket files, TLS, tokens, health and
// reflection around the ArrayService. See server.h.

#include "shmarray/server/server.h"

#include <arpa/inet.h>
#include <grp.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <netdb.h>
#include <netinet/in.h>
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
#include "service_internal.h"
#include "shmarray/server/auth.h"
#include "shmarray/server/catalog.h"
#include "shmarray/shm/segment.h"
#include "shmarray/shm/status.h"

namespace shmarray::server {
namespace {

constexpr int kMaxMessageBytes = 64 << 20;

bool ValidInstance(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-')) {
      return false;
    }
  }
  return true;
}

// Splits "HOST:PORT" / "[V6]:PORT". Returns nullopt when malformed.
std::optional<std::pair<std::string, int>> SplitHostPort(const std::string& s) {
  const size_t colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  std::string host = s.substr(0, colon);
  int port = 0;
  if (!absl::SimpleAtoi(s.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return std::nullopt;
  }
  if (host.front() == '[') {
    if (host.back() != ']') return std::nullopt;
  }
  return std::make_pair(host, port);
}

// The address a --listen HOST resolves to (the first getaddrinfo result), as
// a numeric "IP:PORT" / "[IP6]:PORT" for gRPC, so that one flag binds exactly
// one socket; and whether that address is a loopback one.
struct ListenAddress {
  std::string numeric;  // "127.0.0.1:7070", "[::1]:0", "0.0.0.0:7070"
  bool loopback = false;
};

absl::StatusOr<ListenAddress> ResolveListen(const std::string& listen) {
  auto hp = SplitHostPort(listen);
  if (!hp) {
    return absl::InvalidArgumentError(absl::StrCat("--listen '", listen, "' is not HOST:PORT"));
  }
  std::string host = hp->first;
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* result = nullptr;
  const std::string port = std::to_string(hp->second);
  const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &result);
  if (rc != 0 || result == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("--listen ", listen, ": cannot resolve '", host, "': ", ::gai_strerror(rc)));
  }
  ListenAddress out;
  char text[INET6_ADDRSTRLEN] = {};
  if (result->ai_family == AF_INET) {
    const in_addr a = reinterpret_cast<const sockaddr_in*>(result->ai_addr)->sin_addr;
    ::inet_ntop(AF_INET, &a, text, sizeof(text));
    out.numeric = absl::StrCat(text, ":", hp->second);
    out.loopback = (ntohl(a.s_addr) >> 24) == 127;
  } else if (result->ai_family == AF_INET6) {
    const in6_addr a = reinterpret_cast<const sockaddr_in6*>(result->ai_addr)->sin6_addr;
    ::inet_ntop(AF_INET6, &a, text, sizeof(text));
    out.numeric = absl::StrCat("[", text, "]:", hp->second);
    out.loopback = IN6_IS_ADDR_LOOPBACK(&a) || (IN6_IS_ADDR_V4MAPPED(&a) && a.s6_addr[12] == 127);
  } else {
    ::freeaddrinfo(result);
    return absl::InvalidArgumentError(
        absl::StrCat("--listen ", listen, ": '", host, "' is not an IP address"));
  }
  ::freeaddrinfo(result);
  return out;
}

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

}  // namespace

std::string DefaultSocketPath(const std::string& instance) {
  const std::string name = (instance.empty() ? std::string("default") : instance) + ".sock";
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  if (xdg != nullptr && xdg[0] != '\0') return absl::StrCat(xdg, "/shmarray/", name);
  return absl::StrCat("/run/shmarray/", name);
}

std::string SegmentPrefix(const std::string& instance) {
  std::string prefix = absl::StrCat("shmarray.", ::getuid());
  if (!instance.empty()) absl::StrAppend(&prefix, ".", instance);
  return prefix;
}

absl::Status ValidateOptions(const ServerOptions& options) {
  if (!options.instance.empty() && !ValidInstance(options.instance)) {
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
  const std::string path =
      options.socket_path.empty() ? DefaultSocketPath(options.instance) : options.socket_path;
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
  std::unique_ptr<Catalog> catalog;
  std::unique_ptr<internal::WatchHub> hub;
  std::unique_ptr<internal::ArrayServiceImpl> service;
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
  std::optional<ListenAddress> tcp;
  if (!options.listen.empty()) {
    SHMARRAY_ASSIGN_OR_RETURN(tcp, ResolveListen(options.listen));
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
  impl->hub = std::make_unique<internal::WatchHub>(options.watch_queue_capacity);
  internal::WatchHub* hub = impl->hub.get();
  impl->catalog->SetListener(
      [hub](const CatalogEvent& event) { hub->Publish(internal::ToWatchEvent(event)); });
  impl->service = std::make_unique<internal::ArrayServiceImpl>(impl->catalog.get(), hub,
                                                               impl->auth ? &*impl->auth : nullptr);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  // One socket per listener: with SO_REUSEPORT, gRPC clones a listener per
  // poller, and a clone of "HOST:0" binds another random port.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(std::make_unique<internal::MalformedRequestInterceptorFactory>());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  if (options.unix_socket) {
    impl->socket_path =
        options.socket_path.empty() ? DefaultSocketPath(options.instance) : options.socket_path;
    SHMARRAY_RETURN_IF_ERROR(MakeParents(impl->socket_path, group ? 0750 : 0700, group));
    SHMARRAY_RETURN_IF_ERROR(ClaimSocketPath(impl->socket_path));
    builder.AddListeningPort("unix:" + impl->socket_path, grpc::InsecureServerCredentials());
  }
  if (tcp) builder.AddListeningPort(tcp->numeric, tcp_creds, &impl->tcp_port);
  builder.RegisterService(impl->service.get());
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
  Log(LogLevel::kInfo, "shmarrayd stopped");
  impl_->stopped.Notify();
}

void Server::Wait() { impl_->stopped.WaitForNotification(); }

const std::string& Server::socket_path() const { return impl_->socket_path; }
int Server::tcp_port() const { return impl_->tcp_port; }
const std::string& Server::segment_prefix() const { return impl_->prefix; }

}  // namespace shmarray::server
