# Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
"""The README's Python section, run as written: its producer and consumer
blocks against a daemon on the default socket (XDG_RUNTIME_DIR pointed at a
private directory), and its import command."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

import pytest

import shmarray
from conftest import Daemon

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


def python_blocks() -> dict[str, str]:
    text = README.read_text()
    section = text[text.index("### Python") : text.index("### The `shmarray` command")]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    return {b.splitlines()[0].split(":")[0].lstrip("# ").strip(): b for b in blocks}


def test_readme_producer_and_consumer(monkeypatch):
    blocks = python_blocks()
    assert set(blocks) == {"producer.py", "consumer.py"}
    runtime = tempfile.mkdtemp(prefix="shmarray-readme-")
    monkeypatch.setenv("XDG_RUNTIME_DIR", runtime)
    # The README's snippets use the default socket: serve it there.
    d = Daemon(socket=pathlib.Path(runtime) / "shmarray" / "default.sock")
    env = dict(os.environ)
    try:
        producer = subprocess.Popen([sys.executable, "-c", blocks["producer.py"]], env=env)
        deadline = time.monotonic() + 30
        with shmarray.Client() as c:
            while "cam/frame" not in [i.name for i in c.ls()]:
                assert producer.poll() is None, "the producer exited early"
                assert time.monotonic() < deadline, "the producer made no array"
                time.sleep(0.02)  # poll interval, bounded by the deadline
        out = subprocess.run(
            [sys.executable, "-c", blocks["consumer.py"]],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0, out.stderr
        means = [float(x) for x in out.stdout.split()]
        assert len(means) == 10
        assert means == sorted(means) and means[-1] > means[0]  # it saw new frames
        assert producer.wait(120) == 0
        with shmarray.Client() as c:
            c.delete("cam/frame")
    finally:
        d.close()


def test_readme_import_command():
    text = README.read_text()
    command = re.search(r"^PYTHONPATH=build/python /usr/bin/python3 -c '(.*)'$", text, re.M)
    assert command, "the README's import command is missing"
    out = subprocess.run(
        [sys.executable, "-c", command.group(1)], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == shmarray.__version__
