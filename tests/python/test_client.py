# Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
"""shmarray.Client against a real shmarrayd: create/attach zero-copy, the
buffer protocol, dtypes, the catalog, read/write, watch."""

from __future__ import annotations

import re
import threading

import numpy as np
import pytest

import shmarray
from conftest import (
    PyBUF_ANY_CONTIGUOUS,
    PyBUF_C_CONTIGUOUS,
    PyBUF_F_CONTIGUOUS,
    PyBUF_FORMAT,
    PyBUF_ND,
    PyBUF_STRIDES,
    PyBUF_WRITABLE,
    get_buffer,
    mapped_ranges,
)


def test_create_returns_the_segment_memory(client, name):
    a = client.create(name, (3, 4), dtype="f8")
    assert isinstance(a, np.ndarray)
    assert a.shape == (3, 4) and a.dtype == np.float64 and a.flags.c_contiguous
    assert a.flags.writeable
    assert (a == 0).all()
    base = a.base
    assert isinstance(base, shmarray.Mapping)
    info = client.stat(name)
    # The data pointer lies inside this process's mapping of the segment.
    address = a.__array_interface__["data"][0]
    assert any(lo <= address and address + a.nbytes <= hi for lo, hi in mapped_ranges(info.segment))
    a[1, 2] = 7.5
    b = client.attach(name)
    assert b[1, 2] == 7.5
    assert client.read(name)[1, 2] == 7.5


def test_create_fill_order_and_structured(client, name):
    f = client.create(name, (2, 3), dtype="<i4", order="F", fill=-3)
    assert f.flags.f_contiguous and not f.flags.c_contiguous
    assert f.dtype == np.dtype("<i4") and (f == -3).all()
    point = np.dtype([("x", "<f8"), ("y", "<f8")])
    p = client.create(name + "p", 4, dtype=point, fill=(1.0, 2.0))
    assert p.dtype == point and p.shape == (4,)
    assert p["x"].tolist() == [1.0] * 4 and p["y"].tolist() == [2.0] * 4
    assert client.stat(name + "p").format == "T{<d:x:<d:y:}"


@pytest.mark.parametrize(
    "dtype, fmt",
    [
        ("f8", "<d"),
        ("<i4", "<i"),
        (np.float32, "<f"),
        ("int64", "<q"),
        ("c16", "<Zd"),
        ("?", "<?"),
        ("S5", "<5s"),
        ("u1", "<B"),
        (">u2", ">H"),
        ("f2", "<e"),
        ("g", "<g"),
        ("clongdouble", "<Zg"),
    ],
)
def test_dtypes_map_to_canonical_formats_and_back(client, name, dtype, fmt):
    a = client.create(name, (2,), dtype=dtype)
    info = client.stat(name)
    assert info.format == fmt
    assert a.dtype == np.dtype(dtype)
    assert info.dtype == np.dtype(dtype)
    assert client.attach(name).dtype == np.dtype(dtype)


def test_subarray_dtypes(client, name):
    sub = client.create(name, 4, dtype=("f8", (2, 3)))
    assert sub.shape == (4, 2, 3) and sub.dtype == np.float64  # as np.zeros(4, ("f8", (2, 3)))
    rec = np.dtype([("id", "<u4"), ("m", "<f4", (2, 2))])
    r = client.create(name + "r", 3, dtype=rec)
    assert r.dtype == rec and r["m"].shape == (3, 2, 2)
    r["m"][1] = [[1, 2], [3, 4]]
    assert client.read(name + "r")["m"][1].tolist() == [[1, 2], [3, 4]]


def test_formats_numpy_cannot_represent_raise_type_error(client, name):
    with pytest.raises(TypeError, match="dtype\\('O'\\)"):
        client.create(name, 2, dtype=object)
    with pytest.raises(TypeError, match="<U3"):
        client.create(name, 2, dtype="U3")
    # An array made by another client with a format NumPy cannot read: a
    # clear TypeError naming it, never a wrong dtype; the buffer still works.
    raw = client._c  # the C++ client's create, as a C++ program would call it
    raw.create(name, "10p", [2], "C", None, 0)
    with pytest.raises(TypeError, match="10p"):
        client.attach(name)
    with pytest.raises(TypeError, match="10p"):
        client.stat(name).dtype
    m = client.attach_buffer(name)
    assert m.format == "<10p" and memoryview(m).nbytes == 20


