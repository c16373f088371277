// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: main.cc
// -----------------------------------------------------------------------------
// shmarrayd: parses flags (docs/operations.md) into ServerOptions, starts
// the Server and turns SIGTERM/SIGINT into a graceful shutdown. Signals are
// blocked in every thread and taken by a sigwait() thread, so no work runs in
// a signal handler. Exit codes: 0 after a graceful shutdown, 2 for bad flags,
// 1 when the daemon cannot start. --check-config stops after validation: it
// prints the effective configuration and exits 0 (or 2), serving nothing.

#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <string>
#include <thread>

#include "shmarray/server/server.h"
#include "shmarray/shm/instance.h"
#include "shmarray/shm/malloc_tuning.h"

namespace {

// "N" with an optional K/M/G/T suffix (powers of 1024). nullopt if malformed
// or overflowing.
std::optional<int64_t> ParseBytes(const std::string& text) {
  if (text.empty()) return std::nullopt;
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0) return std::nullopt;
  int shift = 0;
  if (digits + 1 == text.size()) {
    switch (text.back()) {
      case 'K':
      case 'k':
        shift = 10;
        break;
      case 'M':
      case 'm':
        shift = 20;
        break;
      case 'G':
      case 'g':
        shift = 30;
        break;
      case 'T':
      case 't':
        shift = 40;
        break;
      default:
        return std::nullopt;
    }
  } else if (digits != text.size()) {
    return std::nullopt;
  }
  int64_t value = 0;
  for (size_t i = 0; i < digits; ++i) {
    const int d = text[i] - '0';
    if (value > (std::numeric_limits<int64_t>::max() - d) / 10) return std::nullopt;
    value = value * 10 + d;
  }
  if (value > (std::numeric_limits<int64_t>::max() >> shift)) return std::nullopt;
  return value << shift;
}

// --check-config: the configuration the daemon would run with, one
// "key: value" line each, on stdout (errors go to stderr, as always).
// Looks at nothing outside the flags (files named by flags are not read, the
// group is not resolved), so manifests can be checked on any machine.
void PrintConfiguration(const shmarray::server::ServerOptions& o, const std::string& log_level) {
  auto line = [](const char* key, const std::string& value) {
    std::printf("  %-15s %s\n", key, value.c_str());
  };
  std::printf("shmarrayd: configuration OK\n");
  const absl::StatusOr<std::string> default_socket = shmarray::shm::DefaultSocketPath(o.instance);
  line("socket:", !o.unix_socket           ? "none (--no-unix)"
                  : !o.socket_path.empty() ? o.socket_path
                  : default_socket.ok()    ? *default_socket + " (default)"
                                           : std::string(default_socket.status().message()));
  line("listen:",
       o.listen.empty() ? "none" : o.listen + (o.tls_cert.empty() ? " (plaintext)" : " (tls)"));
  if (!o.tls_cert.empty()) line("tls-cert/key:", o.tls_cert + " " + o.tls_key);
  line("insecure:", o.insecure ? "yes" : "no");
  line("token-file:", o.token_file.empty() ? "none" : o.token_file);
  line("group:", o.group.empty() ? "none (modes 0600)" : o.group);
  line("instance:", o.instance.empty() ? "none" : o.instance);
  line("segment prefix:", shmarray::server::SegmentPrefix(o.instance));
  line("max-bytes:", std::to_string(o.max_bytes) + (o.max_bytes == 0 ? " (no quota)" : ""));
  line("max-arrays:", std::to_string(o.max_arrays) + (o.max_arrays == 0 ? " (100000)" : ""));
  line("log-level:", log_level);
}

}  // namespace

