// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: index_fuzzer.cc
// -----------------------------------------------------------------------------
// libFuzzer target for the index-expression parser (shm::ParseIndex) and
// Layout::slice. The input is the index text. Checks:
//   - errors are IndexExprError naming the expression;
//   - at most kMaxIndexItems items; FormatIndex round-trips exactly;
//   - applied to a set of real layouts (C, Fortran, negative, zero and
//     extent-1 strides, empty, 0-d) over heap buffers of exactly their size,
//     the result is either an IndexError / IndexExprError / ShapeError or a
//     layout that stays inside the buffer, and copying every item it selects
//     reads only the buffer (AddressSanitizer checks each byte).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_util.h"
#include "shmarray/shm/any_view.h"
#include "shmarray/shm/errors.h"
#include "shmarray/shm/format.h"
#include "shmarray/shm/index.h"
#include "shmarray/shm/layout.h"

namespace {

using namespace shmarray::shm;  // NOLINT(google-build-using-namespace): a test driver

Layout Make(int64_t itemsize, std::vector<int64_t> shape, std::vector<int64_t> strides,
            int64_t offset) {
  Layout l;
  l.itemsize = itemsize;
  l.shape = std::move(shape);
  l.strides = std::move(strides);
  l.offset = offset;
  return l;
}

struct Target {
  Layout layout;
  int64_t buffer_bytes;
};

const std::vector<Target>& Targets() {
  static const auto* targets = new std::vector<Target>{
      {Layout::Contiguous(8, {4, 5, 6}, Order::kC), 960},
      {Layout::Contiguous(2, {3, 1, 7}, Order::kF), 42},
      // Reversed axes: item [0,0] is the last one in memory.
      {Make(4, {3, 4}, {-16, -4}, 44), 48},
      // A broadcast axis and an extent-1 axis with an odd stride.
      {Make(8, {5, 1, 3}, {0, 1000, 8}, 0), 24},
      {Layout::Contiguous(1, {0, 3}, Order::kC), 0},
      {Layout::Contiguous(16, {}, Order::kC), 16},
      {Layout::Contiguous(1, {2, 2, 2, 2, 2, 2, 2, 2}, Order::kC), 256},
  };
  return *targets;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  IndexExpr expr;
  try {
    expr = ParseIndex(text);
  } catch (const IndexExprError& e) {
    const std::string_view what = e.what();
    SHMARRAY_FUZZ_CHECK(what.rfind("invalid index expression", 0) == 0, what);
    return 0;
  }
  SHMARRAY_FUZZ_CHECK(expr.size() <= kMaxIndexItems, text);
  const std::string printed = FormatIndex(expr);
  try {
    SHMARRAY_FUZZ_CHECK(ParseIndex(printed) == expr, printed);
  } catch (const IndexExprError& e) {
    shmarray::fuzz::Fail("FormatIndex output does not parse", e.what());
  }

  for (const Target& t : Targets()) {
    Layout r;
    try {
      r = t.layout.slice(expr);
    } catch (const IndexError&) {
      continue;
    } catch (const IndexExprError&) {
      continue;
    } catch (const ShapeError&) {
      continue;
    }
    SHMARRAY_FUZZ_CHECK(r.itemsize == t.layout.itemsize, printed);
    SHMARRAY_FUZZ_CHECK(r.size() <= t.layout.size() || t.layout.size() == 0, printed);
    if (t.layout.size() == 0) continue;  // an integer may move the offset anywhere (NumPy)
    try {
      r.CheckWithin(t.buffer_bytes);
    } catch (const ShapeError& e) {
      shmarray::fuzz::Fail("a view of an in-bounds layout is out of bounds",
                           printed + ": " + r.DebugString() + ": " + e.what());
    }
    // Read every selected item from a buffer of exactly the right size.
    std::vector<std::byte> buffer(static_cast<size_t>(t.buffer_bytes), std::byte{7});
    const AnyView view(Format::Parse(std::to_string(r.itemsize) + "s"), r, buffer.data(), true,
                       nullptr);
    const AnyView copy = view.copy(Order::kC);
    SHMARRAY_FUZZ_CHECK(copy.nbytes() == r.nbytes(), printed);
    for (int64_t i = 0; i < copy.nbytes(); ++i) {
      SHMARRAY_FUZZ_CHECK(copy.data()[i] == std::byte{7}, printed);
    }
  }
  return 0;
}
