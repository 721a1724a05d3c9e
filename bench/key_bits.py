"""Key width of the Hamming index at registry sizes beyond 10M (Django-free).

    .venv/bin/python bench/key_bits.py [--n 40000000] [--bits 20 21] [--repeat 3]

The multi-index probes the same number of buckets whatever the size, and
each bucket holds about N / 2**key_bits entries: past ~10M entries a wider
key halves what every probe scans. For PDQ (radius 31) and pHash (radius
8), N uniform random hashes, 20,000 queries (1 in 10 a registered hash,
the rest unrelated), the same index built at each width in the same run:
search time (median of --repeat), queries/s, and the ratio to the first
width. One core (thread pools pinned to 1).
"""

from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workers.engine.hamming import HammingIndex, default_key_bits  # noqa: E402

KINDS = {"pdq": (4, 31), "phash": (1, 8)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=40_000_000)
    parser.add_argument("--bits", type=int, nargs="+", default=[20, 21])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--kinds", nargs="+", default=list(KINDS))
    args = parser.parse_args()
    print(f"{args.n:,} entries; default key width {default_key_bits(args.n)}\n")
    print("| kind | key bits | build s | search 20k s | queries/s | ratio |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for kind in args.kinds:
        words, radius = KINDS[kind]
        rng = np.random.default_rng(args.n)
        hashes = rng.integers(0, 2**63, (args.n, words), np.int64).view(np.uint64)
        hashes <<= np.uint64(1)
        hashes |= rng.integers(0, 2, hashes.shape).astype(np.uint64)
        ids = np.arange(args.n, dtype=np.int64)
        queries = rng.integers(0, 2**63, (20_000, words), np.int64).view(np.uint64)
        queries[::10] = hashes[rng.integers(0, args.n, 2_000)]
        first = None
        found = None
        for bits in args.bits:
            started = time.perf_counter()
            index = HammingIndex.build(hashes, ids, max_radius=radius, key_bits=bits)
            build = time.perf_counter() - started
            index.search(queries[:100], radius)  # compiled or loaded once
            times = []
            for _ in range(args.repeat):
                started = time.thread_time()
                result = index.search(queries, radius)
                times.append(time.thread_time() - started)
            if found is None:
                found = len(result[0])
            assert len(result[0]) == found, "widths disagree"
            spent = statistics.median(times)
            first = first or spent
            print(
                f"| {kind} | {bits} | {build:.0f} | {spent:.2f} "
                f"| {len(queries) / spent:,.0f} | {first / spent:.2f} |",
                flush=True,
            )
            del index


if __name__ == "__main__":
    main()
