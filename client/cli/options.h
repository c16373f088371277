// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: options.h
// -----------------------------------------------------------------------------
// Where the daemon is, for the `shmarray` CLI: the global flags (--socket,
// --target, --token-file, --tls-ca, --tls-server-name, --instance, --streams,
// --stream-reads, --json),
// the environment (SHMARRAY_TARGET, SHMARRAY_TOKEN_FILE, SHMARRAY_TLS_CA,
// SHMARRAY_TLS_SERVER_NAME) and the ClientOptions they make. Flags win over
// the environment; with neither, the default socket of the instance.
// Private to the CLI (not installed).

#ifndef SHMARRAY_CLIENT_CLI_OPTIONS_H_
#define SHMARRAY_CLIENT_CLI_OPTIONS_H_

#include <string>

#include "shmarray/client/client.h"

namespace CLI {
class App;
}  // namespace CLI

namespace shmarray::client::cli {

// The values of the global flags, as given.
struct GlobalFlags {
  std::string socket;
  std::string target;
  std::string token_file;
  std::string instance;
  std::string tls_ca;
  std::string tls_server_name;
  int streams = kDefaultStreams;
  bool stream_reads = false;
  bool json = false;
};

// Adds the global flags to `app`, stored in `*flags` (which must outlive
// the parse).
void AddGlobalFlags(CLI::App* app, GlobalFlags* flags);

// The "Environment" part of `shmarray --help`.
inline constexpr char kEnvironmentHelp[] =
    "Environment (flags win over it):\n"
    "  SHMARRAY_TARGET           the daemon: unix:/path/to.sock or HOST:PORT\n"
    "  SHMARRAY_TOKEN_FILE       as --token-file\n"
    "  SHMARRAY_TLS_CA           as --tls-ca (TCP targets only)\n"
    "  SHMARRAY_TLS_SERVER_NAME  as --tls-server-name\n";

struct Connection {
  ClientOptions options;
  std::string shown_target;  // for hints: "unix:/path" or "host:port"
  bool local = true;         // a Unix socket
};

// The connection the flags and the environment describe, with the token and
// the CA read from their files. Throws UsageError for flags that do not fit
// together, CliError for a file that cannot be read or is empty.
Connection Resolve(const GlobalFlags& g);

// The hint appended to an UNAVAILABLE error.
std::string UnavailableHint(const Connection& c);

}  // namespace shmarray::client::cli

#endif  // SHMARRAY_CLIENT_CLI_OPTIONS_H_
