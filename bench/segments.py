"""Index segments at growing registry sizes, on one core (Django-free).

    .venv/bin/python bench/segments.py [--sizes 100000 1000000] [--repeat 3]
                                       [--part-size N] [--descriptors]
                                       [--spill-block N] [--no-rebase]

A synthetic registry of N images and N URL claims (random SHA-256, MD5,
pHash and one PDQ per image; with --descriptors, two region descriptors per
image too) is written as one base segment, or with --part-size as
a base of that many images and deltas adding the rest. The synthetic
entries are made in memory (356 bytes an image), or with --spill-block a
block at a time into memory-mapped Arrow files, as a base read from the
database is spilled: then the base's size is bounded by disk (about 600
bytes an image at its peak, entries and segment), and the process holds
what writing the base needs (9.2 GB at 80M). Then, per size:

- change: the cost of one change (one new image; one revoked claim) as a
  delta segment, written and opened with the registry as the next job's
  view: the time from a change to a job that sees it, minus the database;
- lookups: rows per second matched (each row a URL, a SHA-256, a pHash and a PDQ;
  1 in 10 registered) against the registry alone, with 100 one-change
  deltas, and with those merged into one delta; ratios printed;
- merge: the time to merge the 100 deltas into one, and (one part only) to
  merge the whole chain into a new base;
- bytes per image of the registry on disk (all files, entries included) and
  of the index that matching maps (index/), the descriptors' float16
  vectors (read only for the candidates IVF-PQ proposes) counted apart;
- with --descriptors: copies' descriptor searches per second on one core
  against the base, and how often the copy's source is among the 8 nearest
  at or above the match threshold (0.8).

Descriptors (--descriptors): the real region vectors of the shipped model
that bench/quality/descriptor.py caches (run it first, --quick suffices),
replicated with noise to two regions per image, each a random real vector
plus Gaussian noise at a cosine of 0.75 to it (the similarity of unrelated
images from one Debian package under the model: as crowded as real
look-alikes, bench/quality/knn.py). A copy's query is one of its source's
regions plus noise at a cosine of 0.9 (what the model gives an edited copy).
The index kind is the engine's default for the size (IVF-PQ from 1M
vectors, so from 500,000 images).

Every figure is the median of --repeat runs.
"""

from __future__ import annotations

import os

for _var in (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMBA_NUM_THREADS",
):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.ipc as ipc  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workers.engine import segments as seg  # noqa: E402
from workers.engine.snapshot import Thresholds  # noqa: E402
from workers.engine.types import RowBatch  # noqa: E402

RADIUS = Thresholds(phash=8, pdq=31)
QUERY_ROWS = 20_000
REGIONS = 2
DESCRIPTOR_QUERIES = 2_000
DESCRIPTOR_MIN = 0.8


def _real_vectors() -> np.ndarray:
    """The shipped model's region vectors of real images, from the cache
    bench/quality/descriptor.py fills."""
    sys.path.insert(0, str(ROOT / "bench" / "quality"))
    from descriptor import vector_stores  # noqa: PLC0415  (bench/quality/)
    from run import Store  # noqa: PLC0415  (bench/quality/run.py)

    from workers.engine import descriptor  # noqa: PLC0415

    tag = descriptor.Descriptor(None).info.version.replace(":", "-")
    regions = Store(vector_stores(tag)[0]).data
    if not regions:
        sys.exit("no cached vectors: run bench/quality/descriptor.py --quick first")
    real = np.concatenate([v.astype(np.float32) for v in regions.values()])
    return real / np.linalg.norm(real, axis=1, keepdims=True)


def _noisy(parents: np.ndarray, cosine: float, rng: np.random.Generator):
    """Each parent plus Gaussian noise at about `cosine` to it, unit length
    (for unit p and g ~ N(0, s^2 I): cos(p, p + g) ~ 1 / sqrt(1 + s^2 dim))."""
    sigma = np.sqrt((1 / cosine**2 - 1) / parents.shape[-1])
    out = parents + rng.normal(0, sigma, parents.shape).astype(np.float32)
    return out / np.linalg.norm(out, axis=-1, keepdims=True)


