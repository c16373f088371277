// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0

#include "shmarray/shm/errors.h"

#include <algorithm>
#include <cstdio>
#include <string>

namespace shmarray::shm {

std::string Quoted(std::string_view text, size_t max_chars) {
  std::string out;
  out.reserve(std::min(text.size(), max_chars) + 5);
  out += '\'';
  const size_t n = std::min(text.size(), max_chars);
  for (size_t i = 0; i < n; ++i) {
    const auto u = static_cast<unsigned char>(text[i]);
    if (u >= 0x20 && u < 0x7f) {
      out += text[i];
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", u);
      out += buf;
    }
  }
  if (n < text.size()) out += "...";
  out += '\'';
  return out;
}

}  // namespace shmarray::shm
