// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: common.h
// -----------------------------------------------------------------------------
// What every part of the `shmarray` CLI (client/cli) shares: the two
// exceptions that choose the exit code of a failure, the exit codes, and
// Trim. Private to the CLI (not installed).
//
// Exit codes: 0 success; 1 (kExitError) an error from the daemon (RpcError),
// gRPC or a file (CliError); 2 (kExitUsage) a usage error (UsageError, or
// CLI11's parse errors). main.cc turns an exception into its exit code.

#ifndef SHMARRAY_CLIENT_CLI_COMMON_H_
#define SHMARRAY_CLIENT_CLI_COMMON_H_

#include <stdexcept>
#include <string>

namespace shmarray::client::cli {

// A usage error found after CLI11's parsing: exit code 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A failure outside the daemon (a file, a certificate): exit code 1.
class CliError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;

// `s` without leading and trailing whitespace.
inline std::string Trim(std::string s) {
  const char* ws = " \t\r\n\f\v";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  const size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

}  // namespace shmarray::client::cli

#endif  // SHMARRAY_CLIENT_CLI_COMMON_H_
