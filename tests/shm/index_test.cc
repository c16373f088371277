// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: index_test.cc
// -----------------------------------------------------------------------------
// Tests for shm/index: ParseIndex (Python subscript syntax, errors with
// positions, limits), FormatIndex (round trips) and NormalizeSlice (Python's
// slice.indices, vectors computed with CPython).

#include "shmarray/shm/index.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "shmarray/shm/errors.h"

namespace shmarray::shm {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

Slice S(std::optional<int64_t> start, std::optional<int64_t> stop,
        std::optional<int64_t> step = std::nullopt) {
  return Slice{start, stop, step};
}

// The message of the IndexExprError that ParseIndex(text) throws, or
// "no error".
std::string ParseError(std::string_view text) {
  try {
    ParseIndex(text);
  } catch (const IndexExprError& e) {
    return e.what();
  }
  return "no error";
}

// --- ParseIndex: accepted syntax --------------------------------------------

TEST(IndexParseTest, HeaderExample) {
  EXPECT_EQ(ParseIndex("1:102:2, ..., None, -1"),
            (IndexExpr{S(1, 102, 2), Ellipsis{}, NewAxis{}, int64_t{-1}}));
}

TEST(IndexParseTest, EmptyTextIsTheEmptyExpression) {
  EXPECT_EQ(ParseIndex(""), IndexExpr{});
  EXPECT_EQ(ParseIndex("   \t\n "), IndexExpr{});
  EXPECT_EQ(ParseIndex("()"), IndexExpr{});
  EXPECT_EQ(ParseIndex(" ( \t) "), IndexExpr{});
}

TEST(IndexParseTest, Slices) {
  EXPECT_EQ(ParseIndex(":"), IndexExpr{all});
  EXPECT_EQ(ParseIndex("::"), IndexExpr{all});
  EXPECT_EQ(ParseIndex(": :"), IndexExpr{all});
  EXPECT_EQ(ParseIndex("::-1"), IndexExpr{S(std::nullopt, std::nullopt, -1)});
  EXPECT_EQ(ParseIndex("1:"), IndexExpr{S(1, std::nullopt)});
  EXPECT_EQ(ParseIndex(":5"), IndexExpr{S(std::nullopt, 5)});
  EXPECT_EQ(ParseIndex("1:5:"), IndexExpr{S(1, 5)});
  EXPECT_EQ(ParseIndex("-7::-1"), IndexExpr{S(-7, std::nullopt, -1)});
  EXPECT_EQ(ParseIndex(":-7:-1"), IndexExpr{S(std::nullopt, -7, -1)});
  // A zero step parses; Layout::slice and NormalizeSlice reject it.
  EXPECT_EQ(ParseIndex("::0"), IndexExpr{S(std::nullopt, std::nullopt, 0)});
}

TEST(IndexParseTest, NewAxisSpellings) {
  for (const char* text : {"None", "newaxis", "np.newaxis", "numpy.newaxis", "np . newaxis"}) {
    EXPECT_EQ(ParseIndex(text), IndexExpr{newaxis}) << text;
  }
}

TEST(IndexParseTest, Ellipsis) {
  EXPECT_EQ(ParseIndex("..."), IndexExpr{ellipsis});
  // A second ellipsis parses; Layout::slice rejects it with NumPy's message.
  EXPECT_EQ(ParseIndex("..., ..."), (IndexExpr{ellipsis, ellipsis}));
}

TEST(IndexParseTest, IntegerLiterals) {
  EXPECT_EQ(ParseIndex("5"), IndexExpr{int64_t{5}});
  EXPECT_EQ(ParseIndex("+5"), IndexExpr{int64_t{5}});
  EXPECT_EQ(ParseIndex("-0"), IndexExpr{int64_t{0}});
  EXPECT_EQ(ParseIndex("- 5"), IndexExpr{int64_t{-5}});
  EXPECT_EQ(ParseIndex("--5"), IndexExpr{int64_t{5}});
  EXPECT_EQ(ParseIndex("-+-5"), IndexExpr{int64_t{5}});
  EXPECT_EQ(ParseIndex("1_000"), IndexExpr{int64_t{1000}});
  EXPECT_EQ(ParseIndex("1_0_0"), IndexExpr{int64_t{100}});
  EXPECT_EQ(ParseIndex("0"), IndexExpr{int64_t{0}});
  EXPECT_EQ(ParseIndex("000"), IndexExpr{int64_t{0}});
  EXPECT_EQ(ParseIndex("0_0"), IndexExpr{int64_t{0}});
  EXPECT_EQ(ParseIndex("9223372036854775807"), IndexExpr{kMax});
  EXPECT_EQ(ParseIndex("9_223_372_036_854_775_807"), IndexExpr{kMax});
  EXPECT_EQ(ParseIndex("-9223372036854775808"), IndexExpr{kMin});
  EXPECT_EQ(ParseIndex("-9223372036854775808:9223372036854775807:-9223372036854775808"),
            (IndexExpr{S(kMin, kMax, kMin)}));
}

TEST(IndexParseTest, WhitespaceBetweenAllTokensAndTrailingComma) {
  EXPECT_EQ(ParseIndex(" \t1 :\n2 :\r3 , ... ,\fNone\v, - 4 , "),
            (IndexExpr{S(1, 2, 3), ellipsis, newaxis, int64_t{-4}}));
  EXPECT_EQ(ParseIndex("1,"), IndexExpr{int64_t{1}});
  EXPECT_EQ(ParseIndex("1,2,"), (IndexExpr{int64_t{1}, int64_t{2}}));
}

TEST(IndexParseTest, MaxItemsAccepted) {
  std::string text;
  for (size_t i = 0; i < kMaxIndexItems; ++i) text += "0,";
  EXPECT_EQ(ParseIndex(text).size(), kMaxIndexItems);
}

TEST(IndexParseTest, MaxLengthAccepted) {
  const std::string text(kMaxIndexTextLength, ' ');
  EXPECT_EQ(ParseIndex(text), IndexExpr{});
}

// --- ParseIndex: errors, word for word ---------------------------------------

TEST(IndexParseTest, ErrorsNameTextAndPosition) {
  EXPECT_EQ(ParseError("1:2:3:4"),
            "invalid index expression '1:2:3:4': unexpected ':' at position 5");
  EXPECT_EQ(ParseError(","), "invalid index expression ',': unexpected ',' at position 0");
  EXPECT_EQ(ParseError("1,,2"), "invalid index expression '1,,2': unexpected ',' at position 2");
  EXPECT_EQ(ParseError("1 2"), "invalid index expression '1 2': unexpected '2' at position 2");
  EXPECT_EQ(ParseError(".."), "invalid index expression '..': unexpected '.' at position 0");
  EXPECT_EQ(ParseError("...."), "invalid index expression '....': unexpected '.' at position 3");
  EXPECT_EQ(ParseError("1.5"), "invalid index expression '1.5': unexpected '.' at position 1");
  EXPECT_EQ(ParseError("-"), "invalid index expression '-': unexpected end of text at position 1");
  EXPECT_EQ(ParseError("1:-"),
            "invalid index expression '1:-': unexpected end of text at position 3");
  EXPECT_EQ(ParseError("(1)"), "invalid index expression '(1)': unexpected '(' at position 0");
  EXPECT_EQ(ParseError("("), "invalid index expression '(': unexpected end of text at position 1");
  EXPECT_EQ(ParseError("() 1"), "invalid index expression '() 1': unexpected '1' at position 3");
  EXPECT_EQ(ParseError("[1]"), "invalid index expression '[1]': unexpected '[' at position 0");
  EXPECT_EQ(ParseError("1]"), "invalid index expression '1]': unexpected ']' at position 1");
  EXPECT_EQ(ParseError("Nonex"),
            "invalid index expression 'Nonex': unknown name 'Nonex' at position 0");
  EXPECT_EQ(ParseError("1, none"),
            "invalid index expression '1, none': unknown name 'none' at position 3");
  EXPECT_EQ(ParseError("np.foo"),
            "invalid index expression 'np.foo': unknown name 'np.foo' at position 3");
  EXPECT_EQ(ParseError("np"),
            "invalid index expression 'np': unexpected end of text at position 2");
  EXPECT_EQ(ParseError("np.1"), "invalid index expression 'np.1': unexpected '1' at position 3");
  EXPECT_EQ(ParseError("None:"), "invalid index expression 'None:': unexpected ':' at position 4");
  EXPECT_EQ(ParseError("\x01"),
            "invalid index expression '\\x01': unexpected '\\x01' at position 0");
}

TEST(IndexParseTest, PythonIntegerLiteralRules) {
  EXPECT_EQ(ParseError("1_"),
            "invalid index expression '1_': invalid decimal literal at position 1");
  EXPECT_EQ(ParseError("1__0"),
            "invalid index expression '1__0': invalid decimal literal at position 1");
  EXPECT_EQ(ParseError("5x"),
            "invalid index expression '5x': invalid decimal literal at position 1");
  EXPECT_EQ(ParseError("0x10"),
            "invalid index expression '0x10': invalid decimal literal at position 1");
  EXPECT_EQ(ParseError("007"),
            "invalid index expression '007': leading zeros in decimal integer literals are not "
            "permitted at position 0");
  EXPECT_EQ(ParseError("_1"), "invalid index expression '_1': unknown name '_1' at position 0");
}

TEST(IndexParseTest, IntegerOverflowIsDetected) {
  EXPECT_EQ(ParseError("9223372036854775808"),
            "invalid index expression '9223372036854775808': integer out of range of int64 at "
            "position 0");
  EXPECT_EQ(ParseError("1:-9223372036854775809"),
            "invalid index expression '1:-9223372036854775809': integer out of range of int64 "
            "at position 2");
  EXPECT_EQ(ParseError("--9223372036854775808"),
            "invalid index expression '--9223372036854775808': integer out of range of int64 at "
            "position 0");
  EXPECT_EQ(ParseError("99999999999999999999999999999999999999"),
            "invalid index expression '99999999999999999999999999999999999999': integer out of "
            "range of int64 at position 0");
}

TEST(IndexParseTest, TooManyItems) {
  std::string text;
  for (size_t i = 0; i <= kMaxIndexItems; ++i) text += "0,";
  const std::string message = ParseError(text);
  EXPECT_NE(message.find("more than 64 items at position 128"), std::string::npos) << message;
}

TEST(IndexParseTest, TextTooLong) {
  const std::string text(kMaxIndexTextLength + 1, ' ');
  EXPECT_EQ(ParseError(text),
            "invalid index expression: text of 16385 characters exceeds the limit of 16384");
}

TEST(IndexParseTest, LongTextIsQuotedShort) {
  const std::string text = std::string(1000, ' ') + "#";
  const std::string message = ParseError(text);
  EXPECT_NE(message.find("...': unexpected '#' at position 1000"), std::string::npos) << message;
  EXPECT_LT(message.size(), 250u);
}

TEST(IndexParseTest, ErrorsAreInvalidArgument) {
  EXPECT_THROW(ParseIndex("1:2:3:4"), std::invalid_argument);
  EXPECT_THROW(ParseIndex("1:2:3:4"), IndexExprError);
}

// Random strings over the alphabet of the syntax either parse (and then
// round-trip through FormatIndex) or throw IndexExprError, quickly.
TEST(IndexParseTest, RandomStringsParseOrThrowIndexExprError) {
  static constexpr std::string_view kAlphabet = "0123456789:,.-+ Nonewaxis_()[]";
  std::mt19937_64 rng(12345);
  int parsed = 0;
  int rejected = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int n = 0; n < 50000; ++n) {
    const size_t length = rng() % 24;
    std::string text;
    for (size_t i = 0; i < length; ++i) text += kAlphabet[rng() % kAlphabet.size()];
    try {
      const IndexExpr e = ParseIndex(text);
      EXPECT_EQ(ParseIndex(FormatIndex(e)), e) << text;
      ++parsed;
    } catch (const IndexExprError&) {
      ++rejected;
    }
  }
  // Long inputs too: a whole maximum-length text.
  for (int n = 0; n < 20; ++n) {
    std::string text;
    for (size_t i = 0; i < kMaxIndexTextLength; ++i) text += kAlphabet[rng() % kAlphabet.size()];
    EXPECT_THROW(ParseIndex(text), IndexExprError);
  }
  EXPECT_GT(parsed, 100);
  EXPECT_GT(rejected, 100);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
}

