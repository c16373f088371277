# Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
"""Zero copy, proven across processes: two processes started with the spawn
method (fresh interpreters, no inherited memory) attach one name; what one
writes the other sees, and each one's ndarray lies inside its own mapping of
the segment in /proc/self/maps."""

from __future__ import annotations

import multiprocessing as mp

import numpy as np

import shmarray
from conftest import mapped_ranges


def _child(target: str, name: str, ready, go, done, result) -> None:
    try:
        with shmarray.Client(target) as c:
            a = c.attach(name)
            seg = c.stat(name).segment
            addr = a.__array_interface__["data"][0]
            inside = any(lo <= addr and addr + a.nbytes <= hi for lo, hi in mapped_ranges(seg))
            result.put(("mapped", inside, float(a.sum())))
            ready.set()
            # The parent writes; we must see it through our mapping, without
            # any call to the daemon.
            if not go.wait(60):
                result.put(("error", "timed out waiting for the parent"))
                return
            result.put(("seen", float(a[3, 4]), float(a.sum())))
            a[0, 0] = -1.0  # and the parent sees ours
            done.set()
    except Exception as e:  # report to the parent, which fails the test
        result.put(("error", repr(e)))
        ready.set()
        done.set()


def test_two_processes_share_one_array(daemon, name):
    ctx = mp.get_context("spawn")
    with daemon.client() as c:
        a = c.create(name, (8, 8), dtype="f8", fill=1.0)
        ready, go, done = ctx.Event(), ctx.Event(), ctx.Event()
        result = ctx.Queue()
        p = ctx.Process(target=_child, args=(daemon.target, name, ready, go, done, result))
        p.start()
        try:
            assert ready.wait(60)
            kind, inside, total = result.get(timeout=60)
            assert kind == "mapped", (kind, inside, total)
            assert inside, "the child's ndarray is not in its mapping of the segment"
            assert total == 64.0
            a[3, 4] = 42.0
            go.set()
            assert done.wait(60)
            kind, seen, total = result.get(timeout=60)
            assert kind == "seen", (kind, seen, total)
            assert seen == 42.0 and total == 63.0 + 42.0
            assert a[0, 0] == -1.0
        finally:
            p.join(60)
            if p.is_alive():
                p.kill()
        assert p.exitcode == 0