def test_attach_buffer_exports_pep3118(client, name):
    a = client.create(name, (4, 6), dtype="<i4")
    a[...] = np.arange(24).reshape(4, 6)
    m = client.attach_buffer(name)
    assert isinstance(m, shmarray.Mapping)
    mv = memoryview(m)
    assert mv.format == "<i" and mv.shape == (4, 6) and mv.strides == (24, 4)
    assert not mv.readonly and mv.itemsize == 4 and mv.c_contiguous
    n = np.asarray(m)
    assert n.dtype == np.int32 and n[2, 3] == 15
    # The same memory: no copy anywhere.
    assert n.__array_interface__["data"][0] == m.address == a.__array_interface__["data"][0]
    n[0, 0] = 99
    assert a[0, 0] == 99 and np.asarray(mv)[0, 0] == 99
    # The memory outlives the Mapping object while a buffer holds it.
    del m, n, a
    assert np.asarray(mv)[2, 3] == 15


def test_named_view_exports_its_strides_and_honours_request_flags(client, name):
    client.create(name, (4, 6), dtype="<i4")
    client.slice(name, "::2, ::-3", as_=name + "v")
    m = client.attach_buffer(name + "v")
    assert m.shape == (2, 2) and m.strides == (48, -12) and not m.c_contiguous
    assert memoryview(m).strides == (48, -12)
    full = get_buffer(m, PyBUF_STRIDES | PyBUF_FORMAT | PyBUF_WRITABLE)
    assert full["strides"] == (48, -12) and full["format"] == "<i" and full["buf"] == m.address
    for flags, message in [
        (PyBUF_C_CONTIGUOUS, "buffer is not C-contiguous"),
        (PyBUF_F_CONTIGUOUS, "buffer is not Fortran contiguous"),
        (PyBUF_ANY_CONTIGUOUS, "buffer is not contiguous"),
        (PyBUF_ND, "buffer is not C-contiguous"),
    ]:
        with pytest.raises(BufferError, match=message):
            get_buffer(m, flags | PyBUF_FORMAT)
    v = client.attach(name + "v")
    assert v.strides == (48, -12) and isinstance(v.base, shmarray.Mapping)


def test_contiguous_exports_use_canonical_strides(client, name):
    client.create(name, (1, 4, 1), dtype="<f4", order="F")
    m = client.attach_buffer(name)
    assert m.c_contiguous and m.f_contiguous  # extent-1 axes ignored, as NumPy
    assert get_buffer(m, PyBUF_C_CONTIGUOUS)["strides"] == (16, 4, 4)
    assert get_buffer(m, PyBUF_F_CONTIGUOUS)["strides"] == (4, 4, 16)
    simple = get_buffer(m, 0)
    assert simple["shape"] is None and simple["format"] is None and simple["len"] == 16


def test_writable_request_on_read_only_memory(client, name):
    client.create(name, 3, dtype="i8")
    m = client.attach_buffer(name, readonly=True)
    assert get_buffer(m, PyBUF_FORMAT)["readonly"]
    with pytest.raises(ValueError, match="^buffer source array is read-only$"):
        get_buffer(m, PyBUF_WRITABLE)


def test_sealed_arrays_are_read_only_everywhere(client, name):
    a = client.create(name, 5, dtype="f8", fill=1.0)
    client.slice(name, "1:", as_=name + "v")
    info = client.seal(name)
    assert info.readonly
    r = client.attach(name)
    assert not r.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        r[0] = 2.0
    v = client.attach(name + "v")
    assert not v.flags.writeable and v.shape == (4,)
    m = client.attach_buffer(name)
    assert memoryview(m).readonly
    with pytest.raises(ValueError, match="buffer source array is read-only"):
        get_buffer(m, PyBUF_WRITABLE | PyBUF_FORMAT)
    with pytest.raises(shmarray.ReadOnlyError) as e:
        client.write(name, "0", 5.0)
    assert isinstance(e.value, PermissionError)
    del a


