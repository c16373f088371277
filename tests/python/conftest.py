# Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
"""pytest fixtures: a REAL shmarrayd per test module (or per test where a
test stops it), on a private socket with a unique --instance, ready when its
socket answers a List (polled with a deadline, never a sleep), always
stopped and reaped, its leftover segments removed.

ctest sets SHMARRAYD (the daemon binary) and PYTHONPATH (the build tree's
python/ directory)."""

from __future__ import annotations

import ctypes
import itertools
import os
import pathlib
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

import shmarray

_counter = itertools.count()


class Daemon:
    """One running shmarrayd."""

    def __init__(self, *extra: str, socket: str | os.PathLike | None = None):
        binary = os.environ.get("SHMARRAYD")
        if not binary:
            pytest.fail("SHMARRAYD is not set (ctest sets it to the shmarrayd binary)")
        self.binary = binary
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="shmarray-py-"))
        self.instance = f"py{os.getpid()}n{next(_counter)}"
        self.socket = pathlib.Path(socket) if socket else self.dir / "shmarrayd.sock"
        self.target = f"unix:{self.socket}"
        self.extra = list(extra)
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        log = open(self.dir / "stderr.log", "ab")
        self.proc = subprocess.Popen(
            [self.binary, "--socket", str(self.socket), "--instance", self.instance, *self.extra],
            stdout=log,
            stderr=log,
        )
        log.close()
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"shmarrayd exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with shmarray.Client(self.target, timeout=2) as c:
                    c.ls()
                return
            except shmarray.UnavailableError:
                if time.monotonic() > deadline:
                    pytest.fail(f"shmarrayd did not answer within 30 s:\n{self.log()}")
                time.sleep(0.02)  # poll interval, bounded by the deadline
            except shmarray.Error:
                return  # it answered (e.g. UNAUTHENTICATED without a token)

    def client(self, **kwargs) -> shmarray.Client:
        return shmarray.Client(self.target, **kwargs)

    def log(self) -> str:
        try:
            return (self.dir / "stderr.log").read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    @property
    def segment_dir(self) -> pathlib.Path:
        """The daemon's private directory of segments on the shm tmpfs."""
        return pathlib.Path(f"/dev/shm/shmarray.{os.geteuid()}.{self.instance}")

    def segments(self) -> list[str]:
        """The segments of this daemon that exist now, named as ArrayInfo.segment
        names them ("<directory>/<file>"); the catalog file is left out."""
        d = self.segment_dir
        if not d.is_dir():
            return []
        # The catalog file (docs/architecture.md) is not a segment.
        return sorted(f"{d.name}/{p.name}" for p in d.iterdir() if p.name != "catalog")

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.segment_dir, ignore_errors=True)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def daemon():
    d = Daemon()
    yield d
    d.close()


@pytest.fixture
def own_daemon():
    """A daemon for one test (for tests that stop it)."""
    d = Daemon()
    yield d
    d.close()


@pytest.fixture
def client(daemon):
    with daemon.client() as c:
        yield c


_names = itertools.count()


@pytest.fixture
def name(request):
    """A fresh array name for the test."""
    return f"t/{re.sub(r'[^A-Za-z0-9_-]', '_', request.node.name[:40])}.{next(_names)}"


def mapped_ranges(segment: str) -> list[tuple[int, int]]:
    """[start, end) address ranges of this process's mappings of `segment`."""
    out = []
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and parts[5] == f"/dev/shm/{segment}":
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                out.append((lo, hi))
    return out


class _PyBuffer(ctypes.Structure):
    _fields_ = [
        ("buf", ctypes.c_void_p),
        ("obj", ctypes.py_object),
        ("len", ctypes.c_ssize_t),
        ("itemsize", ctypes.c_ssize_t),
        ("readonly", ctypes.c_int),
        ("ndim", ctypes.c_int),
        ("format", ctypes.c_char_p),
        ("shape", ctypes.POINTER(ctypes.c_ssize_t)),
        ("strides", ctypes.POINTER(ctypes.c_ssize_t)),
        ("suboffsets", ctypes.POINTER(ctypes.c_ssize_t)),
        ("internal", ctypes.c_void_p),
    ]


# PEP 3118 request flags (Include/pybuffer.h).
PyBUF_WRITABLE = 0x0001
PyBUF_FORMAT = 0x0004
PyBUF_ND = 0x0008
PyBUF_STRIDES = 0x0010 | PyBUF_ND
PyBUF_C_CONTIGUOUS = 0x0020 | PyBUF_STRIDES
PyBUF_F_CONTIGUOUS = 0x0040 | PyBUF_STRIDES
PyBUF_ANY_CONTIGUOUS = 0x0080 | PyBUF_STRIDES


def get_buffer(obj, flags: int) -> dict:
    """PyObject_GetBuffer(obj, flags) as a consumer in C makes it; returns
    what the exporter filled in (and releases the buffer)."""
    view = _PyBuffer()
    get = ctypes.pythonapi.PyObject_GetBuffer
    get.argtypes = [ctypes.py_object, ctypes.POINTER(_PyBuffer), ctypes.c_int]
    get.restype = ctypes.c_int
    release = ctypes.pythonapi.PyBuffer_Release
    release.argtypes = [ctypes.POINTER(_PyBuffer)]
    get(obj, ctypes.byref(view), flags)  # raises the exporter's exception
    try:
        n = view.ndim
        return {
            "buf": view.buf,
            "len": view.len,
            "itemsize": view.itemsize,
            "readonly": bool(view.readonly),
            "format": None if view.format is None else view.format.decode(),
            "shape": None if not view.shape else tuple(view.shape[i] for i in range(n)),
            "strides": None if not view.strides else tuple(view.strides[i] for i in range(n)),
        }
    finally:
        release(ctypes.byref(view))
