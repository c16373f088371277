// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: format_test.cc
// -----------------------------------------------------------------------------
// Tests of shm/format: parsing every code in every byte order, native padding,
// sub-arrays, nested structs, the canonical form and its rules, descriptions,
// the exact error messages with positions, the limits, a randomized
// robustness test, FormatTraits for every arithmetic type and user structs,
// and CheckFormat's messages.

#include "shmarray/shm/format.h"

#include <gtest/gtest.h>

#include <complex>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "shmarray/shm/errors.h"

// User structs declared through one trait specialization each.
struct Point {
  double x, y;
};
struct Padded {
  char c;
  int i;
};
struct Wrong {
  double x, y;
};
template <>
struct shmarray::shm::FormatTraits<Point> {
  static constexpr std::string_view kFormat = "T{d:x:d:y:}";
  static constexpr std::string_view kName = "Point";
};
template <>
struct shmarray::shm::FormatTraits<Padded> {
  static constexpr std::string_view kFormat = "T{c:c:i:i:}";
  static constexpr std::string_view kName = "Padded";
};
template <>
struct shmarray::shm::FormatTraits<Wrong> {
  static constexpr std::string_view kFormat = "T{d:x:}";  // 8 bytes, the type has 16
  static constexpr std::string_view kName = "Wrong";
};

namespace shmarray::shm {
namespace {

std::string ErrorOf(std::string_view text) {
  try {
    Format::Parse(text);
  } catch (const FormatError& e) {
    return e.what();
  }
  return "(no error)";
}

// The expected message; control bytes in the quoted format appear as \xNN.
std::string Invalid(std::string_view text, std::string_view what, size_t pos) {
  std::string quoted;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", u);
      quoted += buf;
    } else {
      quoted += c;
    }
  }
  return "'" + quoted + "' is not a valid PEP 3118 buffer format string: " + std::string(what) +
         " at position " + std::to_string(pos);
}

// --- Scalars: every code in every byte order ---------------------------------

struct CodeCase {
  std::string_view code;
  int64_t native_size, native_align;
  std::string_view native_canonical;  // canonical code in @ and ^ modes
  int64_t standard_size;              // 0: no standard size (rejected)
  std::string_view standard_canonical;
  std::string_view name;           // description of the native form
  std::string_view standard_name;  // description of the standard form
};

const CodeCase kCodes[] = {
    {"?", 1, 1, "?", 1, "?", "bool", "bool"},
    {"c", 1, 1, "c", 1, "c", "char", "char"},
    {"b", 1, 1, "b", 1, "b", "int8_t", "int8_t"},
    {"B", 1, 1, "B", 1, "B", "uint8_t", "uint8_t"},
    {"h", 2, 2, "h", 2, "h", "int16_t", "int16_t"},
    {"H", 2, 2, "H", 2, "H", "uint16_t", "uint16_t"},
    {"i", 4, 4, "i", 4, "i", "int32_t", "int32_t"},
    {"I", 4, 4, "I", 4, "I", "uint32_t", "uint32_t"},
    {"l", 8, 8, "q", 4, "i", "int64_t", "int32_t"},
    {"L", 8, 8, "Q", 4, "I", "uint64_t", "uint32_t"},
    {"q", 8, 8, "q", 8, "q", "int64_t", "int64_t"},
    {"Q", 8, 8, "Q", 8, "Q", "uint64_t", "uint64_t"},
    {"n", 8, 8, "q", 0, "", "int64_t", ""},
    {"N", 8, 8, "Q", 0, "", "uint64_t", ""},
    {"P", 8, 8, "Q", 0, "", "uint64_t", ""},
    {"e", 2, 2, "e", 2, "e", "float16", "float16"},
    {"f", 4, 4, "f", 4, "f", "float", "float"},
    {"d", 8, 8, "d", 8, "d", "double", "double"},
    {"g", 16, 16, "g", 16, "g", "long double", "long double"},
    {"Zf", 8, 4, "Zf", 8, "Zf", "complex float", "complex float"},
    {"Zd", 16, 8, "Zd", 16, "Zd", "complex double", "complex double"},
    {"Zg", 32, 16, "Zg", 32, "Zg", "complex long double", "complex long double"},
};

