"""Matching quality on real artwork: recall per edit, chance matches, scale, speed.

    bash bench/quality/setup.sh                        # Debian packages (root)
    .venv/bin/python bench/quality/run.py              # full run (about an hour)
    .venv/bin/python bench/quality/run.py --quick      # smoke run (minutes)

Data (bench/quality/dataset.py): distinct real images from Debian artwork
packages, normalised to <= 512 px JPEG. A seeded permutation picks --images of
them; the first --registered are registered, the rest are distractors.

Queries are manifest rows (encoded image bytes, as in a tar shard):
- positives: each registered image edited by every transform in
  transforms.TRANSFORMS (seeded per image and transform) and encoded as a row;
- unrelated: every distractor's own file, and every positive row against the
  registered images other than its source.
So the unrelated pairs are distractors x registered plus positives x (registered
minus one): about 73 million at the defaults, for every method.

Methods (all distances are Hamming distances; a pair's distance is the best
over the query's hashes and the registered image's variants):
- phash: imagehash pHash of the decoded row vs of the registered image;
- pdq: PDQ of the decoded row vs of the registered image (no variants);
- scheme:NAME for NAME in perceptual.SCHEMES: the pipeline's PDQ, i.e. the
  prepared query and its mirror (perceptual.query_pdq) against the registered
  image's plain PDQ ("original") plus the scheme's variants of its prepared form;
- pipeline: the two-stage matcher (candidates by PDQ and pHash, geometric
  verification by workers/engine/verify.py, levels by perceptual.level_for) at
  several threshold sets.

Derivative pairs (one image a recoloured, repainted or re-cut version of
another, e.g. openclipart's colour variants) are not chance matches: they are
listed in bench/quality/derivatives.txt (classified by looking at contact
sheets of the closest unrelated pairs, see docs/MATCHING.md) and excluded from
the unrelated pairs.

Fingerprints, transforms' hashes and local features are cached under
var/bench/quality/cache, so a rerun only recomputes what changed.

Figures are labelled measured (counted on the pairs above) or extrapolated
(tail model beyond the measured range, or scaled to registry sizes).
"""

from __future__ import annotations

import os
import sys