def test_readonly_attach_of_a_writable_array(client, name):
    client.create(name, 3, dtype="i8")
    r = client.attach(name, readonly=True)
    assert not r.flags.writeable
    assert memoryview(client.attach_buffer(name, readonly=True)).readonly


def test_repeated_attach_shares_one_mapping(client, name):
    client.create(name, (64, 64), dtype="f4")
    a = client.attach(name)
    b = client.attach(name)
    assert a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
    # NumPy sees the overlap, so a transpose assignment is right.
    a[...] = np.arange(64 * 64, dtype="f4").reshape(64, 64)
    expected = a.T.copy()
    a[...] = b.T
    assert (a == expected).all()
    assert len(mapped_ranges(client.stat(name).segment)) == 1


def test_catalog_calls(client, name):
    client.create(name + "/a", (2, 3), dtype="i2")
    client.create(name + "/b", 7, dtype="u1")
    names = [i.name for i in client.ls(name + "/")]
    assert names == [name + "/a", name + "/b"]
    info = client.stat(name + "/a")
    assert info.shape == (2, 3) and info.strides == (6, 2) and info.itemsize == 2
    assert info.nbytes == 12 and info.kind == "array" and info.base == ""
    assert info.created.year >= 2024 and info.generation > 0
    v = client.slice(name + "/a", np.s_[:, ::-1], as_=name + "/v")
    assert v.kind == "view" and v.base == name + "/a" and v.strides == (6, -2)
    assert client.slice(name + "/a", "1, :").shape == (3,)
    c = client.copy(name + "/a", name + "/f", order="F", index=":, 1:")
    assert c.shape == (2, 2) and c.f_contiguous
    client.copy_into(name + "/b", name + "/b", index="::-1", dst_index=":")
    with pytest.raises(shmarray.FailedPreconditionError, match="named views"):
        client.delete(name + "/a")
    assert sorted(client.delete(name + "/a", cascade=True)) == [name + "/a", name + "/v"]
    assert client.delete(name + "/b") == [name + "/b"]


def test_read_and_write_stream(client, name):
    a = client.create(name, (50, 40), dtype="<f8")
    data = np.random.default_rng(1).standard_normal((50, 40))
    assert client.write(name, "", data) == data.nbytes
    assert (a == data).all()
    assert (client.read(name) == data).all()
    assert (client.read(name, "::-3, 5") == data[::-3, 5]).all()
    assert (client.read(name, np.s_[1:9:2, ..., None]) == data[1:9:2, ..., None]).all()
    f = client.read(name, order="F")
    assert f.flags.f_contiguous and (f == data).all()
    # Writes broadcast like NumPy assignment and convert when safe.
    client.write(name, "0", np.arange(40, dtype=np.int32))
    assert (a[0] == np.arange(40)).all()
    client.write(name, ":, 1", 2)
    assert (a[:, 1] == 2).all()
    src = data[10:12, ::-3]  # a strided source with a negative stride
    client.write(name, "2:4, 1::3", src[:, 1:])
    assert (a[2:4, 1::3] == src[:, 1:]).all()
    i = client.create(name + "i", 4, dtype="i4")
    with pytest.raises(TypeError, match="same_kind"):
        client.write(name + "i", "", np.ones(4))
    with pytest.raises(shmarray.InvalidArgumentError, match="broadcast"):
        client.write(name, "", np.ones(3))
    assert (i == 0).all()


def test_split_streams_move_the_same_bytes(daemon, client, name):
    a = client.create(name, (1200, 1100), dtype="<f8")  # 10.6 MB
    data = np.random.default_rng(2).standard_normal((1200, 1100))
    with daemon.client(streams=4) as split:
        assert split.write(name, "", data[:, ::-1]) == data.nbytes
        assert (a == data[:, ::-1]).all()
        assert (split.read(name, "::-1, 3:") == a[::-1, 3:]).all()
        f = split.read(name, order="F")
        assert f.flags.f_contiguous and (f == a).all()
    for bad in (0, 65):
        with pytest.raises(shmarray.InvalidArgumentError, match="streams"):
            shmarray.Client(daemon.target, streams=bad)


