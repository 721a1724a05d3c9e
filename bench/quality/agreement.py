"""Calibrate verification's appearance check on the benchmark's own pairs.

    .venv/bin/python bench/quality/agreement.py [--per-transform 60]

Run after bench/quality/run.py (it reads that run's cached verification
results). Takes every verified-by-inliers pair from the cache: positives (an
edited row against its own registered image, a sample per transform) and
unrelated candidates with at least 12 inliers that derivatives.txt does not
classify as derivatives. Each pair is verified again with the current
workers/engine/verify.py and the table gives, per class, the share that
passes 16 inliers, and 16 inliers plus agreement >= t for several t. Two
processes.
"""

from __future__ import annotations

import argparse
import glob
import multiprocessing
import os
import pickle
import random
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))

import dataset  # noqa: E402
import run as bench  # noqa: E402

from workers.engine import verify  # noqa: E402
from workers.engine.images import decode_image  # noqa: E402

THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)
_entries: list[dataset.Entry] = []


def _task(item: tuple) -> tuple[str, int, float | None]:
    key, ref, cls = item
    query = decode_image(bench.row_of(_entries[key[0]], key[1], key[2])).image
    reference = decode_image(bench.image_path(_entries[ref]).read_bytes()).image
    result = verify.verify(query, verify.extract(reference))
    return cls, result.inliers, result.agreement


def main() -> None:
    global _entries
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-transform", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    _entries, _ = dataset.load()
    derivatives = bench.load_derivatives(_entries)
    caches = sorted(glob.glob(str(bench.CACHE / "verify-*.pkl")), key=os.path.getmtime)
    if not caches:
        raise SystemExit("run bench/quality/run.py first (no verification cache)")
    with open(caches[-1], "rb") as fh:
        store = pickle.load(fh)
    positives: dict[str, list] = {}
    unrelated = []
    for (key, ref), (inliers, _) in store.items():
        if key[0] == ref:
            if key[1] is not None:
                positives.setdefault(key[1], []).append((key, ref))
        elif inliers >= 12 and frozenset((key[0], ref)) not in derivatives:
            unrelated.append((key, ref, "unrelated"))
    rng = random.Random(args.seed)
    sample = []
    for transform, pairs in sorted(positives.items()):
        rng.shuffle(pairs)
        sample += [(k, r, f"edit: {transform}") for k, r in pairs[: args.per_transform]]
    sample += unrelated
    with multiprocessing.Pool(2) as pool:
        results = pool.map(_task, sample, chunksize=8)

    print(f"cache: {Path(caches[-1]).name}; pairs: {len(results):,}")
    header = "| class | pairs | inliers >= 16 |" + "".join(
        f" and agreement >= {t} |" for t in THRESHOLDS
    )
    print(header)
    print("| --- " * (3 + len(THRESHOLDS)) + "|")
    by_class: dict[str, list[tuple[int, float]]] = {}
    for cls, inliers, agreement in results:
        by_class.setdefault(cls, []).append(
            (inliers, -2.0 if agreement is None else agreement)
        )
    for cls, values in sorted(by_class.items()):
        a = np.array(values)
        enough = a[:, 0] >= 16
        cells = "".join(
            f" {(enough & (a[:, 1] >= t)).mean():.2f} |" for t in THRESHOLDS
        )
        print(f"| {cls} | {len(a):,} | {enough.mean():.2f} |{cells}")


if __name__ == "__main__":
    main()
