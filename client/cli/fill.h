// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: fill.h
// -----------------------------------------------------------------------------
// `shmarray create --fill VALUE`: one item of a scalar format (or of a
// subarray of one, "(2,3)d") from text: an integer (decimal or 0x hex), a
// float, a complex (1+2j), true/false, a character or a byte string, in the
// format's byte order. Private to the CLI (not installed).

#ifndef SHMARRAY_CLIENT_CLI_FILL_H_
#define SHMARRAY_CLIENT_CLI_FILL_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace shmarray::client::cli {

// The bytes of one item of `format_text` holding `text`, padded with zeros
// to `itemsize` when that is larger. Throws UsageError (common.h) for a
// value the format cannot hold or a format --fill does not support (a
// struct); messages name the format as `format_text` spells it.
std::vector<std::byte> EncodeFill(const std::string& format_text, int64_t itemsize,
                                  const std::string& text);

}  // namespace shmarray::client::cli

#endif  // SHMARRAY_CLIENT_CLI_FILL_H_
