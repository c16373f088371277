// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: metrics.h
// -----------------------------------------------------------------------------
// Counting a real daemon's RPCs from its own Prometheus page: start the
// daemon with `--metrics-listen 127.0.0.1:0`, find the port it chose in its
// log (MetricsPort), then read grpc_server_started_total per method
// (StartedCalls). Tests use it to show which calls a client made.

#ifndef SHMARRAY_TESTS_TESTING_METRICS_H_
#define SHMARRAY_TESTS_TESTING_METRICS_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <sstream>
#include <string>
#include <string_view>

#include "testing/daemon.h"

namespace shmarray::testing {

// The port of `d`'s metrics endpoint (started with --metrics-listen
// 127.0.0.1:0), from its log; 0 when it does not say within 10 s.
inline int MetricsPort(const TestDaemon& d) {
  static constexpr char kNeedle[] = "metrics on http://127.0.0.1:";
  if (!d.WaitForStderr(kNeedle, std::chrono::seconds(10))) return 0;
  const std::string text = d.StderrText();
  return std::atoi(text.c_str() + text.rfind(kNeedle) + sizeof(kNeedle) - 1);
}

// The /metrics page at 127.0.0.1:`port` (plain HTTP GET); "" on failure.
inline std::string MetricsPage(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string body;
  const std::string req = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
    char buf[65536];
    for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;) {
      body.append(buf, static_cast<size_t>(n));
    }
  }
  close(fd);
  return body;
}

// RPCs of `method` ("Stat", "Read", ...) the daemon has started; -1 when the
// page cannot be read. A method not called yet has no series: 0.
inline double StartedCalls(int port, std::string_view method) {
  const std::string body = MetricsPage(port);
  if (body.find("shmarray_catalog_entries") == std::string::npos) return -1;
  const std::string label = "grpc_method=\"" + std::string(method) + "\"";
  std::stringstream in(body);
  double total = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("grpc_server_started_total{", 0) != 0) continue;
    if (line.find(label) == std::string::npos) continue;
    total += std::strtod(line.c_str() + line.rfind(' ') + 1, nullptr);
  }
  return total;
}

}  // namespace shmarray::testing

#endif  // SHMARRAY_TESTS_TESTING_METRICS_H_
