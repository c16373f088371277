// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: index.cc
// -----------------------------------------------------------------------------
// The index-expression parser (Python subscript syntax), its inverse
// FormatIndex, and NormalizeSlice (CPython's PySlice_Unpack followed by
// PySlice_AdjustIndices, which is what NumPy uses for basic slicing).

#include "shmarray/shm/index.h"

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <variant>

#include "shmarray/shm/errors.h"

namespace shmarray::shm {
namespace {

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsIdentChar(char c) { return IsIdentStart(c) || IsDigit(c); }

// A one-pass recursive-descent-free parser: every loop advances `pos_`, so the
// work is linear in the text length.
class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  IndexExpr Parse() {
    IndexExpr expr;
    SkipSpace();
    if (AtEnd()) return expr;
    if (Peek() == '(') {
      // `()` is Python's empty tuple: the empty expression, like a[()].
      const size_t open = pos_;
      ++pos_;
      SkipSpace();
      if (AtEnd()) Fail("unexpected end of text", pos_);
      if (Peek() != ')') Fail("unexpected '('", open);
      ++pos_;
      SkipSpace();
      if (!AtEnd()) Fail(Unexpected(), pos_);
      return expr;
    }
    while (true) {
      const size_t item_pos = pos_;
      IndexItem item = ParseItem();
      if (expr.size() == kMaxIndexItems) {
        Fail("more than " + std::to_string(kMaxIndexItems) + " items", item_pos);
      }
      expr.push_back(item);
      SkipSpace();
      if (AtEnd()) break;
      if (Peek() != ',') Fail(Unexpected(), pos_);
      ++pos_;
      SkipSpace();
      if (AtEnd()) break;  // an optional trailing comma
    }
    return expr;
  }

 private:
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return text_[pos_]; }
  void SkipSpace() {
    while (!AtEnd() && IsSpace(Peek())) ++pos_;
  }

  // "unexpected 'x'" for the current character, or the end of the text.
  std::string Unexpected() const {
    if (AtEnd()) return "unexpected end of text";
    return "unexpected " + Quoted(std::string_view(&text_[pos_], 1));
  }

  [[noreturn]] void Fail(const std::string& what, size_t pos) const {
    throw IndexExprError("invalid index expression " + Quoted(text_) + ": " + what +
                         " at position " + std::to_string(pos));
  }

  IndexItem ParseItem() {
    if (AtEnd()) Fail(Unexpected(), pos_);
    const char c = Peek();
    if (c == '.') {
      if (text_.substr(pos_, 3) != "...") Fail("unexpected '.'", pos_);
      pos_ += 3;
      return Ellipsis{};
    }
    if (IsIdentStart(c)) return ParseName();
    const std::optional<int64_t> start = ParseOptionalInt();
    SkipSpace();
    if (AtEnd() || Peek() != ':') {
      if (start) return *start;
      Fail(Unexpected(), pos_);
    }
    Slice s;
    s.start = start;
    ++pos_;  // the first ':'
    SkipSpace();
    s.stop = ParseOptionalInt();
    SkipSpace();
    if (!AtEnd() && Peek() == ':') {
      ++pos_;
      SkipSpace();
      s.step = ParseOptionalInt();
    }
    return s;
  }

  std::string_view ParseIdentifier() {
    const size_t start = pos_;
    while (!AtEnd() && IsIdentChar(Peek())) ++pos_;
    return text_.substr(start, pos_ - start);
  }

  // None, newaxis, np.newaxis, numpy.newaxis.
  IndexItem ParseName() {
    const size_t start = pos_;
    const std::string_view name = ParseIdentifier();
    if (name == "None" || name == "newaxis") return NewAxis{};
    if (name == "np" || name == "numpy") {
      SkipSpace();
      if (AtEnd() || Peek() != '.') Fail(Unexpected(), pos_);
      ++pos_;
      SkipSpace();
      const size_t attr_pos = pos_;
      if (AtEnd() || !IsIdentStart(Peek())) Fail(Unexpected(), pos_);
      const std::string_view attr = ParseIdentifier();
      if (attr == "newaxis") return NewAxis{};
      Fail("unknown name '" + std::string(name) + "." + std::string(attr) + "'", attr_pos);
    }
    Fail("unknown name '" + std::string(name) + "'", start);
  }

