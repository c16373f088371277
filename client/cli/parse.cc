// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: parse.cc
// -----------------------------------------------------------------------------
// See parse.h.

#include "parse.h"

#include <charconv>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "common.h"
#include "shmarray/client/npy.h"
#include "shmarray/shm/errors.h"
#include "shmarray/shm/format.h"

namespace shmarray::client::cli {

Target ParseTarget(const std::string& text) {
  Target t;
  const size_t open = text.find('[');
  if (open == std::string::npos) {
    t.name = text;
  } else {
    if (text.back() != ']') {
      throw UsageError("'" + text + "': an index must end with ']' (NAME[EXPR])");
    }
    t.name = text.substr(0, open);
    t.index = text.substr(open + 1, text.size() - open - 2);
    t.has_index = true;
  }
  if (t.name.empty()) throw UsageError("'" + text + "': missing array name");
  return t;
}

std::string PlainName(const std::string& text, const char* command) {
  const Target t = ParseTarget(text);
  if (t.has_index) {
    throw UsageError(std::string(command) + " takes a NAME, not NAME[EXPR]: '" + text + "'");
  }
  return t.name;
}

shm::Order ParseOrder(const std::string& s) {
  return s == "F" || s == "f" ? shm::Order::kF : shm::Order::kC;
}

std::vector<int64_t> ParseShape(const std::string& text) {
  std::string s = Trim(text);
  if (!s.empty() && (s.front() == '(' || s.front() == '[')) s = s.substr(1);
  if (!s.empty() && (s.back() == ')' || s.back() == ']')) s.pop_back();
  std::vector<int64_t> shape;
  if (Trim(s).empty()) return shape;  // 0-d
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, ',')) {
    part = Trim(part);
    if (part.empty() && ss.eof()) break;  // trailing comma
    int64_t v = 0;
    const auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (part.empty() || ec != std::errc() || ptr != part.data() + part.size() || v < 0) {
      throw UsageError("invalid --shape '" + text +
                       "': expected non-negative integers separated by commas, e.g. 3,4");
    }
    shape.push_back(v);
  }
  return shape;
}

std::string ResolveFormat(const std::string& format, const std::string& dtype) {
  if (!dtype.empty()) {
    try {
      return DtypeToFormat(dtype);
    } catch (const NpyError& e) {
      std::string message = std::string("invalid --dtype '") + dtype + "': " + e.what();
      try {
        const std::string pep = shm::Format::Parse(dtype).canonical();
        message += "; as a PEP 3118 format it is '" + pep + "': use --format '" + dtype + "'";
      } catch (const shm::FormatError&) {
      }
      throw UsageError(message);
    }
  }
  try {
    return shm::Format::Parse(format).canonical();
  } catch (const shm::FormatError& e) {
    std::string message = std::string("invalid --format: ") + e.what();
    const std::string hint = FormatSpellingHint(format);
    if (!hint.empty()) message += "; " + hint + " (or pass --dtype '" + format + "')";
    throw UsageError(message);
  }
}

}  // namespace shmarray::client::cli