// --- FormatIndex -------------------------------------------------------------

TEST(IndexFormatTest, Spelling) {
  EXPECT_EQ(FormatIndex({}), "");
  EXPECT_EQ(FormatIndex({S(1, 102, 2), ellipsis, newaxis, int64_t{-1}}), "1:102:2, ..., None, -1");
  EXPECT_EQ(FormatIndex({all}), ":");
  EXPECT_EQ(FormatIndex({S(std::nullopt, std::nullopt, -1)}), "::-1");
  EXPECT_EQ(FormatIndex({S(3, std::nullopt)}), "3:");
  EXPECT_EQ(FormatIndex({S(std::nullopt, 3)}), ":3");
  EXPECT_EQ(FormatIndex({S(kMin, kMax, 0)}), "-9223372036854775808:9223372036854775807:0");
}

IndexItem RandomItem(std::mt19937_64& rng) {
  auto number = [&rng]() -> int64_t {
    switch (rng() % 6) {
      case 0:
        return kMin;
      case 1:
        return kMax;
      case 2:
        return static_cast<int64_t>(rng());
      default:
        return static_cast<int64_t>(rng() % 21) - 10;
    }
  };
  auto part = [&]() -> std::optional<int64_t> {
    if (rng() % 3 == 0) return std::nullopt;
    return number();
  };
  switch (rng() % 4) {
    case 0:
      return number();
    case 1:
      return Slice{part(), part(), part()};
    case 2:
      return ellipsis;
    default:
      return newaxis;
  }
}

