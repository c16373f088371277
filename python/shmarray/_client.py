# Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
"""shmarray.Client: NumPy arrays in shared memory, by name."""

from __future__ import annotations

import dataclasses
import datetime
import operator
import os
from typing import Any, Iterator, Sequence

import numpy as np

from . import _errors, _shmarray
from ._dtypes import dtype_to_format, format_to_dtype
from ._shmarray import Mapping

IndexLike = Any  # str (NumPy subscript text), int, slice, Ellipsis, None, or a tuple of them


@dataclasses.dataclass(frozen=True)
class ArrayInfo:
    """The daemon's description of an array or named view.

    ``strides`` are in bytes (PEP 3118); ``offset`` is the byte offset of
    item [0, ..., 0] in the segment's data region; ``kind`` is ``"array"`` or
    ``"view"`` (a named view of ``base``); ``generation`` identifies this
    incarnation of the name."""

    name: str
    format: str
    itemsize: int
    shape: tuple[int, ...]
    strides: tuple[int, ...]
    offset: int
    readonly: bool
    c_contiguous: bool
    f_contiguous: bool
    generation: int
    kind: str
    base: str
    base_generation: int
    segment: str
    segment_size: int
    data_offset: int
    data_size: int
    created_unix_ns: int

    @property
    def dtype(self) -> np.dtype:
        """The NumPy dtype of the items (TypeError if NumPy cannot
        represent the format)."""
        return format_to_dtype(self.format, self.itemsize)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return self.size * self.itemsize

    @property
    def created(self) -> datetime.datetime:
        """Creation time (UTC)."""
        return datetime.datetime.fromtimestamp(self.created_unix_ns / 1e9, datetime.timezone.utc)


@dataclasses.dataclass(frozen=True)
class WatchEvent:
    """One event of :meth:`Client.watch`: ``type`` is ``"created"``,
    ``"sealed"``, ``"deleted"`` or ``"overflow"`` (``dropped`` events were
    lost because the stream was not read fast enough)."""

    type: str
    name: str
    info: ArrayInfo | None
    unix_ns: int
    dropped: int


def _info(d: dict) -> ArrayInfo:
    return ArrayInfo(**d)


def _index_item(item) -> str:
    if item is Ellipsis:
        return "..."
    if item is None:
        return "None"
    if isinstance(item, slice):
        parts = ["" if p is None else str(operator.index(p)) for p in (item.start, item.stop)]
        if item.step is not None:
            parts.append(str(operator.index(item.step)))
        return ":".join(parts)
    if isinstance(item, (bool, np.bool_)):
        raise _errors.InvalidArgumentError(
            "boolean indices are not supported (basic indexing only)", "INVALID_ARGUMENT"
        )
    try:
        return str(operator.index(item))
    except TypeError:
        raise _errors.InvalidArgumentError(
            f"only integers, slices (':'), ellipsis ('...') and None are valid indices, "
            f"not {type(item).__name__}",
            "INVALID_ARGUMENT",
        ) from None


def _index_text(index: IndexLike) -> str:
    """NumPy subscript text for an index: text as is, or Python index
    objects (``np.s_[::2, -1]``) spelled as text."""
    if isinstance(index, str):
        return index
    if isinstance(index, tuple):
        return ", ".join(_index_item(i) for i in index)
    return _index_item(index)


def _shape_tuple(shape) -> tuple[int, ...]:
    try:
        return (operator.index(shape),)
    except TypeError:
        pass
    try:
        return tuple(operator.index(e) for e in shape)
    except TypeError:
        raise _errors.InvalidArgumentError(
            f"shape must be an int or a sequence of ints, not {shape!r}", "INVALID_ARGUMENT"
        ) from None


