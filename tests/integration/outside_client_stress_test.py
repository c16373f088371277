#!/usr/bin/python3
# Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
"""Malformed requests from an outside gRPC client leave shmarrayd intact.

A real shmarrayd (Unix socket, private instance, --max-bytes 64M) receives at
least --per-method (default 1000) malformed requests for EVERY method of
shmarray.v1.ArrayService from Debian's python3-grpcio, with stubs generated
by protoc at test time. Per method, four kinds in equal parts:
  - random bytes;
  - a valid request cut short at a random byte;
  - a valid request with random bytes flipped;
  - well-formed protobuf with bad values (names, formats, shapes, orders,
    index expressions and items, page sizes and tokens, chunk sizes, Write
    streams with missing, repeated or oversized parts).
Afterwards: the daemon still runs and answers SERVING, no call ended with
UNKNOWN, UNAVAILABLE, DEADLINE_EXCEEDED, UNIMPLEMENTED or DATA_LOSS, every
error carried a message (except gRPC's own refusal of unparseable bytes),
and the canary arrays -- plain, sealed, struct, view -- have the same
metadata and byte-identical contents as before. Scratch arrays that
accidental valid requests created are deleted, after which /dev/shm holds
exactly the canaries' segments.

  outside_client_stress_test.py --daemon build/server/shmarrayd --proto-dir proto
"""

import argparse
import collections
import os
import random
import struct
import sys
import threading
import warnings
from concurrent import futures

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shmarrayd_harness as h  # noqa: E402

grpc = h.grpc

FORBIDDEN = {
    grpc.StatusCode.UNKNOWN, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.DATA_LOSS,
}
METHODS = ["Create", "Stat", "List", "Delete", "Seal", "Slice", "Copy", "Read", "Write", "Watch"]
REQUEST_TYPES = {
    "Create": "CreateRequest", "Stat": "StatRequest", "List": "ListRequest",
    "Delete": "DeleteRequest", "Seal": "SealRequest", "Slice": "SliceRequest",
    "Copy": "CopyRequest", "Read": "ReadRequest", "Write": "WriteRequest",
    "Watch": "WatchRequest",
}

BAD_NAMES = ["", ".", "..", "/a", "a/", "a//b", "a/../b", "x" * 256, "caf\u00e9", "a b",
             "a\\b", "a\x01", "-", "con:1", "a/./b", "*", "\u2603" * 3]
BAD_FORMATS = ["O", "w", "T{", "T{}", "(0)d", "(-1)d", "T{i:a:i:a:}", "0i", "1000000000000s",
               "(1099511627776)d", "=n", "<P", "T{i:a", "}", "\x00d", "Zq", "(" + "2," * 40 + "2)d",
               "i" * 70000, "@", "T{" * 40 + "i" + "}" * 40]
BAD_INDEX_TEXT = ["1:2:3:4", "::0", "..., ...", "x", "1_", "007", "99999999999999999999",
                  "(", "0," * 70, "None None", "--", ":" * 5, "\x00", "1e3", "[1]", "a[1]"]


class Stats:
    def __init__(self):
        self.codes = collections.Counter()
        self.failures = []
        self.lock = threading.Lock()

    def check(self, method, kind, code, details, parses):
        """Records one result; `parses()` tells whether the bytes were a whole request."""
        failure = None
        if code in FORBIDDEN:
            failure = "%s (%s): %s %r" % (method, kind, code.name, details)
        elif code is not None and code != grpc.StatusCode.CANCELLED and not details:
            # gRPC itself may refuse bytes that are not the request message
            # (INTERNAL, before any handler runs); everything else must
            # explain itself.
            if code != grpc.StatusCode.INTERNAL or parses():
                failure = "%s (%s): %s without a message" % (method, kind, code.name)
        with self.lock:
            self.codes[(method, code.name if code else "OK")] += 1
            if failure:
                self.failures.append(failure)