def _descriptors(n: int, real: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(n, REGIONS, dim) float16 region vectors, made in blocks."""
    out = np.empty((n, REGIONS, real.shape[1]), np.float16)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        parents = real[rng.integers(len(real), size=(m, REGIONS))]
        out[start : start + m] = _noisy(parents, 0.75, rng)
    return out


def _url(i: int) -> str:
    return f"https://cdn{i % 997}.example.com/gallery/{i // 997}/art-{i}.jpg"


def _base_entries(
    n: int,
    rng: np.random.Generator,
    first_ref: int = 1,
    revision: int = 0,
    descriptors: np.ndarray | None = None,
) -> seg.Entries:
    """n images and their URL claims, refs from `first_ref`; with `revision`,
    an add op for each at that revision (a part written as a delta)."""
    refs = np.arange(first_ref, first_ref + n, dtype=np.int64)
    sha = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    md5 = rng.integers(0, 256, (n, 16), dtype=np.uint8)
    phash = rng.integers(0, 256, (n, 8), dtype=np.uint8)
    pdq = rng.integers(0, 256, (n, 32), dtype=np.uint8)

    def binary(rows: np.ndarray) -> pa.Array:
        width = rows.shape[1]
        return pa.FixedSizeBinaryArray.from_buffers(
            pa.binary(width), len(rows), [None, pa.py_buffer(rows.tobytes())]
        ).cast(pa.binary())

    images = pa.table(
        {
            "ref": refs,
            "sha256": binary(sha),
            "md5": binary(md5),
            "phash": binary(phash),
            "low_quality": np.zeros(n, bool),
            "descriptors": (
                pa.nulls(n, pa.binary())
                if descriptors is None
                else binary(descriptors.reshape(n, -1).view(np.uint8))
            ),
        },
        schema=seg.IMAGES_SCHEMA,
    )
    pdq_table = pa.table(
        {"ref": refs, "variant": pa.array(["original"] * n), "value": binary(pdq)},
        schema=seg.PDQ_SCHEMA,
    )
    claims = pa.table(
        {"ref": refs, "kind": pa.array(["url"] * n), "value": [_url(i) for i in refs]},
        schema=seg.CLAIMS_SCHEMA,
    )
    ops = seg.OPS_SCHEMA.empty_table()
    if revision:
        ops = pa.table(
            {
                "space": pa.array(
                    np.repeat(np.array([seg.CLAIM, seg.IMAGE], np.int8), n)
                ),
                "ref": np.concatenate([refs, refs]),
                "revision": np.full(2 * n, revision, np.int64),
                "op": np.full(2 * n, seg.ADD, np.int8),
            },
            schema=seg.OPS_SCHEMA,
        )
    return seg.Entries(claims, images, pdq_table, ops)


DESCRIPTOR_VERSION = ""  # "bench" with --descriptors


def _write(root: Path, entries: seg.Entries, kind: str, first: int, last: int) -> dict:
    directory = seg.write_segment(
        root,
        entries,
        kind=kind,
        first=first,
        last=last,
        registry="bench",
        descriptor_version=DESCRIPTOR_VERSION,
        max_radius=RADIUS,
    )
    return json.loads((directory / "segment.json").read_text())


def _one_change(n: int, revision: int, rng: np.random.Generator) -> seg.Entries:
    """Revision `revision`: a new image, or a claim revoked, alternately."""
    writer = seg.EntriesWriter()
    if revision % 2:
        ref = n + revision
        writer.image(
            ref,
            sha256=rng.bytes(32),
            md5=rng.bytes(16),
            phash=rng.bytes(8),
            pdq={"original": rng.bytes(32)},
        )
        writer.op(seg.IMAGE, ref, revision, seg.ADD)
    else:
        writer.op(seg.CLAIM, int(rng.integers(1, n + 1)), revision, seg.DROP)
    return writer.entries()


def _sample(
    entries: seg.Entries, wanted: np.ndarray, first_ref: int
) -> dict[int, tuple[bytes, bytes, int]]:
    """The (sha256, pdq, phash) of the wanted refs held by `entries`."""
    sha = entries.images.column("sha256")
    pdq = entries.pdq.column("value")
    phash = entries.images.column("phash")
    out = {}
    for ref in wanted.tolist():
        i = ref - first_ref
        if 0 <= i < entries.images.num_rows:
            out[ref] = (
                sha[i].as_py(),
                pdq[i].as_py(),
                int.from_bytes(phash[i].as_py(), "big", signed=True),
            )
    return out


def _queries(
    registered: dict[int, tuple[bytes, bytes, int]],
    rng: np.random.Generator,
    rows: int = QUERY_ROWS,
) -> RowBatch:
    urls = [f"https://elsewhere.example/{i}.jpg" for i in range(rows)]
    sha = [rng.bytes(32) for _ in range(rows)]
    pdq = [rng.bytes(32) for _ in range(rows)]
    phash = [int(v) for v in rng.integers(-(2**63), 2**63 - 1, rows)]
    for row, ref in enumerate(sorted(registered)[: rows // 10]):
        urls[row * 10] = _url(ref)
        sha[row * 10], pdq[row * 10], phash[row * 10] = registered[ref]
    return RowBatch(
        first_row=0,
        keys=[None] * rows,
        urls=urls,
        captions=[None] * rows,
        sha256=sha,
        md5=[None] * rows,
        phash=phash,
        pdq=pdq,
    )


def _rate(view: seg.SegmentView, batch: RowBatch) -> tuple[float, int]:
    started = time.perf_counter()
    matches, _ = view.match(batch, RADIUS)
    return len(batch.urls) / (time.perf_counter() - started), len(matches)


_LOADED: dict[str, seg.Segment] = {}


def _open(root: Path, metas: list[dict], revision: int) -> seg.SegmentView:
    """The view as a worker opens it: segments it already has stay loaded."""
    chain = seg.choose_chain(metas, revision)
    segments = []
    for meta in chain:
        if meta["name"] not in _LOADED:
            _LOADED[meta["name"]] = seg.Segment(root / meta["name"])
        segments.append(_LOADED[meta["name"]])
    return seg.SegmentView(segments, revision)


def _descriptor_search(
    view: seg.SegmentView, sources: dict[int, np.ndarray], rng: np.random.Generator
) -> dict:
    """Copies' queries against the base's descriptor index: searches per
    second (one thread, batches of 32 as the engine searches) and how often
    the source is among the 8 nearest at or above DESCRIPTOR_MIN."""
    index = view.segments[0].snapshot.descriptors
    refs = sorted(sources)[:DESCRIPTOR_QUERIES]
    queries = _noisy(np.stack([sources[r] for r in refs]), 0.9, rng)
    started = time.thread_time()
    found = []
    for start in range(0, len(queries), 32):
        found += index.search(
            queries[start : start + 32], 8, min_similarity=DESCRIPTOR_MIN
        )
    spent = time.thread_time() - started
    hits = sum(ref in {i for i, _, _ in f} for ref, f in zip(refs, found, strict=True))
    return {
        "kind": index.kind,
        "searches_per_s": round(len(queries) / spent),
        "source_in_8": round(hits / len(refs), 4),
    }


def rss_anon() -> int:
    """The process's anonymous resident memory (RssAnon: what the system
    cannot reclaim; mapped files' pages are page cache), in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no RssAnon in /proc/self/status")


class _PeakAnon:
    """The peak of rss_anon(), sampled every 10 ms until stopped."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, rss_anon())

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def _spilled_base(
    n: int,
    rng: np.random.Generator,
    folder: Path,
    wanted: np.ndarray,
    registered: dict[int, tuple[bytes, bytes, int]],
    block: int,
) -> seg.Entries:
    """The base's entries made `block` images at a time into uncompressed
    Arrow files in `folder`, memory-mapped: as EntriesWriter(spill=...)
    spills a base read from the database, so no process holds them."""
    folder.mkdir()
    writers: dict[str, ipc.RecordBatchFileWriter] = {}
    for first in range(0, n, block):
        part = _base_entries(min(block, n - first), rng, first + 1)
        registered |= _sample(part, wanted, first + 1)
        for name, schema in seg.TABLES.items():
            if name not in writers:
                writers[name] = ipc.new_file(folder / f"{name}.arrow", schema)
            writers[name].write_table(part.table(name), max_chunksize=seg.FLUSH_ROWS)
        del part
    for writer in writers.values():
        writer.close()
    return seg.mapped_entries(folder)


def bench(
    n: int,
    repeat: int,
    work: Path,
    part_size: int | None = None,
    real: np.ndarray | None = None,
    spill_block: int | None = None,
    rebase: bool = True,
) -> dict:
    rng = np.random.default_rng(n)
    root = work / f"n{n}"
    root.mkdir()
    part_size = min(part_size or n, n)
    parts = -(-n // part_size)
    wanted = np.sort(rng.choice(n, QUERY_ROWS // 10, replace=False) + 1)
    registered: dict[int, tuple[bytes, bytes, int]] = {}
    sources: dict[int, np.ndarray] = {}  # a registered image's region 0
    started = time.perf_counter()
    metas = []
    if spill_block:
        if parts > 1 or real is not None:
            sys.exit("--spill-block builds one base without descriptors")
        entries = _spilled_base(
            n, rng, work / f"spill{n}", wanted, registered, spill_block
        )
        generated_s = time.perf_counter() - started
        sampler = _PeakAnon()
        metas.append(_write(root, entries, "base", 0, 1))
        write_peak = sampler.stop()
        del entries
        shutil.rmtree(work / f"spill{n}")
        parts = 0  # the base is written
    for k in range(parts):
        first_ref = k * part_size + 1
        size = min(part_size, n - k * part_size)
        # The first part is the base (revision 1); each further part a
        # delta adding its images and claims at revision k + 1.
        vectors = None if real is None else _descriptors(size, real, rng)
        entries = _base_entries(
            size, rng, first_ref, revision=k + 1 if k else 0, descriptors=vectors
        )
        registered |= _sample(entries, wanted, first_ref)
        if vectors is not None:
            for ref in wanted.tolist():
                if 0 <= ref - first_ref < size:
                    sources[ref] = vectors[ref - first_ref, 0].astype(np.float32)
            del vectors
        kind = "delta" if k else "base"
        metas.append(_write(root, entries, kind, k if k else 0, k + 1))
        del entries
    build_s = time.perf_counter() - started
    parts = len(metas)
    base_bytes = sum(m["bytes"] for m in metas)
    first_change = parts + 1
    head = parts + 100

    change_s = []
    registry = list(metas)
    for revision in range(first_change, head + 1):
        started = time.perf_counter()
        delta = _write(
            root, _one_change(n, revision, rng), "delta", revision - 1, revision
        )
        view = _open(root, [*metas, delta], revision)
        view.parts  # noqa: B018  (opened: liveness computed, indexes mapped)
        change_s.append(time.perf_counter() - started)
        metas.append(delta)

    batch = _queries(registered, rng)
    one = _open(root, registry, parts)
    chained = _open(root, metas, head)
    _rate(one, _queries(registered, rng, 100))  # numba compiles or loads once
    # The batch's first pass reads the index pages it needs (from disk when
    # the index outgrows the page cache); the medians below are of repeats.
    first_pass = _rate(one, batch)[0]
    rates = {"base": [], "base+100 deltas": [], "base+merged": []}
    merge_s, compact_s = [], []
    merged_meta = None
    for _ in range(repeat):
        started = time.perf_counter()
        merged_dir = seg.merge(
            root,
            [seg.Segment(root / m["name"]) for m in metas[parts:]],
            into=seg.MERGED,
        )
        merge_s.append(time.perf_counter() - started)
        if merged_meta is not None:
            shutil.rmtree(root / merged_meta["name"])
        merged_meta = json.loads((merged_dir / "segment.json").read_text())
    merged_view = _open(root, [*registry, merged_meta], head)
    for _ in range(repeat):
        rates["base"].append(_rate(one, batch)[0])
        rates["base+100 deltas"].append(_rate(chained, batch)[0])
        rates["base+merged"].append(_rate(merged_view, batch)[0])
    found = {
        name: _rate(view, batch)[1]
        for name, view in (("chain", chained), ("merged", merged_view))
    }
    assert found["chain"] == found["merged"], found
    # The whole chain into one base holds it in memory: only for one part.
    for _ in range(repeat if parts == 1 and rebase else 0):
        started = time.perf_counter()
        new_base = seg.merge(root, chained.segments, into=seg.BASE)
        compact_s.append(time.perf_counter() - started)
        shutil.rmtree(new_base)

    descriptor_search = _descriptor_search(one, sources, rng) if sources else None
    median = {name: statistics.median(values) for name, values in rates.items()}
    index_files = [
        (rel, f)
        for m in registry
        for rel, f in m["files"].items()
        if rel.startswith("index/")
    ]
    vectors_bytes = sum(
        f["bytes"] for rel, f in index_files if rel.endswith("descriptors/vectors.npy")
    )
    result = {
        "images": n,
        "parts": parts,
        "base_build_s": round(build_s, 2),
        "of_which_synthetic_entries_s": (
            round(generated_s, 2) if spill_block else None
        ),
        "base_write_peak_anon_gb": (
            round(write_peak / 1e9, 2) if spill_block else None
        ),
        "base_bytes_per_image": round(base_bytes / n, 1),
        "change_to_view_ms_median": round(statistics.median(change_s) * 1000, 1),
        "change_to_view_ms_max": round(max(change_s) * 1000, 1),
        "rows_per_s": {k: round(v) for k, v in median.items()},
        "rows_per_s_first_pass": round(first_pass),
        "ratio_deltas_to_base": round(median["base+100 deltas"] / median["base"], 3),
        "ratio_merged_to_base": round(median["base+merged"] / median["base"], 3),
        "ratio_deltas_to_merged": round(
            median["base+100 deltas"] / median["base+merged"], 3
        ),
        "merge_100_deltas_s": round(statistics.median(merge_s), 3),
        "merge_chain_into_base_s": (
            round(statistics.median(compact_s), 2) if compact_s else None
        ),
        "mapped_bytes_per_image": round(
            (sum(f["bytes"] for _, f in index_files) - vectors_bytes) / n, 1
        ),
        "descriptor_vectors_bytes_per_image": round(vectors_bytes / n, 1),
        "index_bytes_per_image": {
            part: round(
                sum(
                    f["bytes"]
                    for rel, f in index_files
                    if rel.split("/")[1] == part
                    and not rel.endswith("descriptors/vectors.npy")
                )
                / n,
                1,
            )
            for part in sorted({rel.split("/")[1] for rel, _ in index_files})
        },
        "descriptor_search": descriptor_search,
        "matches": found["chain"],
    }
    shutil.rmtree(root)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument(
        "--part-size",
        type=int,
        default=None,
        help="build the registry as segments of at most this many images "
        "(a base, then deltas adding the rest), so memory is bounded by a part",
    )
    parser.add_argument(
        "--descriptors",
        action="store_true",
        help="two region descriptors per image, from the shipped model's real "
        "vectors replicated with noise (bench/quality/descriptor.py's cache)",
    )
    parser.add_argument(
        "--spill-block",
        type=int,
        default=None,
        help="make the base's synthetic entries this many images at a time "
        "into uncompressed Arrow files and map them (as a base read from the "
        "database is spilled): the size is then bounded by disk, not memory",
    )
    parser.add_argument(
        "--no-rebase",
        action="store_true",
        help="skip merging the whole chain into a new base (a second base's "
        "disk and time: at 80M, ~32 GB and tens of minutes)",
    )
    args = parser.parse_args()
    global DESCRIPTOR_VERSION
    real = None
    if args.descriptors:
        real = _real_vectors()
        DESCRIPTOR_VERSION = "bench"
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        for n in args.sizes:
            result = bench(
                n,
                args.repeat,
                Path(tmp),
                args.part_size,
                real,
                spill_block=args.spill_block,
                rebase=not args.no_rebase,
            )
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
