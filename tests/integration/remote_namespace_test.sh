#!/usr/bin/env bash
# Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
#
# File: remote_namespace_test.sh
# -----------------------------------------------------------------------------
# The containerized scenario without Docker (docs/operations.md): shmarrayd runs in
# its own network namespace, listening on TCP on one end of a veth pair
# (10.213.7.1/30, --insecure) and on a Unix socket for the local client, which
# shares the host's /dev/shm. A "remote" client runs in a second network
# namespace (10.213.7.2/30) AND a private mount namespace with its own empty
# tmpfs on /dev/shm, so it reaches the daemon only over TCP and cannot see
# any segment, exactly as a container on another host. Checked:
#   - the remote attach fails with the message naming read()/write();
#   - the remote list, stat, read and write over TCP work;
#   - the local client sees the remote write in its zero-copy mapping.
# Usage: remote_namespace_test.sh SHMARRAYD SHMARRAY_CLI REMOTE_CLIENT_TOOL
# Needs root (ip netns, unshare --mount). Otherwise prints SKIP and exits 77.

set -euo pipefail

DAEMON=${1:?usage: $0 SHMARRAYD SHMARRAY_CLI REMOTE_CLIENT_TOOL}
CLI=${2:?}
TOOL=${3:?}
[[ -x "$DAEMON" && -x "$TOOL" ]] || { echo "FAIL: missing binaries: $DAEMON $TOOL"; exit 1; }
: "$CLI"  # the CLI is not needed here; the tool covers both sides

skip() { echo "SKIP: $*"; exit 77; }
[[ $(id -u) -eq 0 ]] || skip "needs root for ip netns and unshare --mount"
command -v ip >/dev/null || skip "no ip(8)"
command -v unshare >/dev/null || skip "no unshare(1)"

ID=$$
NS_D="shmarray-d-$ID"
NS_C="shmarray-c-$ID"
VETH_D="shmd$ID"
VETH_C="shmc$ID"
ADDR_D=10.213.7.1
ADDR_C=10.213.7.2
PORT=7070   # inside a brand-new namespace: nothing else listens there
INSTANCE="rn$ID"
WORK=$(mktemp -d /tmp/shmarray-remote-test.XXXXXX)
SOCK="$WORK/d.sock"
PREFIX="shmarray.$(id -u).$INSTANCE"
DAEMON_PID=""

