"""URL matching: the lookup step and the whole chunk, against a baseline.

Generates --claims exact URL claims in normal form (plus prefix and domain
claims) and a LAION-like Parquet manifest of --rows rows (URL, TEXT), a few %
of them claimed and spelled differently (host case, default ports, fragments,
dot segments, lower-case percent-escapes, and the equivalences claims ignore:
http for https, a "www." added or dropped, a "?w=512" added), then measures
on one core:

- lookup step: key hashes -> positions in the sorted claim array
  (UrlIndex.lookup_hashes), against a Python dict of the keys (normal form
  without scheme and www) and against plain np.searchsorted on sorted
  queries, at several batch sizes; and every kind's lookups with
  confirmation (UrlIndex.lookup), against dicts with the same equivalences.
- whole chunk: read the URL column with pyarrow, normalize, hash, look up and
  write the matches (with matched_as) to Parquet; the baseline normalizes
  with urllib.parse and looks up in Python dicts.

    .venv/bin/python bench/urls.py --claims 10000000 --rows 1000000 --repeat 3

Prints medians of --repeat runs, rows/s per step, and ours/baseline ratios
measured in the same run. --profile adds a cProfile of one whole chunk.
--clock cpu times the steps in CPU seconds of the process instead of wall-clock
seconds: on a shared machine, other processes' time slices then do not count
(their use of caches and memory bandwidth still does).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import posixpath
import pstats
import random
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import quote, urlsplit

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workers.engine import urlindex  # noqa: E402
from workers.engine.types import Match  # noqa: E402
from workers.engine.urlindex import UrlIndex, prepare_urls  # noqa: E402
from workers.engine.urls import normalize_url  # noqa: E402

SYLLABLES = (
    "ka ro mi na to shi ber lin art foto pix cdn img stat media cloud shop "
    "blog news tech home life style daily world blue red sun moon star"
).split()
TLDS = ["com"] * 8 + ["net", "org", "de", "co.uk", "jp", "ru", "fr", "io", "xn--p1ai"]
SUBS = ["i", "img", "images", "cdn", "static", "media", "www", "s3", "i0", "assets"]
WORDS = (
    "photo image product large thumb original upload wp-content uploads files "
    "gallery album portfolio art print poster 2019 2020 2021 2022 07 11 a b c"
).split()
EXTS = ["jpg"] * 6 + ["png", "jpeg", "webp", "JPG", "gif"]


class UrlGenerator:
    """Seeded LAION-like image URLs, already in normal form."""

    def __init__(self, seed: int, hosts: int = 20_000) -> None:
        self.rng = random.Random(seed)
        r = self.rng
        self.domains = [
            "".join(r.choice(SYLLABLES) for _ in range(r.randint(2, 3)))
            + f"{r.randint(0, 999) if r.random() < 0.4 else ''}.{r.choice(TLDS)}"
            for _ in range(hosts)
        ]
        self.hosts = [
            f"{r.choice(SUBS)}.{d}" if r.random() < 0.7 else d for d in self.domains
        ]
        # Zipf-ish popularity: a few hosts carry most images, as in LAION.
        self.weights = [1 / (i + 1) ** 0.8 for i in range(hosts)]

    def host(self) -> str:
        return self.rng.choices(self.hosts, self.weights)[0]

    def path(self) -> str:
        r = self.rng
        segments = [r.choice(WORDS) for _ in range(r.randint(1, 4))]
        name = f"{r.getrandbits(40):x}"
        if r.random() < 0.08:
            name += r.choice(["%20copy", "%E2%80%99s", "%28large%29"])
        path = "/" + "/".join(segments) + f"/{name}.{r.choice(EXTS)}"
        if r.random() < 0.15:
            path += r.choice(["?w=512", "?v=1&width=800", "?format=jpg&name=large"])
        return path

    def urls(self, count: int) -> list[str]:
        hosts = self.rng.choices(self.hosts, self.weights, k=count)
        return [f"https://{h}{self.path()}" for h in hosts]


def respell(url: str, r: random.Random) -> str:
    """Another spelling of the same URL, as manifests have them."""
    roll = r.random()
    if roll < 0.2:
        scheme, rest = url.split("://", 1)
        host, path = rest.split("/", 1)
        return f"{scheme.upper()}://{host.upper()}/{path}"
    if roll < 0.3:
        scheme, rest = url.split("://", 1)
        host, path = rest.split("/", 1)
        return f"{scheme}://{host}:443/{path}"
    if roll < 0.35:
        return url + "#main"
    if roll < 0.4:
        return url.replace("%E2", "%e2").replace("%28", "%28")
    if roll < 0.42:
        scheme, rest = url.split("://", 1)
        host, path = rest.split("/", 1)
        return f"{scheme}://{host}/x/../{path}"
    # What claims ignore: the scheme, a leading "www.", a query added by a CDN.
    if roll < 0.5:
        return "http://" + url.split("://", 1)[1]
    if roll < 0.55:
        scheme, rest = url.split("://", 1)
        if rest.startswith("www."):
            return f"{scheme}://{rest[4:]}"
        return f"{scheme}://www.{rest}"
    if roll < 0.6 and "?" not in url:
        return url + "?w=512"
    return url


def make_data(args: argparse.Namespace, work: Path) -> tuple[UrlIndex, dict, Path]:
    r = random.Random(args.seed)
    gen = UrlGenerator(args.seed)
    t = time.perf_counter()
    claim_urls = gen.urls(args.claims)
    # An artist's folder on a popular host; whole domains from the long tail
    # (a claimed domain among the top hosts would cover far more than a few %).
    prefixes = sorted(
        {
            f"https://{gen.host()}/{r.choice(WORDS)}/{r.getrandbits(24):x}/"
            for _ in range(args.claims // 1000)
        }
    )
    domains = r.sample(gen.domains[2000:], max(1, len(gen.domains) // 50))
    for value in r.sample(claim_urls, 2000) + prefixes[:200]:
        assert normalize_url(value).href == value, value
    print(
        f"generated {len(claim_urls):,} URL claims in {time.perf_counter() - t:.1f} s"
    )

    rows = args.rows
    manifest = gen.urls(rows)
    claimed = r.sample(range(rows), int(rows * 0.03))
    for n, i in enumerate(claimed):
        kind = n % 6
        if kind < 4:  # 2% exact
            manifest[i] = respell(claim_urls[r.randrange(len(claim_urls))], r)
        elif kind == 4:  # 0.5% under a prefix claim, half of them as http://
            manifest[i] = r.choice(prefixes) + f"{r.getrandbits(32):x}.jpg"
            if n % 12 == 4:
                manifest[i] = "http://" + manifest[i].split("://", 1)[1]
        else:  # 0.5% on a claimed domain or a subdomain of it
            manifest[i] = f"http://{r.choice(SUBS)}.{r.choice(domains)}/p/{n}.png"
    for i in r.sample(range(rows), rows // 500):  # bad and missing URLs
        manifest[i] = r.choice(["", None, "images/x.jpg", "data:image/png;base64,AA"])
    captions = [f"a photo of item {i}, high quality" for i in range(rows)]
    path = work / "laion.parquet"
    pq.write_table(
        pa.table({"URL": manifest, "TEXT": captions}), path, row_group_size=100_000
    )

    t = time.perf_counter()
    index = UrlIndex.build(
        urls=enumerate(claim_urls),
        prefixes=enumerate(prefixes, start=len(claim_urls)),
        domains=enumerate(domains, start=len(claim_urls) + len(prefixes)),
    )
    print(
        f"built UrlIndex of {len(index):,} claims ({index.nbytes / 1e6:.0f} MB) "
        f"in {time.perf_counter() - t:.1f} s"
    )
    t = time.perf_counter()
    first_domain = len(claim_urls) + len(prefixes)
    plain = {
        "url": _group_keys(enumerate(claim_urls)),
        "prefix": _group_keys(enumerate(prefixes, start=len(claim_urls))),
        "domain": _group(enumerate(domains, start=first_domain)),
        "domain_www": _group(
            (
                (ref, d[4:])
                for ref, d in enumerate(domains, start=first_domain)
                if d.startswith("www.") and "." in d[4:]
            ),
            www=True,
        ),
    }
    plain["origins"] = {k[: k.index("/")] for k in plain["prefix"]}
    print(f"built the baseline's dicts in {time.perf_counter() - t:.1f} s")
    return index, plain, path


def _group(pairs, www: bool = False) -> dict[str, list[tuple[int, str, int]]]:  # type: ignore[no-untyped-def]
    """host -> [(claim id, claimed domain, flags)] for domain claims; www: the
    hosts are www-claims without their "www." (flag 2)."""
    out: dict[str, list[tuple[int, str, int]]] = {}
    for ref, value in pairs:
        entry = (ref, "www." + value, 2) if www else (ref, value, 0)
        out.setdefault(value, []).append(entry)
    return out


def _group_keys(pairs) -> dict[str, list[tuple[int, str, int]]]:  # type: ignore[no-untyped-def]
    """key -> [(claim id, normal form, flags)] for URL and prefix claims."""
    out: dict[str, list[tuple[int, str, int]]] = {}
    for ref, href in pairs:
        key, flags = url_key(href)
        out.setdefault(key, []).append((ref, href, flags))
    return out


# What the measured steps are timed with (--clock).
clock: Callable[[], float] = time.perf_counter

# --- baseline: urllib.parse normalization, dict lookups ----------------------

_AS_NAMES = ((1, "scheme"), (2, "www"), (4, "query"))


def matched_as(bits: int) -> str:
    return "+".join(name for bit, name in _AS_NAMES if bits & bit) or "exact"


def url_key(href: str) -> tuple[str, int]:
    """(key, flags): the normal form without its scheme (flag 1: https) and
    without a leading "www." before another dot and no credentials (flag 2)."""
    scheme, rest = href.split("://", 1)
    flags = 1 if scheme == "https" else 0
    if rest.startswith("www."):
        authority = rest[: min(i for i in (rest.find("/"), rest.find("?")) if i >= 0)]
        if "@" not in authority and "." in authority[4:].split(":", 1)[0]:
            return rest[4:], flags | 2
    return rest, flags


_DEFAULT_PORT = {"http": 80, "https": 443}
_PCT = re.compile(r"%[0-9a-fA-F]{2}")


def urllib_normalize(url: str) -> tuple[str, str, str]:
    """(href, origin, host) the way one would with the standard library."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORT or not parts.hostname:
        raise ValueError(url)
    host = parts.hostname.rstrip(".")
    if not host.isascii():
        host = host.encode("idna").decode("ascii")
    port = parts.port
    netloc = host if port in (None, _DEFAULT_PORT[scheme]) else f"{host}:{port}"
    path = posixpath.normpath(parts.path or "/") if "." in parts.path else parts.path
    if parts.path.endswith("/") and not path.endswith("/"):
        path += "/"
    path = quote(path or "/", safe="/%:@!$&'()*+,;=~")
    if "%" in path:
        path = _PCT.sub(lambda m: m[0].upper(), path)
    origin = f"{scheme}://{netloc}"
    href = origin + path + (f"?{parts.query}" if parts.query else "")
    return href, origin, host