class Watch:
    """A running watch (see :meth:`Client.watch`): an iterator of
    :class:`WatchEvent` that blocks for the next event. ``close()`` (or
    leaving a ``with`` block) ends it; iteration then stops."""

    def __init__(self, impl: _shmarray._Watch):
        self._impl = impl

    def __iter__(self) -> Iterator[WatchEvent]:
        return self

    def __next__(self) -> WatchEvent:
        return self._event(self._impl.next(-1.0))

    def next(self, timeout: float | None = None) -> WatchEvent | None:
        """The next event, or None when `timeout` seconds pass without one.
        Raises StopIteration once the watch has ended."""
        return self._event(self._impl.next(-1.0 if timeout is None else float(timeout)))

    @staticmethod
    def _event(d: dict | None) -> WatchEvent | None:
        if d is None:
            return None
        info = d["info"]
        return WatchEvent(
            type=d["type"],
            name=d["name"],
            info=None if info is None else _info(info),
            unix_ns=d["unix_ns"],
            dropped=d["dropped"],
        )

    def close(self) -> None:
        """Ends the watch (idempotent)."""
        self._impl.close()

    def __enter__(self) -> "Watch":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Client:
    """A connection to one ``shmarrayd``.

    ``target`` is ``""`` (the default Unix socket of `instance`:
    ``$XDG_RUNTIME_DIR/shmarray/<instance>.sock``, or
    ``/run/shmarray/<instance>.sock`` without it), ``"unix:/path"`` (or an
    absolute path), or ``"host:port"`` (TCP). `token` (or the first line of
    `token_file`) is sent as a bearer token; `tls_ca` is the path of the PEM
    certificate(s) that verify a TLS daemon. `timeout` is the deadline in
    seconds of each metadata call (0 = none); streams have none.
    `streams` (1 to 64) is how many parallel streams, each its own
    connection, :meth:`read` and :meth:`write` split an array larger than
    4 MiB across. `tune_malloc` (default True) lets the first such Client
    raise glibc's malloc trim and mmap thresholds for the process (128 MiB
    and 32 MiB, as ``shmarrayd`` does): without it, gRPC's socket buffers
    fault in afresh on every read and :meth:`read` over TCP is about 5x
    slower; up to 128 MiB of freed heap is then kept for reuse.
    `local_reads` (default True): on the daemon's host, over its Unix
    socket, :meth:`read` and :meth:`read_into` copy the bytes straight out
    of the array's shared memory (one copy, nothing through the daemon)
    whenever this process can open it, with the same result as the stream;
    False always streams. `reuse_read_buffers` (default True): the memory
    of a dropped :meth:`read` result of 4 MiB or more is kept (one buffer
    per process) and the next :meth:`read` it fits lands in it, instead of
    in new memory whose pages all fault in; up to one such result's size
    stays allocated meanwhile. False returns it to the system at once.

    Creating a Client does not contact the daemon; the first call does
    (UnavailableError if none answers). A Client may be used from several
    threads; every call releases the GIL while it waits. Use it as a
    context manager, or call :meth:`close`. Arrays it returned stay valid
    after it is closed.
    """

    def __init__(
        self,
        target: str = "",
        *,
        instance: str = "",
        token: str | None = None,
        token_file: str | os.PathLike | None = None,
        tls_ca: str | os.PathLike | None = None,
        timeout: float = 60.0,
        streams: int = 1,
        tune_malloc: bool = True,
        local_reads: bool = True,
        reuse_read_buffers: bool = True,
    ):
        if token is not None and token_file is not None:
            raise _errors.InvalidArgumentError(
                "give token or token_file, not both", "INVALID_ARGUMENT"
            )
        if token_file is not None:
            with open(token_file, encoding="utf-8") as f:
                lines = f.read().splitlines()
            token = lines[0].strip() if lines else ""
        pem = ""
        if tls_ca is not None:
            with open(tls_ca, encoding="ascii") as f:
                pem = f.read()
        self._impl: _shmarray._Client | None = _shmarray._Client(
            str(target),
            str(instance),
            token or "",
            pem,
            float(timeout),
            int(streams),
            bool(tune_malloc),
            bool(local_reads),
            bool(reuse_read_buffers),
        )

    # --- lifetime -------------------------------------------------------

    @property
    def _c(self) -> _shmarray._Client:
        impl = self._impl
        if impl is None:
            raise _errors.ClosedError("the client is closed", "FAILED_PRECONDITION")
        return impl

    @property
    def target(self) -> str:
        """The gRPC target in use, e.g. ``"unix:/run/shmarray/default.sock"``."""
        return self._c.target

    @property
    def closed(self) -> bool:
        return self._impl is None

    def close(self) -> None:
        """Closes the connection (idempotent). Arrays and Mappings already
        returned stay valid; running watches keep their own connection."""
        impl, self._impl = self._impl, None
        if impl is not None:
            impl.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<shmarray.Client {'closed' if self._impl is None else repr(self._impl.target)}>"

    # --- zero-copy arrays (same host) ---------------------------------------

    def create(
        self,
        name: str,
        shape: int | Sequence[int],
        dtype: Any = "f8",
        order: str = "C",
        fill: Any = None,
    ) -> np.ndarray:
        """Creates array `name` in shared memory and returns it, attached.

        `dtype` is anything ``numpy.dtype()`` accepts (``"f8"``, ``"<i4"``,
        ``np.float32``, ``"c16"``, ``"S5"``, a structured dtype); it is stored
        as a canonical PEP 3118 format, so other languages and platforms read
        the same items. A sub-array dtype adds trailing axes, as in NumPy.
        `order` is ``"C"`` or ``"F"``. `fill` (optional) is one item, e.g.
        ``1.5`` or a tuple for a structured dtype; the default is zeros.

        The result is a ``numpy.ndarray`` whose memory IS the segment (see
        :meth:`attach`). Raises AlreadyExistsError, InvalidArgumentError
        (bad name or shape), TypeError (a dtype that cannot be stored, a
        fill that does not convert), ResourceExhaustedError (quota, /dev/shm
        full).
        """
        fmt, itemsize, sub_shape = dtype_to_format(dtype)
        full_shape = _shape_tuple(shape) + tuple(sub_shape)
        fill_bytes = None
        if fill is not None:
            item_dtype = format_to_dtype(fmt, itemsize)
            item = np.asarray(fill, dtype=item_dtype)
            if item.shape != ():
                raise _errors.InvalidArgumentError(
                    f"fill must be one item of dtype {item_dtype}, not an array of shape "
                    f"{item.shape}",
                    "INVALID_ARGUMENT",
                )
            fill_bytes = item.tobytes()
        info = self._c.create(name, fmt, list(full_shape), order, fill_bytes, itemsize)
        mapping = self._c.attach(name, False)
        if mapping.generation != info["generation"]:
            raise _errors.AbortedError(
                f"array '{name}' was replaced between create and attach", "ABORTED"
            )
        return _shmarray.as_ndarray(mapping, format_to_dtype(mapping.format, mapping.itemsize))

    def attach(self, name: str, readonly: bool = False) -> np.ndarray:
        """The array (or named view) `name` as a ``numpy.ndarray`` over its
        shared memory: zero-copy, so writes by any process are seen by all.

        The ndarray's ``.base`` is a :class:`shmarray.Mapping` that owns the
        mapping: the array stays valid after this Client is closed, after the
        name is deleted and after the daemon stops (POSIX keeps the memory
        until the last mapping goes). A sealed array, a view of one, or
        ``readonly=True`` gives a read-only array (``flags.writeable`` is
        False, and NumPy refuses writes). Attaching the same array again from
        this Client while a previous array of it lives shares the mapping.

        Raises NotFoundError, SegmentUnreachableError (this process cannot
        open the segment: another host or container; use :meth:`read` and
        :meth:`write`), TypeError (a format NumPy cannot represent; use
        :meth:`attach_buffer`), AbortedError (replaced while attaching),
        DataLossError (a damaged segment).
        """
        mapping = self._c.attach(name, bool(readonly))
        return _shmarray.as_ndarray(mapping, format_to_dtype(mapping.format, mapping.itemsize))

    def attach_buffer(self, name: str, readonly: bool = False) -> Mapping:
        """The :class:`shmarray.Mapping` of array `name`: the object that owns
        the mapping and exports it through the buffer protocol (PEP 3118)
        with the canonical format, shape, strides and read-only flag.
        ``memoryview(m)``, ``numpy.asarray(m)`` and Cython typed memoryviews
        (``cdef int[:, ::1] v = m``) bind to it without a copy; the memory
        lives while the Mapping or any buffer of it does. Errors as
        :meth:`attach` (without the dtype check)."""
        return self._c.attach(name, bool(readonly))

    # --- catalog --------------------------------------------------------------

    def stat(self, name: str) -> ArrayInfo:
        """The description of array or named view `name` (NotFoundError)."""
        return _info(self._c.stat(name))

    def ls(self, prefix: str = "") -> list[ArrayInfo]:
        """Every array and named view whose name starts with `prefix`,
        sorted by name."""
        return [_info(d) for d in self._c.list(prefix)]

    def seal(self, name: str) -> ArrayInfo:
        """Makes array `name` read-only for good and returns its new
        description. Writable mappings that already exist cannot be revoked.
        Sealing a named view is FailedPreconditionError (seal the base)."""
        return _info(self._c.seal(name))

    def delete(self, name: str, cascade: bool = False) -> list[str]:
        """Removes `name` (with `cascade`, also the named views of an array)
        and returns the names removed. Arrays already attached stay valid.
        FailedPreconditionError when `name` has named views and not
        `cascade`."""
        return self._c.remove(name, bool(cascade))

    def slice(self, name: str, index: IndexLike = "", as_: str | None = None) -> ArrayInfo:
        """The description of ``name[index]`` (NumPy basic indexing:
        ``"::2, -1"``, ``np.s_[::2, -1]``). With `as_`, registers it as a
        named view that :meth:`attach` maps zero-copy."""
        return _info(self._c.slice(name, _index_text(index), as_ or ""))

    def copy(self, src: str, dst: str, order: str = "C", *, index: IndexLike = "") -> ArrayInfo:
        """Server-side copy of ``src[index]`` into a new contiguous array
        `dst` in `order` (``"C"`` or ``"F"``); returns its description."""
        return _info(self._c.copy(src, _index_text(index), dst, order))

    def copy_into(
        self, src: str, dst: str, *, index: IndexLike = "", dst_index: IndexLike = ""
    ) -> ArrayInfo:
        """Server-side ``dst[dst_index] = src[index]`` between existing
        arrays of the same format (broadcasting as Cython); returns the
        destination selection. ReadOnlyError for a sealed destination."""
        return _info(self._c.copy_into(src, _index_text(index), dst, _index_text(dst_index)))

    # --- streamed (any host) ---------------------------------------------------

    def read(self, name: str, index: IndexLike = "", order: str = "C") -> np.ndarray:
        """A new ``numpy.ndarray`` holding ``name[index]``, streamed over
        gRPC (works from any host), or on the daemon's host copied straight
        from shared memory (`local_reads`). The bytes land once, in the
        result's own memory; the GIL is released while they move."""
        mapping = self._c.read(name, _index_text(index), order)
        return _shmarray.as_ndarray(mapping, format_to_dtype(mapping.format, mapping.itemsize))

    def read_into(self, name: str, index: IndexLike, out: Any) -> int:
        """Streams ``name[index]`` over gRPC into `out`, memory you already
        have: a writable, C- or Fortran-contiguous ``numpy.ndarray`` (or any
        writable buffer) with the selection's shape and dtype. Returns the
        bytes read. For a consumer that reads the same selection again and
        again (a frame buffer), nothing is allocated and no fresh page is
        touched. InvalidArgumentError (and `out` untouched) when its shape,
        itemsize or format differs, or it is not contiguous; NumPy's
        ValueError when it is read-only. The GIL is released while the bytes move."""
        return self._c.read_into(name, _index_text(index), out)

    def write(self, name: str, index: IndexLike, array: Any) -> int:
        """Writes `array` (any array-like) into ``name[index]`` over gRPC and
        returns the bytes written. `array` broadcasts to the selection's
        shape as in NumPy assignment; its dtype is converted to the target's
        only when NumPy calls that safe (``numpy.can_cast(..., "same_kind")``),
        otherwise TypeError. Strided sources are packed chunk by chunk, never
        copied whole (a dtype conversion does copy once). ReadOnlyError for a
        sealed array; InvalidArgumentError for a shape that does not
        broadcast."""
        text = _index_text(index)
        target = self.stat(name) if text == "" else _info(self._c.slice(name, text, ""))
        if target.readonly:
            raise _errors.ReadOnlyError(
                f"cannot write to '{name}': it is read-only (sealed)", "FAILED_PRECONDITION"
            )
        dtype, sub_shape = target.dtype, ()
        if dtype.subdtype is not None:  # a sub-array format: NumPy sees trailing axes
            dtype, sub_shape = dtype.subdtype
        elif dtype.itemsize != target.itemsize:
            raise TypeError(
                f"cannot write to '{name}' from Python: its items are {target.itemsize} bytes "
                f"apart but its dtype {dtype!r} has {dtype.itemsize}"
            )
        src = np.asarray(array)
        if src.dtype != dtype:
            if not np.can_cast(src.dtype, dtype, "same_kind"):
                raise TypeError(
                    f"Cannot cast array data from {src.dtype!r} to {dtype!r} "
                    f"according to the rule 'same_kind'"
                )
            src = src.astype(dtype)
        shape = target.shape + tuple(sub_shape)
        try:
            src = np.broadcast_to(src, shape)
        except ValueError:
            raise _errors.InvalidArgumentError(
                f"could not broadcast input array from shape {src.shape} into shape {shape}",
                "INVALID_ARGUMENT",
            ) from None
        if sub_shape:
            # One opaque item per element of the stored shape.
            items = int(np.prod(sub_shape, dtype=np.int64))
            src = (
                np.ascontiguousarray(src)
                .reshape(target.shape + (items,))
                .view(np.dtype((np.void, target.itemsize)))
                .reshape(target.shape)
            )
        return self._c.write(name, text, src, target.format)

    # --- events ----------------------------------------------------------------------

    def watch(self, prefix: str = "") -> Watch:
        """Events (created, sealed, deleted) of names starting with `prefix`,
        as an iterator that blocks for the next one::

            with c.watch("cam/") as events:
                for e in events:
                    print(e.type, e.name)

        Returns once the daemon has registered the watch: every change made
        after it returns is delivered, earlier ones are not."""
        return Watch(self._c.watch(prefix))
