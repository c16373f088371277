// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: address.cc
// -----------------------------------------------------------------------------
// See address.h.

#include "address.h"

#include "absl/strings/numbers.h"

namespace shmarray::server::internal {

std::optional<std::pair<std::string, int>> SplitHostPort(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  std::string host = address.substr(0, colon);
  int port = 0;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return std::nullopt;
  }
  if (host.front() == '[' && host.back() != ']') return std::nullopt;
  return std::make_pair(host, port);
}

bool IsLoopback(const std::string& host) {
  return host == "localhost" || host == "[::1]" || host == "::1" || host.rfind("127.", 0) == 0;
}

}  // namespace shmarray::server::internal