TEST(IndexFormatTest, RoundTripsRandomExpressions) {
  std::mt19937_64 rng(42);
  for (int n = 0; n < 5000; ++n) {
    IndexExpr e(rng() % (kMaxIndexItems + 1));
    for (IndexItem& item : e) item = RandomItem(rng);
    const std::string text = FormatIndex(e);
    ASSERT_EQ(ParseIndex(text), e) << text;
  }
}

// --- NormalizeSlice ----------------------------------------------------------

struct SliceVector {
  int64_t length;
  Slice slice;
  SliceBounds expected;
};

// Expected values computed with CPython's slice(start, stop, step).indices(length)
// and len(range(...)). The first rows are the cases Cython gets wrong.
TEST(IndexNormalizeSliceTest, MatchesPythonSliceIndices) {
  constexpr std::nullopt_t none = std::nullopt;
  const std::vector<SliceVector> vectors = {
      {4, {1, 0, 2}, {1, 0, 2, 0}},
      {4, {-7, none, -1}, {-1, -1, -1, 0}},
      {4, {none, -7, -1}, {3, -1, -1, 4}},
      {4, {5, 4, 2}, {4, 4, 2, 0}},
      {4, {6, 4, 2}, {4, 4, 2, 0}},
      {4, {0, 1, -2}, {0, 1, -2, 0}},
      {4, {4, -6, -1}, {3, -1, -1, 4}},
      {8, {1, 0, 2}, {1, 0, 2, 0}},
      {8, {-9, none, -1}, {-1, -1, -1, 0}},
      {8, {none, -9, -1}, {7, -1, -1, 8}},
      {5, {none, none, none}, {0, 5, 1, 5}},
      {5, {none, none, -1}, {4, -1, -1, 5}},
      {5, {none, none, 2}, {0, 5, 2, 3}},
      {5, {none, none, -2}, {4, -1, -2, 3}},
      {5, {1, none, none}, {1, 5, 1, 4}},
      {5, {-2, none, none}, {3, 5, 1, 2}},
      {5, {none, -1, none}, {0, 4, 1, 4}},
      {5, {10, 20, none}, {5, 5, 1, 0}},
      {5, {-20, -10, none}, {0, 0, 1, 0}},
      {5, {-20, 20, 3}, {0, 5, 3, 2}},
      {5, {20, -20, -3}, {4, -1, -3, 2}},
      {0, {none, none, none}, {0, 0, 1, 0}},
      {0, {none, none, -1}, {-1, -1, -1, 0}},
      {0, {-1, 1, 1}, {0, 0, 1, 0}},
      {1, {none, none, -1}, {0, -1, -1, 1}},
      {5, {kMax, kMin, -1}, {4, -1, -1, 5}},
      {5, {kMin, kMax, 1}, {0, 5, 1, 5}},
      {5, {none, none, kMax}, {0, 5, kMax, 1}},
      {5, {none, none, -kMax}, {4, -1, -kMax, 1}},
      {5, {3, 3, 1}, {3, 3, 1, 0}},
      {5, {3, 2, 1}, {3, 2, 1, 0}},
      {5, {2, 3, -1}, {2, 3, -1, 0}},
      {7, {1, 102, 2}, {1, 7, 2, 3}},
      {7, {-1, -8, -3}, {6, -1, -3, 3}},
  };
  for (const SliceVector& v : vectors) {
    const SliceBounds b = NormalizeSlice(v.slice, v.length, 0);
    const std::string where = FormatIndex({v.slice}) + " on length " + std::to_string(v.length);
    EXPECT_EQ(b.start, v.expected.start) << where;
    EXPECT_EQ(b.stop, v.expected.stop) << where;
    EXPECT_EQ(b.step, v.expected.step) << where;
    EXPECT_EQ(b.count, v.expected.count) << where;
  }
}

