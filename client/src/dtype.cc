// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: dtype.cc
// -----------------------------------------------------------------------------
// NumPy dtypes <-> PEP 3118 formats (npy.h): descr literals as .npy headers
// carry them, the spellings np.dtype() accepts, NumPy's names for formats,
// and the "did you mean" hints of the CLI.

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "npy_internal.h"
#include "shmarray/client/npy.h"
#include "shmarray/shm/errors.h"
#include "shmarray/shm/format.h"
#include "shmarray/shm/layout.h"

namespace shmarray::client {
namespace {

using internal::DescrValueToFormat;
using internal::Fail;
using internal::ParseFormatOrFail;
using internal::ParsePyLiteral;
using internal::PyRepr;
using internal::PyValue;
using internal::Quote;

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
    const PyValue v = ParsePyLiteral(s.substr(0, close + 1));
    shape = SubarrayShape(v);
    s.remove_prefix(close + 1);
  } else if (!s.empty() && s[0] >= '0' && s[0] <= '9') {
    size_t digits = 0;
    while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
    const PyValue v = ParsePyLiteral(s.substr(0, digits));
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

// ---------------------------------------------------------------------------
// PEP 3118 (the parsed tree, Format::root()) -> descr

using Node = shm::FormatNode;
using FieldList = std::vector<shm::FormatField>;

// The typestr of a scalar or byte-string node (without its shape).
std::string ScalarTypestr(const Node& node) {
  if (node.kind == Node::Kind::kBytes) {
    if (node.code == 'p') {
      Fail("format '" + std::to_string(node.length_bytes) +
           "p' has no NumPy dtype: pascal strings are not supported");
    }
    return "|S" + std::to_string(node.length_bytes);
  }
  // Canonical codes (shm::FormatNode::code): NumPy kind and bytes.
  static constexpr struct {
    char code;
    char kind;
    int bytes;
  } kScalars[] = {{'?', 'b', 1},  {'b', 'i', 1}, {'B', 'u', 1}, {'c', 'S', 1},  {'h', 'i', 2},
                  {'H', 'u', 2},  {'e', 'f', 2}, {'i', 'i', 4}, {'I', 'u', 4},  {'f', 'f', 4},
                  {'q', 'i', 8},  {'Q', 'u', 8}, {'d', 'f', 8}, {'g', 'f', 16}, {'F', 'c', 8},
                  {'D', 'c', 16}, {'G', 'c', 32}};
  if (node.kind == Node::Kind::kScalar) {
    for (const auto& s : kScalars) {
      if (s.code != node.code) continue;
      const char order = s.bytes == 1 ? '|' : node.big_endian ? '>' : '<';
      return std::string(1, order) + s.kind + std::to_string(s.bytes);
    }
  }
  Fail("format code '" + std::string(1, node.code) + "' has no NumPy dtype");
}

std::string PaddingDescr(int64_t bytes) {
  return "('', " + PyRepr("|V" + std::to_string(bytes)) + ")";
}

std::string FieldsDescr(const FieldList& fields, int64_t size_bytes, int64_t trailing_pad);

// The type part of a field: a typestr or a nested list.
std::string TypeDescr(const Node& node) {
  switch (node.kind) {
    case Node::Kind::kStruct:
      return FieldsDescr(node.fields, node.element_size_bytes(), 0);
    case Node::Kind::kPad:
      return PyRepr("|V" + std::to_string(node.length_bytes));
    default:
      return PyRepr(ScalarTypestr(node));
  }
}

// The descr list of a struct element of `size_bytes` whose fields are
// `fields`, then `trailing_pad` more bytes. Bytes no field covers (alignment
// gaps, unnamed `x`, tail padding) become NumPy's padding fields ('', '|Vn').
// Unnamed fields are named as NumPy's _dtype_from_pep3118 names them
// (_fix_names): each takes the first f<j> that no field of the struct has,
// so `T{<b3x<i}` gives f0, f1 and `T{<i<i:f0:}` gives f1, f0.
std::string FieldsDescr(const FieldList& fields, int64_t size_bytes, int64_t trailing_pad) {
  std::set<std::string, std::less<>> names;
  for (const shm::FormatField& f : fields) {
    if (f.named) names.insert(f.name);
  }
  int next_free = 0;  // names only grow, so the first free f<j> only moves up
  std::vector<std::string> parts;
  int64_t cursor = 0;
  for (const shm::FormatField& f : fields) {
    if (f.offset_bytes > cursor) parts.push_back(PaddingDescr(f.offset_bytes - cursor));
    cursor = f.offset_bytes + f.node.size_bytes;
    std::string name = f.name;
    if (!f.named) {
      while (names.count("f" + std::to_string(next_free)) != 0) ++next_free;
      name = "f" + std::to_string(next_free);
      names.insert(name);
    }
    std::string part = "(" + PyRepr(name) + ", " + TypeDescr(f.node);
    if (!f.node.shape.empty()) part += ", " + shm::TupleString(f.node.shape);
    parts.push_back(part + ")");
  }
  if (size_bytes > cursor) parts.push_back(PaddingDescr(size_bytes - cursor));
  if (trailing_pad > 0) parts.push_back(PaddingDescr(trailing_pad));
  std::string out = "[";
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += ", ";
    out += parts[i];
  }
  return out + "]";
}

}  // namespace

