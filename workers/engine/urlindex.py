"""URL, URL-prefix and domain claims, matched against manifest URLs.

Each kind is a table of the claims' distinct keys, sorted by a stable 64-bit
hash; a manifest URL is normalized (workers.engine.urls), the keys it could
match are hashed, and the hashes are looked up in the sorted array for the
whole batch at once (see _Table for how). Every hash hit is confirmed by
comparing the strings, so a 64-bit collision costs time, never a false match.

Equivalences, the way artists mean their claims: the scheme (http or https)
and a leading "www." label of the host do not matter. Both sides are reduced to
the same key at index time, the normal form without its scheme and without a
leading "www." (only when the host goes on with at least one more dot, and not
after credentials): https://www.a.example/x and http://a.example/x both have
the key "a.example/x". So every lookup stays a hash probe, never a scan. What
was dropped is kept as two flag bits, per claim and per manifest URL, and each
Match says which equivalence it took (`matched_as`): "exact", or "scheme",
"www" and "query" joined with "+" ("scheme+www"). `matched` is the claim's own
normal form, rebuilt from its key and flags.

What a claim covers (claims and URLs are both in normal form):

- url: the URL itself, up to scheme and www. A claim without a query string
  also covers the same URL with any query (image CDNs resize with "?w=512"):
  a manifest URL with a query is looked up a second time without it. A claim
  with a query covers only that query, byte for byte.
- prefix: the claim P covers URL U when U == P, or U starts with P at a path
  boundary (keys compared: scheme and www do not matter): P ends with "/", or
  U continues with "/" or "?". So "https://a.example/gallery/" covers
  everything under /gallery/ (http://www.a.example/gallery/x.png too), and
  "https://a.example/gallery" covers /gallery, /gallery/..., /gallery?...
  but not /gallery2. Boundaries are looked for in the path only: a prefix
  claim with a query string covers that exact URL and nothing else.
  Credentials, host and port are part of the prefix.
- domain: the host and every subdomain: example.com covers example.com and
  www.example.com, not badexample.com. Any scheme, port or path. A claim on
  www.example.com also covers the bare host example.com ("www"), not its
  other subdomains: a separate small table of such claims is probed with
  each URL's whole host.

Each URL yields a handful of lookups: its key and, with a query, its key
without it (url); its origin key (a filter: only URLs whose host:port has a
prefix claim get prefix candidates, two per "/" in the path, one at "?", and
the key itself); and its host with each parent suffix of at least two labels
(domain).

The hash is FNV-1a 64 with MurmurHash3's 64-bit finalizer, computed by numba
over the batch's bytes in one pass per URL: prefix hashes are the running
state at each boundary, the query-less key is the state at "?", and domain
hashes run from the end of the host, so each parent suffix is a running state
too. A URL needs up to a dozen hashes; hashlib.blake2b from Python costs 0.5
us per string, which alone would halve the whole-chunk rate. The hash is
stable across processes and machines (`stable_hash` is the plain Python
reference). It is not keyed: whoever crafts colliding URLs only slows their
own job down.

Limits: ports stay significant (http://a:8080/ and https://a:8080/ are one
key, http://a/ and https://a:80/ are not); "www." is kept after credentials
(https://user@www.a.example/) and when nothing but a single label follows it
(www.example); other host labels (m., img.) are never dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numba
import numpy as np

from .arrays import IN_MEMORY, ArrayFiles, save_array
from .types import Match, MatchKind, RowProblem
from .urls import UrlRejected, normalize_url_parts

FORMAT_VERSION = 2  # 2: keys without scheme and www, claim flags, domain_www
HASH_NAME = "fnv1a64-murmur3fmix64"

# Every hash is ANDed with this. Tests narrow it to force collisions.
_HASH_MASK = 0xFFFF_FFFF_FFFF_FFFF

_FNV_OFFSET = np.uint64(0xCBF2_9CE4_8422_2325)
_FNV_PRIME = np.uint64(0x0000_0100_0000_01B3)
_FMIX_1 = np.uint64(0xFF51_AFD7_ED55_8CCD)
_FMIX_2 = np.uint64(0xC4CE_B9FE_1A85_EC53)
_S33 = np.uint64(33)
_SLASH, _QUERY, _DOT, _NEWLINE = ord("/"), ord("?"), ord("."), ord("\n")
_AT, _COLON, _LOWER_S, _LOWER_W = ord("@"), ord(":"), ord("s"), ord("w")

# What a key dropped from its normal form (flag bits, per claim and per URL).
HTTPS, WWW = 1, 2
# And what a lookup dropped from the manifest URL (not stored).
_QUERY_DROPPED = 4
# matched_as by (claim flags ^ URL flags) | _QUERY_DROPPED when the query was.
MATCHED_AS = tuple(
    "+".join(
        name
        for bit, name in ((HTTPS, "scheme"), (WWW, "www"), (_QUERY_DROPPED, "query"))
        if bits & bit
    )
    or "exact"
    for bits in range(8)
)
# A claim's normal form is its key after these (by its flags).
_URL_HEADS = ("http://", "https://", "http://www.", "https://www.")
_HOST_HEADS = ("", "", "www.", "www.")

_TABLES = ("url", "prefix", "domain", "domain_www")
_KINDS = (MatchKind.URL, MatchKind.PREFIX, MatchKind.DOMAIN)  # the sort order


def stable_hash(data: bytes, *, reverse: bool = False) -> int:
    """The 64-bit hash of `data` (of its bytes in reverse order for domains)."""
    h = 0xCBF2_9CE4_8422_2325
    for byte in reversed(data) if reverse else data:
        h = ((h ^ byte) * 0x100_0000_01B3) & 0xFFFF_FFFF_FFFF_FFFF
    return _fmix_py(h) & _HASH_MASK


def url_key(href: str) -> tuple[str, int]:
    """A normal-form href's key (what claims and URLs are compared by) and its
    flags (HTTPS, WWW): the same kernel as the index, one string at a time.

    Raises UnicodeEncodeError for a value that is not ASCII (not normalized).
    """
    data, offsets = _pack_ascii([href])
    starts, flags = _key_starts(data, offsets)
    return href[int(starts[0]) :], int(flags[0])


def _fmix_py(h: int) -> int:
    h ^= h >> 33
    h = (h * 0xFF51_AFD7_ED55_8CCD) & 0xFFFF_FFFF_FFFF_FFFF
    h ^= h >> 33
    h = (h * 0xC4CE_B9FE_1A85_EC53) & 0xFFFF_FFFF_FFFF_FFFF
    return h ^ (h >> 33)


# --- numba kernels: all take the batch as one byte buffer plus offsets --------
# numba compiles a kernel per argument type, so kernels take untyped arguments;
# their `type: ignore[no-untyped-def]` is for mypy --strict, which cannot see
# through njit.


@numba.njit(cache=True, nogil=True)
def _fmix(h: np.uint64, mask: np.uint64) -> np.uint64:  # pragma: no cover - numba
    h ^= h >> _S33
    h *= _FMIX_1
    h ^= h >> _S33
    h *= _FMIX_2
    h ^= h >> _S33
    return h & mask


@numba.njit(cache=True, nogil=True)
def _hash_strings(data, offsets, reverse, mask):  # type: ignore[no-untyped-def]  # pragma: no cover
    n = offsets.shape[0] - 1
    out = np.empty(n, np.uint64)
    for i in range(n):
        h = _FNV_OFFSET
        if reverse:
            for j in range(offsets[i + 1] - 1, offsets[i] - 1, -1):
                h = (h ^ np.uint64(data[j])) * _FNV_PRIME
        else:
            for j in range(offsets[i], offsets[i + 1]):
                h = (h ^ np.uint64(data[j])) * _FNV_PRIME
        out[i] = _fmix(h, mask)
    return out


@numba.njit(cache=True, nogil=True)
def _key_starts(data, offsets):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Where each normal-form href's key starts, and its flags (HTTPS, WWW).

    The key drops "http://" or "https://", then a leading "www." when no
    credentials come first and the host has another "." after it (before a
    port). Claims and manifest URLs both go through here, so they agree.
    """
    n = offsets.shape[0] - 1
    starts = np.empty(n, np.int64)
    flags = np.zeros(n, np.uint8)
    for i in range(n):
        base = offsets[i]
        end = offsets[i + 1]
        if end - base > 4 and data[base + 4] == _LOWER_S:  # normal form: lower case
            start = 8
            flag = HTTPS
        else:
            start = 7
            flag = 0
        j = base + start
        if (
            end - j > 4
            and data[j] == _LOWER_W
            and data[j + 1] == _LOWER_W
            and data[j + 2] == _LOWER_W
            and data[j + 3] == _DOT
        ):
            dotted = False
            port = False
            credentials = False
            for t in range(j + 4, end):  # the rest of the authority
                byte = data[t]
                if byte == _SLASH or byte == _QUERY:
                    break
                if byte == _AT:
                    credentials = True
                    break
                if byte == _COLON:
                    port = True
                elif byte == _DOT and not port:
                    dotted = True
            if dotted and not credentials:
                start += 4
                flag |= WWW
        starts[i] = start
        flags[i] = flag
    return starts, flags


