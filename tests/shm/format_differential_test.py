#!/usr/bin/python3
# Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
#
# File: format_differential_test.py
# -----------------------------------------------------------------------------
# Differential test of shm/format against NumPy (Debian's python3-numpy 1.24).
# Run by ctest as:  /usr/bin/python3 format_differential_test.py <format_tool>
#
# format_tool (tests/tools/format_tool.cc) parses one format per stdin line and
# prints one JSON object per line. For every format NumPy accepts
# (numpy.core._internal._dtype_from_pep3118, the parser behind NumPy's buffer
# import), our itemsize must equal NumPy's, and NumPy must read our canonical
# form with the same itemsize. Three sets of formats:
#   1. a sweep: every code in every byte order, with counts and sub-array
#      shapes, alone, after a byte (native padding) and inside structs;
#   2. random nested structs from the grammar (fixed seed);
#   3. what NumPy itself exports: memoryview(np.zeros(1, dtype)).format for
#      scalars in all byte orders, structured dtypes with align=True/False,
#      nested structs and sub-arrays. Our itemsize must equal the buffer's
#      itemsize, except that NumPy omits a struct's trailing padding from the
#      format (e.g. T{i:a:B:b:} describes 5 bytes of an 8-byte aligned item
#      when a '=' or '<' is in force at its end): then ours may be smaller,
#      never larger; and a packed struct whose fields sit at aligned offsets is
#      exported in '@' mode (T{i:a:B:b:} for a 5-byte item), which NumPy's own
#      parser, like ours, reads as 8 bytes. This is why the daemon stores the
#      itemsize instead of recomputing it from the format.
#
# Documented disagreements (format.h) are allowed, and only these:
#   NumPy accepts, we reject: 'O' and 'w' codes, zero counts/extents and empty
#     structs (0-byte items), a '}' without 'T{' (NumPy stops parsing there),
#     a missing '}' at the end (NumPy closes it silently);
#   we accept, NumPy 1.24 rejects: 'n' 'N' 'P' 'p' (native only here),
#     'g'/'Zg' in a standard byte order (our canonical 16-byte long double),
#     a byte order before a shape ('>(2)i'; NumPy wants '(2)>i').
#   The empty string: "B" for us (PEP 3118), a 0-byte struct for NumPy.
# Anything else is a failure; the script prints each one and exits 1.

import json
import random
import re
import subprocess
import sys

import numpy as np
from numpy.core._internal import _dtype_from_pep3118

ORDERS = ['', '@', '=', '<', '>', '!', '^']
CODES = ['?', 'b', 'B', 'h', 'H', 'i', 'I', 'l', 'L', 'q', 'Q', 'n', 'N', 'e', 'f', 'd', 'g',
         'Zf', 'Zd', 'Zg', 'c', 's', 'p', 'x', 'P']

# Substrings of our error text for formats NumPy accepts but we reject on purpose.
OUR_DELIBERATE_REJECTIONS = [
    "type code 'O'", "type code 'w'", 'must be positive', 'empty struct',
    "unexpected '}' without 'T{'", "expected '}'",
]
# NumPy's errors for formats we accept on purpose: the rest of the format
# after "specifier '" starts with one of these characters, or 'Zg' in a
# standard byte order (a KeyError).
NUMPY_KNOWN_GAP_START = set('nNPpg(')


def numpy_known_gap(err):
    m = re.search(r"specifier '(.)", err)
    return bool(m and m.group(1) in NUMPY_KNOWN_GAP_START) or err == "KeyError: 'Zg'"



def run_tool(tool, formats):
    """Returns our parse of each format (a dict from format_tool's JSON)."""
    lines = []
    for f in formats:
        assert '\n' not in f
        lines.append('\\0' if f == '' else f)
    out = subprocess.run([tool], input='\n'.join(lines) + '\n', capture_output=True, text=True,
                         check=True, timeout=120).stdout.splitlines()
    assert len(out) == len(formats), (len(out), len(formats))
    results = [json.loads(line) for line in out]
    for f, r in zip(formats, results):
        assert r['format'] == f, (r, f)
    return results


def numpy_itemsize(fmt):
    """NumPy's itemsize for fmt, or the text of its error."""
    try:
        return _dtype_from_pep3118(fmt).itemsize, None
    except Exception as e:  # NumPy raises several types here
        return None, '%s: %s' % (type(e).__name__, e)


