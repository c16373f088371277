# Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
"""`cmake --install` puts the package into the Python site directory of the
prefix, from where it imports and works without the build tree."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest


def test_installed_package_imports_and_works(tmp_path, daemon, name):
    build = os.environ.get("SHMARRAY_BUILD_DIR")
    site = os.environ.get("SHMARRAY_PYTHON_INSTALL_DIR")
    if not build or not site:
        pytest.skip("SHMARRAY_BUILD_DIR / SHMARRAY_PYTHON_INSTALL_DIR not set (ctest sets them)")
    prefix = tmp_path / "prefix"
    subprocess.run(
        ["cmake", "--install", build, "--prefix", str(prefix), "--component", "python"],
        check=True,
        capture_output=True,
    )
    package = prefix / site / "shmarray"
    assert (package / "__init__.py").is_file() and (package / "py.typed").is_file()
    assert list(package.glob("_shmarray*.so"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(prefix / site)
    code = (
        "import shmarray, sys; "
        "c = shmarray.Client(sys.argv[1]); "
        "a = c.create(sys.argv[2], 3, 'i2', fill=7); "
        "print(shmarray.__file__, a.tolist())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, daemon.target, name],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    where, values = out.stdout.split(" ", 1)
    assert pathlib.Path(where).is_relative_to(prefix)
    assert values.strip() == "[7, 7, 7]"