@numba.njit(cache=True, nogil=True)
def _key_hashes(data, offsets, key_start, path_start, mask):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Hash of each key, of its origin (the key before the path) and of the key
    without its query string; query_at: where "?" is in the href, or -1."""
    n = offsets.shape[0] - 1
    full = np.empty(n, np.uint64)
    origin = np.empty(n, np.uint64)
    bare = np.zeros(n, np.uint64)
    query_at = np.full(n, -1, np.int64)
    for i in range(n):
        h = _FNV_OFFSET
        start = offsets[i]
        cut = start + path_start[i]
        for j in range(start + key_start[i], cut):
            h = (h ^ np.uint64(data[j])) * _FNV_PRIME
        origin[i] = _fmix(h, mask)
        seen = False
        for j in range(cut, offsets[i + 1]):
            byte = data[j]
            if byte == _QUERY and not seen:
                bare[i] = _fmix(h, mask)
                query_at[i] = j - start
                seen = True
            h = (h ^ np.uint64(byte)) * _FNV_PRIME
        full[i] = _fmix(h, mask)
    return full, origin, bare, query_at


@numba.njit(cache=True, nogil=True)
def _domain_candidates(data, offsets, host_start, host_end, mask):  # type: ignore[no-untyped-def]  # pragma: no cover
    """(hash, url, start) for the host and each parent suffix of >= 2 labels."""
    n = offsets.shape[0] - 1
    count = 0
    for i in range(n):
        for j in range(offsets[i] + host_start[i], offsets[i] + host_end[i]):
            if data[j] == _DOT:
                count += 1
    hashes = np.empty(count, np.uint64)
    which = np.empty(count, np.int64)
    starts = np.empty(count, np.int64)
    k = 0
    for i in range(n):
        base = offsets[i]
        first = base + host_start[i]
        h = _FNV_OFFSET
        dots = 0
        for j in range(base + host_end[i] - 1, first - 1, -1):
            byte = data[j]
            if byte == _DOT:
                if dots > 0:  # data[j+1:host_end] has two labels or more
                    hashes[k] = _fmix(h, mask)
                    which[k] = i
                    starts[k] = j + 1 - base
                    k += 1
                dots += 1
            h = (h ^ np.uint64(byte)) * _FNV_PRIME
        if dots > 0:
            hashes[k] = _fmix(h, mask)
            which[k] = i
            starts[k] = first - base
            k += 1
    return hashes[:k], which[:k], starts[:k]


@numba.njit(cache=True, nogil=True)
def _prefix_candidates(data, offsets, key_start, path_start, selected, mask):  # type: ignore[no-untyped-def]  # pragma: no cover
    """(hash, url, length) of every prefix of the selected keys that a prefix
    claim could equal: at each "/" of the path (with and without it), before
    the "?", and the whole key. Lengths count from the start of the href."""
    count = 0
    for i in selected:
        for j in range(offsets[i] + path_start[i], offsets[i + 1]):
            if data[j] == _QUERY:
                break
            if data[j] == _SLASH:
                count += 2
        count += 2
    hashes = np.empty(count, np.uint64)
    which = np.empty(count, np.int64)
    lengths = np.empty(count, np.int64)
    k = 0
    for i in selected:
        base = offsets[i]
        end = offsets[i + 1]
        h = _FNV_OFFSET
        cut = base + path_start[i]
        for j in range(base + key_start[i], cut):
            h = (h ^ np.uint64(data[j])) * _FNV_PRIME
        in_path = True
        last = -1  # length of the last candidate: "//" or "/?" would repeat it
        for j in range(cut, end):
            byte = data[j]
            if in_path and (byte == _SLASH or byte == _QUERY):
                if j > cut and j - base != last:  # the prefix before "/" or "?"
                    hashes[k] = _fmix(h, mask)
                    which[k] = i
                    lengths[k] = last = j - base
                    k += 1
                in_path = byte == _SLASH
            h = (h ^ np.uint64(byte)) * _FNV_PRIME
            if in_path and byte == _SLASH:  # the prefix through this "/"
                hashes[k] = _fmix(h, mask)
                which[k] = i
                lengths[k] = last = j + 1 - base
                k += 1
        if last != end - base:  # the whole key, unless just emitted
            hashes[k] = _fmix(h, mask)
            which[k] = i
            lengths[k] = end - base
            k += 1
    return hashes[:k], which[:k], lengths[:k]


@numba.njit(cache=True, nogil=True)
def _confirm(hashes, value_offsets, value_data, first, data, lo, hi):  # type: ignore[no-untyped-def]  # pragma: no cover
    """For each hash hit, the position in its run of equal hashes whose value
    equals data[lo:hi], or -1: the defence against 64-bit collisions."""
    out = np.full(first.shape[0], -1, np.int64)
    n = hashes.shape[0]
    for k in range(first.shape[0]):
        pos = first[k]
        h = hashes[pos]
        length = hi[k] - lo[k]
        while pos < n and hashes[pos] == h:
            start = value_offsets[pos]
            if value_offsets[pos + 1] - start == length:
                same = True
                for t in range(length):
                    if value_data[start + t] != data[lo[k] + t]:
                        same = False
                        break
                if same:
                    out[k] = pos
                    break
            pos += 1
    return out


@numba.njit(cache=True, nogil=True)
def _search(hashes, directory, shift, queries):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Lower-bound binary search of each query within its directory bucket."""
    out = np.full(queries.shape[0], -1, np.int64)
    n = hashes.shape[0]
    for k in range(queries.shape[0]):
        h = queries[k]
        bucket = h >> shift
        lo = directory[bucket]
        hi = directory[bucket + 1]
        while lo < hi:
            mid = (lo + hi) >> 1
            if hashes[mid] < h:
                lo = mid + 1
            else:
                hi = mid
        if lo < n and hashes[lo] == h:
            out[k] = lo
    return out