def sweep_formats():
    out = []
    for code in CODES:
        for order in ORDERS:
            for count in ['', '1', '3']:
                for shape in ['', '(2)', '(2,3)']:
                    item = shape + order + count + code
                    out += [item, 'b' + item, item + 'b', 'T{b:a:' + item + ':z:}',
                            'T{' + item + ':z:b:a:}', order + 'T{b:a:' + shape + count + code + '}']
    return out


class Gen:
    """Random formats from the grammar NumPy and we share (plus a few codes only we know)."""

    def __init__(self, seed):
        self.rng = random.Random(seed)

    def item(self, depth, names):
        r = self.rng
        s = ''
        if r.random() < 0.2:
            s += '(' + ','.join(str(r.randint(1, 3)) for _ in range(r.randint(1, 3))) + ')'
        if r.random() < 0.4:
            s += r.choice(ORDERS)
        if r.random() < 0.25:
            s += str(r.randint(0, 4))
        if depth < 4 and r.random() < 0.25:
            s += 'T{' + ''.join(self.item(depth + 1, set()) for _ in range(r.randint(1, 4))) + '}'
        else:
            s += r.choice(CODES[:-6] + ['c', 's', 'x', 'x'] if r.random() < 0.9 else CODES)
        if r.random() < 0.6:
            name = 'v%d' % len(names)
            names.add(name)
            s += ':' + name + ':'
        return s

    def format(self):
        names = set()
        return ''.join(self.item(0, names) for _ in range(self.rng.randint(1, 5)))


def numpy_exports():
    """(format, buffer itemsize, dtype) as NumPy exports them."""
    dtypes = []
    for code in ['?', 'i1', 'u1', 'i2', 'u2', 'i4', 'u4', 'i8', 'u8', 'f2', 'f4', 'f8', 'c8', 'c16',
                 'S1', 'S7', 'g', 'G']:
        for order in ['=', '<', '>', '|']:
            try:
                dtypes.append(np.dtype(order + code))
            except TypeError:
                pass
    dtypes += [np.dtype(c) for c in 'bBhHiIlLqQefdgFDG?'] + [np.dtype('int'), np.dtype('intp')]
    fields = [
        [('a', 'u1'), ('b', '<i4')],
        [('a', 'i4'), ('b', 'u1')],
        [('a', 'u1'), ('b', '>f8'), ('c', 'u2')],
        [('a', 'u1'), ('b', 'g')],
        [('a', 'u1'), ('b', 'c16'), ('c', '?')],
        [('a', [('x', 'u1'), ('y', 'i8')]), ('b', 'u1')],
        [('a', 'f8', (2, 3)), ('b', 'i1')],
        [('a', 'S5'), ('b', 'i2', (3,)), ('c', [('p', 'f4'), ('q', 'u1', (2,))], (2,))],
        [('a', 'u1'), ('b', [('c', 'u1'), ('d', [('e', 'u1'), ('f', 'f8')])])],
        [('x', '<f8'), ('y', '<f8')],
        [('c', 'S1'), ('i', 'i4')],
        [('a', '>i2'), ('b', '<i4'), ('c', 'e')],
    ]
    for f in fields:
        for align in [False, True]:
            dtypes.append(np.dtype(f, align=align))
    dtypes.append(np.dtype({'names': ['a', 'b'], 'formats': ['u1', 'i4'], 'offsets': [0, 8],
                            'itemsize': 16}))
    for base in ['f8', '>i4', 'S3']:
        dtypes.append(np.dtype((base, (2, 3))))
    out = []
    for dt in dtypes:
        try:
            m = memoryview(np.zeros(1, dt))
        except ValueError:  # e.g. '>g': NumPy cannot export it
            continue
        out.append((m.format, m.itemsize, dt))
    return out


def has_trailing_padding(dt):
    if dt.fields is None:
        return dt.subdtype is not None and has_trailing_padding(dt.subdtype[0])
    end = max(off + sub.itemsize for sub, off, *_ in dt.fields.values())
    if dt.itemsize > end:
        return True
    return any(has_trailing_padding(sub) for sub, *_ in dt.fields.values())


