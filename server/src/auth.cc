// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: auth.cc
// -----------------------------------------------------------------------------
// Bearer-token checks for --token-file. See auth.h.

#include "shmarray/server/auth.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace shmarray::server {

absl::StatusOr<TokenAuthenticator> TokenAuthenticator::FromFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    std::string msg = absl::StrCat("cannot read token file ", path, ": ", std::strerror(err));
    if (err == ENOENT) return absl::NotFoundError(msg);
    if (err == EACCES) return absl::PermissionDeniedError(msg);
    return absl::InvalidArgumentError(msg);
  }
  std::stringstream buf;
  buf << in.rdbuf();
  std::string token(absl::StripAsciiWhitespace(buf.str()));
  if (token.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("token file ", path, " is empty"));
  }
  return TokenAuthenticator(std::move(token));
}

absl::Status TokenAuthenticator::Check(std::optional<std::string_view> authorization) const {
  constexpr std::string_view kScheme = "Bearer ";
  if (!authorization || authorization->size() < kScheme.size() ||
      !absl::EqualsIgnoreCase(absl::string_view(authorization->data(), kScheme.size()),
                              absl::string_view(kScheme.data(), kScheme.size()))) {
    return absl::UnauthenticatedError(
        "missing bearer token (metadata 'authorization: Bearer <token>')");
  }
  const std::string_view rest = authorization->substr(kScheme.size());
  const absl::string_view given =
      absl::StripAsciiWhitespace(absl::string_view(rest.data(), rest.size()));
  // Constant time in the expected token's length.
  unsigned char diff = given.size() == token_.size() ? 0 : 1;
  for (size_t i = 0; i < token_.size(); ++i) {
    const unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    diff |= static_cast<unsigned char>(g ^ static_cast<unsigned char>(token_[i]));
  }
  if (diff != 0) return absl::UnauthenticatedError("invalid bearer token");
  return absl::OkStatus();
}

}  // namespace shmarray::server
