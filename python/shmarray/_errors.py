# Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
"""The exceptions of the shmarray package.

Every error the package raises for the daemon's answer derives from
:class:`Error` and also from the builtin exception a Python user would
catch, so ``except KeyError`` works for a missing array as it does for a
dict::

    Error                          code (gRPC)           also a
    ├── NotFoundError              NOT_FOUND             KeyError
    ├── AlreadyExistsError         ALREADY_EXISTS        FileExistsError
    ├── InvalidArgumentError       INVALID_ARGUMENT      ValueError
    ├── OutOfRangeError            OUT_OF_RANGE          IndexError
    ├── FailedPreconditionError    FAILED_PRECONDITION
    │   ├── ReadOnlyError          (write to a sealed array)   PermissionError
    │   ├── SegmentUnreachableError (attach from another host/container)
    │   └── ClosedError            (a call on a closed Client) ValueError
    ├── PermissionDeniedError      PERMISSION_DENIED     PermissionError
    │   └── UnauthenticatedError   UNAUTHENTICATED
    ├── ResourceExhaustedError     RESOURCE_EXHAUSTED    MemoryError
    ├── UnavailableError           UNAVAILABLE           ConnectionError
    ├── DeadlineExceededError      DEADLINE_EXCEEDED     TimeoutError
    ├── AbortedError               ABORTED
    └── DataLossError              DATA_LOSS

``str(error)`` is the daemon's message word for word; ``error.code`` is the
gRPC status code name.
"""

from __future__ import annotations

__all__ = [
    "Error",
    "NotFoundError",
    "AlreadyExistsError",
    "InvalidArgumentError",
    "OutOfRangeError",
    "FailedPreconditionError",
    "ReadOnlyError",
    "SegmentUnreachableError",
    "ClosedError",
    "PermissionDeniedError",
    "UnauthenticatedError",
    "ResourceExhaustedError",
    "UnavailableError",
    "DeadlineExceededError",
    "AbortedError",
    "DataLossError",
]


class Error(Exception):
    """Base class of every shmarray error. ``code`` is the gRPC status code
    name (e.g. ``"NOT_FOUND"``); ``str(e)`` is the message."""

    code = "UNKNOWN"

    def __init__(self, message: str = "", code: str | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.message


class NotFoundError(Error, KeyError):
    """No array (or named view) of that name."""

    code = "NOT_FOUND"


class AlreadyExistsError(Error, FileExistsError):
    """The name is taken."""

    code = "ALREADY_EXISTS"


class InvalidArgumentError(Error, ValueError):
    """A bad name, dtype/format, shape, index expression or byte count."""

    code = "INVALID_ARGUMENT"


class OutOfRangeError(Error, IndexError):
    """An integer index outside its axis."""

    code = "OUT_OF_RANGE"


class FailedPreconditionError(Error):
    """The array is not in a state that allows the call (e.g. deleting a
    base that has named views)."""

    code = "FAILED_PRECONDITION"


class ReadOnlyError(FailedPreconditionError, PermissionError):
    """A write to a read-only (sealed) array."""


class SegmentUnreachableError(FailedPreconditionError):
    """attach() from a process that cannot open the array's shared memory
    (another host, another container): use Client.read / Client.write."""


class ClosedError(FailedPreconditionError, ValueError):
    """A call on a closed Client."""


class PermissionDeniedError(Error, PermissionError):
    """The daemon refused the credentials."""

    code = "PERMISSION_DENIED"


class UnauthenticatedError(PermissionDeniedError):
    """No token, or a wrong one, for a daemon started with --token-file."""

    code = "UNAUTHENTICATED"


class ResourceExhaustedError(Error, MemoryError):
    """Over a size, count or memory quota, or /dev/shm is full."""

    code = "RESOURCE_EXHAUSTED"


class UnavailableError(Error, ConnectionError):
    """No daemon answers at the target."""

    code = "UNAVAILABLE"


class DeadlineExceededError(Error, TimeoutError):
    """The call took longer than the Client's timeout."""

    code = "DEADLINE_EXCEEDED"


class AbortedError(Error):
    """The array was replaced while the call ran (e.g. between Stat and map)."""

    code = "ABORTED"


class DataLossError(Error):
    """A damaged segment or a broken stream."""

    code = "DATA_LOSS"


# gRPC status code numbers (equal to absl's) -> (name, class).
_CODES = {
    1: ("CANCELLED", Error),
    2: ("UNKNOWN", Error),
    3: ("INVALID_ARGUMENT", InvalidArgumentError),
    4: ("DEADLINE_EXCEEDED", DeadlineExceededError),
    5: ("NOT_FOUND", NotFoundError),
    6: ("ALREADY_EXISTS", AlreadyExistsError),
    7: ("PERMISSION_DENIED", PermissionDeniedError),
    8: ("RESOURCE_EXHAUSTED", ResourceExhaustedError),
    9: ("FAILED_PRECONDITION", FailedPreconditionError),
    10: ("ABORTED", AbortedError),
    11: ("OUT_OF_RANGE", OutOfRangeError),
    12: ("UNIMPLEMENTED", Error),
    13: ("INTERNAL", Error),
    14: ("UNAVAILABLE", UnavailableError),
    15: ("DATA_LOSS", DataLossError),
    16: ("UNAUTHENTICATED", UnauthenticatedError),
}

_KINDS = {
    "unreachable": SegmentUnreachableError,
    "readonly": ReadOnlyError,
    "closed": ClosedError,
}

# The daemon's words for a write into a read-only array (Write, Copy into a
# sealed destination): "cannot write to 'x': it is read-only (sealed)".
_READ_ONLY_MARKERS = ("is read-only", "buffer source array is read-only")


def _from_status(code: int, message: str, kind: str = "") -> Error:
    """The exception for a status from the C++ client (used by the
    extension module)."""
    name, cls = _CODES.get(code, ("UNKNOWN", Error))
    if kind in _KINDS:
        cls = _KINDS[kind]
    elif cls is FailedPreconditionError and any(m in message for m in _READ_ONLY_MARKERS):
        cls = ReadOnlyError
    return cls(message, name)
