// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: json_test.cc
// -----------------------------------------------------------------------------
// Tests of client/src/json.cc: string escaping, times, and the ArrayInfo and
// WatchEvent objects of the CLI's --json schema (key order pinned).

#include "shmarray/client/json.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "shmarray/shm/format.h"
#include "shmarray/shm/layout.h"

namespace shmarray::client {
namespace {

TEST(JsonTest, StringsAreEscaped) {
  EXPECT_EQ(JsonQuote("plain"), "\"plain\"");
  EXPECT_EQ(JsonQuote("<d"), "\"<d\"");  // no \u003c
  EXPECT_EQ(JsonQuote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(JsonQuote("\n\t\r\b\f"), "\"\\n\\t\\r\\b\\f\"");
  EXPECT_EQ(JsonQuote(std::string("\x01\x7f", 2)), "\"\\u0001\\u007f\"");
  EXPECT_EQ(JsonQuote("caf\xc3\xa9"), "\"caf\xc3\xa9\"");             // UTF-8 as is
  EXPECT_EQ(JsonQuote("bad\xe9"), "\"bad\\u00e9\"");                  // not UTF-8: Latin-1
  EXPECT_EQ(JsonQuote("\xed\xa0\x80"), "\"\\u00ed\\u00a0\\u0080\"");  // a surrogate: Latin-1 too
  EXPECT_EQ(JsonQuote("\xf0\x9f\x98\x80"), "\"\xf0\x9f\x98\x80\"");   // four bytes as is
}

TEST(JsonTest, ObjectsKeepTheirKeyOrder) {
  JsonObject o;
  o.AddString("s", "x")
      .AddInt("i", -5)
      .AddUint("u", 18446744073709551615u)
      .AddBool("b", true)
      .AddNull("n")
      .AddStringOrNull("e", "")
      .AddInts("a", std::vector<int64_t>{1, -2})
      .AddStrings("l", {"p", "q"})
      .AddObject("o", JsonObject().AddInt("k", 1))
      .AddObjects("os", {JsonObject(), JsonObject().AddBool("z", false)});
  EXPECT_EQ(o.str(),
            "{\"s\":\"x\",\"i\":-5,\"u\":18446744073709551615,\"b\":true,\"n\":null,\"e\":null,"
            "\"a\":[1,-2],\"l\":[\"p\",\"q\"],\"o\":{\"k\":1},\"os\":[{},{\"z\":false}]}");
}

TEST(JsonTest, UtcTimes) {
  EXPECT_EQ(UtcTimeString(0), "1970-01-01T00:00:00.000000000Z");
  EXPECT_EQ(UtcTimeString(1796170765585566474), "2026-12-02T00:19:25.585566474Z");
  EXPECT_EQ(UtcTimeString(-1), "1969-12-31T23:59:59.999999999Z");
}

ArrayInfo SampleView() {
  ArrayInfo a;
  a.name = "temps-even";
  a.format = shm::Format::Parse("d");
  a.layout = shm::Layout{8, {2, 2}, {96, 8}, 8};
  a.kind = ArrayKind::kView;
  a.base = "temps";
  a.base_generation = 10000000000000000001u;
  a.generation = 10000000000000000002u;
  a.segment_name = "shmarray.0.18ea";
  a.segment_size = 4288;
  a.data_offset = 4096;
  a.data_size = 192;
  a.created_unix_ns = 1796170765585566474;
  return a;
}

TEST(JsonTest, ArrayInfoSchema) {
  EXPECT_EQ(
      ArrayInfoJson(SampleView(), "temps[::2, 1:3]").str(),
      "{\"expression\":\"temps[::2, 1:3]\",\"name\":\"temps-even\",\"kind\":\"view\","
      "\"format\":\"<d\",\"dtype\":\"float64\",\"description\":\"double\",\"itemsize\":8,"
      "\"shape\":[2,2],\"strides\":[96,8],\"offset\":8,\"order\":\"-\",\"size\":4,"
      "\"nbytes\":32,\"readonly\":false,\"c_contiguous\":false,\"f_contiguous\":false,"
      "\"generation\":10000000000000000002,\"base\":\"temps\","
      "\"base_generation\":10000000000000000001,\"segment_name\":\"shmarray.0.18ea\","
      "\"segment_size\":4288,\"data_offset\":4096,\"data_size\":192,"
      "\"created\":\"2026-12-02T00:19:25.585566474Z\",\"created_unix_ns\":1796170765585566474}");
  ArrayInfo p = SampleView();
  p.format = shm::Format::Parse("5p");  // no NumPy dtype
  p.layout = shm::Layout{5, {3}, {5}, 0};
  p.kind = ArrayKind::kArray;
  p.c_contiguous = p.f_contiguous = true;
  const std::string json = ArrayInfoJson(p).str();
  EXPECT_NE(json.find("\"dtype\":null"), std::string::npos) << json;
  EXPECT_NE(json.find("\"order\":\"C/F\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"base\":null,\"base_generation\":null"), std::string::npos) << json;
}

TEST(JsonTest, WatchEventSchema) {
  WatchEvent e;
  e.type = WatchEvent::Type::kOverflow;
  e.unix_ns = 0;
  e.dropped = 7;
  EXPECT_EQ(WatchEventJson(e).str(),
            "{\"event\":\"overflow\",\"name\":null,\"time\":\"1970-01-01T00:00:00.000000000Z\","
            "\"unix_ns\":0,\"dropped\":7,\"array\":null}");
  e.type = WatchEvent::Type::kSealed;
  e.name = "temps-even";
  e.info = SampleView();
  e.dropped = 0;
  const std::string json = WatchEventJson(e).str();
  EXPECT_EQ(json.rfind("{\"event\":\"sealed\",\"name\":\"temps-even\",", 0), 0u) << json;
  EXPECT_NE(json.find(",\"array\":{\"name\":\"temps-even\","), std::string::npos) << json;
}

}  // namespace
}  // namespace shmarray::client
