#!/usr/bin/python3
"""Builds the docs/performance.md table from one run of the benchmarks.

Inputs: Google Benchmark JSON files (shm_bench, server_bench) and the JSON of
bench/numpy_baseline.py, all produced in the same run. Every figure is a
ratio against a baseline timed in that run; medians of the repetitions.
Prints the table; --json FILE also writes it as JSON. Exit status 0 (a missed
target is reported, not an error), 1 when an input is missing or malformed.
"""
import argparse
import json
import re
import statistics
import sys

UNIT = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


SAMPLES = {}  # run_name -> the entries of every repetition (when the JSON holds them)


# How the table names the streaming baselines of server_bench.
BASELINE_NAMES = {"BM_PlainStream": "plain socket stream",
                  "BM_GrpcRead": "gRPC stream of protobuf bytes"}


def load_benchmarks(paths):
    """{run_name: {"time": seconds, "items": /s, "bytes": /s}} (medians).
    Every repetition's entry is kept in SAMPLES for the spread."""
    found = {}
    samples = SAMPLES
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        for b in data.get("benchmarks", []):
            if b.get("error_occurred"):
                continue
            # Fixed iteration counts are not part of what a measure is.
            name = re.sub(r"/iterations:\d+", "", b.get("run_name", b["name"]))
            entry = {
                "time": b["real_time"] * UNIT[b.get("time_unit", "ns")],
                "items": b.get("items_per_second"),
                "bytes": b.get("bytes_per_second"),
                "stat_vs_empty": b.get("stat_vs_empty"),
                "attach_vs_bare": b.get("attach_vs_bare"),
            }
            if b.get("run_type") == "aggregate":
                if b.get("aggregate_name") == "median":
                    found[name] = entry
            else:
                samples.setdefault(name, []).append(entry)
    for name, runs in samples.items():
        times = [e["time"] for e in runs]  # in repetition order
        if name not in found:
            found[name] = dict(sorted(runs, key=lambda e: e["time"])[len(runs) // 2])
        found[name]["samples"] = times
    return found


def fmt_time(seconds):
    for unit, scale in (("s", 1), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if seconds >= scale:
            return "%.3g %s" % (seconds / scale, unit)
    return "%.3g ns" % (seconds / 1e-9)


def fmt_rate(value, what):
    if what == "bytes":
        return "%.2f GiB/s" % (value / 2**30)
    return "%.0f /s" % value


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", action="append", required=True, help="Google Benchmark JSON")
    parser.add_argument("--numpy", required=True, help="numpy_baseline.py JSON")
    parser.add_argument("--python", help="python_bench.py JSON (ratios with their spread)")
    parser.add_argument("--json", dest="json_out", help="also write the table here")
    parser.add_argument("--context", default="", help="build flags etc., recorded in the JSON")
    args = parser.parse_args()

    try:
        bench = load_benchmarks(args.bench)
        with open(args.numpy) as f:
            numpy = json.load(f)
    except (OSError, ValueError, KeyError) as e:
        print("report: cannot read the inputs: %s" % e, file=sys.stderr)
        return 1

    rows = []

    def time_ratio(measure, ours, base, target, better="lower", ours_fig=None, base_fig=None):
        """ratio = ours/base time (lower is better) or base/ours (a speed-up)."""
        o = bench.get(ours, {}).get("time") if ours_fig is None else ours_fig
        b = bench.get(base, {}).get("time") if base_fig is None else base_fig
        if not o or not b:
            rows.append({"measure": measure, "shmarray": None, "baseline": None, "ratio": None,
                         "target": "%s %.2fx" % target if target[0] else "—", "met": None,
                         "note": "not run"})
            return
        ratio = o / b if better == "lower" else b / o
        op, value = target
        met = None if op is None else (ratio <= value if op == "<=" else ratio >= value)
        row = {"measure": measure, "shmarray": fmt_time(o), "baseline": fmt_time(b),
               "ratio": ratio, "target": ("%s %.2fx" % (op, value)) if op else "—", "met": met}
        # Per-repetition ratios (repetition i against repetition i), when the
        # run kept them: their range is the spread.
        os_ = bench.get(ours, {}).get("samples") if ours_fig is None else None
        bs_ = bench.get(base, {}).get("samples") if base_fig is None else None
        if os_ and bs_ and len(os_) == len(bs_) and len(os_) > 1:
            rs = [x / y if better == "lower" else y / x for x, y in zip(os_, bs_)]
            row["spread"] = [min(rs), max(rs)]
            row["repetitions"] = len(rs)
        rows.append(row)

    def rate_ratio(measure, ours, base, what, target):
        """ratio = ours/base rate; target None = for information. The spread is
        the slowest and fastest repetition of ours over the baseline's median."""
        o = bench.get(ours, {}).get(what)
        b = bench.get(base, {}).get(what)
        target_text = ">= %.2fx" % target if target is not None else "—"
        if not o or not b:
            rows.append({"measure": measure, "shmarray": None, "baseline": None, "ratio": None,
                         "target": target_text, "met": None, "note": "not run"})
            return
        ratio = o / b
        row = {"measure": measure, "shmarray": fmt_rate(o, what),
               "baseline": fmt_rate(b, what), "ratio": ratio,
               "target": target_text, "met": None if target is None else ratio >= target}
        reps = [e[what] for e in SAMPLES.get(ours, []) if e.get(what)]
        if len(reps) > 1:
            row["spread"] = [min(reps) / b, max(reps) / b]
            row["repetitions"] = len(reps)
        rows.append(row)

    time_ratio("sum3d View<int,3> strided / raw strided loop", "BM_Sum3dViewStrided",
               "BM_Sum3dRawStrided", ("<=", 1.05))
    time_ratio("sum3d View<int,3,c_contig> / raw loop, flat index", "BM_Sum3dViewCContig",
               "BM_Sum3dRawFlatIndex", ("<=", 1.05))
    time_ratio("sum3d View<int,3,c_contig> / one 1-D loop (information)", "BM_Sum3dViewCContig",
               "BM_Sum3dRawFlat1D", (None, 0))
    time_ratio("contiguous copy 256 MiB, bandwidth vs memcpy", "BM_CopyIntoContiguous256MiB",
               "BM_Memcpy256MiB", (">=", 0.9), better="higher")
    time_ratio("a[::2, ::2] 128 MiB to C order, speed-up vs NumPy", "BM_EveryOtherToCOrderCopy",
               None, (">=", 1.5), better="higher", base_fig=numpy.get("ascontiguousarray"),
               ours_fig=bench.get("BM_EveryOtherToCOrderCopy", {}).get("time"))
    time_ratio("C to F order 128 MiB, speed-up vs NumPy", "BM_CToFortranCopy", None,
               (">=", 3.5), better="higher", base_fig=numpy.get("asfortranarray"),
               ours_fig=bench.get("BM_CToFortranCopy", {}).get("time"))
    time_ratio("create + fill 1 GiB / fallocate + memcpy", "BM_CreateFill1GiB/real_time",
               "BM_FallocateMemcpy/1073741824/real_time", ("<=", 1.2))
    for arg, size in (("0", "4 KiB"), ("1", "256 MiB")):
        time_ratio("local attach (Stat + map) %s / empty RPC + shm_open+mmap" % size,
                   "BM_AttachStatMap/%s/real_time" % arg, "BM_AttachBaseline/%s/real_time" % arg,
                   ("<=", 1.2))
    time_ratio("local attach 256 MiB / 4 KiB (size independence)",
               "BM_AttachStatMap/1/real_time", "BM_AttachStatMap/0/real_time", ("<=", 1.2))
    for threads in ("1", "8"):
        for arg, where in (("0", "unix"), ("1", "tcp")):
            rate_ratio("Stat calls/s, %s thread(s), %s / empty RPC" % (threads, where),
                       "BM_Stat/%s/min_time:2.000/real_time/threads:%s" % (arg, threads),
                       "BM_EmptyRpc/%s/min_time:2.000/real_time/threads:%s" % (arg, threads),
                       "items", 0.8)
    # The paired benchmark carries its ratio (Stat rate / empty RPC rate,
    # both timed in the same iterations) as a counter.
    for threads in ("1", "8"):
        for arg, where in (("0", "unix"), ("1", "tcp")):
            name = "BM_StatPaired/%s/min_time:2.000/real_time/threads:%s" % (arg, threads)
            ratio = bench.get(name, {}).get("stat_vs_empty")
            spread = sorted(e.get("stat_vs_empty") or 0 for e in SAMPLES.get(name, []))
            rows.append({
                "measure": "Stat calls/s, %s thread(s), %s / empty RPC, paired" % (threads, where),
                "shmarray": None, "baseline": None, "ratio": ratio, "target": ">= 0.90x",
                "met": None if ratio is None else ratio >= 0.9,
                "note": "not run" if ratio is None else
                        ("%.2f-%.2f over %d repetitions" % (spread[0], spread[-1], len(spread))
                         if spread else "")})
    for arg, where in (("1", "loopback TCP"), ("0", "Unix socket")):
        rate_ratio("Read 256 MiB over %s / plain socket stream" % where,
                   "BM_Read/%s/real_time" % arg, "BM_PlainStream/%s/real_time" % arg, "bytes", 0.45)
        rate_ratio("Write 256 MiB over %s / plain socket stream" % where,
                   "BM_Write/%s/real_time" % arg, "BM_PlainStream/%s/real_time" % arg, "bytes", 0.4)
        rate_ratio("Read 256 MiB over %s / gRPC stream of protobuf bytes" % where,
                   "BM_Read/%s/real_time" % arg, "BM_GrpcRead/%s/real_time" % arg, "bytes", 0.9)
        rate_ratio("Write 256 MiB over %s / gRPC stream of protobuf bytes" % where,
                   "BM_Write/%s/real_time" % arg, "BM_GrpcWrite/%s/real_time" % arg, "bytes", 0.8)
        # For information: into a reused buffer, and of a sealed array (which
        # the daemon sends zero copy; a writable one's chunks are copied).
        # Over the Unix socket BM_Read copies from the segment (local
        # reads); BM_ReadStreamed is the stream through the daemon.
        for what, ours, bases in (
                ("Read 256 MiB streamed (local_reads=false)", "BM_ReadStreamed",
                 ("BM_PlainStream", "BM_GrpcRead")),
                ("Read 256 MiB into a reused buffer", "BM_ReadInto",
                 ("BM_PlainStream", "BM_GrpcRead")),
                ("Read of a sealed 256 MiB (zero copy)", "BM_ReadSealed",
                 ("BM_PlainStream", "BM_GrpcRead")),
                ("Read of a sealed 256 MiB into a reused buffer", "BM_ReadIntoSealed",
                 ("BM_GrpcRead",))):
            for base in bases:
                rate_ratio("%s over %s / %s" % (what, where, BASELINE_NAMES[base]),
                           "%s/%s/real_time" % (ours, arg), "%s/%s/real_time" % (base, arg),
                           "bytes", None)
        rate_ratio("Read 256 MiB over %s / gRPC raw slices (ceiling)" % where,
                   "BM_Read/%s/real_time" % arg, "BM_GrpcRawRead/%s/real_time" % arg, "bytes",
                   None)
        rate_ratio("Write 256 MiB over %s / gRPC raw slices (ceiling)" % where,
                   "BM_Write/%s/real_time" % arg, "BM_GrpcRawWrite/%s/real_time" % arg, "bytes",
                   None)
        rate_ratio("gRPC bytes stream over %s / plain socket stream (information)" % where,
                   "BM_GrpcRead/%s/real_time" % arg, "BM_PlainStream/%s/real_time" % arg, "bytes",
                   None)
    rate_ratio("Local copy out of 256 MiB (view attached once) / plain Unix socket stream "
               "(information)", "BM_LocalCopyOut/real_time", "BM_PlainStream/0/real_time",
               "bytes", None)
    rate_ratio("Local copy into 256 MiB (view attached once) / plain Unix socket stream "
               "(information)", "BM_LocalCopyIn/real_time", "BM_PlainStream/0/real_time",
               "bytes", None)
    for arg, where in (("1", "loopback TCP"), ("0", "Unix socket")):
        for n in ("1", "2", "4", "8"):
            target = 0.7 if arg == "1" else None
            rate_ratio("Read 1 GiB over %s, %s stream(s) / plain socket stream" % (where, n),
                       "BM_ReadStreams/%s/%s/real_time" % (arg, n),
                       "BM_PlainStream1GiB/%s/real_time" % arg, "bytes", target)
            rate_ratio("Write 1 GiB over %s, %s stream(s) / plain socket stream" % (where, n),
                       "BM_WriteStreams/%s/%s/real_time" % (arg, n),
                       "BM_PlainStream1GiB/%s/real_time" % arg, "bytes", None)
    for arg, size in (("0", "4 KiB"), ("1", "256 MiB")):
        time_ratio("attach of a known name via the shm catalog (no RPC) %s / open+fstat+mmap"
                   % size, "BM_CatalogAttach/%s/real_time" % arg, "BM_BareMap/%s/real_time" % arg,
                   ("<=", 2.0))
    # The paired benchmark times both in the same iterations and carries the
    # time ratio (attach / bare) as a counter.
    for arg, size in (("0", "4 KiB"), ("1", "256 MiB")):
        name = "BM_CatalogAttachPaired/%s/real_time" % arg
        spread = sorted(e["attach_vs_bare"] for e in SAMPLES.get(name, [])
                        if e.get("attach_vs_bare"))
        # client_bench keeps every repetition: the median of their ratios.
        ratio = (statistics.median(spread) if spread
                 else bench.get(name, {}).get("attach_vs_bare"))
        rows.append({
            "measure": "attach via the shm catalog %s / open+fstat+mmap, paired" % size,
            "shmarray": None, "baseline": None, "ratio": ratio, "target": "<= 2.00x",
            "met": None if ratio is None else ratio <= 2.0,
            "note": "not run" if ratio is None else "",
            **({"spread": [spread[0], spread[-1]], "repetitions": len(spread)}
               if len(spread) > 1 else {})})
    time_ratio("attach via the shm catalog 256 MiB / 4 KiB (size independence)",
               "BM_CatalogAttach/1/real_time", "BM_CatalogAttach/0/real_time", ("<=", 1.2))
    time_ratio("attach via Stat / via the shm catalog, 4 KiB (speed-up, information)",
               "BM_CatalogAttach/0/real_time", "BM_StatAttach/0/real_time", (None, 0),
               better="higher")
    # The catalog at scale (client_bench).
    listed = bench.get("BM_List10k/real_time", {})
    if listed.get("time"):
        samples = listed.get("samples") or []
        rows.append({"measure": "List of 10,000 arrays, paged, end to end (absolute)",
                     "shmarray": fmt_time(listed["time"]), "baseline": None,
                     "ratio": listed["time"] / 0.1, "target": "< 100 ms",
                     "met": listed["time"] < 0.1, "note": "of the 100 ms limit",
                     **({"spread": [min(samples) / 0.1, max(samples) / 0.1]}
                        if len(samples) > 1 else {})})
    else:
        rows.append({"measure": "List of 10,000 arrays, paged, end to end (absolute)",
                     "shmarray": None, "baseline": None, "ratio": None, "target": "< 100 ms",
                     "met": None, "note": "not run"})
    time_ratio("Create + Delete of 10,000 small arrays / 20,000 Stat round trips",
               "BM_CreateDelete10k/real_time", "BM_EmptyPair10k/real_time",
               (None, 0))
    rate_ratio("Stat + attach calls/s, 100 clients / 1 client (information)",
               "BM_StatAttachClients/real_time/threads:100", "BM_StatAttachClients/real_time/threads:1",
               "items", None)
    time_ratio("server-side Copy 256 MiB / fallocate + memcpy", "BM_ServerCopy256MiB/real_time",
               "BM_FallocateMemcpy/268435456/real_time", (None, 0))

    if args.python:
        try:
            with open(args.python) as f:
                python_rows = json.load(f)["rows"]
        except (OSError, ValueError, KeyError) as e:
            print("report: cannot read %s: %s" % (args.python, e), file=sys.stderr)
            return 1
        for r in python_rows:
            op, value = r["target"]
            ratio = r.get("ratio_median")
            if ratio is None:
                rows.append({"measure": r["measure"], "shmarray": None, "baseline": None,
                             "ratio": None, "target": "%s %.2fx" % (op, value), "met": None,
                             "note": "not run"})
                continue
            rows.append({"measure": r["measure"], "shmarray": fmt_time(r["ours_median_s"]),
                         "baseline": fmt_time(r["baseline_median_s"]), "ratio": ratio,
                         "spread": [r["ratio_min"], r["ratio_max"]],
                         "target": "%s %.2fx" % (op, value),
                         "met": ratio <= value if op == "<=" else ratio >= value})

    header = ("measure", "shmarray", "baseline", "ratio", "target", "met")
    table = [header]
    for r in rows:
        met = "—" if r["met"] is None else ("yes" if r["met"] else "NO")
        table.append((r["measure"], r["shmarray"] or "—", r["baseline"] or "—",
                      ("%.2fx" % r["ratio"] + (" (%.2f-%.2f)" % tuple(r["spread"])
                                                if r.get("spread") else ""))
                      if r["ratio"] is not None else r.get("note", "—"),
                      r["target"], met))
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    for i, row in enumerate(table):
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    scored = [r for r in rows if r["met"] is not None]
    print("\n%d of %d targets met" % (sum(1 for r in scored if r["met"]), len(scored)))
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"context": args.context, "numpy_version": numpy.get("numpy_version"),
                       "rows": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