TEST(FormatTest, EveryCodeInEveryByteOrder) {
  const std::string_view orders[] = {"", "@", "=", "<", ">", "!", "^"};
  for (const CodeCase& c : kCodes) {
    for (std::string_view order : orders) {
      const std::string text = std::string(order) + std::string(c.code);
      SCOPED_TRACE(text);
      const bool native = order.empty() || order == "@" || order == "^";
      const bool big = order == ">" || order == "!";
      if (!native && c.standard_size == 0) {
        // Built by appending: `"'" + std::string(...)` trips GCC 12's false
        // -Wrestrict at -O3 (GCC PR 105651).
        std::string what = "'";
        what.append(c.code).append("' has no standard size (only native '@' or '^' mode)");
        EXPECT_EQ(ErrorOf(text), Invalid(text, what, 1));
        continue;
      }
      const Format f = Format::Parse(text);
      const int64_t size = native ? c.native_size : c.standard_size;
      EXPECT_EQ(f.itemsize(), size);
      EXPECT_EQ(f.alignment(), (order.empty() || order == "@") ? c.native_align : 1);
      const std::string code(native ? c.native_canonical : c.standard_canonical);
      const bool shows_big = big && size > 1;
      EXPECT_EQ(f.canonical(), (shows_big ? ">" : "<") + code);
      EXPECT_EQ(f.description(),
                (shows_big ? "big-endian " : "") + std::string(native ? c.name : c.standard_name));
      EXPECT_FALSE(f.is_struct());
      EXPECT_EQ(f.original(), text);
      EXPECT_EQ(Format::Parse(f.canonical()), f);
      EXPECT_EQ(Format::Parse(f.canonical()).canonical(), f.canonical());
    }
  }
}

TEST(FormatTest, ScalarCanonicalExamplesFromTheIssue) {
  for (std::string_view s : {"i", "<i", "=i", "=l", "<l", "@i", "^i", " i "}) {
    EXPECT_EQ(Format::Parse(s).canonical(), "<i") << s;
  }
  for (std::string_view s : {"l", "q", "n", "<q", "=q", "^l", "^n"}) {
    EXPECT_EQ(Format::Parse(s).canonical(), "<q") << s;
  }
  for (std::string_view s : {">i", "!i", ">l", "!l"}) {
    EXPECT_EQ(Format::Parse(s).canonical(), ">i") << s;
  }
  for (std::string_view s : {"b", ">b", "!b", "<b", "=b"}) {
    EXPECT_EQ(Format::Parse(s).canonical(), "<b") << s;
  }
  EXPECT_EQ(Format::Parse("?").canonical(), "<?");
  EXPECT_EQ(Format::Parse(">?").canonical(), "<?");
  EXPECT_EQ(Format::Parse("c").canonical(), "<c");
  EXPECT_EQ(Format::Parse("5s").canonical(), "<5s");
  EXPECT_EQ(Format::Parse(">5s").canonical(), "<5s");
  EXPECT_EQ(Format::Parse("s").canonical(), "<s");
  EXPECT_EQ(Format::Parse("1s").canonical(), "<s");
  EXPECT_EQ(Format::Parse("P").canonical(), "<Q");
  EXPECT_EQ(Format::Parse("N").canonical(), "<Q");
  EXPECT_EQ(Format::Parse("<g").canonical(), "<g");
  EXPECT_EQ(Format::Parse(">Zg").canonical(), ">Zg");
  EXPECT_EQ(Format::Parse("g").canonical(), "<g");
}

TEST(FormatTest, SameScalarBytesMeansEqualFormats) {
  EXPECT_EQ(Format::Parse("i"), Format::Parse("=l"));
  EXPECT_EQ(Format::Parse("l"), Format::Parse("q"));
  EXPECT_EQ(Format::Parse("L"), Format::Parse("<Q"));
  EXPECT_EQ(Format::Parse("!d"), Format::Parse(">d"));
  EXPECT_FALSE(Format::Parse("i") == Format::Parse(">i"));
  EXPECT_FALSE(Format::Parse("i") == Format::Parse("I"));
  EXPECT_FALSE(Format::Parse("i") == Format::Parse("f"));
  EXPECT_FALSE(Format::Parse("b") == Format::Parse("c"));
  EXPECT_FALSE(Format::Parse("5s") == Format::Parse("5p"));
  EXPECT_FALSE(Format::Parse("4s") == Format::Parse("4c"));
}

TEST(FormatTest, DefaultAndEmptyMeanUnsignedByte) {
  const Format def;
  EXPECT_EQ(def.canonical(), "<B");
  EXPECT_EQ(def.itemsize(), 1);
  EXPECT_EQ(def.alignment(), 1);
  EXPECT_EQ(def.description(), "uint8_t");
  EXPECT_FALSE(def.is_struct());
  const Format empty = Format::Parse("");
  EXPECT_EQ(empty, def);
  EXPECT_EQ(empty, Format::Parse("B"));
  EXPECT_EQ(empty.original(), "");
}

