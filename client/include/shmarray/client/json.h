// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: json.h
// -----------------------------------------------------------------------------
// The stable JSON of the client's types, as `shmarray --json` prints it: one
// compact object per line, keys always in the same order, integers as JSON
// numbers (64-bit values exactly, e.g. generations above 2^53; parse them
// with a reader that keeps big integers, as Python's json does), strings
// escaped per RFC 8259, absent values as null. The schema:
//
// ArrayInfo (info, create, seal, copy, slice, ls "arrays" items, put "array",
// watch "array"):
//   {"name":"temps","kind":"array"|"view","format":"<d","dtype":"float64"|null,
//    "description":"double","itemsize":8,"shape":[4,6],"strides":[48,8],
//    "offset":0,"order":"C"|"F"|"C/F"|"-","size":24,"nbytes":192,
//    "readonly":false,"c_contiguous":true,"f_contiguous":false,
//    "generation":1796...,"base":"temps"|null,"base_generation":1796...|null,
//    "segment_name":"shmarray.1000.18ea...","segment_size":4288,
//    "data_offset":4096,"data_size":192,"created":"2026-03-01T09:30:12.345678901Z",
//    "created_unix_ns":1796...}
//   A selection (NAME[EXPR]) starts with "expression":"temps[::2, 1:3]".
// WatchEvent (watch, one per line):
//   {"event":"created"|"sealed"|"deleted"|"overflow","name":"temps"|null,
//    "time":"...Z","unix_ns":...,"dropped":0,"array":{ArrayInfo}|null}
// "dtype" is NumPy's name (DtypeName in npy.h) or null when NumPy has none;
// "order" is the ORDER column of `shmarray ls`.
//
// Thread-safety: pure functions; JsonObject is a value.

#ifndef SHMARRAY_CLIENT_JSON_H_
#define SHMARRAY_CLIENT_JSON_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shmarray/client/client.h"

namespace shmarray::client {

// `s` as a JSON string literal (quotes included). Bytes that are not valid
// UTF-8 are escaped as the Latin-1 characters they would be.
std::string JsonQuote(std::string_view s);

// Builds one JSON object, keys in the order they are added.
class JsonObject {
 public:
  JsonObject& AddString(std::string_view key, std::string_view value);
  // A string, or null when `value` is empty.
  JsonObject& AddStringOrNull(std::string_view key, std::string_view value);
  JsonObject& AddInt(std::string_view key, int64_t value);
  JsonObject& AddUint(std::string_view key, uint64_t value);
  JsonObject& AddBool(std::string_view key, bool value);
  JsonObject& AddNull(std::string_view key);
  JsonObject& AddInts(std::string_view key, std::span<const int64_t> values);
  JsonObject& AddStrings(std::string_view key, const std::vector<std::string>& values);
  JsonObject& AddObject(std::string_view key, const JsonObject& value);
  JsonObject& AddObjects(std::string_view key, const std::vector<JsonObject>& values);
  // "{...}".
  std::string str() const { return "{" + body_ + "}"; }

 private:
  JsonObject& AddRaw(std::string_view key, std::string_view json);
  std::string body_;
};

// "C", "F", "C/F" (both flags) or "-" (neither): the ORDER column of ls.
std::string OrderText(const ArrayInfo& info);

// "2026-03-01T09:30:12.345678901Z": a time in ns since the Unix epoch, UTC.
std::string UtcTimeString(int64_t unix_ns);

// The ArrayInfo object of the schema above; with a non-empty `expression`
// ("temps[::2, 1:3]"), the selection object that starts with it.
JsonObject ArrayInfoJson(const ArrayInfo& info, std::string_view expression = "");

// The WatchEvent object of the schema above.
JsonObject WatchEventJson(const WatchEvent& event);

}  // namespace shmarray::client

#endif  // SHMARRAY_CLIENT_JSON_H_
