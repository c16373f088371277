// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: errors_test.cc
// -----------------------------------------------------------------------------
// Tests for shm/errors: the exception hierarchy and Quoted(), the quoting of
// user text in every message.

#include "shmarray/shm/errors.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace shmarray::shm {
namespace {

TEST(QuotedTest, PrintableTextIsQuotedAsIs) {
  EXPECT_EQ(Quoted("temps/a"), "'temps/a'");
  EXPECT_EQ(Quoted(""), "''");
}

TEST(QuotedTest, OtherBytesAreEscaped) {
  EXPECT_EQ(Quoted(std::string("a\nb\x7f\xc3", 5)), "'a\\x0ab\\x7f\\xc3'");
  EXPECT_EQ(Quoted(std::string("\0", 1)), "'\\x00'");
}

TEST(QuotedTest, LongTextIsCut) {
  EXPECT_EQ(Quoted(std::string(121, 'x')), "'" + std::string(120, 'x') + "...'");
  EXPECT_EQ(Quoted(std::string(120, 'x')), "'" + std::string(120, 'x') + "'");
  EXPECT_EQ(Quoted("abcdef", 3), "'abc...'");
}

TEST(ErrorsTest, EachDerivesFromTheTypeCythonTranslates) {
  EXPECT_THROW(throw IndexError("x"), std::out_of_range);
  EXPECT_THROW(throw FormatError("x"), std::invalid_argument);
  EXPECT_THROW(throw ShapeError("x"), std::invalid_argument);
  EXPECT_THROW(throw IndexExprError("x"), std::invalid_argument);
  EXPECT_THROW(throw ReadOnlyError("x"), std::invalid_argument);
}

}  // namespace
}  // namespace shmarray::shm