TEST(IndexNormalizeSliceTest, MinimumStepIsRaisedToMinusInt64Max) {
  // As CPython's PySlice_Unpack does, so that -step cannot overflow.
  const SliceBounds b = NormalizeSlice(S(std::nullopt, std::nullopt, kMin), 5, 0);
  EXPECT_EQ(b.start, 4);
  EXPECT_EQ(b.step, -kMax);
  EXPECT_EQ(b.count, 1);
}

TEST(IndexNormalizeSliceTest, ZeroStepNamesTheAxis) {
  try {
    NormalizeSlice(S(1, 2, 0), 5, 3);
    FAIL() << "no error";
  } catch (const IndexExprError& e) {
    EXPECT_STREQ(e.what(), "Step may not be zero (axis 3)");
  }
}

// Every selected index lies in the axis, the selection is exactly what
// stepping from start towards stop visits, for an exhaustive small grid.
TEST(IndexNormalizeSliceTest, SelectionIsConsistentOnAGrid) {
  std::vector<std::optional<int64_t>> bounds = {std::nullopt, kMin, kMax};
  for (int64_t v = -10; v <= 10; ++v) bounds.push_back(v);
  std::vector<std::optional<int64_t>> steps = {std::nullopt, kMin, kMax};
  for (int64_t v = -4; v <= 4; ++v) {
    if (v != 0) steps.push_back(v);
  }
  for (int64_t length = 0; length <= 7; ++length) {
    for (const auto& start : bounds) {
      for (const auto& stop : bounds) {
        for (const auto& step : steps) {
          const SliceBounds b = NormalizeSlice(S(start, stop, step), length, 0);
          ASSERT_GE(b.count, 0);
          ASSERT_LE(b.count, length);
          // Count the visited positions by walking (the step may be huge).
          int64_t walked = 0;
          for (int64_t i = b.start; b.step > 0 ? i < b.stop : i > b.stop;) {
            ASSERT_GE(i, 0);
            ASSERT_LT(i, length);
            ++walked;
            if (__builtin_add_overflow(i, b.step, &i)) break;
          }
          ASSERT_EQ(walked, b.count) << FormatIndex({S(start, stop, step)}) << " " << length;
        }
      }
    }
  }
}

}  // namespace
}  // namespace shmarray::shm
