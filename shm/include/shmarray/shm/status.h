// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: status.h
// -----------------------------------------------------------------------------
// Status helpers shared by every part of shmarray: the RETURN_IF_ERROR /
// ASSIGN_OR_RETURN macros (bookworm's absl has neither), CHECK/DCHECK for
// broken invariants, and the one conversion from the view library's
// exceptions to absl::Status.
//
//   absl::StatusOr<Layout> SliceOf(const Layout& l, std::string_view text) {
//     try {
//       return l.slice(ParseIndex(text));
//     } catch (...) {
//       return shm::StatusFromCurrentException();  // IndexError -> kOutOfRange
//     }
//   }
//
// absl status codes are google.rpc.Code, so converting to gRPC is a cast.

#ifndef SHMARRAY_SHM_STATUS_H_
#define SHMARRAY_SHM_STATUS_H_

#include <cstdio>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace shmarray::shm {

// Maps the exception in flight to a Status:
//   IndexError -> kOutOfRange, ReadOnlyError -> kFailedPrecondition,
//   other std::invalid_argument (FormatError, ShapeError, IndexExprError) ->
//   kInvalidArgument, std::bad_alloc / std::length_error -> kResourceExhausted,
//   anything else -> kInternal. The message is the exception's what().
// REQUIRES: called inside a catch block.
absl::Status StatusFromCurrentException();

// Called when SHMARRAY_DCHECK fails in a debug build. Tests may install their
// own handler (it must not return normally, e.g. it throws). Not thread-safe
// against concurrent SetDcheckHandler calls.
using DcheckHandler = void (*)(const char* condition, const char* file, int line);
void SetDcheckHandler(DcheckHandler handler);
[[noreturn]] void DcheckFailed(const char* condition, const char* file, int line);

}  // namespace shmarray::shm

#define SHMARRAY_STATUS_CONCAT_INNER_(a, b) a##b
#define SHMARRAY_STATUS_CONCAT_(a, b) SHMARRAY_STATUS_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` (an absl::Status) is not OK.
#define SHMARRAY_RETURN_IF_ERROR(expr)                   \
  do {                                                   \
    ::absl::Status shmarray_status_ = (expr);            \
    if (!shmarray_status_.ok()) return shmarray_status_; \
  } while (0)

// `lhs = value of expr` (an absl::StatusOr<T>), or returns its status.
#define SHMARRAY_ASSIGN_OR_RETURN(lhs, expr) \
  SHMARRAY_ASSIGN_OR_RETURN_IMPL_(SHMARRAY_STATUS_CONCAT_(shmarray_statusor_, __LINE__), lhs, expr)
#define SHMARRAY_ASSIGN_OR_RETURN_IMPL_(var, lhs, expr) \
  auto var = (expr);                                    \
  if (!var.ok()) return std::move(var).status();        \
  lhs = std::move(var).value()

// Aborts with a message when an invariant is broken. Always on.
#define SHMARRAY_CHECK(cond)                                                        \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

// Debug-only check for preconditions of unchecked accessors (operator()).
#ifdef NDEBUG
#define SHMARRAY_DCHECK(cond) \
  do {                        \
  } while (0)
#else
#define SHMARRAY_DCHECK(cond) \
  ((cond) ? (void)0 : ::shmarray::shm::DcheckFailed(#cond, __FILE__, __LINE__))
#endif

#endif  // SHMARRAY_SHM_STATUS_H_
