// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: py_literal.cc
// -----------------------------------------------------------------------------
// The Python literals of .npy headers and NumPy's dtype list syntax
// (npy_internal.h): a bounded recursive parser of str, int, True/False/None,
// tuple, list and dict (no eval), Python's str repr, UTF-8 <-> latin-1.

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "npy_internal.h"
#include "utf8.h"

namespace shmarray::client::internal {

std::string Latin1ToUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) AppendUtf8(static_cast<unsigned char>(c), &out);
  return out;
}

bool Utf8ToLatin1(std::string_view text, std::string* out) {
  std::vector<uint32_t> cps;
  if (!DecodeUtf8(text, &cps)) return false;
  out->clear();
  for (uint32_t cp : cps) {
    if (cp > 0xFF) return false;
    out->push_back(static_cast<char>(cp));
  }
  return true;
}

namespace {

constexpr int kMaxLiteralDepth = 32;

class LiteralParser {
 public:
  explicit LiteralParser(std::string_view text) : text_(text) {}

  PyValue ParseAll() {
    PyValue v = ParseValue(0);
    SkipSpace();
    if (pos_ != text_.size()) Error("unexpected text after the literal");
    return v;
  }

 private:
  [[noreturn]] void Error(const std::string& what) const {
    Fail("invalid header: " + what + " at position " + std::to_string(pos_));
  }

