// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: format_tool.cc
// -----------------------------------------------------------------------------
// Bridge for tests/shm/format_differential_test.py: reads one PEP 3118 format
// per line on stdin and prints one JSON object per line on stdout:
//   {"format": "i", "ok": true, "itemsize": 4, "alignment": 4, "canonical": "<i",
//    "description": "int32_t", "is_struct": false}
//   {"format": "y", "ok": false, "error": "'y' is not a valid ..."}
// A line holding only "\0" (backslash, zero) stands for the empty format.

#include <iostream>
#include <string>
#include <string_view>

#include "shmarray/shm/errors.h"
#include "shmarray/shm/format.h"

namespace {

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      static const char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

int main() {
  std::ios::sync_with_stdio(false);
  std::string line;
  while (std::getline(std::cin, line)) {
    const std::string text = line == "\\0" ? std::string() : line;
    std::string out = "{\"format\": " + JsonString(text) + ", ";
    try {
      const auto f = shmarray::shm::Format::Parse(text);
      out += "\"ok\": true, \"itemsize\": " + std::to_string(f.itemsize()) +
             ", \"alignment\": " + std::to_string(f.alignment()) +
             ", \"canonical\": " + JsonString(f.canonical()) +
             ", \"description\": " + JsonString(f.description()) +
             ", \"is_struct\": " + (f.is_struct() ? "true" : "false") + "}";
    } catch (const shmarray::shm::FormatError& e) {
      out += "\"ok\": false, \"error\": " + JsonString(e.what()) + "}";
    }
    std::cout << out << '\n';
  }
  std::cout.flush();
  return 0;
}
