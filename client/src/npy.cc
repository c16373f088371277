// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: npy.cc
// -----------------------------------------------------------------------------
// NumPy .npy reading and writing: a bounded parser of the Python literals
// that make up a header (no eval), the descr <-> PEP 3118 conversions, and
// chunked readers and writers so that big files are never held twice.

#include "shmarray/client/npy.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <istream>
#include <memory>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shmarray/shm/any_view.h"
#include "shmarray/shm/copy.h"
#include "shmarray/shm/errors.h"
#include "shmarray/shm/format.h"
#include "shmarray/shm/layout.h"

namespace shmarray::client {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicBytes = 6;
constexpr int kMaxLiteralDepth = 32;
constexpr int64_t kArrayAlign = 64;
// np.save leaves room after the header so that a growing axis can be
// rewritten in place (numpy.lib.format.GROWTH_AXIS_MAX_DIGITS).
constexpr size_t kGrowthAxisMaxDigits = 21;

[[noreturn]] void Fail(const std::string& message) { throw NpyError(message); }

std::string Quote(std::string_view s) {
  std::string out = "'";
  for (char c : s.substr(0, 80)) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  if (s.size() > 80) out += "...";
  return out + "'";
}

// ---------------------------------------------------------------------------
// UTF-8 and latin-1

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Decodes UTF-8 into code points; false for malformed input (overlong forms,
// surrogates, values above U+10FFFF, truncated sequences).
bool DecodeUtf8(std::string_view s, std::vector<uint32_t>* out) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    int len;
    uint32_t cp;
    if (b0 < 0x80) {
      len = 1;
      cp = b0;
    } else if ((b0 & 0xE0) == 0xC0) {
      len = 2;
      cp = b0 & 0x1F;
    } else if ((b0 & 0xF0) == 0xE0) {
      len = 3;
      cp = b0 & 0x0F;
    } else if ((b0 & 0xF8) == 0xF0) {
      len = 4;
      cp = b0 & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (int k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    out->push_back(cp);
    i += len;
  }
  return true;
}

std::string Latin1ToUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) AppendUtf8(static_cast<unsigned char>(c), &out);
  return out;
}

// ---------------------------------------------------------------------------
// Python literals: str, int, True/False/None, tuple, list, dict.

struct PyValue {
  enum class Kind { kStr, kInt, kBool, kNone, kTuple, kList, kDict };
  Kind kind = Kind::kNone;
  std::string str;             // kStr (UTF-8)
  int64_t integer = 0;         // kInt
  bool boolean = false;        // kBool
  std::vector<PyValue> items;  // kTuple, kList; kDict: key, value, key, value, ...
  size_t begin = 0;            // source span
  size_t end = 0;
};

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

// ---------------------------------------------------------------------------
// descr -> PEP 3118

std::string ShapePrefix(const std::vector<int64_t>& shape) {
  if (shape.empty()) return "";
  std::string out = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ",";
    out += std::to_string(shape[i]);
  }
  return out + ")";
}

// The sub-array shape of a struct field: an int or a tuple of ints.
std::vector<int64_t> SubarrayShape(const PyValue& v) {
  std::vector<int64_t> shape;
  if (v.kind == PyValue::Kind::kInt) {
    shape.push_back(v.integer);
  } else if (v.kind == PyValue::Kind::kTuple) {
    for (const PyValue& e : v.items) {
      if (e.kind != PyValue::Kind::kInt) Fail("invalid descr: sub-array shape must hold integers");
      shape.push_back(e.integer);
    }
  } else {
    Fail("invalid descr: sub-array shape must be an int or a tuple");
  }
  if (shape.size() > static_cast<size_t>(shm::kMaxDims)) {
    Fail("invalid descr: sub-array shape has more than " + std::to_string(shm::kMaxDims) + " axes");
  }
  for (int64_t e : shape) {
    if (e <= 0) {
      Fail("invalid descr: sub-array extents must be positive, got " + std::to_string(e));
    }
  }
  return shape;
}

struct TypestrInfo {
  std::string format;  // PEP 3118 piece, e.g. "<d", "10s", "8x"
  bool is_void = false;
  int64_t size = 0;
};

TypestrInfo ParseTypestr(std::string_view t) {
  const std::string quoted = Quote(t);
  if (t.empty()) Fail("invalid descr: empty type string");
  size_t i = 0;
  char order = '=';
  if (t[0] == '<' || t[0] == '>' || t[0] == '|' || t[0] == '=') {
    order = t[0] == '|' ? '=' : t[0];
    ++i;
  }
  if (i >= t.size()) Fail("invalid descr " + quoted + ": no type code");
  const char kind = t[i++];
  switch (kind) {
    case 'O':
      Fail("unsupported dtype " + quoted + ": Python objects have no meaning in shared memory");
    case 'M':
    case 'm':
      Fail("unsupported dtype " + quoted +
           ": datetime and timedelta have no PEP 3118 format; save them as int64");
    case 'U':
      Fail("unsupported dtype " + quoted +
           ": unicode strings (PEP 3118 'w') are not supported; use bytes ('S') or uint32");
    default:
      break;
  }
  const std::string_view digits = t.substr(i);
  if (digits.empty() || digits.size() > 12 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    Fail("invalid descr " + quoted + ": expected a type code and a size in bytes");
  }
  int64_t size = 0;
  for (char c : digits) size = size * 10 + (c - '0');
  const std::string o(1, order);
  TypestrInfo info;
  info.size = size;
  auto sized = [&](std::initializer_list<std::pair<int64_t, const char*>> table) {
    for (const auto& [s, code] : table) {
      if (s == size) return std::string(code);
    }
    Fail("unsupported dtype " + quoted + ": no " + std::to_string(size) + "-byte type of kind '" +
         std::string(1, kind) + "'");
  };
  switch (kind) {
    case 'b':
      info.format = sized({{1, "?"}});
      break;
    case 'i':
      info.format = size == 1 ? "b" : o + sized({{2, "h"}, {4, "i"}, {8, "q"}});
      break;
    case 'u':
      info.format = size == 1 ? "B" : o + sized({{2, "H"}, {4, "I"}, {8, "Q"}});
      break;
    case 'f':
      info.format = o + sized({{2, "e"}, {4, "f"}, {8, "d"}, {16, "g"}});
      break;
    case 'c':
      info.format = o + sized({{8, "Zf"}, {16, "Zd"}, {32, "Zg"}});
      break;
    case 'S':
    case 'a':
      if (size == 0) Fail("unsupported dtype " + quoted + ": zero-length strings");
      info.format = std::to_string(size) + "s";
      break;
    case 'V':
      if (size == 0) Fail("unsupported dtype " + quoted + ": zero-length void");
      info.format = std::to_string(size) + "x";
      info.is_void = true;
      break;
    default:
      Fail("invalid descr " + quoted + ": unknown type code '" + std::string(1, kind) + "'");
  }
  return info;
}