TEST(FormatTest, StringsAndPadding) {
  const Format s16 = Format::Parse("16s");
  EXPECT_EQ(s16.itemsize(), 16);
  EXPECT_EQ(s16.alignment(), 1);
  EXPECT_EQ(s16.description(), "char[16]");
  const Format p = Format::Parse("8p");
  EXPECT_EQ(p.canonical(), "<8p");
  EXPECT_EQ(p.itemsize(), 8);
  EXPECT_EQ(p.description(), "pascal char[8]");
  const Format c4 = Format::Parse("4c");  // NumPy: a sub-array of 4 chars
  EXPECT_EQ(c4.canonical(), "(4)<c");
  EXPECT_EQ(c4.itemsize(), 4);
  EXPECT_EQ(c4.description(), "char[4]");
  const Format pad = Format::Parse("3x");  // NumPy: a struct of no fields
  EXPECT_EQ(pad.canonical(), "T{3x}");
  EXPECT_EQ(pad.itemsize(), 3);
  EXPECT_TRUE(pad.is_struct());
  EXPECT_EQ(Format::Parse("xxx").canonical(), "T{3x}");
  EXPECT_EQ(Format::Parse("(2)s").canonical(), "(2)<s");
  EXPECT_EQ(Format::Parse("(2)5s").description(), "char[2][5]");
}

// --- Structs and native padding -------------------------------------------------

struct LayoutCase {
  std::string_view text;
  int64_t itemsize;
  int64_t alignment;
  std::string_view canonical;
};

const LayoutCase kLayouts[] = {
    // Native mode aligns items and pads the total (NumPy).
    {"T{b:a:i:b:}", 8, 4, "T{<b:a:3x<i:b:}"},
    {"T{i:a:b:b:}", 8, 4, "T{<i:a:<b:b:3x}"},
    {"T{b:a:d:b:}", 16, 8, "T{<b:a:7x<d:b:}"},
    {"T{b:a:g:b:}", 32, 16, "T{<b:a:15x<g:b:}"},
    {"T{b:a:Zf:b:}", 12, 4, "T{<b:a:3x<Zf:b:}"},
    {"T{b:a:Zd:b:}", 24, 8, "T{<b:a:7x<Zd:b:}"},
    {"T{b:a:e:b:}", 4, 2, "T{<b:a:x<e:b:}"},
    {"T{b:a:5s:b:}", 6, 1, "T{<b:a:<5s:b:}"},
    {"T{c:c:i:i:}", 8, 4, "T{<c:c:3x<i:i:}"},
    {"T{d:x:d:y:}", 16, 8, "T{<d:x:<d:y:}"},
    {"ix", 8, 4, "T{<i4x}"},
    {"^ix", 5, 1, "T{<ix}"},
    {"<ix", 5, 1, "T{<ix}"},
    {"=ix", 5, 1, "T{<ix}"},
    {"xi", 8, 4, "T{4x<i}"},
    {"bi", 8, 4, "T{<b3x<i}"},
    {"ii", 8, 4, "T{<i<i}"},
    {"i:a:", 4, 4, "T{<i:a:}"},
    {"i :a:", 4, 4, "T{<i:a:}"},
    {"ii:a:", 8, 4, "T{<i<i:a:}"},
    // Standard and ^ modes do not align.
    {"=T{b:a:i:b:}", 5, 1, "T{<b:a:<i:b:}"},
    {"<T{b:a:i:b:}", 5, 1, "T{<b:a:<i:b:}"},
    {"^T{b:a:i:b:}", 5, 1, "T{<b:a:<i:b:}"},
    {">T{b:a:i:b:}", 5, 1, "T{<b:a:>i:b:}"},
    {"!T{h:a:q:b:}", 10, 1, "T{>h:a:>q:b:}"},
    {"=T{b:a:l:b:}", 5, 1, "T{<b:a:<i:b:}"},
    {"T{b:a:l:b:}", 16, 8, "T{<b:a:7x<q:b:}"},
    // The byte order is sticky, also across struct boundaries; alignment
    // depends on the order in force after the item (NumPy).
    {"<b@i", 8, 4, "T{<b3x<i}"},
    {"@i<b", 5, 4, "T{<i<b}"},
    {"T{^b@i}", 8, 4, "T{<b3x<i}"},
    {"T{@i^b}", 5, 1, "T{<i<b}"},  // the struct is not aligned: '^' follows it
    {"T{<b}i", 5, 1, "T{T{<b}<i}"},
    {"T{<i:a:>i:b:}", 8, 1, "T{<i:a:>i:b:}"},
    // Nested structs are aligned to their own alignment.
    {"T{b:a:T{b:c:i:d:}:e:}", 12, 4, "T{<b:a:3xT{<b:c:3x<i:d:}:e:}"},
    {"T{T{B:x:xxxxxxxl:y:}:a:B:b:}", 24, 8, "T{T{<B:x:7x<q:y:}:a:<B:b:7x}"},
    {"xT{i:a:}", 8, 4, "T{4xT{<i:a:}}"},
    {"T{b:a:}3x", 4, 1, "T{T{<b:a:}3x}"},
    {"T{i:a:x}", 8, 4, "T{<i:a:4x}"},
    {"T{x:a:}", 1, 1, "T{x:a:}"},
    {"T{i:a:}:b:", 4, 4, "T{T{<i:a:}:b:}"},
    {"T{i}", 4, 4, "T{<i}"},
    {"T{x}", 1, 1, "T{x}"},
    // Sub-arrays and counts.
    {"(2,3)d", 48, 8, "(2,3)<d"},
    {"(2, 3)d", 48, 8, "(2,3)<d"},
    {" ( 2 , 3 ) d ", 48, 8, "(2,3)<d"},
    {"(2,3)>i", 24, 1, "(2,3)>i"},
    {"(2)3i", 24, 4, "(2,3)<i"},
    {"3i", 12, 4, "(3)<i"},
    {"007i", 28, 4, "(7)<i"},
    {"1i", 4, 4, "<i"},
    {"(1)i", 4, 4, "(1)<i"},
    {"<3i", 12, 1, "(3)<i"},
    {"(2)<5s", 10, 1, "(2)<5s"},
    {"3T{i:a:}", 12, 4, "(3)T{<i:a:}"},
    {"(2)T{i:a:b:b:}", 16, 4, "(2)T{<i:a:<b:b:3x}"},
    {"(2)3x:a:", 6, 1, "T{(2)3x:a:}"},
    {"b(2)i", 12, 4, "T{<b3x(2)<i}"},
    {"b2i", 12, 4, "T{<b3x(2)<i}"},
    {"T{d:a:(2, 2)d:b:f:c:f:d:}", 48, 8, "T{<d:a:(2,2)<d:b:<f:c:<f:d:}"},
    {"T{b:a:(3)h:b:}", 8, 2, "T{<b:a:x(3)<h:b:}"},
};