def main():
    if len(sys.argv) != 2:
        print('usage: format_differential_test.py <format_tool>', file=sys.stderr)
        return 2
    tool = sys.argv[1]
    failures = []
    stats = {'agree_accept': 0, 'agree_reject': 0, 'we_reject_deliberately': 0,
             'numpy_gap': 0, 'exports': 0, 'exports_tail_padding': 0,
             'exports_packed_as_native': 0}

    gen = Gen(3118)
    formats = sweep_formats() + [gen.format() for _ in range(6000)]
    formats = list(dict.fromkeys(formats))
    ours = run_tool(tool, formats)
    canon = run_tool(tool, [r['canonical'] for r in ours if r['ok']])
    canon_by_format = {}
    it = iter(canon)
    for r in ours:
        if r['ok']:
            canon_by_format[r['format']] = next(it)

    for fmt, r in zip(formats, ours):
        size, err = numpy_itemsize(fmt)
        if r['ok'] and size is not None:
            stats['agree_accept'] += 1
            if r['itemsize'] != size:
                failures.append('%r: itemsize ours %d numpy %d' % (fmt, r['itemsize'], size))
            c = canon_by_format[fmt]
            if not c['ok'] or c['canonical'] != r['canonical'] or c['itemsize'] != r['itemsize']:
                failures.append('%r: canonical %r is not stable: %r' % (fmt, r['canonical'], c))
            csize, cerr = numpy_itemsize(r['canonical'])
            if csize is not None and csize != size:
                failures.append('%r: numpy reads canonical %r as %d bytes, not %d' %
                                (fmt, r['canonical'], csize, size))
            elif csize is None and not numpy_known_gap(cerr):
                failures.append('%r: numpy rejects canonical %r: %s' % (fmt, r['canonical'], cerr))
        elif not r['ok'] and size is None:
            stats['agree_reject'] += 1
        elif not r['ok']:
            if any(s in r['error'] for s in OUR_DELIBERATE_REJECTIONS):
                stats['we_reject_deliberately'] += 1
            else:
                failures.append('%r: numpy accepts (%d bytes), we reject: %s' %
                                (fmt, size, r['error']))
        else:
            if numpy_known_gap(err):
                stats['numpy_gap'] += 1
            else:
                failures.append('%r: we accept (%d bytes), numpy rejects: %s' %
                                (fmt, r['itemsize'], err))

    exports = numpy_exports()
    ours = run_tool(tool, [f for f, _, _ in exports])
    for (fmt, itemsize, dt), r in zip(exports, ours):
        stats['exports'] += 1
        if not r['ok']:
            failures.append('export of %s %r: we reject: %s' % (dt, fmt, r['error']))
        elif r['itemsize'] == itemsize:
            pass
        elif r['itemsize'] < itemsize and has_trailing_padding(dt):
            stats['exports_tail_padding'] += 1
        elif r['itemsize'] > itemsize and numpy_itemsize(fmt)[0] == r['itemsize']:
            # A packed struct whose fields happen to sit at aligned offsets is
            # exported without '^' (T{i:a:B:b:} for 5 bytes); in '@' mode it
            # reads as 8 bytes, for NumPy's own parser too.
            stats['exports_packed_as_native'] += 1
        else:
            failures.append('export of %s %r: ours %d bytes, buffer %d' %
                            (dt, fmt, r['itemsize'], itemsize))

    # The documented special cases, both ways.
    special = {
        '': (True, 1, 0), 'O': (False, None, 8), 'w': (False, None, 4), '0i': (False, None, 0),
        '(0)d': (False, None, 0), 'T{}': (False, None, 0), 'i}i': (False, None, 4),
        'T{i': (False, None, 4), 'n': (True, 8, None), '<g': (True, 16, None),
        '>(2)i': (True, 8, None), '(2)>i': (True, 8, 8), 'ix': (True, 8, 8), '^ix': (True, 5, 5),
    }
    ours = run_tool(tool, list(special))
    for (fmt, (ok, size, np_size)), r in zip(special.items(), ours):
        got_np, _ = numpy_itemsize(fmt)
        if r['ok'] != ok or (ok and r['itemsize'] != size) or got_np != np_size:
            failures.append('special %r: ours %r, numpy %r; expected %r' %
                            (fmt, r, got_np, (ok, size, np_size)))

    for f in failures[:50]:
        print('FAIL', f)
    print('format differential: %d formats, %d failures; %s' %
          (len(formats) + len(exports) + len(special), len(failures),
           ', '.join('%s=%d' % kv for kv in stats.items())))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
