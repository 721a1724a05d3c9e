"""Perceptual lookup: HammingIndex against baselines, measured in the same run.

    .venv/bin/python bench/hamming.py [--n 10000000] [--data both] [--kinds phash,pdq]

For each kind (pHash 64 bit, PDQ 256 bit) and data set (uniform random hashes;
clustered: centres with heavy-tailed numbers of variants a few bits away, like
a registry full of near-duplicates) it builds the index, saves it, loads it
memory-mapped (as workers do) and times `search` over a query set that is half
near-duplicates of registry entries (0..r+2 bits away) and half unrelated
hashes. Baselines: numpy brute force and a plain Python loop over imagehash
ImageHash objects (both on samples, scaled), faiss-cpu's IndexBinaryMultiHash
(range search, exact settings). Our results are checked against brute force.

Everything runs on one core: thread pools are pinned to 1 before numpy loads.
The machine may be shared, so each figure is the median of --repeat runs, and
queries/s are given per CPU-second of the searching thread (what one core
does) and per wall-clock second.
"""

from __future__ import annotations

import os
import sys
import tempfile

for _var in (
    "NUMBA_NUM_THREADS",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
):
    os.environ[_var] = "1"
if "--perf-map" in sys.argv:
    import atexit
    import shutil

    # perf can only name functions compiled in this process, not cache loads
    os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="numba-cache-")
    atexit.register(shutil.rmtree, os.environ["NUMBA_CACHE_DIR"], True)

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import asdict, dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workers.engine.hamming import HammingIndex, brute_force  # noqa: E402

KINDS = {
    # words, radii (first: the goal's), goal queries/s on one core
    "phash": (1, (8, 10), 10_000),
    "pdq": (4, (31,), 4_000),
}


@dataclass
class Row:
    kind: str
    data: str
    radius: int
    n: int
    queries: int
    hits_per_query: float = 0.0
    ours_cpu_qps: float = 0.0
    ours_wall_qps: float = 0.0
    ours_in_memory_cpu_qps: float = 0.0
    cache_resident_cpu_qps: float = 0.0
    numpy_qps: float = 0.0
    imagehash_qps: float = 0.0
    faiss_qps: float | None = None
    faiss_note: str = ""
    verified_queries: int = 0
    equal_to_brute_force: bool = False
    faiss_equal_to_brute_force: bool | None = None
    goal_qps: int = 0
    probes_per_query: int = 0
    entries_per_query: float = 0.0


@dataclass
class Build:
    kind: str
    data: str
    n: int
    key_bits: int
    build_s: float
    bytes_per_entry: float
    goal_bytes_per_entry: int
    faiss_build_s: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# --- data -----------------------------------------------------------------------