TEST(FormatTest, StructPaddingSubArraysAndNesting) {
  for (const LayoutCase& c : kLayouts) {
    SCOPED_TRACE(c.text);
    const Format f = Format::Parse(c.text);
    EXPECT_EQ(f.itemsize(), c.itemsize);
    EXPECT_EQ(f.alignment(), c.alignment);
    EXPECT_EQ(f.canonical(), c.canonical);
    const Format again = Format::Parse(f.canonical());
    EXPECT_EQ(again.canonical(), f.canonical());
    EXPECT_EQ(again.itemsize(), f.itemsize());
  }
}

TEST(FormatTest, Descriptions) {
  EXPECT_EQ(Format::Parse("3i").description(), "int32_t[3]");
  EXPECT_EQ(Format::Parse("(2,3)i").description(), "int32_t[2][3]");
  EXPECT_EQ(Format::Parse(">3i").description(), "big-endian int32_t[3]");
  EXPECT_EQ(Format::Parse("(2)Zd").description(), "complex double[2]");
  EXPECT_EQ(Format::Parse("T{d:x:d:y:}").description(), "a struct");
  EXPECT_EQ(Format::Parse("(2)T{d:x:}").description(), "a struct");
  EXPECT_TRUE(Format::Parse("(2)T{d:x:}").is_struct());
  EXPECT_EQ(Format::Parse("dd").description(), "a struct");
  EXPECT_EQ(Format::Parse("d:x:").description(), "a struct");
  EXPECT_FALSE(Format::Parse("(2)d").is_struct());
}

TEST(FormatTest, CanonicalKeepsNamesAsWritten) {
  EXPECT_EQ(Format::Parse("T{i: a b :}").canonical(), "T{<i: a b :}");
  EXPECT_EQ(Format::Parse("T{i:x{y}:}").canonical(), "T{<i:x{y}:}");
  EXPECT_EQ(Format::Parse("T{i:\xc3\xa9:}").canonical(), "T{<i:\xc3\xa9:}");
  // Names are per struct: the same name in two structs is fine.
  EXPECT_EQ(Format::Parse("T{i:a:T{i:a:}:b:}").itemsize(), 8);
}

// --- Errors ---------------------------------------------------------------------

struct ErrorCase {
  std::string_view text;
  std::string_view what;
  size_t pos;
};

