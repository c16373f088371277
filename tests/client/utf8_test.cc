// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: utf8_test.cc
// -----------------------------------------------------------------------------
// Tests for the private UTF-8 decoder and encoder (client/src/utf8.h) that
// .npy headers and JSON output share: the edge cases of each rule (overlong
// forms, surrogates, values above U+10FFFF, truncated sequences, stray
// continuation bytes), every sequence of up to three bytes against the
// encoder, and every code point through both.

#include "utf8.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shmarray::client::internal {
namespace {

// The length DecodeUtf8Char gives `s`, and the code point when it is not 0.
struct Decoded {
  size_t length;
  uint32_t cp;
  bool operator==(const Decoded&) const = default;
};

Decoded Decode(std::string_view s) {
  uint32_t cp = 0;
  const size_t length = DecodeUtf8Char(s, &cp);
  return {length, length == 0 ? 0 : cp};
}

TEST(Utf8Test, WellFormedSequencesAtEveryBoundary) {
  EXPECT_EQ(Decode(std::string_view("\0", 1)), (Decoded{1, 0}));
  EXPECT_EQ(Decode("A"), (Decoded{1, 0x41}));
  EXPECT_EQ(Decode("\x7f"), (Decoded{1, 0x7F}));
  EXPECT_EQ(Decode("\xc2\x80"), (Decoded{2, 0x80}));
  EXPECT_EQ(Decode("\xc3\xa9"), (Decoded{2, 0xE9}));
  EXPECT_EQ(Decode("\xdf\xbf"), (Decoded{2, 0x7FF}));
  EXPECT_EQ(Decode("\xe0\xa0\x80"), (Decoded{3, 0x800}));
  EXPECT_EQ(Decode("\xed\x9f\xbf"), (Decoded{3, 0xD7FF}));  // below the surrogates
  EXPECT_EQ(Decode("\xee\x80\x80"), (Decoded{3, 0xE000}));  // above them
  EXPECT_EQ(Decode("\xef\xbf\xbf"), (Decoded{3, 0xFFFF}));
  EXPECT_EQ(Decode("\xf0\x90\x80\x80"), (Decoded{4, 0x10000}));
  EXPECT_EQ(Decode("\xf4\x8f\xbf\xbf"), (Decoded{4, 0x10FFFF}));
  // Only the first character is read.
  EXPECT_EQ(Decode("\xc3\xa9\xff"), (Decoded{2, 0xE9}));
  EXPECT_EQ(Decode("ab"), (Decoded{1, 0x61}));
}

TEST(Utf8Test, MalformedSequencesAreRefused) {
  for (const char* bad : {
           "\x80",                      // continuation bytes first
           "\xbf",                      //   (the last one)
           "\xc0\x80",                  // overlong NUL
           "\xc1\xbf",                  // overlong U+007F
           "\xe0\x80\x80",              // overlong NUL in three bytes
           "\xe0\x9f\xbf",              // overlong U+07FF
           "\xf0\x80\x80\x80",          // overlong NUL in four bytes
           "\xf0\x8f\xbf\xbf",          // overlong U+FFFF
           "\xed\xa0\x80",              // U+D800, the first surrogate
           "\xed\xbf\xbf",              // U+DFFF, the last
           "\xf4\x90\x80\x80",          // U+110000
           "\xf5\x80\x80\x80",          // a lead byte only ever above U+10FFFF
           "\xf7\xbf\xbf\xbf",          // U+1FFFFF
           "\xf8\x88\x80\x80\x80",      // five bytes (the old U+200000 form)
           "\xfc\x84\x80\x80\x80\x80",  // six
           "\xfe",                      // never in UTF-8
           "\xff",                      //   (nor this)
           "\xc3",                      // truncated by the end
           "\xe2\x82",                  //   (of three bytes)
           "\xf0\x9f\x98",              //   (of four)
           "\xc3\x41",                  // cut short by an 'A', no continuation
           "\xe2\x82\x41",              //   (of three bytes)
           "\xf0\x9f\x98\x41",          //   (of four)
           "\xe2\x41\x82",              //   (the 'A' in the middle)
       }) {
    EXPECT_EQ(Decode(bad).length, 0u) << ::testing::PrintToString(std::string(bad));
    std::vector<uint32_t> cps;
    EXPECT_FALSE(DecodeUtf8(std::string("ok") + bad + "ok", &cps))
        << ::testing::PrintToString(std::string(bad));
  }
  EXPECT_EQ(Decode("").length, 0u);  // nothing to decode
  // The end of `s` cuts a sequence short, whatever follows it in memory.
  EXPECT_EQ(Decode(std::string_view("\xe2\x82\xac", 2)).length, 0u);
  EXPECT_EQ(Decode(std::string_view("\xf0\x9f\x98\x80", 3)).length, 0u);
  // A NUL byte is no continuation byte either.
  EXPECT_EQ(Decode(std::string_view("\xc3\0", 2)).length, 0u);
}

TEST(Utf8Test, DecodesWholeStrings) {
  std::vector<uint32_t> cps;
  ASSERT_TRUE(DecodeUtf8("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", &cps));
  EXPECT_EQ(cps, (std::vector<uint32_t>{0x61, 0xE9, 0x20AC, 0x1F600}));
  cps.clear();
  EXPECT_TRUE(DecodeUtf8("", &cps));
  EXPECT_TRUE(cps.empty());
  // A fault in the middle: false, with the code points before it.
  EXPECT_FALSE(DecodeUtf8("ab\xed\xa0\x80xy", &cps));
  EXPECT_EQ(cps, (std::vector<uint32_t>{0x61, 0x62}));
}

// Every code point but the surrogates encodes to 1-4 bytes that decode back
// to it, in the length the ranges give.
TEST(Utf8Test, EveryCodePointRoundTrips) {
  for (uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    std::string s;
    AppendUtf8(cp, &s);
    const size_t expected = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    ASSERT_EQ(s.size(), expected) << cp;
    ASSERT_EQ(Decode(s), (Decoded{expected, cp})) << cp;
  }
}

// Every sequence of one to three bytes: it decodes whole exactly when it is
// the encoding of a code point, and there are as many such sequences as
// code points of that length (U+0800..U+FFFF less the 2048 surrogates).
TEST(Utf8Test, EveryShortSequenceDecodesOnlyIfItIsAnEncoding) {
  size_t whole[4] = {0, 0, 0, 0};
  for (uint32_t n = 0; n < (1u << 24); ++n) {
    const char bytes[3] = {static_cast<char>(n >> 16), static_cast<char>(n >> 8),
                           static_cast<char>(n)};
    for (size_t size = 1; size <= 3; ++size) {
      if (size < 3 && (n >> (8 * size)) != 0) continue;  // each shorter sequence once
      const std::string_view s(bytes + 3 - size, size);
      uint32_t cp = 0;
      const size_t length = DecodeUtf8Char(s, &cp);
      if (length != size) continue;
      std::string encoded;
      AppendUtf8(cp, &encoded);
      ASSERT_EQ(encoded, s) << n;
      ++whole[size];
    }
  }
  EXPECT_EQ(whole[1], 0x80u);
  EXPECT_EQ(whole[2], 0x800u - 0x80u);
  EXPECT_EQ(whole[3], 0x10000u - 0x800u - 0x800u);
}

}  // namespace
}  // namespace shmarray::client::internal