int main(int argc, char** argv) {
  // gRPC's per-read receive buffers from the heap (shm/malloc_tuning.h).
  shmarray::shm::TuneMallocForStreaming();
  using shmarray::server::LogLevel;
  shmarray::server::ServerOptions options;
  std::string max_bytes = "0";
  std::string log_level = "info";
  bool no_unix = false;
  bool check_config = false;

  CLI::App app{"shmarrayd: named shared-memory arrays served over gRPC"};
  app.add_option("--socket", options.socket_path,
                 "Unix domain socket to listen on. Default: "
                 "$XDG_RUNTIME_DIR/shmarray/<instance>.sock, or /run/shmarray/<instance>.sock "
                 "when XDG_RUNTIME_DIR is unset (<instance> is 'default' without --instance). "
                 "Parent directories are created 0700 (0750 with --group); the socket is 0600 "
                 "(0660 with --group); a stale socket is replaced")
      ->default_str("(see above)");
  app.add_option("--listen", options.listen,
                 "HOST:PORT of a TCP listener in addition to the Unix socket. HOST is resolved "
                 "once and one socket is bound to its first address; port 0 picks a port; the "
                 "bound address and port are logged. Every local user can reach a TCP port, "
                 "loopback included, so it needs --token-file or --insecure; a non-loopback "
                 "address (decided on the resolved IP) also needs --tls-cert/--tls-key or "
                 "--insecure. Default: none");
  app.add_option("--instance", options.instance,
                 "Instance name [A-Za-z0-9_-]{1,64}: segments live in the private directory "
                 "/dev/shm/shmarray.<uid>.<NAME>, which one daemon at a time may serve (a "
                 "second one exits, naming the first one's pid). Default: none "
                 "(/dev/shm/shmarray.<uid>)");
  app.add_option("--max-bytes", max_bytes,
                 "Quota on the total bytes of data regions; suffixes K, M, G, T are powers of "
                 "1024. Default: 0 = no quota beyond /dev/shm itself")
      ->default_str("0");
  app.add_option("--max-arrays", options.max_arrays,
                 "Quota on the number of catalog entries (arrays + named views). "
                 "Default: 0 = 100000")
      ->default_str("0");
  app.add_option("--group", options.group,
                 "Group (name or gid) that may use the socket and segments: modes 0660 "
                 "instead of 0600, segment directory 02750 instead of 0700. Run the daemon as "
                 "its own user with clients in this group: then a seal holds against them "
                 "(they cannot chmod or truncate what they do not own). Default: none");
  app.add_option("--token-file", options.token_file,
                 "Require 'authorization: Bearer <token>' on every RPC, token = file contents "
                 "trimmed (the health service stays open). Default: none");
  app.add_option("--tls-cert", options.tls_cert,
                 "PEM certificate chain for TLS on the --listen port. Default: none");
  app.add_option("--tls-key", options.tls_key,
                 "PEM private key for TLS on the --listen port. Default: none");
  app.add_flag("--insecure", options.insecure,
               "Accept a --listen without --token-file (any client that reaches the port may "
               "read, write and delete; a warning is logged) and a non-loopback --listen "
               "without TLS. Default: off");
  app.add_flag("--no-unix", no_unix,
               "Do not listen on a Unix socket (requires --listen). Default: off");
  // Prometheus metrics.
  app.add_option("--metrics-listen", options.metrics_listen,
                 "HOST:PORT of an HTTP endpoint serving Prometheus metrics at /metrics (port 0 "
                 "picks one; it is logged). A non-loopback HOST needs --insecure (no TLS, no "
                 "token). Default: none (off)");
  app.add_option("--log-level", log_level,
                 "info|warn|error. Lines go to stderr, one per event: UTC time, level, event, "
                 "key=value fields. Default: info")
      ->check(CLI::IsMember({"info", "warn", "error"}))
      ->default_str("info");
  app.add_flag("--check-config", check_config,
               "Validate the flags, print the configuration they give and exit (0 if valid, 2 "
               "if not) without serving: no socket, directory or segment is created and no "
               "file named by a flag is read");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

  const std::optional<int64_t> bytes = ParseBytes(max_bytes);
  if (!bytes) {
    std::fprintf(stderr, "shmarrayd: --max-bytes '%s' is not a size (N with K, M, G or T)\n",
                 max_bytes.c_str());
    return 2;
  }
  options.max_bytes = *bytes;
  options.unix_socket = !no_unix;
  options.log_level = log_level == "error"  ? LogLevel::kError
                      : log_level == "warn" ? LogLevel::kWarn
                                            : LogLevel::kInfo;
  if (absl::Status s = shmarray::server::ValidateOptions(options); !s.ok()) {
    std::fprintf(stderr, "shmarrayd: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  if (check_config) {
    PrintConfiguration(options, log_level);
    return 0;
  }

  // Block the shutdown signals in every thread (gRPC's inherit the mask) and
  // take them synchronously in one thread.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  absl::StatusOr<std::unique_ptr<shmarray::server::Server>> server =
      shmarray::server::Server::Start(options);
  if (!server.ok()) {
    std::fprintf(stderr, "shmarrayd: %s\n", std::string(server.status().message()).c_str());
    return absl::IsInvalidArgument(server.status()) ? 2 : 1;
  }
  std::thread waiter([&signals, s = server->get()] {
    int sig = 0;
    sigwait(&signals, &sig);
    shmarray::server::Log(LogLevel::kInfo,
                          sig == SIGTERM ? "SIGTERM: shutting down" : "SIGINT: shutting down");
    s->Shutdown();
  });
  (*server)->Wait();
  waiter.join();
  server->reset();
  return 0;
}