const ErrorCase kErrors[] = {
    {"y", "unknown type code 'y'", 0},
    {"u", "unsupported type code 'u' (UCS-2 strings)", 0},
    {"t", "unsupported type code 't' (bitfields)", 0},
    {"&", "unsupported type code '&' (pointers)", 0},
    {"X{}", "unsupported type code 'X' (function pointers)", 0},
    {"w", "unsupported type code 'w' (UCS-4 strings)", 0},
    {"O", "type code 'O' (Python object pointers) cannot be used in shared memory", 0},
    {"T{i:a:O:b:}", "type code 'O' (Python object pointers) cannot be used in shared memory", 6},
    {"T{i", "expected '}'", 3},
    {"T{i:a", "expected ':' to end the field name", 5},
    {"T{i:a:", "expected '}'", 6},
    {"T{T{i}", "expected '}'", 6},
    {"}", "unexpected '}' without 'T{'", 0},
    {"i}", "unexpected '}' without 'T{'", 1},
    {"T{i}}", "unexpected '}' without 'T{'", 4},
    {"Z", "expected 'f', 'd' or 'g' after 'Z'", 1},
    {"Zi", "expected 'f', 'd' or 'g' after 'Z'", 1},
    {"Z f", "expected 'f', 'd' or 'g' after 'Z'", 1},
    {"T", "expected '{' after 'T'", 1},
    {"T {i}", "expected '{' after 'T'", 1},
    {"3", "repeat count without a type code", 1},
    {"i3", "repeat count without a type code", 2},
    {"0i", "repeat count must be positive", 0},
    {"0s", "repeat count must be positive", 0},
    {"0x", "repeat count must be positive", 0},
    {"99999999999999999999i", "repeat count too large", 0},
    {"1099511627777B", "repeat count too large", 0},
    {"1 2i", "whitespace inside a number", 1},
    {"(2,3", "expected ',' or ')'", 4},
    {"(2", "expected ',' or ')'", 2},
    {"(", "expected a shape extent", 1},
    {"()d", "expected a shape extent", 1},
    {"(2,,3)d", "expected a shape extent", 3},
    {"(2;3)d", "expected ',' or ')'", 2},
    {"(2 3)d", "whitespace inside a number", 2},
    {"(0)d", "shape extent must be positive", 1},
    {"(2,0)d", "shape extent must be positive", 3},
    {"(2)", "expected a type code", 3},
    {"(2)(3)d", "unexpected '(' (a shape comes first, before the byte order and count)", 3},
    {"3(2)d", "unexpected '(' (a shape comes first, before the byte order and count)", 1},
    {"3>i", "a byte order must come before the repeat count", 1},
    {"(99999999,99999999,99999999)d", "item too large", 0},
    {"(1048576,1048576)2B", "item too large", 0},
    {"T{(1048576,1048576)B:a:B:b:}", "item too large", 23},
    {"T{}", "empty struct", 2},
    {"T{ }", "empty struct", 3},
    {"<", "byte order '<' with no item after it", 0},
    {"i<", "byte order '<' with no item after it", 1},
    {"i !", "byte order '!' with no item after it", 2},
    {"T{i@}", "byte order '@' with no item after it", 3},
    {":a:", "field name without an item", 0},
    {"i:a::b:", "field name without an item", 4},
    {"T{b::b:}", "empty field name", 4},
    {"i:a\tb:", "control character in field name", 3},
    {"T{i:a:i:a:}", "duplicate field name 'a'", 8},
    {"i:x:d:x:", "duplicate field name 'x'", 6},
    {"", "", 0},  // placeholder, skipped: the empty string is valid
    {" ", "expected an item", 1},
    {"=n", "'n' has no standard size (only native '@' or '^' mode)", 1},
    {"<P", "'P' has no standard size (only native '@' or '^' mode)", 1},
    {"!N", "'N' has no standard size (only native '@' or '^' mode)", 1},
    {"i,i", "unknown type code ','", 1},
    {"{i}", "unknown type code '{'", 0},
    {"\x01", "unknown type code '\\x01'", 0},
};

TEST(FormatTest, InvalidFormatsNameTheFaultAndItsPosition) {
  int checked = 0;
  for (const ErrorCase& c : kErrors) {
    if (c.text.empty()) continue;
    SCOPED_TRACE(c.text);
    EXPECT_EQ(ErrorOf(c.text), Invalid(c.text, c.what, c.pos));
    ++checked;
  }
  EXPECT_GE(checked, 30);
}

TEST(FormatTest, ErrorsAreFormatErrorsAndInvalidArguments) {
  EXPECT_THROW(Format::Parse("y"), FormatError);
  EXPECT_THROW(Format::Parse("y"), std::invalid_argument);
}

TEST(FormatTest, EmbeddedNulIsRejected) {
  const std::string text("i\0i", 3);
  EXPECT_EQ(ErrorOf(text),
            "'i\\x00i' is not a valid PEP 3118 buffer format string: embedded NUL character "
            "at position 1");
}

TEST(FormatTest, LengthLimit) {
  std::string ok(kMaxFormatLength - 1, ' ');
  ok += 'i';
  EXPECT_EQ(Format::Parse(ok).canonical(), "<i");
  const std::string too_long(kMaxFormatLength + 1, 'i');
  const std::string message = ErrorOf(too_long);
  EXPECT_EQ(message, "'" + std::string(200, 'i') +
                         "...' is not a valid PEP 3118 buffer format string: format longer than "
                         "65536 characters at position 65536");
  // A canonical form longer than the limit would not parse again: refused.
  std::string grows;
  while (grows.size() + 2 <= kMaxFormatLength) grows += "bd";
  EXPECT_EQ(ErrorOf(grows).substr(206),
            "is not a valid PEP 3118 buffer format string: canonical form longer than 65536 "
            "characters at position 0");
}

