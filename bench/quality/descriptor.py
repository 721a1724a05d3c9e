"""The copy-detection descriptor on the matching-quality benchmark, beside the
hash pipeline, in the same run.

    .venv/bin/python bench/quality/descriptor.py              # full run
    .venv/bin/python bench/quality/descriptor.py --quick      # smoke run
    .venv/bin/python bench/quality/descriptor.py --model PATH # another model
    .venv/bin/python bench/quality/descriptor.py --report RESULTS.json
    .venv/bin/python bench/quality/descriptor.py --min-alignment 0.95  # + dense

Same images, split, edits, derivative exclusions and row encoding as run.py
(it is imported): --registered images are registered, every registered image
is edited by every transform, the distractors' own files are unrelated rows.

What it measures, per transform:
- candidate recall of the hash stage as the engine runs it at the settings'
  defaults (scheme, PDQ and pHash radii), of the descriptor stage (the source
  among the k nearest registered images by the best region x query form, at
  or above descriptor_min) at several k and thresholds, and of their union;
- removing-level recall: candidate and verified (workers/engine/verify.py,
  the engine's plain-then-mirror tries, perceptual.verification_passes at the
  default inliers / agreement / coverage), for the hash pipeline alone and
  with the descriptor (on a sample of registered images, as run.py does);
- `possible`: candidates verification fails whose similarity reaches
  descriptor_possible (listed, not removed).
Unrelated, measured:
- the similarity of every unrelated (row, registered image) pair, plus every
  distractor row against every other distractor's regions (about 200M pairs
  at the defaults): its tail, the per-pair rate above each threshold, and the
  share of rows with an unrelated candidate;
- the false-pass rate of verification on look-alikes: a sample of the
  descriptor's nearest unrelated candidates (--lookalikes pairs), verified as
  the engine does; the same for the hash stage's unrelated candidates;
- region sets and query forms compared on the same vectors (which regions
  earn their place).
Speed (one core, thread CPU time): decode + hashes + descriptor per row with
no candidate, the descriptor alone, and verification per pair.

Vectors and verification results are cached under var/bench/quality/cache,
keyed by the model's version and the engine code's digest.
"""

from __future__ import annotations

import os
import sys

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run  # noqa: E402  (puts the project root on sys.path)
from run import Store, dataset, log, transforms  # noqa: E402

from workers.engine import descriptor, fingerprint, perceptual, verify  # noqa: E402
from workers.engine.images import decode_image  # noqa: E402

