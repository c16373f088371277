#!/usr/bin/python3
"""NumPy's figures for the strided-copy targets of docs/performance.md.

Times, with the same shapes as bench/copy_bench.cc:
  ascontiguousarray: np.ascontiguousarray(a[::2, ::2]) of 4096x4096 doubles (128 MiB)
  asfortranarray:    np.asfortranarray(a) of 4096x4096 doubles (128 MiB, C order)
Prints JSON {"name": median seconds, ...} on stdout. Run with Debian's
/usr/bin/python3 (python3-numpy).
"""
import argparse
import json
import time

import numpy as np


def median_time(fn, repetitions):
    fn()  # warm-up
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
        del out
    times.sort()
    return times[len(times) // 2]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=7)
    args = parser.parse_args()
    a = np.arange(4096 * 4096, dtype=np.float64).reshape(4096, 4096)
    result = {
        "numpy_version": np.__version__,
        "ascontiguousarray": median_time(lambda: np.ascontiguousarray(a[::2, ::2]), args.repetitions),
        "asfortranarray": median_time(lambda: np.asfortranarray(a), args.repetitions),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