def test_local_and_streamed_reads_agree(daemon, client, name):
    # On the daemon's host read() copies from shared memory; local_reads=False
    # streams through the daemon. Same arrays, flags and errors either way.
    a = client.create(name, (8, 64, 600), dtype="<i4")  # planes of 150 KiB
    a[...] = np.arange(a.size, dtype="<i4").reshape(a.shape)
    with daemon.client(local_reads=False) as streamed:
        for index in ["", "3", "1:6", "::2", "::-1, 5", ":, :, 7", "..., 2:4", "None, 2:5"]:
            for order in ("C", "F"):
                r = client.read(name, index, order=order)
                s = streamed.read(name, index, order=order)
                assert r.dtype == s.dtype and r.shape == s.shape, (index, order)
                assert r.flags.c_contiguous == s.flags.c_contiguous, (index, order)
                assert r.flags.f_contiguous == s.flags.f_contiguous, (index, order)
                assert (r == s).all() and r.flags.writeable, (index, order)
                out = np.empty_like(s)
                assert client.read_into(name, index, out) == s.nbytes
                assert (out == s).all(), (index, order)
        for bad in ["9", "::0", "1, 2, 3, 4"]:
            with pytest.raises(shmarray.Error) as local_error:
                client.read(name, bad)
            with pytest.raises(shmarray.Error) as streamed_error:
                streamed.read(name, bad)
            assert type(local_error.value) is type(streamed_error.value)
            assert str(local_error.value) == str(streamed_error.value)


def test_a_dropped_read_result_is_reused_by_the_next_read(daemon, client, name):
    a = client.create(name, (4, 1 << 18), dtype="<f8")  # 8 MiB
    a[...] = 1.5
    r = client.read(name)
    where = r.ctypes.data
    del r  # its memory is kept for the next read() it fits
    a[3, -1] = 7.0
    r = client.read(name)
    assert r.ctypes.data == where
    assert r[3, -1] == 7.0 and r[0, 0] == 1.5 and r.flags.writeable
    held = client.read(name)  # r is still held: memory of its own
    assert held.ctypes.data != where and (held == r).all()


def test_read_into_fills_the_callers_array(client, name):
    a = client.create(name, (50, 40), dtype="<f8")
    a[...] = np.random.default_rng(2).standard_normal((50, 40))
    out = np.empty((50, 40))
    for round in range(3):
        a[7, 3] = round
        assert client.read_into(name, "", out) == out.nbytes
        assert (out == a).all()
    col = np.empty((25, 40), order="F")
    assert client.read_into(name, "::2", col) == col.nbytes
    assert (col == a[::2]).all()
    # A mismatch leaves the array untouched and says why.
    for bad, message in [
        (np.full((40, 50), 9.0), "the selection has shape (50, 40) but the destination has shape (40, 50)"),
        (np.full((50, 40), 9, dtype="<i8"), "Buffer dtype mismatch"),
        (np.full((50, 80), 9.0)[:, ::2], "not contiguous"),
    ]:
        before = bad.copy()
        with pytest.raises(shmarray.InvalidArgumentError, match=re.escape(message)):
            client.read_into(name, "", bad)
        assert (bad == before).all()
    frozen = np.empty((50, 40))
    frozen.setflags(write=False)
    with pytest.raises(ValueError, match="read-only"):
        client.read_into(name, "", frozen)


def test_read_result_is_private_and_writable(client, name):
    a = client.create(name, 6, dtype="u2", fill=4)
    r = client.read(name)
    assert r.flags.writeable and r.flags.owndata is False
    assert isinstance(r.base, shmarray.Mapping) and r.base.segment == ""
    r[0] = 1
    assert a[0] == 4


