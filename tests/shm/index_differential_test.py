#!/usr/bin/python3
# Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
#
# File: index_differential_test.py
# -----------------------------------------------------------------------------
# Differential test of shm::ParseIndex + Layout::slice against NumPy basic
# indexing. Random base arrays (strided views of a bigger buffer: negative,
# zero, transposed, non-contiguous and odd byte strides, extents 0 and 1,
# itemsizes 1..16) and random index expressions (integers in and out of range,
# slices with omitted/negative/huge/zero parts, `...` (sometimes two), None,
# too many indices) are written as text, sent in one batch to layout_tool, and
# the answers compared with what NumPy computes: shape, byte strides, offset,
# packed C-order contents, C/F contiguity flags, or the kind (and for the
# docs/views.md cases the exact text) of the error.
#
#   /usr/bin/python3 index_differential_test.py path/to/layout_tool [--seed N] [--cases N]
#
# Prints one summary line; exits 1 on any mismatch, showing the first few.

import argparse
import json
import random
import re
import subprocess
import sys

import numpy as np
from numpy.lib.stride_tricks import as_strided

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
DTYPES = {1: np.dtype("u1"), 2: np.dtype("<u2"), 4: np.dtype("<u4"), 8: np.dtype("<u8"),
          16: np.dtype("V16")}
HUGE = [2**62, -(2**62), INT64_MAX, INT64_MIN, 10**15, -(10**15)]
# Slices on which Cython's normalisation differs from Python's.
CYTHON_DIVERGENT = [slice(1, 0, 2), slice(-7, None, -1), slice(None, -7, -1), slice(5, 4, 2),
                    slice(6, 4, 2), slice(0, 1, -2), slice(4, -6, -1)]


def pattern(nbytes):
    return ((np.arange(nbytes, dtype=np.int64) * 7 + 3) % 256).astype(np.uint8)


def random_extent(rng):
    return rng.choice([0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 6, 7, 8])


def make_base(rng):
    """Returns (itemsize, shape, strides, offset, bufbytes)."""
    itemsize = rng.choice(list(DTYPES))
    ndim = rng.randint(0, 5)
    shape = [random_extent(rng) for _ in range(ndim)]
    virtual = [max(e, 1) for e in shape]  # keeps every view of an empty base inside
    kind = rng.choice(["c", "f", "scaled", "transposed", "broadcast", "random", "odd"])
    # Contiguous strides of a bigger parent, in C or F order.
    parent = [v * rng.choice([1, 1, 2, 3]) for v in virtual]
    strides = [0] * ndim
    acc = itemsize
    order = range(ndim - 1, -1, -1) if kind != "f" else range(ndim)
    for i in order:
        strides[i] = acc
        acc *= parent[i]
    if kind in ("scaled", "broadcast", "random", "odd", "transposed"):
        strides = [s * rng.choice([1, 1, -1, 2, -2]) for s in strides]
    if kind == "transposed" and ndim > 1:
        perm = list(range(ndim))
        rng.shuffle(perm)
        shape = [shape[p] for p in perm]
        virtual = [virtual[p] for p in perm]
        strides = [strides[p] for p in perm]
    if kind == "broadcast":
        for i in range(ndim):
            if rng.random() < 0.4:
                strides[i] = 0
    if kind == "random":
        strides = [itemsize * rng.randint(-12, 12) for _ in range(ndim)]
    if kind == "odd":
        strides = [rng.randint(-40, 40) for _ in range(ndim)]
    lo = sum(s * (v - 1) for s, v in zip(strides, virtual) if s < 0)
    hi = sum(s * (v - 1) for s, v in zip(strides, virtual) if s > 0) + itemsize
    offset = -lo + rng.randint(0, 9)
    bufbytes = offset + hi + rng.randint(0, 9)
    return itemsize, shape, strides, offset, bufbytes


def random_int(rng, small=9):
    r = rng.random()
    if r < 0.08:
        return rng.choice(HUGE)
    return rng.randint(-small, small)


def random_slice(rng):
    if rng.random() < 0.12:
        return rng.choice(CYTHON_DIVERGENT)

    def part(is_step):
        r = rng.random()
        if r < 0.35:
            return None
        if r < 0.45:
            return rng.choice(HUGE)
        if is_step:
            if r < 0.48:
                return 0
            v = rng.randint(-4, 4)
            return v if v != 0 else 1
        return rng.randint(-10, 10)

    return slice(part(False), part(False), part(True))