# The engine's defaults (config/settings.py), the baseline this compares with.
HASH_SCHEME, HASH_PDQ, HASH_PHASH = "dihedral+rotx+crops", 40, 8
DEFAULTS = perceptual.Levels()
# --min-alignment: verification runs with the dense alignment at this figure,
# and every table gains the decisions with it beside the default's (the
# recorded figures give both: the alignment is recorded where it was tried,
# and it passes at the threshold exactly when the engine's would).
ALIGNMENT: float | None = None
K_VALUES = (1, 2, 4, 8, 16)
SIM_GRID = (0.3, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
# The regions measured for every image (descriptor-v1's six; the engine keeps
# the subset descriptor.REGIONS names, chosen by the table they give).
BOXES: dict[str, tuple[float, float, float, float]] = {
    "whole": (0.0, 0.0, 1.0, 1.0),
    "top-left": (0.0, 0.0, 0.8, 0.8),
    "top-right": (0.2, 0.0, 1.0, 0.8),
    "bottom-left": (0.0, 0.2, 0.8, 1.0),
    "bottom-right": (0.2, 0.2, 1.0, 1.0),
    "centre": (0.1, 0.1, 0.9, 0.9),
}
BOX_NAMES = tuple(BOXES)


def vector_stores(tag: str) -> tuple[str, str]:
    """The cache names of the region vectors and of the rows' vectors: the
    model's version, the code that makes a vector and the boxes measured."""
    boxes = hashlib.sha256(repr(BOXES).encode()).hexdigest()[:6]
    return (
        f"desc-regions-{tag}-{run.DESCRIPTOR_VERSION}-{boxes}",
        f"desc-rows-{tag}-{run.DESCRIPTOR_VERSION}",
    )


REGION_SETS = {
    "whole": ("whole",),
    "whole+centre": ("whole", "centre"),
    "whole+corners": ("whole", "top-left", "top-right", "bottom-left", "bottom-right"),
    "all six": BOX_NAMES,
}
ENGINE_REGIONS = tuple(BOX_NAMES.index(n) for n in descriptor.REGION_NAMES)

_MODEL_PATH: str | None = None


def _model() -> descriptor.Descriptor:
    return descriptor.model(_MODEL_PATH)


def _init(path: str | None) -> None:
    global _MODEL_PATH
    _MODEL_PATH = path


# --- vectors ------------------------------------------------------------------


def _regions_task(entry: dataset.Entry) -> tuple[int, np.ndarray]:
    image = decode_image(run.image_path(entry).read_bytes()).image
    w, h = image.size
    crops = [
        image.crop((round(a * w), round(b * h), round(c * w), round(d * h)))
        if (a, b, c, d) != (0.0, 0.0, 1.0, 1.0)
        else image
        for a, b, c, d in BOXES.values()
    ]
    return entry.index, _model().embed(crops).astype(np.float16)


def _row_task(task: tuple[dataset.Entry, str | None, int]) -> tuple[Any, Any]:
    entry, name, seed = task
    image = decode_image(run.row_of(entry, name, seed)).image
    forms = fingerprint.descriptor_queries(image)
    vectors = _model().embed(list(forms.values())).astype(np.float16)
    return (entry.index, name, seed if name else 0), (tuple(forms), vectors)


def fill(store: Store, fn: Any, tasks: list, keys: list, jobs: int, label: str):
    """Store.fill with the model path passed to the pool's processes."""
    todo = [(k, t) for k, t in zip(keys, tasks, strict=True) if k not in store.data]
    if not todo:
        return
    log(f"{label}: {len(todo):,} to compute ({len(keys) - len(todo):,} cached)")
    t0 = time.perf_counter()
    with multiprocessing.Pool(jobs, initializer=_init, initargs=(_MODEL_PATH,)) as p:
        for n, (key, value) in enumerate(
            p.imap_unordered(fn, [t for _, t in todo], chunksize=8), 1
        ):
            store.data[key] = value
            if n % 4000 == 0 or n == len(todo):
                store.save()
                log(f"  {n:,}/{len(todo):,} ({n / (time.perf_counter() - t0):.1f}/s)")


def similarity(
    queries: list[tuple[tuple[str, ...], np.ndarray]],
    regions: np.ndarray,
    region_idx: tuple[int, ...],
    forms: tuple[str, ...] = ("whole", "trimmed"),
) -> np.ndarray:
    """(nq, nr) best cosine over the query's forms x the chosen regions."""
    nr = regions.shape[0]
    reg = regions[:, region_idx, :].astype(np.float32).reshape(-1, regions.shape[2])
    out = np.full((len(queries), nr), -1.0, np.float32)
    step = 2048
    for start in range(0, len(queries), step):
        part = queries[start : start + step]
        for f in forms:
            rows = [i for i, (names, _) in enumerate(part) if f in names]
            if not rows:
                continue
            q = np.stack([part[i][1][part[i][0].index(f)] for i in rows]).astype(
                np.float32
            )
            s = (q @ reg.T).reshape(len(rows), nr, len(region_idx)).max(axis=2)
            idx = np.array(rows) + start
            out[idx] = np.maximum(out[idx], s)
    return out


def ranks_of_source(s: np.ndarray, lay: run.Layout, exclude: np.ndarray) -> np.ndarray:
    """Per positive row: how many non-excluded registered images score higher
    than its source (0 = the source is the nearest)."""
    pos = np.flatnonzero(lay.source >= 0)
    src_s = s[pos, lay.source[pos]]
    other = np.where(exclude[pos], -np.inf, s[pos])
    return (other > src_s[:, None]).sum(axis=1)


def scale_model(
    hist: np.ndarray, bins: np.ndarray, src_s: np.ndarray, tix: np.ndarray, k: int
) -> dict[str, Any]:
    """Candidate recall@k and unrelated candidates per row at larger registries
    [extrapolated], from the measured unrelated similarities (as run.py's
    scale_model does for hash distances).

    An edited row keeps its source among its k nearest when fewer than k
    unrelated images score at least its source's similarity; their number is
    Poisson with mean images * P(unrelated pair >= that similarity). Where no
    measured unrelated pair reaches a similarity, the rate is taken at its 95 %
    upper bound (3 / pairs): pessimistic. A row's unrelated candidates at a
    threshold t: min(k, images * P(unrelated pair >= t)).
    """
    from scipy.stats import poisson

    pairs = hist.sum()
    above = hist[::-1].cumsum()[::-1] / pairs  # P(sim >= lower edge of bin i)
    floor = run.upper95(0, int(pairs))
    b = np.clip(np.searchsorted(bins, src_s, side="right") - 1, 0, len(hist) - 1)
    p_src = np.maximum(above[b], floor)
    out: dict[str, Any] = {}
    for images in (10_000, 1_000_000, 10_000_000, 80_000_000):
        entry: dict[str, Any] = {"recall_at_k": {}, "unrelated_candidates_per_row": {}}
        for t in SIM_GRID:
            keep = src_s >= t
            found = keep * poisson.cdf(k - 1, images * p_src)
            entry["recall_at_k"][str(t)] = {
                name: float(found[tix == i].mean())
                for i, name in enumerate(transforms.TRANSFORMS)
            }
            bt = int(np.searchsorted(bins, t - 1e-9))
            rate = max(float(above[bt]) if bt < len(above) else 0.0, floor)
            entry["unrelated_candidates_per_row"][str(t)] = min(k, images * rate)
        out[str(images)] = entry
    return out


# --- verification ---------------------------------------------------------------

VERIFY_KEY = run.VERIFY_VERSION


def _verify_task(task: tuple[dataset.Entry, str | None, int, list[int]]) -> list:
    """The engine's check (as snapshot._Verifier): plain, then mirrored."""
    entry, name, seed, refs = task
    t0 = time.thread_time()
    image = decode_image(run.row_of(entry, name, seed)).image
    plain_q = verify.extract(image)
    extract_s = time.thread_time() - t0
    mirrored_q: list = []  # made once, when a pair first needs the mirror

    def mirrored() -> verify.Features:
        nonlocal extract_s
        if not mirrored_q:
            t1 = time.thread_time()
            mirrored_q.append(verify.extract(image, mirrored=True))
            extract_s += time.thread_time() - t1
        return mirrored_q[0]

    out = []
    for ref in refs:
        t0 = time.thread_time()
        before = extract_s
        best = verify.verify(
            plain_q,
            run._features(ref),
            min_inliers=DEFAULTS.min_inliers,
            min_agreement=DEFAULTS.min_agreement,
            min_coverage=DEFAULTS.min_coverage,
            min_alignment=ALIGNMENT,
            mirrored_query=mirrored,
        )
        # the mirror's extraction counts once, in extract_s
        seconds = time.thread_time() - t0 - (extract_s - before)
        key = ((entry.index, name, seed if name else 0), ref)
        out.append(
            (
                key,
                (
                    best.inliers,
                    best.agreement,
                    best.coverage,
                    seconds,
                    extract_s,
                    best.alignment,
                ),
            )
        )
    return out


def run_verifications(
    entries: list[dataset.Entry], pairs: list, jobs: int, label: str
) -> Store:
    """run.py's, with the engine's whole decision recorded per pair."""
    return run.run_verifications(
        entries,
        pairs,
        jobs,
        label,
        task=_verify_task,
        store_name=f"verify-engine-{VERIFY_KEY}"
        + ("" if ALIGNMENT is None else f"-align{ALIGNMENT:g}"),
    )


def _passes_by_row(lay: Any, lq: Any, lr: Any, look: Any, pos_v: dict, verdict: Any):
    """Where the look-alike passes fall: rows of no registered image (a row
    removed that should not be) or copies of a registered image (removed
    anyway; the other image is a wrong name on it), and, on the rows of the
    verification sample, how many are weaker than the row's own source
    (fewer inliers, no better agreement): a rule keeping a row's strongest
    match would take those off the row's report."""
    unrelated_rows = set()
    on_copies = 0
    sample_passes = weaker = 0
    for q, r, passed in zip(lq, lr, look, strict=True):
        if not passed:
            continue
        if lay.source[q] < 0:
            unrelated_rows.add(int(q))
            continue
        on_copies += 1
        if q not in pos_v:
            continue
        sample_passes += 1
        own, other = pos_v[q], verdict(q, r)
        if passes(own) and other[0] < own[0]:
            own_a = 2.0 if own[1] is None else own[1]
            if (2.0 if other[1] is None else other[1]) <= own_a:
                weaker += 1
    rows = int(np.sum(lay.source < 0))
    return {
        "passes_on_unrelated_rows": int(sum(look)) - on_copies,
        "unrelated_rows_passed": len(unrelated_rows),
        "unrelated_rows": rows,
        "passes_on_copies": on_copies,
        "sample_passes_on_copies": sample_passes,
        "sample_passes_weaker_than_source": weaker,
    }


def passes(value: tuple, levels: perceptual.Levels = DEFAULTS) -> bool:
    """The engine's decision from a pair's recorded figures (a store written
    before the dense alignment has no sixth figure)."""
    inliers, agreement, coverage = value[:3]
    return levels.verification_passes(
        inliers=inliers,
        agreement=agreement,
        coverage=coverage,
        alignment=value[5] if len(value) > 5 else None,
    )


# --- speed -------------------------------------------------------------------------


def speed(entries: list[dataset.Entry], rows: list[int], repeat: int) -> dict:
    """One thread: CPU seconds per row for decode + hashes (the engine's
    query_fingerprints) with and without the descriptor, and the model alone."""
    datas = [run.image_path(entries[i]).read_bytes() for i in rows]
    model = _model()
    fingerprint.query_fingerprints(datas[0], descriptor=True)  # warm up
    out: dict[str, list[float]] = {"hashes": [], "hashes+descriptor": [], "model": []}
    for _ in range(repeat):
        t0 = time.thread_time()
        for d in datas:
            fingerprint.query_fingerprints(d)
        out["hashes"].append(len(datas) / (time.thread_time() - t0))
        # as the engine does: a batch's forms are embedded in one call
        t0 = time.thread_time()
        for start in range(0, len(datas), descriptor.BATCH):
            forms = []
            for d in datas[start : start + descriptor.BATCH]:
                q = fingerprint.query_fingerprints(d, descriptor=True)
                forms += q.descriptor_images.values()
            model.embed(forms)
        out["hashes+descriptor"].append(len(datas) / (time.thread_time() - t0))
        images = [decode_image(d).image for d in datas]
        t0 = time.thread_time()
        model.embed(images)
        out["model"].append(len(datas) / (time.thread_time() - t0))
    return {
        "rows": len(datas),
        "repeat": repeat,
        "rows_per_s": {k: statistics.median(v) for k, v in out.items()},
        "all": out,
    }


# --- main -------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None, help="ONNX model (default: shipped)")
    p.add_argument("--registered", type=int, default=2_000)
    p.add_argument("--images", type=int, default=0, help="0: all in the dataset")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--verify-sample", type=int, default=500, help="registered images")
    p.add_argument("--lookalikes", type=int, default=100_000)
    p.add_argument("--hash-unrelated", type=int, default=8_000)
    p.add_argument("--speed-rows", type=int, default=300)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", type=Path, default=dataset.CACHE / "descriptor.json")
    p.add_argument("--report", type=Path)
    p.add_argument(
        "--min-alignment",
        type=float,
        help="also measure the dense alignment at this figure (MATCH_MIN_ALIGNMENT)",
    )
    args = p.parse_args()
    if args.quick:
        args.images = args.images or 1_200
        args.registered = min(args.registered, 300)
        args.verify_sample = min(args.verify_sample, 40)
        args.lookalikes = min(args.lookalikes, 1_000)
        args.hash_unrelated = min(args.hash_unrelated, 500)
        args.speed_rows = min(args.speed_rows, 60)
        args.repeat = 1
        if args.out == dataset.CACHE / "descriptor.json":
            args.out = dataset.CACHE / "descriptor-quick.json"
    return args


def main() -> None:
    args = parse_args()
    if args.report:
        report(json.loads(args.report.read_text()))
        return
    _init(args.model)
    global ALIGNMENT
    ALIGNMENT = args.min_alignment
    dense = dataclasses.replace(DEFAULTS, min_alignment=ALIGNMENT)
    started = time.perf_counter()
    entries, index = dataset.load()
    args.images = args.images or len(entries)
    registered, distractors = run.split(
        entries, args.images, args.registered, args.seed
    )
    lay = run.layout(registered, distractors, args.seed)
    derivatives = run.load_derivatives(entries)
    exclude = run.exclusion(lay, derivatives)
    model_version = descriptor.Descriptor(args.model).info.version
    log(
        f"{len(registered):,} registered, {len(distractors):,} distractors, "
        f"{len(lay.keys):,} rows; model {model_version}"
    )
    results: dict[str, Any] = {
        "args": {
            k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()
        },
        "machine": run.machine(),
        "model": model_version,
        "regions": list(descriptor.REGION_NAMES),  # the engine's; BOXES measured
        "registered": len(registered),
        "distractors": len(distractors),
        "rows": len(lay.keys),
        "transforms": list(transforms.TRANSFORMS),
    }
    tag = model_version.replace(":", "-")

    # 1. the hash stage, as run.py computes it
    rows, variants = run.compute_prints(
        entries, registered, distractors, args.seed, args.jobs
    )
    scheme = next(m for m in run.methods() if m.name == f"scheme:{HASH_SCHEME}")
    phash = next(m for m in run.methods() if m.name == "phash")
    d_pdq, _ = run.distance_matrix(scheme, lay, rows, variants, exclude)
    d_phash, _ = run.distance_matrix(phash, lay, rows, variants, exclude)
    hash_cand = (d_pdq <= HASH_PDQ) | (d_phash <= HASH_PHASH)
    del d_pdq, d_phash

    # 2. descriptors: every image's regions, every row's forms
    regions_name, rows_name = vector_stores(tag)
    reg_store = Store(regions_name)
    every = registered + distractors
    fill(
        reg_store,
        _regions_task,
        [entries[i] for i in every],
        every,
        args.jobs,
        "regions",
    )
    row_store = Store(rows_name)
    tasks = [(entries[k[0]], k[1], args.seed) for k in lay.keys]
    fill(row_store, _row_task, tasks, lay.keys, args.jobs, "row descriptors")
    queries = [row_store.data[k] for k in lay.keys]
    regions = np.stack([reg_store.data[i] for i in registered])
    all_idx = ENGINE_REGIONS  # what the engine stores
    s = similarity(queries, regions, all_idx)
    pos = np.flatnonzero(lay.source >= 0)
    src = lay.source[pos]
    tix = lay.transform[pos]
    rank = ranks_of_source(s, lay, exclude)
    src_s = s[pos, src]

    # 3. candidate recall per transform
    def per_transform(mask: np.ndarray) -> dict[str, float]:
        return {
            name: float(mask[tix == t].mean())
            for t, name in enumerate(transforms.TRANSFORMS)
        }

    cand: dict[str, dict[str, float]] = {"hash": per_transform(hash_cand[pos, src])}
    for k in K_VALUES:
        cand[f"descriptor@{k}"] = per_transform(
            (rank < k) & (src_s >= DEFAULTS.descriptor_min)
        )
    desc_c = (rank < DEFAULTS.descriptor_k) & (src_s >= DEFAULTS.descriptor_min)
    cand["hash+descriptor@8"] = per_transform(desc_c | hash_cand[pos, src])
    results["candidate_recall"] = cand
    # region sets and query forms, recall@8
    by_regions = {}
    for name, names in REGION_SETS.items():
        idx = tuple(BOX_NAMES.index(n) for n in names)
        for forms in (("whole",), ("whole", "trimmed")):
            sub = similarity(queries, regions, idx, forms)
            r = ranks_of_source(sub, lay, exclude)
            by_regions[f"{name} / {'+'.join(forms)}"] = per_transform(r < 8)
    results["recall_at_8_by_regions"] = by_regions

    # 4. unrelated similarity: tail per pair, and rows with an unrelated candidate
    unrel = ~exclude
    bins = np.linspace(-1, 1, 2001)
    hist = np.histogram(s[unrel], bins=bins)[0].astype(np.int64)
    top_unrel = np.where(unrel, s, -1).max(axis=1)
    # distractor rows against other distractors' regions: more unrelated pairs
    d_regions = np.stack([reg_store.data[i] for i in distractors])
    d_rows = queries[: len(distractors)]  # layout() puts the distractors first
    d_pos = {i: n for n, i in enumerate(distractors)}
    extra_pairs = 0
    step = 1000
    for start in range(0, len(distractors), step):
        part = d_rows[start : start + step]
        sd = similarity(part, d_regions, all_idx)
        mask = np.ones_like(sd, dtype=bool)
        for j in range(len(part)):
            mask[j, start + j] = False
        for pair in derivatives:
            a, b = tuple(pair)
            for x, y in ((a, b), (b, a)):
                if x in d_pos and y in d_pos and start <= d_pos[x] < start + step:
                    mask[d_pos[x] - start, d_pos[y]] = False
        hist += np.histogram(sd[mask], bins=bins)[0]
        extra_pairs += int(mask.sum())
    total_pairs = int(hist.sum())
    above = hist[::-1].cumsum()[::-1]  # pairs with similarity >= bin's lower edge
    tail = {}
    for t in SIM_GRID:
        b = int(np.searchsorted(bins, t - 1e-9))
        n_above = int(above[b]) if b < len(above) else 0
        tail[str(t)] = {
            "pairs": n_above,
            "per_pair": n_above / total_pairs,
            "upper95": run.upper95(n_above, total_pairs),
            "rows_with_unrelated_candidate": float((top_unrel >= t).mean()),
            "recall_at_8": per_transform((rank < 8) & (src_s >= t)),
        }
    results["unrelated"] = {
        "pairs": total_pairs,
        "registry_pairs": int(unrel.sum()),
        "distractor_pairs": extra_pairs,
        "max": float(bins[np.flatnonzero(hist)[-1] + 1]) if hist.any() else None,
        "quantiles_rows_top1": {
            str(q): float(np.quantile(top_unrel, q)) for q in (0.5, 0.9, 0.99, 0.999)
        },
        "positives_source_similarity": {
            name: float(np.median(src_s[tix == t]))
            for t, name in enumerate(transforms.TRANSFORMS)
        },
        "by_threshold": tail,
        "hist_from_0": hist[1000:].tolist(),
    }
    log(f"unrelated pairs: {total_pairs:,}")
    results["scale_model"] = scale_model(hist, bins, src_s, tix, DEFAULTS.descriptor_k)

    # 5. verification: a sample of positives; look-alikes; hash candidates
    rng = np.random.default_rng((args.seed, 11))  # run.py's sample
    sample_r = rng.choice(
        len(registered), min(args.verify_sample, len(registered)), replace=False
    )
    sample_q = np.flatnonzero(np.isin(lay.source, sample_r))
    rng = np.random.default_rng((args.seed, 23))
    k = DEFAULTS.descriptor_k
    order = np.argsort(-np.where(exclude, -np.inf, s), axis=1)[:, :k]
    lq = np.repeat(np.arange(len(lay.keys)), k)
    lr = order.reshape(-1)
    ok = ~exclude[lq, lr] & (s[lq, lr] >= DEFAULTS.descriptor_min)
    lq, lr = lq[ok], lr[ok]
    lookalikes_total = len(lq)
    if len(lq) > args.lookalikes:
        pick = np.sort(rng.choice(len(lq), args.lookalikes, replace=False))
        lq, lr = lq[pick], lr[pick]
    hq, hr = np.nonzero(hash_cand & unrel)
    hash_unrel_total = len(hq)
    if len(hq) > args.hash_unrelated:
        pick = np.sort(rng.choice(len(hq), args.hash_unrelated, replace=False))
        hq, hr = hq[pick], hr[pick]
    jobs = [(lay.keys[q], registered[lay.source[q]]) for q in sample_q]
    jobs += [(lay.keys[q], registered[r]) for q, r in zip(lq, lr, strict=True)]
    jobs += [(lay.keys[q], registered[r]) for q, r in zip(hq, hr, strict=True)]
    ver = run_verifications(entries, jobs, args.jobs, "verification")

    def verdict(q: int, r: int) -> tuple:
        return ver.data[(lay.keys[q], registered[r])]

    sampled = np.isin(pos, sample_q)
    pos_v = {q: verdict(q, lay.source[q]) for q in sample_q}
    passed = np.array([passes(pos_v[q]) if q in pos_v else False for q in pos])

    def by_edit(values: np.ndarray) -> dict[str, float]:
        """The share of the verification sample's rows, per edit."""
        return {
            n: float(values[sampled & (tix == t)].mean())
            for t, n in enumerate(transforms.TRANSFORMS)
        }

    levels_table: dict[str, dict[str, float]] = {}
    for name, candidate in (
        ("hash pipeline", hash_cand[pos, src]),
        ("hash+descriptor pipeline", desc_c | hash_cand[pos, src]),
    ):
        levels_table[f"{name}: candidate"] = by_edit(candidate)
        levels_table[f"{name}: removed"] = by_edit(candidate & passed)
    possible = desc_c & ~passed & (src_s >= DEFAULTS.descriptor_possible)
    levels_table["hash+descriptor pipeline: possible (not removed)"] = by_edit(possible)
    levels_table["verification alone (source given)"] = by_edit(passed)
    if ALIGNMENT is not None:
        label = f"dense alignment {ALIGNMENT:g}"
        aligned = np.array(
            [passes(pos_v[q], dense) if q in pos_v else False for q in pos]
        )
        removed = (desc_c | hash_cand[pos, src]) & aligned
        levels_table[f"hash+descriptor pipeline, {label}: removed"] = by_edit(removed)
        levels_table[f"verification alone, {label}"] = by_edit(aligned)
    results["levels"] = levels_table

    look = np.array([passes(verdict(q, r)) for q, r in zip(lq, lr, strict=True)])
    look_inl = np.array([verdict(q, r)[0] for q, r in zip(lq, lr, strict=True)])
    look_s = s[lq, lr]
    hash_pass = np.array([passes(verdict(q, r)) for q, r in zip(hq, hr, strict=True)])
    n_rows = len(lay.keys)
    results["lookalikes"] = {
        "candidates_total": lookalikes_total,
        "candidates_per_row": lookalikes_total / n_rows,
        "verified": len(lq),
        "passed": int(look.sum()),
        "false_pass_rate": float(look.mean()) if len(look) else None,
        "false_pass_upper95": run.upper95(int(look.sum()), len(look)),
        "passed_pairs": [
            [lay.keys[q][0], lay.keys[q][1], registered[r], float(s[q, r])]
            for q, r, p in zip(lq, lr, look, strict=True)
            if p
        ],
        "inliers_hist": np.bincount(look_inl).tolist() if len(look_inl) else [],
        "possible_per_row": {
            str(t): float(
                ((look_s >= t) & ~look).sum() / len(lq) * lookalikes_total / n_rows
            )
            for t in SIM_GRID
        },
        "hash_candidates_total": hash_unrel_total,
        "hash_candidates_per_row": hash_unrel_total / n_rows,
        "hash_verified": len(hq),
        "hash_passed": int(hash_pass.sum()),
        "hash_false_pass_rate": float(hash_pass.mean()) if len(hash_pass) else None,
        "hash_false_pass_upper95": run.upper95(int(hash_pass.sum()), len(hash_pass)),
    }
    results["lookalikes"].update(_passes_by_row(lay, lq, lr, look, pos_v, verdict))
    if ALIGNMENT is not None:
        results["lookalikes"]["min_alignment"] = ALIGNMENT
        results["lookalikes"]["passed_aligned"] = sum(
            passes(verdict(q, r), dense) for q, r in zip(lq, lr, strict=True)
        )
        results["lookalikes"]["hash_passed_aligned"] = sum(
            passes(verdict(q, r), dense) for q, r in zip(hq, hr, strict=True)
        )
    seconds = [pos_v[q][3] + pos_v[q][4] for q in sample_q]
    results["verify_ms_per_pair_median"] = (
        1000 * statistics.median(seconds) if seconds else None
    )

    # 6. speed, one thread
    held = distractors[: args.speed_rows]
    results["speed"] = speed(entries, held, args.repeat)
    results["seconds"] = time.perf_counter() - started
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, default=float))
    report(results)
    log(f"results: {args.out}")