TEST(FormatTest, NestingLimit) {
  auto nested = [](int depth) {
    std::string s;
    for (int i = 0; i < depth; ++i) s += "T{";
    s += "i";
    for (int i = 0; i < depth; ++i) s += "}";
    return s;
  };
  const Format deep = Format::Parse(nested(kMaxFormatNesting));
  EXPECT_EQ(deep.itemsize(), 4);
  EXPECT_EQ(Format::Parse(deep.canonical()), deep);
  const std::string too_deep = nested(kMaxFormatNesting + 1);
  EXPECT_EQ(ErrorOf(too_deep),
            Invalid(too_deep, "structs nested deeper than 32", 2 * kMaxFormatNesting));
  // Unbalanced and deep: no recursion beyond the limit, whatever the length.
  const std::string opens(50000, 'T');
  EXPECT_THROW(Format::Parse(opens), FormatError);
  std::string many;
  for (int i = 0; i < 20000; ++i) many += "T{";
  EXPECT_THROW(Format::Parse(many), FormatError);
}

TEST(FormatTest, ItemsizeLimit) {
  EXPECT_EQ(Format::Parse("1099511627776B").itemsize(), kMaxItemsizeBytes);
  EXPECT_EQ(Format::Parse("(1048576,1048576)B").itemsize(), kMaxItemsizeBytes);
  EXPECT_EQ(Format::Parse("1099511627776s").itemsize(), kMaxItemsizeBytes);
  EXPECT_EQ(ErrorOf("(1048576,1048576)H"), Invalid("(1048576,1048576)H", "item too large", 0));
  EXPECT_EQ(ErrorOf("1099511627776BB"), Invalid("1099511627776BB", "item too large", 14));
  // A struct padded past the limit by its alignment.
  EXPECT_EQ(ErrorOf("1099511627775Bi"), Invalid("1099511627775Bi", "item too large", 14));
}

TEST(FormatTest, WhitespaceBetweenTokensIsIgnored) {
  EXPECT_EQ(Format::Parse(" T{ b : a : \n i : b : } ").canonical(), "T{<b: a :3x<i: b :}");
  EXPECT_EQ(Format::Parse("\t<\ti\r\n").canonical(), "<i");
  EXPECT_EQ(Format::Parse("3 i").canonical(), "(3)<i");
  EXPECT_EQ(Format::Parse("( 2 , 2 ) d").canonical(), "(2,2)<d");
  // Cython hangs on this one; we must not.
  EXPECT_EQ(Format::Parse("T{d:a:(2, 2)d:b:f:c:f:d:}").itemsize(), 48);
}

// --- Robustness -----------------------------------------------------------------

// Every input either parses to a stable canonical form or throws a FormatError
// naming a position. Not timed (a loaded machine made a per-call wall-clock
// bound flaky); ctest's timeout catches a parser that hangs.
TEST(FormatTest, RandomInputsReturnOrThrow) {
  std::mt19937_64 rng(20260611);
  const std::string alphabet = "@=<>!^?bBhHiIlLqQnNefdgZcspxPTOuwt&X{}():,0123456789 \tay";
  const std::vector<std::string> seeds = {
      "T{b:a:i:b:}", "(2,3)d",        "T{T{B:x:xxxxxxxl:y:}:a:B:b:}", "<3i",
      "Zd",          "^ix",           "T{d:a:(2, 2)d:b:f:c:f:d:}",    "!T{h:a:q:b:}",
      "5s",          "(2)T{i:a:b:b:}"};
  int parsed = 0;
  int rejected = 0;
  for (int n = 0; n < 20000; ++n) {
    std::string text;
    if (n % 2 == 0) {
      const size_t len = rng() % 40;
      for (size_t i = 0; i < len; ++i) text += alphabet[rng() % alphabet.size()];
    } else {
      text = seeds[rng() % seeds.size()];
      const int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits; ++e) {
        const size_t at = text.empty() ? 0 : rng() % (text.size() + 1);
        switch (rng() % 4) {
          case 0:  // insert
            text.insert(at, 1, alphabet[rng() % alphabet.size()]);
            break;
          case 1:  // delete
            if (at < text.size()) text.erase(at, 1);
            break;
          case 2:  // replace, sometimes with any byte
            if (at < text.size()) text[at] = static_cast<char>(rng() % 256);
            break;
          default:  // duplicate a chunk
            text.insert(at, text.substr(rng() % (text.size() + 1), 8));
            break;
        }
      }
    }
    try {
      const Format f = Format::Parse(text);
      ++parsed;
      // Whatever parses has a stable canonical form of the same size.
      const Format again = Format::Parse(f.canonical());
      ASSERT_EQ(again.canonical(), f.canonical()) << text;
      ASSERT_EQ(again.itemsize(), f.itemsize()) << text;
      ASSERT_GE(f.itemsize(), 1) << text;
      ASSERT_LE(f.itemsize(), kMaxItemsizeBytes) << text;
    } catch (const FormatError& e) {
      ++rejected;
      ASSERT_NE(std::string_view(e.what()).find("at position "), std::string_view::npos);
    }
  }
  EXPECT_GT(parsed, 500);
  EXPECT_GT(rejected, 500);
}