def random_index(rng, ndim):
    n = rng.choice([0, 1, 2, ndim, ndim, ndim + 1, rng.randint(0, ndim + 3)])
    items = []
    for _ in range(n):
        r = rng.random()
        if r < 0.3:
            items.append(random_int(rng))
        elif r < 0.75:
            items.append(random_slice(rng))
        elif r < 0.87:
            items.append(None)
        else:
            items.append(Ellipsis)
    if rng.random() < 0.03:
        items.insert(rng.randint(0, len(items)), Ellipsis)
        items.insert(rng.randint(0, len(items)), Ellipsis)
    return items


def ws(rng):
    return rng.choice(["", "", "", " ", "  ", "\t"])


def int_text(rng, v):
    digits = str(abs(v))
    if len(digits) > 1 and rng.random() < 0.15:
        k = rng.randint(1, len(digits) - 1)
        digits = digits[:k] + "_" + digits[k:]
    if v < 0:
        return "-" + ws(rng) + digits
    if rng.random() < 0.1:
        return "+" + digits
    if v == 0 and rng.random() < 0.2:
        return "-0"
    return digits


def item_text(rng, item):
    if item is None:
        return rng.choice(["None", "None", "newaxis", "np.newaxis"])
    if item is Ellipsis:
        return "..."
    if isinstance(item, slice):
        out = ""
        if item.start is not None:
            out += int_text(rng, item.start) + ws(rng)
        out += ":" + ws(rng)
        if item.stop is not None:
            out += int_text(rng, item.stop) + ws(rng)
        if item.step is not None or rng.random() < 0.2:
            out += ":" + ws(rng)
            if item.step is not None:
                out += int_text(rng, item.step)
        return out
    return int_text(rng, item)


def index_text(rng, items):
    text = ws(rng) + ("," + ws(rng)).join(item_text(rng, i) for i in items) + ws(rng)
    if items and rng.random() < 0.1:
        text += ","
    return text


def model(shape, strides, items):
    """Our own walk of the index (NumPy's order): returns (error or None,
    set of result axes whose stride NumPy computes with int64 overflow)."""
    ndim = len(shape)
    used = sum(1 for i in items if i is not None and i is not Ellipsis)
    if sum(1 for i in items if i is Ellipsis) > 1:
        return ("IndexExprError", "an index can only have a single ellipsis ('...')"), set()
    if used > ndim:
        return ("IndexExprError", "too many indices for array: array is %d-dimensional, but %d "
                "were indexed" % (ndim, used)), set()
    axis = 0
    out_axis = 0
    overflowed = set()
    for item in items:
        if item is None:
            out_axis += 1
        elif item is Ellipsis:
            axis += ndim - used
            out_axis += ndim - used
        elif isinstance(item, slice):
            if item.step == 0:
                return ("IndexExprError", "Step may not be zero (axis %d)" % axis), set()
            start, stop, step = item.indices(shape[axis])
            step = max(step, -INT64_MAX)
            count = len(range(start, stop, step))
            if count > 0 and not INT64_MIN <= strides[axis] * step <= INT64_MAX:
                overflowed.add(out_axis)
            axis += 1
            out_axis += 1
        else:
            if not -shape[axis] <= item < shape[axis]:
                return ("IndexError", "Index out of bounds (axis %d)" % axis), set()
            axis += 1
    return None, overflowed


def expected(base, bufaddr, items):
    idx = tuple(items)
    if Ellipsis not in items:
        idx += (Ellipsis,)  # same meaning; NumPy then always returns a view
    try:
        v = base[idx]
    except IndexError as e:
        msg = str(e)
        m = re.search(r"out of bounds for axis (\d+)", msg)
        if m:
            return {"ok": False, "kind": "IndexError",
                    "error": "Index out of bounds (axis %s)" % m.group(1)}
        return {"ok": False, "kind": "IndexExprError", "error": msg}
    except ValueError as e:
        if "step cannot be zero" not in str(e):
            raise
        return {"ok": False, "kind": "IndexExprError", "error": None}  # text from the model
    return {"ok": True, "shape": list(v.shape), "strides": list(v.strides),
            "offset": v.__array_interface__["data"][0] - bufaddr,
            "c": bool(v.flags.c_contiguous), "f": bool(v.flags.f_contiguous),
            "data": v.tobytes().hex()}


