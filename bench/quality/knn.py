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
as crowded as real look-alikes, not uniform noise). descriptor.REGIONS (two)
vectors an image, as the registry stores them. Queries: the benchmark's
edited rows (whole form).

Per size: build seconds, bytes per image (vectors, ids and graph), queries/s
on one thread (batches of 32, as the engine searches; the second pass over
the queries, the first is kept in the results too), the approximate
indexes' recall@8 of images against exact search of the same vectors: of all
8 nearest, and of those at or above MATCH_DESCRIPTOR_MIN (the neighbours a
match can come from), and how often each query's source image is among
the 8 found at MATCH_DESCRIPTOR_MIN or more (candidate recall@8), by the
index and by exact search. IVF-PQ is saved and searched memory-mapped, as a
worker reads it from its segment; its resident bytes are the lists' codes
and ids plus the owners and regions (the float16 vectors it re-ranks from
stay on disk, read a candidate at a time). `--ivf-codes pq` measures the
8-bit IndexIVFPQ in place of the 4-bit fast-scan codes; `--min-similarity`
is also what the timed searches pass, as the engine does
(MATCH_DESCRIPTOR_MIN), unless `--time-all`.
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
from descriptor import ENGINE_REGIONS, vector_stores  # noqa: E402
from run import Store, dataset, log  # noqa: E402

from workers.engine import descindex, descriptor  # noqa: E402

REGIONS = len(descriptor.REGION_NAMES)


def replicas(
    parents: np.ndarray, n: int, cosine: float, rng: np.random.Generator
) -> np.ndarray:
    """n unit vectors (float16, as stored), each a random parent plus noise
    at about `cosine`."""
    dim = parents.shape[1]
    # for unit p and g ~ N(0, s^2 I): cos(p, p + g) ~ 1 / sqrt(1 + s^2 dim)
    sigma = np.sqrt((1 / cosine**2 - 1) / dim)
    out = np.empty((n, dim), np.float16)
    step = 200_000
    for start in range(0, n, step):
        m = min(step, n - start)
        v = parents[rng.integers(len(parents), size=m)].astype(np.float32)
        v += rng.normal(0, sigma, size=v.shape).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        out[start : start + m] = v
    return out


def qps(
    index: descindex.DescriptorIndex, queries: np.ndarray, k: int, least: float
) -> tuple[float, float]:
    """Searches a second of one thread, in batches of 32 as the engine
    searches: (warm, first pass). The first pass also reads the mapped
    pages it touches; a worker's index is warm."""
    out = []
    for _ in range(2):
        t0 = time.thread_time()
        for start in range(0, len(queries), 32):
            index.search(queries[start : start + 32], k, min_similarity=least)
        out.append(len(queries) / (time.thread_time() - t0))
    return out[1], out[0]


def exact_search(
    vectors: np.ndarray, owners: np.ndarray, queries: np.ndarray, k: int
) -> list[list[tuple[int, float]]]:
    """The k nearest images of each query by brute force over the float16
    vectors, a block at a time (the float32 copy is never made whole): per
    query (image id, similarity), best first."""
    want = k * REGIONS + 8
    best_sims = np.full((len(queries), 0), -np.inf, np.float32)
    best_rows = np.zeros((len(queries), 0), np.int64)
    block = 131_072
    for start in range(0, len(vectors), block):
        part = vectors[start : start + block].astype(np.float32)
        sims = queries @ part.T
        top = np.argpartition(-sims, min(want, sims.shape[1] - 1), axis=1)[:, :want]
        best_sims = np.concatenate(
            [best_sims, np.take_along_axis(sims, top, axis=1)], axis=1
        )
        best_rows = np.concatenate([best_rows, top + start], axis=1)
        keep = np.argsort(-best_sims, axis=1, kind="stable")[:, :want]
        best_sims = np.take_along_axis(best_sims, keep, axis=1)
        best_rows = np.take_along_axis(best_rows, keep, axis=1)
    out = []
    for sims, rows in zip(best_sims, best_rows, strict=True):
        seen: dict[int, float] = {}
        for sim, row in zip(sims, rows, strict=True):
            seen.setdefault(int(owners[row]), float(sim))
        out.append(list(seen.items())[:k])
    return out