class Client:
    def __init__(self, channel, stubs):
        self.pb = stubs.pb
        self.stub = stubs.grpc.ArrayServiceStub(channel)
        ident = h._identity
        self.raw = {}
        for m in METHODS:
            path = "/shmarray.v1.ArrayService/" + m
            if m in ("Read", "Watch"):
                self.raw[m] = channel.unary_stream(path, request_serializer=ident,
                                                   response_deserializer=ident)
            elif m == "Write":
                self.raw[m] = channel.stream_unary(path, request_serializer=ident,
                                                   response_deserializer=ident)
            else:
                self.raw[m] = channel.unary_unary(path, request_serializer=ident,
                                                  response_deserializer=ident)

    def parses(self, method, data):
        """True if `data` is a whole request message (as the daemon's parser sees it)."""
        with warnings.catch_warnings():
            # The C++ backend warns ("Not all data was converted") on a
            # partial parse that gRPC's C++ parser refuses.
            warnings.simplefilter("error")
            try:
                getattr(self.pb, REQUEST_TYPES[method]).FromString(data)
                return True
            except Exception:  # DecodeError, or the warning above
                return False

    def call(self, method, messages):
        """Sends raw `messages` (bytes; one unless Write); returns (code|None, details)."""
        try:
            if method == "Write":
                self.raw[method](iter(messages), timeout=20)
            elif method == "Read":
                for _ in self.raw[method](messages[0], timeout=20):
                    pass
            elif method == "Watch":
                call = self.raw[method](messages[0], timeout=20)
                call.initial_metadata()  # subscribed (or already failed)
                call.cancel()
                for _ in call:
                    pass
            else:
                self.raw[method](messages[0], timeout=20)
            return None, ""
        except grpc.RpcError as e:
            return e.code(), e.details() or ""


def index(pb, text="", items=()):
    i = pb.Index(text=text)
    i.items.extend(items)
    return i


def valid_requests(pb):
    """One valid request per method (Write: a list of messages), on scratch names."""
    return {
        "Create": [pb.CreateRequest(name="scratch/c", format="d", shape=[3, 4],
                                    fill=struct.pack("<d", 1.5))],
        "Stat": [pb.StatRequest(name="canary/plain")],
        "List": [pb.ListRequest(prefix="canary/", page_size=2)],
        "Delete": [pb.DeleteRequest(name="scratch/c", cascade=True)],
        "Seal": [pb.SealRequest(name="scratch/s")],
        "Slice": [pb.SliceRequest(name="canary/plain", index=index(pb, "::-1, 1:3"),
                                  new_name="scratch/v")],
        "Copy": [pb.CopyRequest(source="canary/plain", source_index=index(pb, "1"),
                                new_name="scratch/cp", order=pb.ORDER_F)],
        "Read": [pb.ReadRequest(name="canary/struct", index=index(pb, "::2"), chunk_size=7)],
        "Write": [pb.WriteRequest(target=pb.WriteTarget(name="scratch/w", index=index(pb, "1"),
                                                        format="<i", nbytes=16)),
                  pb.WriteRequest(data=b"\x01" * 16)],
        "Watch": [pb.WatchRequest(prefix="scratch/")],
    }


