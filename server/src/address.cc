// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: address.cc
// -----------------------------------------------------------------------------
// See address.h.

#include "address.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

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

absl::StatusOr<ListenAddress> ResolveListen(const std::string& listen, const char* flag) {
  auto hp = SplitHostPort(listen);
  if (!hp) {
    return absl::InvalidArgumentError(absl::StrCat(flag, " '", listen, "' is not HOST:PORT"));
  }
  std::string host = hp->first;
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* result = nullptr;
  const std::string port = std::to_string(hp->second);
  const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &result);
  if (rc != 0 || result == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " ", listen, ": cannot resolve '", host, "': ", ::gai_strerror(rc)));
  }
  ListenAddress out;
  char text[INET6_ADDRSTRLEN] = {};
  if (result->ai_family == AF_INET) {
    const in_addr a = reinterpret_cast<const sockaddr_in*>(result->ai_addr)->sin_addr;
    ::inet_ntop(AF_INET, &a, text, sizeof(text));
    out.numeric = absl::StrCat(text, ":", hp->second);
    out.loopback = (ntohl(a.s_addr) >> 24) == 127;
  } else if (result->ai_family == AF_INET6) {
    const in6_addr a = reinterpret_cast<const sockaddr_in6*>(result->ai_addr)->sin6_addr;
    ::inet_ntop(AF_INET6, &a, text, sizeof(text));
    out.numeric = absl::StrCat("[", text, "]:", hp->second);
    out.loopback = IN6_IS_ADDR_LOOPBACK(&a) || (IN6_IS_ADDR_V4MAPPED(&a) && a.s6_addr[12] == 127);
  } else {
    ::freeaddrinfo(result);
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " ", listen, ": '", host, "' is not an IP address"));
  }
  ::freeaddrinfo(result);
  return out;
}

}  // namespace shmarray::server::internal
