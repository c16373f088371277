// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: tsan_absl_annotations.cc
// -----------------------------------------------------------------------------
// ThreadSanitizer builds only (cmake/Sanitizers.cmake links this into every
// executable together with -Wl,--wrap for each function below).
//
// Debian's Abseil is not built with -fsanitize=thread, so TSan cannot see that
// absl::Mutex and absl::Notification order memory: every access guarded by an
// absl::Mutex in our (instrumented) code would be reported as a race. The
// linker redirects our calls of these out-of-line functions here; each calls
// the real one and tells TSan about the happens-before edge it creates:
// releasing a mutex (or notifying) releases its address, acquiring it (or
// returning from a wait) acquires it. Await* temporarily releases the mutex,
// so it is annotated as a release before and an acquire after.
//
// absl evaluates an absl::Condition (our code, instrumented) inside those
// uninstrumented calls, in whichever thread holds the lock at that moment --
// often the one that is unlocking -- after the release annotation. Memory
// accesses made during the real Unlock, Await* and LockWhen are therefore
// ignored (TSan's dynamic annotations); a condition only reads state that
// the mutex guards.
//
// The mangled names (which carry Debian's inline namespace) come from CMake
// as SHMARRAY_SYM_<NAME> string macros.

#include <sanitizer/tsan_interface.h>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

#define SHMARRAY_REAL(name) __asm__("__real_" SHMARRAY_SYM_##name)
#define SHMARRAY_WRAP(name) __asm__("__wrap_" SHMARRAY_SYM_##name)

namespace {

using absl::Condition;
using absl::Duration;
using absl::Mutex;
using absl::Notification;

// The real functions, as free functions taking `this` first (Itanium ABI).
extern "C" {
void RealLock(Mutex* mu) SHMARRAY_REAL(MUTEX_LOCK);
void RealUnlock(Mutex* mu) SHMARRAY_REAL(MUTEX_UNLOCK);
bool RealTryLock(Mutex* mu) SHMARRAY_REAL(MUTEX_TRYLOCK);
void RealReaderLock(Mutex* mu) SHMARRAY_REAL(MUTEX_READERLOCK);
void RealReaderUnlock(Mutex* mu) SHMARRAY_REAL(MUTEX_READERUNLOCK);
void RealAwait(Mutex* mu, const Condition& cond) SHMARRAY_REAL(MUTEX_AWAIT);
bool RealAwaitWithTimeout(Mutex* mu, const Condition& cond, Duration timeout)
    SHMARRAY_REAL(MUTEX_AWAITWITHTIMEOUT);
void RealLockWhen(Mutex* mu, const Condition& cond) SHMARRAY_REAL(MUTEX_LOCKWHEN);
void RealNotify(Notification* n) SHMARRAY_REAL(NOTIFICATION_NOTIFY);
void RealWaitForNotification(const Notification* n) SHMARRAY_REAL(NOTIFICATION_WAIT);
bool RealWaitForNotificationWithTimeout(const Notification* n, Duration timeout)
    SHMARRAY_REAL(NOTIFICATION_WAITWITHTIMEOUT);
}

// TSan's dynamic annotations (in its runtime).
extern "C" {
void AnnotateIgnoreReadsBegin(const char* file, int line);
void AnnotateIgnoreReadsEnd(const char* file, int line);
void AnnotateIgnoreWritesBegin(const char* file, int line);
void AnnotateIgnoreWritesEnd(const char* file, int line);
}

void Acquire(const void* p) { __tsan_acquire(const_cast<void*>(p)); }
void Release(const void* p) { __tsan_release(const_cast<void*>(p)); }

// Ignores the memory accesses of this thread while it lives.
class IgnoreAccesses {
 public:
  IgnoreAccesses() {
    AnnotateIgnoreReadsBegin(__FILE__, __LINE__);
    AnnotateIgnoreWritesBegin(__FILE__, __LINE__);
  }
  ~IgnoreAccesses() {
    AnnotateIgnoreWritesEnd(__FILE__, __LINE__);
    AnnotateIgnoreReadsEnd(__FILE__, __LINE__);
  }
  IgnoreAccesses(const IgnoreAccesses&) = delete;
  IgnoreAccesses& operator=(const IgnoreAccesses&) = delete;
};

}  // namespace

extern "C" {

void WrapLock(Mutex* mu) SHMARRAY_WRAP(MUTEX_LOCK);
void WrapLock(Mutex* mu) {
  RealLock(mu);
  Acquire(mu);
}

void WrapUnlock(Mutex* mu) SHMARRAY_WRAP(MUTEX_UNLOCK);
void WrapUnlock(Mutex* mu) {
  Release(mu);
  IgnoreAccesses ignore;
  RealUnlock(mu);
}

bool WrapTryLock(Mutex* mu) SHMARRAY_WRAP(MUTEX_TRYLOCK);
bool WrapTryLock(Mutex* mu) {
  const bool locked = RealTryLock(mu);
  if (locked) Acquire(mu);
  return locked;
}

void WrapReaderLock(Mutex* mu) SHMARRAY_WRAP(MUTEX_READERLOCK);
void WrapReaderLock(Mutex* mu) {
  RealReaderLock(mu);
  Acquire(mu);
}

void WrapReaderUnlock(Mutex* mu) SHMARRAY_WRAP(MUTEX_READERUNLOCK);
void WrapReaderUnlock(Mutex* mu) {
  Release(mu);
  IgnoreAccesses ignore;
  RealReaderUnlock(mu);
}

void WrapAwait(Mutex* mu, const Condition& cond) SHMARRAY_WRAP(MUTEX_AWAIT);
void WrapAwait(Mutex* mu, const Condition& cond) {
  Release(mu);
  {
    IgnoreAccesses ignore;
    RealAwait(mu, cond);
  }
  Acquire(mu);
}

bool WrapAwaitWithTimeout(Mutex* mu, const Condition& cond, Duration timeout)
    SHMARRAY_WRAP(MUTEX_AWAITWITHTIMEOUT);
bool WrapAwaitWithTimeout(Mutex* mu, const Condition& cond, Duration timeout) {
  Release(mu);
  bool met = false;
  {
    IgnoreAccesses ignore;
    met = RealAwaitWithTimeout(mu, cond, timeout);
  }
  Acquire(mu);
  return met;
}

void WrapLockWhen(Mutex* mu, const Condition& cond) SHMARRAY_WRAP(MUTEX_LOCKWHEN);
void WrapLockWhen(Mutex* mu, const Condition& cond) {
  {
    IgnoreAccesses ignore;
    RealLockWhen(mu, cond);
  }
  Acquire(mu);
}

void WrapNotify(Notification* n) SHMARRAY_WRAP(NOTIFICATION_NOTIFY);
void WrapNotify(Notification* n) {
  Release(n);
  RealNotify(n);
}

void WrapWaitForNotification(const Notification* n) SHMARRAY_WRAP(NOTIFICATION_WAIT);
void WrapWaitForNotification(const Notification* n) {
  RealWaitForNotification(n);
  Acquire(n);
}

bool WrapWaitForNotificationWithTimeout(const Notification* n, Duration timeout)
    SHMARRAY_WRAP(NOTIFICATION_WAITWITHTIMEOUT);
bool WrapWaitForNotificationWithTimeout(const Notification* n, Duration timeout) {
  const bool notified = RealWaitForNotificationWithTimeout(n, timeout);
  if (notified) Acquire(n);
  return notified;
}

}  // extern "C"
