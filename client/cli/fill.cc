// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: fill.cc
// -----------------------------------------------------------------------------
// See fill.h.

#include "fill.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "common.h"
#include "shmarray/shm/errors.h"
#include "shmarray/shm/format.h"

namespace shmarray::client::cli {
namespace {

template <typename T>
void AppendRaw(T v, std::vector<std::byte>* out) {
  const auto* p = reinterpret_cast<const std::byte*>(&v);
  out->insert(out->end(), p, p + sizeof(T));
}

uint16_t FloatToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000;
  const int32_t exp = static_cast<int32_t>((x >> 23) & 0xFF);
  uint32_t mant = x & 0x7FFFFF;
  if (exp == 0xFF) return static_cast<uint16_t>(sign | 0x7C00 | (mant ? 0x200 : 0));  // inf/nan
  int32_t e = exp - 127 + 15;
  if (e >= 31) return static_cast<uint16_t>(sign | 0x7C00);  // overflow -> inf
  if (e <= 0) {                                              // subnormal or zero
    if (e < -10) return static_cast<uint16_t>(sign);
    mant |= 0x800000;
    const int shift = 14 - e;
    uint32_t half = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1);
    const uint32_t mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half = (static_cast<uint32_t>(e) << 10) | (mant >> 13);
  const uint32_t rem = mant & 0x1FFF;
  if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) ++half;  // may carry into inf: correct
  return static_cast<uint16_t>(sign | half);
}

long double ParseFloat(const std::string& text, const std::string& what) {
  const std::string s = Trim(text);
  if (s.empty()) throw UsageError(what);
  errno = 0;
  char* end = nullptr;
  const long double v = std::strtold(s.c_str(), &end);
  if (end != s.c_str() + s.size()) throw UsageError(what);
  return v;
}

std::pair<long double, long double> ParseComplex(const std::string& text, const std::string& what) {
  std::string s = Trim(text);
  if (s.size() >= 2 && s.front() == '(' && s.back() == ')') s = Trim(s.substr(1, s.size() - 2));
  if (s.empty()) throw UsageError(what);
  if (s.back() != 'j' && s.back() != 'J') return {ParseFloat(s, what), 0.0L};
  s.pop_back();
  // Split at the last sign that is not an exponent's.
  size_t split = std::string::npos;
  for (size_t i = s.size(); i-- > 1;) {
    if ((s[i] == '+' || s[i] == '-') && s[i - 1] != 'e' && s[i - 1] != 'E') {
      split = i;
      break;
    }
  }
  auto imag_of = [&](std::string t) {
    if (t == "+" || t.empty()) return 1.0L;
    if (t == "-") return -1.0L;
    return ParseFloat(t, what);
  };
  if (split == std::string::npos) return {0.0L, imag_of(s)};
  return {ParseFloat(s.substr(0, split), what), imag_of(s.substr(split))};
}

