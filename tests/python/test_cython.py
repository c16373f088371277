# Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
"""Real Cython typed memoryviews over attached arrays: cython/kernels.pyx is
compiled here with Debian's cython3 and the system compiler, then bound to
shmarray.Mapping objects exactly as user code binds NumPy arrays."""

from __future__ import annotations

import importlib.util
import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig

import numpy as np
import pytest

import shmarray

HERE = pathlib.Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def kernels(tmp_path_factory):
    cython = shutil.which("cython3") or shutil.which("cython")
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cython is None or cc is None:
        pytest.skip("cython3 or a C compiler is not installed")
    out = tmp_path_factory.mktemp("cython")
    pyx = out / "kernels.pyx"
    shutil.copy(HERE / "cython" / "kernels.pyx", pyx)
    subprocess.run([cython, "-3", str(pyx), "-o", str(out / "kernels.c")], check=True)
    so = out / ("kernels" + sysconfig.get_config_var("EXT_SUFFIX"))
    subprocess.run(
        [
            cc,
            "-shared",
            "-fPIC",
            "-O2",
            "-I" + sysconfig.get_paths()["include"],
            str(out / "kernels.c"),
            "-o",
            str(so),
        ],
        check=True,
    )
    spec = importlib.util.spec_from_file_location("kernels", so)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_guide_sum3d_over_an_attached_array(client, name, kernels):
    a = client.create(name, (3, 3, 3), dtype="i4")
    a[...] = np.arange(27, dtype="i4").reshape(3, 3, 3)
    m = client.attach_buffer(name)
    assert kernels.sum3d(m) == 351  # the guide's output
    a[...] = 3
    assert kernels.sum3d(m) == 81
    assert kernels.sum3d(client.attach(name)) == 81


def test_c_contiguous_int2d_writes_through(client, name, kernels):
    client.create(name, (4, 5), dtype="i4")
    m = client.attach_buffer(name)
    assert kernels.fill_int2d_c(m, 7) == (4, 5, 20, 4)
    # Written in place: another attach (and the daemon) see it.
    assert (client.attach(name) == 7).all()
    assert (client.read(name) == 7).all()


def test_non_contiguous_view_refused_as_c_contig_bound_as_strided(client, name, kernels):
    a = client.create(name, (4, 6), dtype="i4")
    a[...] = np.arange(24).reshape(4, 6)
    client.slice(name, "::2, 1::2", as_=name + "v")
    v = client.attach_buffer(name + "v")
    with pytest.raises(BufferError, match="buffer is not C-contiguous"):
        kernels.fill_int2d_c(v, 1)
    assert kernels.sum_int2d(v) == int(a[::2, 1::2].sum())
    assert (a[::2, 1::2] == np.arange(24).reshape(4, 6)[::2, 1::2]).all()  # untouched


def test_seed_trap_int64_is_long_not_int(client, name, kernels):
    a = client.create(name, 10, dtype="int64")
    a[...] = np.arange(10)
    m = client.attach_buffer(name)
    assert m.format == "<q"
    # Canonical int64 is "<q": Cython's own message names it 'long long'.
    with pytest.raises(ValueError, match="^Buffer dtype mismatch, expected 'int' but got 'long long'$"):
        kernels.sum_int1d(m)
    assert kernels.sum_long1d(m) == 45


def test_sealed_array_binds_const_only(client, name, kernels):
    client.create(name, 5, dtype="f8", fill=1.5)
    client.seal(name)
    m = client.attach_buffer(name)
    assert kernels.sum_const_double(m) == 7.5
    with pytest.raises(ValueError, match="buffer source array is read-only"):
        kernels.set_double(m, 0, 2.0)
    assert kernels.sum_const_double(client.attach(name)) == 7.5


def test_struct_memoryviews(client, name, kernels):
    rec = np.dtype([("tag", "u1"), ("value", "<i4")])  # packed, as NumPy's default
    r = client.create(name, 3, dtype=rec)
    r["tag"] = [1, 2, 3]
    r["value"] = [10, 20, 30]
    assert client.stat(name).itemsize == 5
    assert kernels.records(client.attach_buffer(name)) == [(1, 10), (2, 20), (3, 30)]
    assert r["value"].tolist() == [100, 200, 300]  # written through the struct view
    point = np.dtype([("x", "<f8"), ("y", "<f8")])
    p = client.create(name + "p", 4, dtype=point, fill=(3.0, 4.0))
    assert kernels.points_norm2(client.attach_buffer(name + "p")) == 100.0
    del p
