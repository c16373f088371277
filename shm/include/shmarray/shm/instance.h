// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: instance.h
// -----------------------------------------------------------------------------
// Daemon instances: several shmarrayd can run side by side under one user,
// each named by `--instance NAME`. The name picks the daemon's default Unix
// socket (here, shared by the daemon and every client, so both always agree)
// and its private segment directory in /dev/shm.
//
//   absl::StatusOr<std::string> path = shm::DefaultSocketPath("blue");
//   // "$XDG_RUNTIME_DIR/shmarray/blue.sock", or "/run/shmarray/blue.sock"
//
// Thread-safety: pure functions (DefaultSocketPath reads the environment).

#ifndef SHMARRAY_SHM_INSTANCE_H_
#define SHMARRAY_SHM_INSTANCE_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace shmarray::shm {

// The instance a daemon or client uses when none is given.
inline constexpr std::string_view kDefaultInstance = "default";

// Whether `name` is a valid instance name: 1-64 characters of [A-Za-z0-9_-].
bool IsValidInstance(std::string_view name) noexcept;

// OK, or kInvalidArgument "invalid instance name 'x y': expected 1-64
// characters of [A-Za-z0-9_-]".
absl::Status ValidateInstance(std::string_view name);

// The default Unix socket of `instance` ("" = kDefaultInstance):
// "$XDG_RUNTIME_DIR/shmarray/<instance>.sock" when XDG_RUNTIME_DIR is set and
// not empty, else "/run/shmarray/<instance>.sock" (whoever runs it: a daemon
// that may not create /run/shmarray fails when it binds, a client finds no
// daemon there). Errors: kInvalidArgument for a bad instance name (as
// ValidateInstance).
absl::StatusOr<std::string> DefaultSocketPath(std::string_view instance = "");

}  // namespace shmarray::shm

#endif  // SHMARRAY_SHM_INSTANCE_H_
