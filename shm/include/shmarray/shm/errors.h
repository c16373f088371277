// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: errors.h
// -----------------------------------------------------------------------------
// The exceptions thrown by the view and format library. Each derives from the
// std type that Cython `except +` and pybind11 already translate, so a Python
// caller sees the same exception class a Cython memoryview raises:
//
//   IndexError      : std::out_of_range      -> IndexError   (integer index outside its axis)
//   FormatError     : std::invalid_argument  -> ValueError   (bad or mismatched format)
//   ShapeError      : std::invalid_argument  -> ValueError   (ndim, contiguity, extents, bounds)
//   IndexExprError  : std::invalid_argument  -> ValueError   (malformed index expression)
//   ReadOnlyError   : std::invalid_argument  -> ValueError   (writable view of read-only memory)
//
// Messages copy Cython's and NumPy's word for word (docs/views.md). Code at a
// process or RPC boundary converts them with StatusFromCurrentException()
// (status.h). Quoted() quotes user text inside any message of the project.
// Thread-safety: the types are immutable values; Quoted is a pure function.

#ifndef SHMARRAY_SHM_ERRORS_H_
#define SHMARRAY_SHM_ERRORS_H_

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

namespace shmarray::shm {

// An integer index outside its axis, e.g. "Out of bounds on buffer access (axis 1)".
class IndexError : public std::out_of_range {
 public:
  using std::out_of_range::out_of_range;
};

// A format string that does not parse, or does not match the element type,
// e.g. "Buffer dtype mismatch, expected 'int32_t' but got 'double'".
class FormatError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// Wrong ndim, contiguity, itemsize, extents, or a layout outside its buffer.
class ShapeError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// A malformed index expression: zero step, a second ellipsis, too many
// indices, or text that does not parse.
class IndexExprError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// A writable view requested on read-only memory: "buffer source array is read-only".
class ReadOnlyError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// `text` in single quotes for a message: printable ASCII as is, any other
// byte as \xNN, and at most `max_chars` bytes of it followed by "..." when it
// is longer: Quoted("a\nb") is "'a\x0ab'".
std::string Quoted(std::string_view text, size_t max_chars = 120);

}  // namespace shmarray::shm

#endif  // SHMARRAY_SHM_ERRORS_H_