def baseline_lookup(
    plain: dict, normalized: list[tuple[int, str, int, str, str]], first_row: int
) -> list[tuple[int, str, int, str, str]]:
    """normalized: (row, key, flags, host, origin key) per URL."""
    found = []
    exact, prefix, domain, domain_www, origins = (
        plain["url"],
        plain["prefix"],
        plain["domain"],
        plain["domain_www"],
        plain["origins"],
    )
    for row, key, flags, host, origin in normalized:
        for ref, value, claim_flags in exact.get(key, ()):
            found.append(
                (first_row + row, "url", ref, value, matched_as(claim_flags ^ flags))
            )
        cut = key.find("?")
        if cut >= 0:
            for ref, value, claim_flags in exact.get(key[:cut], ()):
                as_ = matched_as((claim_flags ^ flags) | 4)
                found.append((first_row + row, "url", ref, value, as_))
        if origin in origins:
            end = cut if cut >= 0 else len(key)
            candidates = {key, key[:end]}
            slash = key.find("/", len(origin))
            while 0 <= slash < end:
                candidates.add(key[: slash + 1])
                candidates.add(key[:slash])
                slash = key.find("/", slash + 1)
            for c in candidates:
                for ref, value, claim_flags in prefix.get(c, ()):
                    as_ = matched_as(claim_flags ^ flags)
                    found.append((first_row + row, "prefix", ref, value, as_))
        suffix = host
        while "." in suffix:
            for ref, value, _ in domain.get(suffix, ()):
                found.append((first_row + row, "domain", ref, value, "exact"))
            suffix = suffix.split(".", 1)[1]
        for ref, value, _ in domain_www.get(host, ()):
            found.append((first_row + row, "domain", ref, value, "www"))
    return found


