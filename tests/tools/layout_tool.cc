// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: layout_tool.cc
// -----------------------------------------------------------------------------
// The bridge for tests/shm/index_differential_test.py: applies index
// expressions to layouts and prints what the library computes, one JSON line
// per request line. A request line is
//
//   itemsize | shape... | strides... | offset | bufbytes | index text
//
// (whitespace-separated integers; the index text runs to the end of the line,
// e.g. `8 | 4 6 | 48 8 | 0 | 192 | ::2, ::-1`). The tool checks the base layout
// against a buffer of `bufbytes` bytes filled with byte[i] = (i * 7 + 3) % 256,
// parses the text, applies it, checks the result against the buffer and
// answers
//
//   {"ok":true,"shape":[...],"strides":[...],"offset":N,"c":bool,"f":bool,
//    "data":"<hex of the result's items packed in C order>"}
//   {"ok":false,"kind":"IndexError|IndexExprError|ShapeError","error":"..."}
//
// The packing is a plain odometer loop over the layout, independent of the
// library's copy kernels. Single-threaded.

#include <cstdint>
#include <cstdio>
#include <exception>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "shmarray/shm/errors.h"
#include "shmarray/shm/index.h"
#include "shmarray/shm/layout.h"

namespace {

using shmarray::shm::IndexError;
using shmarray::shm::IndexExprError;
using shmarray::shm::Layout;
using shmarray::shm::ShapeError;

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string JsonList(const std::vector<int64_t>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0) out += ",";
    out += std::to_string(v[i]);
  }
  return out + "]";
}

std::vector<int64_t> Ints(std::string_view field) {
  std::istringstream in{std::string(field)};
  std::vector<int64_t> v;
  int64_t x = 0;
  while (in >> x) v.push_back(x);
  if (!in.eof()) throw std::runtime_error("bad integer list '" + std::string(field) + "'");
  return v;
}

int64_t Int(std::string_view field) {
  const std::vector<int64_t> v = Ints(field);
  if (v.size() != 1)
    throw std::runtime_error("expected one integer in '" + std::string(field) + "'");
  return v[0];
}

// The items of `l` (checked against `buf`) packed in C order, as hex.
std::string PackedHex(const Layout& l, const std::vector<unsigned char>& buf) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  const int64_t count = l.size();
  if (count == 0) return out;
  out.reserve(static_cast<size_t>(count * l.itemsize * 2));
  std::vector<int64_t> idx(l.shape.size(), 0);
  for (int64_t n = 0; n < count; ++n) {
    int64_t pos = l.offset;
    for (size_t i = 0; i < idx.size(); ++i) pos += idx[i] * l.strides[i];
    for (int64_t b = 0; b < l.itemsize; ++b) {
      const unsigned char byte = buf.at(static_cast<size_t>(pos + b));
      out += kHex[byte >> 4];
      out += kHex[byte & 15];
    }
    for (size_t i = idx.size(); i-- > 0;) {
      if (++idx[i] < l.shape[i]) break;
      idx[i] = 0;
    }
  }
  return out;
}

std::string Handle(const std::string& line) {
  std::vector<std::string_view> fields;
  std::string_view rest = line;
  for (int i = 0; i < 5; ++i) {
    const size_t bar = rest.find('|');
    if (bar == std::string_view::npos) throw std::runtime_error("expected 6 '|'-separated fields");
    fields.push_back(rest.substr(0, bar));
    rest.remove_prefix(bar + 1);
  }
  fields.push_back(rest);

  Layout base;
  base.itemsize = Int(fields[0]);
  base.shape = Ints(fields[1]);
  base.strides = Ints(fields[2]);
  base.offset = Int(fields[3]);
  const int64_t buf_bytes = Int(fields[4]);
  if (buf_bytes < 0 || buf_bytes > (int64_t{1} << 30)) throw std::runtime_error("bad bufbytes");
  try {
    base.CheckWithin(buf_bytes);
    const Layout r = base.slice(shmarray::shm::ParseIndex(fields[5]));
    r.CheckWithin(buf_bytes);
    std::vector<unsigned char> buf(static_cast<size_t>(buf_bytes));
    for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<unsigned char>((i * 7 + 3) % 256);
    return "{\"ok\":true,\"shape\":" + JsonList(r.shape) + ",\"strides\":" + JsonList(r.strides) +
           ",\"offset\":" + std::to_string(r.offset) +
           ",\"c\":" + (r.is_c_contig() ? "true" : "false") +
           ",\"f\":" + (r.is_f_contig() ? "true" : "false") + ",\"data\":\"" + PackedHex(r, buf) +
           "\"}";
  } catch (const IndexError& e) {
    return "{\"ok\":false,\"kind\":\"IndexError\",\"error\":" + JsonString(e.what()) + "}";
  } catch (const IndexExprError& e) {
    return "{\"ok\":false,\"kind\":\"IndexExprError\",\"error\":" + JsonString(e.what()) + "}";
  } catch (const ShapeError& e) {
    return "{\"ok\":false,\"kind\":\"ShapeError\",\"error\":" + JsonString(e.what()) + "}";
  }
}

}  // namespace

int main() {
  std::ios::sync_with_stdio(false);
  std::string line;
  while (std::getline(std::cin, line)) {
    std::string answer;
    try {
      answer = Handle(line);
    } catch (const std::exception& e) {
      answer = "{\"ok\":false,\"kind\":\"ToolError\",\"error\":" + JsonString(e.what()) + "}";
    }
    std::cout << answer << '\n';
  }
  std::cout.flush();
  return 0;
}