void CheckFieldName(const std::string& name) {
  if (name.find(':') != std::string::npos || name.find('\0') != std::string::npos) {
    Fail("unsupported field name " + Quote(name) + ": PEP 3118 names cannot contain ':' or NUL");
  }
}

std::string DescrValueToFormat(const PyValue& v, int depth);

std::string StructToFormat(const PyValue& list, int depth) {
  if (list.items.empty()) Fail("unsupported descr: a struct with no fields");
  std::string out = "T{";
  int index = 0;
  for (const PyValue& field : list.items) {
    if (field.kind != PyValue::Kind::kTuple || field.items.size() < 2 || field.items.size() > 3) {
      Fail("invalid descr: a struct field must be a tuple (name, type[, shape])");
    }
    const PyValue& name_value = field.items[0];
    std::string name;
    if (name_value.kind == PyValue::Kind::kStr) {
      name = name_value.str;
    } else if (name_value.kind == PyValue::Kind::kTuple && name_value.items.size() == 2 &&
               name_value.items[1].kind == PyValue::Kind::kStr) {
      name = name_value.items[1].str;  // (title, name): the title is dropped
    } else {
      Fail("invalid descr: a field name must be a string");
    }
    std::vector<int64_t> shape;
    if (field.items.size() == 3) shape = SubarrayShape(field.items[2]);
    const PyValue& type = field.items[1];
    if (name.empty() && type.kind == PyValue::Kind::kStr) {
      const TypestrInfo info = ParseTypestr(type.str);
      if (info.is_void) {  // NumPy's padding field ('', '|V4')
        int64_t bytes = info.size;
        for (int64_t e : shape) {
          if (__builtin_mul_overflow(bytes, e, &bytes)) Fail("invalid descr: padding too large");
        }
        out += std::to_string(bytes) + "x";
        ++index;
        continue;
      }
    }
    if (name.empty()) name = "f" + std::to_string(index);
    CheckFieldName(name);
    out += ShapePrefix(shape) + DescrValueToFormat(type, depth + 1) + ":" + name + ":";
    ++index;
  }
  return out + "}";
}

std::string SpellingToFormat(std::string_view spelling, int depth);

std::string DescrValueToFormat(const PyValue& v, int depth) {
  if (depth > shm::kMaxFormatNesting) Fail("unsupported descr: structs nested too deeply");
  switch (v.kind) {
    case PyValue::Kind::kStr:
      return SpellingToFormat(v.str, depth);
    case PyValue::Kind::kList:
      return StructToFormat(v, depth);
    case PyValue::Kind::kTuple: {  // (base, shape)
      if (v.items.size() != 2) Fail("invalid descr: expected (type, shape)");
      const std::vector<int64_t> shape = SubarrayShape(v.items[1]);
      return ShapePrefix(shape) + DescrValueToFormat(v.items[0], depth + 1);
    }
    default:
      Fail("invalid descr: expected a type string or a list of fields");
  }
}

// ---------------------------------------------------------------------------
// NumPy dtype spellings (what np.dtype() accepts as a string) -> PEP 3118

// Type names np.dtype() accepts, as typestrs of this platform (LP64,
// x86-64 / aarch64: long is 8 bytes, long double 16).
constexpr std::pair<std::string_view, std::string_view> kDtypeNames[] = {
    {"bool", "|b1"},        {"bool_", "|b1"},      {"bool8", "|b1"},       {"int8", "|i1"},
    {"int16", "i2"},        {"int32", "i4"},       {"int64", "i8"},        {"uint8", "|u1"},
    {"uint16", "u2"},       {"uint32", "u4"},      {"uint64", "u8"},       {"float16", "f2"},
    {"float32", "f4"},      {"float64", "f8"},     {"float128", "f16"},    {"complex64", "c8"},
    {"complex128", "c16"},  {"complex256", "c32"}, {"byte", "|i1"},        {"ubyte", "|u1"},
    {"short", "i2"},        {"ushort", "u2"},      {"intc", "i4"},         {"uintc", "u4"},
    {"int", "i8"},          {"int_", "i8"},        {"int0", "i8"},         {"long", "i8"},
    {"uint", "u8"},         {"uint0", "u8"},       {"ulong", "u8"},        {"longlong", "i8"},
    {"ulonglong", "u8"},    {"intp", "i8"},        {"uintp", "u8"},        {"half", "f2"},
    {"single", "f4"},       {"double", "f8"},      {"float", "f8"},        {"float_", "f8"},
    {"longdouble", "f16"},  {"longfloat", "f16"},  {"csingle", "c8"},      {"singlecomplex", "c8"},
    {"cdouble", "c16"},     {"cfloat", "c16"},     {"complex", "c16"},     {"complex_", "c16"},
    {"clongdouble", "c32"}, {"clongfloat", "c32"}, {"longcomplex", "c32"},
};

