#!/usr/bin/env bash
# Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
#
# File: package_test.sh
# -----------------------------------------------------------------------------
# shmarray as a package, the way a project outside this repository uses it.
#   package_test.sh install          BUILD SOURCE WORK
#       cmake --install BUILD --prefix WORK/prefix, then checks the tree: the
#       tools run, the package files are there, no private or generated
#       protobuf header is installed and no installed header includes one.
#   package_test.sh find_package     BUILD SOURCE WORK
#       configures and builds tests/package/consumer against WORK/prefix with
#       find_package(shmarray) and runs it against the installed shmarrayd.
#   package_test.sh pkg_config       BUILD SOURCE WORK
#       compiles consumer.cc with `pkg-config --cflags --libs shmarray` and
#       runs it against the installed shmarrayd.
#   package_test.sh add_subdirectory BUILD SOURCE WORK [SHMARRAYD SHMARRAY]
#       configures tests/package/subproject (add_subdirectory of SOURCE, no
#       build type): checks that the parent's cache keeps its empty
#       CMAKE_BUILD_TYPE and that no test, benchmark or tool target exists,
#       builds the consumer and runs it against BUILD's shmarrayd (or SHMARRAYD).
# The compiler (and compiler launcher) are BUILD's. Exit 0 pass, 1 fail, 77
# skip (no pkg-config).
set -euo pipefail

mode=${1:?usage: $0 install|find_package|pkg_config|add_subdirectory BUILD SOURCE WORK}
build=${2:?}
source=${3:?}
work=${4:?}
prefix="$work/prefix"
daemon_bin=${5:-$build/server/shmarrayd}  # add_subdirectory mode: BUILD's tools
cli_bin=${6:-$build/client/shmarray}
fail() { echo "FAIL: $*" >&2; exit 1; }

cache_value() {  # cache_value BUILD_DIR NAME
  sed -n "s/^$2:[A-Z]*=//p" "$1/CMakeCache.txt" | head -n1
}
cxx=$(cache_value "$build" CMAKE_CXX_COMPILER)
libdir=$(cache_value "$build" CMAKE_INSTALL_LIBDIR)
libdir=${libdir:-lib}
launcher=$(cache_value "$build" CMAKE_CXX_COMPILER_LAUNCHER)
cmake_args=(-DCMAKE_CXX_COMPILER="$cxx")
[[ -n "$launcher" ]] && cmake_args+=(-DCMAKE_CXX_COMPILER_LAUNCHER="$launcher")
command -v ninja >/dev/null && cmake_args+=(-G Ninja)

daemon_pid=""
instance="pkg${mode//_/}$$"
run_dir=""
cleanup() {
  local rc=$?
  set +e
  if [[ -n "$daemon_pid" ]] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -TERM "$daemon_pid"
    wait "$daemon_pid"
  fi
  rm -rf /dev/shm/"shmarray.$(id -u).$instance"*
  if [[ $rc -ne 0 && -n "$run_dir" && -f "$run_dir/daemon.log" ]]; then
    echo "--- daemon log ---" >&2
    cat "$run_dir/daemon.log" >&2
  fi
}
trap cleanup EXIT

# run_consumer CONSUMER DAEMON CLI: starts DAEMON on a private socket, waits
# (with a deadline) until CLI can list, runs CONSUMER and checks its output.
run_consumer() {
  local consumer=$1 daemon=$2 cli=$3
  run_dir="$work/$mode/run"
  rm -rf "$run_dir" && mkdir -p "$run_dir"
  local sock="$run_dir/d.sock"
  "$daemon" --socket "$sock" --instance "$instance" 2>"$run_dir/daemon.log" &
  daemon_pid=$!
  local ready=""
  for _ in $(seq 1 200); do  # 10 s deadline
    if "$cli" --socket "$sock" ls >/dev/null 2>&1; then ready=1; break; fi
    kill -0 "$daemon_pid" 2>/dev/null || fail "shmarrayd exited early"
    sleep 0.05
  done
  [[ -n "$ready" ]] || fail "shmarrayd did not answer on $sock within 10 s"
  local got expected
  got=$("$consumer" "unix:$sock") || fail "consumer failed: $got"
  expected=$'local array: shape (3, 2), transposed corner 4\n'
  expected+=$'attached consumer/frame: sum 66\n'
  expected+=$'read consumer/frame[1, ::-1]: 7 6 5 4\n'
  expected+='deleted consumer/frame'
  if [[ "$got" != "$expected" ]]; then
    printf 'FAIL: consumer printed\n%s\nexpected\n%s\n' "$got" "$expected" >&2
    exit 1
  fi
  echo "$got"
}

