# Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
"""A real shmarrayd for Python integration tests, driven from outside.

The client side is Debian's python3-grpcio with stubs generated at test time
by protoc and grpc_python_plugin (nothing from this repository's C++ client),
so the daemon is exercised exactly as a foreign client would.

  stubs = load_stubs(proto_dir)       # (array_service_pb2, array_service_pb2_grpc)
  with Daemon(binary) as d:           # own socket, own --instance, SERVING
      stub = stubs.grpc.ArrayServiceStub(d.channel())
      ...
      d.kill(); d.start()             # SIGKILL, then adopt what is left
  # exit: stopped, reaped, segments and directory removed

SKIP (exit code 77, registered as ctest's SKIP_RETURN_CODE) when grpcio,
protoc or grpc_python_plugin is missing.
"""

import collections
import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SKIP = 77

try:
    import grpc
except ImportError:  # pragma: no cover - depends on the machine
    print("SKIP: python3-grpcio is not installed")
    sys.exit(SKIP)

Stubs = collections.namedtuple("Stubs", ["pb", "grpc"])
_counter = itertools.count()


def load_stubs(proto_dir):
    """Generates the Python stubs of array_service.proto and imports them."""
    protoc = shutil.which("protoc")
    plugin = shutil.which("grpc_python_plugin")
    if protoc is None or plugin is None:
        print("SKIP: protoc and grpc_python_plugin (protobuf-compiler-grpc) are needed")
        sys.exit(SKIP)
    out = tempfile.mkdtemp(prefix="shmarray-pystubs-")
    subprocess.run([protoc, "-I", proto_dir, "--python_out", out, "--grpc_python_out", out,
                    "--plugin=protoc-gen-grpc_python=" + plugin,
                    os.path.join(proto_dir, "shmarray", "v1", "array_service.proto")],
                   check=True)
    sys.path.insert(0, out)
    from shmarray.v1 import array_service_pb2, array_service_pb2_grpc  # noqa: E402
    return Stubs(array_service_pb2, array_service_pb2_grpc)


def _identity(b):
    return b


def raw_unary(channel, method):
    """A unary callable that sends and returns raw bytes."""
    return channel.unary_unary(method, request_serializer=_identity,
                               response_deserializer=_identity)


def health(channel, timeout=2.0):
    """True if grpc.health.v1.Health/Check answers SERVING."""
    check = raw_unary(channel, "/grpc.health.v1.Health/Check")
    try:
        return check(b"", timeout=timeout) == b"\x08\x01"
    except grpc.RpcError:
        return False


def poll(condition, timeout, what):
    """Calls condition() until it is true or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(0.01)  # a poll interval, not a wait for an event


class Daemon:
    """One shmarrayd process with its own directory, socket and instance."""

    def __init__(self, binary, extra_flags=()):
        self.binary = binary
        self.extra_flags = list(extra_flags)
        self.dir = tempfile.mkdtemp(prefix="shmarray-pyd-")
        self.instance = "py%dn%d" % (os.getpid(), next(_counter))
        self.socket = os.path.join(self.dir, "d.sock")
        self.prefix = "shmarray.%d.%s" % (os.geteuid(), self.instance)
        self.proc = None
        self.runs = 0
        self._channel = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    def start(self, timeout=30.0):
        """Starts the process and waits until it is SERVING."""
        assert self.proc is None, "already running"
        self.runs += 1
        log = open(os.path.join(self.dir, "stderr.%d.log" % self.runs), "wb")
        self.proc = subprocess.Popen(
            [self.binary, "--socket", self.socket, "--instance", self.instance,
             "--log-level", "warn"] + self.extra_flags,
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self._channel = grpc.insecure_channel("unix:" + self.socket)

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("shmarrayd exited with %s during startup:\n%s"
                                     % (self.proc.returncode, self.log_tail()))
            return health(self._channel, timeout=1.0)

        poll(ready, timeout, "shmarrayd to serve")

    def channel(self):
        return self._channel

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """SIGKILL and reap: a crash, as far as the daemon can tell."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc = None
        if self._channel is not None:
            self._channel.close()
            self._channel = None

    def stop(self, timeout=30.0):
        """SIGTERM, wait for a graceful exit; returns the exit code."""
        if self.proc is None:
            return None
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        finally:
            self.proc = None
        return code

    @property
    def segment_dir(self):
        """The daemon's private segment directory, /dev/shm/<prefix>."""
        return os.path.join("/dev/shm", self.prefix)

    def segments(self):
        """The segments of this daemon's instance, as "<prefix>/<file>"."""
        try:
            names = os.listdir(self.segment_dir)
        except FileNotFoundError:
            return []
        # "catalog" is the daemon's published catalog file, not a segment.
        return sorted(self.prefix + "/" + n for n in names if n != "catalog")

    def log_tail(self, n=4000):
        path = os.path.join(self.dir, "stderr.%d.log" % self.runs)
        try:
            with open(path, "rb") as f:
                return f.read()[-n:].decode("utf-8", "replace")
        except OSError:
            return ""

    def close(self):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.segment_dir, ignore_errors=True)
            shutil.rmtree(self.dir, ignore_errors=True)