// NumPy's one-character codes, as typestrs without a byte order.
constexpr std::pair<char, std::string_view> kDtypeChars[] = {
    {'?', "|b1"}, {'b', "|i1"}, {'B', "|u1"}, {'h', "i2"}, {'H', "u2"},  {'i', "i4"},  {'I', "u4"},
    {'l', "i8"},  {'L', "u8"},  {'q', "i8"},  {'Q', "u8"}, {'p', "i8"},  {'P', "u8"},  {'e', "f2"},
    {'f', "f4"},  {'d', "f8"},  {'g', "f16"}, {'F', "c8"}, {'D', "c16"}, {'G', "c32"}, {'c', "|S1"},
};

// One scalar spelling: a name ("int64"), a typestr ("<f8", "S5") or a
// character code ("d", ">i"), each possibly after a sub-array shape
// ("(2,3)f8", "2i4").
std::string ScalarSpellingToFormat(std::string_view spelling) {
  const std::string quoted = Quote(spelling);
  std::string_view s = spelling;
  std::vector<int64_t> shape;
  if (!s.empty() && s[0] == '(') {
    const size_t close = s.find(')');
    if (close == std::string_view::npos) Fail("invalid dtype " + quoted + ": unclosed '('");
    const PyValue v = LiteralParser(s.substr(0, close + 1)).ParseAll();
    shape = SubarrayShape(v);
    s.remove_prefix(close + 1);
  } else if (!s.empty() && s[0] >= '0' && s[0] <= '9') {
    size_t digits = 0;
    while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
    const PyValue v = LiteralParser(s.substr(0, digits)).ParseAll();
    shape = SubarrayShape(v);
    s.remove_prefix(digits);
  }
  if (s.empty()) Fail("invalid dtype " + quoted + ": no type after the shape");
  for (const auto& [name, typestr] : kDtypeNames) {
    if (s == name) return ShapePrefix(shape) + ParseTypestr(typestr).format;
  }
  if (s == "object" || s == "O") {
    Fail("unsupported dtype " + quoted + ": Python objects have no meaning in shared memory");
  }
  if (s == "str" || s == "unicode" || s == "U") {
    Fail("unsupported dtype " + quoted +
         ": unicode strings (PEP 3118 'w') are not supported; use bytes ('S') or uint32");
  }
  if (s.rfind("datetime64", 0) == 0 || s.rfind("timedelta64", 0) == 0) {
    Fail("unsupported dtype " + quoted +
         ": datetime and timedelta have no PEP 3118 format; use int64");
  }
  std::string order;
  if (s[0] == '<' || s[0] == '>' || s[0] == '=' || s[0] == '|' || s[0] == '!') {
    order = s[0] == '!' ? ">" : std::string(1, s[0]);
    s.remove_prefix(1);
  }
  if (s == "S" || s == "a" || s == "V" || s == "bytes" || s == "void") {
    Fail("unsupported dtype " + quoted + ": zero-length items; give a size, e.g. 'S10'");
  }
  if (s.size() == 1) {
    for (const auto& [c, typestr] : kDtypeChars) {
      if (s[0] != c) continue;
      const std::string t = typestr[0] == '|'
                                ? std::string(typestr)
                                : (order.empty() ? "=" : order) + std::string(typestr);
      return ShapePrefix(shape) + ParseTypestr(t).format;
    }
  }
  // Names start with two letters; typestrs and codes with one.
  if (s.size() >= 2 && std::isalpha(static_cast<unsigned char>(s[0])) &&
      std::isalpha(static_cast<unsigned char>(s[1]))) {
    Fail("unknown NumPy dtype " + quoted);
  }
  return ShapePrefix(shape) + ParseTypestr(order + std::string(s)).format;
}

// Splits at the commas that are not inside parentheses or brackets.
std::vector<std::string_view> SplitTopLevel(std::string_view s) {
  std::vector<std::string_view> parts;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '(' || s[i] == '[') ++depth;
    if (s[i] == ')' || s[i] == ']') --depth;
    if (s[i] == ',' && depth == 0) {
      parts.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  parts.push_back(s.substr(start));
  return parts;
}

std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// A dtype string: a scalar spelling, or NumPy's comma form "i8,f4" (a struct
// of fields f0, f1, ...).
std::string SpellingToFormat(std::string_view spelling, int depth) {
  if (depth > shm::kMaxFormatNesting) Fail("unsupported dtype: structs nested too deeply");
  const std::vector<std::string_view> parts = SplitTopLevel(spelling);
  if (parts.size() == 1) return ScalarSpellingToFormat(TrimSpace(spelling));
  std::string out = "T{";
  int index = 0;
  for (std::string_view part : parts) {
    part = TrimSpace(part);
    if (part.empty()) continue;  // "i8," is a one-field struct
    out += ScalarSpellingToFormat(part) + ":f" + std::to_string(index++) + ":";
  }
  return out + "}";
}

shm::Format ParseFormatOrFail(const std::string& text, std::string_view descr) {
  try {
    return shm::Format::Parse(text);
  } catch (const shm::FormatError& e) {
    Fail("unsupported descr " + std::string(descr.substr(0, 200)) + ": " + e.what());
  }
}

// ---------------------------------------------------------------------------
// PEP 3118 (canonical) -> descr

struct FmtItem {
  enum class Kind { kScalar, kString, kPad, kStruct };
  Kind kind = Kind::kScalar;
  std::vector<int64_t> shape;
  char order = '<';
  std::string code;  // "d", "Zd", "s", "p", ...
  int64_t count = 1;
  std::vector<FmtItem> fields;
  std::string name;
  bool named = false;
};

class FormatReader {
 public:
  explicit FormatReader(std::string_view text) : text_(text) {}

