// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: consumer.cc
// -----------------------------------------------------------------------------
// A tiny program that uses shmarray the way an application outside this
// repository does: only the installed public headers, linked through
// find_package(shmarray), pkg-config or add_subdirectory
// (tests/package/package_test.sh builds it all three ways).
//
//   consumer unix:/path/to/shmarrayd.sock [TOKEN]
//
// It creates "consumer/frame", an int32 (3, 4) array, fills it through a
// typed view, attaches to it again (zero-copy: the second view sees the first
// one's writes at the same address range), reads a slice over gRPC, and
// deletes it. Prints one line per step; exits 0 on success, 1 on an error.

#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>

#include "shmarray/client/client.h"
#include "shmarray/shm/array.h"
#include "shmarray/shm/view.h"

namespace shm = shmarray::shm;
using shmarray::client::Client;
using shmarray::client::ClientOptions;

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: consumer TARGET [TOKEN]\n");
    return 2;
  }
  try {
    // The view library alone, over a std::vector (no daemon involved).
    shm::Array local = shm::Array::Allocate<double>({2, 3});
    shm::View<double, 2, shm::c_contig> v = local.view<double, 2, shm::c_contig>();
    v.fill(0.5);
    v.at(-1, -1) = 4.0;
    const auto t = v.T();  // View<double, 2, f_contig>
    std::printf("local array: shape (%lld, %lld), transposed corner %g\n",
                static_cast<long long>(t.shape(0)), static_cast<long long>(t.shape(1)), t.at(2, 1));

    ClientOptions options;
    options.target = argv[1];
    if (argc == 3) options.token = argv[2];
    Client client = Client::Connect(options);
    shm::View<int32_t, 2, shm::c_contig> frame =
        client.create<int32_t, 2, shm::c_contig>("consumer/frame", {3, 4});
    for (int64_t i = 0; i < 3; ++i) {
      for (int64_t j = 0; j < 4; ++j) frame(i, j) = static_cast<int32_t>(i * 4 + j);
    }
    shm::View<const int32_t, 2, shm::c_contig> again =
        client.attach_readonly<int32_t, 2, shm::c_contig>("consumer/frame");
    int64_t sum = 0;
    for (int64_t i = 0; i < 3; ++i) {
      for (int64_t j = 0; j < 4; ++j) sum += again(i, j);
    }
    std::printf("attached consumer/frame: sum %lld\n", static_cast<long long>(sum));
    const shm::AnyView row = client.read("consumer/frame", "1, ::-1");
    const shm::View<const int32_t, 1> r = row.as<const int32_t, 1>();
    std::printf("read consumer/frame[1, ::-1]: %d %d %d %d\n", r(0), r(1), r(2), r(3));
    for (const std::string& name : client.remove("consumer/frame")) {
      std::printf("deleted %s\n", name.c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "consumer: %s\n", e.what());
    return 1;
  }
  return 0;
}
