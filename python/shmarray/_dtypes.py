# Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
"""NumPy dtypes <-> canonical PEP 3118 formats.

Both directions use NumPy's own machinery through the buffer protocol rather
than a table of our own: a dtype's format is what NumPy exports for it
(``memoryview(numpy.empty(0, dtype)).format``), canonicalised by the same
parser the daemon uses; a format's dtype is what ``numpy.asarray`` reads
from an empty buffer of that format. A format NumPy cannot represent (bit
fields, pointers, Pascal strings, ...) raises TypeError naming it, never a
wrong dtype.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np

from . import _shmarray


def dtype_to_format(dtype) -> tuple[str, int, tuple[int, ...]]:
    """(canonical format, itemsize, sub-array shape) for what a NumPy user
    passes as a dtype: ``"f8"``, ``"<i4"``, ``np.float32``, ``"c16"``, ``"?"``,
    ``"S5"``, ``np.dtype([("x", "<f8"), ("y", "<f8")])``. A top-level
    sub-array dtype such as ``("f8", (2, 3))`` gives its element's format and
    the sub-array shape, which NumPy appends to an array's shape. Raises
    TypeError for what cannot be stored (objects, unicode, datetimes)."""
    dt = np.dtype(dtype)
    sub_shape: tuple[int, ...] = ()
    if dt.subdtype is not None:
        dt, sub_shape = dt.subdtype
    return (*_format_of(dt), sub_shape)


@functools.lru_cache(maxsize=1024)
def _format_of(dt: np.dtype) -> tuple[str, int]:
    try:
        exported = memoryview(np.empty(0, dt)).format
    except (ValueError, TypeError, BufferError) as e:
        raise TypeError(
            f"dtype {dt!r} cannot be stored in a shared array: "
            f"it has no PEP 3118 format ({e})"
        ) from None
    try:
        canonical, format_size = _shmarray.canonical_format(exported)
    except ValueError as e:
        raise TypeError(
            f"dtype {dt!r} (PEP 3118 format {exported!r}) cannot be stored in a shared array: {e}"
        ) from None
    if format_size > dt.itemsize:
        raise TypeError(
            f"dtype {dt!r}: format {exported!r} describes {format_size} bytes, "
            f"more than the dtype's {dt.itemsize}"
        )
    return canonical, dt.itemsize


@functools.lru_cache(maxsize=1024)
def format_to_dtype(fmt: str, itemsize: int) -> np.dtype:
    """The NumPy dtype of items of PEP 3118 format `fmt` stored `itemsize`
    bytes apart. A format that is a sub-array, e.g. ``(2,3)<d``, gives a
    sub-array dtype (NumPy turns it into trailing axes). Raises TypeError
    when NumPy cannot represent the format."""
    probe = _shmarray.format_probe(fmt)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            arr = np.asarray(probe)
    except Exception as e:  # NumPy's parser raises several kinds
        raise TypeError(f"NumPy cannot represent PEP 3118 format {fmt!r}: {e}") from None
    # A format NumPy cannot parse makes asarray fall back to a 0-d object
    # array wrapping the probe; a parsed one gives shape (0, *sub-array).
    if arr.dtype.hasobject or arr.ndim < 1 or arr.shape[0] != 0:
        raise TypeError(f"NumPy cannot represent PEP 3118 format {fmt!r}")
    dt = arr.dtype
    if arr.ndim > 1:
        dt = np.dtype((dt, arr.shape[1:]))
    if dt.itemsize != probe.itemsize:
        raise TypeError(
            f"NumPy reads PEP 3118 format {fmt!r} as {dt!r} of {dt.itemsize} bytes, "
            f"not {probe.itemsize}"
        )
    if itemsize > dt.itemsize and dt.names is not None:
        # Trailing padding that NumPy leaves out of formats: a structured
        # dtype carries it in its itemsize. (A scalar's padding lives in the
        # strides.)
        dt = np.dtype(
            {
                "names": list(dt.names),
                "formats": [dt.fields[n][0] for n in dt.names],
                "offsets": [dt.fields[n][1] for n in dt.names],
                "itemsize": itemsize,
            }
        )
    return dt