  std::vector<FmtItem> ParseAll() {
    std::vector<FmtItem> items = ParseItems(0);
    if (pos_ != text_.size()) Bad();
    return items;
  }

 private:
  [[noreturn]] void Bad() const {
    Fail("cannot convert format " + Quote(text_) +
         " to a NumPy dtype: unexpected text at position " + std::to_string(pos_));
  }

  bool Digit() const { return pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9'; }

  int64_t Number() {
    if (!Digit()) Bad();
    int64_t v = 0;
    while (Digit()) {
      if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, text_[pos_] - '0', &v)) {
        Bad();
      }
      ++pos_;
    }
    return v;
  }

  void Space() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n'))
      ++pos_;
  }

  std::vector<FmtItem> ParseItems(int depth) {
    if (depth > shm::kMaxFormatNesting) Bad();
    std::vector<FmtItem> items;
    while (true) {
      Space();
      if (pos_ >= text_.size() || text_[pos_] == '}') return items;
      FmtItem item;
      if (text_[pos_] == '(') {
        ++pos_;
        while (true) {
          Space();
          item.shape.push_back(Number());
          Space();
          if (pos_ < text_.size() && text_[pos_] == ',') {
            ++pos_;
            continue;
          }
          if (pos_ < text_.size() && text_[pos_] == ')') {
            ++pos_;
            break;
          }
          Bad();
        }
      }
      Space();
      while (pos_ < text_.size() &&
             std::string_view("@=<>!^").find(text_[pos_]) != std::string_view::npos) {
        const char o = text_[pos_++];
        item.order = o == '>' || o == '!' ? '>' : '<';
        Space();
      }
      if (Digit()) item.count = Number();
      Space();
      if (pos_ >= text_.size()) Bad();
      const char c = text_[pos_];
      if (c == 'T' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '{') {
        pos_ += 2;
        item.kind = FmtItem::Kind::kStruct;
        item.fields = ParseItems(depth + 1);
        if (pos_ >= text_.size() || text_[pos_] != '}') Bad();
        ++pos_;
        if (item.count > 1) item.shape.push_back(item.count);
      } else if (c == 'Z') {
        if (pos_ + 1 >= text_.size() ||
            std::string_view("fdg").find(text_[pos_ + 1]) == std::string_view::npos)
          Bad();
        item.code = std::string(text_.substr(pos_, 2));
        pos_ += 2;
        if (item.count > 1) item.shape.push_back(item.count);
      } else if (c == 's' || c == 'p') {
        item.kind = FmtItem::Kind::kString;
        item.code = std::string(1, c);
        ++pos_;
      } else if (c == 'x') {
        item.kind = FmtItem::Kind::kPad;
        ++pos_;
      } else if (std::string_view("?bBhHiIlLqQnNefdgcP").find(c) != std::string_view::npos) {
        item.code = std::string(1, c);
        ++pos_;
        if (item.count > 1) item.shape.push_back(item.count);
      } else {
        Bad();
      }
      Space();
      if (pos_ < text_.size() && text_[pos_] == ':') {
        const size_t end = text_.find(':', pos_ + 1);
        if (end == std::string_view::npos) Bad();
        item.name = std::string(text_.substr(pos_ + 1, end - pos_ - 1));
        item.named = true;
        pos_ = end + 1;
      }
      items.push_back(std::move(item));
    }
  }

  std::string_view text_;
  size_t pos_ = 0;
};

// Python's repr of a str (ASCII escapes as Python writes them; other
// characters stay as they are).
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

int64_t ScalarBytes(const std::string& code) {
  static const std::pair<const char*, int64_t> kSizes[] = {
      {"?", 1}, {"b", 1}, {"B", 1},  {"c", 1},  {"h", 2},   {"H", 2},  {"e", 2}, {"i", 4},
      {"I", 4}, {"l", 4}, {"L", 4},  {"f", 4},  {"q", 8},   {"Q", 8},  {"n", 8}, {"N", 8},
      {"P", 8}, {"d", 8}, {"g", 16}, {"Zf", 8}, {"Zd", 16}, {"Zg", 32}};
  for (const auto& [c, n] : kSizes) {
    if (code == c) return n;
  }
  return 0;
}

// The typestr of a scalar or string item (without its shape).
std::string ScalarTypestr(const FmtItem& item) {
  if (item.kind == FmtItem::Kind::kString) {
    if (item.code == "p") {
      Fail("format '" + std::to_string(item.count) +
           "p' has no NumPy dtype: pascal strings are not supported");
    }
    return "|S" + std::to_string(item.count);
  }
  static const std::pair<const char*, const char*> kKinds[] = {
      {"?", "b"}, {"b", "i"},  {"B", "u"},  {"c", "S"}, {"h", "i"}, {"H", "u"},
      {"i", "i"}, {"I", "u"},  {"l", "i"},  {"L", "u"}, {"q", "i"}, {"Q", "u"},
      {"n", "i"}, {"N", "u"},  {"P", "u"},  {"e", "f"}, {"f", "f"}, {"d", "f"},
      {"g", "f"}, {"Zf", "c"}, {"Zd", "c"}, {"Zg", "c"}};
  for (const auto& [code, kind] : kKinds) {
    if (item.code == code) {
      const int64_t bytes = ScalarBytes(item.code);
      const char order = bytes == 1 ? '|' : item.order;
      return std::string(1, order) + kind + std::to_string(bytes);
    }
  }
  Fail("format code '" + item.code + "' has no NumPy dtype");
}

int64_t ItemBytes(const FmtItem& item);

int64_t FieldsBytes(const std::vector<FmtItem>& fields) {
  int64_t total = 0;
  for (const FmtItem& f : fields) total += ItemBytes(f);
  return total;
}

