"""The descriptor index at larger registries: exact (flat), HNSW and IVF-PQ
with exact re-ranking, as the engine builds them (workers/engine/descindex.py),
on one core.

    .venv/bin/python bench/quality/knn.py [--sizes 100000 300000 1000000]
    .venv/bin/python bench/quality/knn.py --sizes 1000000 --kinds ivfpq

Vectors: the real region descriptors bench/quality/descriptor.py stored for
every benchmark image (its cache, for the shipped model: run it first), then
padded to each size with synthetic regions: a real region vector plus
Gaussian noise, renormalised, with the noise scaled so that a replica's cosine
to its parent is about --parent-cosine (0.75 by default: the similarity of
unrelated images from one package under the shipped model, so the padding is
as crowded as real look-alikes, not uniform noise). Six vectors an image, as
the registry stores them. Queries: the benchmark's edited rows (whole form).

Per size: build seconds, bytes per image (vectors, ids and graph), queries/s
on one thread (batches of 32, as the engine searches), and the approximate
indexes' recall@8 of images against exact search of the same vectors: of all
8 nearest, and of those at or above MATCH_DESCRIPTOR_MIN (the neighbours a
match can come from). IVF-PQ is saved and searched memory-mapped, as a
worker reads it from its segment; its resident bytes are the lists' codes
and ids plus the owners and regions (the float16 vectors it re-ranks from
stay on disk, read a candidate at a time).
"""

from __future__ import annotations

import os
import sys

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run  # noqa: E402  (puts the project root on sys.path)
from run import Store, dataset, log  # noqa: E402

from workers.engine import descindex, descriptor  # noqa: E402

REGIONS = len(descriptor.REGION_NAMES)


def replicas(
    parents: np.ndarray, n: int, cosine: float, rng: np.random.Generator
) -> np.ndarray:
    """n unit vectors, each a random parent plus noise at about `cosine`."""
    dim = parents.shape[1]
    # for unit p and g ~ N(0, s^2 I): cos(p, p + g) ~ 1 / sqrt(1 + s^2 dim)
    sigma = np.sqrt((1 / cosine**2 - 1) / dim)
    out = np.empty((n, dim), np.float32)
    step = 200_000
    for start in range(0, n, step):
        m = min(step, n - start)
        v = parents[rng.integers(len(parents), size=m)].astype(np.float32)
        v += rng.normal(0, sigma, size=v.shape).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        out[start : start + m] = v
    return out