def source_recall(
    found: list[list[tuple[int, float]]],
    sources: np.ndarray,
    least: float,
    same: dict[int, set[int]],
) -> float:
    """Share of queries whose source image, or a registered derivative of
    it (the same picture: bench/quality/derivatives.txt, which
    descriptor.py's ranks leave out too), is among those found (the k
    nearest) at a similarity of `least` or more: candidate recall@k."""
    return float(
        np.mean(
            [
                any(
                    (i == src or i in same.get(int(src), ())) and sim >= least
                    for i, sim in hits
                )
                for hits, src in zip(found, sources, strict=True)
            ]
        )
    )


def list_bytes(index: descindex.DescriptorIndex) -> int:
    """Bytes of an IVF index's lists: codes (fast-scan lists in blocks of
    32 vectors) and 8-byte ids."""
    import faiss

    lists = faiss.extract_index_ivf(index._index).invlists
    sizes = np.array([lists.list_size(i) for i in range(lists.nlist)], np.int64)
    if lists.code_size == faiss.InvertedLists.INVALID_CODE_SIZE:
        blocks = faiss.downcast_InvertedLists(lists)
        per = blocks.n_per_block
        codes = ((sizes + per - 1) // per * blocks.block_size).sum()
    else:
        codes = sizes.sum() * lists.code_size
    return int(codes + sizes.sum() * 8)


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
        "--time-all",
        action="store_true",
        help="time searches for the 8 nearest whatever their similarity",
    )
    p.add_argument(
        "--ivf-codes",
        choices=["fastscan", "pq"],
        default=descindex.IVF_CODES,
        help="IVF-PQ: 4-bit fast-scan codes (the engine's default) or 8-bit PQ",
    )
    p.add_argument(
        "--nprobe-min",
        type=int,
        default=descindex.NPROBE_MIN,
        help="IVF-PQ: the fewest inverted lists searched (the engine's default)",
    )
    p.add_argument(
        "--probe-share",
        type=int,
        default=descindex.PROBE_SHARE,
        help="IVF-PQ: 1/N of the lists searched (the engine's default)",
    )
    p.add_argument("--out", type=Path, default=dataset.CACHE / "knn.json")
    p.add_argument(
        "--rerank-factor",
        type=int,
        nargs="+",
        default=[descindex.RERANK_FACTOR],
        help="IVF-PQ: candidates proposed per one wanted (the engine's default)",
    )
    args = p.parse_args()
    descindex.NPROBE_MIN = args.nprobe_min
    descindex.PROBE_SHARE = args.probe_share
    descindex.IVF_CODES = args.ivf_codes
    least = -1.0 if args.time_all else args.min_similarity
    version = descriptor.Descriptor(args.model).info.version
    tag = version.replace(":", "-")
    regions_name, rows_name = vector_stores(tag)
    regions = Store(regions_name).data
    rows = Store(rows_name).data
    if not regions or not rows:
        sys.exit("no cached vectors: run bench/quality/descriptor.py first")
    # Each benchmark image with the regions the engine stores, as an image
    # of the registry (its id: the benchmark's image number).
    real_ids = np.array(sorted(regions), np.int64)
    real = np.concatenate(
        [regions[i][list(ENGINE_REGIONS)].astype(np.float32) for i in real_ids]
    )
    # Padding replicates every box the bench stored (six an image), so that
    # the crowd around each real image is as varied as the cache allows.
    parents = np.concatenate([v.astype(np.float32) for v in regions.values()])
    rng = np.random.default_rng(args.seed)
    edited = [(key[0], v) for key, v in rows.items() if key[1] is not None]
    pick = rng.choice(len(edited), min(args.queries, len(edited)), replace=False)
    queries = np.stack([edited[i][1][1][0] for i in pick]).astype(np.float32)
    sources = np.array([edited[i][0] for i in pick], np.int64)
    same: dict[int, set[int]] = {}
    for pair in run.load_derivatives(dataset.load()[0]):
        a, b = tuple(pair)
        same.setdefault(a, set()).add(b)
        same.setdefault(b, set()).add(a)
    log(
        f"{version}: {len(real_ids):,} real images ({len(real):,} region vectors), "
        f"{len(queries):,} queries (edited rows, their source registered)"
    )
    results = {
        "model": version,
        "args": vars(args) | {"out": str(args.out)},
        "sizes": {},
    }
    for size in args.sizes:
        size -= size % REGIONS
        pad = max(0, size - len(real))
        vectors = np.empty((size, real.shape[1]), np.float16)
        vectors[: min(size, len(real))] = real[:size]
        if pad:
            vectors[len(real) :] = replicas(parents, pad, args.parent_cosine, rng)
        owners = np.arange(size, dtype=np.int64) // REGIONS
        owners[: len(real_ids) * REGIONS] = np.repeat(real_ids, REGIONS)[:size]
        owners[len(real_ids) * REGIONS :] += int(real_ids.max()) + 1
        regions = (np.arange(size) % REGIONS).astype(np.int8)
        out = {}
        minimums = {
            "flat": (1 << 62, 1 << 62),
            "hnsw": (0, 1 << 62),
            "ivfpq": (0, 0),
        }
        exact = None

        def measure(index, built, resident, graph, vectors=vectors, owners=owners):
            nonlocal exact
            speed, cold = qps(index, queries, args.k, least)
            found = index.search(queries, args.k)
            got = {
                "build_s": built,
                "bytes_per_image": (index.nbytes + graph) / index.images,
                "resident_bytes_per_image": resident / index.images,
                "queries_per_s": speed,
                "queries_per_s_first_pass": cold,
                "source_recall": source_recall(
                    [[(i, sim) for i, sim, _ in a] for a in found],
                    sources,
                    args.min_similarity,
                    same,
                ),
            }
            if index.kind == "flat":
                return got
            if exact is None:
                exact = exact_search(vectors, owners, queries, args.k)
            got["exact_source_recall"] = source_recall(
                exact, sources, args.min_similarity, same
            )
            hits = sum(
                len({i for i, _, _ in a} & {i for i, _ in b})
                for a, b in zip(found, exact, strict=True)
            )
            got["recall_vs_exact"] = hits / sum(len(b) for b in exact)
            close = [
                (q, i)
                for q, b in enumerate(exact)
                for i, sim in b
                if sim >= args.min_similarity
            ]
            pairs = {(q, i) for q, a in enumerate(found) for i, _, _ in a}
            got["close_neighbours"] = len(close)
            got["recall_close_vs_exact"] = (
                sum(pair in pairs for pair in close) / len(close) if close else None
            )
            return got

        for kind in args.kinds:
            hnsw_min, ivfpq_min = minimums[kind]
            t0 = time.perf_counter()
            index = descindex.DescriptorIndex.from_arrays(
                vectors, owners, regions, hnsw_min=hnsw_min, ivfpq_min=ivfpq_min
            )
            built = time.perf_counter() - t0
            graph = 0
            if kind == "hnsw":
                graph = index._index.hnsw.neighbors.size() * 4
            resident = len(index) * vectors.shape[1] * 4 + graph
            if kind == "ivfpq":
                with tempfile.TemporaryDirectory(dir=dataset.CACHE) as tmp:
                    index.save(Path(tmp) / "d")
                    del index
                    index = descindex.DescriptorIndex.load(Path(tmp) / "d")
                    resident = (
                        list_bytes(index) + index.owners.nbytes + index.regions.nbytes
                    )
                    for factor in args.rerank_factor:
                        descindex.RERANK_FACTOR = factor
                        index.__dict__.pop("_params", None)
                        name = (
                            kind
                            if len(args.rerank_factor) == 1
                            else f"{kind} x{factor}"
                        )
                        out[name] = measure(index, built, resident, graph)
                        log(f"{size:,} {name}: {json.dumps(out[name])}")
            else:
                out[kind] = measure(index, built, resident, graph)
                log(f"{size:,} {kind}: {json.dumps(out[kind])}")
            del index
        results["sizes"][str(size)] = out
    args.out.write_text(json.dumps(results, indent=1))
    print(f"\nsearches timed with min_similarity {least}; IVF codes {args.ivf_codes}")
    print(
        "| vectors | index | build s | bytes/image (resident) | q/s, 1 core "
        f"| recall@8 vs exact | recall@8, similarity >= {args.min_similarity} "
        "| source found (index / exact) |"
    )
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for size, out in results["sizes"].items():
        for kind, v in out.items():
            rec = v.get("recall_vs_exact")
            close = v.get("recall_close_vs_exact")
            near = "" if close is None else f"{close:.4f} of {v['close_neighbours']:,}"
            print(
                f"| {int(size):,} | {kind} | {v['build_s']:.0f} "
                f"| {v['resident_bytes_per_image']:,.0f} | {v['queries_per_s']:,.0f} "
                f"| {'' if rec is None else f'{rec:.4f}'} "
                f"| {near} | {v['source_recall']:.4f} / "
                f"{v.get('exact_source_recall', v['source_recall']):.4f} |"
            )


if __name__ == "__main__":
    main()
