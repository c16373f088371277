// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: format_fuzzer.cc
// -----------------------------------------------------------------------------
// libFuzzer target for the PEP 3118 format parser (shm::Format::Parse). The
// input is the format text. Besides "no crash, no sanitizer report, no
// exception other than FormatError", it checks what the parser promises:
//   - an error names the position of the fault;
//   - the work is linear in the text (Format::TEST_last_parse_steps);
//   - the canonical form parses to itself with the same itemsize, which is in
//     [1, kMaxItemsizeBytes], and whose alignment is a power of two <= 16.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "shmarray/shm/errors.h"
#include "shmarray/shm/format.h"

namespace {

using shmarray::shm::Format;
using shmarray::shm::FormatError;

// Same bound as tests/shm/format_test.cc.
constexpr int64_t kMaxStepsPerChar = 16;
constexpr int64_t kFixedSteps = 512;

void CheckLinear(std::string_view text) {
  const int64_t steps = Format::TEST_last_parse_steps();
  SHMARRAY_FUZZ_CHECK(
      steps <= kMaxStepsPerChar * static_cast<int64_t>(text.size()) + kFixedSteps,
      std::to_string(steps) + " steps for " + std::to_string(text.size()) + " characters");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Format f;
  try {
    f = Format::Parse(text);
  } catch (const FormatError& e) {
    CheckLinear(text);
    const std::string_view what = e.what();
    SHMARRAY_FUZZ_CHECK(
        what.find("is not a valid PEP 3118 buffer format string") != std::string_view::npos, what);
    SHMARRAY_FUZZ_CHECK(what.find(" at position ") != std::string_view::npos, what);
    return 0;
  }
  CheckLinear(text);
  SHMARRAY_FUZZ_CHECK(f.itemsize() >= 1 && f.itemsize() <= shmarray::shm::kMaxItemsizeBytes,
                      f.canonical());
  SHMARRAY_FUZZ_CHECK(
      f.alignment() >= 1 && f.alignment() <= 16 && (f.alignment() & (f.alignment() - 1)) == 0,
      f.canonical());
  SHMARRAY_FUZZ_CHECK(!f.canonical().empty() && !f.description().empty(), text);
  Format again;
  try {
    again = Format::Parse(f.canonical());
  } catch (const FormatError& e) {
    shmarray::fuzz::Fail("the canonical form does not parse", std::string(e.what()));
  }
  SHMARRAY_FUZZ_CHECK(again.canonical() == f.canonical(),
                      f.canonical() + " -> " + again.canonical());
  SHMARRAY_FUZZ_CHECK(again.itemsize() == f.itemsize(), f.canonical());
  SHMARRAY_FUZZ_CHECK(again == f, f.canonical());
  return 0;
}
