// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: options.cc
// -----------------------------------------------------------------------------
// See options.h.

#include "options.h"

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/status/statusor.h"
#include "common.h"

namespace shmarray::client::cli {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

std::string ReadFileOrThrow(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CliError("cannot read " + what + " '" + path + "': " + std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool IsLocalTarget(const std::string& target) {
  return target.empty() || target.starts_with("unix:") || target.starts_with("/");
}

}  // namespace

void AddGlobalFlags(CLI::App* app, GlobalFlags* flags) {
  GlobalFlags& g = *flags;
  auto* socket_opt = app->add_option("--socket", g.socket,
                                     "Unix socket of the daemon (default: $SHMARRAY_TARGET, else "
                                     "$XDG_RUNTIME_DIR/shmarray/<instance>.sock)");
  auto* target_opt = app->add_option("--target", g.target,
                                     "gRPC target of the daemon: HOST:PORT (TCP) or unix:PATH");
  socket_opt->excludes(target_opt);
  app->add_option("--token-file", g.token_file,
                  "File holding the bearer token of the daemon (shmarrayd --token-file)");
  app->add_option("--tls-ca", g.tls_ca,
                  "PEM file of the CA (or the certificate itself) that signed the daemon's "
                  "--tls-cert; makes a TCP --target use TLS");
  app->add_option("--tls-server-name", g.tls_server_name,
                  "Name the daemon's certificate must carry when it differs from the target's "
                  "host (needs --tls-ca)");
  app->add_option("--instance", g.instance, "Daemon instance name (selects the default socket)");
  app->add_option("--streams", g.streams,
                  "Parallel streams (each its own connection) that get and put split an array "
                  "larger than 4 MiB across")
      ->check(CLI::Range(1, kMaxStreams))
      ->capture_default_str();
  app->add_flag("--stream-reads", g.stream_reads,
                "Make get stream through the daemon even when the array's shared memory is "
                "visible here (by default get on the daemon's host copies straight from it)");
  app->add_flag("--json", g.json,
                "Print one JSON object per result (stable schema; integers as numbers)");
}

Connection Resolve(const GlobalFlags& g) {
  Connection c;
  if (!g.socket.empty()) {
    c.options.target = "unix:" + g.socket;
  } else if (!g.target.empty()) {
    c.options.target = g.target;
  } else if (g.instance.empty()) {
    c.options.target = Env("SHMARRAY_TARGET");
  }
  c.options.instance = g.instance;
  c.options.streams = g.streams;
  c.options.local_reads = !g.stream_reads;
  c.local = IsLocalTarget(c.options.target);
  if (c.options.target.empty()) {
    absl::StatusOr<std::string> path = DefaultSocketPath(g.instance);
    c.shown_target = path.ok() ? "unix:" + *path : "the default socket";
  } else if (c.options.target.starts_with("/")) {
    c.shown_target = "unix:" + c.options.target;
  } else {
    c.shown_target = c.options.target;
  }

  const std::string token_file = !g.token_file.empty() ? g.token_file : Env("SHMARRAY_TOKEN_FILE");
  if (!token_file.empty()) {
    c.options.token = Trim(ReadFileOrThrow(token_file, "token file"));
    if (c.options.token.empty()) throw CliError("token file '" + token_file + "' is empty");
  }

  // TLS: only for TCP targets. An explicit flag on a Unix socket is a
  // mistake; the environment's CA simply does not apply to one.
  if (!g.tls_ca.empty() && c.local) {
    throw UsageError("--tls-ca applies to a TCP --target HOST:PORT, not to a Unix socket");
  }
  if (!g.tls_server_name.empty() && c.local) {
    throw UsageError("--tls-server-name applies to a TCP --target HOST:PORT");
  }
  if (!c.local) {
    const std::string ca = !g.tls_ca.empty() ? g.tls_ca : Env("SHMARRAY_TLS_CA");
    const std::string name =
        !g.tls_server_name.empty() ? g.tls_server_name : Env("SHMARRAY_TLS_SERVER_NAME");
    if (!name.empty() && ca.empty()) {
      throw UsageError("--tls-server-name needs --tls-ca FILE (or SHMARRAY_TLS_CA)");
    }
    if (!ca.empty()) {
      c.options.tls_root_cert_pem = ReadFileOrThrow(ca, "--tls-ca file");
      if (Trim(c.options.tls_root_cert_pem).empty()) {
        throw CliError("--tls-ca file '" + ca + "' is empty");
      }
      c.options.tls_server_name = name;
    }
  }
  return c;
}

std::string UnavailableHint(const Connection& c) {
  if (c.local && c.options.target.empty()) {
    return "is shmarrayd running? it listens on " + c.shown_target +
           " by default; for another daemon use --socket, --target, --instance or "
           "SHMARRAY_TARGET";
  }
  if (c.local) return "is shmarrayd running? it should listen on " + c.shown_target;
  if (c.options.tls_root_cert_pem.empty()) {
    return "is shmarrayd running and listening on " + c.shown_target +
           "? if it serves TLS, pass --tls-ca FILE";
  }
  return "is shmarrayd running and listening on " + c.shown_target +
         " with TLS? check that --tls-ca signed its certificate and that the certificate names "
         "the host (or pass --tls-server-name)";
}

}  // namespace shmarray::client::cli