// --- Traits and type checks -----------------------------------------------------

template <typename T>
void ExpectTraits(std::string_view format, std::string_view name, std::string_view canonical) {
  SCOPED_TRACE(name);
  EXPECT_EQ(format_of<T>(), format);
  EXPECT_EQ(type_name_of<T>(), name);
  const Format& f = FormatForType(format_of<T>(), type_name_of<T>(), sizeof(T));
  EXPECT_EQ(f.itemsize(), static_cast<int64_t>(sizeof(T)));
  EXPECT_EQ(f.alignment(), static_cast<int64_t>(alignof(T)));
  EXPECT_EQ(f.canonical(), canonical);
  EXPECT_NO_THROW(CheckFormat<T>(Format::Parse(format)));
  EXPECT_NO_THROW(CheckFormat<T>(Format::Parse(canonical)));
  EXPECT_NO_THROW(CheckFormat<const T>(Format::Parse(format)));
  EXPECT_EQ(format_of<const volatile T>(), format);
  EXPECT_EQ(format_of<volatile T>(), format);
}

TEST(FormatTraitsTest, EveryArithmeticTypeBoolAndComplex) {
  ExpectTraits<bool>("?", "bool", "<?");
  ExpectTraits<char>("c", "char", "<c");
  ExpectTraits<signed char>("b", "int8_t", "<b");
  ExpectTraits<unsigned char>("B", "uint8_t", "<B");
  ExpectTraits<short>("h", "int16_t", "<h");
  ExpectTraits<unsigned short>("H", "uint16_t", "<H");
  ExpectTraits<int>("i", "int32_t", "<i");
  ExpectTraits<unsigned int>("I", "uint32_t", "<I");
  ExpectTraits<long>("l", "int64_t", "<q");
  ExpectTraits<unsigned long>("L", "uint64_t", "<Q");
  ExpectTraits<long long>("q", "long long", "<q");
  ExpectTraits<unsigned long long>("Q", "unsigned long long", "<Q");
  ExpectTraits<float>("f", "float", "<f");
  ExpectTraits<double>("d", "double", "<d");
  ExpectTraits<long double>("g", "long double", "<g");
  ExpectTraits<std::complex<float>>("Zf", "complex float", "<Zf");
  ExpectTraits<std::complex<double>>("Zd", "complex double", "<Zd");
  ExpectTraits<std::complex<long double>>("Zg", "complex long double", "<Zg");
  ExpectTraits<char8_t>("B", "char8_t", "<B");
  ExpectTraits<char16_t>("H", "char16_t", "<H");
  ExpectTraits<char32_t>("I", "char32_t", "<I");
  ExpectTraits<wchar_t>("i", "wchar_t", "<i");
  // The fixed-width aliases resolve to the types above.
  EXPECT_EQ(type_name_of<int8_t>(), "int8_t");
  EXPECT_EQ(type_name_of<uint8_t>(), "uint8_t");
  EXPECT_EQ(type_name_of<int32_t>(), "int32_t");
  EXPECT_EQ(type_name_of<int64_t>(), "int64_t");
  EXPECT_EQ(type_name_of<uint64_t>(), "uint64_t");
}

TEST(FormatTraitsTest, UserStructs) {
  ExpectTraits<Point>("T{d:x:d:y:}", "Point", "T{<d:x:<d:y:}");
  ExpectTraits<Padded>("T{c:c:i:i:}", "Padded", "T{<c:c:3x<i:i:}");
  // Explicit padding, another byte order spelling: the same bytes.
  EXPECT_NO_THROW(CheckFormat<Padded>(Format::Parse("=T{c:c:3xi:i:}")));
  EXPECT_NO_THROW(CheckFormat<Point>(Format::Parse("T{<d:x:=d:y:}")));
  // NumPy's export of an aligned structured dtype.
  EXPECT_NO_THROW(CheckFormat<Padded>(Format::Parse("T{c:c:xxxi:i:}")));
}

TEST(FormatTraitsTest, FormatForTypeRejectsWrongSizeAndBadFormat) {
  try {
    CheckFormat<Wrong>(Format::Parse("T{d:x:d:y:}"));
    FAIL() << "no exception";
  } catch (const FormatError& e) {
    EXPECT_STREQ(e.what(),
                 "format 'T{d:x:}' of 'Wrong' describes 8 bytes but the type has 16 bytes");
  }
  EXPECT_THROW(FormatForType("T{d:x:", "Broken", 8), FormatError);
  EXPECT_EQ(&FormatForType("i", "int32_t", 4), &FormatForType("i", "int32_t", 4));
  EXPECT_THROW(FormatForType("i", "int64_t", 8), FormatError);
}

