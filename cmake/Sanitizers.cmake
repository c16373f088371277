# Sanitizer and fuzzing builds (included by the top-level CMakeLists.txt
# before any target is defined, so that every target -- project code and the
# generated protobuf code alike -- is built the same way).
#
#   -DSHMARRAY_SANITIZE=address,undefined   AddressSanitizer + UBSan (GCC or clang)
#   -DSHMARRAY_SANITIZE=thread              ThreadSanitizer (GCC or clang)
#   -DSHMARRAY_BUILD_FUZZERS=ON             libFuzzer targets in fuzz/ (clang only);
#                                           combine with address,undefined
#
# Use a separate build directory per configuration (.ci/run, fuzz/run).
# Every sanitizer report is fatal (-fno-sanitize-recover=all), so a finding
# fails the test that triggered it. Libraries from the system (gRPC,
# protobuf, absl) are not instrumented; see tests/sanitizers/ for the runtime
# options and the ThreadSanitizer suppressions that this implies.

set(SHMARRAY_SANITIZE "" CACHE STRING
    "Sanitizers to build with: a comma-separated subset of address, undefined, thread")
option(SHMARRAY_BUILD_FUZZERS "Build the libFuzzer targets in fuzz/ (needs clang)" OFF)

set(_shmarray_sanitizers "")
if(SHMARRAY_SANITIZE)
  string(REPLACE "," ";" _shmarray_sanitizers "${SHMARRAY_SANITIZE}")
  foreach(s IN LISTS _shmarray_sanitizers)
    if(NOT s MATCHES "^(address|undefined|thread)$")
      message(FATAL_ERROR "SHMARRAY_SANITIZE: unknown sanitizer '${s}' "
                          "(use address, undefined and/or thread)")
    endif()
  endforeach()
  if("thread" IN_LIST _shmarray_sanitizers AND "address" IN_LIST _shmarray_sanitizers)
    message(FATAL_ERROR "SHMARRAY_SANITIZE: thread and address cannot be combined")
  endif()
endif()

if(SHMARRAY_BUILD_FUZZERS AND NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "SHMARRAY_BUILD_FUZZERS needs clang "
                      "(e.g. -DCMAKE_CXX_COMPILER=clang++-14); fuzz/run sets it up")
endif()

set(_shmarray_instrument "${_shmarray_sanitizers}")
if(SHMARRAY_BUILD_FUZZERS)
  # Coverage feedback for libFuzzer in every object; only the fuzz targets
  # link libFuzzer itself (-fsanitize=fuzzer, in fuzz/CMakeLists.txt).
  list(APPEND _shmarray_instrument fuzzer-no-link)
endif()

if(_shmarray_instrument)
  list(JOIN _shmarray_instrument "," _shmarray_joined)
  set(_shmarray_flags -fsanitize=${_shmarray_joined} -fno-omit-frame-pointer)
  if(_shmarray_sanitizers)
    list(APPEND _shmarray_flags -fno-sanitize-recover=all)
  endif()
  add_compile_options(${_shmarray_flags})
  add_link_options(${_shmarray_flags})
  if("thread" IN_LIST _shmarray_sanitizers AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC warns that TSan does not model std::atomic_thread_fence. The one
    # fence (Segment::Commit) orders writes to shared memory for OTHER
    # processes, which TSan cannot see either way.
    add_compile_options(-Wno-tsan)
  endif()
  message(STATUS "shmarray: instrumented with -fsanitize=${_shmarray_joined}")
endif()

# ThreadSanitizer and Debian's uninstrumented Abseil: every executable gets
# tests/sanitizers/tsan_absl_annotations.cc, and the linker redirects our
# calls of absl::Mutex / absl::Notification to it (-Wl,--wrap), so TSan sees
# the happens-before edges those create. Called at the end of the top-level
# CMakeLists.txt, once every target exists.
function(shmarray_sanitizers_finalize)
  if(NOT "thread" IN_LIST _shmarray_sanitizers)
    return()
  endif()
  get_target_property(absl_includes absl::base INTERFACE_INCLUDE_DIRECTORIES)
  find_file(SHMARRAY_ABSL_OPTIONS_H absl/base/options.h PATHS ${absl_includes} REQUIRED)
  file(STRINGS "${SHMARRAY_ABSL_OPTIONS_H}" line
       REGEX "^#define ABSL_OPTION_INLINE_NAMESPACE_NAME ")
  string(REGEX REPLACE "^#define ABSL_OPTION_INLINE_NAMESPACE_NAME +([A-Za-z0-9_]+).*" "\\1"
         ns "${line}")
  string(LENGTH "${ns}" ns_length)
  set(n "4absl${ns_length}${ns}")  # absl::<inline namespace>, mangled
  set(symbols
      MUTEX_LOCK _ZN${n}5Mutex4LockEv
      MUTEX_UNLOCK _ZN${n}5Mutex6UnlockEv
      MUTEX_TRYLOCK _ZN${n}5Mutex7TryLockEv
      MUTEX_READERLOCK _ZN${n}5Mutex10ReaderLockEv
      MUTEX_READERUNLOCK _ZN${n}5Mutex12ReaderUnlockEv
      MUTEX_AWAIT _ZN${n}5Mutex5AwaitERKNS0_9ConditionE
      MUTEX_AWAITWITHTIMEOUT _ZN${n}5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE
      MUTEX_LOCKWHEN _ZN${n}5Mutex8LockWhenERKNS0_9ConditionE
      NOTIFICATION_NOTIFY _ZN${n}12Notification6NotifyEv
      NOTIFICATION_WAIT _ZNK${n}12Notification19WaitForNotificationEv
      NOTIFICATION_WAITWITHTIMEOUT _ZNK${n}12Notification30WaitForNotificationWithTimeoutENS0_8DurationE)
  add_library(shmarray_tsan_annotations OBJECT
              ${PROJECT_SOURCE_DIR}/tests/sanitizers/tsan_absl_annotations.cc)
  target_link_libraries(shmarray_tsan_annotations PRIVATE absl::synchronization absl::time)
  set(wraps "")
  while(symbols)
    list(POP_FRONT symbols key symbol)
    target_compile_definitions(shmarray_tsan_annotations PRIVATE
                               "SHMARRAY_SYM_${key}=\"${symbol}\"")
    list(APPEND wraps "-Wl,--wrap=${symbol}")
  endwhile()
  # Every executable in the tree.
  set(dirs "${PROJECT_SOURCE_DIR}")
  while(dirs)
    list(POP_FRONT dirs dir)
    get_property(sub DIRECTORY "${dir}" PROPERTY SUBDIRECTORIES)
    list(APPEND dirs ${sub})
    get_property(targets DIRECTORY "${dir}" PROPERTY BUILDSYSTEM_TARGETS)
    foreach(t IN LISTS targets)
      get_target_property(type ${t} TYPE)
      if(type STREQUAL "EXECUTABLE")
        target_link_libraries(${t} PRIVATE shmarray_tsan_annotations)
        target_link_options(${t} PRIVATE ${wraps})
      endif()
    endforeach()
  endwhile()
  message(STATUS "shmarray: absl::Mutex annotated for ThreadSanitizer (namespace ${ns})")
endfunction()
