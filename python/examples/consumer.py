#!/usr/bin/python3
# Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
"""A NumPy consumer of a shared array (the Python step of .ci/demo).

Attaches an array by name as a numpy.ndarray whose memory is the shared
segment (no copy), computes on it with NumPy, and writes one item that every
other process, local or remote, then sees.

  consumer.py [--token-file FILE] TARGET NAME    e.g. consumer.py unix:/tmp/s.sock cube
"""

import argparse
import os
import sys

import numpy as np

import shmarray


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--token-file", help="the daemon's bearer token, if it wants one")
    parser.add_argument("target", help="unix:/path or host:port")
    parser.add_argument("name", help="the array to attach")
    args = parser.parse_args()
    name = args.name
    tag = f"[python pid {os.getpid()}]"
    with shmarray.Client(args.target, token_file=args.token_file) as c:
        cube = c.attach(name)  # zero-copy: cube.base is a shmarray.Mapping
        print(f"{tag} attached '{name}': {cube.dtype} {cube.shape}, numpy sum is {cube.sum()}")
        info = c.stat(name)
        address = cube.__array_interface__["data"][0]
        with open("/proc/self/maps") as maps:
            mapped = any(
                line.split()[-1].endswith(info.segment)
                and int(line.split("-")[0], 16) <= address < int(line.split()[0].split("-")[1], 16)
                for line in maps
                if len(line.split()) >= 6
            )
        print(f"{tag} its data pointer lies in this process's mapping of {info.segment}: {mapped}")
        cube[0, 2, 0] = 7  # a plain NumPy write into shared memory
        print(f"{tag} after {name}[0, 2, 0] = 7: numpy sum is {np.sum(cube)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
