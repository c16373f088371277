# Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
"""Runs the `shmarray` session of README.md ("The `shmarray` command") against
a real shmarrayd and checks every output line.

Usage: readme_cli_test.py SHMARRAYD SHMARRAY README.md

Each "$ command" of the section's console blocks runs with bash in one
temporary directory, with `shmarray` and `python3` (Debian's, with NumPy) on
PATH and SHMARRAY_TARGET naming the daemon; stdout and stderr are compared
with the lines that follow it. A "..." line matches any number of lines.
Values that change from run to run (generations, segment names, times) are
masked on both sides. Exits 1 on the first mismatch, showing both.
"""

from __future__ import annotations

import os
import pathlib
import re
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time

MASKS = [
    (re.compile(r'"(generation|base_generation|created_unix_ns)":\d+'), r'"\1":N'),
    (re.compile(r'"created":"[^"]*"'), '"created":"T"'),
    (re.compile(r"shmarray\.\d+\.[A-Za-z0-9_-]+[./][0-9a-f]+"), "SEGMENT"),
    (re.compile(r"^(generation|base_generation|created):(\s+).*$"), r"\1:\2X"),
]


def mask(line: str) -> str:
    for pattern, repl in MASKS:
        line = pattern.sub(repl, line)
    return line


def session(readme: pathlib.Path) -> list[tuple[str, list[str]]]:
    text = readme.read_text()
    start = text.index("### The `shmarray` command")
    end = text.index("\n### ", start + 1)
    steps: list[tuple[str, list[str]]] = []
    for block in re.findall(r"```console\n(.*?)```", text[start:end], re.S):
        for line in block.splitlines():
            if line.startswith("$ "):
                steps.append((line[2:], []))
            else:
                assert steps, "output before the first command: " + line
                steps[-1][1].append(line)
    assert len(steps) >= 10, "the README session is missing"
    return steps


def matches(expected: list[str], actual: list[str]) -> bool:
    """Line-by-line match where "..." stands for any number of lines."""
    if not expected:
        return not actual
    if expected[0] == "...":
        return any(matches(expected[1:], actual[i:]) for i in range(len(actual) + 1))
    return bool(actual) and mask(expected[0]) == mask(actual[0]) and matches(expected[1:], actual[1:])


def start_daemon(daemon: str, work: pathlib.Path) -> subprocess.Popen:
    sock = work / "d.sock"
    proc = subprocess.Popen(
        [daemon, "--socket", str(sock), "--instance", "readme%d" % os.getpid()],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    )
    # Ready when it logs so (read with a deadline, never a sleep).
    deadline = time.monotonic() + 20
    seen = b""
    while b"shmarrayd ready" not in seen:
        left = deadline - time.monotonic()
        if left <= 0 or proc.poll() is not None:
            proc.kill()
            sys.exit("FAIL: shmarrayd did not become ready:\n" + seen.decode(errors="replace"))
        ready, _, _ = select.select([proc.stderr], [], [], left)
        if ready:
            chunk = os.read(proc.stderr.fileno(), 65536)
            if not chunk:
                continue
            seen += chunk
    # Keep draining its log.
    threading.Thread(target=lambda: proc.stderr.read(), daemon=True).start()
    return proc


def main() -> int:
    daemon, cli = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    readme = pathlib.Path(sys.argv[3])
    steps = session(readme)
    work = pathlib.Path(tempfile.mkdtemp(prefix="shmarray-readme-cli-"))
    bindir = work / "bin"
    bindir.mkdir()
    os.symlink(cli, bindir / "shmarray")
    os.symlink("/usr/bin/python3", bindir / "python3")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHMARRAY_")}
    env["PATH"] = "%s:%s" % (bindir, env.get("PATH", "/usr/bin:/bin"))
    env["SHMARRAY_TARGET"] = "unix:%s" % (work / "d.sock")
    proc = start_daemon(daemon, work)
    failed = False
    try:
        for command, expected in steps:
            run = subprocess.run(
                ["bash", "-c", command],
                cwd=work,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=120,
            )
            actual = run.stdout.splitlines()
            if not matches(expected, actual):
                print("FAIL: $ %s\n--- README\n%s\n--- actual (exit %d)\n%s"
                      % (command, "\n".join(expected), run.returncode, "\n".join(actual)))
                failed = True
                break
            print("ok: $ %s" % command)
    finally:
        # Leave nothing behind (views go with their bases).
        listing = subprocess.run(["bash", "-c", "shmarray --json ls"], cwd=work, env=env,
                                 capture_output=True, text=True)
        for name in re.findall(r'\{"name":"([^"]+)"', listing.stdout):
            subprocess.run(["bash", "-c", "shmarray rm --cascade '%s'" % name], cwd=work,
                           env=env, capture_output=True)
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)
    print("%d README commands checked" % len(steps) if not failed else "")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
