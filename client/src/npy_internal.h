// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: npy_internal.h
// -----------------------------------------------------------------------------
// What the parts of the .npy support share. Private to client/src.
//   py_literal.cc  the bounded parser of Python literals (no eval) that
//                  .npy headers and NumPy's dtype list syntax are written in,
//                  Python's str repr, UTF-8 <-> latin-1 (UTF-8 itself is
//                  utf8.h);
//   dtype.cc       NumPy dtypes (descr literals, np.dtype() spellings) <->
//                  PEP 3118 formats (the public half is in npy.h);
//   npy.cc         .npy headers and file I/O.
// Every function throws NpyError with a message for users.
// Thread-safety: pure functions.

#ifndef SHMARRAY_CLIENT_SRC_NPY_INTERNAL_H_
#define SHMARRAY_CLIENT_SRC_NPY_INTERNAL_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "shmarray/client/npy.h"
#include "shmarray/shm/format.h"

namespace shmarray::client::internal {

// Throws NpyError(message).
[[noreturn]] void Fail(const std::string& message);

// `s` in single quotes for a message: control bytes as \xNN (UTF-8 text
// stays readable), at most 80 bytes and "...".
std::string Quote(std::string_view s);

// --- py_literal.cc -----------------------------------------------------------

// Latin-1 bytes as UTF-8.
std::string Latin1ToUtf8(std::string_view s);
// Encodes `text` (UTF-8) as latin-1; false if a character is outside it.
bool Utf8ToLatin1(std::string_view text, std::string* out);

// A Python literal: str, int, True/False/None, tuple, list or dict.
struct PyValue {
  enum class Kind { kStr, kInt, kBool, kNone, kTuple, kList, kDict };
  Kind kind = Kind::kNone;
  std::string str;             // kStr (UTF-8)
  int64_t integer = 0;         // kInt
  bool boolean = false;        // kBool
  std::vector<PyValue> items;  // kTuple, kList; kDict: key, value, key, value, ...
  size_t begin = 0;            // source span
  size_t end = 0;
};

// Parses all of `text` as one Python literal (nesting at most 32 deep).
// Throws NpyError "invalid header: <what> at position N".
PyValue ParsePyLiteral(std::string_view text);

// Python's repr of a str (ASCII escapes as Python writes them; other
// characters stay as they are).
std::string PyRepr(std::string_view s);

// --- dtype.cc ----------------------------------------------------------------

// The PEP 3118 format of a parsed descr (a typestr, a field list or a
// (type, shape) tuple), `depth` structs deep.
std::string DescrValueToFormat(const PyValue& v, int depth);

// shm::Format::Parse(text), with a FormatError turned into NpyError
// "unsupported descr <descr>: ...".
shm::Format ParseFormatOrFail(const std::string& text, std::string_view descr);

}  // namespace shmarray::client::internal

#endif  // SHMARRAY_CLIENT_SRC_NPY_INTERNAL_H_
