"""The descriptor index at larger registries: exact (flat) against HNSW, as the
engine builds them (workers/engine/descindex.py), on one core.

    .venv/bin/python bench/quality/knn.py [--sizes 100000 300000 1000000]

Vectors: the real region descriptors bench/quality/descriptor.py stored for
every benchmark image (its cache, for the shipped model: run it first), then
padded to each size with synthetic regions: a real region vector plus
Gaussian noise, renormalised, with the noise scaled so that a replica's cosine
to its parent is about --parent-cosine (0.75 by default: the similarity of
unrelated images from one package under the shipped model, so the padding is
as crowded as real look-alikes, not uniform noise). Six vectors an image, as
the registry stores them. Queries: the benchmark's edited rows (whole form).

Per size: build seconds, bytes per image (vectors, ids and graph), queries/s
on one thread (batches of 32, as the engine searches), and HNSW's recall@8 of
images against exact search of the same vectors.
"""

from __future__ import annotations

import os
import sys

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
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
    p.add_argument("--out", type=Path, default=dataset.CACHE / "knn.json")
    args = p.parse_args()
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
        for kind, hnsw_min in (("flat", 1 << 62), ("hnsw", 0)):
            t0 = time.perf_counter()
            index = descindex.DescriptorIndex.build(
                entries_list, dim=vectors.shape[1], hnsw_min=hnsw_min
            )
            built = time.perf_counter() - t0
            graph = 0
            if kind == "hnsw":
                graph = index._index.hnsw.neighbors.size() * 4
            speed = qps(index, queries, args.k)
            out[kind] = {
                "build_s": built,
                "bytes_per_image": (index.nbytes + graph) / index.images,
                "resident_bytes_per_image": (len(index) * vectors.shape[1] * 4 + graph)
                / index.images,
                "queries_per_s": speed,
            }
            if kind == "hnsw":
                found = index.search(queries, args.k)
                exact = index.exact(queries, args.k)
                hits = sum(
                    len({i for i, _, _ in a} & {i for i, _, _ in b})
                    for a, b in zip(found, exact, strict=True)
                )
                out[kind]["recall_vs_exact"] = hits / sum(len(b) for b in exact)
            log(f"{size:,} {kind}: {json.dumps(out[kind])}")
            del index
        results["sizes"][str(size)] = out
    args.out.write_text(json.dumps(results, indent=1))
    print(
        "\n| vectors | index | build s | bytes/image (resident) | q/s, 1 core "
        "| recall@8 vs exact |"
    )
    print("| ---: | --- | ---: | ---: | ---: | ---: |")
    for size, out in results["sizes"].items():
        for kind, v in out.items():
            rec = v.get("recall_vs_exact")
            print(
                f"| {int(size):,} | {kind} | {v['build_s']:.0f} "
                f"| {v['resident_bytes_per_image']:,.0f} | {v['queries_per_s']:,.0f} "
                f"| {'' if rec is None else f'{rec:.4f}'} |"
            )


if __name__ == "__main__":
    main()