def flip(x: np.ndarray, d: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rows of x with d[i] random bits flipped (drawn with replacement: <= d)."""
    x = x.copy()
    bits = 64 * x.shape[1]
    for j in range(int(d.max(initial=0))):
        rows = np.flatnonzero(d > j)
        pos = rng.integers(0, bits, rows.size)
        x[rows, pos >> 6] ^= np.uint64(1) << (pos & 63).astype(np.uint64)
    return x


def random_data(n: int, words: int, rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 2**64, (n, words), dtype=np.uint64)


def clustered_data(
    n: int, words: int, spread: int, rng: np.random.Generator
) -> np.ndarray:
    """Centres with Zipf(2) numbers of variants (1..5000, mean about 5).

    Each variant is its centre with up to `spread` bits flipped (uniform), so
    a near-duplicate query meets clusters of hundreds on average.
    """
    sizes = np.minimum(rng.zipf(2.0, n), 5000)
    sizes = sizes[: np.searchsorted(np.cumsum(sizes), n) + 1]
    centre = np.repeat(np.arange(sizes.size), sizes)[:n]
    centres = random_data(sizes.size, words, rng)
    hashes = flip(centres[centre], rng.integers(0, spread + 1, n), rng)
    return hashes[rng.permutation(n)]


def make_queries(
    hashes: np.ndarray, count: int, radius: int, rng: np.random.Generator
) -> np.ndarray:
    near = hashes[rng.integers(0, len(hashes), count // 2)]
    near = flip(near, rng.integers(0, radius + 3, len(near)), rng)
    far = random_data(count - len(near), hashes.shape[1], rng)
    queries = np.concatenate([near, far])
    return queries[rng.permutation(count)]


# --- timing -------------------------------------------------------------------------


def timed(
    fn: Callable[..., Any], *args: Any, repeat: int = 1
) -> tuple[float, float, Any]:
    """Median (cpu seconds, wall seconds) of `repeat` calls, and the last result."""
    cpu: list[float] = []
    wall: list[float] = []
    result = None
    for _ in range(repeat):
        c0, w0 = time.thread_time(), time.perf_counter()
        result = fn(*args)
        cpu.append(time.thread_time() - c0)
        wall.append(time.perf_counter() - w0)
    return statistics.median(cpu), statistics.median(wall), result


def sorted_triples(result: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    rows = np.stack([a.astype(np.int64) for a in result], axis=1)
    return rows[np.lexsort(rows.T[::-1])]


def compile_times() -> dict[str, float]:
    """First-call seconds of each search kernel: cold (empty JIT cache) and warm."""
    code = (
        "import time, numpy as np\n"
        "from workers.engine.hamming import HammingIndex\n"
        "out = {}\n"
        "for words in (1, 4):\n"
        "    h = np.arange(4 * words, dtype=np.uint64).reshape(4, words)\n"
        "    index = HammingIndex.build(h, np.arange(4), max_radius=8)\n"
        "    t = time.perf_counter(); index.search(h, 8)\n"
        "    out[words] = time.perf_counter() - t\n"
        "print(out[1], out[4])\n"
    )
    result: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        for label in ("cold", "warm"):
            out = subprocess.run(
                [sys.executable, "-c", code],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            result[f"phash_{label}_s"] = float(out[0])
            result[f"pdq_{label}_s"] = float(out[1])
    return result


def write_perf_map() -> None:
    """Name numba's compiled functions for `perf report` (/tmp/perf-PID.map)."""
    from workers.engine import hamming

    spans = []
    for value in vars(hamming).values():
        for compiled in getattr(value, "overloads", {}).values():
            library = compiled.library
            for fn in library._final_module.functions:
                if not fn.is_declaration:
                    address = library.get_pointer_to_function(fn.name)
                    if address:
                        spans.append((address, fn.name))
    spans.sort()
    ends = [address for address, _ in spans[1:]] + [0]
    with open(f"/tmp/perf-{os.getpid()}.map", "w") as fh:
        for (address, name), end in zip(spans, ends, strict=True):
            size = end - address if end > address else 4096
            fh.write(f"{address:x} {size:x} {name}\n")


# --- baselines --------------------------------------------------------------------


def imagehash_qps(
    hashes: np.ndarray, query: np.ndarray, radius: int, sample: int
) -> float:
    """A Python loop of ImageHash `-` over a sample, scaled to the registry."""
    import imagehash

    side = 8 if hashes.shape[1] == 1 else 16

    def as_imagehash(words: np.ndarray) -> imagehash.ImageHash:
        bits = np.unpackbits(words.astype(">u8").view(np.uint8))
        return imagehash.ImageHash(bits.astype(bool).reshape(side, side))

    picked = hashes[np.linspace(0, len(hashes) - 1, sample).astype(np.int64)]
    registry = [as_imagehash(row) for row in picked]
    q = as_imagehash(query)

    def loop() -> list[int]:
        return [i for i, h in enumerate(registry) if q - h <= radius]

    cpu, _, _ = timed(loop, repeat=3)
    return 1.0 / (cpu / sample * len(hashes))


def faiss_index(hashes: np.ndarray) -> tuple[Any, float, str]:
    """IndexBinaryMultiHash with 21-bit hash tables (3 for pHash, 12 for PDQ)."""
    import faiss

    faiss.omp_set_num_threads(1)
    bits = 64 * hashes.shape[1]
    nhash = bits // 21
    t0 = time.perf_counter()
    index = faiss.IndexBinaryMultiHash(bits, nhash, 21)
    index.add(np.ascontiguousarray(hashes).view(np.uint8))
    return index, time.perf_counter() - t0, f"nhash={nhash} b=21"


def faiss_search(
    index: Any, queries: np.ndarray, radius: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # Exact when the tables' flip radius covers the pigeonhole: nhash*(nflip+1) > r.
    index.nflip = math.ceil((radius + 1) / index.nhash) - 1
    # faiss reports distances strictly below its radius
    lims, dist, labels = index.range_search(
        np.ascontiguousarray(queries).view(np.uint8), radius + 1
    )
    q = np.repeat(np.arange(len(queries)), np.diff(lims.astype(np.int64)))
    return q, labels.astype(np.int64), dist.astype(np.int32)


# --- the run ------------------------------------------------------------------------


def entries_scanned(
    index: HammingIndex, queries: np.ndarray, radius: int
) -> tuple[int, float]:
    """Probes per query and entries read per query (bucket sizes summed)."""
    from workers.engine.hamming import _plan, _probes  # the bench may peek

    rw, rwk = _plan(radius, index.words, len(index), index.key_bits)
    pairs, pmask = _probes(rwk, index.key_bits)
    t = index.key_bits
    tables = index.tables.reshape(index.words * 3, -1).astype(np.int64)
    total = 0
    for x in queries:
        keys = []
        for w in range(index.words):
            v = int(x[w])
            keys += [(v >> (64 - t * (k + 1))) & ((1 << t) - 1) for k in range(3)]
        key = np.array(keys, np.int64)[pairs] ^ pmask
        total += int((tables[pairs, key + 1] - tables[pairs, key]).sum())
    return len(pairs), total / len(queries)


def run_case(
    kind: str, data: str, args: argparse.Namespace, rng: np.random.Generator
) -> tuple[Build, list[Row]]:
    words, radii, goal = KINDS[kind]
    spread = radii[0] + 3
    t0 = time.perf_counter()
    if data == "random":
        hashes = random_data(args.n, words, rng)
    else:
        hashes = clustered_data(args.n, words, spread, rng)
    ids = np.arange(len(hashes), dtype=np.int64)
    log(f"{kind}/{data}: {len(hashes):,} hashes in {time.perf_counter() - t0:.1f}s")

    t0 = time.perf_counter()
    built = HammingIndex.build(
        hashes, ids, max_radius=max(radii), key_bits=args.key_bits
    )
    build_s = time.perf_counter() - t0
    build = Build(
        kind=kind,
        data=data,
        n=len(hashes),
        key_bits=built.key_bits,
        build_s=build_s,
        bytes_per_entry=built.nbytes / len(hashes),
        goal_bytes_per_entry=2 * 8 * words + 8,
    )
    log(f"  built in {build_s:.1f}s, {build.bytes_per_entry:.1f} B/entry")
    tmp = tempfile.TemporaryDirectory(dir=args.tmp)
    built.save(Path(tmp.name) / "index")
    index = HammingIndex.load(Path(tmp.name) / "index")

    multihash = None
    if not args.no_faiss:
        try:
            multihash, build.faiss_build_s, note = faiss_index(hashes)
            build.extra["faiss"] = note
            log(f"  faiss built in {build.faiss_build_s:.1f}s ({note})")
        except ImportError as exc:
            build.extra["faiss"] = f"not installed: {exc}"

    rows = []
    for radius in radii:
        queries = make_queries(hashes, args.queries, radius, rng)
        row = Row(kind, data, radius, len(hashes), len(queries), goal_qps=goal)
        if radius != radii[0]:
            row.goal_qps = 0
        index.search(queries[:10], radius)  # JIT compile or cache load
        if args.perf_map:
            write_perf_map()
        cpu, wall, found = timed(index.search, queries, radius, repeat=args.repeat)
        row.ours_cpu_qps = len(queries) / cpu
        row.ours_wall_qps = len(queries) / wall
        row.hits_per_query = len(found[0]) / len(queries)
        in_memory, _, _ = timed(built.search, queries, radius, repeat=args.repeat)
        row.ours_in_memory_cpu_qps = len(queries) / in_memory
        # each query twice in a row: the second finds its buckets in cache, so
        # the extra time is the compute part; the rest is waiting for memory
        twice = np.repeat(queries, 2, axis=0)
        cpu2, _, _ = timed(index.search, twice, radius, repeat=args.repeat)
        row.cache_resident_cpu_qps = len(queries) / max(cpu2 - cpu, 1e-9)
        row.probes_per_query, row.entries_per_query = entries_scanned(
            index, queries[:200], radius
        )

        sample = queries[: args.verify]
        cpu, _, expected = timed(brute_force, hashes, ids, sample, radius)
        row.numpy_qps = len(sample) / cpu
        row.verified_queries = len(sample)
        ours = sorted_triples(index.search(sample, radius))
        row.equal_to_brute_force = bool(np.array_equal(ours, sorted_triples(expected)))
        row.imagehash_qps = imagehash_qps(hashes, queries[0], radius, args.imagehash)
        if multihash is not None:
            fq = queries[: args.faiss_queries]
            cpu, _, _ = timed(faiss_search, multihash, fq, radius, repeat=args.repeat)
            row.faiss_qps = len(fq) / cpu
            q, labels, dist = faiss_search(multihash, sample, radius)
            row.faiss_equal_to_brute_force = bool(
                np.array_equal(
                    sorted_triples((q, ids[labels], dist)), sorted_triples(expected)
                )
            )
        else:
            row.faiss_note = build.extra.get("faiss", "skipped")
        log(
            f"  r={radius}: {row.ours_cpu_qps:,.0f} q/s (cpu), "
            f"{row.ours_wall_qps:,.0f} (wall), {row.hits_per_query:.1f} hits/q, "
            f"equal to brute force: {row.equal_to_brute_force}"
        )
        rows.append(row)
    del multihash  # free its memory before the next case
    tmp.cleanup()
    return build, rows


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def ratio(ours: float, other: float | None) -> str:
    if not other:
        return "n/a"
    return f"{ours / other:,.0f}x" if ours / other >= 10 else f"{ours / other:.1f}x"


def table(builds: list[Build], rows: list[Row]) -> str:
    out = [
        "| kind | data | radius | hits/query | ours q/s (cpu) | ours q/s (wall) "
        "| goal | numpy brute force | imagehash loop | faiss MultiHash "
        "| equal to brute force |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        goal = (
            f"{r.goal_qps:,} {'met' if r.ours_cpu_qps >= r.goal_qps else 'NOT met'}"
            if r.goal_qps
            else "-"
        )
        faiss = (
            f"{r.faiss_qps:,.0f} ({ratio(r.ours_cpu_qps, r.faiss_qps)})"
            if r.faiss_qps
            else r.faiss_note or "n/a"
        )
        same = "yes" if r.equal_to_brute_force else "NO"
        if r.faiss_equal_to_brute_force is False:
            same += " (faiss: NO)"
        out.append(
            f"| {r.kind} | {r.data} | {r.radius} | {r.hits_per_query:.1f} "
            f"| {r.ours_cpu_qps:,.0f} | {r.ours_wall_qps:,.0f} | {goal} "
            f"| {r.numpy_qps:,.1f} ({ratio(r.ours_cpu_qps, r.numpy_qps)}) "
            f"| {r.imagehash_qps:.3f} ({ratio(r.ours_cpu_qps, r.imagehash_qps)}) "
            f"| {faiss} | {same} ({r.verified_queries} queries) |"
        )
    out += [
        "",
        "| kind | data | entries | key bits | build s | bytes/entry | goal "
        "| faiss build s |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for b in builds:
        goal = (
            f"{b.goal_bytes_per_entry} "
            f"{'met' if b.bytes_per_entry <= b.goal_bytes_per_entry else 'NOT met'}"
        )
        fb = f"{b.faiss_build_s:.1f}" if b.faiss_build_s is not None else "n/a"
        out.append(
            f"| {b.kind} | {b.data} | {b.n:,} | {b.key_bits} | {b.build_s:.1f} "
            f"| {b.bytes_per_entry:.2f} | {goal} | {fb} |"
        )
    out += [
        "",
        "| kind | data | radius | probes/query | entries read/query "
        "| compute-only q/s (cpu) | not memory-mapped q/s (cpu) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        out.append(
            f"| {r.kind} | {r.data} | {r.radius} | {r.probes_per_query:,} "
            f"| {r.entries_per_query:,.0f} | {r.cache_resident_cpu_qps:,.0f} "
            f"| {r.ours_in_memory_cpu_qps:,.0f} |"
        )
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000_000, help="registry size")
    parser.add_argument("--queries", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs; median kept")
    parser.add_argument(
        "--data", choices=("random", "clustered", "both"), default="both"
    )
    parser.add_argument("--kinds", default="phash,pdq")
    parser.add_argument(
        "--verify", type=int, default=20, help="queries checked by brute force"
    )
    parser.add_argument(
        "--imagehash", type=int, default=20_000, help="ImageHash comparisons timed"
    )
    parser.add_argument("--faiss-queries", type=int, default=200)
    parser.add_argument("--no-faiss", action="store_true")
    parser.add_argument(
        "--key-bits", type=int, default=None, help="index key width (default: auto)"
    )
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--tmp", default=None, help="where to save the index")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--perf-map",
        action="store_true",
        help="write /tmp/perf-PID.map so `perf record` names the kernels",
    )
    args = parser.parse_args()

    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    datas = ["random", "clustered"] if args.data == "both" else [args.data]
    rng = np.random.default_rng(args.seed)
    log("JIT first calls (cold cache, then warm)...")
    jit = compile_times()
    builds: list[Build] = []
    rows: list[Row] = []
    for kind in kinds:
        for data in datas:
            build, case_rows = run_case(kind, data, args, rng)
            builds.append(build)
            rows += case_rows

    cpu = "unknown"
    for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.split(
        "\n"
    ):
        if line.startswith("Model name:"):
            cpu = line.split(":", 1)[1].strip()
    print(
        f"machine: {os.cpu_count()} cores, {cpu}; Python {platform.python_version()},"
        f" numpy {np.__version__}"
    )
    print(
        "JIT first call (compile, empty cache / load from cache): "
        f"pHash {jit['phash_cold_s']:.1f}s / {jit['phash_warm_s']:.2f}s, "
        f"PDQ {jit['pdq_cold_s']:.1f}s / {jit['pdq_warm_s']:.2f}s"
    )
    print(table(builds, rows))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "builds": [asdict(b) for b in builds],
                    "rows": [asdict(r) for r in rows],
                    "jit": jit,
                    "args": {k: str(v) for k, v in vars(args).items()},
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