int64_t ItemBytes(const FmtItem& item) {
  int64_t n = 0;
  switch (item.kind) {
    case FmtItem::Kind::kScalar:
      n = ScalarBytes(item.code);
      break;
    case FmtItem::Kind::kString:
    case FmtItem::Kind::kPad:
      n = item.count;
      break;
    case FmtItem::Kind::kStruct:
      n = FieldsBytes(item.fields);
      break;
  }
  for (int64_t e : item.shape) n *= e;
  return n;
}

std::string FieldsDescr(const std::vector<FmtItem>& fields, int64_t trailing_pad);

// The type part of a field: a typestr or a nested list.
std::string TypeDescr(const FmtItem& item) {
  switch (item.kind) {
    case FmtItem::Kind::kStruct:
      return FieldsDescr(item.fields, 0);
    case FmtItem::Kind::kPad:
      return PyRepr("|V" + std::to_string(item.count));
    default:
      return PyRepr(ScalarTypestr(item));
  }
}

std::string FieldsDescr(const std::vector<FmtItem>& fields, int64_t trailing_pad) {
  std::vector<std::string> parts;
  std::vector<std::string> names;
  for (size_t i = 0; i < fields.size(); ++i) {
    const FmtItem& f = fields[i];
    if (f.kind == FmtItem::Kind::kPad && !f.named) {
      int64_t bytes = ItemBytes(f);
      parts.push_back("('', " + PyRepr("|V" + std::to_string(bytes)) + ")");
      continue;
    }
    const std::string name = f.named ? f.name : "f" + std::to_string(i);
    if (name.empty()) Fail("a struct field of the format has an empty name");
    if (std::find(names.begin(), names.end(), name) != names.end()) {
      Fail("format has two fields named " + Quote(name) +
           " after NumPy's naming of unnamed fields");
    }
    names.push_back(name);
    std::string part = "(" + PyRepr(name) + ", " + TypeDescr(f);
    if (!f.shape.empty()) part += ", " + shm::TupleString(f.shape);
    parts.push_back(part + ")");
  }
  if (trailing_pad > 0)
    parts.push_back("('', " + PyRepr("|V" + std::to_string(trailing_pad)) + ")");
  std::string out = "[";
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += ", ";
    out += parts[i];
  }
  return out + "]";
}

bool OnlyPadding(const std::vector<FmtItem>& items) {
  return !items.empty() && std::all_of(items.begin(), items.end(), [](const FmtItem& f) {
    return f.kind == FmtItem::Kind::kPad && !f.named && f.shape.empty();
  });
}

// ---------------------------------------------------------------------------
// Headers

struct DecodedHeader {
  int major = 1;
  int64_t header_bytes = 0;
  std::string text;  // UTF-8
};

NpyHeader HeaderFromText(const DecodedHeader& decoded) {
  const PyValue dict = LiteralParser(decoded.text).ParseAll();
  if (dict.kind != PyValue::Kind::kDict) Fail("invalid header: not a dict literal");
  const PyValue* descr = nullptr;
  const PyValue* fortran = nullptr;
  const PyValue* shape = nullptr;
  for (size_t i = 0; i < dict.items.size(); i += 2) {
    const PyValue& key = dict.items[i];
    if (key.kind != PyValue::Kind::kStr) Fail("invalid header: a key is not a string");
    const PyValue** slot = key.str == "descr"           ? &descr
                           : key.str == "fortran_order" ? &fortran
                           : key.str == "shape"         ? &shape
                                                        : nullptr;
    if (slot == nullptr) Fail("invalid header: unexpected key " + Quote(key.str));
    if (*slot != nullptr) Fail("invalid header: duplicate key " + Quote(key.str));
    *slot = &dict.items[i + 1];
  }
  if (descr == nullptr || fortran == nullptr || shape == nullptr) {
    Fail("invalid header: it must have the keys 'descr', 'fortran_order' and 'shape'");
  }
  NpyHeader h;
  h.major_version = decoded.major;
  h.minor_version = 0;
  h.header_bytes = decoded.header_bytes;
  if (fortran->kind != PyValue::Kind::kBool) {
    Fail("invalid header: 'fortran_order' must be True or False");
  }
  h.fortran_order = fortran->boolean;
  if (shape->kind != PyValue::Kind::kTuple) Fail("invalid header: 'shape' must be a tuple");
  if (shape->items.size() > static_cast<size_t>(shm::kMaxDims)) {
    Fail("invalid header: shape has " + std::to_string(shape->items.size()) +
         " axes, more than the maximum of " + std::to_string(shm::kMaxDims));
  }
  for (const PyValue& e : shape->items) {
    if (e.kind != PyValue::Kind::kInt) Fail("invalid header: 'shape' must hold integers");
    if (e.integer < 0) {
      Fail("invalid header: negative extent " + std::to_string(e.integer) + " in 'shape'");
    }
    h.shape.push_back(e.integer);
  }
  h.descr = decoded.text.substr(descr->begin, descr->end - descr->begin);
  const std::string format_text = DescrValueToFormat(*descr, 0);
  h.format = ParseFormatOrFail(format_text, h.descr);
  h.itemsize = h.format.itemsize();
  int64_t bytes = h.itemsize;
  for (int64_t e : h.shape) {
    if (__builtin_mul_overflow(bytes, e, &bytes)) {
      Fail("invalid header: shape " + shm::TupleString(h.shape) + " of " +
           std::to_string(h.itemsize) + "-byte items overflows 64 bits");
    }
  }
  h.data_bytes = bytes;
  return h;
}

