"""Perceptual hashes that survive the edits datasets make, and how sure a hit is.

Three pieces:

- `prepare` puts an image in a canonical form before hashing: upright RGB,
  downscaled to a fixed longer side, uniform borders and letterboxes trimmed.
  Registry images and query images both go through it, so an added border
  cancels out instead of moving every hash bit.
- Registry-side variants: each registered image is hashed (PDQ) not only as it
  is but also mirrored, turned, rotated a few degrees and cropped, so a query
  that was edited the same way lands near one of them. `SCHEMES` names sets of
  variants; the benchmark (bench/quality) measures each and the settings pick
  one. Every variant is one more 32-byte entry in the index.
- `TailModel` and `Levels`: a distance alone does not say how sure a match is,
  because unrelated artwork collides far more often than a bell curve predicts.
  The tail model is a fit to the lower tail of distances measured between
  unrelated real images; it turns a distance into the probability that an
  unrelated registered image comes this close, and `level_for` turns distance,
  verification and that probability into verified / strong / possible.

Limits: variants buy robustness to the edits they model (mirrors, turns,
rotations up to about 10 degrees, centred crops); an off-centre crop or a
heavy repaint is found only by local-feature verification, which needs both
images (workers/engine/verify.py). The tail model extrapolates far beyond what
was measured; docs/MATCHING.md shows the fit and says which figures are
measured and which extrapolated.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass

import imagehash
import numpy as np
import pdqhash
from PIL import Image, ImageChops

# PDQ reduces every image to 64x64 through box filters, so hashing at 256 px
# gives the same bits within a few (measured: 8 of 256) at a sixth of the cost.
PREPARE_MAX_SIDE = 256

# The eight turns and mirrors of the square's symmetry group.
DIHEDRAL = (
    "canonical",  # the prepared image itself
    "rot90",  # 90 degrees counter-clockwise (Pillow's ROTATE_90)
    "rot180",
    "rot270",
    "flipy",  # top to bottom
    "flipx",  # left-right mirror
    "transpose",
    "transverse",
)

_NAMED = ("trimmed",)
_ROTATION = re.compile(r"^rot(x?)([+-]\d+(?:\.\d+)?)$")
_CROP = re.compile(r"^crop(\d\d)(?:@(\d{1,3}),(\d{1,3}))?$")


def variant_names_valid(names: Iterable[str]) -> list[str]:
    """The names that are not variants (empty when all are)."""
    return [
        n
        for n in names
        if n not in DIHEDRAL
        and n not in _NAMED
        and not _ROTATION.match(n)
        and not _CROP.match(n)
    ]


# Named variant sets. "plain" is what every registry has; the others add
# variants. The benchmark measures each; settings.MATCH_VARIANT_SCHEME picks one.
_ROTATIONS = ("rot+3", "rot-3", "rot+6", "rot-6", "rot+9", "rot-9")
_ROTATIONS_EXPANDED = ("rotx+3", "rotx-3", "rotx+6", "rotx-6", "rotx+9", "rotx-9")
_CENTRE_CROPS = ("crop95", "crop90", "crop85", "crop80")
_OFFSET_CROPS = tuple(f"crop80@{x},{y}" for x in (0, 100) for y in (0, 100)) + tuple(
    f"crop85@{x},{y}" for x, y in ((0, 50), (100, 50), (50, 0), (50, 100))
)

SCHEMES: dict[str, tuple[str, ...]] = {
    "plain": (),  # the standard PDQ of the original image only
    "trimmed": ("canonical", "trimmed"),
    "dihedral": DIHEDRAL,
    "dihedral+crops": DIHEDRAL + ("trimmed",) + _CENTRE_CROPS,
    "dihedral+rot+crops": DIHEDRAL + ("trimmed",) + _ROTATIONS + _CENTRE_CROPS,
    "dihedral+rotx+crops": DIHEDRAL
    + ("trimmed",)
    + _ROTATIONS
    + _ROTATIONS_EXPANDED
    + _CENTRE_CROPS,
    "dihedral+rot+crops+offset": DIHEDRAL
    + ("trimmed",)
    + _ROTATIONS
    + _CENTRE_CROPS
    + _OFFSET_CROPS,
}
DEFAULT_SCHEME = "dihedral+rot+crops"


# --- canonical form ---------------------------------------------------------------


def trim_borders(
    image: Image.Image, *, tolerance: int = 24, min_keep: float = 0.2
) -> Image.Image:
    """Cut away uniform borders and letterboxes, pass by pass until none is left
    (a frame, then a mat, then the picture's own plain margin).

    A border is the run of rows/columns at the edges that differ from the
    corner colour by at most `tolerance` in every channel. If what is left would
    be smaller than `min_keep` of either side, the image is returned as it is
    (a logo on a plain background is not a border).
    """
    rgb = image.convert("RGB")
    for _ in range(6):
        width, height = rgb.size
        if width < 8 or height < 8:
            return rgb
        corners = [
            rgb.getpixel((0, 0)),
            rgb.getpixel((width - 1, 0)),
            rgb.getpixel((0, height - 1)),
            rgb.getpixel((width - 1, height - 1)),
        ]
        # The colour most corners share: a letterbox has it at all four.
        colour = max(corners, key=corners.count)
        diff = ImageChops.difference(rgb, Image.new("RGB", rgb.size, colour))
        mask = diff.convert("L").point(lambda p: 255 if p > tolerance else 0)
        box = mask.getbbox()
        if box is None:
            return rgb
        left, top, right, bottom = box
        if (right - left) < min_keep * width or (bottom - top) < min_keep * height:
            return rgb
        if box == (0, 0, width, height):
            return rgb
        # A resampled edge blends border and picture: drop that row too.
        left += 1 if left else 0
        top += 1 if top else 0
        right -= 1 if right < width else 0
        bottom -= 1 if bottom < height else 0
        rgb = rgb.crop((left, top, right, bottom))
    return rgb


def prepare(image: Image.Image, *, max_side: int = PREPARE_MAX_SIDE) -> Image.Image:
    """Canonical form for hashing: RGB, longer side <= max_side.

    Borders are not trimmed here: where a trim cuts moves by a few pixels under
    JPEG noise, which cost 11 points of recall on re-encoded copies (measured
    on bench/quality's images). The "trimmed" variant carries the trim instead,
    beside the untrimmed canonical hash.
    """
    rgb = image.convert("RGB")
    if max(rgb.size) > max_side:
        rgb = rgb.copy()
        rgb.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    return rgb


# --- hashes of variants ----------------------------------------------------------


def _pdq(image: Image.Image) -> tuple[bytes, int]:
    vector, quality = pdqhash.compute(np.ascontiguousarray(np.asarray(image)))
    return np.packbits(vector.astype(np.uint8)).tobytes(), int(quality)


# Turns and mirrors are applied to the pixels, not derived from one hash with
# pdqhash.compute_dihedral: that shortcut is 24-40 bits away from the hash of
# the mirrored image (PDQ's box filters are not symmetric), the exact one 2.
_TRANSPOSE = {
    "rot90": Image.Transpose.ROTATE_90,
    "rot180": Image.Transpose.ROTATE_180,
    "rot270": Image.Transpose.ROTATE_270,
    "flipy": Image.Transpose.FLIP_TOP_BOTTOM,
    "flipx": Image.Transpose.FLIP_LEFT_RIGHT,
    "transpose": Image.Transpose.TRANSPOSE,
    "transverse": Image.Transpose.TRANSVERSE,
}


def _transform(image: Image.Image, name: str) -> Image.Image:
    if name == "canonical":
        return image
    if name == "trimmed":
        return trim_borders(image)
    if name in _TRANSPOSE:
        return image.transpose(_TRANSPOSE[name])
    rotation = _ROTATION.match(name)
    if rotation:
        expand = bool(rotation.group(1))
        return image.rotate(
            float(rotation.group(2)),
            resample=Image.Resampling.BILINEAR,
            expand=expand,
        )
    crop = _CROP.match(name)
    if crop:
        keep = int(crop.group(1)) / 100
        px = int(crop.group(2)) / 100 if crop.group(2) else 0.5
        py = int(crop.group(3)) / 100 if crop.group(3) else 0.5
        width, height = image.size
        cw, ch = max(1, round(width * keep)), max(1, round(height * keep))
        left = round((width - cw) * px)
        top = round((height - ch) * py)
        return image.crop((left, top, left + cw, top + ch))
    raise ValueError(f"unknown variant {name!r}")


def pdq_variants(
    image: Image.Image, variants: Iterable[str]
) -> dict[str, tuple[bytes, int]]:
    """PDQ hash and quality of a prepared image under each named variant.

    Raises ValueError for an unknown variant name.
    """
    names = list(dict.fromkeys(variants))
    unknown = variant_names_valid(names)
    if unknown:
        raise ValueError(f"unknown variants: {', '.join(unknown)}")
    return {name: _pdq(_transform(image, name)) for name in names}


def query_pdq(image: Image.Image, *, mirrored: bool = True) -> dict[str, bytes]:
    """PDQ of a prepared query image, of its trimmed form and of its mirror.

    "trimmed" is there only when trimming cut something (it meets the
    registry's "trimmed" variant). The mirror lets a query that was both
    mirrored and rotated meet the registry's rotated variants.
    """
    hashes = {"canonical": _pdq(image)[0]}
    trimmed = trim_borders(image)
    if trimmed.size != image.size:
        hashes["trimmed"] = _pdq(trimmed)[0]
    if mirrored:
        hashes["flipx"] = _pdq(_transform(image, "flipx"))[0]
    return hashes


def phash_prepared(image: Image.Image) -> bytes:
    """imagehash's 64-bit pHash of a prepared image, as 8 bytes."""
    return bytes.fromhex(str(imagehash.phash(image)))


# --- how sure a hit is -----------------------------------------------------------


@dataclass(frozen=True)
class TailModel:
    """log10 P(unrelated pair within distance d) = intercept + slope * d.

    Fitted on the lower tail of distances measured between unrelated images
    (the best distance over a scheme's variants, per pair), where the empirical
    CDF is below `tail_fraction`: real look-alikes make that tail far heavier
    than the bulk predicts, so the bulk is left out. `measured_to` is the
    smallest probability the measurement could see (1 / pairs); below it the
    model extrapolates.
    """

    intercept: float
    slope: float
    pairs: int = 0
    measured_to: float = 0.0

    def probability(self, distance: int | float) -> float:
        """Per pair: the chance that an unrelated image comes within `distance`."""
        return min(1.0, 10 ** (self.intercept + self.slope * float(distance)))

    def distance_for(self, probability: float) -> int:
        """The largest distance whose chance-match probability is <= probability."""
        if self.slope <= 0:
            raise ValueError("a tail model's slope must be positive")
        return math.floor((math.log10(probability) - self.intercept) / self.slope)

    @classmethod
    def fit(
        cls,
        distances: np.ndarray,
        *,
        tail_fraction: float = 1e-3,
        min_count: int = 5,
    ) -> tuple[TailModel, list[tuple[int, int, float]]]:
        """Fit the lower tail; returns the model and its points (d, count, cdf).

        Points are the distances where at least `min_count` pairs lie at or below
        d (fewer are noise) and the empirical CDF is at most `tail_fraction`.
        A weighted least-squares line through log10(cdf), weights sqrt(count),
        as the counts are Poisson. Raises ValueError with fewer than 2 points.
        """
        values = np.asarray(distances).ravel()
        total = int(values.size)
        if total == 0:
            raise ValueError("no distances to fit")
        top = int(values.max()) + 1
        histogram = np.bincount(values.astype(np.int64), minlength=top)
        counts = np.cumsum(histogram)
        # Only distances that occur: a gap repeats the previous point.
        points = [
            (d, int(counts[d]), counts[d] / total)
            for d in range(top)
            if histogram[d]
            and counts[d] >= min_count
            and counts[d] / total <= tail_fraction
        ]
        if len(points) < 2:
            raise ValueError(
                f"only {len(points)} tail points; measure more pairs or raise "
                "tail_fraction"
            )
        x = np.array([p[0] for p in points], float)
        y = np.log10(np.array([p[2] for p in points], float))
        w = np.sqrt(np.array([p[1] for p in points], float))
        slope, intercept = np.polyfit(x, y, 1, w=w)
        return cls(float(intercept), float(slope), total, 1 / total), points


@dataclass(frozen=True)
class Levels:
    """Thresholds that turn a candidate into a level.

    Candidates come from the Hamming search (its radius: snapshot.Thresholds).
    pdq_strong / phash_strong: at or below, a match is strong without
    verification (the tail model puts chance matches below one per 1M-row
    manifest against the registry size it was chosen for).
    min_inliers / min_agreement: verification's inlier count and the
    correlation of the aligned images (verify.Verification.agreement) for
    `verified`.
    max_candidates: at most this many nearest candidates per row and hash.
    descriptor_k: the nearest registered images by descriptor a row's image
    is compared with; descriptor_min: below this cosine similarity a
    neighbour is not a candidate at all. descriptor_possible: an unverified
    candidate at or above it is `possible` (listed with its figures, not
    removed by default). descriptor_strong: at or above it a candidate is
    strong on its similarity alone; None (the default) turns that off.
    """

    pdq_strong: int = 31
    phash_strong: int = 4
    min_inliers: int = 16
    min_agreement: float = 0.5
    max_candidates: int = 8
    descriptor_k: int = 8
    descriptor_min: float = 0.3
    descriptor_possible: float = 0.6
    descriptor_strong: float | None = None


VERIFIED = "verified"
STRONG = "strong"
POSSIBLE = "possible"


def removes_row(level: str, remove_levels: Collection[str]) -> bool:
    """Whether a match removes its row from the filtered manifest.

    Every non-perceptual match (no level: exact, URL, style) does; a perceptual
    one when its level is among the levels the job removes.
    """
    return not level or level in remove_levels


def level_for(
    *,
    algorithm: str,
    distance: int,
    inliers: int | None,
    levels: Levels,
    low_quality: bool = False,
    agreement: float | None = None,
) -> str | None:
    """verified / strong / possible, or None when the candidate is dismissed.

    `inliers` is None when verification could not run (hash-only on either
    side). A candidate that was verified and failed keeps only a level its
    distance earns on its own (strong), never `possible`: both images were seen
    and they do not agree. A registered image whose PDQ quality is low (flat
    pictures: flags, stripes, logos) collides with unrelated ones at any
    distance, so its hash matches are never strong on their own.
    """
    strong = levels.pdq_strong if algorithm == "pdq" else levels.phash_strong
    if (
        inliers is not None
        and inliers >= levels.min_inliers
        and agreement is not None
        and agreement >= levels.min_agreement
    ):
        return VERIFIED
    if distance <= strong and not low_quality:
        return STRONG
    if inliers is None:
        return POSSIBLE
    return None


def descriptor_level(
    *,
    similarity: float,
    inliers: int | None,
    agreement: float | None,
    levels: Levels,
) -> str | None:
    """The level of a descriptor candidate, or None when it is dismissed.

    Verified as any candidate is (level_for's verification rule). One that
    failed verification, or could not be verified (hash-only on either side),
    is still `possible` when its similarity reaches descriptor_possible, so a
    true copy that verification misses is listed with its figures rather than
    lost; strong on similarity alone only when descriptor_strong is set.
    """
    verdict = level_for(
        algorithm="descriptor",
        distance=1 << 30,  # no hash distance: only verification decides here
        inliers=inliers,
        levels=levels,
        agreement=agreement,
    )
    if verdict == VERIFIED:
        return VERIFIED
    if levels.descriptor_strong is not None and similarity >= levels.descriptor_strong:
        return STRONG
    if similarity >= levels.descriptor_possible:
        return POSSIBLE
    return None


# Chance-match models per variant scheme and algorithm, fitted by bench/quality
# on real artwork (docs/MATCHING.md shows the fits). A scheme without a model
# gives matches without a chance estimate.
TAIL_MODELS: dict[str, dict[str, TailModel]] = {}


def tail_models(scheme: str) -> dict[str, TailModel]:
    """The fitted models for `scheme` ({} when none was measured)."""
    return dict(TAIL_MODELS.get(scheme, {}))