namespace internal {

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

shm::Format ParseFormatOrFail(const std::string& text, std::string_view descr) {
  try {
    return shm::Format::Parse(text);
  } catch (const shm::FormatError& e) {
    Fail("unsupported descr " + std::string(descr.substr(0, 200)) + ": " + e.what());
  }
}

}  // namespace internal

// ---------------------------------------------------------------------------

std::string DescrToFormat(std::string_view descr) {
  if (descr.size() > static_cast<size_t>(kMaxNpyHeaderBytes)) Fail("descr is too long");
  const PyValue v = ParsePyLiteral(descr);
  return ParseFormatOrFail(DescrValueToFormat(v, 0), descr).canonical();
}

std::string FormatToDescr(const shm::Format& format, int64_t itemsize) {
  const int64_t format_bytes = format.itemsize();
  if (itemsize == 0) itemsize = format_bytes;
  if (itemsize < format_bytes) {
    Fail("itemsize " + std::to_string(itemsize) + " is smaller than the " +
         std::to_string(format_bytes) + " bytes of format " + Quote(format.canonical()));
  }
  const int64_t pad = itemsize - format_bytes;
  const shm::FormatNode& root = format.root();
  if (root.kind == shm::FormatNode::Kind::kStruct && root.shape.empty()) {
    // A top-level struct is the descr's list of fields. Padding only is a
    // void; one unnamed non-struct field that fills it is that field's type.
    if (root.fields.empty()) return PyRepr("|V" + std::to_string(itemsize));
    const shm::FormatField& first = root.fields[0];
    if (root.fields.size() == 1 && !first.named && first.offset_bytes == 0 &&
        first.node.size_bytes == root.size_bytes && first.node.shape.empty() &&
        first.node.kind != shm::FormatNode::Kind::kStruct && pad == 0) {
      return PyRepr(ScalarTypestr(first.node));
    }
    return FieldsDescr(root.fields, root.size_bytes, pad);
  }
  if (root.shape.empty() && pad == 0) return PyRepr(ScalarTypestr(root));
  // A sub-array, or an item followed by padding: a struct of one field f0.
  shm::FormatField field;
  field.node = root;
  return FieldsDescr({field}, root.size_bytes, pad);
}

std::string DtypeToFormat(std::string_view dtype) {
  if (dtype.size() > static_cast<size_t>(kMaxNpyHeaderBytes)) Fail("dtype is too long");
  const std::string_view s = TrimSpace(dtype);
  if (s.empty()) Fail("empty dtype");
  std::string format;
  if (s[0] == '[' || s[0] == '\'' || s[0] == '"') {
    format = DescrValueToFormat(ParsePyLiteral(s), 0);
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

}  // namespace shmarray::client