// Reads exactly n bytes or reports how many were available.
template <typename ReadFn>
NpyHeader ReadHeaderWith(ReadFn&& read) {
  char prefix[8];
  size_t got = read(prefix, 8);
  if (got < kMagicBytes || std::memcmp(prefix, kMagic, kMagicBytes) != 0) {
    if (got == 0) Fail("not a NumPy .npy file (the file is empty)");
    Fail("not a NumPy .npy file (bad magic string)");
  }
  if (got < 8) Fail("truncated header: the file ends inside the version number");
  const int major = static_cast<unsigned char>(prefix[6]);
  const int minor = static_cast<unsigned char>(prefix[7]);
  if ((major != 1 && major != 2 && major != 3) || minor != 0) {
    Fail("unsupported .npy format version " + std::to_string(major) + "." + std::to_string(minor) +
         " (supported: 1.0, 2.0, 3.0)");
  }
  const size_t len_bytes = major == 1 ? 2 : 4;
  unsigned char len_buf[4] = {0, 0, 0, 0};
  if (read(reinterpret_cast<char*>(len_buf), len_bytes) != len_bytes) {
    Fail("truncated header: the file ends inside the header length");
  }
  uint64_t header_len = 0;
  for (size_t i = len_bytes; i-- > 0;) header_len = (header_len << 8) | len_buf[i];
  if (header_len > static_cast<uint64_t>(kMaxNpyHeaderBytes)) {
    Fail("header of " + std::to_string(header_len) + " bytes is longer than the limit of " +
         std::to_string(kMaxNpyHeaderBytes) + " bytes");
  }
  std::string raw(header_len, '\0');
  const size_t raw_got = read(raw.data(), header_len);
  if (raw_got != header_len) {
    Fail("truncated header: it declares " + std::to_string(header_len) + " bytes but only " +
         std::to_string(raw_got) + " follow");
  }
  DecodedHeader decoded;
  decoded.major = major;
  decoded.header_bytes = static_cast<int64_t>(8 + len_bytes + header_len);
  if (major == 3) {
    std::vector<uint32_t> cps;
    if (!DecodeUtf8(raw, &cps)) Fail("invalid header: version 3.0 header is not valid UTF-8");
    decoded.text = std::move(raw);
  } else {
    decoded.text = Latin1ToUtf8(raw);
  }
  if (decoded.text.find('\0') != std::string::npos) Fail("invalid header: it contains a NUL byte");
  return HeaderFromText(decoded);
}

// Encodes `text` (UTF-8) as latin-1; false if a character is outside it.
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

std::string WrapHeader(const std::string& encoded, int major) {
  const int64_t prefix = major == 1 ? 10 : 12;
  const int64_t hlen = static_cast<int64_t>(encoded.size()) + 1;
  const int64_t padlen = kArrayAlign - ((prefix + hlen) % kArrayAlign);
  const uint64_t total = static_cast<uint64_t>(hlen + padlen);
  std::string out(kMagic, kMagicBytes);
  out.push_back(static_cast<char>(major));
  out.push_back('\0');
  for (int i = 0; i < (major == 1 ? 2 : 4); ++i)
    out.push_back(static_cast<char>((total >> (8 * i)) & 0xFF));
  out += encoded;
  out.append(static_cast<size_t>(padlen), ' ');
  out.push_back('\n');
  return out;
}

std::string WithPath(const std::string& path, const char* what) { return path + ": " + what; }

std::string ErrnoText() { return std::strerror(errno); }

}  // namespace

// ---------------------------------------------------------------------------

std::string DescrToFormat(std::string_view descr) {
  if (descr.size() > static_cast<size_t>(kMaxNpyHeaderBytes)) Fail("descr is too long");
  const PyValue v = LiteralParser(descr).ParseAll();
  return ParseFormatOrFail(DescrValueToFormat(v, 0), descr).canonical();
}

std::string FormatToDescr(const shm::Format& format, int64_t itemsize) {
  const int64_t format_bytes = format.itemsize();
  if (itemsize == 0) itemsize = format_bytes;
  if (itemsize < format_bytes) {
    Fail("itemsize " + std::to_string(itemsize) + " is smaller than the " +
         std::to_string(format_bytes) + " bytes of format " + Quote(format.canonical()));
  }
  std::vector<FmtItem> items = FormatReader(format.canonical()).ParseAll();
  if (FieldsBytes(items) != format_bytes) {
    Fail("cannot convert format " + Quote(format.canonical()) +
         " to a NumPy dtype: its items do not add up to its itemsize");
  }
  const int64_t pad = itemsize - format_bytes;
  // A top-level T{...} is the struct itself.
  if (items.size() == 1 && items[0].kind == FmtItem::Kind::kStruct && items[0].shape.empty() &&
      !items[0].named) {
    std::vector<FmtItem> fields = std::move(items[0].fields);
    items = std::move(fields);
  }
  if (OnlyPadding(items)) return PyRepr("|V" + std::to_string(itemsize));
  if (items.size() == 1 && items[0].shape.empty() && !items[0].named &&
      items[0].kind != FmtItem::Kind::kStruct && pad == 0) {
    return PyRepr(ScalarTypestr(items[0]));
  }
  return FieldsDescr(items, pad);
}

std::string DtypeToFormat(std::string_view dtype) {
  if (dtype.size() > static_cast<size_t>(kMaxNpyHeaderBytes)) Fail("dtype is too long");
  const std::string_view s = TrimSpace(dtype);
  if (s.empty()) Fail("empty dtype");
  std::string format;
  if (s[0] == '[' || s[0] == '\'' || s[0] == '"') {
    format = DescrValueToFormat(LiteralParser(s).ParseAll(), 0);
  } else {
    format = SpellingToFormat(s, 0);
  }
  return ParseFormatOrFail(format, s).canonical();
}

