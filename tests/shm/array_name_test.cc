// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: array_name_test.cc
// -----------------------------------------------------------------------------
// Tests for shm/array_name: which names are valid, the exact refusal messages
// (the daemon, the client and the CLI all show them), and that Create, Validate
// and IsValid agree on every input.

#include "shmarray/shm/array_name.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <string>

namespace shmarray::shm {
namespace {

using ::testing::HasSubstr;

TEST(ArrayNameTest, AcceptsValidNames) {
  for (const char* text : {"a", "x.npy", "A_b-c.1", "ns/sub/arr", "a..b", ".hidden", "..x", "0"}) {
    absl::StatusOr<ArrayName> name = ArrayName::Create(text);
    ASSERT_TRUE(name.ok()) << text << ": " << name.status();
    EXPECT_EQ(name->str(), text);
    EXPECT_EQ(std::string_view(*name), text);
    EXPECT_TRUE(ArrayName::IsValid(text)) << text;
  }
  EXPECT_TRUE(ArrayName::Create(std::string(kMaxNameLength, 'n')).ok());
}

TEST(ArrayNameTest, RejectsBadNamesAsInvalidArgument) {
  for (const char* text : {"", "/a", "a/", "a//b", "./a", "a/./b", "a/..", "..", ".", "a b", "a\\b",
                           "\xc3\xa9", "a:b", "a\nb", "a*", "a[0]"}) {
    absl::StatusOr<ArrayName> name = ArrayName::Create(text);
    EXPECT_TRUE(absl::IsInvalidArgument(name.status())) << "'" << text << "': " << name.status();
    EXPECT_FALSE(ArrayName::IsValid(text)) << text;
  }
  EXPECT_TRUE(absl::IsInvalidArgument(ArrayName::Validate(std::string(kMaxNameLength + 1, 'n'))));
}

TEST(ArrayNameTest, MessagesSayWhatIsWrong) {
  auto message = [](std::string_view text) {
    return std::string(ArrayName::Validate(text).message());
  };
  EXPECT_EQ(message(""), "invalid name '': a name may not be empty");
  EXPECT_EQ(message(std::string(300, 'n')),
            "invalid name: 300 characters; at most 255 are allowed");
  EXPECT_EQ(message("a b"),
            "invalid name 'a b': character ' ' at position 1 is not allowed (use letters, digits, "
            "'.', '_', '-' and '/')");
  EXPECT_THAT(message(std::string("ab\x01", 3)), HasSubstr("character '\\x01' at position 2"));
  EXPECT_EQ(message("/a"), "invalid name '/a': it may not start or end with '/'");
  EXPECT_EQ(message("a//b"), "invalid name 'a//b': empty component ('//')");
  EXPECT_EQ(message("a/../b"), "invalid name 'a/../b': component '..' is not allowed");
}

TEST(ArrayNameTest, NamesCompareByteByByte) {
  const ArrayName a = *ArrayName::Create("a/b");
  const ArrayName b = *ArrayName::Create("a/c");
  EXPECT_EQ(a, *ArrayName::Create("a/b"));
  EXPECT_LT(a, b);
  EXPECT_NE(a, *ArrayName::Create("A/b"));
}

// Random short strings over an alphabet that hits every rule: Create,
// Validate and IsValid must agree, and a valid name round-trips.
TEST(ArrayNameTest, CreateValidateAndIsValidAgree) {
  std::mt19937 rng(12345);
  const std::string alphabet = "ab./_-/ \x01";
  int valid = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string text(rng() % 8, ' ');
    for (char& c : text) c = alphabet[rng() % alphabet.size()];
    const absl::Status status = ArrayName::Validate(text);
    EXPECT_EQ(status.ok(), ArrayName::IsValid(text)) << text;
    EXPECT_EQ(status.ok(), ArrayName::Create(text).ok()) << text;
    if (!status.ok()) {
      EXPECT_TRUE(absl::IsInvalidArgument(status)) << text;
      EXPECT_THAT(std::string(status.message()), HasSubstr("invalid name")) << text;
    }
    valid += status.ok();
  }
  EXPECT_GT(valid, 1000);  // the alphabet makes plenty of both kinds
}

}  // namespace
}  // namespace shmarray::shm