// One element of a non-struct node (its shape is the caller's): the code,
// its length_bytes (the length of `s`/`p`) and byte order say how `text` is
// written.
std::vector<std::byte> EncodeScalar(const shm::FormatNode& node, const std::string& text,
                                    const std::string& format_text) {
  const char code = node.code;
  const int64_t count = node.length_bytes;
  const std::string what = "invalid --fill value '" + text + "' for format '" + format_text + "'";
  std::vector<std::byte> out;
  auto integer = [&](int bytes, bool is_signed) {
    std::string s = Trim(text);
    bool negative = false;
    if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
      negative = s[0] == '-';
      s = s.substr(1);
    }
    int base = 10;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
      base = 16;
      s = s.substr(2);
    }
    uint64_t mag = 0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), mag, base);
    if (s.empty() || ec == std::errc::invalid_argument || ptr != s.data() + s.size()) {
      throw UsageError(what + ": not an integer");
    }
    const int bits = bytes * 8;
    const uint64_t max_pos = is_signed ? (uint64_t{1} << (bits - 1)) - 1
                                       : (bits == 64 ? UINT64_MAX : (uint64_t{1} << bits) - 1);
    const uint64_t max_neg = is_signed ? uint64_t{1} << (bits - 1) : 0;
    if (ec == std::errc::result_out_of_range || (negative ? mag > max_neg : mag > max_pos)) {
      throw UsageError(what + ": out of range");
    }
    const uint64_t v = negative ? 0 - mag : mag;
    for (int i = 0; i < bytes; ++i) out.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xFF));
  };
  if (code == '?') {
    std::string s = Trim(text);
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    if (s == "true" || s == "1") {
      out.push_back(std::byte{1});
    } else if (s == "false" || s == "0") {
      out.push_back(std::byte{0});
    } else {
      throw UsageError(what + ": expected true or false");
    }
  } else if (code == 'b' || code == 'B') {
    integer(1, code == 'b');
  } else if (code == 'h' || code == 'H') {
    integer(2, code == 'h');
  } else if (code == 'i' || code == 'I') {
    integer(4, code == 'i');
  } else if (code == 'q' || code == 'Q') {
    integer(8, code == 'q');
  } else if (code == 'e') {
    AppendRaw(FloatToHalf(static_cast<float>(ParseFloat(text, what))), &out);
  } else if (code == 'f') {
    AppendRaw(static_cast<float>(ParseFloat(text, what)), &out);
  } else if (code == 'd') {
    AppendRaw(static_cast<double>(ParseFloat(text, what)), &out);
  } else if (code == 'g') {
    out.assign(16, std::byte{0});
    const long double v = ParseFloat(text, what);
    std::memcpy(out.data(), &v, std::min<size_t>(sizeof v, 16));
  } else if (node.is_complex()) {
    const auto [re, im] = ParseComplex(text, what);
    if (code == 'F') {
      AppendRaw(static_cast<float>(re), &out);
      AppendRaw(static_cast<float>(im), &out);
    } else if (code == 'D') {
      AppendRaw(static_cast<double>(re), &out);
      AppendRaw(static_cast<double>(im), &out);
    } else {
      out.assign(32, std::byte{0});
      std::memcpy(out.data(), &re, std::min<size_t>(sizeof re, 16));
      std::memcpy(out.data() + 16, &im, std::min<size_t>(sizeof im, 16));
    }
  } else if (code == 'c') {
    if (text.size() != 1) throw UsageError(what + ": expected one character");
    out.push_back(static_cast<std::byte>(text[0]));
  } else if (code == 's' || code == 'p') {
    const size_t room = static_cast<size_t>(code == 'p' ? count - 1 : count);
    if (text.size() > room) {
      throw UsageError(what + ": longer than " + std::to_string(room) + " bytes");
    }
    if (code == 'p') out.push_back(static_cast<std::byte>(text.size()));
    for (char c : text) out.push_back(static_cast<std::byte>(c));
    out.resize(static_cast<size_t>(count), std::byte{0});
    return out;  // byte strings have no byte order
  } else {
    throw UsageError("--fill does not support format '" + format_text + "'");
  }
  if (node.big_endian) {  // swap each scalar (each half of a complex)
    const size_t part = node.is_complex() ? out.size() / 2 : out.size();
    for (size_t b = 0; b < out.size(); b += part)
      std::reverse(out.begin() + b, out.begin() + b + part);
  }
  return out;
}

}  // namespace

std::vector<std::byte> EncodeFill(const std::string& format_text, int64_t itemsize,
                                  const std::string& text) {
  shm::Format format;
  try {
    format = shm::Format::Parse(format_text);
  } catch (const shm::FormatError& e) {
    throw UsageError(std::string("invalid --format: ") + e.what());
  }
  const shm::FormatNode& root = format.root();
  if (root.kind == shm::FormatNode::Kind::kStruct) {
    throw UsageError("--fill supports scalar formats only, not the struct '" + format.canonical() +
                     "'");
  }
  int64_t repeat = 1;  // the sub-array's elements, each the same value
  for (int64_t extent : root.shape) repeat *= extent;
  const std::vector<std::byte> one = EncodeScalar(root, text, format_text);
  std::vector<std::byte> item;
  for (int64_t i = 0; i < repeat; ++i) item.insert(item.end(), one.begin(), one.end());
  if (itemsize > static_cast<int64_t>(item.size())) item.resize(static_cast<size_t>(itemsize));
  return item;
}

}  // namespace shmarray::client::cli