def _directory(hashes: np.ndarray) -> np.ndarray:
    """directory[b]: the first position whose hash has top bits >= b."""
    bits = min(20, max(1, len(hashes).bit_length() - 3))
    edges = np.arange(1 << bits, dtype=np.uint64) << np.uint64(64 - bits)
    return np.append(np.searchsorted(hashes, edges), len(hashes)).astype(np.int64)


# --- tables -------------------------------------------------------------------


def _pack(values: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Byte strings -> (one uint8 buffer, int64 offsets with a final end)."""
    return _unjoin(b"\n".join(values), values)


@dataclass(frozen=True)
class PackedClaims:
    """(claim id, value) pairs as arrays, for building without a Python
    object per claim: `ids` (N,) int64, the values' ASCII bytes in `data`
    and their int64 `offsets` (N + 1, a final end)."""

    ids: np.ndarray
    data: np.ndarray
    offsets: np.ndarray


def _pack_ascii(values: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """_pack for ASCII str (claims). Raises UnicodeEncodeError for other text."""
    return _unjoin("\n".join(values).encode("ascii"), values)


def _unjoin(
    joined: bytes, values: Sequence[bytes] | Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Split newline-joined values into a buffer and offsets.

    Finding the newlines again is several times faster than measuring each
    value in Python; normal forms never contain one (WHATWG parsing drops
    newlines), and when one does we measure after all.
    """
    n = len(values)
    offsets = np.zeros(n + 1, np.int64)
    if not n:
        return np.zeros(0, np.uint8), offsets
    buffer = np.frombuffer(joined, np.uint8)
    newlines = np.flatnonzero(buffer == _NEWLINE)
    if newlines.shape[0] != n - 1:
        lengths = np.fromiter(map(len, values), np.int64, n)  # ASCII: chars == bytes
        newlines = np.cumsum(lengths[:-1]) + np.arange(n - 1)
    offsets[1:-1] = newlines - np.arange(n - 1)
    offsets[-1] = buffer.shape[0] - (n - 1)
    return np.delete(buffer, newlines), offsets


@numba.njit(cache=True, nogil=True)
def _gathered_offsets(offsets, picks, skip):  # type: ignore[no-untyped-def]  # pragma: no cover
    """The offsets of the packed strings at `picks`, in that order, each
    without its first skip[pick] bytes (see _gather_into)."""
    new_offsets = np.zeros(picks.shape[0] + 1, np.int64)
    for k in range(picks.shape[0]):
        i = picks[k]
        new_offsets[k + 1] = new_offsets[k] + offsets[i + 1] - offsets[i] - skip[i]
    return new_offsets


@numba.njit(cache=True, nogil=True)
def _gather_into(data, offsets, picks, skip, new_offsets, out):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Fill `out` with the packed strings at `picks` laid out by new_offsets
    (from _gathered_offsets)."""
    for k in range(picks.shape[0]):
        at = new_offsets[k]
        for j in range(offsets[picks[k]] + skip[picks[k]], offsets[picks[k] + 1]):
            out[at] = data[j]
            at += 1


@numba.njit(cache=True, nogil=True)
def _hash_skipped(data, offsets, skip, reverse, mask):  # type: ignore[no-untyped-def]  # pragma: no cover
    """_hash_strings of each string without its first skip[i] bytes."""
    n = offsets.shape[0] - 1
    out = np.empty(n, np.uint64)
    for i in range(n):
        h = _FNV_OFFSET
        if reverse:
            for j in range(offsets[i + 1] - 1, offsets[i] + skip[i] - 1, -1):
                h = (h ^ np.uint64(data[j])) * _FNV_PRIME
        else:
            for j in range(offsets[i] + skip[i], offsets[i + 1]):
                h = (h ^ np.uint64(data[j])) * _FNV_PRIME
        out[i] = _fmix(h, mask)
    return out


class _Table:
    """Distinct claim keys sorted by hash, and the claims of each key.

    `directory` splits the sorted hashes by their top bits (about eight per
    bucket, 2**20 buckets at most): a lookup reads one directory entry, then
    binary-searches a bucket of a cache line or two. At 10 million claims that
    is 2-6x faster than np.searchsorted even with sorted queries, and does not
    depend on batch size (bench/urls.py measures both). `claim_flags` says,
    per claim, what its key dropped from its normal form (HTTPS, WWW).
    """

    ARRAYS = (
        "hashes",
        "directory",
        "value_offsets",
        "value_data",
        "claim_ptr",
        "claim_ids",
        "claim_flags",
    )

    def __init__(self, arrays: dict[str, np.ndarray], heads: tuple[str, ...]) -> None:
        self.hashes: np.ndarray = arrays["hashes"]  # (V,) uint64, sorted
        self.directory: np.ndarray = arrays["directory"]  # (2**bits + 1,) int64
        self.value_offsets: np.ndarray = arrays["value_offsets"]  # (V+1,) int64
        self.value_data: np.ndarray = arrays["value_data"]  # uint8, ASCII
        self.claim_ptr: np.ndarray = arrays["claim_ptr"]  # (V+1,) int64
        self.claim_ids: np.ndarray = arrays["claim_ids"]  # (C,) int64
        self.claim_flags: np.ndarray = arrays["claim_flags"]  # (C,) uint8
        self.heads = heads  # claim value = heads[flags] + key
        bits = (self.directory.shape[0] - 1).bit_length() - 1
        self.shift = np.uint64(64 - bits)

    @classmethod
    def build(
        cls,
        claims: Iterable[tuple[int, str]] | PackedClaims,
        *,
        reverse: bool,
        keyed: bool,
        flags: int = 0,
        heads: tuple[str, ...] = _HOST_HEADS,
        out: ArrayFiles = IN_MEMORY,
    ) -> _Table:
        """Index (claim id, value) pairs. keyed: values are normal-form hrefs,
        indexed by their keys (_key_starts); else by the value as given, each
        claim with `flags`. With `out` on disk, the arrays the table keeps
        are built straight into their files."""
        # No per-claim containers: at 10 million claims, lists or tuples per
        # claim wake the cyclic garbage collector over and over.
        if isinstance(claims, PackedClaims):
            id_array = np.asarray(claims.ids, np.int64)
            data, offsets = claims.data, np.asarray(claims.offsets, np.int64)
        else:
            id_list: list[int] = []
            values: list[str] = []
            for claim_id, value in claims:
                id_list.append(claim_id)
                values.append(value)
            data, offsets = _pack_ascii(values)
            del values
            id_array = np.array(id_list, np.int64)
            del id_list
        n = len(id_array)
        # Each intermediate is dropped once used, the keys are hashed where
        # they lie in the input (not copied out first), and what the table
        # keeps goes to `out` (its files, when building on disk): at 10M
        # claims this build once held its input, a normalised copy, the
        # permutation, run markers and the output at once
        # (bench/segment_memory.py).
        if keyed:
            skip, claim_flags = _key_starts(data, offsets)
        else:
            skip = np.zeros(n, np.int64)
            claim_flags = np.full(n, flags, np.uint8)
        hashes = _hash_skipped(data, offsets, skip, reverse, np.uint64(_HASH_MASK))
        order = np.argsort(hashes, kind="stable")
        hashes.sort()  # in place: hashes[order], without a second array
        # Each sorted position names its entry's first position. Equal hashes
        # are rare (a shared key, or a collision): only they need Python.
        repeats = np.flatnonzero(hashes[1:] == hashes[:-1])  # few
        regroup = None
        if not repeats.shape[0]:  # every claim its own key: no runs to find
            leader = None
        else:
            leader = np.arange(n, dtype=np.int64)
            new_run = np.ones(n, bool)
            new_run[repeats + 1] = False
            run_starts = np.flatnonzero(new_run)
            del new_run
            run_ends = np.append(run_starts[1:], n)
            shared = np.flatnonzero(run_ends - run_starts > 1)
            starts, ends = run_starts[shared].tolist(), run_ends[shared].tolist()
            del run_starts, run_ends, shared
            for start, end in zip(starts, ends, strict=True):
                seen: dict[bytes, int] = {}
                for pos in range(start, end):
                    i = int(order[pos])
                    key = data[offsets[i] + skip[i] : offsets[i + 1]].tobytes()
                    leader[pos] = seen.setdefault(key, pos)
            regroup = np.argsort(leader, kind="stable")
            leader = leader[regroup]
        claims_order = order if regroup is None else order[regroup]
        del regroup
        claim_ids = out.gather("claim_ids", id_array, claims_order)
        del id_array
        kept_flags = out.gather("claim_flags", claim_flags, claims_order)
        del claim_flags, claims_order
        if leader is None:
            claim_ptr = out.keep("claim_ptr", np.arange(n + 1, dtype=np.int64))
            entries, picks = None, order
        else:
            first = np.flatnonzero(np.diff(leader, prepend=-1))
            claim_ptr = out.keep("claim_ptr", np.append(first, n).astype(np.int64))
            entries = leader[first]
            del leader, first
            picks = order[entries]
        del order
        value_offsets = out.keep(
            "value_offsets", _gathered_offsets(offsets, picks, skip)
        )
        value_data = out.empty("value_data", int(value_offsets[-1]), np.uint8)
        _gather_into(data, offsets, picks, skip, value_offsets, value_data)
        del data, offsets, picks, skip
        hashes = out.keep("hashes", hashes if entries is None else hashes[entries])
        return cls(
            {
                "hashes": hashes,
                "directory": out.keep("directory", _directory(hashes)),
                "value_offsets": value_offsets,
                "value_data": value_data,
                "claim_ptr": claim_ptr,
                "claim_ids": claim_ids,
                "claim_flags": kept_flags,
            },
            heads,
        )

    def __len__(self) -> int:
        return int(self.hashes.shape[0])

    @property
    def nbytes(self) -> int:
        return sum(int(getattr(self, name).nbytes) for name in self.ARRAYS)

    def lookup(self, queries: np.ndarray) -> np.ndarray:
        """For each hash, the first table position holding it, or -1."""
        return _search(self.hashes, self.directory, self.shift, queries)

    def find(
        self, queries: np.ndarray, data: np.ndarray, lo: np.ndarray, hi: np.ndarray
    ) -> np.ndarray:
        """Positions of the strings data[lo:hi] whose hashes are `queries`, or -1."""
        first = self.lookup(queries)
        hits = np.flatnonzero(first >= 0)
        if hits.shape[0]:
            first[hits] = _confirm(
                self.hashes, self.value_offsets, self.value_data,
                first[hits], data, lo[hits], hi[hits],
            )  # fmt: skip
        return first

    def claims(self, pos: int) -> np.ndarray:
        return self.claim_ids[self.claim_ptr[pos] : self.claim_ptr[pos + 1]]

    def value(self, pos: int) -> str:
        """The key at `pos` (a claim's value is heads[its flags] + the key)."""
        lo, hi = self.value_offsets[pos], self.value_offsets[pos + 1]
        return self.value_data[lo:hi].tobytes().decode("ascii")


def _collect(
    found: list[tuple[int, int, int, str, str]],
    kind: int,
    table: _Table,
    pos: np.ndarray,
    batch: UrlBatch,
    which: np.ndarray,
    url_flags: np.ndarray | None,
    dropped: int = 0,
) -> None:
    """Append (row, kind, claim id, claim value, matched_as) for every claim of
    every confirmed position. url_flags: the URLs' key flags (None: 0 for
    all); dropped: _QUERY_DROPPED when the URL's query was left out."""
    hits = np.flatnonzero(pos >= 0)
    if not hits.shape[0]:
        return
    # Every claim of every hit, in numpy: Python only builds the tuples.
    positions = pos[hits]
    first = table.claim_ptr[positions]
    counts = table.claim_ptr[positions + 1] - first
    rows = batch.rows[which[hits]] + batch.first_row
    flags = (
        np.zeros(hits.shape[0], np.uint8)
        if url_flags is None
        else url_flags[which[hits]]
    )
    if (counts == 1).all():  # one claim per key: the usual case
        claims = first
    else:
        ends = np.cumsum(counts)
        claims = np.repeat(first - ends + counts, counts) + np.arange(ends[-1])
        rows, positions, flags = (
            np.repeat(a, counts) for a in (rows, positions, flags)
        )
    claim_flags = table.claim_flags[claims]
    how = (claim_flags ^ flags) | dropped
    values: dict[int, str] = {}
    heads = table.heads
    for row, p, ref, flag, as_ in zip(
        rows.tolist(),
        positions.tolist(),
        table.claim_ids[claims].tolist(),
        claim_flags.tolist(),
        how.tolist(),
        strict=True,
    ):
        slot = p << 2 | flag
        value = values.get(slot)
        if value is None:
            value = values[slot] = heads[flag] + table.value(p)
        found.append((row, kind, ref, value, MATCHED_AS[as_]))


def _member(table: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Which queries are in a sorted array (a few hundred thousand at most)."""
    if not table.shape[0]:
        return np.zeros(queries.shape[0], bool)
    pos = np.searchsorted(table, queries)
    return table[np.minimum(pos, table.shape[0] - 1)] == queries


# --- the batch: normalized and hashed, before any lookup ----------------------


@dataclass
class UrlBatch:
    """A batch of manifest URLs, normalized and hashed (`prepare_urls`).

    rows: for each normalized URL, its position in the batch (rows without a
    URL, or with one that failed, are absent). The hrefs are packed in
    `data`/`offsets`; key_start/host_start/host_end/path_start/query_at are
    offsets within each (query_at -1: no query). flags: what the key dropped
    (HTTPS, WWW). key_hashes: of each key; origin_hashes: of the key before
    its path; bare_hashes: of the key before its query (where it has one).
    """

    first_row: int
    rows: np.ndarray
    data: np.ndarray
    offsets: np.ndarray
    key_start: np.ndarray
    flags: np.ndarray
    host_start: np.ndarray
    host_end: np.ndarray
    path_start: np.ndarray
    query_at: np.ndarray
    key_hashes: np.ndarray
    origin_hashes: np.ndarray
    bare_hashes: np.ndarray
    problems: list[RowProblem]

    def href(self, i: int, start: int = 0, stop: int | None = None) -> bytes:
        """The i-th normalized URL (or its bytes [start:stop]), as ASCII bytes."""
        base = int(self.offsets[i])
        end = int(self.offsets[i + 1]) if stop is None else base + stop
        return self.data[base + start : end].tobytes()

    def key(self, i: int) -> bytes:
        """The i-th URL's key: its normal form without scheme and www."""
        return self.href(i, int(self.key_start[i]))


def prepare_urls(urls: Sequence[str | None], first_row: int = 0) -> UrlBatch:
    """Normalize and hash a batch of manifest URLs; no index needed.

    A URL that fails normalization becomes a RowProblem (signal "url"); None
    and "" are no URL at all. Never raises for bad input.
    """
    # Plain lists of bytes and ints: no container per row that the cyclic
    # garbage collector would have to scan again and again.
    rows: list[int] = []
    hrefs: list[bytes] = []
    host_start: list[int] = []
    host_end: list[int] = []
    path_start: list[int] = []
    problems: list[RowProblem] = []
    for i, url in enumerate(urls):
        if not url:
            continue
        try:
            href, hs, he, ps = normalize_url_parts(url)
        except UrlRejected as exc:
            problems.append(
                RowProblem(
                    row=first_row + i, reason=str(exc), field="url", signal="url"
                )
            )
            continue
        rows.append(i)
        hrefs.append(href)
        host_start.append(hs)
        host_end.append(he)
        path_start.append(ps)
    data, offsets = _pack(hrefs)
    starts = np.array(path_start, np.int64)
    key_start, flags = _key_starts(data, offsets)
    key_hashes, origin_hashes, bare_hashes, query_at = _key_hashes(
        data, offsets, key_start, starts, np.uint64(_HASH_MASK)
    )
    return UrlBatch(
        first_row=first_row,
        rows=np.array(rows, np.int64),
        data=data,
        offsets=offsets,
        key_start=key_start,
        flags=flags,
        host_start=np.array(host_start, np.int64),
        host_end=np.array(host_end, np.int64),
        path_start=starts,
        query_at=query_at,
        key_hashes=key_hashes,
        origin_hashes=origin_hashes,
        bare_hashes=bare_hashes,
        problems=problems,
    )


# --- the index ----------------------------------------------------------------

# A claim's value is heads[its flags] + its key, per table.
_HEADS = {
    "url": _URL_HEADS,
    "prefix": _URL_HEADS,
    "domain": _HOST_HEADS,
    "domain_www": _HOST_HEADS,
}


def _www_hosts(domains: Iterable[tuple[int, str]]) -> Iterable[tuple[int, str]]:
    """Domain claims on www.<host> (<host> with a dot), as (id, <host>)."""
    for ref, value in domains:
        if value.startswith("www.") and "." in value[4:]:
            yield ref, value[4:]


class UrlIndex:
    """Exact URL, URL-prefix and domain claims; see the module docstring."""

    def __init__(self, tables: dict[str, _Table], origins: np.ndarray) -> None:
        self.tables = tables
        self.origins = origins  # sorted uint64 hashes of prefix claims' origins

    @classmethod
    def build(
        cls,
        *,
        urls: Iterable[tuple[int, str]] | PackedClaims = (),
        prefixes: Iterable[tuple[int, str]] = (),
        domains: Iterable[tuple[int, str]] = (),
        out: ArrayFiles = IN_MEMORY,
    ) -> UrlIndex:
        """Index (claim_id, value) pairs, values already in normal form
        (normalize_url(...).href for urls and prefixes, normalize_domain for
        domains). Several claims may share a value. URL claims, the many,
        may come as PackedClaims (index segments build them from Arrow).

        With `out` on disk (the index's folder), the tables are built
        straight into their files, which `save` to that folder then keeps.

        Raises UnicodeEncodeError for a value that is not ASCII (not normalized).
        """
        prefix_table = _Table.build(
            prefixes,
            reverse=False,
            keyed=True,
            heads=_URL_HEADS,
            out=out.sub("prefix."),
        )
        origin_values = []
        for pos in range(len(prefix_table)):
            key = prefix_table.value(pos).encode("ascii")
            path = key.find(b"/")
            origin_values.append(key[:path] if path >= 0 else key)
        data, offsets = _pack(origin_values)
        origins = np.unique(_hash_strings(data, offsets, False, np.uint64(_HASH_MASK)))
        domain_list = list(domains)  # few: each one needs a proof of control
        return cls(
            {
                "url": _Table.build(
                    urls,
                    reverse=False,
                    keyed=True,
                    heads=_URL_HEADS,
                    out=out.sub("url."),
                ),
                "prefix": prefix_table,
                "domain": _Table.build(
                    domain_list, reverse=True, keyed=False, out=out.sub("domain.")
                ),
                "domain_www": _Table.build(
                    _www_hosts(domain_list),
                    reverse=True,
                    keyed=False,
                    flags=WWW,
                    out=out.sub("domain_www."),
                ),
            },
            out.sub("prefix.").keep("origins", origins),
        )

    def __len__(self) -> int:
        """How many claims (not distinct values) the index holds."""
        return sum(
            int(t.claim_ids.shape[0])
            for name, t in self.tables.items()
            if name != "domain_www"  # the same claims as in "domain"
        )

    @property
    def nbytes(self) -> int:
        return sum(t.nbytes for t in self.tables.values()) + int(self.origins.nbytes)

    def lookup_hashes(self, hashes: np.ndarray) -> np.ndarray:
        """Exact-URL table positions for key hashes (-1: no claim has the hash).

        The lookup step alone, for benchmarks; a hit still needs confirming.
        """
        return self.tables["url"].lookup(hashes)

    def match(
        self, urls: Sequence[str | None], first_row: int
    ) -> tuple[list[Match], list[RowProblem]]:
        """Every claim each URL falls under, and the URLs that failed to parse.

        Matches are ordered by row, then url/prefix/domain, then claim id.
        """
        batch = prepare_urls(urls, first_row)
        return self.lookup(batch), batch.problems

    def lookup(self, batch: UrlBatch) -> list[Match]:
        """The matches of a prepared batch (see `match`)."""
        found: list[tuple[int, int, int, str, str]] = []
        mask = np.uint64(_HASH_MASK)
        url_table, prefix_table, domain_table, www_table = (
            self.tables[k] for k in _TABLES
        )
        starts = batch.offsets[:-1]
        keys = starts + batch.key_start
        flags = batch.flags
        if len(url_table):
            every = np.arange(batch.rows.shape[0])
            pos = url_table.find(batch.key_hashes, batch.data, keys, batch.offsets[1:])
            _collect(found, 0, url_table, pos, batch, every, flags)
            # The same URL without its query: claims without one cover it too.
            queried = np.flatnonzero(batch.query_at >= 0)
            if queried.shape[0]:
                pos = url_table.find(
                    batch.bare_hashes[queried],
                    batch.data,
                    keys[queried],
                    starts[queried] + batch.query_at[queried],
                )
                _collect(
                    found, 0, url_table, pos, batch, queried, flags, _QUERY_DROPPED
                )
        if len(prefix_table):
            selected = np.flatnonzero(_member(self.origins, batch.origin_hashes))
            if selected.shape[0]:
                hashes, which, lengths = _prefix_candidates(
                    batch.data,
                    batch.offsets,
                    batch.key_start,
                    batch.path_start,
                    selected,
                    mask,
                )
                pos = prefix_table.find(
                    hashes, batch.data, keys[which], starts[which] + lengths
                )
                _collect(found, 1, prefix_table, pos, batch, which, flags)
        if len(domain_table):
            hashes, which, host_from = _domain_candidates(
                batch.data, batch.offsets, batch.host_start, batch.host_end, mask
            )
            lo = starts[which]
            hi = lo + batch.host_end[which]
            pos = domain_table.find(hashes, batch.data, lo + host_from, hi)
            _collect(found, 2, domain_table, pos, batch, which, None)
            if len(www_table):
                # A claim on www.<host> covers <host> itself: whole hosts only.
                whole = np.flatnonzero(host_from == batch.host_start[which])
                pos = www_table.find(
                    hashes[whole], batch.data, lo[whole] + host_from[whole], hi[whole]
                )
                _collect(found, 2, www_table, pos, batch, which[whole], None)
        found.sort()
        return [
            Match(row=row, kind=_KINDS[kind], ref=ref, matched=value, matched_as=as_)
            for row, kind, ref, value, as_ in found
        ]

    def save(self, directory: Path | str) -> None:
        """Write the index as .npy files and index.json into `directory`."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for name, table in self.tables.items():
            for array in _Table.ARRAYS:
                save_array(directory / f"{name}.{array}.npy", getattr(table, array))
        save_array(directory / "prefix.origins.npy", self.origins)
        meta: dict[str, Any] = {
            "format": FORMAT_VERSION,
            "hash": HASH_NAME,
            "claims": {
                name: int(t.claim_ids.shape[0]) for name, t in self.tables.items()
            },
        }
        (directory / "index.json").write_text(json.dumps(meta, indent=2))

    @classmethod
    def load(cls, directory: Path | str, *, mmap: bool = True) -> UrlIndex:
        """Read an index written by `save`, memory-mapped unless mmap=False.

        Raises ValueError for another format or hash, OSError for missing files.
        """
        directory = Path(directory)
        meta = json.loads((directory / "index.json").read_text())
        if meta.get("format") != FORMAT_VERSION or meta.get("hash") != HASH_NAME:
            raise ValueError(
                f"{directory}: URL index format {meta.get('format')}/{meta.get('hash')}"
            )
        mode = "r" if mmap else None
        tables = {
            name: _Table(
                {
                    array: np.load(directory / f"{name}.{array}.npy", mmap_mode=mode)
                    for array in _Table.ARRAYS
                },
                _HEADS[name],
            )
            for name in _TABLES
        }
        origins = np.load(directory / "prefix.origins.npy", mmap_mode=mode)
        return cls(tables, origins)
