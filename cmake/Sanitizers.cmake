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
  message(STATUS "shmarray: instrumented with -fsanitize=${_shmarray_joined}")
endif()
