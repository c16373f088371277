// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: parse.h
// -----------------------------------------------------------------------------
// The arguments of the `shmarray` commands, from text: NAME[EXPR], --order,
// --shape and --format/--dtype. Each throws UsageError (common.h) with the
// message the CLI prints. Private to the CLI (not installed).

#ifndef SHMARRAY_CLIENT_CLI_PARSE_H_
#define SHMARRAY_CLIENT_CLI_PARSE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "shmarray/shm/layout.h"

namespace shmarray::client::cli {

// NAME[EXPR]: the index is the text between the first '[' and a final ']'.
struct Target {
  std::string name;
  std::string index;
  bool has_index = false;
};

Target ParseTarget(const std::string& text);

// For commands whose array cannot be a selection (create, rm, seal).
std::string PlainName(const std::string& text, const char* command);

// "F" or "f": Fortran order; anything else (CLI11 checks it): C order.
shm::Order ParseOrder(const std::string& s);

// "3,4", "(3, 4)", "[3,4]", "3," or "" (0-d).
std::vector<int64_t> ParseShape(const std::string& text);

// The canonical format of --format (PEP 3118) or --dtype (NumPy), with a
// suggestion when the other spelling was meant.
std::string ResolveFormat(const std::string& format, const std::string& dtype);

}  // namespace shmarray::client::cli

#endif  // SHMARRAY_CLIENT_CLI_PARSE_H_