def baseline_row(href: str, host: str) -> tuple[str, int, str, str]:
    """(key, flags, host, origin key) of a normalized URL, for baseline_lookup."""
    key, flags = url_key(href)
    return key, flags, host, key[: key.index("/")]


# --- the steps ----------------------------------------------------------------


def read_urls(path: Path) -> list[str | None]:
    return pq.read_table(path, columns=["URL"]).column("URL").to_pylist()


def write_matches(rows: list[tuple[int, str, int, str, str]], path: Path) -> None:
    if rows:
        row, kind, ref, matched, how = zip(*rows, strict=True)
    else:
        row = kind = ref = matched = how = ()
    table = pa.table(
        {
            "row": pa.array(row, pa.int64()),
            "kind": pa.array(kind, pa.string()),
            "ref": pa.array(ref, pa.int64()),
            "matched": pa.array(matched, pa.string()),
            "matched_as": pa.array(how, pa.string()),
        }
    )
    pq.write_table(table, path)


def as_rows(matches: list[Match]) -> list[tuple[int, str, int, str, str]]:
    return [(m.row, m.kind.value, m.ref, m.matched, m.matched_as) for m in matches]


def ours_chunk(index: UrlIndex, path: Path, out: Path) -> dict[str, float]:
    times = {}
    t = clock()
    urls = read_urls(path)
    times["read Parquet (URL column)"] = clock() - t
    t = clock()
    batch = prepare_urls(urls, 0)
    times["normalize + hash"] = clock() - t
    t = clock()
    matches = index.lookup(batch)
    times["look up + confirm"] = clock() - t
    t = clock()
    write_matches(as_rows(matches), out)
    times["write matches"] = clock() - t
    times["matches"] = len(matches)
    return times


