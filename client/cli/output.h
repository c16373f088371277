// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: output.h
// -----------------------------------------------------------------------------
// How the `shmarray` CLI shows what the daemon returns, as text or, with
// --json, as the stable JSON of client/json.h (one object per line): an
// ArrayInfo (info, create, seal, slice, copy), the table of `ls`, a watch
// event, and the progress of get/put on stderr. Private to the CLI (not
// installed).

#ifndef SHMARRAY_CLIENT_CLI_OUTPUT_H_
#define SHMARRAY_CLIENT_CLI_OUTPUT_H_

#include <string>
#include <vector>

#include "shmarray/client/client.h"
#include "shmarray/client/json.h"

namespace shmarray::client::cli {

// `o` on one line of stdout.
void PrintJsonLine(const JsonObject& o);

// Every field of `a` on stdout: one "key: value" line each, or with `json`
// one JSON object. `expression` ("x[::2]") is printed first when not empty.
void PrintInfo(const ArrayInfo& a, bool json, const std::string& expression = "");

// The table of `shmarray ls` (NAME, FORMAT, DTYPE, SHAPE, ORDER, BYTES, FLAGS).
void PrintTable(const std::vector<ArrayInfo>& arrays);

// One line for an event of `shmarray watch`.
void PrintWatchEvent(const WatchEvent& e, bool json);

// "\rget x: 45% 120/268 MiB" on stderr when it is a terminal; nullptr otherwise.
ProgressCallback MakeProgress(const std::string& label);

}  // namespace shmarray::client::cli

#endif  // SHMARRAY_CLIENT_CLI_OUTPUT_H_
