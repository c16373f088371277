# Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
"""Differential test against NumPy: for random (dtype, shape, order, index)
cases, ``c.read(name, idx)`` equals ``c.attach(name)[idx]`` equals the same
expression on a private NumPy copy; an index NumPy refuses is refused too."""

from __future__ import annotations

import random

import numpy as np
import pytest

import shmarray

DTYPES = ["i1", "u2", "<i4", ">i4", "<f8", "c8", "?", "S3", "f2", [("a", "u1"), ("b", "<f8")]]
ARRAYS = 60
INDEXES_PER_ARRAY = 10  # 600 cases


def random_shape(rng: random.Random) -> tuple[int, ...]:
    ndim = rng.choice([0, 1, 1, 2, 2, 3, 3, 4])
    return tuple(rng.choice([0, 1, 2, 3, 5, 7]) if rng.random() < 0.15 else rng.randint(1, 7)
                 for _ in range(ndim))


def random_bound(rng: random.Random, n: int):
    r = rng.random()
    if r < 0.3:
        return None
    if r < 0.9:
        return rng.randint(-n - 1, n + 1)
    return rng.choice([-10 * (n + 1), 10 * (n + 1)])


def random_index(rng: random.Random, shape: tuple[int, ...]):
    items = []
    axis = 0
    used_ellipsis = False
    while axis < len(shape) and rng.random() < 0.85:
        n = shape[axis]
        r = rng.random()
        if r < 0.25 and n > 0:
            items.append(rng.randint(-n, n - 1))
            axis += 1
        elif r < 0.3:
            items.append(rng.choice([-n - 1, n]))  # out of range
            axis += 1
        elif r < 0.4:
            items.append(None)
        elif r < 0.47 and not used_ellipsis:
            items.append(Ellipsis)
            used_ellipsis = True
            axis = len(shape) - rng.randint(0, len(shape) - axis)
        else:
            step = rng.choice([None, None, 1, 2, 3, -1, -2, -3])
            items.append(slice(random_bound(rng, n), random_bound(rng, n), step))
            axis += 1
    if rng.random() < 0.05:
        items.append(0)  # possibly one too many
    return tuple(items)


def index_text(index) -> str:
    out = []
    for i in index:
        if i is None:
            out.append("None")
        elif i is Ellipsis:
            out.append("...")
        elif isinstance(i, slice):
            s = f"{'' if i.start is None else i.start}:{'' if i.stop is None else i.stop}"
            out.append(s if i.step is None else f"{s}:{i.step}")
        else:
            out.append(str(i))
    return ", ".join(out)


def random_fill(rng: np.random.Generator, a: np.ndarray) -> None:
    raw = rng.integers(0, 256, a.nbytes, dtype=np.uint8)
    if a.dtype.kind == "b":
        raw %= 2
    if a.dtype.kind in "fc":  # avoid NaNs, which never compare equal
        a[...] = rng.standard_normal(a.shape).astype(a.dtype) if a.size else a
        return
    if a.dtype.names:
        a["a"] = rng.integers(0, 255, a.shape)
        a["b"] = rng.standard_normal(a.shape)
        return
    a.reshape(-1).view(np.uint8)[...] = raw


def test_read_and_attach_match_numpy(client, name):
    rng = random.Random(20261201)
    nrng = np.random.default_rng(3118)
    cases = 0
    for k in range(ARRAYS):
        dtype = np.dtype(rng.choice(DTYPES))
        shape = random_shape(rng)
        order = rng.choice("CF")
        arr_name = f"{name}/{k}"
        a = client.create(arr_name, shape, dtype=dtype, order=order)
        assert a.shape == shape and a.dtype == dtype
        assert a.flags.c_contiguous if order == "C" else a.flags.f_contiguous
        random_fill(nrng, a)
        private = a.copy(order="K")
        attached = client.attach(arr_name)
        for _ in range(INDEXES_PER_ARRAY):
            index = random_index(rng, shape)
            text = index_text(index)
            cases += 1
            try:
                expected = private[index]
            except IndexError as e:
                with pytest.raises(shmarray.Error) as err:
                    client.read(arr_name, text)
                assert isinstance(err.value, (IndexError, ValueError)), (shape, text, e)
                with pytest.raises((IndexError, ValueError)):
                    client.read(arr_name, index)
                continue
            got = client.read(arr_name, text)
            view = np.asarray(attached)[index]
            ctx = (dtype, shape, order, text)
            # A full integer index gives NumPy scalars in native byte order:
            # compare as arrays of the array's dtype.
            want = np.ascontiguousarray(np.asarray(expected, dtype=dtype)).tobytes()
            assert got.shape == np.shape(expected) and got.dtype == dtype, ctx
            assert got.tobytes() == want, ctx
            assert np.ascontiguousarray(np.asarray(view, dtype=dtype)).tobytes() == want, ctx
            info = client.slice(arr_name, index)
            assert info.shape == np.shape(expected), ctx
            if isinstance(view, np.ndarray) and view.ndim == len(info.shape):
                assert info.strides == view.strides or 0 in info.shape, ctx
        client.delete(arr_name)
    assert cases >= 500
