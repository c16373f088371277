# Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
"""Lifetime: an attached ndarray stays valid after its Client is gone, after
its name is deleted and after the daemon stops; the mapping goes with the
last reference, and no segment is left behind."""

from __future__ import annotations

import gc

import numpy as np

import shmarray
from conftest import mapped_ranges


def test_array_outlives_client_name_and_daemon(own_daemon, name):
    c = own_daemon.client()
    a = c.create(name, (100, 100), dtype="i4")
    a[...] = np.arange(10000).reshape(100, 100)
    segment = c.stat(name).segment
    view = a[::7, ::-3]
    mv = memoryview(c.attach_buffer(name))
    del c
    gc.collect()
    assert a[99, 99] == 9999 and view[1, 0] == 799
    with own_daemon.client() as c2:
        assert c2.delete(name) == [name]
        assert name not in [i.name for i in c2.ls()]
    assert segment not in own_daemon.segments()  # unlinked at once...
    a[0, 0] = -5  # ...but still mapped and usable
    assert np.asarray(mv)[0, 0] == -5 and view[0, -1] == a[0, 0] == -5
    own_daemon.stop()
    assert a.sum() == np.arange(10000).sum() - 5
    assert mapped_ranges(segment)
    del a, view, mv
    gc.collect()
    assert mapped_ranges(segment) == []  # the last reference unmapped it


def test_no_segment_leaks(own_daemon, name):
    with own_daemon.client() as c:
        before = own_daemon.segments()
        for i in range(20):
            a = c.create(f"{name}{i}", 1000, dtype="f8")
            b = c.attach(f"{name}{i}")
            assert b.__array_interface__["data"] == a.__array_interface__["data"]
            c.delete(f"{name}{i}")
        del a, b
        gc.collect()
        assert own_daemon.segments() == before
        assert not any(mapped_ranges(s) for s in before)


def test_daemon_gone_raises_unavailable(own_daemon, name):
    with own_daemon.client() as c:
        a = c.create(name, 4, dtype="f8", fill=2.0)
        own_daemon.stop()
        try:
            c.stat(name)
        except shmarray.UnavailableError as e:
            assert isinstance(e, ConnectionError) and e.code == "UNAVAILABLE"
        else:
            raise AssertionError("stat with the daemon gone did not raise")
        assert a.tolist() == [2.0] * 4