cleanup() {
  local rc=$?
  set +e
  if [[ -n "$DAEMON_PID" ]] && kill -0 "$DAEMON_PID" 2>/dev/null; then
    kill -TERM "$DAEMON_PID"
    wait "$DAEMON_PID"
  fi
  rm -rf /dev/shm/"$PREFIX"
  ip netns del "$NS_C" 2>/dev/null
  ip netns del "$NS_D" 2>/dev/null
  if [[ $rc -ne 0 && -f "$WORK/daemon.log" ]]; then
    echo "--- daemon log ---"
    tail -n 30 "$WORK/daemon.log"
  fi
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT INT TERM

if ! ip netns add "$NS_D" 2>"$WORK/netns.err"; then
  skip "ip netns add is not permitted here: $(cat "$WORK/netns.err")"
fi
ip netns add "$NS_C"

fail() { echo "FAIL: $*"; exit 1; }
pass() { echo "ok: $*"; }

# --- Network: a veth pair between the two namespaces only. -------------------
ip link add "$VETH_D" type veth peer name "$VETH_C"
ip link set "$VETH_D" netns "$NS_D"
ip link set "$VETH_C" netns "$NS_C"
ip -n "$NS_D" addr add "$ADDR_D/30" dev "$VETH_D"
ip -n "$NS_C" addr add "$ADDR_C/30" dev "$VETH_C"
ip -n "$NS_D" link set lo up
ip -n "$NS_C" link set lo up
ip -n "$NS_D" link set "$VETH_D" up
ip -n "$NS_C" link set "$VETH_C" up
pass "namespaces $NS_D ($ADDR_D) and $NS_C ($ADDR_C) linked by veth"

# --- The daemon in its network namespace (host mount namespace: /dev/shm shared).
ip netns exec "$NS_D" "$DAEMON" --socket "$SOCK" --instance "$INSTANCE" \
  --listen "$ADDR_D:$PORT" --insecure --log-level info >"$WORK/daemon.log" 2>&1 &
DAEMON_PID=$!

local_tool() { "$TOOL" --target "unix:$SOCK" "$@"; }
# The remote client: client netns + private mount namespace with an empty /dev/shm.
remote_tool() {
  ip netns exec "$NS_C" unshare --mount --propagation private \
    sh -c 'mount -t tmpfs tmpfs /dev/shm && exec "$@"' remote_tool \
    "$TOOL" --target "$ADDR_D:$PORT" "$@"
}

# Poll for readiness with a deadline (both listeners).
deadline=$((SECONDS + 20))
until local_tool ping >/dev/null 2>&1; do
  kill -0 "$DAEMON_PID" 2>/dev/null || fail "the daemon exited during startup"
  ((SECONDS < deadline)) || fail "the daemon's Unix socket is not ready after 20 s"
  sleep 0.05
done
until remote_tool ping >/dev/null 2>&1; do
  ((SECONDS < deadline)) || fail "the daemon's TCP listener is not reachable from $NS_C"
  sleep 0.05
done
pass "daemon ready on unix:$SOCK and on $ADDR_D:$PORT"

# --- The remote side really is isolated. -------------------------------------------
n=$(ip netns exec "$NS_C" unshare --mount --propagation private \
  sh -c 'mount -t tmpfs tmpfs /dev/shm && ls -A /dev/shm | wc -l')
[[ "$n" -eq 0 ]] || fail "the remote /dev/shm is not empty ($n entries)"
pass "the remote client has a private, empty /dev/shm"

# --- Local client creates an array (zero-copy side). --------------------------------
local_tool create rn/data 8 >/dev/null
out=$(local_tool attach rn/data)
[[ "$out" == "0 1 2 3 4 5 6 7" ]] || fail "local attach read '$out'"
seg=$(local_tool stat rn/data | sed -n 's/.* segment=//p')
[[ -e "/dev/shm/$seg" ]] || fail "segment /dev/shm/$seg does not exist on the host"
pass "local client created rn/data in segment $seg and attached it"

# --- Remote attach fails, naming read/write. ------------------------------------------
set +e
out=$(remote_tool attach rn/data 2>&1)
rc=$?
set -e
[[ $rc -eq 3 ]] || fail "remote attach: expected exit 3 (unreachable), got $rc: $out"
expected="array 'rn/data' lives in shared memory segment '$seg' that this process cannot open (No such file or directory); are you on another host or in another container? use Client::read()/write(), which stream over gRPC"
[[ "$out" == "unreachable: $expected" ]] || fail "remote attach message: $out"
pass "remote attach fails: $expected"

# --- Remote list, stat, read, write over TCP. ------------------------------------------
out=$(remote_tool list rn/)
[[ "$out" == "rn/data" ]] || fail "remote list gave '$out'"
pass "remote list over TCP"
out=$(remote_tool stat rn/data)
[[ "$out" == "rn/data format=<q shape=(8,) segment=$seg" ]] || fail "remote stat gave '$out'"
pass "remote stat over TCP: $out"
out=$(remote_tool read rn/data)
[[ "$out" == "0 1 2 3 4 5 6 7" ]] || fail "remote read gave '$out'"
out=$(remote_tool read rn/data "::-3")
[[ "$out" == "7 4 1" ]] || fail "remote strided read gave '$out'"
pass "remote read over TCP (whole and ::-3)"
out=$(remote_tool write rn/data "2:5" 100,101,102)
[[ "$out" == "wrote 24 bytes" ]] || fail "remote write gave '$out'"
pass "remote write over TCP: rn/data[2:5] = 100,101,102"

# --- The local client sees the remote write in shared memory. ---------------------------
out=$(local_tool attach rn/data)
[[ "$out" == "0 1 100 101 102 5 6 7" ]] || fail "local attach after remote write read '$out'"
pass "local zero-copy attach sees the remote write: $out"
out=$(remote_tool read rn/data)
[[ "$out" == "0 1 100 101 102 5 6 7" ]] || fail "remote read-back gave '$out'"
pass "remote read-back matches"

# --- Errors travel over TCP too. ----------------------------------------------------------
set +e
out=$(remote_tool stat rn/missing 2>&1)
rc=$?
set -e
[[ $rc -eq 1 && "$out" == error:\ NOT_FOUND:* ]] || fail "remote stat of a missing name: rc=$rc $out"
pass "remote errors keep their codes ($out)"

# --- Clean up through the API: nothing left in /dev/shm. -----------------------------------
local_tool rm rn/data >/dev/null
# The catalog file (docs/architecture.md) is not a segment.
left=$(ls -A /dev/shm/"$PREFIX" 2>/dev/null | { grep -vx catalog || true; } | wc -l)
[[ "$left" -eq 0 ]] || fail "$left segments left in /dev/shm"
pass "removed rn/data; no segments of $PREFIX left"
echo "PASS: remote namespace scenario"
