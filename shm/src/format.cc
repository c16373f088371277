// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: format.cc
// -----------------------------------------------------------------------------
// A recursive-descent parser for PEP 3118 format strings that computes the
// layout NumPy's `_dtype_from_pep3118` would (native alignment, sticky byte
// order, tail padding) as a tree of FormatNodes, prints the canonical
// spelling from that tree and keeps the tree as Format::root().
// Recursion is bounded by kMaxFormatNesting; every loop consumes input.

#include "shmarray/shm/format.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "shmarray/shm/errors.h"

namespace shmarray::shm {
namespace {

constexpr bool kHostIsBig = std::endian::native == std::endian::big;

// Steps of the current (or last) Parse on this thread; see
// Format::TEST_last_parse_steps.
thread_local int64_t parse_steps = 0;

using Kind = FormatNode::Kind;

struct Body {
  std::vector<FormatField> fields;
  int64_t size = 0;
  int64_t alignment = 1;
};

// Size and alignment of a scalar code in native (`@`, `^`) or standard mode,
// and the standard code it is spelled with canonically.
struct CodeInfo {
  char canonical;
  int64_t size;
  int64_t alignment;
};

template <typename T>
constexpr CodeInfo NativeInt(bool is_signed) {
  const char c = sizeof(T) == 8   ? (is_signed ? 'q' : 'Q')
                 : sizeof(T) == 4 ? (is_signed ? 'i' : 'I')
                 : sizeof(T) == 2 ? (is_signed ? 'h' : 'H')
                                  : (is_signed ? 'b' : 'B');
  return {c, static_cast<int64_t>(sizeof(T)), static_cast<int64_t>(alignof(T))};
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsByteOrder(char c) {
  return c == '@' || c == '=' || c == '<' || c == '>' || c == '!' || c == '^';
}

int64_t AlignUp(int64_t offset, int64_t alignment) {
  return (offset + alignment - 1) / alignment * alignment;
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  // Parses the whole text as the body of an implicit top-level struct.
  Body ParseTop() {
    if (text_.size() > kMaxFormatLength) {
      Fail("format longer than " + std::to_string(kMaxFormatLength) + " characters",
           kMaxFormatLength);
    }
    const size_t nul = text_.find('\0');
    if (nul != std::string_view::npos) Fail("embedded NUL character", nul);
    Body body = ParseItems(/*depth=*/0);
    return body;
  }

  [[noreturn]] void Fail(const std::string& what, size_t pos) const {
    parse_steps += static_cast<int64_t>(std::min(text_.size(), size_t{200}) + what.size());
    throw FormatError(Quoted(text_, 200) + " is not a valid PEP 3118 buffer format string: " +
                      what + " at position " + std::to_string(pos));
  }

 private:
  // Every loop of the parser calls AtEnd() once per iteration: counting the
  // calls counts the work.
  bool AtEnd() const {
    ++parse_steps;
    return pos_ >= text_.size();
  }
  char Peek() const { return text_[pos_]; }
  void SkipSpace() {
    while (!AtEnd() && IsSpace(Peek())) ++pos_;
  }

  // Reads a decimal number at pos_ (REQUIRES: a digit there). `what` names it
  // in messages. Rejects values over kMaxItemsizeBytes and zero.
  int64_t ParseNumber(const char* what) {
    const size_t start = pos_;
    int64_t value = 0;
    while (!AtEnd() && IsDigit(Peek())) {
      value = value * 10 + (Peek() - '0');
      if (value > kMaxItemsizeBytes) Fail(std::string(what) + " too large", start);
      ++pos_;
    }
    if (value == 0) Fail(std::string(what) + " must be positive", start);
    const size_t end = pos_;
    SkipSpace();
    if (pos_ != end && !AtEnd() && IsDigit(Peek())) {
      Fail("whitespace inside a number", end);
    }
    return value;
  }

  // '(' extent (',' extent)* ')'; REQUIRES: '(' at pos_.
  std::vector<int64_t> ParseShape() {
    std::vector<int64_t> shape;
    ++pos_;
    while (true) {
      SkipSpace();
      if (AtEnd() || !IsDigit(Peek())) Fail("expected a shape extent", pos_);
      shape.push_back(ParseNumber("shape extent"));
      if (AtEnd()) Fail("expected ',' or ')'", pos_);
      if (Peek() == ')') {
        ++pos_;
        return shape;
      }
      if (Peek() != ',') Fail("expected ',' or ')'", pos_);
      ++pos_;
    }
  }

  // Sets the sticky byte order from the character at pos_.
  void TakeByteOrder() {
    order_ = Peek() == '!' ? '>' : Peek();
    ++pos_;
  }

  bool Native() const { return order_ == '@' || order_ == '^'; }
  bool BigEndian() const {
    return order_ == '>' || ((order_ == '@' || order_ == '=' || order_ == '^') && kHostIsBig);
  }

  [[noreturn]] void FailUnknownCode(size_t pos) const {
    const char c = text_[pos];
    switch (c) {
      case 'u':
        Fail("unsupported type code 'u' (UCS-2 strings)", pos);
      case 'w':
        Fail("unsupported type code 'w' (UCS-4 strings)", pos);
      case 't':
        Fail("unsupported type code 't' (bitfields)", pos);
      case '&':
        Fail("unsupported type code '&' (pointers)", pos);
      case 'X':
        Fail("unsupported type code 'X' (function pointers)", pos);
      case 'O':
        Fail("type code 'O' (Python object pointers) cannot be used in shared memory", pos);
      case ':':
        Fail("field name without an item", pos);
      case '(':
        Fail("unexpected '(' (a shape comes first, before the byte order and count)", pos);
      case '}':
        Fail("expected a type code", pos);
      case '@':
      case '=':
      case '<':
      case '>':
      case '!':
      case '^':
        Fail("a byte order must come before the repeat count", pos);
      default: {
        Fail("unknown type code " + Quoted(std::string_view(&c, 1)), pos);
      }
    }
  }

  // Scalar code `c` (already known valid as a letter) in the current mode.
  CodeInfo ScalarInfo(char c, size_t pos) const {
    if (Native()) {
      switch (c) {
        case 'l':
          return NativeInt<long>(true);
        case 'L':
          return NativeInt<unsigned long>(false);
        case 'n':
          return NativeInt<std::make_signed_t<size_t>>(true);
        case 'N':
          return NativeInt<size_t>(false);
        case 'P':
          return NativeInt<uintptr_t>(false);
        default:
          break;
      }
    } else if (c == 'n' || c == 'N' || c == 'P') {
      Fail(std::string("'") + c + "' has no standard size (only native '@' or '^' mode)", pos);
    }
    switch (c) {
      case '?':
      case 'c':
      case 'b':
      case 'B':
        return {c, 1, 1};
      case 'h':
      case 'H':
      case 'e':
        return {c, 2, 2};
      case 'i':
      case 'I':
      case 'f':
        return {c, 4, 4};
      case 'l':
        return {'i', 4, 4};
      case 'L':
        return {'I', 4, 4};
      case 'q':
      case 'Q':
      case 'd':
        return {c, 8, 8};
      case 'g':
        return {'g', 16, 16};
      case 'F':
        return {'F', 8, 4};
      case 'D':
        return {'D', 16, 8};
      case 'G':
        return {'G', 32, 16};
      default:
        FailUnknownCode(pos);
    }
  }

  // Items up to the end (depth 0) or up to and including the '}' that closes
  // a struct (depth > 0).
  Body ParseItems(int depth) {
    Body body;
    std::set<std::string, std::less<>> names;
    bool any_item = false;
    while (true) {
      SkipSpace();
      if (AtEnd()) {
        if (depth > 0) Fail("expected '}'", pos_);
        if (!any_item) Fail("expected an item", pos_);
        break;
      }
      if (Peek() == '}') {
        if (depth == 0) Fail("unexpected '}' without 'T{'", pos_);
        if (!any_item) Fail("empty struct", pos_);
        ++pos_;
        break;
      }
      if (IsByteOrder(Peek())) {
        const size_t order_pos = pos_;
        TakeByteOrder();
        SkipSpace();
        if (AtEnd() || Peek() == '}') {
          std::string what = "byte order '";
          what.push_back(text_[order_pos]);
          Fail(what + "' with no item after it", order_pos);
        }
        continue;
      }
      const size_t item_pos = pos_;
      FormatNode element;
      if (Peek() == '(') {
        element.shape = ParseShape();
        SkipSpace();
        while (!AtEnd() && IsByteOrder(Peek())) {
          TakeByteOrder();
          SkipSpace();
        }
      }
      int64_t count = 1;
      bool has_count = false;
      if (!AtEnd() && IsDigit(Peek())) {
        count = ParseNumber("repeat count");
        has_count = true;
      }
      if (AtEnd()) {
        Fail(has_count ? "repeat count without a type code" : "expected a type code", pos_);
      }
      const size_t code_pos = pos_;
      const char c = Peek();
      int64_t alignment = 1;
      int64_t base_size = 0;
      if (c == 'T') {
        if (pos_ + 1 >= text_.size() || text_[pos_ + 1] != '{')
          Fail("expected '{' after 'T'", pos_ + 1);
        if (depth + 1 > kMaxFormatNesting) {
          Fail("structs nested deeper than " + std::to_string(kMaxFormatNesting), pos_);
        }
        pos_ += 2;
        Body inner = ParseItems(depth + 1);
        element.kind = Kind::kStruct;
        element.code = 'T';
        element.fields = std::move(inner.fields);
        base_size = inner.size;
        alignment = inner.alignment;
        if (count != 1) element.shape.push_back(count);  // NumPy: 1i is a scalar
      } else if (c == 's' || c == 'p' || c == 'x') {
        ++pos_;
        element.kind = c == 'x' ? Kind::kPad : Kind::kBytes;
        element.code = c;
        element.length_bytes = count;
        base_size = count;
      } else {
        char code = c;
        if (c == 'Z') {
          const std::string_view spelling = text_.substr(pos_, 2);
          code = '\0';
          for (const ComplexCode& z : kComplexCodes) {
            if (z.spelling == spelling) code = z.code;
          }
          if (code == '\0') Fail("expected 'f', 'd' or 'g' after 'Z'", pos_ + 1);
          ++pos_;
        } else if (std::string_view("?cbBhHiIlLqQnNefdgP").find(c) == std::string_view::npos) {
          FailUnknownCode(pos_);
        }
        ++pos_;
        const CodeInfo info = ScalarInfo(code, code_pos);
        element.kind = Kind::kScalar;
        element.code = info.canonical;
        element.big_endian = info.size > 1 && BigEndian();
        base_size = info.size;
        alignment = Native() ? info.alignment : 1;
        if (count != 1) element.shape.push_back(count);  // NumPy: 1i is a scalar
      }
      if (element.shape.size() > static_cast<size_t>(kMaxSubarrayDims)) {
        Fail("a sub-array shape has " + std::to_string(element.shape.size()) +
                 " dimensions; at most " + std::to_string(kMaxSubarrayDims) +
                 " are allowed (NumPy's limit)",
             item_pos);
      }
      // Size of the whole element, checked for overflow against the limit.
      int64_t size = base_size;
      for (int64_t extent : element.shape) {
        if (size != 0 && extent > kMaxItemsizeBytes / size) Fail("item too large", item_pos);
        size *= extent;
      }
      if (size > kMaxItemsizeBytes) Fail("item too large", item_pos);
      element.size_bytes = size;
      // Native alignment, decided by the byte order in force after the item.
      if (order_ == '@') {
        body.size = AlignUp(body.size, alignment);
        body.alignment = std::max(body.alignment, alignment);  // powers of two: lcm = max
      }
      // Optional :name:.
      SkipSpace();
      FormatField field;
      if (!AtEnd() && Peek() == ':') {
        const size_t name_pos = pos_ + 1;
        const size_t close = text_.find(':', name_pos);
        parse_steps += static_cast<int64_t>(
            (close == std::string_view::npos ? text_.size() : close) - name_pos);
        if (close == std::string_view::npos) {
          Fail("expected ':' to end the field name", text_.size());
        }
        if (close == name_pos) Fail("empty field name", name_pos);
        for (size_t i = name_pos; i < close; ++i) {
          const auto u = static_cast<unsigned char>(text_[i]);
          if (u < 0x20 || u == 0x7f) Fail("control character in field name", i);
        }
        field.name = std::string(text_.substr(name_pos, close - name_pos));
        field.named = true;
        if (!names.insert(field.name).second) {
          Fail("duplicate field name '" + field.name + "'", name_pos);
        }
        pos_ = close + 1;
      }
      field.offset_bytes = body.size;
      if (field.offset_bytes + size > kMaxItemsizeBytes) Fail("item too large", item_pos);
      body.size += size;
      if (element.kind != Kind::kPad || field.named) {
        field.node = std::move(element);
        body.fields.push_back(std::move(field));
      }
      any_item = true;
    }
    if (order_ == '@') body.size = AlignUp(body.size, body.alignment);
    if (body.size > kMaxItemsizeBytes) Fail("item too large", pos_);
    return body;
  }

  std::string_view text_;
  size_t pos_ = 0;
  char order_ = '@';
};

void AppendPad(int64_t bytes, std::string* out) {
  if (bytes > 1) out->append(std::to_string(bytes));
  out->push_back('x');
}

void AppendElement(const FormatNode& e, std::string* out);

void AppendBody(const std::vector<FormatField>& fields, int64_t size, std::string* out) {
  int64_t cursor = 0;
  for (const FormatField& f : fields) {
    if (f.offset_bytes > cursor) AppendPad(f.offset_bytes - cursor, out);
    AppendElement(f.node, out);
    if (f.named) {
      out->push_back(':');
      out->append(f.name);
      out->push_back(':');
    }
    cursor = f.offset_bytes + f.node.size_bytes;
  }
  if (size > cursor) AppendPad(size - cursor, out);
}

void AppendElement(const FormatNode& e, std::string* out) {
  if (!e.shape.empty()) {
    out->push_back('(');
    for (size_t i = 0; i < e.shape.size(); ++i) {
      if (i > 0) out->push_back(',');
      out->append(std::to_string(e.shape[i]));
    }
    out->push_back(')');
  }
  switch (e.kind) {
    case Kind::kScalar:
      out->push_back(e.big_endian ? '>' : '<');
      out->append(e.code_spelling());
      break;
    case Kind::kBytes:
      out->push_back('<');
      if (e.length_bytes != 1) out->append(std::to_string(e.length_bytes));
      out->push_back(e.code);
      break;
    case Kind::kPad:
      AppendPad(e.length_bytes, out);
      break;
    case Kind::kStruct:
      out->append("T{");
      AppendBody(e.fields, e.element_size_bytes(), out);
      out->push_back('}');
      break;
  }
}

std::string ScalarName(char code) {
  switch (code) {
    case '?':
      return "bool";
    case 'c':
      return "char";
    case 'b':
      return "int8_t";
    case 'B':
      return "uint8_t";
    case 'h':
      return "int16_t";
    case 'H':
      return "uint16_t";
    case 'i':
      return "int32_t";
    case 'I':
      return "uint32_t";
    case 'q':
      return "int64_t";
    case 'Q':
      return "uint64_t";
    case 'e':
      return "float16";
    case 'f':
      return "float";
    case 'd':
      return "double";
    case 'g':
      return "long double";
    case 'F':
      return "complex float";
    case 'D':
      return "complex double";
    case 'G':
      return "complex long double";
    default:
      return std::string(1, code);
  }
}

std::string Describe(const FormatNode& e) {
  // Built with append(): GCC 12 -O3 reports a false -Wrestrict for
  // "[" + std::to_string(...) (libstdc++ char_traits::copy).
  std::string dims;
  for (int64_t extent : e.shape) dims.append("[").append(std::to_string(extent)).append("]");
  switch (e.kind) {
    case Kind::kScalar:
      return (e.big_endian ? "big-endian " : "") + ScalarName(e.code) + dims;
    case Kind::kBytes:
      return (e.code == 'p' ? "pascal char" : "char") + dims + "[" +
             std::to_string(e.length_bytes) + "]";
    case Kind::kPad:
      return "padding" + dims + "[" + std::to_string(e.length_bytes) + "]";
    case Kind::kStruct:
      break;
  }
  return "a struct";
}

// The root of Format(): one "<B" byte. Never destroyed (no exit-time
// destructor), shared by every default Format.
const std::shared_ptr<const FormatNode>& DefaultRoot() {
  static const auto* const root = new std::shared_ptr<const FormatNode>([] {
    auto node = std::make_shared<FormatNode>();
    node->kind = Kind::kScalar;
    node->code = 'B';
    node->size_bytes = 1;
    return node;
  }());
  return *root;
}

}  // namespace

Format::Format() : canonical_("<B"), description_("uint8_t"), root_(DefaultRoot()) {}

int64_t Format::TEST_last_parse_steps() { return parse_steps; }

Format Format::Parse(std::string_view text) {
  parse_steps = 0;
  Format format;
  format.original_ = std::string(text);
  if (text.empty()) return format;  // PEP 3118: a missing format means "B"
  Parser parser(text);
  Body body = parser.ParseTop();
  auto root = std::make_shared<FormatNode>();
  FormatNode& top = *root;
  if (body.fields.size() == 1 && !body.fields[0].named && body.fields[0].offset_bytes == 0 &&
      body.fields[0].node.size_bytes == body.size) {
    top = std::move(body.fields[0].node);
  } else {
    top.kind = Kind::kStruct;
    top.fields = std::move(body.fields);
    top.code = 'T';
    top.size_bytes = body.size;
  }
  std::string canonical;
  AppendElement(top, &canonical);
  parse_steps += static_cast<int64_t>(canonical.size());
  if (canonical.size() > kMaxFormatLength) {
    parser.Fail("canonical form longer than " + std::to_string(kMaxFormatLength) + " characters",
                0);
  }
  format.canonical_ = std::move(canonical);
  format.description_ = Describe(top);
  format.itemsize_ = top.size_bytes;
  format.alignment_ = body.alignment;
  format.is_struct_ = top.kind == Kind::kStruct;
  format.root_ = std::move(root);
  return format;
}

const Format& FormatForType(std::string_view format, std::string_view type_name, size_t type_size) {
  static absl::Mutex mu(absl::kConstInit);
  static auto* cache ABSL_GUARDED_BY(mu) =
      new std::map<std::pair<std::string, size_t>, Format, std::less<>>();
  std::pair<std::string, size_t> key(std::string(format), type_size);
  {
    absl::MutexLock lock(&mu);
    auto it = cache->find(key);
    if (it != cache->end()) return it->second;
  }
  Format parsed = Format::Parse(format);  // throws FormatError
  if (parsed.itemsize() != static_cast<int64_t>(type_size)) {
    auto bytes = [](int64_t n) { return std::to_string(n) + (n == 1 ? " byte" : " bytes"); };
    throw FormatError("format '" + std::string(format) + "' of '" + std::string(type_name) +
                      "' describes " + bytes(parsed.itemsize()) + " but the type has " +
                      bytes(static_cast<int64_t>(type_size)));
  }
  absl::MutexLock lock(&mu);
  // A concurrent caller may have inserted it first; either copy is the same.
  return cache->emplace(std::move(key), std::move(parsed)).first->second;
}

void CheckFormatMatches(const Format& expected, std::string_view type_name, const Format& actual) {
  if (expected.canonical() == actual.canonical()) return;
  const std::string got = actual.is_struct() ? "a struct" : "'" + actual.description() + "'";
  throw FormatError("Buffer dtype mismatch, expected '" + std::string(type_name) + "' but got " +
                    got);
}

}  // namespace shmarray::shm
