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
#include <functional>
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

// --- The parsed tree: Format::root() --------------------------------------------

using Kind = FormatNode::Kind;

// Spells a tree the way the canonical form does, from the tree alone: gaps
// between fields (and up to the element size) as `<n>x`.
std::string Spell(const FormatNode& node) {
  std::string out;
  if (!node.shape.empty()) {
    out += "(";
    for (size_t i = 0; i < node.shape.size(); ++i) {
      out += (i > 0 ? "," : "") + std::to_string(node.shape[i]);
    }
    out += ")";
  }
  auto pad = [&out](int64_t bytes) { out += (bytes > 1 ? std::to_string(bytes) : "") + "x"; };
  switch (node.kind) {
    case Kind::kScalar:
      out += node.big_endian ? ">" : "<";
      if (node.code == 'F' || node.code == 'D' || node.code == 'G') {
        out += node.code == 'F' ? "Zf" : node.code == 'D' ? "Zd" : "Zg";
      } else {
        out += node.code;
      }
      break;
    case Kind::kBytes:
      out += "<" + (node.length_bytes > 1 ? std::to_string(node.length_bytes) : "") + node.code;
      break;
    case Kind::kPad:
      pad(node.length_bytes);
      break;
    case Kind::kStruct: {
      out += "T{";
      int64_t cursor = 0;
      for (const FormatField& f : node.fields) {
        if (f.offset_bytes > cursor) pad(f.offset_bytes - cursor);
        out += Spell(f.node);
        if (f.named) out += ":" + f.name + ":";
        cursor = f.offset_bytes + f.node.size_bytes;
      }
      if (node.element_size_bytes() > cursor) pad(node.element_size_bytes() - cursor);
      out += "}";
      break;
    }
  }
  return out;
}