def semantic_requests(pb, method, rng):
    """Well-formed protobuf with values the daemon must refuse."""
    name = rng.choice(BAD_NAMES + ["scratch/none", "canary/sealed", "canary/view"])
    bad_index = rng.choice([
        index(pb, rng.choice(BAD_INDEX_TEXT)),
        index(pb, items=[pb.IndexItem(slice=pb.SliceItem(step=0))]),
        index(pb, items=[pb.IndexItem(index=rng.choice([2**63 - 1, -2**63, 5, -13]))]),
        index(pb, items=[pb.IndexItem(ellipsis=pb.Ellipsis()), pb.IndexItem(ellipsis=pb.Ellipsis())]),
        index(pb, items=[pb.IndexItem(new_axis=pb.NewAxis())] * 40),
        index(pb, items=[pb.IndexItem()]),  # no item set in the oneof
        index(pb, "0", items=[pb.IndexItem(index=0)] * 70),
    ])
    existing = rng.choice(["canary/plain", "canary/sealed", "canary/struct", "canary/view"])
    if method == "Create":
        return [rng.choice([
            pb.CreateRequest(name=name, format="d", shape=[2]),
            pb.CreateRequest(name="scratch/x", format=rng.choice(BAD_FORMATS), shape=[2]),
            pb.CreateRequest(name="scratch/x", format="d", shape=[rng.choice([-1, -2**63])]),
            pb.CreateRequest(name="scratch/x", format="d", shape=[2] * 33),
            pb.CreateRequest(name="scratch/x", format="d", shape=[2**31, 2**31, 2**31]),
            pb.CreateRequest(name="scratch/x", format="d", shape=[2**40]),  # over --max-bytes
            pb.CreateRequest(name="scratch/x", format="d", shape=[2], order=rng.choice([3, -1, 99])),
            pb.CreateRequest(name="scratch/x", format="d", shape=[2], fill=b"\x01" * 7),
            pb.CreateRequest(name="scratch/x", format="d", shape=[2], itemsize=rng.choice(
                [-8, 4, 2**41, 2**63 - 1])),
            pb.CreateRequest(name="canary/plain", format="d", shape=[2]),  # exists
        ])]
    if method == "Stat":
        return [pb.StatRequest(name=rng.choice(BAD_NAMES + ["scratch/none"]))]
    if method == "List":
        return [rng.choice([
            pb.ListRequest(page_size=rng.choice([-1, -2**31])),
            pb.ListRequest(prefix="canary/", page_token=rng.choice(
                ["x", ">", ">../a", "\x00", ">scratch/a", ">" + "z" * 300])),
            pb.ListRequest(prefix=rng.choice(BAD_NAMES), page_size=2**31 - 1),
        ])]
    if method == "Delete":
        return [pb.DeleteRequest(name=rng.choice(BAD_NAMES + ["scratch/none"]),
                                 cascade=rng.random() < 0.5)]
    if method == "Seal":
        return [pb.SealRequest(name=rng.choice(BAD_NAMES + ["scratch/none", "canary/view"]))]
    if method == "Slice":
        return [rng.choice([
            pb.SliceRequest(name=existing, index=bad_index),
            pb.SliceRequest(name=name, index=index(pb, "0")),
            pb.SliceRequest(name=existing, index=index(pb, ":"), new_name=rng.choice(BAD_NAMES)),
            pb.SliceRequest(name=existing, index=index(pb, ":"), new_name="canary/plain"),
        ])]
    if method == "Copy":
        return [rng.choice([
            pb.CopyRequest(source=existing, source_index=bad_index, new_name="scratch/y"),
            pb.CopyRequest(source=existing, new_name="scratch/y", destination="scratch/z"),
            pb.CopyRequest(source=existing),
            pb.CopyRequest(source=name, new_name="scratch/y"),
            pb.CopyRequest(source="canary/plain", destination="canary/sealed"),
            pb.CopyRequest(source="canary/plain", destination="canary/struct"),
            pb.CopyRequest(source="canary/plain", source_index=index(pb, ":2"),
                           destination="canary/plain", destination_index=index(pb, ":3")),
            pb.CopyRequest(source="canary/plain", destination="canary/plain",
                           order=pb.ORDER_F),
            pb.CopyRequest(source="canary/plain", new_name="scratch/y",
                           order=rng.choice([5, -3])),
            pb.CopyRequest(source="canary/plain", new_name=rng.choice(BAD_NAMES)),
        ])]
    if method == "Read":
        return [rng.choice([
            pb.ReadRequest(name=existing, index=bad_index),
            pb.ReadRequest(name=name),
            pb.ReadRequest(name=existing, chunk_size=rng.choice([-1, -2**31])),
            pb.ReadRequest(name=existing, order=rng.choice([7, -1])),
        ])]
    if method == "Write":
        target = pb.WriteRequest(target=pb.WriteTarget(name="scratch/w", format="<i", nbytes=48))
        data = pb.WriteRequest(data=b"\x02" * 16)
        return rng.choice([
            [],  # no target
            [data, target],  # data first
            [pb.WriteRequest(target=pb.WriteTarget(name="canary/sealed", nbytes=32)), data],
            [pb.WriteRequest(target=pb.WriteTarget(name=name, nbytes=16)), data],
            [pb.WriteRequest(target=pb.WriteTarget(name="scratch/w", index=bad_index, nbytes=4)),
             data],
            [pb.WriteRequest(target=pb.WriteTarget(name="scratch/w", format=rng.choice(
                BAD_FORMATS + ["d", "<q"]), nbytes=48)), data],
            [pb.WriteRequest(target=pb.WriteTarget(name="scratch/w", nbytes=rng.choice(
                [-1, 47, 49, 2**63 - 1]))), data],
            [pb.WriteRequest(target=pb.WriteTarget(name="scratch/w", nbytes=48,
                                                   order=rng.choice([4, -2]))), data],
            [target, target],  # a second target
            [target, data, data, data, data],  # more than announced
            [target, data],  # fewer than announced
            [pb.WriteRequest(target=pb.WriteTarget(name="canary/view", nbytes=4))],
        ])
    return [pb.WatchRequest(prefix=rng.choice(BAD_NAMES))]


