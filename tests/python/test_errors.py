# Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
"""Bad input raises the documented exception (a shmarray.Error that is also
the builtin a Python user catches) with the daemon's message, and changes
nothing: canary arrays stay byte-for-byte the same."""

from __future__ import annotations

import numpy as np
import pytest

import shmarray


@pytest.fixture
def canaries(client, name):
    """Two arrays that no bad call may touch; checked after the test."""
    rng = np.random.default_rng(7)
    a = client.create(name + "ca", (16, 16), dtype="<i8")
    a[...] = rng.integers(-(2**40), 2**40, (16, 16))
    b = client.create(name + "cb", 33, dtype="u1")
    b[...] = rng.integers(0, 255, 33)
    expected = {name + "ca": a.tobytes(), name + "cb": b.tobytes()}
    names = set(i.name for i in client.ls())
    yield
    for n, raw in expected.items():
        assert client.read(n).tobytes() == raw, n
    assert names <= set(i.name for i in client.ls())


def test_exception_hierarchy_matches_builtins():
    for cls, builtin in [
        (shmarray.NotFoundError, KeyError),
        (shmarray.AlreadyExistsError, FileExistsError),
        (shmarray.InvalidArgumentError, ValueError),
        (shmarray.OutOfRangeError, IndexError),
        (shmarray.ReadOnlyError, PermissionError),
        (shmarray.ResourceExhaustedError, MemoryError),
        (shmarray.UnavailableError, ConnectionError),
        (shmarray.UnauthenticatedError, PermissionError),
        (shmarray.DeadlineExceededError, TimeoutError),
        (shmarray.ClosedError, ValueError),
    ]:
        assert issubclass(cls, shmarray.Error) and issubclass(cls, builtin), cls
    # KeyError would quote its message; ours is the daemon's, word for word.
    assert str(shmarray.NotFoundError("no array 'x'")) == "no array 'x'"


def test_every_public_error_class_is_exported():
    from shmarray import _errors

    classes = {
        n: v
        for n, v in vars(_errors).items()
        if isinstance(v, type)
        and issubclass(v, BaseException)
        and v.__module__ == _errors.__name__
        and not n.startswith("_")
    }
    assert "Error" in classes and len(classes) > 10, classes
    assert sorted(_errors.__all__) == sorted(classes), "_errors.__all__ is not its error classes"
    assert len(shmarray.__all__) == len(set(shmarray.__all__)), shmarray.__all__
    for n, cls in classes.items():
        assert n in shmarray.__all__, n
        assert getattr(shmarray, n) is cls, n
        assert issubclass(cls, shmarray.Error), n
    # `from shmarray import *` binds every exported name.
    namespace: dict = {}
    exec("from shmarray import *", namespace)
    assert set(shmarray.__all__) <= set(namespace), set(shmarray.__all__) - set(namespace)


def test_missing_names(client, name, canaries):
    with pytest.raises(shmarray.NotFoundError) as e:
        client.attach(name + "missing")
    assert isinstance(e.value, KeyError) and e.value.code == "NOT_FOUND"
    assert name + "missing" in str(e.value)
    for call in (
        lambda: client.stat(name + "missing"),
        lambda: client.read(name + "missing"),
        lambda: client.write(name + "missing", "", [1]),
        lambda: client.seal(name + "missing"),
        lambda: client.delete(name + "missing"),
        lambda: client.slice(name + "missing", "0"),
        lambda: client.copy(name + "missing", name + "new"),
        lambda: client.attach_buffer(name + "missing"),
    ):
        with pytest.raises(KeyError):
            call()


def test_taken_names(client, name, canaries):
    with pytest.raises(shmarray.AlreadyExistsError) as e:
        client.create(name + "ca", 3)
    assert isinstance(e.value, FileExistsError) and "already exists" in str(e.value)
    with pytest.raises(FileExistsError):
        client.slice(name + "cb", "1:", as_=name + "ca")


@pytest.mark.parametrize("bad", ["", "a//b", "../x", "x y", "/abs", "a/", "é", "x" * 300])
def test_bad_names(client, bad, canaries):
    with pytest.raises(shmarray.InvalidArgumentError) as e:
        client.create(bad, 3)
    assert isinstance(e.value, ValueError) and e.value.code == "INVALID_ARGUMENT"
    with pytest.raises(ValueError):
        client.stat(bad)


