// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: py_literal_test.cc
// -----------------------------------------------------------------------------
// Tests for the private Python-literal parser of .npy headers and NumPy's
// dtype list syntax (client/src/py_literal.cc): values, bounds, errors,
// Python's str repr and UTF-8 <-> latin-1.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "npy_internal.h"

namespace shmarray::client::internal {
namespace {

using ::testing::HasSubstr;

std::string ErrorOf(std::string_view text) {
  try {
    ParsePyLiteral(text);
  } catch (const NpyError& e) {
    return e.what();
  }
  return "no error";
}

TEST(PyLiteralTest, HeaderDict) {
  const PyValue v = ParsePyLiteral("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }");
  ASSERT_EQ(v.kind, PyValue::Kind::kDict);
  ASSERT_EQ(v.items.size(), 6u);  // key, value, ...
  EXPECT_EQ(v.items[0].str, "descr");
  EXPECT_EQ(v.items[1].str, "<f8");
  EXPECT_EQ(v.items[3].kind, PyValue::Kind::kBool);
  EXPECT_FALSE(v.items[3].boolean);
  ASSERT_EQ(v.items[5].kind, PyValue::Kind::kTuple);
  ASSERT_EQ(v.items[5].items.size(), 2u);
  EXPECT_EQ(v.items[5].items[1].integer, 4);
}

TEST(PyLiteralTest, ListsTuplesStringsAndNone) {
  const PyValue v = ParsePyLiteral("[('x', \"<f8\"), ('y', '<i4', (2,))]");
  ASSERT_EQ(v.kind, PyValue::Kind::kList);
  ASSERT_EQ(v.items.size(), 2u);
  EXPECT_EQ(v.items[1].items[2].items[0].integer, 2);
  EXPECT_EQ(ParsePyLiteral("None").kind, PyValue::Kind::kNone);
  EXPECT_EQ(ParsePyLiteral("()").items.size(), 0u);
  EXPECT_EQ(ParsePyLiteral("'a\\'b'").str, "a'b");
}

TEST(PyLiteralTest, ErrorsNameThePosition) {
  EXPECT_THAT(ErrorOf("{'a': 1} x"), HasSubstr("unexpected text after the literal at position"));
  EXPECT_THAT(ErrorOf("__import__('os')"), HasSubstr("invalid header"));
  EXPECT_THAT(ErrorOf("(1, 2"), HasSubstr("invalid header"));
}

TEST(PyLiteralTest, NestingIsBounded) {
  EXPECT_NO_THROW(ParsePyLiteral(std::string(30, '[') + std::string(30, ']')));
  EXPECT_THAT(ErrorOf(std::string(1000, '[') + std::string(1000, ']')),
              HasSubstr("invalid header"));
}

TEST(PyReprTest, AsPythonWritesIt) {
  EXPECT_EQ(PyRepr("x"), "'x'");
  EXPECT_EQ(PyRepr("it's"), "\"it's\"");
  EXPECT_EQ(PyRepr("a\nb"), "'a\\nb'");
}

TEST(Latin1Test, RoundTripsAndRejectsWideCharacters) {
  const std::string utf8 = Latin1ToUtf8("caf\xe9");
  EXPECT_EQ(utf8, "caf\xc3\xa9");
  std::string back;
  ASSERT_TRUE(Utf8ToLatin1(utf8, &back));
  EXPECT_EQ(back, "caf\xe9");
  EXPECT_FALSE(Utf8ToLatin1("\xe2\x82\xac", &back));  // the euro sign
  EXPECT_FALSE(Utf8ToLatin1("\xc3", &back));          // not UTF-8 (utf8_test.cc)
  EXPECT_FALSE(Utf8ToLatin1("\xe0\x83\xa9", &back));  // U+00E9 overlong, in three bytes
}

}  // namespace
}  // namespace shmarray::client::internal