case "$mode" in
  install)
    rm -rf "$prefix" && mkdir -p "$work"
    cmake --install "$build" --prefix "$prefix" >"$work/install.log" || {
      cat "$work/install.log" >&2; fail "cmake --install"; }
    for f in bin/shmarrayd bin/shmarray bin/shmarray-demo \
             "$libdir"/cmake/shmarray/shmarrayConfig.cmake "$libdir"/cmake/shmarray/shmarrayConfigVersion.cmake \
             "$libdir"/cmake/shmarray/shmarrayTargets.cmake "$libdir"/pkgconfig/shmarray.pc \
             "$libdir"/libshmarray_shm.a "$libdir"/libshmarray_client.a \
             include/shmarray/shm/view.h include/shmarray/client/client.h \
             include/shmarray/server/server.h share/shmarray/proto/shmarray/v1/array_service.proto; do
      [[ -e "$prefix/$f" ]] || fail "not installed: $f"
    done
    "$prefix/bin/shmarrayd" --help | grep -q -- "--check-config" || fail "shmarrayd --help"
    "$prefix/bin/shmarray" --help >/dev/null || fail "shmarray --help"
    if find "$prefix/include" -name '*_internal.h' -o -name '*.pb.h' | grep .; then
      fail "private or generated headers installed"
    fi
    if grep -rn '\.pb\.h\|grpcpp/' "$prefix/include"; then
      fail "an installed header includes generated protobuf or gRPC headers"
    fi
    echo "installed into $prefix"
    ;;
  find_package)
    [[ -d "$prefix" ]] || fail "no $prefix: run the install mode first"
    dir="$work/find_package"
    rm -rf "$dir"
    cmake -S "$source/tests/package/consumer" -B "$dir" "${cmake_args[@]}" \
          -DCMAKE_PREFIX_PATH="$prefix" >"$work/find_package.log" 2>&1 || {
      cat "$work/find_package.log" >&2; fail "configure with find_package(shmarray)"; }
    cmake --build "$dir" >>"$work/find_package.log" 2>&1 || {
      cat "$work/find_package.log" >&2; fail "build against the installed package"; }
    run_consumer "$dir/consumer" "$prefix/bin/shmarrayd" "$prefix/bin/shmarray"
    ;;
  pkg_config)
    command -v pkg-config >/dev/null || { echo "SKIP: no pkg-config"; exit 77; }
    [[ -d "$prefix" ]] || fail "no $prefix: run the install mode first"
    dir="$work/pkg_config"
    rm -rf "$dir" && mkdir -p "$dir"
    export PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
    pkg-config --exists --print-errors shmarray || fail "pkg-config cannot find shmarray"
    [[ $(pkg-config --modversion shmarray) == "$(cache_value "$build" CMAKE_PROJECT_VERSION)" ]] ||
      fail "pkg-config --modversion shmarray"
    read -r -a flags <<<"$(pkg-config --cflags --libs shmarray)"
    ${launcher:+"$launcher"} "$cxx" -std=c++20 -o "$dir/consumer" \
      "$source/tests/package/consumer/consumer.cc" "${flags[@]}" || fail "compile with pkg-config"
    run_consumer "$dir/consumer" "$prefix/bin/shmarrayd" "$prefix/bin/shmarray"
    ;;
  add_subdirectory)
    dir="$work/add_subdirectory"
    rm -rf "$dir"
    cmake -S "$source/tests/package/subproject" -B "$dir" "${cmake_args[@]}" \
          -DSHMARRAY_SOURCE_DIR="$source" >"$work/add_subdirectory.log" 2>&1 || {
      cat "$work/add_subdirectory.log" >&2; fail "configure a parent with add_subdirectory"; }
    [[ -z "$(cache_value "$dir" CMAKE_BUILD_TYPE)" ]] ||
      fail "add_subdirectory(shmarray) set the parent's CMAKE_BUILD_TYPE"
    for option in SHMARRAY_BUILD_TESTS SHMARRAY_BUILD_BENCH SHMARRAY_BUILD_TOOLS SHMARRAY_INSTALL; do
      [[ $(cache_value "$dir" "$option") == OFF ]] || fail "$option is not OFF below a parent"
    done
    cmake --build "$dir" --target consumer >>"$work/add_subdirectory.log" 2>&1 || {
      cat "$work/add_subdirectory.log" >&2; fail "build the consumer"; }
    run_consumer "$dir/consumer" "$daemon_bin" "$cli_bin"
    ;;
  *)
    fail "unknown mode $mode"
    ;;
esac
