"""Verification alone on a sample of the benchmark's copies, the source given.

    .venv/bin/python bench/quality/verify_sample.py                 # 150 x 14
    .venv/bin/python bench/quality/verify_sample.py --small 200     # pictures <= 200 px
    .venv/bin/python bench/quality/verify_sample.py --small 200 --kind akaze
    .venv/bin/python bench/quality/verify_sample.py --small 200 --max-side 256
    .venv/bin/python bench/quality/verify_sample.py --unrelated verify-engine-DIGEST
    .venv/bin/python bench/quality/verify_sample.py --min-alignment 0.95
    .venv/bin/python bench/quality/verify_sample.py --unrelated verify-engine-DIGEST \
        --min-alignment 0.95

A seeded sample of registered images (run.split's, as descriptor.py draws
them), every edit of each (transforms.py, seed 1), each copy verified against
its own source as the engine does (workers/engine/verify.py: plain, then
mirrored; the default thresholds). Prints the copies verified per edit and
the figures of the ones that failed (--failures). For trying a verification
change in minutes where descriptor.py's full run takes half an hour; the
figures are not descriptor.py's (another sample, no candidate stage).

--unrelated NAME: the other side, the unrelated pairs (look-alikes and hash
candidates) of a full descriptor.py run, whose verification results it
cached as var/bench/quality/cache/NAME.pkl. They are verified again with
the working tree's code and compared with the decisions recorded there (at
the default thresholds): passes before and now, new and lost. Only pairs
that recorded at least --recorded-inliers inliers (default the engine's
minimum, or verify.DENSE_MIN_INLIERS with --min-alignment) are verified
again: a change to how the figures become a decision cannot make the others
pass; a change to detection or matching needs --recorded-inliers 0 (all
90,000 pairs, about 15 minutes).

--min-alignment X: both sides with the dense alignment turned on at X
(MATCH_MIN_ALIGNMENT; the recorded decisions are the store's, without it).
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

import descriptor as bench_descriptor  # noqa: E402
import run  # noqa: E402  (puts the project root on sys.path)
from run import dataset, transforms  # noqa: E402

from workers.engine import perceptual, verify  # noqa: E402
from workers.engine.images import decode_image  # noqa: E402

ARGS: argparse.Namespace


def _stored(features: verify.Features) -> verify.Features:
    """As the engine keeps a registered image's features (keypoints to 1/16 px)."""
    return verify.Features.from_bytes(features.to_bytes())


def _task(job: tuple[int, str]) -> tuple | None:
    index, name = job
    entry = ENTRIES[index]
    image = decode_image(run.image_path(entry).read_bytes()).image
    if ARGS.small and max(image.size) > ARGS.small:
        return None
    reference = _stored(verify.extract(image, kind=ARGS.kind, max_side=ARGS.max_side))
    copy = decode_image(run.row_of(entry, name, 1)).image
    result = verify.verify(
        copy, reference, max_side=ARGS.max_side, min_alignment=ARGS.min_alignment
    )
    return (
        entry.file,
        name,
        image.size,
        copy.size,
        result.inliers,
        result.agreement,
        result.coverage,
        result.alignment,
        result.verified(min_alignment=ARGS.min_alignment),
    )


def _unrelated_task(job: tuple[tuple, list[int]]) -> list[tuple]:
    (index, name, seed), references = job
    image = decode_image(run.row_of(ENTRIES[index], name, seed)).image
    query = verify.extract(image)
    mirrored: list = []

    def mirror() -> verify.Features:
        if not mirrored:
            mirrored.append(verify.extract(image, mirrored=True))
        return mirrored[0]

    out = []
    for ref in references:
        result = verify.verify(
            query,
            run._features(ref),
            mirrored_query=mirror,
            min_alignment=ARGS.min_alignment,
        )
        passed = result.verified(min_alignment=ARGS.min_alignment)
        out.append(((index, name, seed), ref, passed))
    return out


def unrelated(name: str) -> None:
    store = run.Store(name)
    if not store.data:
        sys.exit(f"no cached verifications named {name} (run descriptor.py)")
    levels = perceptual.Levels()
    before = {}
    jobs: dict[tuple, list[int]] = {}
    for (key, ref), figures in store.data.items():
        if ref == key[0]:
            continue  # a copy and its own source
        before[key, ref] = bench_descriptor.passes(figures, levels)
        if figures[0] >= ARGS.recorded_inliers:
            jobs.setdefault(key, []).append(ref)
    # The registered images' stored features, as descriptor.py reads them.
    run.compute_features(
        ENTRIES, sorted({r for refs in jobs.values() for r in refs}), ARGS.jobs
    )
    with multiprocessing.Pool(ARGS.jobs) as pool:
        now = {
            (key, ref): passed
            for part in pool.imap_unordered(_unrelated_task, jobs.items(), 8)
            for key, ref, passed in part
        }
    new = sorted(k for k, passed in now.items() if passed and not before[k])
    lost = sorted(k for k, passed in now.items() if before[k] and not passed)
    kept = sum(before[k] for k in before if k not in now)
    print(
        f"unrelated pairs {len(before):,}, verified again {len(now):,}: "
        f"passed before {sum(before.values()):,}, now {kept + sum(now.values()):,} "
        f"({len(new)} new, {len(lost)} lost)"
    )
    if ARGS.failures:
        for label, pairs in (("new", new), ("lost", lost)):
            for (index, edit, _), ref in pairs:
                print(f"{label}: {ENTRIES[index].file} {edit} / {ENTRIES[ref].file}")


def main() -> None:
    global ARGS, ENTRIES
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=150, help="registered images")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--small", type=int, default=0, help="only pictures <= this")
    p.add_argument("--kind", choices=verify.KINDS, default=verify.DEFAULT_KIND)
    p.add_argument("--max-side", type=int, default=verify.DEFAULT_MAX_SIDE)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--failures", action="store_true", help="list them")
    p.add_argument("--unrelated", metavar="NAME", help="a descriptor.py store")
    p.add_argument("--recorded-inliers", type=int)
    p.add_argument(
        "--min-alignment",
        type=float,
        help="turn the dense alignment on at this figure (MATCH_MIN_ALIGNMENT)",
    )
    ARGS = p.parse_args()
    if ARGS.recorded_inliers is None:
        # The dense alignment can pass a pair from DENSE_MIN_INLIERS on.
        floor = perceptual.Levels().min_inliers
        if ARGS.min_alignment is not None:
            floor = min(floor, verify.DENSE_MIN_INLIERS)
        ARGS.recorded_inliers = floor
    ENTRIES, _ = dataset.load()
    if ARGS.unrelated:
        unrelated(ARGS.unrelated)
        return
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
                alignment = "-" if o[7] is None else f"{o[7]:.2f}"
                print(
                    f"{o[0]} {o[1]}: {o[2]} -> {o[3]}, inliers {o[4]}, "
                    f"agreement {agreement}, coverage {o[6]:.2f}, "
                    f"alignment {alignment}"
                )


ENTRIES: list = []

if __name__ == "__main__":
    main()
