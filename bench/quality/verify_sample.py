"""Verification alone on a sample of the benchmark's copies, the source given.

    .venv/bin/python bench/quality/verify_sample.py                 # 150 x 14
    .venv/bin/python bench/quality/verify_sample.py --small 200     # pictures <= 200 px
    .venv/bin/python bench/quality/verify_sample.py --small 200 --kind akaze
    .venv/bin/python bench/quality/verify_sample.py --small 200 --max-side 256

A seeded sample of registered images (run.split's, as descriptor.py draws
them), every edit of each (transforms.py, seed 1), each copy verified against
its own source as the engine does (workers/engine/verify.py: plain, then
mirrored; the default thresholds). Prints the copies verified per edit and
the figures of the ones that failed (--failures). For trying a verification
change in minutes where descriptor.py's full run takes half an hour; the
figures are not descriptor.py's (another sample, no candidate stage).
"""

from __future__ import annotations

import os
import sys

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import multiprocessing  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # noqa: E402  (puts the project root on sys.path)
from run import dataset, transforms  # noqa: E402

from workers.engine import verify  # noqa: E402
from workers.engine.images import decode_image  # noqa: E402

ARGS: argparse.Namespace


def _task(job: tuple[int, str]) -> tuple | None:
    index, name = job
    entry = ENTRIES[index]
    image = decode_image(run.image_path(entry).read_bytes()).image
    if ARGS.small and max(image.size) > ARGS.small:
        return None
    reference = verify.extract(image, kind=ARGS.kind, max_side=ARGS.max_side)
    copy = decode_image(run.row_of(entry, name, 1)).image
    result = verify.verify(copy, reference, max_side=ARGS.max_side)
    return (
        entry.file,
        name,
        image.size,
        copy.size,
        result.inliers,
        result.agreement,
        result.coverage,
        result.verified(),
    )


def main() -> None:
    global ARGS, ENTRIES
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=150, help="registered images")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--small", type=int, default=0, help="only pictures <= this")
    p.add_argument("--kind", choices=verify.KINDS, default=verify.DEFAULT_KIND)
    p.add_argument("--max-side", type=int, default=verify.DEFAULT_MAX_SIDE)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--failures", action="store_true")
    ARGS = p.parse_args()
    ENTRIES, _ = dataset.load()
    registered, _ = run.split(ENTRIES, len(ENTRIES), 2_000, 1)
    rng = np.random.default_rng(ARGS.seed)
    sample = [registered[i] for i in rng.choice(len(registered), ARGS.images, False)]
    jobs = [(i, name) for i in sample for name in transforms.TRANSFORMS]
    with multiprocessing.Pool(ARGS.jobs) as pool:
        out = [o for o in pool.map(_task, jobs, chunksize=4) if o is not None]
    for name in transforms.TRANSFORMS:
        rows = [o for o in out if o[1] == name]
        print(f"{name:20} {sum(o[-1] for o in rows):5} / {len(rows)}")
    print(f"{'all':20} {sum(o[-1] for o in out):5} / {len(out)}")
    if ARGS.failures:
        for o in out:
            if not o[-1]:
                agreement = "-" if o[5] is None else f"{o[5]:.2f}"
                print(
                    f"{o[0]} {o[1]}: {o[2]} -> {o[3]}, inliers {o[4]}, "
                    f"agreement {agreement}, coverage {o[6]:.2f}"
                )


ENTRIES: list = []

if __name__ == "__main__":
    main()
