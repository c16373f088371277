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
#include <utility>

namespace shmarray::server::internal {

// Splits "HOST:PORT" / "[V6]:PORT" (PORT 0-65535). nullopt when malformed.
std::optional<std::pair<std::string, int>> SplitHostPort(const std::string& address);

// True for "localhost", "127.x.y.z", "::1" and "[::1]".
bool IsLoopback(const std::string& host);

}  // namespace shmarray::server::internal

#endif  // SHMARRAY_SERVER_SRC_ADDRESS_H_
