// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: demo.cc
// -----------------------------------------------------------------------------
// `shmarray-demo`: the short demo that README's Quick start runs (.ci/demo).
// Each subcommand is meant to run in its own process, to show that arrays are
// shared by name across processes with zero copies:
//
//   shmarray-demo produce  --target unix:S cube   # creates int32 (3,3,3) = arange(27)
//   shmarray-demo consume  --target unix:S cube   # attaches, sums through a View (351),
//                                                  # writes 3 everywhere, sums again (81)
//   shmarray-demo remote   --target 127.0.0.1:P cube "0, :, ::-1"
//                                                  # reads a slice over TCP, never maps
//
// It is the Cython memoryview guide's quickstart, with the arrays in shared
// memory instead of NumPy.

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <fstream>
#include <string>

#include "shmarray/client/client.h"
#include "shmarray/shm/view.h"

namespace {

using shmarray::client::Client;
using shmarray::client::ClientOptions;
namespace shm = shmarray::shm;

// Cython's sum3d, through a strided typed view.
int Sum3d(shm::View<const int, 3> arr) {
  int total = 0;
  for (int64_t i = 0; i < arr.shape(0); ++i) {
    for (int64_t j = 0; j < arr.shape(1); ++j) {
      for (int64_t k = 0; k < arr.shape(2); ++k) total += arr(i, j, k);
    }
  }
  return total;
}

int Produce(Client& client, const std::string& name) {
  shm::View<int, 3, shm::c_contig> cube = client.create<int, 3, shm::c_contig>(name, {3, 3, 3});
  int value = 0;
  for (int64_t i = 0; i < 3; ++i) {
    for (int64_t j = 0; j < 3; ++j) {
      for (int64_t k = 0; k < 3; ++k) cube(i, j, k) = value++;
    }
  }
  const shmarray::client::ArrayInfo info = client.stat(name);
  std::printf(
      "[producer pid %d] created '%s': format %s shape (3, 3, 3) in segment %s, filled "
      "with arange(27)\n",
      static_cast<int>(getpid()), name.c_str(), info.format.canonical().c_str(),
      info.segment_name.c_str());
  return 0;
}

int Consume(Client& client, const std::string& name) {
  // Zero-copy: the view points into the segment the producer filled.
  shm::View<int, 3> cube = client.attach<int, 3>(name);
  std::printf("[consumer pid %d] attached '%s': memoryview sum is %d\n", static_cast<int>(getpid()),
              name.c_str(), Sum3d(cube));
  cube.fill(3);  // NumPy-style narr_view[:, :, :] = 3, seen by every process at once
  std::printf("[consumer pid %d] after cube[...] = 3: memoryview sum is %d\n",
              static_cast<int>(getpid()), Sum3d(cube));
  cube(0, 0, 0) = 100;
  std::printf("[consumer pid %d] after cube[0, 0, 0] = 100: memoryview sum is %d\n",
              static_cast<int>(getpid()), Sum3d(cube));
  return 0;
}

int Remote(Client& client, const std::string& name, const std::string& index) {
  // Streams name[index] over gRPC; works from another host or container.
  shm::AnyView slice = client.read(name, index);
  shm::View<const int, 2> v = slice.as<const int, 2>();
  std::printf("[remote pid %d] read %s[%s] over %s: shape (%lld, %lld)\n",
              static_cast<int>(getpid()), name.c_str(), index.c_str(), client.target().c_str(),
              static_cast<long long>(v.shape(0)), static_cast<long long>(v.shape(1)));
  for (int64_t i = 0; i < v.shape(0); ++i) {
    std::printf("  [");
    for (int64_t j = 0; j < v.shape(1); ++j) std::printf("%s%d", j ? ", " : "", v(i, j));
    std::printf("]\n");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"shmarray-demo: arrays shared by name across processes (see README, Quick start)"};
  app.require_subcommand(1);
  std::string target;
  app.add_option("--target", target, "daemon: unix:/path or host:port (default: default socket)");
  std::string token_file;
  app.add_option("--token-file", token_file,
                 "file holding the daemon's bearer token (when it runs with --token-file)");
  std::string name = "cube";
  std::string index = "0, :, ::-1";
  auto* produce = app.add_subcommand("produce", "create NAME as int32 (3,3,3) = arange(27)");
  produce->add_option("name", name, "array name");
  auto* consume = app.add_subcommand("consume", "attach NAME zero-copy, sum it, write into it");
  consume->add_option("name", name, "array name");
  auto* remote = app.add_subcommand("remote", "read NAME[INDEX] through gRPC only");
  remote->add_option("name", name, "array name");
  remote->add_option("index", index, "a 2-d index expression, e.g. \"0, :, ::-1\"");
  CLI11_PARSE(app, argc, argv);

  try {
    ClientOptions options;
    options.target = target;
    if (!token_file.empty()) {
      std::ifstream in(token_file);
      if (!in) {
        std::fprintf(stderr, "shmarray-demo: error: cannot read %s\n", token_file.c_str());
        return 1;
      }
      std::getline(in, options.token);
    }
    Client client = Client::Connect(options);
    if (*produce) return Produce(client, name);
    if (*consume) return Consume(client, name);
    return Remote(client, name, index);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shmarray-demo: error: %s\n", e.what());
    return 1;
  }
}
