# Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
"""shmarray: named NumPy arrays in shared memory, served by ``shmarrayd``.

Processes on one host attach to an array by name and get a ``numpy.ndarray``
whose memory IS the shared segment (zero copies; a write by one process is
seen by all); processes on other hosts or in other containers read and write
the same arrays over gRPC::

    import numpy as np, shmarray

    with shmarray.Client() as c:                  # the default socket
        frame = c.create("cam/frame", (480, 640), dtype="f4")
        frame[10, 20] = 1.5                      # in shared memory

    # another process
    with shmarray.Client() as c:
        frame = c.attach("cam/frame")            # zero-copy, same memory
        rows = c.read("cam/frame", "::2, :")    # a copy, streamed over gRPC

Arrays returned by ``create``/``attach`` keep their memory alive through
their ``.base``, a :class:`Mapping`, also after the Client is closed and
after the array is deleted. ``attach_buffer`` returns the Mapping itself,
which exports the memory through the buffer protocol (PEP 3118) for
``memoryview``, NumPy and Cython typed memoryviews. Errors derive from
:class:`Error` and from the builtin a Python user catches (``KeyError`` for
a missing name, ``ValueError`` for bad input, ...): see ``shmarray._errors``.
"""

from . import _errors
from ._errors import *  # noqa: F403 (the names of _errors.__all__, exported below)
from ._shmarray import Mapping
from ._client import ArrayInfo, Client, Watch, WatchEvent
from ._dtypes import dtype_to_format, format_to_dtype

__version__ = "0.1.0"

__all__ = [
    "Client",
    "ArrayInfo",
    "Mapping",
    "Watch",
    "WatchEvent",
    "dtype_to_format",
    "format_to_dtype",
    *_errors.__all__,
]