def compare(exp, got, model_error, overflowed):
    if model_error is not None:
        if exp["ok"] or exp["kind"] != model_error[0]:
            return "test model disagrees with NumPy: model %r, NumPy %r" % (model_error, exp)
        if exp["error"] is not None and exp["error"] != model_error[1]:
            return "test model disagrees with NumPy text: model %r, NumPy %r" % (model_error, exp)
        exp = dict(exp, error=model_error[1])
    elif not exp["ok"]:
        return "NumPy raised but the model did not: %r" % exp
    if exp["ok"] != got.get("ok"):
        return "expected %r, got %r" % (exp, got)
    if not exp["ok"]:
        if exp["kind"] != got.get("kind") or exp["error"] != got.get("error"):
            return "expected %s %r, got %s %r" % (exp["kind"], exp["error"], got.get("kind"),
                                                  got.get("error"))
        return None
    got_strides = list(got["strides"])
    exp_strides = list(exp["strides"])
    for a in overflowed:  # NumPy wraps; our stride of that single-item axis is the base's
        if a < len(got_strides) and a < len(exp_strides):
            got_strides[a] = exp_strides[a] = None
    for key in ("shape", "offset", "c", "f", "data"):
        if exp[key] != got[key]:
            return "%s: expected %r, got %r" % (key, exp[key], got[key])
    if exp_strides != got_strides:
        return "strides: expected %r, got %r" % (exp["strides"], got["strides"])
    return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("tool")
    parser.add_argument("--seed", type=int, default=20260401)
    parser.add_argument("--cases", type=int, default=3000)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    cases = []
    for _ in range(args.cases):
        itemsize, shape, strides, offset, bufbytes = make_base(rng)
        items = random_index(rng, len(shape))
        text = index_text(rng, items)
        line = "%d|%s|%s|%d|%d|%s" % (itemsize, " ".join(map(str, shape)),
                                       " ".join(map(str, strides)), offset, bufbytes, text)
        cases.append((itemsize, shape, strides, offset, bufbytes, items, text, line))

    proc = subprocess.run([args.tool], input="".join(c[-1] + "\n" for c in cases),
                          capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        print("FAIL: layout_tool exited with %d: %s" % (proc.returncode, proc.stderr[-2000:]))
        return 1
    answers = proc.stdout.splitlines()
    if len(answers) != len(cases):
        print("FAIL: %d answers for %d cases" % (len(answers), len(cases)))
        return 1

    mismatches = []
    stats = {"ok": 0, "IndexError": 0, "IndexExprError": 0, "empty": 0, "step0": 0,
             "ellipsis2": 0, "toomany": 0, "overflow": 0}
    for case, answer in zip(cases, answers):
        itemsize, shape, strides, offset, bufbytes, items, text, line = case
        buf = pattern(bufbytes)
        bufaddr = buf.__array_interface__["data"][0]
        first = buf[offset:offset + itemsize].view(DTYPES[itemsize])
        base = as_strided(first, shape=tuple(shape), strides=tuple(strides))
        base = base.view(DTYPES[itemsize])
        exp = expected(base, bufaddr, items)
        model_error, overflowed = model(shape, strides, items)
        got = json.loads(answer)
        problem = compare(exp, got, model_error, overflowed)
        stats["ok" if exp["ok"] else exp["kind"]] += 1
        if exp["ok"] and 0 in exp["shape"]:
            stats["empty"] += 1
        if model_error is not None:
            for key, word in (("step0", "Step"), ("ellipsis2", "ellipsis"), ("toomany", "too many")):
                stats[key] += word in model_error[1]
        stats["overflow"] += bool(overflowed) and exp["ok"]
        if problem:
            mismatches.append("  %r (index %r): %s" % (line, items, problem))

    summary = ("%d cases (seed %d): %d views (%d empty, %d with a wrapped NumPy stride), "
               "%d IndexError, %d IndexExprError (%d zero step, %d second ellipsis, %d too many); "
               "%d mismatches") % (
        len(cases), args.seed, stats["ok"], stats["empty"], stats["overflow"],
        stats["IndexError"], stats["IndexExprError"], stats["step0"], stats["ellipsis2"],
        stats["toomany"], len(mismatches))
    if mismatches:
        print("FAIL: " + summary)
        print("\n".join(mismatches[:8]))
        return 1
    print("PASS: " + summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
