#!/usr/bin/python3
# Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
"""The Python package against the C++ client, timed in the same run.

Starts a private shmarrayd, creates the arrays, then for each repetition
times, one after the other (so that machine noise hits both sides alike):
  - attach of a 4 KiB and a 256 MiB array: Python ``Client.attach`` (a NumPy
    array) vs the C++ ``Client::attach_any`` (bench/client_bench);
  - read of 256 MiB: Python ``Client.read`` vs the C++ ``Client::read``;
  - the Cython guide's sum3d over an attached int32 array vs the same Cython
    over a NumPy array in private memory.
Each repetition gives one ratio per measure; the output is the median and
the spread (min-max) of the ratios, as JSON on stdout (bench/report.py
--python reads it).

  python_bench.py --shmarrayd build/server/shmarrayd --client-bench build/bench/client_bench \
      --pythonpath build/python --repetitions 10
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
MIB = 1 << 20


def per_call(fn, min_time: float = 0.25, min_calls: int = 3) -> float:
    """Seconds per call of fn, timed over at least min_time and min_calls."""
    fn()  # warm-up
    calls = 0
    start = time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_time and calls >= min_calls:
            return elapsed / calls


def cpp_figures(binary: str, target: str, arrays: list[str]) -> dict[str, float]:
    env = dict(os.environ, SHMARRAY_BENCH_TARGET=target, SHMARRAY_BENCH_ARRAYS=",".join(arrays))
    out = subprocess.run(
        [binary, "--benchmark_format=json", "--benchmark_min_time=0.25"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    figures = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("error_occurred"):
            raise RuntimeError(f"{b['name']}: {b.get('error_message')}")
        scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b["time_unit"]]
        figures[b["name"].removesuffix("/real_time")] = b["real_time"] * scale
    return figures


def compile_kernels(workdir: pathlib.Path):
    cython = shutil.which("cython3")
    cc = shutil.which("cc") or shutil.which("gcc")
    if cython is None or cc is None:
        return None
    pyx = workdir / "kernels.pyx"
    shutil.copy(ROOT / "tests" / "python" / "cython" / "kernels.pyx", pyx)
    subprocess.run([cython, "-3", str(pyx), "-o", str(workdir / "kernels.c")], check=True)
    so = workdir / ("kernels" + sysconfig.get_config_var("EXT_SUFFIX"))
    subprocess.run(
        [cc, "-shared", "-fPIC", "-O2", "-I" + sysconfig.get_paths()["include"],
         str(workdir / "kernels.c"), "-o", str(so)],
        check=True,
    )
    spec = importlib.util.spec_from_file_location("kernels", so)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shmarrayd", required=True)
    parser.add_argument("--client-bench", required=True)
    parser.add_argument("--pythonpath", required=True, help="directory holding the shmarray package")
    parser.add_argument("--repetitions", type=int, default=10)
    args = parser.parse_args()
    sys.path.insert(0, args.pythonpath)
    import numpy as np

    import shmarray

    work = pathlib.Path(tempfile.mkdtemp(prefix="shmarray-pybench-"))
    sock = work / "d.sock"
    target = f"unix:{sock}"
    log = open(work / "daemon.log", "wb")
    daemon = subprocess.Popen(
        [args.shmarrayd, "--socket", str(sock), "--instance", f"pybench{os.getpid()}"],
        stdout=log,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with shmarray.Client(target, timeout=2) as c:
                    c.ls()
                break
            except shmarray.UnavailableError:
                if daemon.poll() is not None or time.monotonic() > deadline:
                    print((work / "daemon.log").read_text(), file=sys.stderr)
                    return 1
                time.sleep(0.02)  # poll interval, bounded by the deadline

        c = shmarray.Client(target)
        c.create("bench/4k", 512, dtype="f8", fill=1.0)
        c.create("bench/256m", 32 * MIB, dtype="f8", fill=1.0)
        kernels = compile_kernels(work)
        cube = c.create("bench/cube", (200, 200, 200), dtype="i4", fill=1)
        cube_buf = c.attach_buffer("bench/cube")
        private = np.ones((200, 200, 200), dtype="i4")

        samples: dict[str, list[tuple[float, float]]] = {}

        def add(measure: str, ours: float, base: float) -> None:
            samples.setdefault(measure, []).append((ours, base))

        for rep in range(args.repetitions):
            print(f"python_bench: repetition {rep + 1}/{args.repetitions}", file=sys.stderr)
            cpp = cpp_figures(args.client_bench, target, ["bench/4k", "bench/256m"])
            add("attach_4k", per_call(lambda: c.attach("bench/4k")), cpp["BM_Attach/bench/4k"])
            add("attach_256m", per_call(lambda: c.attach("bench/256m")),
                cpp["BM_Attach/bench/256m"])
            add("read_256m", per_call(lambda: c.read("bench/256m"), min_time=0.5),
                cpp["BM_Read/bench/256m"])
            if kernels is not None:
                attached = per_call(lambda: kernels.sum3d(cube_buf))
                add("sum3d", attached, per_call(lambda: kernels.sum3d(private)))
        if kernels is not None:
            assert kernels.sum3d(cube_buf) == 200**3

        def summary(measure: str, ratio_of) -> dict:
            pairs = samples.get(measure, [])
            if not pairs:
                return {"ratio_median": None}
            ratios = [ratio_of(o, b) for o, b in pairs]
            return {
                "ours_median_s": statistics.median(o for o, _ in pairs),
                "baseline_median_s": statistics.median(b for _, b in pairs),
                "ratio_median": statistics.median(ratios),
                "ratio_min": min(ratios),
                "ratio_max": max(ratios),
                "repetitions": len(ratios),
            }

        slower = lambda o, b: o / b  # noqa: E731  (time ratio: lower is better)
        speed = lambda o, b: b / o  # noqa: E731   (throughput ratio: higher is better)
        rows = [
            dict(measure="Python attach 4 KiB / C++ attach_any", target=("<=", 1.5),
                 **summary("attach_4k", slower)),
            dict(measure="Python attach 256 MiB / C++ attach_any", target=("<=", 1.5),
                 **summary("attach_256m", slower)),
            dict(measure="Python read 256 MiB / C++ Client::read (throughput)", target=(">=", 0.9),
                 **summary("read_256m", speed)),
            dict(measure="Cython sum3d attached / private NumPy array", target=("<=", 1.05),
                 **summary("sum3d", slower)),
        ]
        # Size independence of the Python attach.
        a4 = [o for o, _ in samples["attach_4k"]]
        a256 = [o for o, _ in samples["attach_256m"]]
        size = [x / y for x, y in zip(a256, a4)]
        rows.append(dict(measure="Python attach 256 MiB / 4 KiB (size independence)",
                         target=("<=", 1.2), ours_median_s=statistics.median(a256),
                         baseline_median_s=statistics.median(a4),
                         ratio_median=statistics.median(size), ratio_min=min(size),
                         ratio_max=max(size), repetitions=len(size)))
        json.dump({"rows": rows}, sys.stdout, indent=2)
        print()
        return 0
    finally:
        try:
            with shmarray.Client(target, timeout=10) as c:
                for info in c.ls("bench/"):
                    c.delete(info.name, cascade=True)
        except shmarray.Error:
            pass
        daemon.terminate()
        daemon.wait(30)
        log.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