@pytest.mark.parametrize("shape", [(-1,), (2, -3), "abc", (1.5,), (1,) * 33])
def test_bad_shapes(client, name, shape, canaries):
    with pytest.raises(ValueError):
        client.create(name, shape)


def test_bad_dtypes_and_fills(client, name, canaries):
    with pytest.raises(TypeError):
        client.create(name, 3, dtype="not-a-dtype")
    with pytest.raises(TypeError, match="datetime64|M8"):
        client.create(name, 3, dtype="M8[s]")
    with pytest.raises(ValueError):
        client.create(name, 3, dtype="i4", fill=[1, 2])
    with pytest.raises(ValueError):
        client.create(name, 3, dtype="i4", order="Z")


@pytest.mark.parametrize(
    "index, error",
    [
        ("::0", shmarray.InvalidArgumentError),
        ("..., ...", shmarray.InvalidArgumentError),
        ("0, 0, 0", shmarray.InvalidArgumentError),
        ("16", shmarray.OutOfRangeError),
        ("-17", shmarray.OutOfRangeError),
        ("1:2:", None),
        ("[1, 2]", shmarray.InvalidArgumentError),
        ("1 +", shmarray.InvalidArgumentError),
        ((0, 99), shmarray.OutOfRangeError),
        ((True,), shmarray.InvalidArgumentError),
        ((1.5,), shmarray.InvalidArgumentError),
    ],
)
def test_bad_indexes(client, name, canaries, index, error):
    if error is None:
        assert client.read(name + "ca", index).shape == (1, 16)
        return
    for call in (
        lambda: client.read(name + "ca", index),
        lambda: client.slice(name + "ca", index),
        lambda: client.write(name + "ca", index, 0),
        lambda: client.copy(name + "ca", name + "new", index=index),
    ):
        with pytest.raises(error) as e:
            call()
        builtin = IndexError if error is shmarray.OutOfRangeError else ValueError
        assert isinstance(e.value, builtin)
    if error is shmarray.OutOfRangeError:
        assert "Index out of bounds" in str(e.value)
    if index == "::0":
        assert "Step may not be zero (axis 0)" in str(e.value)


def test_bad_writes(client, name, canaries):
    with pytest.raises(TypeError, match="same_kind"):
        client.write(name + "ca", "", np.ones((16, 16)))
    with pytest.raises(ValueError, match="broadcast"):
        client.write(name + "ca", "0", np.ones(15, dtype="i8"))
    with pytest.raises(TypeError, match="same_kind"):
        client.write(name + "cb", "", ["a", "b"])


def test_sealed_writes(client, name, canaries):
    client.create(name, 4, dtype="i8")
    client.seal(name)
    with pytest.raises(shmarray.ReadOnlyError):
        client.write(name, "", 1)
    with pytest.raises(shmarray.ReadOnlyError) as e:
        client.copy_into(name + "ca", name, index="0, :4")
    assert isinstance(e.value, PermissionError) and "read-only" in str(e.value)
    a = client.attach(name)
    with pytest.raises(ValueError, match="read-only"):
        a[0] = 1
    assert client.read(name).tolist() == [0, 0, 0, 0]


def test_closed_client(daemon, name):
    c = daemon.client()
    c.close()
    for call in (lambda: c.ls(), lambda: c.create(name, 1), lambda: c.attach(name), lambda: c.target):
        with pytest.raises(shmarray.ClosedError):
            call()


def test_unreachable_daemon():
    c = shmarray.Client("unix:/nonexistent/shmarrayd.sock", timeout=5)
    with pytest.raises(shmarray.UnavailableError) as e:
        c.ls()
    assert isinstance(e.value, ConnectionError)
    with pytest.raises(shmarray.InvalidArgumentError):
        shmarray.Client(instance="bad instance!")
    with pytest.raises(ValueError):
        shmarray.Client(token="a", token_file="b")
    with pytest.raises(ValueError):
        shmarray.Client("unix:/tmp/x", timeout=-1)
