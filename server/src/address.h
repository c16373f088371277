// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: address.h
// -----------------------------------------------------------------------------
// HOST:PORT listen addresses (--listen, --metrics-listen): one parser and one
// loopback test for every listener of the daemon. Private to server/src.
//
// Thread-safety: pure functions.

#ifndef SHMARRAY_SERVER_SRC_ADDRESS_H_
#define SHMARRAY_SERVER_SRC_ADDRESS_H_

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"

namespace shmarray::server::internal {

// Splits "HOST:PORT" / "[V6]:PORT" (PORT 0-65535). nullopt when malformed.
std::optional<std::pair<std::string, int>> SplitHostPort(const std::string& address);

// The address a listen flag's HOST resolves to (the first getaddrinfo
// result), as a numeric "IP:PORT" / "[IP6]:PORT" for gRPC, so that one flag
// binds exactly one socket; and whether that address is a loopback one
// (127.0.0.0/8, ::1, ::ffff:127.x.y.z). The decision is made on the IP, never
// on the text: "127.evil.example" that resolves elsewhere is not loopback.
struct ListenAddress {
  std::string numeric;  // "127.0.0.1:7070", "[::1]:0", "0.0.0.0:7070"
  bool loopback = false;
};
// Errors: kInvalidArgument naming `flag` ("--listen") when `listen` is not
// HOST:PORT or HOST does not resolve to an IP address.
absl::StatusOr<ListenAddress> ResolveListen(const std::string& listen, const char* flag);

}  // namespace shmarray::server::internal

#endif  // SHMARRAY_SERVER_SRC_ADDRESS_H_
