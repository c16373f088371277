# Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
"""read() and write() stream: the payload is never held twice. Measured as
the peak resident set (ru_maxrss) of a fresh process around one call."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

PAYLOAD = 128 << 20  # bytes

CHILD = textwrap.dedent(
    """
    import resource, sys
    import numpy as np
    import shmarray

    def peak():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    target, name, what = sys.argv[1:4]
    c = shmarray.Client(target)
    if what == "read":
        c.stat(name)
        before = peak()
        r = c.read(name)
        assert r.nbytes == {payload} and float(r[-1]) == 2.0
    else:
        src = np.full({payload} // 8, 3.0)
        c.stat(name)
        before = peak()
        assert c.write(name, "", src) == {payload}
    print(peak() - before)
    """
).format(payload=PAYLOAD)


def peak_growth(daemon, name: str, what: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, daemon.target, name, what],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    return int(out.stdout.strip())


def test_read_holds_the_payload_once(daemon, client, name):
    client.create(name, PAYLOAD // 8, dtype="f8", fill=2.0)
    growth = peak_growth(daemon, name, "read")
    assert PAYLOAD * 0.9 < growth < PAYLOAD * 1.25, growth


def test_write_never_copies_the_payload(daemon, client, name):
    a = client.create(name, PAYLOAD // 8, dtype="f8")
    growth = peak_growth(daemon, name, "write")
    assert growth < PAYLOAD * 0.25, growth
    assert a[0] == 3.0 and a[-1] == 3.0
