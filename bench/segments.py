"""Index segments at growing registry sizes, on one core (Django-free).

    .venv/bin/python bench/segments.py [--sizes 100000 1000000] [--repeat 3]

A synthetic registry of N images and N URL claims (random SHA-256, MD5,
pHash and one PDQ per image, no descriptors: their index is measured by
bench/quality/knn.py) is written as one base segment. Then, per size:

- change: the cost of one change (one new image; one revoked claim) as a
  delta segment, written and opened with the base as the next job's view:
  the time from a change to a job that sees it, minus the database; it must
  not grow with N;
- lookups: rows per second matched (each row a URL, a SHA-256, a pHash and a PDQ;
  1 in 10 registered) against the base alone, the base and 100 one-change
  deltas, and those merged into one delta; ratios printed;
- merge: the time to merge the 100 deltas into one, and to merge the whole
  chain into a new base;
- bytes per image of the base on disk (all files, entries included).

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


def _base_entries(n: int, rng: np.random.Generator) -> seg.Entries:
    refs = np.arange(1, n + 1, dtype=np.int64)
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
    return seg.Entries(claims, images, pdq_table, seg.OPS_SCHEMA.empty_table())


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


def _queries(n: int, base: seg.Entries, rng: np.random.Generator) -> RowBatch:
    rows = QUERY_ROWS
    registered = rng.choice(n, rows // 10, replace=False)
    urls = [f"https://elsewhere.example/{i}.jpg" for i in range(rows)]
    sha = [rng.bytes(32) for _ in range(rows)]
    pdq = [rng.bytes(32) for _ in range(rows)]
    phash = [int(v) for v in rng.integers(-(2**63), 2**63 - 1, rows)]
    base_sha = base.images.column("sha256")
    base_pdq = base.pdq.column("value")
    base_phash = base.images.column("phash")
    for row, i in enumerate(registered.tolist()):
        urls[row * 10] = _url(i + 1)
        sha[row * 10] = base_sha[i].as_py()
        pdq[row * 10] = base_pdq[i].as_py()
        phash[row * 10] = int.from_bytes(base_phash[i].as_py(), "big", signed=True)
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


def bench(n: int, repeat: int, work: Path) -> dict:
    rng = np.random.default_rng(n)
    root = work / f"n{n}"
    root.mkdir()
    started = time.perf_counter()
    entries = _base_entries(n, rng)
    base = _write(root, entries, "base", 0, 1)
    build_s = time.perf_counter() - started
    base_bytes = base["bytes"]

    change_s = []
    metas = [base]
    for revision in range(2, 102):
        started = time.perf_counter()
        delta = _write(
            root, _one_change(n, revision, rng), "delta", revision - 1, revision
        )
        view = _open(root, [*metas, delta], revision)
        view.parts  # noqa: B018  (opened: liveness computed, indexes mapped)
        change_s.append(time.perf_counter() - started)
        metas.append(delta)
    head = 101

    batch = _queries(n, entries, rng)
    one = _open(root, [base], 1)
    chained = _open(root, metas, head)
    _rate(one, batch)  # numba compiles once
    rates = {"base": [], "base+100 deltas": [], "base+merged": []}
    merge_s, compact_s = [], []
    merged_meta = None
    for _ in range(repeat):
        started = time.perf_counter()
        merged_dir = seg.merge(
            root, [seg.Segment(root / m["name"]) for m in metas[1:]], into=seg.MERGED
        )
        merge_s.append(time.perf_counter() - started)
        if merged_meta is not None:
            shutil.rmtree(root / merged_meta["name"])
        merged_meta = json.loads((merged_dir / "segment.json").read_text())
    merged_view = _open(root, [base, merged_meta], head)
    for _ in range(repeat):
        rates["base"].append(_rate(one, batch)[0])
        rates["base+100 deltas"].append(_rate(chained, batch)[0])
        rates["base+merged"].append(_rate(merged_view, batch)[0])
    found = {
        name: _rate(view, batch)[1]
        for name, view in (("chain", chained), ("merged", merged_view))
    }
    assert found["chain"] == found["merged"], found
    for _ in range(repeat):
        started = time.perf_counter()
        new_base = seg.merge(root, chained.segments, into=seg.BASE)
        compact_s.append(time.perf_counter() - started)
        shutil.rmtree(new_base)

    median = {name: statistics.median(values) for name, values in rates.items()}
    result = {
        "images": n,
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
        "merge_chain_into_base_s": round(statistics.median(compact_s), 2),
        "matches": found["chain"],
    }
    shutil.rmtree(root)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        for n in args.sizes:
            print(json.dumps(bench(n, args.repeat, Path(tmp))), flush=True)


if __name__ == "__main__":
    main()
