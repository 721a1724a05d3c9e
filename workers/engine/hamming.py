"""Exact Hamming-radius search over perceptual hashes by multi-index hashing.

Concept. A hash is W 64-bit words (pHash W=1, PDQ W=4). The top 3t bits of a
word are three t-bit keys k0, k1, k2 (t = key_bits, 16..21; about log2(N) - 3,
so 20 at ten million entries). A search of radius r spreads r + 1 units over
the words (r_w + 1 each) and inside a word over its keys (r_wk + 1 each; -1 =
key unused). Pigeonhole: a hash within r of the query has a word with d_w <=
r_w and in it a key with d_wk <= r_wk. Pair (w, k) "qualifies" for a hash when
its key is within r_wk and the 32 + t bits its list knows are within r_w (a
subset of the word, so still implied); a hash is reported by its first
qualifying pair only: each (query, entry) pair comes out exactly once.

Per word, three lists over all entries, each bucketed by its key with a CSR
table (2^t + 1 uint32 offsets) and carrying a uint32 payload:
  k0 list: by (k0, payload): the top 32 - t bits of k2, then k1. Word 0's k0
           list is the primary order (ids; PDQ rows or pHash's low 32 - t
           bits); for PDQ words 1-3 it also holds primary positions.
  k1 list: by (k1, payload): k0, then the top of k2.
  k2 list: by (k2, payload): k0, then the top of k1.
A query probes every key within r_wk of its own, prefetching all buckets first
(the search waits on memory, not on arithmetic), then filters each bucket with
a vectorized popcount over key and payload. A k1/k2 survivor is found in its
k0 list by binary search (exactly for k1, among 2^(2t-32) payloads for k2):
no per-list permutation, and equal payloads form runs located once. Earlier
pairs of the same word are settled from the k0-list entry; earlier words need
the PDQ row, whose reads are batched. If probing would cost more than reading
everything, the whole radius goes to word 0's k0: one exact sequential scan.

Limits: exact for any radius up to 64 * W, fast while each key's radius stays
small (pHash r <= 10, PDQ r <= 40 or so) and buckets small: beyond about 80
million entries a wider key (up to 21 bits) or more keys would be needed.
Positions are uint32 (at most 2^32 - 1 entries). Bytes per entry: pHash 22
(ids 8, payloads 12, low bits 2), PDQ 100 (hash 32, ids 8, payloads 48,
positions 12), plus 4 * 2^t bytes of table per list (23.3 and 105 at ten
million). Immutable; saved as .npy files plus a JSON manifest and loaded
memory-mapped, so worker processes share one copy in the page cache. A search
runs on the calling thread and releases the GIL.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

import numba
import numpy as np
import numpy.typing as npt
from llvmlite import ir  # type: ignore[import-untyped]  # ships no type information
from numba import types as nbt
from numba.core import cgutils
from numba.extending import intrinsic

from .arrays import BLOCK_ROWS, IN_MEMORY, ArrayFiles, save_array

FORMAT_VERSION = 1
KEYS_PER_WORD = 3
MIN_KEY_BITS = 16  # payloads hold a key plus 32 - t bits; loose bits fit uint16
MAX_KEY_BITS = 21  # three keys fit in 64 bits
_MAX_ENTRIES = (1 << 32) - 1
# Cost model in "entries scanned": a probe costs a cache miss and loop set-up.
_PROBE_COST = 40.0
# Up to this many entries an index compares every entry with each query:
# cheaper than its probes, which cost about the same whatever the size (a
# small delta segment, bench/segments.py).
BRUTE_MAX = 512

Words = npt.NDArray[np.uint64]
Result = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int32]]
F = TypeVar("F", bound=Callable[..., Any])


def _jit(fn: F) -> F:
    return cast(F, numba.njit(cache=True, nogil=True, boundscheck=False)(fn))


# --- LLVM intrinsics numba does not expose -----------------------------------
# Typed for callers as plain callables: numba's own annotation of an intrinsic
# describes its typing function, not how compiled code calls it.

_CG: Any = cgutils  # numba's code-generation helpers are not annotated


def _popcnt_typing(typingctx: Any, x: Any) -> Any:
    if not isinstance(x, nbt.Integer):
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        count = builder.ctpop(args[0])
        if count.type.width < 64:
            return builder.zext(count, ir.IntType(64))
        return count

    return nbt.int64(x), codegen


def _prefetch_typing(typingctx: Any, array: Any, index: Any) -> Any:
    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = _CG.get_item_pointer(
            context, builder, aryty, ary, [args[1]], wraparound=False
        )
        i32 = ir.IntType(32)
        byte_ptr = ir.IntType(8).as_pointer()
        fnty = ir.FunctionType(ir.VoidType(), [byte_ptr, i32, i32, i32])
        fn = _CG.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        # read, high temporal locality, data cache
        flags = [ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)]
        builder.call(fn, [builder.bitcast(ptr, byte_ptr), *flags])
        return context.get_dummy_value()

    return nbt.void(array, index), codegen


# popcount of an integer (int64), and a prefetch of array[index] into cache
_popcnt = cast(Callable[..., Any], intrinsic(_popcnt_typing))
_prefetch = cast(Callable[..., None], intrinsic(_prefetch_typing))


# --- probe masks ---------------------------------------------------------------

_MASK_CACHE: dict[int, tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]] = {}


def _masks(bits: int) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]:
    """All `bits`-bit masks by popcount, and how many have at most r bits set."""
    if bits not in _MASK_CACHE:
        values = np.arange(1 << bits, dtype=np.uint32)
        counts = np.bitwise_count(values)
        order = np.argsort(counts, kind="stable")
        masks = np.ascontiguousarray(values[order])
        nmask = np.searchsorted(counts[order], np.arange(bits + 1), side="right")
        masks.flags.writeable = False
        _MASK_CACHE[bits] = masks, nmask.astype(np.int64)
    return _MASK_CACHE[bits]


# --- compiled search -----------------------------------------------------------
#
# Arrays reach the kernels flattened (list p's bucket table at tab[p * width:],
# its payloads at pay[p * size:]) and helpers are inlined: taking a view or
# calling with an array costs reference counting, which was a quarter of the
# time in the inner loops.

# Probes are handled in chunks: first every bucket start of the chunk is
# prefetched (the misses overlap), then the buckets are scanned.
_CHUNK = 1024
# Survivors buffered before their random reads are issued together.
_BUFFER = 512


def _jit_inline(fn: F) -> F:
    return cast(F, numba.njit(cache=True, inline="always", boundscheck=False)(fn))


@_jit_inline
def _lower_bound(a: Any, lo: Any, hi: Any, x: Any) -> Any:
    while lo < hi:
        mid = (lo + hi) >> 1
        if a[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@_jit_inline
def _count_within(pay: Any, lo: int, hi: int, qpay: Any, thr: int) -> int:
    # Vectorizes (VPOPCNT on AVX-512 machines): the common, all-reject case.
    c = 0
    for i in range(lo, hi):
        c += _popcnt(pay[i] ^ qpay) <= thr
    return c


@_jit_inline
def _count_exact(
    pay: Any, low: Any, lo: int, hi: int, qpay: Any, qlow: Any, thr: int
) -> int:
    c = 0
    for i in range(lo, hi):
        c += _popcnt(pay[i] ^ qpay) + _popcnt(low[i] ^ qlow) <= thr
    return c


@_jit_inline
def _fetch_buckets(
    pairs: Any,
    pmask: Any,
    c0: int,
    c1: int,
    qk: Any,
    tab: Any,
    width: int,
    pay: Any,
    size: int,
    low: Any,
    los: Any,
    his: Any,
) -> None:
    """Bucket bounds of probes c0..c1; prefetches table rows, then buckets.

    Every miss of a chunk is in flight at once, instead of one bucket's miss
    after another's scan (the searches are memory-latency bound).
    """
    for j in range(c0, c1):
        pair = pairs[j]
        _prefetch(tab, pair * width + (qk[pair] ^ pmask[j]))
    for j in range(c0, c1):
        pair = pairs[j]
        at = pair * width + (qk[pair] ^ pmask[j])
        lo = np.int64(tab[at])
        hi = np.int64(tab[at + 1])
        los[j - c0] = lo
        his[j - c0] = hi
        if lo < hi:
            _prefetch(pay, pair * size + lo)
            _prefetch(pay, pair * size + hi - 1)
            if pair == 0 and low.shape[0] > 0:
                _prefetch(low, lo)
                _prefetch(low, hi - 1)


@_jit_inline
def _keys(x: Any, t: int) -> tuple[Any, Any, Any]:
    mt = np.uint64((1 << t) - 1)
    return (
        np.int64(x >> np.uint64(64 - t)),
        np.int64((x >> np.uint64(64 - 2 * t)) & mt),
        np.int64((x >> np.uint64(64 - 3 * t)) & mt),
    )


@_jit_inline
def _payloads(k0: int, k1: int, k2: int, t: int) -> tuple[Any, Any, Any]:
    """The three lists' payloads of a word with keys k0, k1, k2.

    k0 list: top of k2, then k1 (sorted so that both other lists can find
    their entries by binary search); k1 list: k0, top of k2; k2 list: k0,
    top of k1. "Top" is the high 32 - t bits.
    """
    s_bits = 32 - t
    gap = 2 * t - 32
    return (
        np.uint32(((k2 >> gap) << t) | k1),
        np.uint32((k0 << s_bits) | (k2 >> gap)),
        np.uint32((k0 << s_bits) | (k1 >> gap)),
    )


@_jit
def _search64(
    queries: Any,
    start: int,
    cap: int,
    radius: int,
    rk: Any,
    t: int,
    pairs: Any,
    pmask: Any,
    tab: Any,
    pay: Any,
    low: Any,
    ids: Any,
) -> Any:
    """Queries from `start` on, into buffers of `cap` results.

    Returns the buffers, the results count and the first query not done
    (queries.shape[0] when all are): a query that overflows is dropped whole
    and redone by the caller with larger buffers. Arrays are never reassigned
    in the loops, which would cost reference counting per iteration.
    """
    nq = queries.shape[0]
    size = ids.shape[0]
    width = (1 << t) + 1
    out_q = np.empty(cap, np.int64)
    out_id = np.empty(cap, np.int64)
    out_d = np.empty(cap, np.int32)
    n = 0
    s_bits = 32 - t  # payload bits beyond a key
    gap = 2 * t - 32  # k1 bits that k2's payload lacks
    loose = 64 - 3 * t
    mt = np.uint32((1 << t) - 1)
    ms = np.uint32((1 << s_bits) - 1)
    nprobe = pairs.shape[0]
    los = np.empty(_CHUNK, np.int64)
    his = np.empty(_CHUNK, np.int64)
    qk = np.empty(3, np.int64)
    qp = np.empty(3, np.uint32)
    for qi in range(start, nq):
        done = n
        x = queries[qi]
        qk[0], qk[1], qk[2] = _keys(x, t)
        qp[0], qp[1], qp[2] = _payloads(qk[0], qk[1], qk[2], t)
        qlow = np.uint16(x & np.uint64(ms))
        for c0 in range(0, nprobe, _CHUNK):
            c1 = min(nprobe, c0 + _CHUNK)
            _fetch_buckets(
                pairs, pmask, c0, c1, qk, tab, width, pay, size, low, los, his
            )
            for j in range(c0, c1):
                if los[j - c0] == his[j - c0]:
                    continue
                k = pairs[j]
                lo = los[j - c0] + k * size
                hi = his[j - c0] + k * size
                mask = np.int64(pmask[j])
                probe = qk[k] ^ mask
                dk = _popcnt(mask)
                thr = radius - dk
                qpay = qp[k]
                if k == 0:
                    if _count_exact(pay, low, lo, hi, qpay, qlow, thr) == 0:
                        continue
                    for i in range(lo, hi):
                        d = dk + _popcnt(pay[i] ^ qpay) + _popcnt(low[i] ^ qlow)
                        if d <= radius:
                            if n < cap:
                                out_q[n] = qi
                                out_id[n] = ids[i]
                                out_d[n] = d
                            n += 1
                    continue
                if _count_within(pay, lo, hi, qpay, thr) == 0:
                    continue
                for i in range(lo, hi):
                    v = pay[i]
                    if _popcnt(v ^ qpay) > thr:
                        continue
                    # A run of equal payloads maps onto one k0-list range.
                    if i > lo and pay[i - 1] == v:
                        continue
                    k0 = np.int64(v >> np.uint32(s_bits))
                    part = np.int64(v & ms)
                    d0 = _popcnt(k0 ^ qk[0])
                    if d0 <= rk[0]:
                        continue  # k0 qualifies: reported there
                    a = np.int64(tab[k0])
                    b = np.int64(tab[k0 + 1])
                    if k == 1:
                        # k2's top and k1: the k0 list's exact payload
                        first_v = (part << t) | probe
                        last_v = first_v + 1
                        k2_low = -1
                        k1_may_qualify = False
                    else:
                        # k2 and the top of k1 are known, k1's low `gap` bits
                        # are not: a range of 2^gap payloads, then k2's low bits
                        # (in `low`) confirm the entry.
                        first_v = ((probe >> gap) << t) | (part << gap)
                        last_v = first_v + (1 << gap)
                        k2_low = probe & ((1 << gap) - 1)
                        k1_may_qualify = _popcnt(part ^ (qk[1] >> gap)) <= rk[1]
                    s = _lower_bound(pay, a, b, first_v)
                    end = _lower_bound(pay, s, b, last_v)
                    for j2 in range(s, end):
                        if k2_low >= 0 and (np.int64(low[j2]) >> loose) != k2_low:
                            continue
                        y = pay[j2]
                        if (
                            k1_may_qualify
                            and _popcnt(np.int64(y & mt) ^ qk[1]) <= rk[1]
                        ):
                            continue  # k1 qualifies: reported there
                        d = d0 + _popcnt(y ^ qp[0]) + _popcnt(low[j2] ^ qlow)
                        if d <= radius:
                            if n < cap:
                                out_q[n] = qi
                                out_id[n] = ids[j2]
                                out_d[n] = d
                            n += 1
        if n > cap:
            return out_q, out_id, out_d, done, qi
    return out_q, out_id, out_d, n, nq


@_jit_inline
def _first_pair(
    rows: Any, pos: int, q: Any, t: int, qk: Any, rw: Any, rwk: Any
) -> tuple[int, int]:
    """(distance, first qualifying pair w*3+k or -1) of one primary row.

    (w, k) qualifies when its key is within rwk[w, k] and the 52 bits its list
    knows (T = k0 k1 top-of-k2 for k0 and k1, U = k0 top-of-k1 k2 for k2) are
    within rw[w]: the same test as the list's filter, so a list can often
    settle it without the row.
    """
    nwords = q.shape[0]
    total = 0
    first = -1
    s_bits = 32 - t
    mt = np.uint64((1 << t) - 1)
    mask_t = ~np.uint64((1 << s_bits) - 1)
    mask_u = np.uint64(0xFFFFFFFF00000000) | (mt << np.uint64(64 - 3 * t))
    for w in range(nwords):
        diff = rows[pos * nwords + w] ^ q[w]
        total += _popcnt(diff)
        if first >= 0 or rw[w] < 0:
            continue
        d_t = _popcnt(diff & mask_t)
        d_u = _popcnt(diff & mask_u)
        for k in range(3):
            if (d_u if k == 2 else d_t) > rw[w]:
                continue
            key = np.int64((diff >> np.uint64(64 - (k + 1) * t)) & mt)
            if _popcnt(key) <= rwk[w, k]:
                first = w * 3 + k
                break
    return total, first


@_jit
def _check_rows(
    qi: int,
    q: Any,
    t: int,
    qk: Any,
    rw: Any,
    rwk: Any,
    radius: int,
    row_pair: Any,
    row_at: Any,
    row_probe: Any,
    count: int,
    perm: Any,
    rows: Any,
    ids: Any,
    out_q: Any,
    out_id: Any,
    out_d: Any,
    n: int,
) -> int:
    """Check buffered k0-list entries against their rows; returns the new n.

    Positions (perm) are fetched for all first, then rows, then the checks:
    the random reads overlap instead of forming one chain per entry.
    """
    size = ids.shape[0]
    nwords = q.shape[0]
    cap = out_q.shape[0]
    mt = np.uint64((1 << t) - 1)
    for e in range(count):
        w = row_pair[e] // 3
        if w > 0:
            _prefetch(perm, (w - 1) * size + row_at[e])
    for e in range(count):
        w = row_pair[e] // 3
        if w > 0:
            row_at[e] = np.int64(perm[(w - 1) * size + row_at[e]])
        _prefetch(rows, row_at[e] * nwords)
    for e in range(count):
        pair = row_pair[e]
        w = pair // 3
        pos = row_at[e]
        if row_probe[e] >= 0:
            word = rows[pos * nwords + w]
            if np.int64((word >> np.uint64(64 - 3 * t)) & mt) != row_probe[e]:
                continue
        d, first = _first_pair(rows, pos, q, t, qk, rw, rwk)
        if first == pair and d <= radius:
            if n < cap:
                out_q[n] = qi
                out_id[n] = ids[pos]
                out_d[n] = d
            n += 1
    return n


@_jit
def _locate(
    qi: int,
    q: Any,
    t: int,
    qk: Any,
    qp: Any,
    rw: Any,
    rwk: Any,
    radius: int,
    loc_pair: Any,
    loc_v: Any,
    loc_probe: Any,
    loc_a: Any,
    count: int,
    row_pair: Any,
    row_at: Any,
    row_probe: Any,
    n_row: int,
    tab: Any,
    pay: Any,
    perm: Any,
    rows: Any,
    ids: Any,
    out_q: Any,
    out_id: Any,
    out_d: Any,
    n: int,
) -> tuple[int, int]:
    """Find buffered k1/k2 survivors in their word's k0 list.

    Queues the k0-list entries whose rows must be checked; returns the new
    (n_row, n).
    """
    size = ids.shape[0]
    width = (1 << t) + 1
    s_bits = 32 - t
    gap = 2 * t - 32
    mt = np.int64((1 << t) - 1)
    ms = np.int64((1 << s_bits) - 1)
    for e in range(count):
        w = loc_pair[e] // 3
        a = np.int64(tab[w * 3 * width + (loc_v[e] >> s_bits)])
        loc_a[e] = a
        _prefetch(pay, w * 3 * size + a)
    for e in range(count):
        pair = loc_pair[e]
        w = pair // 3
        k = pair - 3 * w
        v = loc_v[e]
        probe = loc_probe[e]
        k0 = v >> s_bits
        part = v & ms
        d0 = _popcnt(k0 ^ qk[w * 3])
        base = w * 3 * size
        a = base + loc_a[e]
        b = base + np.int64(tab[w * 3 * width + k0 + 1])
        if k == 1:
            first_v = (part << t) | probe  # the exact k0-list payload
            last_v = first_v + 1
        else:
            # k2's top and k1's top: k1's low `gap` bits are unknown
            first_v = ((probe >> gap) << t) | (part << gap)
            last_v = first_v + (1 << gap)
        s = _lower_bound(pay, a, b, first_v)
        end = _lower_bound(pay, s, b, last_v)
        for j2 in range(s, end):
            if k == 2:
                # The k0-list entry gives T: settle (w, 0) and (w, 1).
                y = pay[j2]
                if d0 + _popcnt(y ^ qp[w * 3]) <= rw[w]:
                    if d0 <= rwk[w, 0]:
                        continue
                    if _popcnt((np.int64(y) & mt) ^ qk[w * 3 + 1]) <= rwk[w, 1]:
                        continue
            if n_row == row_pair.shape[0]:
                n = _check_rows(
                    qi,
                    q,
                    t,
                    qk,
                    rw,
                    rwk,
                    radius,
                    row_pair,
                    row_at,
                    row_probe,
                    n_row,
                    perm,
                    rows,
                    ids,
                    out_q,
                    out_id,
                    out_d,
                    n,
                )
                n_row = 0
            row_pair[n_row] = pair
            row_at[n_row] = j2 - base
            row_probe[n_row] = probe if k == 2 else -1
            n_row += 1
    return n_row, n


@_jit
def _brute(queries: Any, rows: Any, ids: Any, radius: int) -> Any:
    """Every (query, entry) pair within `radius`, comparing all of them: for
    small indexes, where multi-index probes cost more than the entries."""
    nq = queries.shape[0]
    size = rows.shape[0]
    nwords = rows.shape[1]
    count = 0
    for i in range(nq):
        for j in range(size):
            d = 0
            for w in range(nwords):
                d += _popcnt(queries[i, w] ^ rows[j, w])
            if d <= radius:
                count += 1
    out_q = np.empty(count, np.int64)
    out_id = np.empty(count, np.int64)
    out_d = np.empty(count, np.int32)
    n = 0
    for i in range(nq):
        for j in range(size):
            d = 0
            for w in range(nwords):
                d += _popcnt(queries[i, w] ^ rows[j, w])
            if d <= radius:
                out_q[n] = i
                out_id[n] = ids[j]
                out_d[n] = d
                n += 1
    return out_q, out_id, out_d


@_jit
def _search256(
    queries: Any,
    start: int,
    cap: int,
    radius: int,
    rw: Any,
    rwk: Any,
    t: int,
    pairs: Any,
    pmask: Any,
    tab: Any,
    pay: Any,
    perm: Any,
    rows: Any,
    ids: Any,
) -> Any:
    """Like _search64; survivors wait in fixed buffers (see _check_rows)."""
    nq = queries.shape[0]
    nwords = queries.shape[1]
    size = ids.shape[0]
    width = (1 << t) + 1
    out_q = np.empty(cap, np.int64)
    out_id = np.empty(cap, np.int64)
    out_d = np.empty(cap, np.int32)
    n = 0
    s_bits = 32 - t
    nprobe = pairs.shape[0]
    los = np.empty(_CHUNK, np.int64)
    his = np.empty(_CHUNK, np.int64)
    no_low = np.empty(0, np.uint16)
    qk = np.empty(nwords * 3, np.int64)
    qp = np.empty(nwords * 3, np.uint32)
    loc_pair = np.empty(_BUFFER, np.int64)  # k1/k2 survivors to locate
    loc_v = np.empty(_BUFFER, np.int64)
    loc_probe = np.empty(_BUFFER, np.int64)
    loc_a = np.empty(_BUFFER, np.int64)
    row_pair = np.empty(_BUFFER, np.int64)  # k0-list entries whose row to check
    row_at = np.empty(_BUFFER, np.int64)
    row_probe = np.empty(_BUFFER, np.int64)  # k2 key to confirm, -1 if none
    for qi in range(start, nq):
        done = n
        q = queries[qi]
        for w in range(nwords):
            k0, k1, k2 = _keys(q[w], t)
            qk[w * 3], qk[w * 3 + 1], qk[w * 3 + 2] = k0, k1, k2
            qp[w * 3], qp[w * 3 + 1], qp[w * 3 + 2] = _payloads(k0, k1, k2, t)
        for c0 in range(0, nprobe, _CHUNK):
            c1 = min(nprobe, c0 + _CHUNK)
            _fetch_buckets(
                pairs, pmask, c0, c1, qk, tab, width, pay, size, no_low, los, his
            )
            n_loc = 0
            n_row = 0
            for j in range(c0, c1):
                if los[j - c0] == his[j - c0]:
                    continue
                pair = pairs[j]
                w = pair // 3
                k = pair - 3 * w
                lo = los[j - c0] + pair * size
                hi = his[j - c0] + pair * size
                mask = np.int64(pmask[j])
                thr = rw[w] - _popcnt(mask)
                qpay = qp[pair]
                if _count_within(pay, lo, hi, qpay, thr) == 0:
                    continue
                for i in range(lo, hi):
                    v = pay[i]
                    if _popcnt(v ^ qpay) > thr:
                        continue
                    if k == 0:
                        if n_row == _BUFFER:
                            n = _check_rows(
                                qi,
                                q,
                                t,
                                qk,
                                rw,
                                rwk,
                                radius,
                                row_pair,
                                row_at,
                                row_probe,
                                n_row,
                                perm,
                                rows,
                                ids,
                                out_q,
                                out_id,
                                out_d,
                                n,
                            )
                            n_row = 0
                        row_pair[n_row] = pair
                        row_at[n_row] = i - pair * size
                        row_probe[n_row] = -1
                        n_row += 1
                        continue
                    if i > lo and pay[i - 1] == v:
                        continue  # a run of equal payloads is located once
                    k0 = np.int64(v >> np.uint32(s_bits))
                    if k == 1 and _popcnt(k0 ^ qk[w * 3]) <= rwk[w, 0]:
                        continue  # k1's list knows T: (w, 0) qualifies
                    if n_loc == _BUFFER:
                        n_row, n = _locate(
                            qi,
                            q,
                            t,
                            qk,
                            qp,
                            rw,
                            rwk,
                            radius,
                            loc_pair,
                            loc_v,
                            loc_probe,
                            loc_a,
                            n_loc,
                            row_pair,
                            row_at,
                            row_probe,
                            n_row,
                            tab,
                            pay,
                            perm,
                            rows,
                            ids,
                            out_q,
                            out_id,
                            out_d,
                            n,
                        )
                        n_loc = 0
                    loc_pair[n_loc] = pair
                    loc_v[n_loc] = np.int64(v)
                    loc_probe[n_loc] = qk[pair] ^ mask
                    n_loc += 1
                    _prefetch(tab, (pair - k) * width + k0)
            n_row, n = _locate(
                qi,
                q,
                t,
                qk,
                qp,
                rw,
                rwk,
                radius,
                loc_pair,
                loc_v,
                loc_probe,
                loc_a,
                n_loc,
                row_pair,
                row_at,
                row_probe,
                n_row,
                tab,
                pay,
                perm,
                rows,
                ids,
                out_q,
                out_id,
                out_d,
                n,
            )
            n = _check_rows(
                qi,
                q,
                t,
                qk,
                rw,
                rwk,
                radius,
                row_pair,
                row_at,
                row_probe,
                n_row,
                perm,
                rows,
                ids,
                out_q,
                out_id,
                out_d,
                n,
            )
        if n > cap:
            return out_q, out_id, out_d, done, qi
    return out_q, out_id, out_d, n, nq


# --- radius plans ----------------------------------------------------------------


def _split(units: int, parts: int) -> list[int]:
    """`units` spread as evenly as possible, the larger shares first."""
    base, extra = divmod(units, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def _plan(
    radius: int, words: int, size: int, bits: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Per-word and per-key radii (-1 = unused) for one search radius.

    The even plan probes every key a little; the lopsided plan puts the whole
    radius on word 0's k0 (one sequential scan once r >= the key width). Both
    are exact; the cheaper by a simple cost model wins.
    """
    _, nmask = _masks(bits)
    per_bucket = size / (1 << bits)

    def cost(rwk: npt.NDArray[np.int64]) -> float:
        radii = [r for r in rwk.ravel().tolist() if r >= 0]
        return sum(int(nmask[min(r, bits)]) for r in radii) * (_PROBE_COST + per_bucket)

    even_w = np.array([u - 1 for u in _split(radius + 1, words)], np.int64)
    even_k = np.full((words, KEYS_PER_WORD), -1, np.int64)
    for w, r_w in enumerate(even_w):
        if r_w >= 0:
            even_k[w] = [u - 1 for u in _split(int(r_w) + 1, KEYS_PER_WORD)]
    scan_w = np.full(words, -1, np.int64)
    scan_w[0] = radius
    scan_k = np.full((words, KEYS_PER_WORD), -1, np.int64)
    scan_k[0, 0] = radius
    if cost(scan_k) < cost(even_k):
        return scan_w, scan_k
    return even_w, even_k