def baseline_chunk(plain: dict, path: Path, out: Path) -> dict[str, float]:
    times = {}
    t = clock()
    urls = read_urls(path)
    times["read Parquet (URL column)"] = clock() - t
    t = clock()
    normalized = []
    for i, url in enumerate(urls):
        if url:
            try:
                href, _, host = urllib_normalize(url)
            except ValueError:
                continue
            normalized.append((i, *baseline_row(href, host)))
    times["normalize + hash"] = clock() - t
    t = clock()
    found = baseline_lookup(plain, normalized, 0)
    found.sort()
    times["look up + confirm"] = clock() - t
    t = clock()
    write_matches(found, out)
    times["write matches"] = clock() - t
    times["matches"] = len(found)
    return times


def median_of(repeat: int, fn: Callable[[], dict[str, float]]) -> dict[str, float]:
    runs = []
    for _ in range(repeat):
        gc.collect()
        runs.append(fn())
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def timed(repeat: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        t = clock()
        fn()
        times.append(clock() - t)
    return statistics.median(times)


def searchsorted_lookup(table: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """The plain numpy way: sort the queries, then one searchsorted."""
    order = np.argsort(queries)
    ordered = queries[order]
    pos = np.searchsorted(table, ordered)
    hit = table[np.minimum(pos, table.shape[0] - 1)] == ordered
    found = np.full(queries.shape[0], -1, np.int64)
    found[order[hit]] = pos[hit]
    return found


def lookup_step(
    args: argparse.Namespace, index: UrlIndex, plain: dict, path: Path
) -> list[tuple[str, float, float]]:
    urls = read_urls(path)
    batch = prepare_urls(urls, 0)
    normalized = []
    for i in range(batch.rows.shape[0]):
        host = batch.href(i, int(batch.host_start[i]), int(batch.host_end[i]))
        normalized.append(
            (int(batch.rows[i]), *baseline_row(batch.href(i).decode(), host.decode()))
        )
    n = len(urls)
    lines = []
    hashes = batch.key_hashes
    ours = timed(args.repeat, lambda: index.lookup_hashes(hashes))
    exact = plain["url"]

    def dict_lookup(strings: Sequence[str]) -> None:
        get = exact.get
        for s in strings:
            get(s)

    # Fresh str objects each run: a str caches its hash once computed.
    base_times = []
    for _ in range(args.repeat):
        strings = [key.encode().decode() for _, key, _, _, _ in normalized]
        gc.collect()
        t = clock()
        dict_lookup(strings)
        base_times.append(clock() - t)
    base_exact = statistics.median(base_times)
    lines.append(("exact: hashes -> positions", ours, base_exact))
    table = index.tables["url"].hashes
    t_sorted = timed(args.repeat, lambda: searchsorted_lookup(table, hashes))
    lines.append(("exact, np.searchsorted on sorted queries", t_sorted, base_exact))
    for size in args.batch_sizes:
        parts = [hashes[i : i + size] for i in range(0, hashes.shape[0], size)]
        t_part = timed(args.repeat, lambda p=parts: [index.lookup_hashes(x) for x in p])
        lines.append((f"exact, batches of {size:,}", t_part, base_exact))
        t_part = timed(
            args.repeat, lambda p=parts: [searchsorted_lookup(table, x) for x in p]
        )
        lines.append(
            (f"exact, batches of {size:,}, np.searchsorted", t_part, base_exact)
        )
    ours_all = timed(args.repeat, lambda: index.lookup(batch))
    base_all = []
    for _ in range(args.repeat):
        fresh = [(r, k.encode().decode(), f, h, o) for r, k, f, h, o in normalized]
        gc.collect()
        t = clock()
        baseline_lookup(plain, fresh, 0)
        base_all.append(clock() - t)
    lines.append(
        ("all kinds, confirmed -> Match", ours_all, statistics.median(base_all))
    )
    print(f"\nLookup step, {n:,} manifest rows against {len(index):,} claims")
    print("| step | ours rows/s | baseline (dict) rows/s | ratio ours/baseline |")
    print("| --- | ---: | ---: | ---: |")
    for name, t_ours, t_base in lines:
        base = f"{n / t_base:,.0f}" if t_base == t_base else "-"
        ratio = f"{t_base / t_ours:.2f}" if t_base == t_base else "-"
        print(f"| {name} | {n / t_ours:,.0f} | {base} | {ratio} |")
    return lines


def chunk_step(args: argparse.Namespace, index: UrlIndex, plain: dict, path: Path):  # type: ignore[no-untyped-def]
    work = path.parent
    n = args.rows
    ours = median_of(
        args.repeat, lambda: ours_chunk(index, path, work / "ours.parquet")
    )
    base = median_of(
        args.repeat, lambda: baseline_chunk(plain, path, work / "base.parquet")
    )
    a = pq.read_table(work / "ours.parquet").to_pylist()
    b = pq.read_table(work / "base.parquet").to_pylist()
    agree = sorted(map(tuple, (r.values() for r in a))) == sorted(
        map(tuple, (r.values() for r in b))
    )
    print(
        f"\nWhole chunk, {n:,} rows: {int(ours['matches']):,} matches "
        f"(baseline {int(base['matches']):,}, same set: {agree})"
    )
    how = Counter(r["matched_as"] for r in a)
    print("matched_as: " + ", ".join(f"{k} {v:,}" for k, v in how.most_common()))
    print(
        "| step | ours rows/s | baseline (urllib + dict) rows/s | ratio ours/baseline |"
    )
    print("| --- | ---: | ---: | ---: |")
    steps = [k for k in ours if k != "matches"]
    for k in steps:
        ratio = base[k] / ours[k]
        print(f"| {k} | {n / ours[k]:,.0f} | {n / base[k]:,.0f} | {ratio:.2f} |")
    t_ours = sum(ours[k] for k in steps)
    t_base = sum(base[k] for k in steps)
    print(
        f"| **whole chunk** | **{n / t_ours:,.0f}** | {n / t_base:,.0f} | "
        f"{t_base / t_ours:.2f} |"
    )
    return ours, base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--claims", type=int, default=10_000_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--cpu", type=int, default=None, help="pin to this core")
    parser.add_argument("--batch-sizes", type=int, nargs="*", default=[100_000, 10_000])
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    args = parser.parse_args()
    global clock
    clock = time.process_time if args.clock == "cpu" else time.perf_counter

    cpu = args.cpu if args.cpu is not None else max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    print(f"pinned to cpu {cpu}; hash {urlindex.HASH_NAME}; clock {args.clock}")
    with tempfile.TemporaryDirectory(prefix="bench-urls-") as tmp:
        work = Path(tmp)
        index, plain, path = make_data(args, work)
        index.lookup(prepare_urls(read_urls(path)[:1000], 0))  # numba: load kernels
        lookup_step(args, index, plain, path)
        chunk_step(args, index, plain, path)
        if args.profile:
            profile = cProfile.Profile()
            profile.runcall(ours_chunk, index, path, work / "ours.parquet")
            print("\ncProfile of one whole chunk (ours), by own time:")
            pstats.Stats(profile).sort_stats("tottime").print_stats(12)


if __name__ == "__main__":
    main()
