// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: array_name_test.cc
// -----------------------------------------------------------------------------
// Tests for shm/array_name: which names are valid, the exact refusal messages
// (the daemon, the client and the CLI all show them), and that Create, Validate
// and IsValid agree with the rule as array_name.h states it on random input.

#include "shmarray/shm/array_name.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

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

// The rule as array_name.h states it, written independently of
// array_name.cc: 1-255 characters of [A-Za-z0-9._-] and '/', where '/'
// separates components, none of which is empty, "." or "..".
bool FollowsTheDocumentedRule(const std::string& text) {
  static const std::string kAllowed =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-/";
  if (text.empty() || text.size() > 255) return false;
  if (text.find_first_not_of(kAllowed) != std::string::npos) return false;
  std::vector<std::string> components(1);
  for (char c : text) {
    if (c == '/') {
      components.emplace_back();
    } else {
      components.back().push_back(c);
    }
  }
  for (const std::string& component : components) {
    if (component.empty() || component == "." || component == "..") return false;
  }
  return true;
}

// Random strings, short ones over an alphabet that hits every rule (and
// bytes just outside the allowed ranges) and long ones around the length
// limit: Validate, IsValid and Create agree with FollowsTheDocumentedRule.
TEST(ArrayNameTest, AgreesWithTheDocumentedRule) {
  std::mt19937 rng(12345);
  // Every allowed class, '/' and '.' often (for "//", "." and ".."), the
  // neighbours of the allowed ranges ('@' '[' '`' '{' ':' ',' '+'), control,
  // DEL and non-ASCII bytes, NUL.
  const std::string alphabet = std::string("azAZ09.././_-") + "@[`{:,+ \\*~" +
                               std::string("\x00\x01\x1f\x7f\x80\xc3\xa9\xff", 8);
  const std::string name_chars = "abcXYZ0189._-";
  int valid = 0;
  int invalid = 0;
  auto check = [&](const std::string& text) {
    const bool expected = FollowsTheDocumentedRule(text);
    const absl::Status status = ArrayName::Validate(text);
    EXPECT_EQ(status.ok(), expected)
        << "'" << text << "' (" << text.size() << " bytes): " << status;
    EXPECT_EQ(ArrayName::IsValid(text), expected) << text;
    const absl::StatusOr<ArrayName> name = ArrayName::Create(text);
    EXPECT_EQ(name.ok(), expected) << text;
    if (name.ok()) {
      EXPECT_EQ(name->str(), text);
    }
    if (!status.ok()) {
      EXPECT_TRUE(absl::IsInvalidArgument(status)) << text;
      EXPECT_THAT(std::string(status.message()), HasSubstr("invalid name")) << text;
    }
    ++(expected ? valid : invalid);
  };
  for (int i = 0; i < 20000; ++i) {
    std::string text(rng() % 9, ' ');
    for (char& c : text) c = alphabet[rng() % alphabet.size()];
    check(text);
  }
  // Around the limit: names of allowed characters (a '/' now and then), some
  // with one character replaced by any of the alphabet.
  for (size_t length : {size_t{1}, size_t{2}, size_t{3}, kMaxNameLength - 1, kMaxNameLength,
                        kMaxNameLength + 1, size_t{300}}) {
    for (int i = 0; i < 500; ++i) {
      std::string text(length, ' ');
      for (char& c : text) c = rng() % 16 == 0 ? '/' : name_chars[rng() % name_chars.size()];
      if (rng() % 4 == 0) text[rng() % length] = alphabet[rng() % alphabet.size()];
      check(text);
    }
  }
  check(std::string(kMaxNameLength, 'n'));
  check(std::string(kMaxNameLength + 1, 'n'));
  EXPECT_GT(valid, 1500);  // the alphabets make plenty of both kinds
  EXPECT_GT(invalid, 1500);
}

}  // namespace
}  // namespace shmarray::shm