def serialize(messages):
    return [m.SerializeToString() for m in messages]


def mutate(kind, method, valid, rng):
    """Bytes of one malformed request of `kind` (a list of messages)."""
    if kind == "random":
        n = rng.choice([0, 1, 2, 5, 20, 100, 400])
        blobs = [bytes(rng.getrandbits(8) for _ in range(n))]
        if method == "Write":
            blobs = [valid[0]] + blobs if rng.random() < 0.5 else blobs
        return blobs
    if kind == "truncated":
        msgs = list(valid)
        i = rng.randrange(len(msgs))
        if len(msgs[i]) > 1:
            msgs[i] = msgs[i][:rng.randrange(1, len(msgs[i]))]
        return msgs
    if kind == "flipped":
        msgs = list(valid)
        i = rng.randrange(len(msgs))
        b = bytearray(msgs[i])
        for _ in range(rng.choice([1, 2, 4])):
            if b:
                b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        msgs[i] = bytes(b)
        return msgs
    raise ValueError(kind)


def snapshot(client, pb, names):
    """(metadata, bytes) of each canary, through Stat and Read."""
    out = {}
    for n in names:
        info = client.stub.Stat(pb.StatRequest(name=n), timeout=20)
        data = b"".join(r.data for r in client.stub.Read(pb.ReadRequest(name=n), timeout=20))
        meta = (info.format, info.itemsize, tuple(info.shape), tuple(info.strides), info.offset,
                info.readonly, info.generation, info.base, info.kind)
        out[n] = (meta, data)
    return out


def make_canaries(client, pb):
    s = client.stub
    s.Create(pb.CreateRequest(name="canary/plain", format="<i", shape=[4, 6]), timeout=20)
    payload = struct.pack("<24i", *range(100, 124))
    s.Write(iter([pb.WriteRequest(target=pb.WriteTarget(name="canary/plain", nbytes=96)),
                  pb.WriteRequest(data=payload)]), timeout=20)
    s.Create(pb.CreateRequest(name="canary/sealed", format="B", shape=[32],
                              fill=b"\x5a"), timeout=20)
    s.Seal(pb.SealRequest(name="canary/sealed"), timeout=20)
    s.Create(pb.CreateRequest(name="canary/struct", format="T{d:x:i:y:}", shape=[5],
                              order=pb.ORDER_F, fill=struct.pack("<di4x", 2.5, -7)), timeout=20)
    s.Slice(pb.SliceRequest(name="canary/plain", index=index(pb, "::-1, 1::2"),
                            new_name="canary/view"), timeout=20)
    # The scratch targets that malformed Writes and Seals point at.
    s.Create(pb.CreateRequest(name="scratch/w", format="<i", shape=[3, 4]), timeout=20)
    s.Create(pb.CreateRequest(name="scratch/s", format="<i", shape=[3]), timeout=20)
    return ["canary/plain", "canary/sealed", "canary/struct", "canary/view"]