  // A Python decimal integer literal with any number of unary + and - signs
  // (whitespace allowed after a sign) and single `_` between digits; no
  // leading zeros unless the value is 0. Returns nullopt, consuming nothing,
  // when the next character starts no integer.
  std::optional<int64_t> ParseOptionalInt() {
    if (AtEnd()) return std::nullopt;
    const size_t start = pos_;
    bool negative = false;
    bool has_sign = false;
    while (!AtEnd() && (Peek() == '-' || Peek() == '+')) {
      if (Peek() == '-') negative = !negative;
      has_sign = true;
      ++pos_;
      SkipSpace();
    }
    if (AtEnd() || !IsDigit(Peek())) {
      if (has_sign) Fail(Unexpected(), pos_);
      return std::nullopt;
    }
    const size_t digits_pos = pos_;
    const bool leading_zero = Peek() == '0';
    bool nonzero = false;
    // Magnitude up to 2^63 (the magnitude of INT64_MIN).
    constexpr uint64_t kLimit = static_cast<uint64_t>(kInt64Max) + 1;
    uint64_t magnitude = 0;
    bool overflow = false;
    while (true) {
      const char d = Peek();
      if (d != '0') nonzero = true;
      if (!overflow) {
        const auto digit = static_cast<uint64_t>(d - '0');
        if (magnitude > (kLimit - digit) / 10) {
          overflow = true;
        } else {
          magnitude = magnitude * 10 + digit;
        }
      }
      ++pos_;
      if (AtEnd()) break;
      if (Peek() == '_') {
        ++pos_;
        if (AtEnd() || !IsDigit(Peek())) Fail("invalid decimal literal", pos_ - 1);
        continue;
      }
      if (!IsDigit(Peek())) break;
    }
    if (!AtEnd() && IsIdentStart(Peek())) Fail("invalid decimal literal", pos_);
    if (leading_zero && nonzero) {
      Fail("leading zeros in decimal integer literals are not permitted", digits_pos);
    }
    if (overflow || (!negative && magnitude == kLimit)) {
      Fail("integer out of range of int64", start);
    }
    if (negative) {
      return magnitude == kLimit ? kInt64Min : -static_cast<int64_t>(magnitude);
    }
    return static_cast<int64_t>(magnitude);
  }

  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

IndexExpr ParseIndex(std::string_view text) {
  if (text.size() > kMaxIndexTextLength) {
    throw IndexExprError("invalid index expression: text of " + std::to_string(text.size()) +
                         " characters exceeds the limit of " + std::to_string(kMaxIndexTextLength));
  }
  return Parser(text).Parse();
}

std::string FormatIndex(const IndexExpr& expr) {
  std::string out;
  for (size_t i = 0; i < expr.size(); ++i) {
    if (i > 0) out += ", ";
    const IndexItem& item = expr[i];
    if (const auto* v = std::get_if<int64_t>(&item)) {
      out += std::to_string(*v);
    } else if (const auto* s = std::get_if<Slice>(&item)) {
      if (s->start) out += std::to_string(*s->start);
      out += ':';
      if (s->stop) out += std::to_string(*s->stop);
      if (s->step) {
        out += ':';
        out += std::to_string(*s->step);
      }
    } else if (std::holds_alternative<Ellipsis>(item)) {
      out += "...";
    } else {
      out += "None";
    }
  }
  return out;
}

SliceBounds NormalizeSlice(const Slice& s, int64_t length, int axis) {
  // PySlice_Unpack: default step 1; a step below -INT64_MAX is raised to it so
  // that -step cannot overflow.
  int64_t step = s.step.value_or(1);
  if (step == 0) {
    throw IndexExprError("Step may not be zero (axis " + std::to_string(axis) + ")");
  }
  if (step < -kInt64Max) step = -kInt64Max;
  if (length < 0) length = 0;
  const bool backwards = step < 0;
  int64_t start = s.start.value_or(backwards ? kInt64Max : 0);
  int64_t stop = s.stop.value_or(backwards ? kInt64Min : kInt64Max);

  // PySlice_AdjustIndices. Adding `length` (>= 0) to a negative value cannot
  // overflow.
  auto adjust = [&](int64_t& v) {
    if (v < 0) {
      v += length;
      if (v < 0) v = backwards ? -1 : 0;
    } else if (v >= length) {
      v = backwards ? length - 1 : length;
    }
  };
  adjust(start);
  adjust(stop);
  // Now -1 <= start, stop <= length, so the differences below cannot overflow.
  int64_t count = 0;
  if (backwards) {
    if (stop < start) count = (start - stop - 1) / (-step) + 1;
  } else if (start < stop) {
    count = (stop - start - 1) / step + 1;
  }
  return SliceBounds{start, stop, step, count};
}

}  // namespace shmarray::shm