def _probes(
    rwk: npt.NDArray[np.int64], bits: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Every probe of a plan, as (pair w*3+k, mask): the same for all queries."""
    masks, nmask = _masks(bits)
    pairs = []
    pmask = []
    for pair, r in enumerate(rwk.ravel()):
        if r >= 0:
            count = int(nmask[min(int(r), bits)])
            pairs.append(np.full(count, pair, np.int64))
            pmask.append(masks[:count].astype(np.int64))
    if not pairs:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(pairs), np.concatenate(pmask)


# --- the index ---------------------------------------------------------------------


def _k0_order(value: Words, t: int) -> Words:
    """The k0 list's sort key: k0, then its payload (k2's top, k1), then the
    rest; a block at a time (its transients are a block's, not N's)."""
    u = np.uint64
    out = np.empty(value.shape[0], np.uint64)
    for start in range(0, value.shape[0], BLOCK_ROWS):
        block = value[start : start + BLOCK_ROWS]
        k0 = block >> u(64 - t)
        k1 = (block >> u(64 - 2 * t)) & u((1 << t) - 1)
        k2_top = (block >> u(32 - t)) & u((1 << (32 - t)) - 1)
        rest = block & u((1 << (32 - t)) - 1)
        out[start : start + BLOCK_ROWS] = (
            (k0 << u(64 - t)) | (k2_top << u(32)) | (k1 << u(32 - t)) | rest
        )
    return out


def default_key_bits(size: int) -> int:
    """Key width for `size` entries: buckets of about 10 entries, 16..21 bits.

    Every search probes the same buckets whatever the size, so past ~10M
    entries the scan per probe grows with N / 2**bits: 21 bits (from about
    12M entries) made PDQ searches 1.46x and pHash 1.82x faster than 20 at
    80M (bench/key_bits.py), for tables of 100 MB (PDQ) and 25 MB (pHash).
    Up to 10M it stays at most 20, which keeps pHash within 24 bytes an entry.
    """
    return int(np.clip(round(np.log2(max(size, 1))) - 3, MIN_KEY_BITS, MAX_KEY_BITS))


def _as_words(array: npt.ArrayLike, name: str) -> Words:
    a = np.asarray(array)
    if a.ndim == 1:
        a = a.reshape(-1, 1)
    if a.ndim != 2 or a.shape[1] not in (1, 4):
        raise ValueError(f"{name} must have shape (n, 1) or (n, 4), got {a.shape}")
    if a.dtype == np.int64:
        a = a.view(np.uint64)
    if a.dtype != np.uint64:
        raise ValueError(f"{name} must be uint64, got {a.dtype}")
    return np.ascontiguousarray(a, dtype=np.uint64)


def _as_build_words(array: npt.ArrayLike) -> npt.NDArray[np.uint64]:
    """_as_words for building: big-endian words (packed straight from raw
    hash bytes) are taken as they are, not copied; the build converts them
    a block at a time as it sorts them."""
    a = np.asarray(array)
    if a.ndim == 2 and a.shape[1] in (1, 4) and a.dtype == np.dtype(">u8"):
        return a
    return _as_words(a, "hashes")


def _fill_word(
    value: Words,
    t: int,
    tables: npt.NDArray[np.uint32],
    pays: npt.NDArray[np.uint32],
) -> None:
    """One word's three key tables and payload lists, from its values in k0
    order; a block at a time, so the transients are one sort buffer of N."""
    u = np.uint64
    n = value.shape[0]
    s_bits = 32 - t
    gap = 2 * t - 32
    mask = u((1 << t) - 1)

    def keys(block: Words) -> tuple[Words, Words, Words]:
        return (
            block >> u(64 - t),
            (block >> u(64 - 2 * t)) & mask,
            (block >> u(64 - 3 * t)) & mask,
        )

    counts = np.zeros((KEYS_PER_WORD, 1 << t), np.int64)
    for start in range(0, n, BLOCK_ROWS):
        k0, k1, k2 = keys(value[start : start + BLOCK_ROWS])
        counts[0] += np.bincount(k0.astype(np.intp), minlength=1 << t)
        pays[0, start : start + BLOCK_ROWS] = ((k2 >> u(gap)) << u(t)) | k1
    for k in (1, 2):
        merged = np.empty(n, np.uint64)
        for start in range(0, n, BLOCK_ROWS):
            k0, k1, k2 = keys(value[start : start + BLOCK_ROWS])
            key, top = (k1, k2 >> u(gap)) if k == 1 else (k2, k1 >> u(gap))
            counts[k] += np.bincount(key.astype(np.intp), minlength=1 << t)
            payload = (k0 << u(s_bits)) | top
            merged[start : start + BLOCK_ROWS] = (key << u(32)) | payload
        merged.sort()
        for start in range(0, n, BLOCK_ROWS):
            pays[k, start : start + BLOCK_ROWS] = merged[start : start + BLOCK_ROWS]
        del merged
    for k in range(KEYS_PER_WORD):
        tables[k, 0] = 0
        np.cumsum(counts[k], out=tables[k, 1:])


def _readonly(*arrays: npt.NDArray[Any]) -> None:
    # Built and memory-mapped indexes then share one compiled specialization.
    for a in arrays:
        a.flags.writeable = False


_W1_ARRAYS = ("ids", "tables", "pays", "low")
_W4_ARRAYS = ("ids", "tables", "pays", "perm", "rows")


class HammingIndex:
    """Hashes (pHash or PDQ) with ids, searchable by exact Hamming radius."""

    def __init__(
        self,
        *,
        words: int,
        key_bits: int,
        max_radius: int,
        ids: npt.NDArray[np.int64],
        tables: npt.NDArray[np.uint32],
        pays: npt.NDArray[np.uint32],
        low: npt.NDArray[np.uint16] | None = None,
        perm: npt.NDArray[np.uint32] | None = None,
        rows: Words | None = None,
    ) -> None:
        self.words = words
        self.key_bits = key_bits
        self.max_radius = max_radius
        self.ids = ids
        self.tables = tables
        self.pays = pays
        self.low = low
        self.perm = perm
        self.rows = rows

    @classmethod
    def build(
        cls,
        hashes: npt.ArrayLike,
        ids: npt.ArrayLike,
        *,
        max_radius: int,
        key_bits: int | None = None,
        out: ArrayFiles = IN_MEMORY,
    ) -> HammingIndex:
        """Index `hashes` (N, W) uint64, W = 1 (pHash) or 4 (PDQ), with `ids`.

        key_bits (16..21) defaults to `default_key_bits(N)`. With `out` on
        disk (the index's folder), the arrays the index keeps are built
        straight into their files, which `save` to that folder then keeps.
        Raises ValueError for a bad shape or dtype, ids not matching the hashes,
        more than 2^32 - 1 entries, max_radius outside 0..64 * W, or key_bits
        out of range.
        """
        h = _as_build_words(hashes)
        refs = np.asarray(ids)
        if refs.size == 0:
            refs = refs.astype(np.int64)
        if refs.shape != (h.shape[0],) or not np.issubdtype(refs.dtype, np.integer):
            raise ValueError(f"ids must be {h.shape[0]} integers, got {refs.shape}")
        if h.shape[0] > _MAX_ENTRIES:
            raise ValueError(f"at most {_MAX_ENTRIES} entries, got {h.shape[0]}")
        words = h.shape[1]
        max_radius = operator.index(max_radius)
        if not 0 <= max_radius <= 64 * words:
            raise ValueError(f"max_radius must be 0..{64 * words}, got {max_radius}")
        t = default_key_bits(h.shape[0]) if key_bits is None else key_bits
        if not MIN_KEY_BITS <= t <= MAX_KEY_BITS:
            raise ValueError(f"key_bits must be {MIN_KEY_BITS}..{MAX_KEY_BITS}")
        # Built a block at a time into `out`'s arrays: beside the input, the
        # transient memory is a few arrays of N words (one sort's worth),
        # whatever the index keeps (bench/segment_memory.py).
        order = np.argsort(_k0_order(h[:, 0], t))
        n = h.shape[0]
        ids_out = out.gather("ids", refs.astype(np.int64, copy=False), order)
        # pHash's hashes are kept only when few (and then in memory: the
        # manifest lists them only then); PDQ's always.
        keep_rows = words > 1 or n <= BRUTE_MAX
        rows = (out if words > 1 else IN_MEMORY).gather("rows", h, order)
        del order
        tables = out.empty("tables", (words, KEYS_PER_WORD, (1 << t) + 1), np.uint32)
        pays = out.empty("pays", (words, KEYS_PER_WORD, n), np.uint32)
        perm = out.empty("perm", (words - 1, n), np.uint32) if words > 1 else None
        for w in range(words):
            value = np.ascontiguousarray(rows[:, w])
            if w > 0:
                assert perm is not None
                by_value = np.argsort(_k0_order(value, t))
                perm[w - 1] = by_value
                value = value[by_value]
                del by_value
            _fill_word(value, t, tables[w], pays[w])
            del value
        if words == 1:
            low = out.keep("low", (rows[:, 0] & np.uint64((1 << (32 - t)) - 1))
                           .astype(np.uint16))  # fmt: skip
            # A small index also keeps its hashes, to compare them all.
            small = np.ascontiguousarray(rows) if keep_rows else None
            _readonly(
                ids_out, tables, pays, low, *([small] if small is not None else [])
            )
            return cls(
                words=1,
                key_bits=t,
                max_radius=max_radius,
                ids=ids_out,
                tables=tables,
                pays=pays,
                low=low,
                rows=small,
            )
        assert perm is not None
        _readonly(ids_out, tables, pays, perm, rows)
        return cls(
            words=words,
            key_bits=t,
            max_radius=max_radius,
            ids=ids_out,
            tables=tables,
            pays=pays,
            perm=perm,
            rows=rows,
        )

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @property
    def nbytes(self) -> int:
        """Bytes of the index arrays (ids included)."""
        return sum(int(a.nbytes) for a in self._arrays().values())

    def _arrays(self) -> dict[str, npt.NDArray[Any]]:
        names = _W1_ARRAYS if self.words == 1 else _W4_ARRAYS
        if self.words == 1 and self.rows is not None:
            names = (*names, "rows")
        return {name: getattr(self, name) for name in names}

    def search(self, queries: npt.ArrayLike, radius: int) -> Result:
        """Every (query, entry) pair within `radius`, each exactly once.

        Returns (query_index int64, id int64, distance int32), ordered by query.
        Raises ValueError if radius is negative or above max_radius, or if the
        queries are not (Q, W) uint64 with this index's W.
        """
        radius = operator.index(radius)
        if not 0 <= radius <= self.max_radius:
            raise ValueError(
                f"radius must be 0..{self.max_radius} (the index's max_radius),"
                f" got {radius}"
            )
        q = _as_words(queries, "queries")
        if q.shape[1] != self.words:
            raise ValueError(f"queries must have {self.words} words, got {q.shape[1]}")
        if q.shape[0] == 0 or len(self) == 0:
            return _empty()
        if len(self) <= BRUTE_MAX and self.rows is not None:
            return cast(Result, _brute(q, self.rows, self.ids, radius))
        t = self.key_bits
        rw, rwk = _plan(radius, self.words, len(self), t)
        pairs, pmask = _probes(rwk, t)
        tab = self.tables.reshape(-1)
        pay = self.pays.reshape(-1)
        if self.words == 1:
            assert self.low is not None
            kernel: Callable[..., Any] = _search64
            args: tuple[Any, ...] = (radius, rwk[0], t, pairs, pmask, tab, pay)
            args += (self.low, self.ids)
            q = np.ascontiguousarray(q[:, 0])
        else:
            assert self.perm is not None and self.rows is not None
            kernel = _search256
            args = (radius, rw, rwk, t, pairs, pmask, tab, pay)
            args += (self.perm.reshape(-1), self.rows.reshape(-1), self.ids)
        parts: list[Result] = []
        start, cap = 0, max(1024, 4 * q.shape[0])
        while start < q.shape[0]:
            out_q, out_id, out_d, count, stop = kernel(q, start, cap, *args)
            parts.append((out_q[:count], out_id[:count], out_d[:count]))
            start, cap = stop, 2 * cap
        found = tuple(np.concatenate(column) for column in zip(*parts, strict=True))
        return cast(Result, found)

    def save(self, directory: Path) -> None:
        """Write the arrays as .npy files and a manifest, hamming.json."""
        directory.mkdir(parents=True, exist_ok=True)
        arrays = self._arrays()
        for name, array in arrays.items():
            save_array(directory / f"{name}.npy", array)
        manifest = {
            "format": FORMAT_VERSION,
            "words": self.words,
            "key_bits": self.key_bits,
            "size": len(self),
            "max_radius": self.max_radius,
            "arrays": {
                name: {"dtype": str(a.dtype), "shape": list(a.shape)}
                for name, a in arrays.items()
            },
        }
        (directory / "hamming.json").write_text(json.dumps(manifest, indent=2))

    @classmethod
    def load(cls, directory: Path, *, mmap: bool = True) -> HammingIndex:
        """Open a saved index; memory-mapped (read-only, shared) by default.

        Raises ValueError for another format version or arrays that do not
        match the manifest.
        """
        manifest = json.loads((directory / "hamming.json").read_text())
        if manifest.get("format") != FORMAT_VERSION:
            raise ValueError(f"{directory}: unsupported Hamming index format")
        words = int(manifest["words"])
        arrays: dict[str, npt.NDArray[Any]] = {}
        names = _W1_ARRAYS if words == 1 else _W4_ARRAYS
        if words == 1 and "rows" in manifest["arrays"]:
            names = (*names, "rows")
        for name in names:
            spec = manifest["arrays"][name]
            path = directory / f"{name}.npy"
            # numpy cannot memory-map an empty file
            mode: Literal["r"] | None = "r" if mmap and np.prod(spec["shape"]) else None
            array = np.asarray(np.load(path, mmap_mode=mode))
            if str(array.dtype) != spec["dtype"] or list(array.shape) != spec["shape"]:
                raise ValueError(f"{path}: does not match hamming.json")
            _readonly(array)
            arrays[name] = array
        return cls(
            words=words,
            key_bits=int(manifest["key_bits"]),
            max_radius=int(manifest["max_radius"]),
            **arrays,
        )


def _empty() -> Result:
    return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int32)


def brute_force(
    hashes: npt.ArrayLike, ids: npt.ArrayLike, queries: npt.ArrayLike, radius: int
) -> Result:
    """The reference: numpy popcounts of every query against every hash.

    Same result as HammingIndex.search (ordered by query, then by position).
    """
    h = _as_words(hashes, "hashes")
    q = _as_words(queries, "queries")
    refs = np.asarray(ids, np.int64)
    if q.shape[1] != h.shape[1]:
        raise ValueError("queries and hashes have different widths")
    out: list[Result] = []
    chunk = max(1, (1 << 22) // h.shape[1])
    for qi in range(q.shape[0]):
        for start in range(0, h.shape[0], chunk):
            part = h[start : start + chunk]
            d = np.bitwise_count(part ^ q[qi]).sum(axis=1, dtype=np.int32)
            hit = np.flatnonzero(d <= radius)
            if hit.size:
                out.append((np.full(hit.size, qi, np.int64), refs[start + hit], d[hit]))
    if not out:
        return _empty()
    return (
        np.concatenate([o[0] for o in out]),
        np.concatenate([o[1] for o in out]),
        np.concatenate([o[2] for o in out]),
    )


def pack_bytes(values: Sequence[bytes], *, width: int | None = None) -> Words:
    """8- or 32-byte hashes -> (N, 1 or 4) uint64, each word big-endian.

    Distances do not depend on how bits are laid out, only that hashes and
    queries are packed alike. `width` (8 or 32) is needed for an empty list.
    Raises ValueError for mixed or other lengths.
    """
    lengths = {len(v) for v in values}
    if width is not None:
        lengths.add(width)
    if not lengths:
        raise ValueError("pack_bytes needs width= for an empty list")
    if len(lengths) != 1 or next(iter(lengths)) not in (8, 32):
        raise ValueError(f"hashes must all be 8 or all 32 bytes, got {sorted(lengths)}")
    size = lengths.pop()
    raw = np.frombuffer(b"".join(values), dtype=">u8")
    return raw.reshape(len(values), size // 8).astype(np.uint64)