def qps(index: descindex.DescriptorIndex, queries: np.ndarray, k: int) -> float:
    t0 = time.thread_time()
    for start in range(0, len(queries), 32):
        index.search(queries[start : start + 32], k)
    return len(queries) / (time.thread_time() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None)
    p.add_argument(
        "--sizes", type=int, nargs="+", default=[100_000, 300_000, 1_000_000]
    )
    p.add_argument("--queries", type=int, default=2_000)
    p.add_argument("--parent-cosine", type=float, default=0.75)
    p.add_argument("--k", type=int, default=8)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--kinds",
        nargs="+",
        default=["flat", "hnsw", "ivfpq"],
        choices=["flat", "hnsw", "ivfpq"],
    )
    p.add_argument("--min-similarity", type=float, default=0.8)
    p.add_argument(
        "--nprobe-min",
        type=int,
        default=descindex.NPROBE_MIN,
        help="IVF-PQ: the fewest inverted lists searched (the engine's default)",
    )
    p.add_argument("--out", type=Path, default=dataset.CACHE / "knn.json")
    p.add_argument(
        "--rerank-factor",
        type=int,
        default=descindex.RERANK_FACTOR,
        help="IVF-PQ: candidates proposed per one wanted (the engine's default)",
    )
    args = p.parse_args()
    descindex.NPROBE_MIN = args.nprobe_min
    descindex.RERANK_FACTOR = args.rerank_factor
    version = descriptor.Descriptor(args.model).info.version
    tag = version.replace(":", "-")
    regions = Store(f"desc-regions-{tag}").data
    rows = Store(f"desc-rows-{tag}-{run.HASH_VERSION}").data
    if not regions or not rows:
        sys.exit("no cached vectors: run bench/quality/descriptor.py first")
    real = np.concatenate([v.astype(np.float32) for v in regions.values()])
    rng = np.random.default_rng(args.seed)
    edited = [v for key, v in rows.items() if key[1] is not None]
    pick = rng.choice(len(edited), min(args.queries, len(edited)), replace=False)
    queries = np.stack([edited[i][1][0] for i in pick]).astype(np.float32)
    log(f"{version}: {len(real):,} real region vectors, {len(queries):,} queries")
    results = {
        "model": version,
        "args": vars(args) | {"out": str(args.out)},
        "sizes": {},
    }
    for size in args.sizes:
        pad = max(0, size - len(real))
        vectors = np.concatenate([real, replicas(real, pad, args.parent_cosine, rng)])[
            :size
        ]
        entries = (
            (i, vectors[i * REGIONS : (i + 1) * REGIONS])
            for i in range(size // REGIONS)
        )
        entries_list = list(entries)
        out = {}
        minimums = {
            "flat": (1 << 62, 1 << 62),
            "hnsw": (0, 1 << 62),
            "ivfpq": (0, 0),
        }
        exact = None
        for kind in args.kinds:
            hnsw_min, ivfpq_min = minimums[kind]
            t0 = time.perf_counter()
            index = descindex.DescriptorIndex.build(
                entries_list,
                dim=vectors.shape[1],
                hnsw_min=hnsw_min,
                ivfpq_min=ivfpq_min,
            )
            built = time.perf_counter() - t0
            graph = 0
            if kind == "hnsw":
                graph = index._index.hnsw.neighbors.size() * 4
            resident = len(index) * vectors.shape[1] * 4 + graph
            if kind == "ivfpq":
                with tempfile.TemporaryDirectory() as tmp:
                    index.save(Path(tmp) / "d")
                    lists = (Path(tmp) / "d" / "ivfpq.faiss").stat().st_size
                    index = descindex.DescriptorIndex.load(Path(tmp) / "d")
                    resident = lists + index.owners.nbytes + index.regions.nbytes
                    speed = qps(index, queries, args.k)
                    found = index.search(queries, args.k)
            else:
                speed = qps(index, queries, args.k)
                found = index.search(queries, args.k)
            out[kind] = {
                "build_s": built,
                "bytes_per_image": (index.nbytes + graph) / index.images,
                "resident_bytes_per_image": resident / index.images,
                "queries_per_s": speed,
            }
            if kind != "flat":
                if exact is None:
                    exact = index.exact(queries, args.k)
                hits = sum(
                    len({i for i, _, _ in a} & {i for i, _, _ in b})
                    for a, b in zip(found, exact, strict=True)
                )
                out[kind]["recall_vs_exact"] = hits / sum(len(b) for b in exact)
                close = [
                    (q, i)
                    for q, b in enumerate(exact)
                    for i, sim, _ in b
                    if sim >= args.min_similarity
                ]
                got = {(q, i) for q, a in enumerate(found) for i, _, _ in a}
                out[kind]["close_neighbours"] = len(close)
                out[kind]["recall_close_vs_exact"] = (
                    sum(pair in got for pair in close) / len(close) if close else None
                )
            log(f"{size:,} {kind}: {json.dumps(out[kind])}")
            del index
        results["sizes"][str(size)] = out
    args.out.write_text(json.dumps(results, indent=1))
    print(
        "\n| vectors | index | build s | bytes/image (resident) | q/s, 1 core "
        f"| recall@8 vs exact | recall@8, similarity >= {args.min_similarity} |"
    )
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    for size, out in results["sizes"].items():
        for kind, v in out.items():
            rec = v.get("recall_vs_exact")
            close = v.get("recall_close_vs_exact")
            near = "" if close is None else f"{close:.4f} of {v['close_neighbours']:,}"
            print(
                f"| {int(size):,} | {kind} | {v['build_s']:.0f} "
                f"| {v['resident_bytes_per_image']:,.0f} | {v['queries_per_s']:,.0f} "
                f"| {'' if rec is None else f'{rec:.4f}'} "
                f"| {near} |"
            )


if __name__ == "__main__":
    main()
