#!/usr/bin/python3
# Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
"""Runs the commands of README's packaging and deployment sections.

  readme_test.py ROOT BUILD

Takes every ```sh block of the README sections "Containers", "Kubernetes"
and "Using it from another project" and runs its commands, in order, in one
bash shell (set -e) whose working directory holds `build` (-> BUILD) and
`tests` (-> ROOT/tests), with BUILD/server on PATH, in a private mount
namespace where /opt is an empty tmpfs (so `--prefix /opt/shmarray` touches
nothing outside the test). Commands that need a whole machine are delegated:
`tests/containers/run` must be what `.ci/run` runs. Every ```cmake snippet
must be lines of tests/package/consumer/CMakeLists.txt. Afterwards the
programs the README builds must exist.

Exit codes: 0 pass, 1 fail, 77 skipped (not root, or no unshare).
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

SECTIONS = ("### Containers", "### Kubernetes", "## Using it from another project")
DELEGATED = {"tests/containers/run": ".ci/run"}


def sections(readme):
    """{heading: text} of the SECTIONS, each up to the next heading of its level or above."""
    lines = readme.splitlines()
    out = {}
    for heading in SECTIONS:
        level = heading.split()[0]
        start = lines.index(heading)
        end = len(lines)
        for i in range(start + 1, len(lines)):
            m = re.match(r"^(#+) ", lines[i])
            if m and len(m.group(1)) <= len(level) and not in_fence(lines, i):
                end = i
                break
        out[heading] = "\n".join(lines[start:end])
    return out


def in_fence(lines, index):
    return sum(1 for line in lines[:index] if line.startswith("```")) % 2 == 1


def blocks(text, language):
    return re.findall(r"^```" + language + r"\n(.*?)^```", text, re.S | re.M)


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    root, build = map(os.path.abspath, sys.argv[1:3])
    with open(os.path.join(root, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    failures = []

    commands = []
    for heading, text in sections(readme).items():
        for block in blocks(text, "sh"):
            for line in block.splitlines():
                if line.strip() and not line.lstrip().startswith("#"):
                    commands.append((heading, line.strip()))
        with open(os.path.join(root, "tests/package/consumer/CMakeLists.txt")) as f:
            consumer = [line.strip() for line in f]
        for block in blocks(text, "cmake"):
            for line in block.splitlines():
                if line.strip() and line.strip() not in consumer:
                    failures.append("%s: cmake line %r is not in tests/package/consumer"
                                    % (heading, line))
    if not commands:
        failures.append("no commands found in the README sections")

    to_run = []
    with open(os.path.join(root, ".ci/run"), encoding="utf-8") as f:
        ci = f.read()
    for heading, command in commands:
        delegate = next((d for d in DELEGATED if command.split()[0] == d), None)
        if delegate:
            if delegate in ci:
                print("ok: %s: `%s` is run by %s" % (heading, command, DELEGATED[delegate]))
            else:
                failures.append("%s: `%s` is not run by %s" % (heading, command,
                                                              DELEGATED[delegate]))
        else:
            to_run.append(command)

    if os.geteuid() != 0 or shutil.which("unshare") is None:
        for f in failures:
            print("FAIL: " + f)
        print("SKIP: running the commands needs root and unshare (a private /opt)")
        return 1 if failures else 77

    work = tempfile.mkdtemp(prefix="shmarray-readme.")
    try:
        os.symlink(build, os.path.join(work, "build"))
        os.symlink(os.path.join(root, "tests"), os.path.join(work, "tests"))
        script = ["set -euo pipefail", "mount --make-rprivate /",
                  "mount -t tmpfs tmpfs /opt",
                  "export PATH=%s/server:$PATH" % build, "cd %s" % work]
        for command in to_run:
            script.append("echo %s" % shlex_quote("$ " + command))
            script.append(command)
        script += ["test -x consumer-build/consumer", "test -x consumer",
                   "echo 'README commands: all ran'"]
        proc = subprocess.run(["unshare", "--mount", "bash", "-c", "\n".join(script)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=900, check=False)
        print(proc.stdout)
        if proc.returncode != 0:
            failures.append("a README command failed (exit %d)" % proc.returncode)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    for f in failures:
        print("FAIL: " + f)
    if failures:
        return 1
    print("ok: %d README commands ran, %d delegated" % (len(to_run), len(commands) - len(to_run)))
    return 0


def shlex_quote(text):
    return "'" + text.replace("'", "'\\''") + "'"


if __name__ == "__main__":
    sys.exit(main())
