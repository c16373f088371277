// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0

#include "shmarray/shm/instance.h"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "shmarray/shm/errors.h"

namespace shmarray::shm {

bool IsValidInstance(std::string_view name) noexcept {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

absl::Status ValidateInstance(std::string_view name) {
  if (IsValidInstance(name)) return absl::OkStatus();
  return absl::InvalidArgumentError("invalid instance name " + Quoted(name) +
                                    ": expected 1-64 characters of [A-Za-z0-9_-]");
}

absl::StatusOr<std::string> DefaultSocketPath(std::string_view instance) {
  const std::string_view name = instance.empty() ? kDefaultInstance : instance;
  if (absl::Status s = ValidateInstance(name); !s.ok()) return s;
  std::string file(name);
  file += ".sock";
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  if (xdg != nullptr && xdg[0] != '\0') return std::string(xdg) + "/shmarray/" + file;
  return "/run/shmarray/" + file;
}

}  // namespace shmarray::shm