TEST(FormatTreeTest, Scalars) {
  const Format d = Format::Parse("d");
  const FormatNode& root = d.root();
  EXPECT_EQ(root.kind, Kind::kScalar);
  EXPECT_EQ(root.code, 'd');
  EXPECT_FALSE(root.big_endian);
  EXPECT_TRUE(root.shape.empty());
  EXPECT_EQ(root.size_bytes, 8);
  EXPECT_EQ(root.element_size_bytes(), 8);
  EXPECT_EQ(root.length_bytes, 1);
  EXPECT_TRUE(root.fields.empty());

  // Native codes are standard-size in the tree, as in canonical().
  EXPECT_EQ(Format::Parse("l").root().code, 'q');
  EXPECT_EQ(Format::Parse("=l").root().code, 'i');
  EXPECT_EQ(Format::Parse("P").root().code, 'Q');

  // Byte order: `>` and `!` are big-endian; one-byte codes never are.
  EXPECT_TRUE(Format::Parse(">i").root().big_endian);
  EXPECT_TRUE(Format::Parse("!i").root().big_endian);
  EXPECT_FALSE(Format::Parse(">b").root().big_endian);
  EXPECT_FALSE(Format::Parse("<i").root().big_endian);

  // Complex codes are 'F', 'D', 'G'.
  const Format zd = Format::Parse(">Zd");
  EXPECT_EQ(zd.root().kind, Kind::kScalar);
  EXPECT_EQ(zd.root().code, 'D');
  EXPECT_TRUE(zd.root().big_endian);
  EXPECT_EQ(zd.root().size_bytes, 16);
  EXPECT_EQ(Format::Parse("Zf").root().code, 'F');
  EXPECT_EQ(Format::Parse("Zg").root().code, 'G');

  // A count is a sub-array axis.
  const Format three_format = Format::Parse("(2)3i");
  const FormatNode& three = three_format.root();
  EXPECT_EQ(three.kind, Kind::kScalar);
  EXPECT_EQ(three.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(three.size_bytes, 24);
  EXPECT_EQ(three.element_size_bytes(), 4);
}

// code_spelling() is the code as canonical() writes it (after the byte order,
// before a name); is_complex() holds exactly for `Zf`, `Zd`, `Zg`.
TEST(FormatTreeTest, CodeSpellingAndIsComplex) {
  const struct {
    const char* format;
    const char* spelling;
    bool complex;
  } cases[] = {
      {"Zf", "Zf", true}, {">Zd", "Zd", true}, {"(2)Zg", "Zg", true}, {"d", "d", false},
      {"l", "q", false},  {"?", "?", false},   {"c", "c", false},     {"g", "g", false},
      {"5s", "s", false}, {"3p", "p", false},  {"ii", "T", false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.format);
    const Format f = Format::Parse(c.format);
    EXPECT_EQ(f.root().code_spelling(), c.spelling);
    EXPECT_EQ(f.root().is_complex(), c.complex);
  }
  const Format named = Format::Parse("T{Zd:z:4x:raw:}");
  ASSERT_EQ(named.root().fields.size(), 2u);
  EXPECT_EQ(named.root().fields[0].node.code_spelling(), "Zd");
  EXPECT_TRUE(named.root().fields[0].node.is_complex());
  EXPECT_EQ(named.root().fields[1].node.code_spelling(), "x");
  EXPECT_FALSE(named.root().fields[1].node.is_complex());
  // Every scalar code of the grammar: the spelling is what canonical() writes.
  for (const char* text : {"?", "c", "b", "B", "h", "H", "i", "I",  "l",  "L",  "q",
                           "Q", "n", "N", "e", "f", "d", "g", "Zf", "Zd", "Zg", "P"}) {
    const Format f = Format::Parse(text);
    const std::string& canonical = f.canonical();
    ASSERT_FALSE(canonical.empty());
    EXPECT_EQ(f.root().code_spelling(), std::string_view(canonical).substr(1)) << text;
    EXPECT_EQ(f.root().is_complex(), canonical[1] == 'Z') << text;
  }
}

TEST(FormatTreeTest, DefaultAndEmptyHaveAByteRoot) {
  for (const Format& f : {Format(), Format::Parse("")}) {
    EXPECT_EQ(f.root().kind, Kind::kScalar);
    EXPECT_EQ(f.root().code, 'B');
    EXPECT_EQ(f.root().size_bytes, 1);
    EXPECT_TRUE(f.root().shape.empty());
  }
}

TEST(FormatTreeTest, StringsAndPadding) {
  const Format s_format = Format::Parse("5s");
  const FormatNode& s = s_format.root();
  EXPECT_EQ(s.kind, Kind::kBytes);
  EXPECT_EQ(s.code, 's');
  EXPECT_EQ(s.length_bytes, 5);
  EXPECT_TRUE(s.shape.empty());  // the count of `s` is its length, not an axis
  EXPECT_EQ(s.size_bytes, 5);
  const Format p_format = Format::Parse("(2)4p");
  const FormatNode& p = p_format.root();
  EXPECT_EQ(p.kind, Kind::kBytes);
  EXPECT_EQ(p.code, 'p');
  EXPECT_EQ(p.length_bytes, 4);
  EXPECT_EQ(p.shape, std::vector<int64_t>{2});
  EXPECT_EQ(p.size_bytes, 8);

  // Padding only: a struct with no fields.
  const Format pad_format = Format::Parse("4x");
  const FormatNode& pad = pad_format.root();
  EXPECT_EQ(pad.kind, Kind::kStruct);
  EXPECT_EQ(pad.code, 'T');
  EXPECT_EQ(pad.size_bytes, 4);
  EXPECT_TRUE(pad.fields.empty());

  // Explicit unnamed `x` is a gap between offsets; a named one is a kPad field.
  const Format f = Format::Parse("T{=b:a:xxi:b:3x:raw:}");  // `=`: no alignment
  EXPECT_EQ(f.canonical(), "T{<b:a:2x<i:b:3x:raw:}");
  const FormatNode& root = f.root();
  ASSERT_EQ(root.fields.size(), 3u);
  EXPECT_EQ(root.fields[1].offset_bytes, 3);
  EXPECT_EQ(root.fields[2].name, "raw");
  EXPECT_EQ(root.fields[2].node.kind, Kind::kPad);
  EXPECT_EQ(root.fields[2].node.code, 'x');
  EXPECT_EQ(root.fields[2].node.length_bytes, 3);
  EXPECT_EQ(root.fields[2].offset_bytes, 7);
  EXPECT_EQ(root.size_bytes, 10);
}

TEST(FormatTreeTest, StructWithAlignmentPaddingAndNames) {
  const Format f = Format::Parse("T{b:a:i:b:}");
  const FormatNode& root = f.root();
  EXPECT_TRUE(f.is_struct());
  EXPECT_EQ(root.kind, Kind::kStruct);
  EXPECT_EQ(root.code, 'T');
  EXPECT_EQ(root.size_bytes, 8);
  ASSERT_EQ(root.fields.size(), 2u);  // the 3-byte alignment gap is not a field
  EXPECT_EQ(root.fields[0].name, "a");
  EXPECT_TRUE(root.fields[0].named);
  EXPECT_EQ(root.fields[0].offset_bytes, 0);
  EXPECT_EQ(root.fields[0].node.code, 'b');
  EXPECT_EQ(root.fields[0].node.size_bytes, 1);
  EXPECT_EQ(root.fields[1].name, "b");
  EXPECT_EQ(root.fields[1].offset_bytes, 4);
  EXPECT_EQ(root.fields[1].node.code, 'i');
  EXPECT_EQ(root.fields[1].node.size_bytes, 4);

  // Unnamed fields, and native tail padding (after the last field).
  const Format tail_format = Format::Parse("qb");
  const FormatNode& tail = tail_format.root();
  EXPECT_EQ(tail.kind, Kind::kStruct);
  EXPECT_EQ(tail.size_bytes, 16);
  ASSERT_EQ(tail.fields.size(), 2u);
  EXPECT_FALSE(tail.fields[0].named);
  EXPECT_EQ(tail.fields[0].name, "");
  EXPECT_EQ(tail.fields[1].offset_bytes, 8);
  EXPECT_EQ(tail.fields[1].node.size_bytes, 1);  // 7 bytes of tail padding follow

  // One named item is a struct of one field.
  const Format one_format = Format::Parse("d:x:");
  const FormatNode& one = one_format.root();
  EXPECT_EQ(one.kind, Kind::kStruct);
  ASSERT_EQ(one.fields.size(), 1u);
  EXPECT_EQ(one.fields[0].name, "x");
}

TEST(FormatTreeTest, NestedStructWithSubarrayShape) {
  // A 2x3 sub-array of a native struct {int16 a; [pad 6] double b[2]}, after a byte.
  const Format f = Format::Parse("T{B:tag:(2,3)T{h:a:2d:b:}:s:>i:n:}");
  const FormatNode& root = f.root();
  EXPECT_EQ(root.kind, Kind::kStruct);
  ASSERT_EQ(root.fields.size(), 3u);
  const FormatField& s = root.fields[1];
  EXPECT_EQ(s.name, "s");
  EXPECT_EQ(s.offset_bytes, 8);  // aligned to the inner struct's 8
  EXPECT_EQ(s.node.kind, Kind::kStruct);
  EXPECT_EQ(s.node.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(s.node.element_size_bytes(), 24);
  EXPECT_EQ(s.node.size_bytes, 6 * 24);
  ASSERT_EQ(s.node.fields.size(), 2u);
  EXPECT_EQ(s.node.fields[0].name, "a");
  EXPECT_EQ(s.node.fields[0].offset_bytes, 0);
  EXPECT_EQ(s.node.fields[1].name, "b");
  EXPECT_EQ(s.node.fields[1].offset_bytes, 8);
  EXPECT_EQ(s.node.fields[1].node.shape, std::vector<int64_t>{2});
  EXPECT_EQ(s.node.fields[1].node.size_bytes, 16);
  // The byte order after the struct is `>`: no alignment, no tail padding.
  const FormatField& n = root.fields[2];
  EXPECT_EQ(n.offset_bytes, 8 + 6 * 24);
  EXPECT_TRUE(n.node.big_endian);
  EXPECT_EQ(root.size_bytes, 8 + 6 * 24 + 4);
  EXPECT_EQ(root.size_bytes, f.itemsize());
  EXPECT_EQ(Spell(root), f.canonical());

  // A sub-array of a struct is the root itself (no wrapping struct).
  const Format arr_format = Format::Parse("2T{i:a:}");
  const FormatNode& arr = arr_format.root();
  EXPECT_EQ(arr.kind, Kind::kStruct);
  EXPECT_EQ(arr.shape, std::vector<int64_t>{2});
  ASSERT_EQ(arr.fields.size(), 1u);
  EXPECT_EQ(arr.fields[0].name, "a");
}

TEST(FormatTreeTest, CopiesShareTheTree) {
  const Format a = Format::Parse("T{d:x:d:y:}");
  const Format b = a;  // NOLINT(performance-unnecessary-copy-initialization)
  EXPECT_EQ(&a.root(), &b.root());
}

// The tree spells the canonical form, has itemsize() bytes and is a struct
// exactly when is_struct(), for every layout case and for random formats.
TEST(FormatTreeTest, TreeSpellsTheCanonicalForm) {
  auto check = [](const Format& f) {
    EXPECT_EQ(Spell(f.root()), f.canonical());
    EXPECT_EQ(f.root().size_bytes, f.itemsize());
    EXPECT_EQ(f.root().kind == Kind::kStruct, f.is_struct());
  };
  for (const LayoutCase& c : kLayouts) {
    SCOPED_TRACE(c.text);
    check(Format::Parse(c.text));
  }
  std::mt19937_64 rng(20260612);
  const std::string alphabet = "@=<>!^?bBhHiIlLqQnNefdgcspxPT{}():,0123456789Zfdg:a:b:";
  int parsed = 0;
  for (int n = 0; n < 20000; ++n) {
    std::string text;
    const size_t len = 1 + rng() % 24;
    for (size_t i = 0; i < len; ++i) text += alphabet[rng() % alphabet.size()];
    Format f;
    try {
      f = Format::Parse(text);
    } catch (const FormatError&) {
      continue;
    }
    SCOPED_TRACE(text);
    check(f);
    ++parsed;
  }
  EXPECT_GT(parsed, 500);
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

// NumPy cannot load a sub-array of more than 32 dimensions (an .npy written
// from such a format would be unreadable): refused at parse time.
TEST(FormatTest, SubarrayShapesHaveAtMost32Dimensions) {
  auto ones = [](int n) {
    std::string s = "(";
    for (int i = 0; i < n; ++i) s += i == 0 ? "1" : ",1";
    return s + ")";
  };
  EXPECT_EQ(Format::Parse(ones(kMaxSubarrayDims) + "d").itemsize(), 8);
  for (const std::string& text : {ones(33) + "d", ones(41) + "<i", "T{" + ones(33) + "B:a:}"}) {
    const std::string error = ErrorOf(text);
    EXPECT_NE(error.find("a sub-array shape has "), std::string::npos) << error;
    EXPECT_NE(error.find("at most 32 are allowed"), std::string::npos) << error;
  }
  // A repeat count adds one dimension to the shape.
  EXPECT_NE(ErrorOf(ones(32) + "2d").find("33 dimensions"), std::string::npos);
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

std::string Repeat(std::string_view part, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += part;
  return s;
}

// Parsing must be linear in the text whatever it holds. Work is counted
// (Format::TEST_last_parse_steps), never timed: a clock fails under load.
// Bound on the work: kMaxStepsPerChar per character plus kFixedSteps (an
// error message quotes at most 200 characters of the text).
constexpr int64_t kMaxStepsPerChar = 16;
constexpr int64_t kFixedSteps = 512;

int64_t ParseSteps(const std::string& text) {
  try {
    (void)Format::Parse(text);
  } catch (const FormatError&) {
  }
  return Format::TEST_last_parse_steps();
}

TEST(FormatTest, RandomInputsReturnOrThrowInLinearWork) {
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
    // (Format::Parse(f.canonical()) above reset the count: parse again.)
    const int64_t steps = ParseSteps(text);
    ASSERT_TRUE(text.empty() || steps > 0) << text;
    ASSERT_LE(steps, kMaxStepsPerChar * static_cast<int64_t>(text.size()) + kFixedSteps) << text;
  }
  EXPECT_GT(parsed, 500);
  EXPECT_GT(rejected, 500);
}

TEST(FormatTest, WorkScalesLinearlyOnAdversarialInputs) {
  // Families of inputs that a careless parser handles in quadratic time or
  // worse: each is built at n and 16n repetitions; the work per character of
  // the long one must be about that of the short one, and within the same
  // bound as for random inputs.
  struct Family {
    const char* what;
    std::function<std::string(int)> make;
  };
  const std::vector<Family> families = {
      {"many scalars", [](int n) { return Repeat("d", n); }},
      {"aligned pairs", [](int n) { return Repeat("bq", n); }},
      {"named fields",
       [](int n) {
         std::string s = "T{";
         for (int i = 0; i < n; ++i) s += "i:f" + std::to_string(i) + ":";
         return s + "}";
       }},
      {"long name", [](int n) { return "T{i:" + Repeat("a", n) + ":}"; }},
      {"unterminated name", [](int n) { return "T{i:" + Repeat("a", n); }},
      {"duplicate name at the end",
       [](int n) {
         std::string s = "T{";
         for (int i = 0; i < n; ++i) s += "i:f" + std::to_string(i) + ":";
         return s + "i:f0:}";
       }},
      {"whitespace", [](int n) { return Repeat(" ", n) + "d"; }},
      {"shape extents", [](int n) { return "(" + Repeat("1,", n) + "1)d"; }},
      {"leading zeros", [](int n) { return Repeat("0", n) + "1d"; }},
      {"byte orders", [](int n) { return Repeat("<>", n) + "d"; }},
      {"nested structs",
       [](int n) {
         std::string s;
         for (int i = 0; i < n; ++i) s += "T{b:a:T{i:b:}:c:}";
         return s;
       }},
      {"deep nesting", [](int n) { return Repeat("T{b", 32) + Repeat("h", n) + Repeat("}", 32); }},
      {"error late", [](int n) { return Repeat("d", n) + "O"; }},
      {"padding runs", [](int n) { return Repeat("x", n) + "d"; }},
  };
  for (const Family& family : families) {
    SCOPED_TRACE(family.what);
    const std::string small = family.make(200);
    const std::string large = family.make(3200);
    const int64_t small_steps = ParseSteps(small);
    const int64_t large_steps = ParseSteps(large);
    EXPECT_LE(large_steps, kMaxStepsPerChar * static_cast<int64_t>(large.size()) + kFixedSteps);
    // Linear: the same work per character (within 25%, plus the fixed cost
    // of an error message spread over the short input).
    const double small_rate = static_cast<double>(small_steps) / static_cast<double>(small.size());
    const double large_rate = static_cast<double>(large_steps) / static_cast<double>(large.size());
    EXPECT_LE(large_rate, 1.25 * small_rate + 0.5)
        << small_steps << " steps for " << small.size() << " characters, " << large_steps << " for "
        << large.size();
  }
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