  void SkipSpace() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
            text_[pos_] == '\r' || text_[pos_] == '\f' || text_[pos_] == '\v')) {
      ++pos_;
    }
  }

  bool Peek(char c) {
    SkipSpace();
    return pos_ < text_.size() && text_[pos_] == c;
  }

  PyValue ParseValue(int depth) {
    if (depth > kMaxLiteralDepth) Error("literal nested too deeply");
    SkipSpace();
    if (pos_ >= text_.size()) Error("unexpected end of the header");
    const size_t begin = pos_;
    PyValue v;
    const char c = text_[pos_];
    if (c == '\'' || c == '"') {
      v.kind = PyValue::Kind::kStr;
      v.str = ParseString();
    } else if ((c == 'u' || c == 'b') && pos_ + 1 < text_.size() &&
               (text_[pos_ + 1] == '\'' || text_[pos_ + 1] == '"')) {
      if (c == 'b') Error("bytes literals are not supported");
      ++pos_;  // Python 2's u'...'
      v.kind = PyValue::Kind::kStr;
      v.str = ParseString();
    } else if (c == '-' || c == '+' || (c >= '0' && c <= '9')) {
      v.kind = PyValue::Kind::kInt;
      v.integer = ParseInt();
    } else if (c == '(' || c == '[' || c == '{') {
      ParseContainer(depth, &v);
    } else if (Word("True")) {
      v.kind = PyValue::Kind::kBool;
      v.boolean = true;
    } else if (Word("False")) {
      v.kind = PyValue::Kind::kBool;
    } else if (Word("None")) {
      v.kind = PyValue::Kind::kNone;
    } else {
      Error("unexpected character " + Quote(std::string_view(&text_[pos_], 1)));
    }
    v.begin = begin;
    v.end = pos_;
    return v;
  }

  bool Word(std::string_view w) {
    if (text_.substr(pos_, w.size()) != w) return false;
    const size_t after = pos_ + w.size();
    if (after < text_.size()) {
      const char n = text_[after];
      if ((n >= 'a' && n <= 'z') || (n >= 'A' && n <= 'Z') || (n >= '0' && n <= '9') || n == '_') {
        return false;
      }
    }
    pos_ = after;
    return true;
  }

  int64_t ParseInt() {
    bool negative = false;
    if (text_[pos_] == '-' || text_[pos_] == '+') {
      negative = text_[pos_] == '-';
      ++pos_;
      SkipSpace();
    }
    if (pos_ >= text_.size() || text_[pos_] < '0' || text_[pos_] > '9') Error("expected a digit");
    const size_t start = pos_;
    uint64_t magnitude = 0;
    bool overflow = false;
    while (pos_ < text_.size() &&
           ((text_[pos_] >= '0' && text_[pos_] <= '9') || text_[pos_] == '_')) {
      if (text_[pos_] != '_') {
        const uint64_t digit = static_cast<uint64_t>(text_[pos_] - '0');
        if (magnitude > (UINT64_MAX - digit) / 10) overflow = true;
        magnitude = magnitude * 10 + digit;
      }
      ++pos_;
    }
    const std::string_view digits = text_.substr(start, pos_ - start);
    if (pos_ < text_.size() && (text_[pos_] == 'L' || text_[pos_] == 'l')) ++pos_;  // Python 2 long
    const uint64_t limit = negative ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
    if (overflow || magnitude > limit) {
      Fail("invalid header: integer " + std::string(negative ? "-" : "") + std::string(digits) +
           " does not fit in 64 bits");
    }
    return negative ? static_cast<int64_t>(0 - magnitude) : static_cast<int64_t>(magnitude);
  }

  uint32_t Hex(int digits) {
    uint32_t v = 0;
    for (int k = 0; k < digits; ++k) {
      if (pos_ >= text_.size()) Error("truncated escape sequence");
      const char h = text_[pos_++];
      uint32_t d;
      if (h >= '0' && h <= '9') {
        d = h - '0';
      } else if (h >= 'a' && h <= 'f') {
        d = h - 'a' + 10;
      } else if (h >= 'A' && h <= 'F') {
        d = h - 'A' + 10;
      } else {
        --pos_;
        Error("bad hex digit in escape sequence");
      }
      v = v * 16 + d;
    }
    return v;
  }

  std::string ParseString() {
    const char quote = text_[pos_++];
    std::string out;
    while (true) {
      if (pos_ >= text_.size()) Error("unterminated string");
      const char c = text_[pos_];
      if (c == quote) {
        ++pos_;
        return out;
      }
      if (c == '\n') Error("newline in string");
      if (c != '\\') {
        out.push_back(c);
        ++pos_;
        continue;
      }
      ++pos_;
      if (pos_ >= text_.size()) Error("unterminated string");
      const char e = text_[pos_++];
      switch (e) {
        case '\\':
          out.push_back('\\');
          break;
        case '\'':
          out.push_back('\'');
          break;
        case '"':
          out.push_back('"');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'a':
          out.push_back('\a');
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'v':
          out.push_back('\v');
          break;
        case '\n':
          break;
        case 'x':
          AppendUtf8(Hex(2), &out);
          break;
        case 'u':
          AppendCodePoint(Hex(4), &out);
          break;
        case 'U':
          AppendCodePoint(Hex(8), &out);
          break;
        default:
          if (e >= '0' && e <= '7') {
            uint32_t v = e - '0';
            for (int k = 0;
                 k < 2 && pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '7'; ++k) {
              v = v * 8 + (text_[pos_++] - '0');
            }
            AppendUtf8(v, &out);
          } else {
            --pos_;
            Error("unknown escape sequence");
          }
      }
    }
  }

  void AppendCodePoint(uint32_t cp, std::string* out) {
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) Error("invalid code point in escape");
    AppendUtf8(cp, out);
  }

  void ParseContainer(int depth, PyValue* v) {
    const char open = text_[pos_++];
    const char close = open == '(' ? ')' : open == '[' ? ']' : '}';
    v->kind = open == '('   ? PyValue::Kind::kTuple
              : open == '[' ? PyValue::Kind::kList
                            : PyValue::Kind::kDict;
    bool saw_comma = false;
    while (true) {
      if (Peek(close)) {
        ++pos_;
        break;
      }
      if (!v->items.empty() && !saw_comma) {
        Error(std::string("expected ',' or '") + close + "'");
      }
      v->items.push_back(ParseValue(depth + 1));
      if (v->kind == PyValue::Kind::kDict) {
        if (!Peek(':')) Error("expected ':' in dict");
        ++pos_;
        v->items.push_back(ParseValue(depth + 1));
      }
      saw_comma = Peek(',');
      if (saw_comma) ++pos_;
    }
    // (x) is x in Python, not a tuple.
    if (v->kind == PyValue::Kind::kTuple && v->items.size() == 1 && !saw_comma) {
      PyValue inner = std::move(v->items[0]);
      *v = std::move(inner);
    }
  }

  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

PyValue ParsePyLiteral(std::string_view text) { return LiteralParser(text).ParseAll(); }

std::string PyRepr(std::string_view s) {
  const bool has_single = s.find('\'') != std::string_view::npos;
  const bool has_double = s.find('"') != std::string_view::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == quote || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + quote;
}

}  // namespace shmarray::client::internal
