// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: utf8.h
// -----------------------------------------------------------------------------
// Strict UTF-8 (RFC 3629): the one decoder (and encoder) of the client
// library, for .npy headers (py_literal.cc, npy.cc) and JSON output
// (json.cc). Well-formed means: the shortest form of a code point up to
// U+10FFFF that is not a surrogate (U+D800..U+DFFF). Private to client/src.
//
//   uint32_t cp;
//   DecodeUtf8Char("\xc3\xa9!", &cp);  // 2, cp == 0xE9
//   DecodeUtf8Char("\xc0\x80", &cp);   // 0: an overlong NUL
//
// Thread-safety: pure functions.

#ifndef SHMARRAY_CLIENT_SRC_UTF8_H_
#define SHMARRAY_CLIENT_SRC_UTF8_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shmarray::client::internal {

// Length in bytes (1-4) of the well-formed UTF-8 sequence that `s` starts
// with, its code point in `*cp`; 0 (and `*cp` unspecified) if `s` is empty or
// does not start with one: a continuation byte or 0xF8..0xFF first, a
// sequence cut short by the end of `s` or by a byte that is not a
// continuation, an overlong form, a surrogate, a value above U+10FFFF.
size_t DecodeUtf8Char(std::string_view s, uint32_t* cp);

// Decodes all of `s`, appending its code points to `*out`; false (with
// `*out` holding those before the fault) if `s` is not well-formed UTF-8.
bool DecodeUtf8(std::string_view s, std::vector<uint32_t>* out);

// Appends code point `cp` (at most U+10FFFF) as UTF-8.
void AppendUtf8(uint32_t cp, std::string* out);

}  // namespace shmarray::client::internal

#endif  // SHMARRAY_CLIENT_SRC_UTF8_H_
