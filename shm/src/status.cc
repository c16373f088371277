// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0

#include "shmarray/shm/status.h"

#include <atomic>
#include <exception>
#include <new>
#include <stdexcept>
#include <string>

#include "shmarray/shm/errors.h"

namespace shmarray::shm {

absl::Status StatusFromCurrentException() {
  try {
    throw;
  } catch (const IndexError& e) {
    return absl::OutOfRangeError(e.what());
  } catch (const ReadOnlyError& e) {
    return absl::FailedPreconditionError(e.what());
  } catch (const std::invalid_argument& e) {
    return absl::InvalidArgumentError(e.what());
  } catch (const std::out_of_range& e) {
    return absl::OutOfRangeError(e.what());
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("out of memory");
  } catch (const std::length_error& e) {
    return absl::ResourceExhaustedError(e.what());
  } catch (const std::exception& e) {
    return absl::InternalError(e.what());
  } catch (...) {
    return absl::InternalError("unknown exception");
  }
}

namespace {
void DefaultDcheckHandler(const char* condition, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: DCHECK failed: %s\n", file, line, condition);
  std::abort();
}
std::atomic<DcheckHandler> g_dcheck_handler{&DefaultDcheckHandler};
}  // namespace

void SetDcheckHandler(DcheckHandler handler) {
  g_dcheck_handler.store(handler != nullptr ? handler : &DefaultDcheckHandler);
}

void DcheckFailed(const char* condition, const char* file, int line) {
  g_dcheck_handler.load()(condition, file, line);
  std::abort();  // a handler must not return
}

}  // namespace shmarray::shm
