// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: fuzz_util.h
// -----------------------------------------------------------------------------
// Helpers shared by the libFuzzer targets: a loud failure for a broken
// invariant (libFuzzer saves the input that triggered it) and a cursor that
// takes typed values from the front of the fuzzer's bytes.

#ifndef SHMARRAY_FUZZ_FUZZ_UTIL_H_
#define SHMARRAY_FUZZ_FUZZ_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace shmarray::fuzz {

// Reports a broken invariant and aborts, so that libFuzzer records a crash.
[[noreturn]] inline void Fail(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "fuzz invariant broken: %s %.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

#define SHMARRAY_FUZZ_CHECK(cond, detail)               \
  do {                                                  \
    if (!(cond)) ::shmarray::fuzz::Fail(#cond, detail); \
  } while (0)

// Takes values from the front of the input; once it is used up, every
// value is zero and every string empty.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  template <typename T>
  T Take() {
    T value{};
    const size_t n = sizeof(T) < size_ ? sizeof(T) : size_;
    std::memcpy(&value, data_, n);
    data_ += n;
    size_ -= n;
    return value;
  }
  // Up to `max` bytes.
  std::string_view TakeBytes(size_t max) {
    const size_t n = max < size_ ? max : size_;
    std::string_view out(reinterpret_cast<const char*>(data_), n);
    data_ += n;
    size_ -= n;
    return out;
  }
  std::string_view Rest() { return TakeBytes(size_); }
  size_t remaining() const { return size_; }

 private:
  const uint8_t* data_;
  size_t size_;
};

}  // namespace shmarray::fuzz

#endif  // SHMARRAY_FUZZ_FUZZ_UTIL_H_