def test_watch_iterates_events(client, name):
    with client.watch(name) as w:
        client.create(name, 2)
        client.seal(name)
        client.delete(name)
        events = [w.next(timeout=20) for _ in range(3)]
        assert [(e.type, e.name) for e in events] == [
            ("created", name),
            ("sealed", name),
            ("deleted", name),
        ]
        assert events[0].info.shape == (2,)
        assert w.next(timeout=0.05) is None
    with pytest.raises(StopIteration):
        w.next(timeout=5)


def test_calls_release_the_gil(client, name):
    # A watch blocked in one thread does not stop another from working.
    w = client.watch(name)
    got = []
    t = threading.Thread(target=lambda: got.append(w.next(timeout=30)))
    t.start()
    client.create(name, 1)
    t.join(30)
    w.close()
    assert got and got[0].type == "created"


def test_context_manager_and_close(daemon, name):
    with daemon.client() as c:
        a = c.create(name, 3, dtype="i8", fill=5)
    assert c.closed
    with pytest.raises(shmarray.ClosedError):
        c.stat(name)
    assert a.tolist() == [5, 5, 5]
    c.close()  # idempotent


def test_token_and_token_file(tmp_path):
    from conftest import Daemon

    token = tmp_path / "token"
    token.write_text("s3cret\n")
    d = Daemon("--token-file", str(token))
    try:
        with pytest.raises(shmarray.UnauthenticatedError) as e:
            shmarray.Client(d.target).ls()
        assert isinstance(e.value, PermissionError)
        with shmarray.Client(d.target, token_file=token) as c:
            assert c.ls() == []
        with shmarray.Client(d.target, token="s3cret") as c:
            c.create("x", 1)
    finally:
        d.close()


@pytest.mark.parametrize(
    "fmt, dtype, shape",
    [
        ("i", "<i4", (3,)),
        ("l", "<i8", (3,)),
        ("=H", "<u2", (3,)),
        (">d", ">f8", (3,)),
        ("Zf", "<c8", (3,)),
        ("?", "?", (3,)),
        ("c", "S1", (3,)),
        ("3s", "S3", (3,)),
        ("e", "<f2", (3,)),
        ("g", np.longdouble, (3,)),
        ("Zg", np.clongdouble, (3,)),
        ("T{i:a:d:b:}", {"names": ["a", "b"], "formats": ["<i4", "<f8"], "offsets": [0, 8],
                          "itemsize": 16}, (3,)),
        ("T{<B:a:<i:b:}", [("a", "u1"), ("b", "<i4")], (3,)),
        ("T{(2)<h:v:}", [("v", "<i2", (2,))], (3,)),
        ("(2,3)d", "<f8", (3, 2, 3)),
    ],
)
def test_arrays_made_in_cpp_come_out_with_numpys_dtype(client, name, fmt, dtype, shape):
    # As a C++ program creates them: any PEP 3118 spelling, canonicalised.
    client._c.create(name, fmt, [3], "C", None, 0)
    a = client.attach(name)
    assert a.dtype == np.dtype(dtype) and a.shape == shape
    assert a.flags.c_contiguous and a.nbytes == client.stat(name).nbytes
    assert np.asarray(client.attach_buffer(name)).dtype == a.dtype
    r = client.read(name)
    assert r.dtype == a.dtype and r.shape == shape


def test_read_releases_the_gil_while_bytes_move(client, name):
    import time as _time

    client.create(name, 16 << 20, dtype="f8", fill=1.0)  # 128 MiB
    stamps = []
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            stamps.append(_time.perf_counter())

    t = threading.Thread(target=spin)
    t.start()
    try:
        for _ in range(10):
            start = _time.perf_counter()
            r = client.read(name)
            end = _time.perf_counter()
            margin = (end - start) / 4
            inside = [s for s in stamps if start + margin < s < end - margin]
            if inside:
                break
    finally:
        stop.set()
        t.join()
    assert r.shape == (16 << 20,)
    assert inside, "no other Python thread ran while read() moved 128 MiB: the GIL was held"