for _var in (
    "NUMBA_NUM_THREADS",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import hashlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import multiprocessing  # noqa: E402
import pickle  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import dataset  # noqa: E402
import transforms  # noqa: E402

# imported before the pools fork, so every worker runs the code the caches
# are versioned by (_version below), even if the files change meanwhile
from workers.engine import fingerprint, perceptual, snapshot, verify  # noqa: E402,F401
from workers.engine.images import decode_image  # noqa: E402

CACHE = dataset.CACHE / "cache"
MANIFEST_ROWS = 1_000_000
REGISTRY_SIZES = (1_000_000, 10_000_000, 80_000_000)
ALL_VARIANTS = tuple(dict.fromkeys(v for s in perceptual.SCHEMES.values() for v in s))


def _version(*paths: Path) -> str:
    """Digest of the code a cache depends on: edit it and the cache is rebuilt."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


_ENGINE = ROOT / "workers" / "engine"
HASH_VERSION = _version(
    _ENGINE / "perceptual.py",
    _ENGINE / "fingerprint.py",
    _ENGINE / "images.py",
    _ENGINE / "snapshot.py",
    HERE / "transforms.py",
    dataset.INDEX if dataset.INDEX.exists() else HERE / "dataset.py",
)
VERIFY_VERSION = _version(_ENGINE / "verify.py", _ENGINE / "images.py")
# What makes a descriptor vector of a row or a region (descriptor.py's caches,
# beside the model's version): not the matcher around it, so that a change in
# snapshot.py or verify.py does not cost a 20-minute re-run of the vectors.
DESCRIPTOR_VERSION = _version(
    _ENGINE / "descriptor.py",
    _ENGINE / "fingerprint.py",
    _ENGINE / "perceptual.py",
    _ENGINE / "images.py",
    HERE / "transforms.py",
    dataset.INDEX if dataset.INDEX.exists() else HERE / "dataset.py",
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- fingerprints (cached) ---------------------------------------------------------


@dataclass(frozen=True)
class RowPrint:
    """What the matcher computes from a row's bytes."""

    sha256: bytes
    phash: bytes  # imagehash pHash of the decoded image
    pdq: bytes  # PDQ of the decoded image
    canonical: bytes  # PDQ of perceptual.prepare(image)
    flipx: bytes  # ... and of its mirror
    quality: int  # PDQ quality of the decoded image
    trimmed: bytes  # ... of its trimmed form (= canonical when nothing was cut)


def image_path(entry: dataset.Entry) -> Path:
    return dataset.IMAGES / entry.file


def row_of(entry: dataset.Entry, transform: str | None, seed: int) -> bytes:
    """A row's bytes: the image's file, or its edit by `transform` (seeded)."""
    data = image_path(entry).read_bytes()
    if transform is None:
        return data
    t = list(transforms.TRANSFORMS).index(transform)
    with Image.open(io.BytesIO(data)) as im:
        out, _ = transforms.apply(transform, im.convert("RGB"), (seed, entry.index, t))
    return out


def row_print(data: bytes) -> RowPrint:
    image = decode_image(data).image
    pdq, quality = fingerprint.pdq(image)
    query = perceptual.query_pdq(perceptual.prepare(image))
    return RowPrint(
        sha256=hashlib.sha256(data).digest(),
        phash=fingerprint.phash(image),
        pdq=pdq,
        canonical=query["canonical"],
        flipx=query["flipx"],
        quality=quality,
        trimmed=query.get("trimmed", query["canonical"]),
    )


def _row_task(task: tuple[dataset.Entry, str | None, int]) -> tuple[Any, RowPrint]:
    entry, transform, seed = task
    return (entry.index, transform, seed if transform else 0), row_print(
        row_of(entry, transform, seed)
    )


def _registry_task(entry: dataset.Entry) -> tuple[int, dict[str, bytes]]:
    image = decode_image(image_path(entry).read_bytes()).image
    variants = perceptual.pdq_variants(perceptual.prepare(image), ALL_VARIANTS)
    return entry.index, {k: v[0] for k, v in variants.items()}


def _features_task(task: tuple[dataset.Entry, Path]) -> int:

    entry, path = task
    image = decode_image(image_path(entry).read_bytes()).image
    path.write_bytes(verify.extract(image).to_bytes())
    return entry.index


class Store:
    """A pickled dict on disk, filled in batches by a process pool."""

    def __init__(self, name: str) -> None:
        self.path = CACHE / f"{name}.pkl"
        self.data: dict = {}
        if self.path.exists():
            self.data = pickle.loads(self.path.read_bytes())

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(pickle.dumps(self.data, protocol=5))
        tmp.rename(self.path)

    def fill(self, fn: Any, tasks: list, keys: list, jobs: int, label: str) -> None:
        todo = [(k, t) for k, t in zip(keys, tasks, strict=True) if k not in self.data]
        if not todo:
            return
        log(f"{label}: {len(todo):,} to compute ({len(keys) - len(todo):,} cached)")
        t0 = time.perf_counter()
        with multiprocessing.Pool(jobs) as pool:
            for n, (key, value) in enumerate(
                pool.imap_unordered(fn, [t for _, t in todo], chunksize=8), 1
            ):
                self.data[key] = value
                if n % 2000 == 0 or n == len(todo):
                    self.save()
                    rate = n / (time.perf_counter() - t0)
                    log(f"  {n:,}/{len(todo):,} ({rate:.1f}/s)")


def compute_prints(
    entries: list[dataset.Entry],
    registered: list[int],
    distractors: list[int],
    seed: int,
    jobs: int,
) -> tuple[Store, Store]:
    CACHE.mkdir(parents=True, exist_ok=True)
    rows = Store(f"rows-{HASH_VERSION}")
    tasks = [(entries[i], None, seed) for i in registered + distractors]
    tasks += [(entries[i], t, seed) for i in registered for t in transforms.TRANSFORMS]
    keys = [(e.index, t, seed if t else 0) for e, t, _ in tasks]
    rows.fill(_row_task, tasks, keys, jobs, "row fingerprints")
    variants = Store(f"variants-{HASH_VERSION}")
    regs = [entries[i] for i in registered]
    variants.fill(_registry_task, regs, [e.index for e in regs], jobs, "variants")
    return rows, variants


def compute_features(
    entries: list[dataset.Entry], indices: list[int], jobs: int
) -> None:
    folder = CACHE / f"features-{VERIFY_VERSION}"
    folder.mkdir(parents=True, exist_ok=True)
    todo = [
        (entries[i], folder / f"{i}.npz")
        for i in indices
        if not (folder / f"{i}.npz").exists()
    ]
    if not todo:
        return
    log(f"reference features: {len(todo):,} to extract")
    with multiprocessing.Pool(jobs) as pool:
        for _ in pool.imap_unordered(_features_task, todo, chunksize=8):
            pass


# --- distances -----------------------------------------------------------------


def words(values: list[bytes]) -> np.ndarray:
    """Raw hashes -> (n, W) big-endian uint64 words."""
    raw = np.frombuffer(b"".join(values), dtype=">u8")
    return raw.reshape(len(values), -1).astype(np.uint64)


@numba.njit(cache=True, nogil=True)
def _popcount64(x: np.uint64) -> np.int64:
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + (
        (x >> np.uint64(2)) & np.uint64(0x3333333333333333)
    )
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return np.int64((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


@numba.njit(cache=True, nogil=True)
def min_distances(
    queries: np.ndarray, registry: np.ndarray, valid: np.ndarray, exclude: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Best distance per (query, image), and per-variant distance histograms.

    queries (nq, k, W): k hashes per query; registry (nr, v, W): v variants
    per image; valid (nr, v) marks variants that exist. Returns the (nq, nr)
    uint16 minimum over k x v, and (v, 64W+1) counts of min-over-k distances
    per variant over the (query, image) pairs not marked in `exclude` (nq, nr).
    """
    nq, k, w = queries.shape
    nr, v, _ = registry.shape
    out = np.empty((nq, nr), np.uint16)
    hist = np.zeros((v, 64 * w + 1), np.int64)
    for q in range(nq):
        for r in range(nr):
            best = 1 << 20
            for j in range(v):
                if not valid[r, j]:
                    continue
                bj = 1 << 20
                for a in range(k):
                    d = 0
                    for x in range(w):
                        d += _popcount64(queries[q, a, x] ^ registry[r, j, x])
                    if d < bj:
                        bj = d
                if not exclude[q, r]:
                    hist[j, bj] += 1
                if bj < best:
                    best = bj
            out[q, r] = best
    return out, hist


@dataclass
class Method:
    name: str
    kind: str  # "phash" or "pdq"
    variants: tuple[str, ...]  # registry-side names ("original" = plain hash)
    queries: str  # "plain" or "prepared"
    note: str = ""


def methods() -> list[Method]:
    out = [
        Method(
            "phash", "phash", ("original",), "plain", "imagehash pHash, no variants"
        ),
        Method("pdq", "pdq", ("original",), "plain", "PDQ, no variants"),
    ]
    for name, variants in perceptual.SCHEMES.items():
        out.append(
            Method(
                f"scheme:{name}",
                "pdq",
                ("original", *variants),
                "prepared",
                f"original + {len(variants)} variants; query, trimmed query and mirror",
            )
        )
    return out


@dataclass
class Layout:
    """Which query rows exist and what each is."""

    keys: list[tuple[int, str | None, int]]  # rows Store keys
    source: np.ndarray  # (nq,) position in `registered` of the source, or -1
    transform: np.ndarray  # (nq,) index in TRANSFORMS, -1 for an original
    registered: list[int]  # dataset indices


def layout(registered: list[int], distractors: list[int], seed: int) -> Layout:
    keys: list[tuple[int, str | None, int]] = []
    source: list[int] = []
    tindex: list[int] = []
    for i in distractors:
        keys.append((i, None, 0))
        source.append(-1)
        tindex.append(-1)
    for pos, i in enumerate(registered):
        for t, name in enumerate(transforms.TRANSFORMS):
            keys.append((i, name, seed))
            source.append(pos)
            tindex.append(t)
    return Layout(keys, np.array(source), np.array(tindex), registered)


def distance_matrix(
    method: Method, lay: Layout, rows: Store, variants: Store, exclude: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    prints = [rows.data[k] for k in lay.keys]
    originals = [rows.data[(i, None, 0)] for i in lay.registered]
    if method.queries == "plain":
        attr = "phash" if method.kind == "phash" else "pdq"
        q = words([getattr(p, attr) for p in prints])[:, None, :]
    else:
        q = np.stack(
            [
                words([p.canonical for p in prints]),
                words([p.flipx for p in prints]),
                words([p.trimmed for p in prints]),
            ],
            axis=1,
        )
    w = q.shape[2]
    reg = np.zeros((len(lay.registered), len(method.variants), w), np.uint64)
    valid = np.zeros((len(lay.registered), len(method.variants)), np.bool_)
    for r, i in enumerate(lay.registered):
        for j, name in enumerate(method.variants):
            if name == "original":
                value = getattr(
                    originals[r], "phash" if method.kind == "phash" else "pdq"
                )
            else:
                value = variants.data[i].get(name)
            if value is not None:
                reg[r, j] = words([value])[0]
                valid[r, j] = True
    return min_distances(np.ascontiguousarray(q), reg, valid, exclude)


# --- derivatives -----------------------------------------------------------------

DERIVATIVES = HERE / "derivatives.txt"


def series_of(entry: dataset.Entry) -> str:
    """Directory and file stem without digits: frames of one numbered series."""
    path = Path(entry.source)
    return f"{path.parent}/{re.sub(r'[0-9]+', '#', path.stem)}"


def load_derivatives(entries: list[dataset.Entry]) -> set[frozenset[int]]:
    """Image pairs classified as derivatives (derivatives.txt says how).

    Lines (tab-separated, # comments):
      pair    PATH    PATH    why     -- one pair
      series  REGEX   why             -- every numbered series under paths
                                         matching REGEX: same directory, names
                                         equal once digits are removed (and at
                                         least 4 letters left: m31/m42 are not)
      same    REGEX   why             -- two paths matching REGEX whose named
                                         group "key" is equal
    """
    pairs: set[frozenset[int]] = set()
    if not DERIVATIVES.exists():
        return pairs
    by_path = {e.source: e.index for e in entries}

    def add_groups(groups: dict[str, list[int]]) -> None:
        for members in groups.values():
            for x in range(len(members)):
                for y in range(x + 1, len(members)):
                    pairs.add(frozenset((members[x], members[y])))

    for line in DERIVATIVES.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if fields[0] == "pair" and fields[1] in by_path and fields[2] in by_path:
            pairs.add(frozenset((by_path[fields[1]], by_path[fields[2]])))
        elif fields[0] == "series":
            within = re.compile(fields[1])
            groups: dict[str, list[int]] = {}
            for e in entries:
                key = series_of(e)
                stem = key.rsplit("/", 1)[1]
                if (
                    "#" in stem
                    and len(re.sub(r"[^A-Za-z]", "", stem)) >= 4
                    and (within.search(e.source))
                ):
                    groups.setdefault(key, []).append(e.index)
            add_groups(groups)
        elif fields[0] == "same":
            pattern = re.compile(fields[1])
            groups = {}
            for e in entries:
                m = pattern.search(e.source)
                if m:
                    key = "|".join(
                        str(v)
                        for k, v in sorted(m.groupdict().items())
                        if k.startswith("key")
                    )
                    groups.setdefault(key, []).append(e.index)
            add_groups(groups)
    return pairs


def query_image(lay: Layout, q: int) -> int:
    return lay.keys[q][0]


def exclusion(lay: Layout, derivatives: set[frozenset[int]]) -> np.ndarray:
    """(nq, nr) True where the pair is not unrelated: same source or derivative."""
    nq, nr = len(lay.keys), len(lay.registered)
    out = np.zeros((nq, nr), np.bool_)
    pos = np.flatnonzero(lay.source >= 0)
    out[pos, lay.source[pos]] = True
    if derivatives:
        reg_pos = {i: r for r, i in enumerate(lay.registered)}
        by_image: dict[int, list[int]] = {}
        for q, key in enumerate(lay.keys):
            by_image.setdefault(key[0], []).append(q)
        for pair in derivatives:
            a, b = tuple(pair)
            for x, y in ((a, b), (b, a)):
                if y in reg_pos and x in by_image:
                    out[by_image[x], reg_pos[y]] = True
    return out


# --- statistics -----------------------------------------------------------------


def upper95(k: int, n: int) -> float:
    """One-sided 95% Clopper-Pearson upper bound of a rate (3/n-ish at k=0)."""
    from scipy.stats import beta

    if n == 0:
        return 1.0
    if k >= n:
        return 1.0
    return float(beta.ppf(0.95, k + 1, n - k))


def fmt_rate(x: float) -> str:
    if x == 0:
        return "0"
    return f"{x:.1e}"


def fmt_count(x: float) -> str:
    if x == 0:
        return "0"
    if x < 0.01:
        return f"{x:.0e}"
    if x < 10:
        return f"{x:.2f}"
    return f"{x:,.0f}"


def tail_fit(hist: np.ndarray) -> tuple[Any, list[tuple[int, int, float]]]:
    """perceptual.TailModel fitted to the histogram's lower tail."""
    values = np.repeat(np.arange(len(hist), dtype=np.uint16), hist)
    try:
        return perceptual.TailModel.fit(values)
    except ValueError:
        return None, []


# --- per-method analysis ------------------------------------------------------------


def analyse(
    method: Method,
    dist: np.ndarray,
    hist_variant: np.ndarray,
    lay: Layout,
    exclude: np.ndarray,
) -> dict[str, Any]:
    pos = np.flatnonzero(lay.source >= 0)
    positive = dist[pos, lay.source[pos]].astype(np.int64)
    bits = 64 if method.kind == "phash" else 256
    total = np.bincount(dist.ravel(), minlength=bits + 1)
    excluded = np.bincount(dist[exclude], minlength=bits + 1)
    unrelated = total - excluded
    pairs = int(unrelated.sum())
    model, points = tail_fit(unrelated)
    cdf = np.cumsum(unrelated)
    thresholds = (
        list(range(0, 17)) if method.kind == "phash" else list(range(0, 121, 5))
    )
    table = []
    for t in thresholds:
        k = int(cdf[t])
        row = {
            "threshold": t,
            "chance_pairs": k,
            "rate": k / pairs,
            "rate_upper95": upper95(k, pairs),
            "model_rate": model.probability(t) if model else None,
            "recall": {},
        }
        for ti, name in enumerate(transforms.TRANSFORMS):
            sel = lay.transform[pos] == ti
            row["recall"][name] = float(np.mean(positive[sel] <= t))
        table.append(row)
    per_variant_pairs = hist_variant.sum(axis=1)
    return {
        "method": method.name,
        "kind": method.kind,
        "variants": list(method.variants),
        "entries_per_image": len(method.variants),
        "note": method.note,
        "unrelated_pairs": pairs,
        "unrelated_variant_pairs": int(per_variant_pairs.sum()),
        "unrelated_hist": unrelated.tolist(),
        "tail": (
            {
                "intercept": model.intercept,
                "slope": model.slope,
                "points": [list(p) for p in points],
            }
            if model
            else None
        ),
        "variant_hist": hist_variant.tolist(),
        "positive_distances": {
            name: positive[lay.transform[pos] == ti].tolist()
            for ti, name in enumerate(transforms.TRANSFORMS)
        },
        "table": table,
    }


def expected_per_manifest(rate: float, registry: int) -> float:
    """Chance matches per 1M-row manifest against `registry` images."""
    return MANIFEST_ROWS * registry * rate


# --- verification (cached) -------------------------------------------------------

VERIFY_TRY_MIRROR_BELOW = 40  # record the better of both tries up to this count


def _features(index: int) -> Any:

    return verify.Features.from_bytes(
        (CACHE / f"features-{VERIFY_VERSION}" / f"{index}.npz").read_bytes()
    )


def _verify_task(
    task: tuple[dataset.Entry, str | None, int, list[int]],
) -> list[tuple[Any, tuple[int, float]]]:

    entry, transform, seed, refs = task
    data = row_of(entry, transform, seed)
    t0 = time.thread_time()
    image = decode_image(data).image
    query = verify.extract(image)
    mirrored = verify.extract(image, mirrored=True)
    extract_s = time.thread_time() - t0
    out = []
    for ref in refs:
        t0 = time.thread_time()
        result = verify.verify(
            query,
            _features(ref),
            mirrored_query=mirrored,
            min_inliers=VERIFY_TRY_MIRROR_BELOW,
        )
        seconds = time.thread_time() - t0 + extract_s / len(refs)
        key = ((entry.index, transform, seed if transform else 0), ref)
        out.append((key, (result.inliers, seconds)))
    return out


def run_verifications(
    entries: list[dataset.Entry],
    pairs: list[tuple[tuple[int, str | None, int], int]],
    jobs: int,
    label: str,
    *,
    task: Any = None,
    store_name: str = "",
) -> Store:
    """Inliers (and CPU seconds) of (row key, registered image) pairs, cached.

    `task` (default `_verify_task`) computes one row's pairs; `store_name`
    names its cache (default: this module's, keyed by the engine's digests).
    """
    task = task or _verify_task
    store = Store(store_name or f"verify-{HASH_VERSION}-{VERIFY_VERSION}")
    todo: dict[tuple[int, str | None, int], list[int]] = {}
    for key, ref in pairs:
        if (key, ref) not in store.data:
            todo.setdefault(key, []).append(ref)
    if not todo:
        return store
    compute_features(entries, sorted({r for _, r in pairs}), jobs)
    tasks = [(entries[k[0]], k[1], k[2], refs) for k, refs in todo.items()]
    n_pairs = sum(len(t[3]) for t in tasks)
    log(f"{label}: {n_pairs:,} pairs to verify ({len(tasks):,} rows)")
    t0 = time.perf_counter()
    done = 0
    with multiprocessing.Pool(jobs) as pool:
        for n, results in enumerate(pool.imap_unordered(task, tasks), 1):
            for key, value in results:
                store.data[key] = value
            done += len(results)
            if n % 500 == 0 or n == len(tasks):
                store.save()
                log(
                    f"  {done:,}/{n_pairs:,} "
                    f"({done / (time.perf_counter() - t0):.1f}/s)"
                )
    store.save()
    return store


# --- the two-stage pipeline ------------------------------------------------------


@dataclass(frozen=True)
class LevelSet:
    pdq_candidate: int
    phash_candidate: int
    pdq_strong: int
    phash_strong: int
    min_inliers: int
    min_quality: int = 0  # strong only when both images' PDQ quality is at least this

    def label(self) -> str:
        gate = f" q>={self.min_quality}" if self.min_quality else ""
        strong = ", ".join(
            f"{name}<={value}"
            for name, value in (("pdq", self.pdq_strong), ("phash", self.phash_strong))
            if value >= 0
        )
        return (
            f"cand pdq<={self.pdq_candidate} phash<={self.phash_candidate}, "
            f"strong {strong or 'off'}{gate if strong else ''}, "
            f"inliers>={self.min_inliers}"
        )


def inlier_tail(
    inliers: np.ndarray,
) -> tuple[float, float, list[tuple[int, int, float]]]:
    """log10 P(inliers >= k) = a + b k on unrelated pairs' upper tail (k >= 3)."""
    n = len(inliers)
    points = []
    for k in range(3, int(inliers.max(initial=0)) + 1):
        c = int((inliers >= k).sum())
        if c >= 3:
            points.append((k, c, c / n))
    if len(points) < 2:
        return 0.0, 0.0, points
    x = np.array([p[0] for p in points], float)
    y = np.log10([p[2] for p in points])
    w = np.sqrt([p[1] for p in points])
    b, a = np.polyfit(x, y, 1, w=w)
    return float(a), float(b), points


@dataclass
class Verified:
    """Verification results as arrays, for the grid of threshold sets."""

    pos_inliers: np.ndarray  # per positive row (lay order), -1 when not sampled
    sampled: np.ndarray  # per positive row: in the verification sample
    uq: np.ndarray  # unrelated candidate pairs verified: query rows
    ur: np.ndarray  # ... registered positions
    u_inliers: np.ndarray


def evaluate_pipeline(
    levels: LevelSet,
    d_pdq: np.ndarray,
    d_phash: np.ndarray,
    lay: Layout,
    exclude: np.ndarray,
    ver: Verified,
    pdq_model: Any,
    phash_model: Any,
    inlier_model: tuple[float, float],
    counts: dict[tuple, int],
    gate: np.ndarray,
) -> dict[str, Any]:
    """Recall per transform and chance matches of one threshold set.

    `counts` memoizes counts over the whole unrelated matrix between calls.
    """
    pos = np.flatnonzero(lay.source >= 0)
    src = lay.source[pos]
    dp, dh = d_pdq[pos, src], d_phash[pos, src]
    strong = ((dp <= levels.pdq_strong) | (dh <= levels.phash_strong)) & gate[pos, src]
    cand = (dp <= levels.pdq_candidate) | (dh <= levels.phash_candidate)
    verified_pos = cand & (ver.pos_inliers >= levels.min_inliers)
    removed = strong | verified_pos
    recall: dict[str, dict[str, float]] = {}
    for ti, name in enumerate(transforms.TRANSFORMS):
        sel = lay.transform[pos] == ti
        ss = sel & ver.sampled
        recall[name] = {
            "strong": float(strong[sel].mean()),
            "candidate": float(cand[sel].mean()),
            "verified": float(verified_pos[ss].mean()) if ss.any() else float("nan"),
            "removed": float(removed[ss].mean()) if ss.any() else float("nan"),
            "sample": int(ss.sum()),
        }
    # chance: strong by hash alone over every unrelated pair (measured)
    unrel = ~exclude
    key_p = ("pairs",)
    if key_p not in counts:
        counts[key_p] = int(unrel.sum())
    pairs = counts[key_p]
    key_s = ("strong", levels.pdq_strong, levels.phash_strong, levels.min_quality)
    if key_s not in counts:
        counts[key_s] = int(
            (
                ((d_pdq <= levels.pdq_strong) | (d_phash <= levels.phash_strong))
                & unrel
                & gate
            ).sum()
        )
    strong_u = counts[key_s]
    key_c = ("cand", levels.pdq_candidate, levels.phash_candidate)
    if key_c not in counts:
        counts[key_c] = int(
            (
                ((d_pdq <= levels.pdq_candidate) | (d_phash <= levels.phash_candidate))
                & unrel
            ).sum()
        )
    cand_u = counts[key_c]
    # verified: among the unrelated candidates that were verified
    udp, udh = d_pdq[ver.uq, ver.ur], d_phash[ver.uq, ver.ur]
    checked = (udp <= levels.pdq_candidate) | (udh <= levels.phash_candidate)
    ustrong = ((udp <= levels.pdq_strong) | (udh <= levels.phash_strong)) & gate[
        ver.uq, ver.ur
    ]
    ver_mask = checked & (ver.u_inliers >= levels.min_inliers) & ~ustrong
    n_checked = int(checked.sum())
    n_ver = int(ver_mask.sum())
    p_cand = cand_u / pairs
    p_ver = n_ver / n_checked if n_checked else 0.0
    p_ver_hi = upper95(n_ver, n_checked)
    a, b = inlier_model
    p_ver_model = min(1.0, 10 ** (a + b * levels.min_inliers)) if b < 0 else None
    p_strong_model = (
        pdq_model.probability(levels.pdq_strong)
        if pdq_model and levels.pdq_strong >= 0
        else 0
    ) + (
        phash_model.probability(levels.phash_strong)
        if phash_model and levels.phash_strong >= 0
        else 0
    )
    # the measured rate: strong pairs counted, verified ones scaled from the sample
    measured_removed = strong_u + n_ver * (cand_u / max(1, n_checked))
    per_pair_model = p_strong_model + p_cand * (p_ver_model or 0.0)
    per_pair_upper = upper95(strong_u, pairs) + p_cand * p_ver_hi
    return {
        "levels": levels.__dict__,
        "label": levels.label(),
        "recall": recall,
        "min_removed_recall": min(v["removed"] for v in recall.values()),
        "mean_removed_recall": float(np.mean([v["removed"] for v in recall.values()])),
        "unrelated_pairs": pairs,
        "chance_strong": strong_u,
        "unrelated_candidates": cand_u,
        "candidates_verified": n_checked,
        "chance_verified": n_ver,
        "chance_verified_pairs": [
            [lay.keys[q][0], lay.keys[q][1], lay.registered[r]]
            for q, r in zip(
                ver.uq[ver_mask].tolist(), ver.ur[ver_mask].tolist(), strict=True
            )
        ],
        "chance_removed_measured": measured_removed,
        "p_candidate": p_cand,
        "p_verified_given_candidate": p_ver,
        "p_verified_given_candidate_upper95": p_ver_hi,
        "p_verified_given_candidate_model": p_ver_model,
        "per_pair_model": per_pair_model,
        "per_pair_upper95": per_pair_upper,
        "expected_per_manifest_model": {
            str(n): expected_per_manifest(per_pair_model, n) for n in REGISTRY_SIZES
        },
        "expected_per_manifest_upper95": {
            str(n): expected_per_manifest(per_pair_upper, n) for n in REGISTRY_SIZES
        },
        "candidates_per_row_measured": cand_u / len(lay.keys),
    }


# --- derivative candidates: the closest unrelated image pairs ------------------------


def closest_pairs(
    dists: dict[str, np.ndarray],
    limits: dict[str, int],
    lay: Layout,
    exclude: np.ndarray,
) -> list[dict[str, Any]]:
    """Image pairs with an unrelated (query, registered) pair under a limit.

    Pairs are of images (a transformed row counts as its source image), with
    the smallest distance per method, sorted by the default scheme's distance.
    """
    found: dict[tuple[int, int], dict[str, int]] = {}
    for name, limit in limits.items():
        d = dists[name]
        qs, rs = np.nonzero((d <= limit) & ~exclude)
        for q, r in zip(qs.tolist(), rs.tolist(), strict=True):
            a, b = query_image(lay, q), lay.registered[r]
            key = (min(a, b), max(a, b))
            best = found.setdefault(key, {})
            v = int(d[q, r])
            best[name] = min(best.get(name, v), v)
    out = [{"a": a, "b": b, **v} for (a, b), v in found.items()]
    first = next(iter(limits))
    out.sort(key=lambda p: (p.get(first, 999), min(p.get(n, 999) for n in limits)))
    return out


def contact_sheets(
    entries: list[dataset.Entry], pairs: list[dict[str, Any]], folder: Path
) -> list[Path]:
    """Side-by-side thumbnails of each pair, 20 pairs a sheet, labelled."""
    from PIL import ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("sheet-*.png"):
        old.unlink()
    paths = []
    cell = 160
    per = 20
    for s in range(0, len(pairs), per):
        chunk = pairs[s : s + per]
        sheet = Image.new("RGB", (4 * (2 * cell + 10), 5 * (cell + 30)), "white")
        draw = ImageDraw.Draw(sheet)
        for i, p in enumerate(chunk):
            x0 = (i % 4) * (2 * cell + 10)
            y0 = (i // 4) * (cell + 30)
            for j, idx in enumerate((p["a"], p["b"])):
                with Image.open(image_path(entries[idx])) as im:
                    t = im.convert("RGB")
                    t.thumbnail((cell - 4, cell - 4))
                sheet.paste(t, (x0 + j * cell + 2, y0 + 2))
            label = f"#{s + i} " + " ".join(
                f"{k[7:] if k.startswith('scheme:') else k}={v}"
                for k, v in p.items()
                if k not in ("a", "b", "names", "series")
            )
            draw.text((x0 + 2, y0 + cell + 2), label[:52], fill="black")
            draw.text(
                (x0 + 2, y0 + cell + 14),
                (
                    Path(entries[p["a"]].source).stem[:24]
                    + " | "
                    + Path(entries[p["b"]].source).stem[:24]
                ),
                fill="gray",
            )
        path = folder / f"sheet-{s // per:03d}.png"
        sheet.save(path)
        paths.append(path)
    return paths


def split(
    entries: list[dataset.Entry], images: int, registered: int, seed: int
) -> tuple[list[int], list[int]]:
    """Seeded choice of `images` images: the first `registered` are registered."""
    rng = np.random.default_rng(seed)
    chosen = [int(i) for i in rng.permutation(len(entries))[:images]]
    return sorted(chosen[:registered]), sorted(chosen[registered:])


# --- scale: padding the registry with unrelated fingerprints ---------------------

# PDQ's DCT (16 x 64, frequencies 1..16) for the vectorized padding hashes
_DCT = np.array(
    [
        [
            math.sqrt(2 / 64) * math.cos(math.pi / 128 * (i + 1) * (2 * j + 1))
            for j in range(64)
        ]
        for i in range(16)
    ],
    np.float32,
)
_SIGN = np.array([(-1) ** (k + 1) for k in range(16)], np.float32)


def luma128(entry: dataset.Entry) -> np.ndarray:
    """The image's luma, squashed to 128 x 128 (PDQ ignores the aspect ratio)."""
    with Image.open(image_path(entry)) as im:
        grey = im.convert("RGB").convert("L").resize((128, 128), Image.Resampling.BOX)
    return np.asarray(grey, np.float32)


def pdq_like(grey64: np.ndarray) -> np.ndarray:
    """PDQ bits of (B, 64, 64) luma and their 8 dihedral forms: (B * 8, 4) words.

    The DCT and median step of PDQ, vectorized; pdqhash's own box filtering is
    replaced by the caller's resampling (a few bits differ: see docs).
    """
    c = _DCT @ grey64 @ _DCT.T
    forms = []
    for t in (c, np.swapaxes(c, 1, 2)):
        for fy in (False, True):
            for fx in (False, True):
                f = t
                if fx:
                    f = f * _SIGN[None, None, :]
                if fy:
                    f = f * _SIGN[None, :, None]
                forms.append(f.reshape(len(c), 256))
    coef = np.stack(forms, axis=1).reshape(-1, 256)
    bits = coef > np.median(coef, axis=1, keepdims=True)
    packed = np.packbits(bits[:, ::-1], axis=1)  # pdqhash's bit order
    return packed.view(">u8").astype(np.uint64)


@numba.njit(cache=True, nogil=True)
def _sample(
    sources: np.ndarray,
    src: np.ndarray,
    cuts: np.ndarray,
    angle: np.ndarray,
    gamma: np.ndarray,
    noise: np.ndarray,
) -> np.ndarray:
    count = len(src)
    out = np.empty((count, 64, 64), np.float32)
    for b in range(count):
        x0, y0 = cuts[b, 0], cuts[b, 1]
        w, h = 1 - cuts[b, 0] - cuts[b, 2], 1 - cuts[b, 1] - cuts[b, 3]
        c, s = math.cos(angle[b]), math.sin(angle[b])
        img = sources[src[b]]
        for i in range(64):
            for j in range(64):
                cx = x0 + w * (j + 0.5) / 64 - 0.5
                cy = y0 + h * (i + 0.5) / 64 - 0.5
                sx = min(max((c * cx - s * cy + 0.5) * 127, 0.0), 127.0)
                sy = min(max((s * cx + c * cy + 0.5) * 127, 0.0), 127.0)
                ix, iy = min(int(sx), 126), min(int(sy), 126)
                fx, fy = sx - ix, sy - iy
                v = (
                    img[iy, ix] * (1 - fx) * (1 - fy)
                    + img[iy, ix + 1] * fx * (1 - fy)
                    + img[iy + 1, ix] * (1 - fx) * fy
                    + img[iy + 1, ix + 1] * fx * fy
                )
                out[b, i, j] = 255 * (v / 255) ** gamma[b] + noise[b, i, j]
    return out


def seeded_variants(
    sources: np.ndarray, count: int, rng: np.random.Generator
) -> np.ndarray:
    """`count` edited 64 x 64 lumas of random sources: crop, turn, stretch, tone.

    Each: cut 0-25% from each side, rotate up to +-12 degrees, gamma 0.7-1.4,
    noise (sigma 2); bilinear resampling of the 128 x 128 source.
    """
    src = rng.integers(0, len(sources), count)
    cuts = rng.uniform(0, 0.25, (count, 4))
    angle = np.radians(rng.uniform(-12, 12, count))
    gamma = rng.uniform(0.7, 1.4, count)
    noise = rng.normal(0, 2, (count, 64, 64)).astype(np.float32)
    return _sample(sources, src, cuts, angle, gamma, noise)


def padding(sources: np.ndarray, entries: int, seed: int) -> np.ndarray:
    """`entries` PDQ-like hashes: 8 dihedral forms of entries/8 seeded variants."""
    path = CACHE / f"padding-{seed}-{len(sources)}-{entries}.npy"
    if path.exists():
        return np.load(path)
    rng = np.random.default_rng((seed, 7))
    chunks = []
    made = 0
    while made < entries:
        b = min(500, (entries - made + 7) // 8)
        chunks.append(pdq_like(seeded_variants(sources, b, rng)))
        made += 8 * b
    out = np.concatenate(chunks)[:entries]
    np.save(path, out)
    return out


def registry_entries(
    lay: Layout, rows: Store, variants: Store, scheme: str
) -> tuple[np.ndarray, np.ndarray]:
    """(hashes, registered positions) of the registered images under `scheme`."""
    values: list[bytes] = []
    ids: list[int] = []
    for r, i in enumerate(lay.registered):
        values.append(rows.data[(i, None, 0)].pdq)
        values += [variants.data[i][v] for v in perceptual.SCHEMES[scheme]]
        ids += [r] * (1 + len(perceptual.SCHEMES[scheme]))
    return words(values), np.array(ids, np.int64)


def scale_stage(
    args: argparse.Namespace,
    entries: list[dataset.Entry],
    lay: Layout,
    rows: Store,
    variants: Store,
    scheme: str,
    held_out: list[int],
    pad_sources: list[int],
) -> dict[str, Any]:
    """Candidates per row and recall with the registry padded to 1M and 10M entries."""
    from workers.engine.hamming import HammingIndex

    base, base_ids = registry_entries(lay, rows, variants, scheme)
    log(f"scale: lumas of {len(pad_sources):,} padding sources")
    sources = np.stack([luma128(entries[i]) for i in pad_sources])
    pos_rows = [
        (q, int(lay.source[q]))
        for q in np.flatnonzero(lay.source >= 0)
        if lay.source[q] < args.scale_positives
    ]
    unrel_keys = [(i, None, 0) for i in held_out]
    keys = [lay.keys[q] for q, _ in pos_rows] + unrel_keys
    qh = words(
        [
            h
            for k in keys
            for h in (rows.data[k].canonical, rows.data[k].flipx, rows.data[k].trimmed)
        ]
    )
    row_of_query = np.repeat(np.arange(len(keys)), 3)
    n_pos = len(pos_rows)
    truth = np.array([r for _, r in pos_rows])
    tindex = np.array([lay.transform[q] for q, _ in pos_rows])
    out: dict[str, Any] = {
        "scheme": scheme,
        "entries_per_registered_image": 1 + len(perceptual.SCHEMES[scheme]),
        "padding_sources": len(pad_sources),
        "unrelated_rows": len(unrel_keys),
        "positive_rows": n_pos,
        "sizes": [],
    }
    radii = sorted(args.scale_radii)
    for size in args.scale_sizes:
        t0 = time.perf_counter()
        pad = padding(sources, max(0, size - len(base)), args.seed)
        hashes = np.concatenate([base, pad])
        ids = np.concatenate(
            [base_ids, len(lay.registered) + np.arange(len(pad), dtype=np.int64) // 8]
        )
        gen_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        index = HammingIndex.build(hashes, ids, max_radius=max(radii))
        build_s = time.perf_counter() - t0
        del hashes
        log(f"scale {size:,}: padding {gen_s:.0f}s, index {build_s:.0f}s")
        for radius in radii:
            if size > 2_000_000 and radius > 40:
                continue  # beyond r 40 the index scans everything: too slow here
            index.search(qh[:4], radius)
            c0 = time.thread_time()
            qi, hit, dist = index.search(qh, radius)
            cpu = time.thread_time() - c0
            rowi = row_of_query[qi]
            # best distance per (row, image)
            order = np.lexsort((dist, hit, rowi))
            rowi, hit, dist = rowi[order], hit[order], dist[order]
            first = np.ones(len(rowi), bool)
            first[1:] = (rowi[1:] != rowi[:-1]) | (hit[1:] != hit[:-1])
            rowi, hit, dist = rowi[first], hit[first], dist[first]
            per_row = np.bincount(rowi, minlength=len(keys))
            unrel = per_row[n_pos:]
            # positives: the source's best distance and its rank among the row's images
            rank = np.full(n_pos, -1)
            for p in range(n_pos):
                sel = rowi == p
                if not sel.any():
                    continue
                h, d = hit[sel], dist[sel]
                mine = d[h == truth[p]]
                if len(mine):
                    rank[p] = int((d < mine[0]).sum()) + 1  # ties count in our favour
            entry = {
                "entries": int(size),
                "radius": radius,
                "queries_per_cpu_s": len(qh) / max(cpu, 1e-9),
                "candidates_per_unrelated_row": float(unrel.mean()),
                "unrelated_rows_with_candidates": float((unrel > 0).mean()),
                "candidates_per_unrelated_row_p99": float(np.percentile(unrel, 99)),
                "candidates_per_unrelated_row_max": int(unrel.max(initial=0)),
                "candidates_per_positive_row": float(per_row[:n_pos].mean()),
                "recall": float((rank > 0).mean()),
                "recall_at_k": {
                    str(k): float(((rank > 0) & (rank <= k)).mean())
                    for k in args.scale_k
                },
                "recall_by_transform": {
                    name: float((rank[tindex == t] > 0).mean())
                    for t, name in enumerate(transforms.TRANSFORMS)
                },
                "recall_at_k_by_transform": {
                    str(k): {
                        name: float(
                            ((rank[tindex == t] > 0) & (rank[tindex == t] <= k)).mean()
                        )
                        for t, name in enumerate(transforms.TRANSFORMS)
                    }
                    for k in args.scale_k
                },
            }
            out["sizes"].append(entry)
            log(
                f"  r={radius}: {entry['candidates_per_unrelated_row']:.2f} cand/row, "
                f"recall {entry['recall']:.3f}, @k {entry['recall_at_k']}"
            )
        del index
    return out


# --- speed: rows through the real matcher ------------------------------------------


def speed_stage(
    args: argparse.Namespace,
    entries: list[dataset.Entry],
    lay: Layout,
    rows: Store,
    variants: Store,
    scheme: str,
    rec: LevelSet,
    unrelated_rows: list[int],
) -> dict[str, Any]:
    """Image rows/s per core through RegistrySnapshot.match, with and without
    verification; seconds per verified candidate pair."""
    from workers.engine.perceptual import Levels
    from workers.engine.snapshot import RegistrySnapshot, Thresholds
    from workers.engine.types import RowBatch

    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})
    pdq_entries: list[tuple[int, str, bytes]] = []
    for r, i in enumerate(lay.registered):
        pdq_entries.append((r, "original", rows.data[(i, None, 0)].pdq))
        for v in perceptual.SCHEMES[scheme]:
            pdq_entries.append((r, v, variants.data[i][v]))
    registered_bytes = [image_path(entries[i]).read_bytes() for i in lay.registered]
    snap = RegistrySnapshot.build(
        revision=1,
        sha256=[
            (r, hashlib.sha256(b).digest()) for r, b in enumerate(registered_bytes)
        ],
        md5=[(r, hashlib.md5(b).digest()) for r, b in enumerate(registered_bytes)],
        phash=[
            (r, rows.data[(i, None, 0)].phash) for r, i in enumerate(lay.registered)
        ],
        pdq=pdq_entries,
        max_radius=Thresholds(phash=rec.phash_candidate, pdq=rec.pdq_candidate),
    )
    feats = {
        r: verify.Features.from_bytes(
            (CACHE / f"features-{VERIFY_VERSION}" / f"{i}.npz").read_bytes()
        )
        for r, i in enumerate(lay.registered)
    }
    thresholds = Thresholds(phash=rec.phash_candidate, pdq=rec.pdq_candidate)
    levels = Levels(
        pdq_strong=rec.pdq_strong,
        phash_strong=rec.phash_strong,
        min_inliers=rec.min_inliers,
    )

    def batch_of(datas: list[bytes]) -> RowBatch:
        n = len(datas)
        return RowBatch(
            first_row=0,
            keys=[str(i) for i in range(n)],
            urls=[None] * n,
            captions=[None] * n,
            sha256=[None] * n,
            md5=[None] * n,
            phash=[None] * n,
            pdq=[None] * n,
            images=list(datas),
        )

    def timed(datas: list[bytes], refs: bool) -> tuple[float, list]:
        cpu = []
        found: list = []
        for _ in range(args.repeat):
            batch = batch_of(datas)
            c0 = time.thread_time()
            found, _ = snap.match(
                batch,
                thresholds,
                levels=levels,
                references=feats.get if refs else None,
            )
            cpu.append(time.thread_time() - c0)
        return statistics.median(cpu), found

    unrel = [image_path(entries[i]).read_bytes() for i in unrelated_rows]
    timed(unrel[:20], True)  # warm up (JIT, OpenCV)
    plain_s, plain_found = timed(unrel, False)
    ver_s, ver_found = timed(unrel, True)
    quiet = len(unrel) - len({m.row for m in plain_found})
    # rows that do raise candidates: edited registered images
    pos_keys = [
        lay.keys[q]
        for q in np.flatnonzero(lay.source >= 0)
        if lay.source[q] < args.speed_positives
    ]
    pos = [row_of(entries[k[0]], k[1], k[2]) for k in pos_keys]
    pos_plain_s, pos_plain = timed(pos, False)
    pos_ver_s, pos_ver = timed(pos, True)
    pairs = len({(m.row, m.ref) for m in pos_plain if m.kind in ("pdq", "phash")})
    return {
        "core": sorted(os.sched_getaffinity(0)),
        "repeat": args.repeat,
        "levels": rec.__dict__,
        "unrelated_rows": len(unrel),
        "unrelated_rows_without_candidates": quiet,
        "unrelated_rows_per_cpu_s_no_verification": len(unrel) / plain_s,
        "unrelated_rows_per_cpu_s_with_verification": len(unrel) / ver_s,
        "unrelated_rows_removed": len(
            {m.row for m in ver_found if m.level in ("verified", "strong")}
        ),
        "positive_rows": len(pos),
        "positive_rows_per_cpu_s_no_verification": len(pos) / pos_plain_s,
        "positive_rows_per_cpu_s_with_verification": len(pos) / pos_ver_s,
        "candidate_pairs_verified": pairs,
        "seconds_per_verified_pair": (pos_ver_s - pos_plain_s) / max(1, pairs),
        "positive_rows_removed": len(
            {m.row for m in pos_ver if m.level in ("verified", "strong")}
        ),
    }


# --- the run -------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=0, help="0: all in the dataset")
    p.add_argument("--registered", type=int, default=2_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--quick", action="store_true", help="small smoke run")
    p.add_argument("--out", type=Path, default=dataset.CACHE / "results.json")
    p.add_argument("--jobs", type=int, default=2, help="processes (at most 2 here)")
    p.add_argument(
        "--scheme",
        default=perceptual.DEFAULT_SCHEME,
        help="variant scheme of the two-stage pipeline",
    )
    p.add_argument(
        "--verify-sample",
        type=int,
        default=500,
        help="registered images whose edits are verified, per transform",
    )
    p.add_argument(
        "--verify-unrelated",
        type=int,
        default=8_000,
        help="at most this many unrelated candidate pairs verified",
    )
    p.add_argument(
        "--verify-random",
        type=int,
        default=1_000,
        help="random unrelated pairs verified (inlier distribution)",
    )
    p.add_argument("--max-pdq-candidate", type=int, default=63)
    p.add_argument("--max-phash-candidate", type=int, default=10)
    p.add_argument(
        "--max-feasible-radius",
        type=int,
        default=40,
        help="largest PDQ candidate radius recommended (index speed)",
    )
    p.add_argument(
        "--sheets",
        type=int,
        default=240,
        help="closest unrelated pairs drawn on contact sheets",
    )
    p.add_argument(
        "--scale-sizes", type=int, nargs="+", default=[1_000_000, 10_000_000]
    )
    p.add_argument("--scale-radii", type=int, nargs="+", default=[24, 31, 40, 50])
    p.add_argument("--scale-k", type=int, nargs="+", default=[1, 2, 4, 8])
    p.add_argument(
        "--scale-positives",
        type=int,
        default=300,
        help="registered images whose edits are looked up at scale",
    )
    p.add_argument(
        "--held-out",
        type=int,
        default=1_000,
        help="distractors kept out of the padding, as unrelated rows",
    )
    p.add_argument("--speed-rows", type=int, default=500)
    p.add_argument(
        "--speed-positives",
        type=int,
        default=40,
        help="registered images whose edits are timed (x transforms)",
    )
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--skip-scale", action="store_true")
    p.add_argument("--skip-speed", action="store_true")
    p.add_argument(
        "--report", type=Path, help="only print the tables of a results file"
    )
    args = p.parse_args()
    if args.quick:
        args.images = min(args.images, 1_500) if args.images else 1_500
        args.registered = min(args.registered, 300)
        args.verify_sample, args.verify_unrelated = 40, 600
        args.verify_random, args.sheets = 200, 40
        args.scale_sizes, args.scale_positives, args.held_out = [200_000], 40, 200
        args.speed_rows, args.speed_positives, args.repeat = 100, 8, 1
        if args.out == dataset.CACHE / "results.json":
            args.out = dataset.CACHE / "results-quick.json"
    args.jobs = max(1, min(args.jobs, 2))
    return args


def level_grid(args: argparse.Namespace) -> list[LevelSet]:
    grid = []
    for pc in sorted({31, 40, 50, args.max_pdq_candidate}):
        if pc > args.max_pdq_candidate:
            continue
        for hc in sorted({8, args.max_phash_candidate}):
            for ps in (-1, 0, 8, 16, 24, 31):  # -1: no strong level
                for hs in (-1, 0, 2, 4):
                    for k in (8, 12, 16, 24, 32, 48, 64):
                        for q in (0, 50):
                            if q and ps < 0 and hs < 0:
                                continue
                            grid.append(LevelSet(pc, hc, ps, hs, k, q))
    return grid


def choose(evaluated: list[dict[str, Any]], max_radius: int) -> dict[str, Any]:
    """The recommended levels.

    Only threshold sets that removed no unrelated pair by hash distance alone
    (so in practice: no strong level) and whose PDQ candidate radius a
    10M-entry index serves fast (<= max_radius); among those within 0.01 of
    the best mean removed recall over the transforms, the fewest chance
    removals measured (verified unrelated candidates, scaled), then the
    smaller radius, then more inliers.
    """
    feasible = [
        e
        for e in evaluated
        if e["levels"]["pdq_candidate"] <= max_radius and e["chance_strong"] == 0
    ]
    best = max(e["mean_removed_recall"] for e in feasible)
    near = [e for e in feasible if e["mean_removed_recall"] >= best - 0.01]
    return min(
        near,
        key=lambda e: (
            e["chance_removed_measured"],
            e["levels"]["pdq_candidate"],
            -e["levels"]["min_inliers"],
        ),
    )


def main() -> None:
    args = parse_args()
    if args.report:
        report(json.loads(args.report.read_text()))
        return
    started = time.perf_counter()
    entries, index = dataset.load()
    args.images = args.images or len(entries)
    if len(entries) < args.images:
        sys.exit(f"the dataset has {len(entries):,} images, fewer than --images")
    registered, distractors = split(entries, args.images, args.registered, args.seed)
    log(f"{len(registered):,} registered, {len(distractors):,} distractors")
    rows, variants = compute_prints(
        entries, registered, distractors, args.seed, args.jobs
    )
    compute_features(entries, registered, args.jobs)
    lay = layout(registered, distractors, args.seed)
    derivatives = load_derivatives(entries)
    exclude = exclusion(lay, derivatives)
    results: dict[str, Any] = {
        "args": {
            k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
        },
        "machine": machine(),
        "dataset": {
            "packages": index["packages"],
            "summary": index["summary"],
            "images": len(entries),
            "used": len(registered) + len(distractors),
            "registered": len(registered),
            "distractors": len(distractors),
            "rules": index["rules"],
        },
        "transforms": list(transforms.TRANSFORMS),
        "positive_rows": int((lay.source >= 0).sum()),
        "query_rows": len(lay.keys),
        "derivative_pairs_listed": len(derivatives),
        "derivative_pairs_excluded": int(exclude.sum() - (lay.source >= 0).sum()),
        "methods": {},
    }

    # 1. hash distances for every method
    dists: dict[str, np.ndarray] = {}
    for m in methods():
        t0 = time.perf_counter()
        d, hist = distance_matrix(m, lay, rows, variants, exclude)
        results["methods"][m.name] = analyse(m, d, hist, lay, exclude)
        dists[m.name] = d
        log(f"{m.name}: {time.perf_counter() - t0:.0f}s")
    pipeline_method = f"scheme:{args.scheme}"

    # 2. the closest unrelated pairs, for classifying derivatives
    close = closest_pairs(
        {
            pipeline_method: dists[pipeline_method],
            "pdq": dists["pdq"],
            "phash": dists["phash"],
        },
        {pipeline_method: 40, "pdq": 40, "phash": 6},
        lay,
        exclude,
    )
    for p in close:
        p["names"] = [entries[p["a"]].source, entries[p["b"]].source]
    results["closest_unrelated_pairs"] = close
    shown, seen_series = [], set()
    for p in close:
        sa, sb = series_of(entries[p["a"]]), series_of(entries[p["b"]])
        if sa == sb:
            p["series"] = sa
            if sa in seen_series:
                continue
            seen_series.add(sa)
        shown.append(p)
    (dataset.CACHE / "derivatives").mkdir(parents=True, exist_ok=True)
    (dataset.CACHE / "derivatives" / "pairs.tsv").write_text(
        "".join(
            f"{n}\t{p.get(pipeline_method, '')}\t{p.get('pdq', '')}"
            f"\t{p.get('phash', '')}"
            f"\t{p.get('series', '')}\t{p['names'][0]}\t{p['names'][1]}\n"
            for n, p in enumerate(shown)
        )
    )
    sheets = contact_sheets(
        entries, shown[: args.sheets], dataset.CACHE / "derivatives"
    )
    log(f"{len(close):,} close unrelated image pairs; {len(sheets)} contact sheets")

    # 3. verification: positives (a sample), unrelated candidates, random pairs
    rng = np.random.default_rng((args.seed, 11))
    sample_r = rng.choice(
        len(registered), min(args.verify_sample, len(registered)), replace=False
    )
    sample_q = np.flatnonzero(np.isin(lay.source, sample_r))
    d_pdq, d_phash = dists[pipeline_method], dists["phash"]
    cand = (d_pdq <= args.max_pdq_candidate) | (d_phash <= args.max_phash_candidate)
    cq, cr = np.nonzero(cand & ~exclude)
    cand_total = len(cq)
    if cand_total > args.verify_unrelated:
        pick = np.sort(rng.choice(cand_total, args.verify_unrelated, replace=False))
        cq, cr = cq[pick], cr[pick]
    unrel_pairs = list(zip(cq.tolist(), cr.tolist(), strict=True))
    random_pairs = []
    while len(random_pairs) < args.verify_random:
        q, r = int(rng.integers(len(lay.keys))), int(rng.integers(len(registered)))
        if not exclude[q, r]:
            random_pairs.append((q, r))
    jobs = [(lay.keys[q], registered[lay.source[q]]) for q in sample_q]
    jobs += [(lay.keys[q], registered[r]) for q, r in unrel_pairs + random_pairs]
    verified = run_verifications(entries, jobs, args.jobs, "verification")
    cand_inl = np.array(
        [verified.data[(lay.keys[q], registered[r])][0] for q, r in unrel_pairs]
    )
    rand_inl = np.array(
        [verified.data[(lay.keys[q], registered[r])][0] for q, r in random_pairs]
    )
    a, b, inl_points = inlier_tail(cand_inl)
    pos_inl = [
        verified.data[(lay.keys[q], registered[lay.source[q]])] for q in sample_q
    ]
    results["verification"] = {
        "positive_pairs": len(sample_q),
        "registered_sampled": len(sample_r),
        "unrelated_candidates_total": cand_total,
        "unrelated_candidates_verified": len(unrel_pairs),
        "candidate_limits": [args.max_pdq_candidate, args.max_phash_candidate],
        "unrelated_candidate_inliers_hist": np.bincount(cand_inl).tolist()
        if len(cand_inl)
        else [],
        "random_pairs": len(random_pairs),
        "random_inliers_hist": np.bincount(rand_inl).tolist() if len(rand_inl) else [],
        "inlier_tail": {"intercept": a, "slope": b, "points": inl_points},
        "seconds_per_pair_median": statistics.median(s for _, s in pos_inl)
        if pos_inl
        else None,
        "positive_inliers_by_transform": {
            name: [
                verified.data[(lay.keys[q], registered[lay.source[q]])][0]
                for q in sample_q
                if lay.transform[q] == t
            ]
            for t, name in enumerate(transforms.TRANSFORMS)
        },
    }

    # 4. the pipeline at each threshold set; strong can require PDQ quality
    quality = np.array([rows.data[k].quality for k in lay.keys])
    reg_quality = np.array([rows.data[(i, None, 0)].quality for i in registered])
    gates: dict[int, tuple[np.ndarray, Any, Any]] = {}
    results["pipeline_tails"] = {}
    for qmin in (0, 50):
        gate = (quality[:, None] >= qmin) & (reg_quality[None, :] >= qmin)
        fits = {}
        models = []
        for name, d, bits in ((pipeline_method, d_pdq, 256), ("phash", d_phash, 64)):
            hist = np.bincount(d[gate & ~exclude], minlength=bits + 1)
            model, points = tail_fit(hist)
            models.append(model)
            fits[name] = {
                "pairs": int(hist.sum()),
                "intercept": model.intercept if model else None,
                "slope": model.slope if model else None,
                "points": [list(p) for p in points],
                "hist": hist[:80].tolist(),
            }
        gates[qmin] = (gate, models[0], models[1])
        results["pipeline_tails"][str(qmin)] = fits
    results["quality"] = {
        "query_rows_below_50": float((quality < 50).mean()),
        "registered_below_50": float((reg_quality < 50).mean()),
    }
    pos_all = np.flatnonzero(lay.source >= 0)
    sampled = np.isin(pos_all, sample_q)
    ver = Verified(
        pos_inliers=np.array(
            [
                verified.data[(lay.keys[q], registered[lay.source[q]])][0] if s else -1
                for q, s in zip(pos_all, sampled, strict=True)
            ]
        ),
        sampled=sampled,
        uq=np.array([q for q, _ in unrel_pairs], np.int64),
        ur=np.array([r for _, r in unrel_pairs], np.int64),
        u_inliers=cand_inl.astype(np.int64),
    )
    counts: dict[tuple, int] = {}
    evaluated = []
    t0 = time.perf_counter()
    for levels in level_grid(args):
        gate, pdq_model, phash_model = gates[levels.min_quality]
        evaluated.append(
            evaluate_pipeline(
                levels,
                d_pdq,
                d_phash,
                lay,
                exclude,
                ver,
                pdq_model,
                phash_model,
                (a, b),
                counts,
                gate,
            )
        )
    log(
        f"pipeline grid: {len(evaluated)} threshold sets in "
        f"{time.perf_counter() - t0:.0f}s"
    )
    best = choose(evaluated, args.max_feasible_radius)
    results["pipeline"] = {
        "scheme": args.scheme,
        "grid": evaluated,
        "recommended": best,
    }
    rec = LevelSet(**best["levels"])
    results["recommended"] = {"scheme": args.scheme, **rec.__dict__}

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, default=float))  # partial

    # 5. scale
    held_out = distractors[: args.held_out]
    if not args.skip_scale:
        pad_sources = distractors[args.held_out :]
        results["scale"] = scale_stage(
            args, entries, lay, rows, variants, args.scheme, held_out, pad_sources
        )
    # 6. speed
    if not args.skip_speed:
        results["speed"] = speed_stage(
            args,
            entries,
            lay,
            rows,
            variants,
            args.scheme,
            rec,
            held_out[: args.speed_rows],
        )
    results["seconds"] = time.perf_counter() - started
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, default=float))
    report(results)
    log(f"results: {args.out}")


def _git_head() -> str:
    import subprocess

    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "engine_hash_version": HASH_VERSION,
        "engine_verify_version": VERIFY_VERSION,
        "git_head": _git_head(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
    }


# --- tables ------------------------------------------------------------------------

SHORT = {
    "resize": "resz",
    "jpeg": "jpeg",
    "webp": "webp",
    "brightness_contrast": "b/c",
    "grayscale": "gray",
    "watermark": "wmrk",
    "crop": "crop",
    "rotate": "rot",
    "rotate_expand": "rotx",
    "mirror": "mirr",
    "stretch": "strch",
    "border": "bordr",
    "letterbox": "lbox",
    "chain3": "chain",
}


def safe_threshold(m: dict[str, Any], registry: int) -> int | None:
    """Largest threshold whose modelled chance is < 1 per 1M-row manifest."""
    tail = m["tail"]
    if not tail:
        return None
    model = perceptual.TailModel(tail["intercept"], tail["slope"])
    limit = 1 / (MANIFEST_ROWS * registry)
    t = model.distance_for(limit) if model.slope > 0 else None
    return None if t is None or t < 0 else t


def recall_at(m: dict[str, Any], t: int) -> dict[str, float]:
    return {
        name: float(np.mean(np.array(d) <= t))
        for name, d in m["positive_distances"].items()
    }


def print_recall_table(results: dict[str, Any], title: str, pick: Any) -> None:
    names = results["transforms"]
    print(f"\n{title}")
    print(
        f"{'method':<32} {'thr':>4} "
        + " ".join(f"{SHORT[n]:>5}" for n in names)
        + "   min"
    )
    for name, m in results["methods"].items():
        t = pick(m)
        if t is None:
            continue
        r = recall_at(m, t)
        print(
            f"{name:<32} {t:>4} "
            + " ".join(f"{r[n]:>5.3f}" for n in names)
            + f" {min(r.values()):>5.3f}"
        )


def scale_model(
    m: dict[str, Any], radius: int, images: int, ks: tuple[int, ...] = (1, 2, 4, 8)
) -> dict[str, Any]:
    """Candidates per row and recall (bounded to the k nearest) at `images`.

    From the measured distributions: F(d), the share of unrelated (row, image)
    pairs within d (best over variants), and each edited row's distance to its
    source. An edited row keeps its source among its k nearest when fewer than
    k unrelated images come strictly closer; their number is Poisson with mean
    images * F(d - 1). Candidates per unrelated row: images * F(radius).
    """
    from scipy.stats import poisson

    hist = np.array(m["unrelated_hist"], float)
    cdf = np.cumsum(hist) / hist.sum()
    out: dict[str, Any] = {
        "images": images,
        "radius": radius,
        "candidates_per_row": images * cdf[radius],
        "recall": {},
        "recall_at_k": {str(k): {} for k in ks},
    }
    for name, d in m["positive_distances"].items():
        d = np.array(d)
        found = d <= radius
        lam = images * np.where(d > 0, cdf[np.maximum(d - 1, 0)], 0.0)
        out["recall"][name] = float(found.mean())
        for k in ks:
            out["recall_at_k"][str(k)][name] = float(
                (found * poisson.cdf(k - 1, lam)).mean()
            )
    return out


def report(results: dict[str, Any]) -> None:
    ds = results["dataset"]
    print(
        f"\nDataset: {ds['images']:,} distinct images; used {ds['used']:,} "
        f"({ds['registered']:,} registered, {ds['distractors']:,} distractors)"
    )
    print(
        f"Query rows: {results['query_rows']:,} ({results['positive_rows']:,} edited "
        f"registered images); derivative image pairs listed "
        f"{results['derivative_pairs_listed']}, (query, image) pairs excluded as "
        f"derivatives {results['derivative_pairs_excluded']:,}"
    )

    print_recall_table(
        results,
        "Recall per transform at the current search radius (PDQ 31, pHash 8) "
        "[measured]",
        lambda m: 8 if m["kind"] == "phash" else 31,
    )
    print_recall_table(
        results,
        "Recall per transform at the largest threshold with < 1 chance match per "
        "1M-row manifest at 80M images by the tail model [recall measured, "
        "threshold extrapolated]",
        lambda m: safe_threshold(m, REGISTRY_SIZES[-1]),
    )

    print(
        "\nChance matches among unrelated pairs (per pair = per (row, registered "
        "image); "
        "the best over variants)"
    )
    print(
        f"{'method':<32} {'pairs':>11} {'thr':>4} {'measured':>9} {'rate':>8} "
        f"{'upper95':>8} {'model':>8} | expected per 1M-row manifest (model) "
        f"{'1M':>8} {'10M':>8} {'80M':>8}"
    )
    for name, m in results["methods"].items():
        thr = [0, 2, 4, 6, 8, 10] if m["kind"] == "phash" else [10, 20, 31, 40, 50]
        for row in m["table"]:
            if row["threshold"] not in thr:
                continue
            model = row["model_rate"] or 0.0
            print(
                f"{name:<32} {m['unrelated_pairs']:>11,} {row['threshold']:>4} "
                f"{row['chance_pairs']:>9,} {fmt_rate(row['rate']):>8} "
                f"{fmt_rate(row['rate_upper95']):>8} {fmt_rate(model):>8} |"
                + " " * 37
                + " ".join(
                    f"{fmt_count(expected_per_manifest(model, n)):>8}"
                    for n in REGISTRY_SIZES
                )
            )

    print(
        "\nTail fits: log10 P(d <= x) = a + b x on the lower tail (CDF <= 1e-3, "
        ">= 5 pairs) [points measured, line fitted]"
    )
    for name, m in results["methods"].items():
        tail = m["tail"]
        if not tail:
            print(f"{name}: too few tail points")
            continue
        pts = tail["points"]
        print(
            f"{name}: a={tail['intercept']:.3f} b={tail['slope']:.4f}; "
            f"{len(pts)} points"
        )
        shown = (
            pts
            if len(pts) <= 8
            else [pts[i] for i in np.linspace(0, len(pts) - 1, 8).astype(int)]
        )
        for d, c, cdf in shown:
            fit = 10 ** (tail["intercept"] + tail["slope"] * d)
            print(f"    d={d:>3} count={c:>9,} cdf={cdf:.2e} fit={fit:.2e}")

    v = results["verification"]
    print(
        f"\nVerification: {v['positive_pairs']:,} positive pairs "
        f"({v['registered_sampled']} registered images x transforms), "
        f"{v['unrelated_candidates_verified']:,} of "
        f"{v['unrelated_candidates_total']:,} "
        f"unrelated candidate pairs, {v['random_pairs']:,} random unrelated pairs"
    )
    ch = v["unrelated_candidate_inliers_hist"]
    rh = v["random_inliers_hist"]
    print(
        f"  unrelated candidates: max inliers {len(ch) - 1}, "
        f">=8: {sum(ch[8:])}, >=12: {sum(ch[12:])}, >=16: {sum(ch[16:])}"
    )
    print(f"  random unrelated: max inliers {len(rh) - 1}")
    t = v["inlier_tail"]
    print(
        f"  inlier tail: log10 P(inliers >= k | unrelated candidate) = "
        f"{t['intercept']:.2f} + {t['slope']:.3f} k; points {t['points']}"
    )

    p = results["pipeline"]
    print(
        f"\nTwo-stage pipeline (scheme {p['scheme']}); removed = verified or strong; "
        "recall measured on the verification sample, chance measured on all "
        "unrelated pairs (strong) and the verified candidates; expected = model"
    )
    print(
        f"{'levels':<74} {'mean':>5} {'minrec':>6} {'strong':>6} {'ver':>4} "
        f"{'cand/row':>8} "
        f"{'exp@1M':>8} {'exp@10M':>8} {'exp@80M':>8} {'upper@80M':>9}"
    )

    def pick(e: dict[str, Any]) -> bool:
        L = e["levels"]
        cands = {(31, 8), (40, 8), (50, 10), (63, 10)}
        if (L["pdq_candidate"], L["phash_candidate"]) not in cands:
            return False
        if L["pdq_strong"] < 0 and L["phash_strong"] < 0:
            return L["min_inliers"] in (8, 16, 32, 64)
        return (
            L["min_inliers"] == 16
            and L["min_quality"] == 50
            and (L["pdq_strong"], L["phash_strong"]) in {(0, -1), (16, -1), (16, 2)}
        )

    shown_rows = [e for e in p["grid"] if pick(e)]
    shown_rows.sort(
        key=lambda e: (
            e["levels"]["pdq_candidate"],
            e["levels"]["pdq_strong"],
            e["levels"]["phash_strong"],
            e["levels"]["min_inliers"],
        )
    )
    for e in shown_rows + [p["recommended"]]:
        ex = e["expected_per_manifest_model"]
        upper80 = e["expected_per_manifest_upper95"][str(REGISTRY_SIZES[-1])]
        print(
            f"{e['label']:<74} {e.get('mean_removed_recall', 0):>5.3f} "
            f"{e['min_removed_recall']:>6.3f} {e['chance_strong']:>6} "
            f"{e['chance_verified']:>4} {e['candidates_per_row_measured']:>8.4f} "
            + " ".join(f"{fmt_count(ex[str(n)]):>8}" for n in REGISTRY_SIZES)
            + f" {fmt_count(upper80):>9}"
        )
    best = p["recommended"]
    print(f"\nRecommended: {best['label']}")
    names = results["transforms"]
    print(f"{'level':<10} " + " ".join(f"{SHORT[n]:>5}" for n in names))
    for lvl in ("candidate", "strong", "verified", "removed"):
        print(
            f"{lvl:<10} " + " ".join(f"{best['recall'][n][lvl]:>5.3f}" for n in names)
        )

    pm = results["methods"][f"scheme:{results['pipeline']['scheme']}"]
    print(
        "\nScale from the measured distributions "
        f"(scheme {results['pipeline']['scheme']}; "
        "candidates per unrelated row = N x F(r); recall of the PDQ candidate stage, "
        "and bounded to the k nearest images) [extrapolated from measured rates]"
    )
    print(
        f"{'images':>11} {'radius':>6} {'cand/row':>9} {'recall':>6} "
        f"{'@1':>6} {'@2':>6} {'@4':>6} {'@8':>6}  (means over the 14 transforms)"
    )
    results["scale_model"] = []
    for n in REGISTRY_SIZES:
        for radius in (24, 31, 40, 50, 63):
            sm = scale_model(pm, radius, n)
            results["scale_model"].append(sm)
            mean = float(np.mean(list(sm["recall"].values())))
            print(
                f"{n:>11,} {radius:>6} {fmt_count(sm['candidates_per_row']):>9} "
                f"{mean:>6.3f} "
                + " ".join(
                    f"{float(np.mean(list(sm['recall_at_k'][k].values()))):>6.3f}"
                    for k in ("1", "2", "4", "8")
                )
            )
    if "scale" in results:
        s = results["scale"]
        print(
            f"\nScale (scheme {s['scheme']}, "
            f"{s['entries_per_registered_image']} entries "
            f"per registered image; padding: 8 dihedral PDQ-like hashes per seeded "
            f"variant of {s['padding_sources']:,} real images) [measured lookups]"
        )
        print(
            f"{'entries':>11} {'radius':>6} {'cand/row':>8} {'rows w/':>7} {'p99':>5} "
            f"{'max':>5} {'recall':>6} "
            + " ".join(f"{'@' + k:>6}" for k in s["sizes"][0]["recall_at_k"])
            + f" {'q/s':>7}"
        )
        for e in s["sizes"]:
            print(
                f"{e['entries']:>11,} {e['radius']:>6} "
                f"{e['candidates_per_unrelated_row']:>8.2f} "
                f"{e['unrelated_rows_with_candidates']:>7.3f} "
                f"{e['candidates_per_unrelated_row_p99']:>5.0f} "
                f"{e['candidates_per_unrelated_row_max']:>5} {e['recall']:>6.3f} "
                + " ".join(f"{x:>6.3f}" for x in e["recall_at_k"].values())
                + f" {e['queries_per_cpu_s']:>7,.0f}"
            )
    if "speed" in results:
        s = results["speed"]
        print(
            f"\nSpeed (one core, median of {s['repeat']}; RegistrySnapshot.match on "
            "~512 px JPEG rows) [measured]"
        )
        print(
            f"  unrelated rows: {s['unrelated_rows_per_cpu_s_no_verification']:.0f}/s "
            "without verification, "
            f"{s['unrelated_rows_per_cpu_s_with_verification']:.0f}/s "
            f"with ({s['unrelated_rows_without_candidates']} of {s['unrelated_rows']} "
            f"raised no candidate; {s['unrelated_rows_removed']} removed)"
        )
        print(
            "  edited registered rows: "
            f"{s['positive_rows_per_cpu_s_no_verification']:.0f}/s "
            f"without, {s['positive_rows_per_cpu_s_with_verification']:.1f}/s with; "
            f"{s['candidate_pairs_verified']} candidate pairs, "
            f"{1000 * s['seconds_per_verified_pair']:.1f} ms per verified pair; "
            f"{s['positive_rows_removed']} of {s['positive_rows']} removed"
        )
    print(f"\n{results.get('seconds', 0) / 60:.1f} min")


if __name__ == "__main__":
    main()
