// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: array_name.h
// -----------------------------------------------------------------------------
// ArrayName: the name of an array or named view, validated once when it is
// made. The daemon, the client library, the CLI and the Python package all
// check names here, so a name is refused with the same words whichever side
// sees it first, and a client refuses a bad name without a round trip.
//
//   absl::StatusOr<ArrayName> name = ArrayName::Create("camera/left");
//   name->str();                         // "camera/left"
//   ArrayName::Validate("a b").message();
//   // invalid name 'a b': character ' ' at position 1 is not allowed (use
//   // letters, digits, '.', '_', '-' and '/')
//
// A valid name has 1-255 characters (kMaxNameLength) of [A-Za-z0-9._-] and
// '/', where '/' separates namespace components: no empty component (no
// leading, trailing or doubled '/'), no "." or ".." component. Names are
// case-sensitive and compared byte by byte.
//
// Thread-safety: ArrayName is an immutable value; the functions are pure.

#ifndef SHMARRAY_SHM_ARRAY_NAME_H_
#define SHMARRAY_SHM_ARRAY_NAME_H_

#include <compare>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace shmarray::shm {

// Longest name, in bytes (segment headers and the shared catalog store it).
inline constexpr size_t kMaxNameLength = 255;

class ArrayName {
 public:
  // The name `text`, or kInvalidArgument saying what is wrong (see Validate).
  static absl::StatusOr<ArrayName> Create(std::string_view text);

  // OK if `text` is a valid name, else kInvalidArgument naming the fault:
  //   invalid name '': a name may not be empty
  //   invalid name: 300 characters; at most 255 are allowed
  //   invalid name 'a b': character ' ' at position 1 is not allowed (...)
  //   invalid name '/a': it may not start or end with '/'
  //   invalid name 'a//b': empty component ('//')
  //   invalid name 'a/../b': component '..' is not allowed
  // Unprintable characters are shown as \xNN.
  static absl::Status Validate(std::string_view text);

  // Whether `text` is a valid name (Validate without the message).
  static bool IsValid(std::string_view text);

  const std::string& str() const noexcept { return text_; }
  operator std::string_view() const noexcept { return text_; }  // NOLINT: a name is text

  friend bool operator==(const ArrayName&, const ArrayName&) = default;
  friend std::strong_ordering operator<=>(const ArrayName&, const ArrayName&) = default;

 private:
  explicit ArrayName(std::string text) : text_(std::move(text)) {}

  std::string text_;
};

}  // namespace shmarray::shm

#endif  // SHMARRAY_SHM_ARRAY_NAME_H_