void ExpectMismatch(void (*check)(const Format&), std::string_view text, std::string_view message) {
  SCOPED_TRACE(text);
  try {
    check(Format::Parse(text));
    FAIL() << "no exception";
  } catch (const FormatError& e) {
    EXPECT_EQ(std::string(e.what()), message);
  }
}

TEST(FormatTraitsTest, CheckFormatAcceptsSameBytes) {
  for (std::string_view s : {"i", "<i", "=i", "=l", "@i", "^i", "!i"}) {
    if (s == "!i") continue;  // big-endian, checked below
    EXPECT_NO_THROW(CheckFormat<int32_t>(Format::Parse(s))) << s;
  }
  for (std::string_view s : {"q", "l", "<q", "=q", "n", "^l"}) {
    EXPECT_NO_THROW(CheckFormat<int64_t>(Format::Parse(s))) << s;
    EXPECT_NO_THROW(CheckFormat<long>(Format::Parse(s))) << s;
    EXPECT_NO_THROW(CheckFormat<long long>(Format::Parse(s))) << s;
  }
  EXPECT_NO_THROW(CheckFormat<uint8_t>(Format::Parse("")));
  EXPECT_NO_THROW(CheckFormat<uint8_t>(Format()));
  EXPECT_NO_THROW(CheckFormat<double>(Format::Parse("d")));
  EXPECT_NO_THROW(CheckFormat<std::complex<double>>(Format::Parse("=Zd")));
}

TEST(FormatTraitsTest, CheckFormatMessagesAreCythons) {
  ExpectMismatch(&CheckFormat<int32_t>, "d",
                 "Buffer dtype mismatch, expected 'int32_t' but got 'double'");
  ExpectMismatch(&CheckFormat<int32_t>, "l",
                 "Buffer dtype mismatch, expected 'int32_t' but got 'int64_t'");
  ExpectMismatch(&CheckFormat<int32_t>, "!i",
                 "Buffer dtype mismatch, expected 'int32_t' but got 'big-endian int32_t'");
  ExpectMismatch(&CheckFormat<int32_t>, "I",
                 "Buffer dtype mismatch, expected 'int32_t' but got 'uint32_t'");
  ExpectMismatch(&CheckFormat<int32_t>, "3i",
                 "Buffer dtype mismatch, expected 'int32_t' but got 'int32_t[3]'");
  ExpectMismatch(&CheckFormat<int32_t>, "T{i:a:}",
                 "Buffer dtype mismatch, expected 'int32_t' but got a struct");
  ExpectMismatch(&CheckFormat<double>, "f",
                 "Buffer dtype mismatch, expected 'double' but got 'float'");
  ExpectMismatch(&CheckFormat<float>, "Zf",
                 "Buffer dtype mismatch, expected 'float' but got 'complex float'");
  ExpectMismatch(&CheckFormat<char>, "b",
                 "Buffer dtype mismatch, expected 'char' but got 'int8_t'");
  ExpectMismatch(&CheckFormat<bool>, "B",
                 "Buffer dtype mismatch, expected 'bool' but got 'uint8_t'");
  ExpectMismatch(&CheckFormat<char>, "16s",
                 "Buffer dtype mismatch, expected 'char' but got 'char[16]'");
  ExpectMismatch(&CheckFormat<long double>, "d",
                 "Buffer dtype mismatch, expected 'long double' but got 'double'");
  ExpectMismatch(&CheckFormat<long long>, "i",
                 "Buffer dtype mismatch, expected 'long long' but got 'int32_t'");
  ExpectMismatch(&CheckFormat<Point>, "T{d:x:d:z:}",
                 "Buffer dtype mismatch, expected 'Point' but got a struct");
  ExpectMismatch(&CheckFormat<Point>, "=T{d:x:f:y:}",
                 "Buffer dtype mismatch, expected 'Point' but got a struct");
  ExpectMismatch(&CheckFormat<Point>, "(2)d",
                 "Buffer dtype mismatch, expected 'Point' but got 'double[2]'");
  ExpectMismatch(&CheckFormat<Padded>, "^T{c:c:i:i:}",
                 "Buffer dtype mismatch, expected 'Padded' but got a struct");
}

TEST(FormatTraitsTest, CheckFormatIsThreadSafe) {
  const Format good = Format::Parse("=l");
  const Format bad = Format::Parse("d");
  std::vector<std::thread> threads;
  std::vector<int> failures(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        try {
          CheckFormat<unsigned int>(Format::Parse("=L"));
          CheckFormat<int>(good);
          FormatForType("T{c:c:" + std::to_string(i % 50 + 1) + "x}", "Blob",
                        static_cast<size_t>(i % 50 + 2));
        } catch (const FormatError&) {
          ++failures[t];
        }
        try {
          CheckFormat<int>(bad);
          ++failures[t];
        } catch (const FormatError&) {
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int f : failures) EXPECT_EQ(f, 0);
}

}  // namespace
}  // namespace shmarray::shm