std::string DtypeName(const shm::Format& format, int64_t itemsize) {
  const std::string descr = FormatToDescr(format, itemsize);
  // A scalar descr is a quoted typestr: "'<f8'".
  if (descr.size() < 4 || descr.front() != '\'' || descr.back() != '\'') return descr;
  const std::string typestr = descr.substr(1, descr.size() - 2);
  if (typestr[0] == '>') return typestr;
  const std::string_view body = std::string_view(typestr).substr(1);
  if (body[0] == 'S' || body[0] == 'V') return std::string(body);
  static constexpr std::pair<std::string_view, std::string_view> kNames[] = {
      {"b1", "bool"},      {"i1", "int8"},      {"i2", "int16"},       {"i4", "int32"},
      {"i8", "int64"},     {"u1", "uint8"},     {"u2", "uint16"},      {"u4", "uint32"},
      {"u8", "uint64"},    {"f2", "float16"},   {"f4", "float32"},     {"f8", "float64"},
      {"f16", "float128"}, {"c8", "complex64"}, {"c16", "complex128"}, {"c32", "complex256"}};
  for (const auto& [t, name] : kNames) {
    if (body == t) return std::string(name);
  }
  return typestr;
}

std::string FormatSpellingHint(std::string_view text) {
  std::string canonical;
  try {
    canonical = DtypeToFormat(text);
  } catch (const NpyError&) {
    return "";
  }
  std::string pep = canonical;
  // A little-endian scalar is written without its '<' (native order here).
  if (std::endian::native == std::endian::little && pep.size() > 1 && pep[0] == '<' &&
      pep.find_first_of("<>T{(:", 1) == std::string::npos) {
    pep = pep.substr(1);
  }
  std::string name;
  try {
    name = DtypeName(shm::Format::Parse(canonical));
  } catch (const std::exception&) {
    name = std::string(text);
  }
  return "did you mean '" + pep + "' (NumPy '" + name + "')?";
}

std::string MakeNpyHeader(const shm::Format& format, int64_t itemsize,
                          std::span<const int64_t> shape, shm::Order order) {
  if (shape.size() > static_cast<size_t>(shm::kMaxDims)) {
    Fail("shape has more than " + std::to_string(shm::kMaxDims) + " axes");
  }
  if (itemsize == 0) itemsize = format.itemsize();
  int64_t bytes = itemsize;
  for (int64_t e : shape) {
    if (e < 0) Fail("negative extent " + std::to_string(e) + " in the shape");
    if (__builtin_mul_overflow(bytes, e, &bytes)) Fail("the shape overflows 64 bits");
  }
  const bool fortran = order == shm::Order::kF;
  const std::vector<int64_t> shape_vec(shape.begin(), shape.end());
  std::string text = "{'descr': " + FormatToDescr(format, itemsize) +
                     ", 'fortran_order': " + (fortran ? "True" : "False") +
                     ", 'shape': " + shm::TupleString(shape_vec) + ", }";
  if (!shape.empty()) {
    const size_t digits = std::to_string(shape[fortran ? shape.size() - 1 : 0]).size();
    if (digits < kGrowthAxisMaxDigits) text.append(kGrowthAxisMaxDigits - digits, ' ');
  }
  std::string latin1;
  if (Utf8ToLatin1(text, &latin1)) {
    // Version 1.0 stores hlen + padlen in 16 bits; 2.0 in 32 bits.
    std::string v1 = WrapHeader(latin1, 1);
    if (v1.size() - 10 <= 65535) return v1;
    return WrapHeader(latin1, 2);
  }
  return WrapHeader(text, 3);
}

NpyHeader ReadNpyHeader(std::istream& in) {
  return ReadHeaderWith([&in](char* buf, size_t n) -> size_t {
    in.read(buf, static_cast<std::streamsize>(n));
    return static_cast<size_t>(in.gcount());
  });
}

NpyHeader ParseNpyHeader(std::string_view bytes) {
  size_t pos = 0;
  return ReadHeaderWith([&](char* buf, size_t n) -> size_t {
    const size_t k = std::min(n, bytes.size() - pos);
    std::memcpy(buf, bytes.data() + pos, k);
    pos += k;
    return k;
  });
}

// ---------------------------------------------------------------------------
// NpyReader

NpyReader NpyReader::Open(const std::string& path) {
  NpyReader r;
  r.path_ = path;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) Fail(WithPath(path, "is a directory"));
  r.in_ = std::make_unique<std::ifstream>(path, std::ios::binary);
  if (!*r.in_) Fail(path + ": cannot open: " + ErrnoText());
  try {
    r.header_ = ReadNpyHeader(*r.in_);
  } catch (const NpyError& e) {
    Fail(path + ": " + e.what());
  }
  const uintmax_t file_size = std::filesystem::file_size(path, ec);
  if (!ec) {
    const uintmax_t available = file_size - static_cast<uintmax_t>(r.header_.header_bytes);
    if (available < static_cast<uintmax_t>(r.header_.data_bytes)) {
      Fail(path + ": file is truncated: the header declares " +
           std::to_string(r.header_.data_bytes) + " data bytes but only " +
           std::to_string(available) + " follow");
    }
  }
  r.remaining_bytes_ = r.header_.data_bytes;
  return r;
}

NpyReader::NpyReader(NpyReader&&) noexcept = default;
NpyReader& NpyReader::operator=(NpyReader&&) noexcept = default;
NpyReader::~NpyReader() = default;

int64_t NpyReader::Read(std::span<std::byte> out) {
  const int64_t want = std::min<int64_t>(static_cast<int64_t>(out.size()), remaining_bytes_);
  if (want <= 0) return 0;
  in_->read(reinterpret_cast<char*>(out.data()), want);
  const int64_t got = in_->gcount();
  if (got != want) {
    const int64_t read_so_far = header_.data_bytes - remaining_bytes_ + got;
    Fail(path_ + ": file is truncated: the header declares " + std::to_string(header_.data_bytes) +
         " data bytes but only " + std::to_string(read_so_far) + " follow");
  }
  remaining_bytes_ -= got;
  return got;
}

// ---------------------------------------------------------------------------
// NpyWriter