# --- report ------------------------------------------------------------------------


def _table(title: str, rows: dict[str, dict[str, float]], names: list[str]) -> None:
    print(f"\n{title}\n")
    short = [run.SHORT.get(n, n) for n in names]
    print("| | " + " | ".join(short) + " | mean | min |")
    print("| --- |" + " ---: |" * (len(names) + 2))
    for label, values in rows.items():
        v = [values[n] for n in names]
        print(
            f"| {label} | "
            + " | ".join(f"{x:.2f}" for x in v)
            + f" | {np.mean(v):.3f} | {min(v):.2f} |"
        )


def report(r: dict[str, Any]) -> None:
    names = r["transforms"]
    print(
        f"\nModel {r['model']}; {r['registered']:,} registered, "
        f"{r['distractors']:,} distractors, {r['rows']:,} rows."
    )
    _table(
        "Candidate recall per transform (all rows) [measured]",
        r["candidate_recall"],
        names,
    )
    _table("Pipeline levels (verification sample) [measured]", r["levels"], names)
    _table(
        "Descriptor recall@8 by region set / query forms [measured]",
        r["recall_at_8_by_regions"],
        names,
    )
    u = r["unrelated"]
    print(
        f"\nUnrelated pairs: {u['pairs']:,} "
        f"({u['registry_pairs']:,} rows x registered, "
        f"{u['distractor_pairs']:,} distractor rows x other distractors); "
        f"max similarity {u['max']}"
    )
    print(
        "\n| similarity >= | unrelated pairs | per pair | upper 95 % "
        "| rows with an unrelated candidate (k=8) | recall@8 min | mean |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for t, v in u["by_threshold"].items():
        rec = list(v["recall_at_8"].values())
        print(
            f"| {t} | {v['pairs']:,} | {v['per_pair']:.2e} | {v['upper95']:.2e} "
            f"| {v['rows_with_unrelated_candidate']:.3f} | {min(rec):.2f} "
            f"| {np.mean(rec):.3f} |"
        )
    print(
        "\nMedian similarity of a row to its source: "
        + ", ".join(
            f"{run.SHORT.get(k, k)} {v:.2f}"
            for k, v in u["positives_source_similarity"].items()
        )
    )
    sm = r.get("scale_model", {})
    if sm:
        print(
            "\nScale model [extrapolated]: descriptor candidate recall@8 (min / mean "
            "over transforms) and unrelated candidates per row, by registry size "
            "and descriptor_min\n"
        )
        sizes = list(sm)
        print("| descriptor_min | " + " | ".join(f"{int(n):,}" for n in sizes) + " |")
        print("| ---: |" + " ---: |" * len(sizes))
        for t in SIM_GRID:
            cells = []
            for n in sizes:
                rec = list(sm[n]["recall_at_k"][str(t)].values())
                c = sm[n]["unrelated_candidates_per_row"][str(t)]
                cells.append(f"{min(rec):.2f} / {np.mean(rec):.2f}, {c:.2g}")
            print(f"| {t} | " + " | ".join(cells) + " |")
    lk = r["lookalikes"]
    print(
        f"\nLook-alikes (the descriptor's k nearest unrelated images): "
        f"{lk['candidates_total']:,} ({lk['candidates_per_row']:.2f} per row), "
        f"{lk['verified']:,} verified, {lk['passed']} passed: false-pass rate "
        f"{lk['false_pass_rate']:.2e} (upper 95 % {lk['false_pass_upper95']:.2e}). "
        f"Hash stage's unrelated candidates: {lk['hash_candidates_total']:,} "
        f"({lk['hash_candidates_per_row']:.3f} per row), "
        f"{lk['hash_verified']:,} verified, "
        f"{lk['hash_passed']} passed ({lk['hash_false_pass_rate']:.2e}, upper 95 % "
        f"{lk['hash_false_pass_upper95']:.2e})."
    )
    if "unrelated_rows" in lk:
        print(
            f"Of the passes, {lk['passes_on_unrelated_rows']:,} are on rows of no "
            f"registered image ({lk['unrelated_rows_passed']:,} of "
            f"{lk['unrelated_rows']:,} such rows removed; in a sample, scale by "
            f"candidates/verified) and {lk['passes_on_copies']:,} on copies of "
            "another registered image (removed anyway, under a wrong name too); "
            "on the verification sample's copies "
            f"{lk['sample_passes_weaker_than_source']} of "
            f"{lk['sample_passes_on_copies']} such passes are weaker than the "
            "copy's own source (fewer inliers, no better agreement)."
        )
    if "passed_aligned" in lk:
        print(
            f"With the dense alignment at {lk['min_alignment']:g}: "
            f"{lk['passed_aligned']:,} look-alikes and {lk['hash_passed_aligned']:,} "
            "hash-stage candidates passed."
        )
    print(
        "`possible` per row from unrelated look-alikes, by descriptor_possible: "
        + ", ".join(f"{t}: {v:.3f}" for t, v in lk["possible_per_row"].items())
    )
    sp = r["speed"]["rows_per_s"]
    print(
        f"\nSpeed, one core ({r['speed']['rows']} rows without candidates, median of "
        f"{r['speed']['repeat']}): decode + hashes {sp['hashes']:.0f} rows/s; "
        f"decode + hashes + descriptor {sp['hashes+descriptor']:.0f} rows/s "
        f"({sp['hashes+descriptor'] / sp['hashes']:.2f}x); model alone "
        f"{sp['model']:.0f} images/s; verification "
        f"{r['verify_ms_per_pair_median']:.1f} ms "
        f"per pair (median, query features included). {r['seconds']:.0f} s in all."
    )


if __name__ == "__main__":
    main()