def delete_scratch(client, pb, canaries):
    """Deletes every entry but the canaries (accidental valid requests that
    mutation produced create arrays under all sorts of names)."""
    token = ""
    names = []
    while True:
        page = client.stub.List(pb.ListRequest(page_token=token), timeout=20)
        names += [a.name for a in page.arrays if a.name not in canaries]
        token = page.next_page_token
        if not token:
            break
    for n in names:
        try:
            client.stub.Delete(pb.DeleteRequest(name=n, cascade=True), timeout=20)
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.NOT_FOUND:  # a view removed by a cascade
                raise


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--daemon", required=True)
    ap.add_argument("--proto-dir", required=True)
    ap.add_argument("--per-method", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=20260611)
    ap.add_argument("--threads", type=int, default=4, help="concurrent requests")
    args = ap.parse_args()
    stubs = h.load_stubs(args.proto_dir)
    pb = stubs.pb
    rng = random.Random(args.seed)
    with h.Daemon(args.daemon, ["--max-bytes", "64M"]) as d:
        client = Client(d.channel(), stubs)
        canaries = make_canaries(client, pb)
        before = snapshot(client, pb, canaries)
        valid = {m: serialize(v) for m, v in valid_requests(pb).items()}
        stats = Stats()
        kinds = ["random", "truncated", "flipped", "semantic"]
        total = 0
        pool = futures.ThreadPoolExecutor(max_workers=args.threads)

        def send(method, kind, msgs):
            code, details = client.call(method, msgs)
            stats.check(method, kind, code, details,
                        lambda: all(client.parses(method, m) for m in msgs))

        for method in METHODS:
            batch = []
            for i in range(args.per_method):
                kind = kinds[i % len(kinds)]
                if kind == "semantic":
                    msgs = serialize(semantic_requests(pb, method, rng))
                else:
                    msgs = mutate(kind, method, valid[method], rng)
                if method != "Write" and not msgs:
                    msgs = [b""]
                batch.append((method, kind, msgs))
            for start in range(0, len(batch), 250):
                list(pool.map(lambda r: send(*r), batch[start:start + 250]))
                total += len(batch[start:start + 250])
                # Accidental valid Creates, Copies and Slices pile up: clear them.
                delete_scratch(client, pb, canaries)
                for n, shape in [("scratch/w", [3, 4]), ("scratch/s", [3])]:
                    client.stub.Create(pb.CreateRequest(name=n, format="<i", shape=shape),
                                       timeout=20)
            if not d.alive():
                stats.failures.append("shmarrayd died during %s:\n%s" % (method, d.log_tail()))
                break
        pool.shutdown()

        print("%d malformed requests, %d per method; status codes:" % (total, args.per_method))
        for method in METHODS:
            row = sorted((c, n) for (m, c), n in stats.codes.items() if m == method)
            print("  %-7s %s" % (method, ", ".join("%s %d" % (c, n) for c, n in row)))
        failures = list(stats.failures)
        if not d.alive():
            failures.append("shmarrayd is not running:\n" + d.log_tail())
        elif not h.health(d.channel(), timeout=10):
            failures.append("shmarrayd does not answer SERVING")
        else:
            after = snapshot(client, pb, canaries)
            for n in canaries:
                if after[n][0] != before[n][0]:
                    failures.append("canary %s metadata changed: %r -> %r"
                                    % (n, before[n][0], after[n][0]))
                if after[n][1] != before[n][1]:
                    failures.append("canary %s bytes changed" % n)
            delete_scratch(client, pb, canaries)
            listed = [a.name for a in client.stub.List(pb.ListRequest(), timeout=20).arrays]
            if sorted(listed) != sorted(canaries):
                failures.append("catalog holds %r, expected only the canaries" % listed)
            if len(d.segments()) != len(canaries):
                failures.append("/dev/shm holds %r for %d canaries"
                                % (d.segments(), len(canaries)))
        if failures:
            print("FAILED:\n  " + "\n  ".join(failures[:50]))
            if len(failures) > 50:
                print("  ... and %d more" % (len(failures) - 50))
            return 1
        print("daemon alive and SERVING; %d canaries byte-identical" % len(canaries))
        return 0


if __name__ == "__main__":
    sys.exit(main())