NpyWriter NpyWriter::Create(const std::string& path, const shm::Format& format, int64_t itemsize,
                            std::span<const int64_t> shape, shm::Order order) {
  const std::string header = MakeNpyHeader(format, itemsize, shape, order);
  if (itemsize == 0) itemsize = format.itemsize();
  int64_t bytes = itemsize;
  for (int64_t e : shape) bytes *= e;  // checked by MakeNpyHeader
  NpyWriter w;
  w.path_ = path;
  w.out_ = std::make_unique<std::ofstream>(path, std::ios::binary | std::ios::trunc);
  if (!*w.out_) Fail(path + ": cannot create: " + ErrnoText());
  w.out_->write(header.data(), static_cast<std::streamsize>(header.size()));
  if (!*w.out_) {
    const std::string err = ErrnoText();
    w.Abandon();
    Fail(path + ": write failed: " + err);
  }
  w.remaining_bytes_ = bytes;
  return w;
}

NpyWriter::NpyWriter(NpyWriter&& other) noexcept
    : path_(std::move(other.path_)),
      out_(std::move(other.out_)),
      remaining_bytes_(other.remaining_bytes_) {}

NpyWriter& NpyWriter::operator=(NpyWriter&& other) noexcept {
  if (this != &other) {
    Abandon();
    path_ = std::move(other.path_);
    out_ = std::move(other.out_);
    remaining_bytes_ = other.remaining_bytes_;
  }
  return *this;
}

NpyWriter::~NpyWriter() { Abandon(); }

void NpyWriter::Abandon() noexcept {
  if (out_ != nullptr) {
    out_->close();
    out_.reset();
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
}

void NpyWriter::Write(std::span<const std::byte> data) {
  if (out_ == nullptr) Fail(path_ + ": write after commit");
  if (static_cast<int64_t>(data.size()) > remaining_bytes_) {
    Fail(path_ + ": " + std::to_string(data.size()) + " bytes given but only " +
         std::to_string(remaining_bytes_) + " data bytes remain");
  }
  out_->write(reinterpret_cast<const char*>(data.data()),
              static_cast<std::streamsize>(data.size()));
  if (!*out_) Fail(path_ + ": write failed: " + ErrnoText());
  remaining_bytes_ -= static_cast<int64_t>(data.size());
}

void NpyWriter::Commit() {
  if (out_ == nullptr) Fail(path_ + ": already committed");
  if (remaining_bytes_ != 0) {
    Abandon();
    Fail(path_ + ": incomplete data: " + std::to_string(remaining_bytes_) + " bytes missing");
  }
  out_->flush();
  out_->close();
  if (out_->fail()) {
    const std::string err = ErrnoText();
    Abandon();
    Fail(path_ + ": write failed: " + err);
  }
  out_.reset();
}

// ---------------------------------------------------------------------------

shm::AnyView ReadNpy(const std::string& path) {
  NpyReader reader = NpyReader::Open(path);
  const NpyHeader& h = reader.header();
  shm::AnyView out = shm::AnyView::Allocate(h.format, h.shape, h.order(), h.itemsize);
  std::byte* dst = out.first();
  int64_t done = 0;
  while (done < h.data_bytes) {
    const int64_t n = std::min(kNpyChunkBytes, h.data_bytes - done);
    reader.Read(std::span<std::byte>(dst + done, static_cast<size_t>(n)));
    done += n;
  }
  return out;
}

shm::AnyView MapNpy(const std::string& path) {
  NpyHeader h = NpyReader::Open(path).header();  // validates the header and the file size
  if (h.data_bytes == 0) return ReadNpy(path).AsReadOnly();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) Fail(path + ": cannot open: " + ErrnoText());
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const std::string err = ErrnoText();
    ::close(fd);
    Fail(path + ": cannot stat: " + err);
  }
  const int64_t needed = h.header_bytes + h.data_bytes;
  if (st.st_size < needed) {
    ::close(fd);
    Fail(path + ": file is truncated: the header declares " + std::to_string(h.data_bytes) +
         " data bytes but only " +
         std::to_string(std::max<int64_t>(0, st.st_size - h.header_bytes)) + " follow");
  }
  void* addr = ::mmap(nullptr, static_cast<size_t>(needed), PROT_READ, MAP_SHARED, fd, 0);
  const std::string err = ErrnoText();
  ::close(fd);
  if (addr == MAP_FAILED) Fail(path + ": cannot map: " + err);
  const size_t length = static_cast<size_t>(needed);
  std::shared_ptr<const void> base(
      addr, [length](const void* p) { ::munmap(const_cast<void*>(p), length); });
  auto* data = static_cast<std::byte*>(addr) + h.header_bytes;
  return shm::AnyView(h.format, h.layout(), data, /*readonly=*/true, std::move(base));
}

void WriteNpy(const std::string& path, const shm::AnyView& view, shm::Order order) {
  NpyWriter writer =
      NpyWriter::Create(path, view.format(), view.itemsize(), view.layout().shape, order);
  const int64_t total = view.nbytes();
  const bool contiguous = order == shm::Order::kC ? view.is_c_contig() : view.is_f_contig();
  if (contiguous) {
    // A contiguous layout starts at its lowest address (NumPy's flags imply
    // positive strides on every axis longer than 1).
    const std::byte* src = view.first();
    for (int64_t done = 0; done < total;) {
      const int64_t n = std::min(kNpyChunkBytes, total - done);
      writer.Write(std::span<const std::byte>(src + done, static_cast<size_t>(n)));
      done += n;
    }
  } else {
    std::vector<std::byte> buf(static_cast<size_t>(std::min(kNpyChunkBytes, total)));
    for (int64_t done = 0; done < total;) {
      const int64_t n = std::min(kNpyChunkBytes, total - done);
      shm::PackRange(view.layout(), view.data(), order, done, n, buf.data());
      writer.Write(std::span<const std::byte>(buf.data(), static_cast<size_t>(n)));
      done += n;
    }
  }
  writer.Commit();
}

}  // namespace shmarray::client
