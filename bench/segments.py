"""Index segments at growing registry sizes, on one core (Django-free).

    .venv/bin/python bench/segments.py [--sizes 100000 1000000] [--repeat 3]
                                       [--part-size N]

A synthetic registry of N images and N URL claims (random SHA-256, MD5,
pHash and one PDQ per image, no descriptors: their index is measured by
bench/quality/knn.py) is written as one base segment, or with --part-size as
a base of that many images and deltas adding the rest, so that building it
holds one part in memory (about 2.3 GB at 1M images in one part). Then, per
size:

- change: the cost of one change (one new image; one revoked claim) as a
  delta segment, written and opened with the registry as the next job's
  view: the time from a change to a job that sees it, minus the database;
- lookups: rows per second matched (each row a URL, a SHA-256, a pHash and a PDQ;
  1 in 10 registered) against the registry alone, with 100 one-change
  deltas, and with those merged into one delta; ratios printed;
- merge: the time to merge the 100 deltas into one, and (one part only) to
  merge the whole chain into a new base;
- bytes per image of the registry on disk (all files, entries included) and
  of the index that matching maps (index/).

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
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workers.engine import segments as seg  # noqa: E402
from workers.engine.snapshot import Thresholds  # noqa: E402
from workers.engine.types import RowBatch  # noqa: E402

RADIUS = Thresholds(phash=8, pdq=31)
QUERY_ROWS = 20_000


def _url(i: int) -> str:
    return f"https://cdn{i % 997}.example.com/gallery/{i // 997}/art-{i}.jpg"


def _base_entries(
    n: int, rng: np.random.Generator, first_ref: int = 1, revision: int = 0
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
            "descriptors": pa.nulls(n, pa.binary()),
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


def _write(root: Path, entries: seg.Entries, kind: str, first: int, last: int) -> dict:
    directory = seg.write_segment(
        root,
        entries,
        kind=kind,
        first=first,
        last=last,
        registry="bench",
        descriptor_version="",
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
    registered: dict[int, tuple[bytes, bytes, int]], rng: np.random.Generator
) -> RowBatch:
    rows = QUERY_ROWS
    urls = [f"https://elsewhere.example/{i}.jpg" for i in range(rows)]
    sha = [rng.bytes(32) for _ in range(rows)]
    pdq = [rng.bytes(32) for _ in range(rows)]
    phash = [int(v) for v in rng.integers(-(2**63), 2**63 - 1, rows)]
    for row, ref in enumerate(sorted(registered)):
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
    return QUERY_ROWS / (time.perf_counter() - started), len(matches)


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


def bench(n: int, repeat: int, work: Path, part_size: int | None = None) -> dict:
    rng = np.random.default_rng(n)
    root = work / f"n{n}"
    root.mkdir()
    part_size = min(part_size or n, n)
    parts = -(-n // part_size)
    wanted = np.sort(rng.choice(n, QUERY_ROWS // 10, replace=False) + 1)
    registered: dict[int, tuple[bytes, bytes, int]] = {}
    started = time.perf_counter()
    metas = []
    for k in range(parts):
        first_ref = k * part_size + 1
        size = min(part_size, n - k * part_size)
        # The first part is the base (revision 1); each further part a
        # delta adding its images and claims at revision k + 1.
        entries = _base_entries(size, rng, first_ref, revision=k + 1 if k else 0)
        registered |= _sample(entries, wanted, first_ref)
        kind = "delta" if k else "base"
        metas.append(_write(root, entries, kind, k if k else 0, k + 1))
        del entries
    build_s = time.perf_counter() - started
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
    _rate(one, batch)  # numba compiles once
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
    for _ in range(repeat if parts == 1 else 0):
        started = time.perf_counter()
        new_base = seg.merge(root, chained.segments, into=seg.BASE)
        compact_s.append(time.perf_counter() - started)
        shutil.rmtree(new_base)

    median = {name: statistics.median(values) for name, values in rates.items()}
    result = {
        "images": n,
        "parts": parts,
        "base_build_s": round(build_s, 2),
        "base_bytes_per_image": round(base_bytes / n, 1),
        "change_to_view_ms_median": round(statistics.median(change_s) * 1000, 1),
        "change_to_view_ms_max": round(max(change_s) * 1000, 1),
        "rows_per_s": {k: round(v) for k, v in median.items()},
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
            sum(
                f["bytes"]
                for m in registry
                for rel, f in m["files"].items()
                if rel.startswith("index/")
            )
            / n,
            1,
        ),
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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        for n in args.sizes:
            result = bench(n, args.repeat, Path(tmp), args.part_size)
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
