// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: auth.h
// -----------------------------------------------------------------------------
// Bearer-token authentication (--token-file). Every ArrayService RPC must
// carry the metadata `authorization: Bearer <token>`; the token is the token
// file's contents with surrounding whitespace trimmed. The health service
// stays open (it is not an ArrayService RPC).
//
//   SHMARRAY_ASSIGN_OR_RETURN(TokenAuthenticator auth, TokenAuthenticator::FromFile(path));
//   absl::Status s = auth.Check(authorization_value);  // kUnauthenticated when wrong
//
// Thread-safety: immutable after construction; Check is thread-safe.

#ifndef SHMARRAY_SERVER_AUTH_H_
#define SHMARRAY_SERVER_AUTH_H_

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace shmarray::server {

class TokenAuthenticator {
 public:
  // Reads the token from `path`. Errors: kNotFound / kPermissionDenied /
  // kInvalidArgument (cannot read it, or it is empty after trimming).
  static absl::StatusOr<TokenAuthenticator> FromFile(const std::string& path);
  // A checker for `token`. REQUIRES: !token.empty().
  explicit TokenAuthenticator(std::string token) : token_(std::move(token)) {}

  // Checks the value of the `authorization` metadata (nullopt when absent).
  // Errors: kUnauthenticated "missing bearer token (metadata 'authorization:
  // Bearer <token>')" when absent or not a Bearer value, kUnauthenticated
  // "invalid bearer token" when the token differs. Constant time in the
  // token's length.
  absl::Status Check(std::optional<std::string_view> authorization) const;

 private:
  std::string token_;
};

}  // namespace shmarray::server

#endif  // SHMARRAY_SERVER_AUTH_H_
