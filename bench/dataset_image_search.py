"""The dataset search by image at scale: the image index's build time and
bytes per row, and a search's latency (p50/p95) and recall, against the
exact scan of the chunk files in the same run (workers.engine.datasetindex).

Rows: `--rows` image rows in chunk files of `--chunk` rows, as indexing
writes them (`vectors/<chunk>.npz`): 256-d float16 unit vectors and 32-byte
PDQ hashes, both random (no structure for the index to exploit: IVF-PQ's
recall on real descriptors is higher, bench/quality/knn.py). Queries: a
stored row's vector with noise (cosine about 0.85 to it, a copy as the
descriptor sees one) plus two unrelated region vectors, as a search sends
the image and its regions; and the row's PDQ with 12 bits flipped. Found:
the source row among the k nearest (k = IMAGE_SEARCH_MAX, 200, as a
search asks, and 20), and among the rows within 40 bits.

    .venv/bin/python bench/dataset_image_search.py --rows 1000000 --repeat 3

Baseline: the same searches with no image index built (an exact scan of
every chunk file, what a dataset still indexing costs). Measures the index
alone: a search also embeds the query and its regions (about 30 ms) and
verifies each row it shows (about 20 ms a row at 256 px).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workers.engine import datasetindex  # noqa: E402

DIM = 256


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def write_chunks(folder: Path, rows: int, chunk: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    (folder / "vectors").mkdir(parents=True, exist_ok=True)
    for c, first in enumerate(range(0, rows, chunk)):
        n = min(chunk, rows - first)
        vectors = unit(rng.standard_normal((n, DIM), dtype=np.float32))
        np.savez(
            folder / "vectors" / f"{c}.npz",
            rows=np.arange(first, first + n, dtype=np.int64),
            vectors=vectors.astype(np.float16),
            pdq=rng.integers(0, 256, (n, 32), dtype=np.uint8),
            pdq_quality=np.full(n, 100, np.uint8),
        )


def stored(folder: Path, row: int, chunk: int) -> tuple[np.ndarray, bytes]:
    with np.load(folder / "vectors" / f"{row // chunk}.npz") as data:
        i = row % chunk
        return data["vectors"][i].astype(np.float32), bytes(data["pdq"][i])


def queries(
    folder: Path, rows: int, chunk: int, n: int, seed: int
) -> list[tuple[int, np.ndarray, list[bytes]]]:
    rng = np.random.default_rng(seed)
    out = []
    for row in rng.choice(rows, n, replace=False).tolist():
        vector, pdq = stored(folder, row, chunk)
        noisy = unit((vector + 0.62 * unit(rng.standard_normal((1, DIM))))[None, 0])
        regions = unit(rng.standard_normal((2, DIM)))
        bits = np.unpackbits(np.frombuffer(pdq, np.uint8))
        flip = rng.choice(256, 12, replace=False)
        bits[flip] ^= 1
        out.append(
            (
                row,
                np.concatenate([noisy, regions]).astype(np.float32),
                [np.packbits(bits).tobytes()],
            )
        )
    return out


def pct(values: list[float], p: float) -> float:
    return float(np.percentile(np.array(values) * 1000, p))


def run(folder: Path, items, k: int, repeat: int) -> tuple[list[float], float, float]:
    latencies = []
    found = hashed = 0
    for row, vectors, hashes in items:
        runs = []
        for _ in range(repeat):
            started = time.perf_counter()
            near = datasetindex.nearest(folder, vectors, k=k, min_similarity=0.5)
            by_hash = datasetindex.near_hashes(folder, hashes, radius=40)
            runs.append(time.perf_counter() - started)
        latencies.append(statistics.median(runs))
        found += row in {r for r, _ in near}
        hashed += row in {r for r, _ in by_hash}
    return latencies, found / len(items), hashed / len(items)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--baseline-queries", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="Keep the dataset folder here.")
    args = parser.parse_args()

    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-image-search-"))
    if not (folder / "vectors").exists():
        started = time.perf_counter()
        write_chunks(folder, args.rows, args.chunk, seed=3)
        print(f"wrote {args.rows:,} rows in {time.perf_counter() - started:.0f} s")
    shutil.rmtree(folder / datasetindex.IMAGES_DIR, ignore_errors=True)
    items = queries(folder, args.rows, args.chunk, args.queries, seed=5)

    print(f"{args.rows:,} image rows, chunks of {args.chunk:,}")
    print()
    print(
        "| search | k | p50 (ms) | p95 (ms) | source found (descriptor) "
        "| source found (PDQ) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    base, base_found, base_hashed = run(folder, items[: args.baseline_queries], 200, 1)
    print(
        f"| exact scan, no index ({len(base)} queries) | 200 | {pct(base, 50):.0f} "
        f"| {pct(base, 95):.0f} | {base_found:.2f} | {base_hashed:.2f} |"
    )

    started = time.perf_counter()
    built = datasetindex.build_image_index(folder)
    build = time.perf_counter() - started
    size = datasetindex.size_bytes(folder / datasetindex.IMAGES_DIR)
    chunks = datasetindex.size_bytes(folder / "vectors")
    # Load the index and compile the Hamming search's kernels first.
    datasetindex.nearest(folder, items[0][1], k=1, min_similarity=0.5)
    datasetindex.near_hashes(folder, items[0][2], radius=40)
    for k in (200, 20):
        lat, found, hashed = run(folder, items, k, args.repeat)
        print(
            f"| image index ({built['kind']}, {len(items)} queries) | {k} "
            f"| {pct(lat, 50):.1f} | {pct(lat, 95):.1f} | {found:.2f} "
            f"| {hashed:.2f} |"
        )
        if k == 200:
            ratio = statistics.median(base) / max(statistics.median(lat), 1e-9)
    print()
    print(
        f"build {build:.0f} s ({args.rows / build:,.0f} rows/s on one core); "
        f"image index {size / args.rows:.0f} bytes/row beside the chunk files' "
        f"{chunks / args.rows:.0f}; index vs exact scan (p50, k=200): {ratio:,.0f}x"
    )
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
