// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: server.h
// -----------------------------------------------------------------------------
// Server: the shmarrayd daemon as a library. Start() recovers the catalog of
// the instance's segment prefix, then serves shmarray.v1.ArrayService, the
// gRPC health service and server reflection on a Unix socket (and optionally
// TCP, with TLS and/or a bearer token), and optionally Prometheus metrics
// over HTTP. Health answers per service: "" and "shmarray.v1.ArrayService"
// are SERVING once Start() returns and NOT_SERVING from the moment Shutdown()
// begins; it needs no token. Reflection needs the token when one is set.
// main.cc only parses flags into
// ServerOptions and turns SIGTERM/SIGINT into Shutdown(); tests run the same
// server in-process.
//
//   ServerOptions options;
//   options.socket_path = "/tmp/t1/d.sock";
//   options.instance = "t1";
//   SHMARRAY_ASSIGN_OR_RETURN(std::unique_ptr<Server> server, Server::Start(options));
//   ...                 // clients connect to "unix:/tmp/t1/d.sock"
//   server->Shutdown();  // graceful; removes the socket file, keeps segments
//
// Thread-safety: Shutdown() and Wait() may be called from any thread, Shutdown
// more than once. Destroying the Server shuts it down.

#ifndef SHMARRAY_SERVER_SERVER_H_
#define SHMARRAY_SERVER_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "shmarray/server/log.h"

namespace shmarray::server {

// The daemon's configuration; `shmarrayd --help` documents the matching flags.
struct ServerOptions {
  // Unix socket path; empty = shm::DefaultSocketPath(instance) (shm/instance.h).
  std::string socket_path;
  // false = --no-unix (then `listen` is required).
  bool unix_socket = true;
  // "HOST:PORT" of an additional TCP listener; empty = none. Port 0 picks one.
  // HOST is resolved once (the first address getaddrinfo gives) and exactly
  // one socket is bound to that address. Needs token_file or insecure.
  std::string listen;
  // The private segment directory /dev/shm/shmarray.<uid> or, when set,
  // /dev/shm/shmarray.<uid>.<instance>; [A-Za-z0-9_-]{1,64}.
  std::string instance;
  // Quota on the total bytes of data regions; 0 = none.
  int64_t max_bytes = 0;
  // Quota on the number of catalog entries; 0 = 100000.
  int64_t max_arrays = 0;
  // Group name or numeric gid allowed to use the socket and segments (modes
  // 0660 instead of 0600; socket directories 0750 instead of 0700; the
  // segment directory 02750 instead of 0700); empty = none.
  std::string group;
  // File holding the bearer token every ArrayService RPC must carry; empty = none.
  std::string token_file;
  // PEM certificate chain and private key for TLS on the TCP listener.
  std::string tls_cert;
  std::string tls_key;
  // Accepts a TCP listener without a token (any client that reaches the
  // port may do anything), a non-loopback one without TLS, and a
  // non-loopback metrics_listen.
  bool insecure = false;
  // "HOST:PORT" of the Prometheus endpoint (http://HOST:PORT/metrics); empty
  // = none. Port 0 picks one (logged: "metrics on http://HOST:PORT/metrics").
  std::string metrics_listen;
  LogLevel log_level = LogLevel::kInfo;
  // Events queued per Watch stream before they are dropped (TYPE_OVERFLOW).
  size_t watch_queue_capacity = 1024;
};

// The segment prefix of `instance`: "shmarray.<uid>[.<instance>]", the name
// of the daemon's private directory in /dev/shm.
std::string SegmentPrefix(const std::string& instance);

// Checks options that do not need the system: instance syntax, TLS pairs,
// TCP without a token or --insecure, --no-unix without --listen, a
// non-loopback metrics_listen without --insecure. (Whether the --listen
// address is a loopback one needs name resolution: Start checks that.)
// Errors: kInvalidArgument with a message for the user (main exits 2).
absl::Status ValidateOptions(const ServerOptions& options);

class Server {
 public:
  // Validates `options`, installs the SIGBUS handler of shm/segment.h,
  // resolves the --listen address, recovers the catalog (creating or checking
  // the segment directory), creates the socket directory, replaces a stale
  // socket file, starts every listener, logs each bound address and
  // "shmarrayd ready". Errors: kInvalidArgument (ValidateOptions, unknown
  // group, unreadable token or TLS files, a --listen host that does not
  // resolve, a non-loopback address without TLS or --insecure),
  // kFailedPrecondition (another live daemon answers on the socket; the
  // segment directory belongs to someone else), kUnavailable (cannot
  // listen), kInternal.
  static absl::StatusOr<std::unique_ptr<Server>> Start(const ServerOptions& options);

  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  ~Server();

  // Ends Watch streams, stops accepting calls, waits (up to a few seconds)
  // for calls in flight, and removes the socket file. Segments are kept.
  // Idempotent and thread-safe.
  void Shutdown();
  // Blocks until Shutdown() has completed.
  void Wait();

  // The Unix socket path ("" with --no-unix).
  const std::string& socket_path() const;
  // The TCP port chosen (0 without --listen).
  int tcp_port() const;
  // The port of the metrics endpoint (0 without metrics_listen).
  int metrics_port() const;
  // The segment prefix of this instance.
  const std::string& segment_prefix() const;

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace shmarray::server

#endif  // SHMARRAY_SERVER_SERVER_H_
