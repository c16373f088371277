// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: npy_header_fuzzer.cc
// -----------------------------------------------------------------------------
// libFuzzer target for the .npy header parser (client::ParseNpyHeader) and
// the descr <-> PEP 3118 conversions. The first input byte picks a mode:
//   0: the rest is a whole file prefix (magic, version, length, dict, data);
//   1: the rest is the dict text, wrapped in a valid version 1.0 preamble
//      (so the Python-literal parser is reached without guessing lengths);
//   2: the rest is a descr literal (client::DescrToFormat).
// Checks: only NpyError escapes; a parsed header is self-consistent
// (data_bytes = product(shape) * itemsize, the format fits the itemsize, the
// layout is valid); and what parses survives a round trip through
// MakeNpyHeader / FormatToDescr with the same format, shape, itemsize and
// order.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "shmarray/client/npy.h"
#include "shmarray/shm/errors.h"
#include "shmarray/shm/format.h"

namespace {

using shmarray::client::NpyError;
using shmarray::client::NpyHeader;
namespace shm = shmarray::shm;

void CheckHeader(const NpyHeader& h, std::string_view input) {
  SHMARRAY_FUZZ_CHECK(h.itemsize >= h.format.itemsize() && h.itemsize >= 1, input);
  SHMARRAY_FUZZ_CHECK(h.shape.size() <= static_cast<size_t>(shm::kMaxDims), input);
  SHMARRAY_FUZZ_CHECK(h.layout().nbytes() == h.data_bytes, input);
  SHMARRAY_FUZZ_CHECK(h.header_bytes >= 10 && h.header_bytes <= static_cast<int64_t>(input.size()),
                      input);
  std::string again;
  try {
    again = shmarray::client::MakeNpyHeader(h.format, h.itemsize, h.shape, h.order());
  } catch (const NpyError& e) {
    shmarray::fuzz::Fail("a header that parses cannot be written back", e.what());
  }
  NpyHeader back;
  try {
    back = shmarray::client::ParseNpyHeader(again);
  } catch (const NpyError& e) {
    shmarray::fuzz::Fail("MakeNpyHeader wrote a header that does not parse",
                         again + ": " + e.what());
  }
  SHMARRAY_FUZZ_CHECK(back.itemsize == h.itemsize, again);
  SHMARRAY_FUZZ_CHECK(back.shape == h.shape, again);
  SHMARRAY_FUZZ_CHECK(back.fortran_order == h.fortran_order, again);
  SHMARRAY_FUZZ_CHECK(back.data_bytes == h.data_bytes, again);
  SHMARRAY_FUZZ_CHECK(back.header_bytes == static_cast<int64_t>(again.size()), again);
  // A format with trailing padding comes back as a struct with a padding
  // field: the same bytes, compared through the descr.
  SHMARRAY_FUZZ_CHECK(shmarray::client::FormatToDescr(back.format, back.itemsize) ==
                          shmarray::client::FormatToDescr(h.format, h.itemsize),
                      again);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int mode = data[0] % 3;
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    if (mode == 0) {
      CheckHeader(shmarray::client::ParseNpyHeader(rest), rest);
    } else if (mode == 1) {
      std::string file("\x93NUMPY\x01\x00", 8);
      const size_t len = rest.size() > 65535 ? 65535 : rest.size();
      file.push_back(static_cast<char>(len & 0xff));
      file.push_back(static_cast<char>(len >> 8));
      file.append(rest.substr(0, len));
      CheckHeader(shmarray::client::ParseNpyHeader(file), file);
    } else {
      const std::string canonical = shmarray::client::DescrToFormat(rest);
      shm::Format f;
      try {
        f = shm::Format::Parse(canonical);
      } catch (const shm::FormatError& e) {
        shmarray::fuzz::Fail("DescrToFormat returned a format that does not parse", e.what());
      }
      SHMARRAY_FUZZ_CHECK(f.canonical() == canonical, canonical);
      std::string descr;
      try {
        descr = shmarray::client::FormatToDescr(f);
      } catch (const NpyError& e) {
        shmarray::fuzz::Fail("a format from a descr has no descr", canonical + ": " + e.what());
      }
      // A top-level sub-array such as (2)? is written as a one-field struct
      // (so that np.load keeps the array's shape): it comes back as that
      // struct, T{(2)?:f0:}. Anything else comes back as it was.
      const std::string back = shmarray::client::DescrToFormat(descr);
      SHMARRAY_FUZZ_CHECK(back == canonical || back == "T{" + canonical + ":f0:}",
                          descr + " -> " + back);
    }
  } catch (const NpyError&) {
  }
  return 0;
}
