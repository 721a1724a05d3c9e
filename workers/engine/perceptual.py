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
from PIL import Image

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
    image: Image.Image,
    *,
    tolerance: int = 24,
    line_tolerance: int = 6,
    min_keep: float = 0.2,
) -> Image.Image:
    """`image` (as RGB) cut to `trim_box`: without its uniform borders."""
    rgb = image.convert("RGB")
    box = trim_box(
        rgb, tolerance=tolerance, line_tolerance=line_tolerance, min_keep=min_keep
    )
    return crop_to(rgb, box)


def crop_to(image: Image.Image, box: tuple[int, int, int, int]) -> Image.Image:
    """`image` cut to `box`; the image itself when the box is all of it."""
    return image if box == (0, 0, *image.size) else image.crop(box)


def scale_box(
    box: tuple[int, int, int, int],
    size: tuple[int, int],
    to: tuple[int, int],
) -> tuple[int, int, int, int]:
    """A box of an image of `size` laid on the same image at size `to`
    (rounded inwards: the scaled box never takes in what the first one cut)."""
    if box == (0, 0, *size):
        return (0, 0, *to)
    fx, fy = to[0] / size[0], to[1] / size[1]
    left, top = math.ceil(box[0] * fx), math.ceil(box[1] * fy)
    right, bottom = math.floor(box[2] * fx), math.floor(box[3] * fy)
    return left, top, max(right, left + 1), max(bottom, top + 1)


def trim_box(
    image: Image.Image,
    *,
    tolerance: int = 24,
    line_tolerance: int = 6,
    min_keep: float = 0.2,
) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the picture inside uniform borders and
    letterboxes, cut pass by pass until none is left (a frame, then a mat,
    then the picture's own plain margin); the whole image when there is none.

    A border has the colour most corners share. It is the run of whole rows
    or columns at an edge that match that colour: every pixel within
    `tolerance` in every channel (JPEG rings near the picture's edge) and the
    line's mean within `line_tolerance`. The run stops at the first line that
    does not match, and a line is judged only over the part of the image
    still kept, so a flat part of the picture that touches the bar stays: a
    dark sky under a black bar has every pixel within `tolerance` of the bar,
    but not its mean. Rows then columns, and columns then rows, are both tried
    and the larger picture kept: a wide pillarbox bar would otherwise pass
    for the top rows of a dark picture between its bars. If what is left
    would be smaller than `min_keep` of either side, that pass cuts nothing
    (a logo on a plain background is not a border).
    """
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    pixels = np.asarray(rgb)
    left, top, right, bottom = 0, 0, rgb.width, rgb.height
    for _ in range(6):
        view = pixels[top:bottom, left:right]
        height, width = view.shape[:2]
        if width < 8 or height < 8:
            break
        colour = _border_colour(view, line_tolerance)
        box = _bar_free_box(view, colour, tolerance, line_tolerance, rows_first=True)
        if box == (0, 0, width, height):
            break  # columns first would find nothing either
        other = _bar_free_box(view, colour, tolerance, line_tolerance, rows_first=False)
        if _area(other) > _area(box):
            box = other
        cut_left, cut_top, cut_right, cut_bottom = box
        if (cut_right - cut_left) < min_keep * width or (
            cut_bottom - cut_top
        ) < min_keep * height:
            break
        # A resampled edge blends border and picture: drop that row too.
        cut_left += 1 if cut_left else 0
        cut_top += 1 if cut_top else 0
        cut_right -= 1 if cut_right < width else 0
        cut_bottom -= 1 if cut_bottom < height else 0
        left, top, right, bottom = (
            left + cut_left,
            top + cut_top,
            left + cut_right,
            top + cut_bottom,
        )
    return left, top, right, bottom


def _area(box: tuple[int, int, int, int]) -> int:
    return (box[2] - box[0]) * (box[3] - box[1])


def _border_colour(pixels: np.ndarray, agree: int) -> np.ndarray:
    """The colour most corners share, within `agree` (the top-left corner's
    when none do). Each corner is a 4 x 4 patch's mean, one line in: after a
    cut the outermost line may still blend two colours."""
    patches = (
        pixels[1:5, 1:5],
        pixels[1:5, -5:-1],
        pixels[-5:-1, 1:5],
        pixels[-5:-1, -5:-1],
    )
    corners = np.array([p.reshape(-1, 3).mean(axis=0) for p in patches])
    alike = (np.abs(corners[:, None] - corners[None]).max(axis=2) <= agree).sum(1)
    return np.round(corners[int(np.argmax(alike))]).astype(np.int16)


def _bar_free_box(
    pixels: np.ndarray,
    colour: np.ndarray,
    tolerance: int,
    line_tolerance: int,
    *,
    rows_first: bool,
) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) left after peeling bar lines off each edge,
    judging each line over the part of the image still kept."""
    height, width = pixels.shape[:2]
    left, top, right, bottom = 0, 0, width, height
    # An axis is looked at again only after the other one cut something.
    pending = ["rows", "columns"] if rows_first else ["columns", "rows"]
    while pending and left < right and top < bottom:
        axis = pending.pop(0)
        box = pixels[top:bottom, left:right]
        if axis == "columns":
            box = box.transpose(1, 0, 2)
        lines = (box, colour, tolerance, line_tolerance)
        cut = _leading_bar_lines(*lines)
        end = 0
        if cut < box.shape[0]:
            end = _leading_bar_lines(box[::-1], *lines[1:])
        if axis == "rows":
            top, bottom = top + cut, bottom - end
        else:
            left, right = left + cut, right - end
        other = "columns" if axis == "rows" else "rows"
        if (cut or end) and other not in pending:
            pending.append(other)
    return left, top, right, bottom


def _leading_bar_lines(
    lines: np.ndarray, colour: np.ndarray, tolerance: int, line_tolerance: int
) -> int:
    """How many of the leading lines (first axis) match the bar colour.

    Looked at a few lines at a time: most edges have no bar, and a bar is a
    small part of the image. One odd line at the very edge is passed over:
    downscaled to PREPARE_MAX_SIDE, a cut edge blends over two lines and the
    last pass dropped only one. For the same reason a line's two end pixels
    on either side are left out of it.
    """
    if lines.shape[1] > 8:
        lines = lines[:, 2:-2]
    length = lines.shape[1]

    def bar(block: np.ndarray) -> np.ndarray:
        # Signed, per channel: JPEG rings around the bar colour, but a line's
        # mean stays on it; a dark picture edge under a black bar does not,
        # however close each of its pixels is.
        diff = block.astype(np.int16) - colour
        off = np.abs(diff).reshape(block.shape[0], -1).max(axis=1) > tolerance
        mean = np.abs(diff.sum(axis=1, dtype=np.int32)).max(axis=1)
        return ~off & (mean <= line_tolerance * length)

    total = lines.shape[0]
    flags = bar(lines[:8])
    skip = 1 if flags.size > 1 and not flags[0] and flags[1] else 0
    start, chunk = 0, 8
    while True:
        first = skip if start == 0 else 0
        misses = np.flatnonzero(~flags[first:])
        if misses.size:
            count = start + first + int(misses[0])
            break
        start += flags.size
        if start >= total:
            count = total
            break
        chunk *= 2
        flags = bar(lines[start : start + chunk])
    return count if count > skip else 0


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


def query_pdq(
    image: Image.Image,
    *,
    mirrored: bool = True,
    trimmed: Image.Image | None = None,
) -> dict[str, bytes]:
    """PDQ of a prepared query image, of its trimmed form and of its mirror.

    "trimmed" is there only when trimming cut something (it meets the
    registry's "trimmed" variant); a caller that has trimmed the image
    already passes the result. The mirror lets a query that was both
    mirrored and rotated meet the registry's rotated variants.
    """
    hashes = {"canonical": _pdq(image)[0]}
    if trimmed is None:
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
    min_inliers / min_agreement / min_coverage: verification's inlier count,
    the correlation of the aligned images (verify.Verification.agreement) and
    the inliers' spread over the overlap (verify.Verification.coverage) for
    `verified` (see `verification_passes`). min_alignment: a pair the
    keypoints do not verify (but that has verify.DENSE_MIN_INLIERS of them) is
    verified when its thumbnails align densely at or above it
    (verify.Verification.alignment); None (the default, and what a job
    created before it had): the dense alignment is not tried.
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
    min_coverage: float = 0.6
    min_alignment: float | None = None
    descriptor_k: int = 8
    descriptor_min: float = 0.8
    descriptor_possible: float = 0.95
    descriptor_strong: float | None = None

    def verification_passes(
        self,
        *,
        inliers: int,
        agreement: float | None,
        coverage: float | None,
        alignment: float | None = None,
    ) -> bool:
        """`verification_passes` at these levels' thresholds."""
        return verification_passes(
            inliers=inliers,
            agreement=agreement,
            coverage=coverage,
            min_inliers=self.min_inliers,
            min_agreement=self.min_agreement,
            min_coverage=self.min_coverage,
            alignment=alignment,
            min_alignment=self.min_alignment,
        )


VERIFIED = "verified"
STRONG = "strong"
POSSIBLE = "possible"


def removes_row(level: str, remove_levels: Collection[str]) -> bool:
    """Whether a match removes its row from the filtered manifest.

    Every non-perceptual match (no level: exact, URL, style) does; a perceptual
    one when its level is among the levels the job removes.
    """
    return not level or level in remove_levels


def verification_passes(
    *,
    inliers: int,
    agreement: float | None,
    coverage: float | None,
    min_inliers: int,
    min_agreement: float,
    min_coverage: float,
    alignment: float | None = None,
    min_alignment: float | None = None,
) -> bool:
    """Whether a verification's figures make a pair verified.

    Enough inliers, spread over the overlap (coverage), and an appearance that
    agrees. When the appearance cannot be measured (agreement None: a dark
    texture, snow, marble are too flat in the thumbnails compared), coverage
    alone decides, so such a copy is not dropped for its low contrast.
    `coverage` None means it was not measured (figures from before the
    coverage check): then the agreement is required, as it was.
    Failing that, a pair whose thumbnails align densely (verify's
    `alignment`, measured when the keypoints did not pass) at or above
    `min_alignment` passes; None on either side: not used (the default).
    """
    if (
        alignment is not None
        and min_alignment is not None
        and alignment >= min_alignment
    ):
        return True
    if inliers < min_inliers:
        return False
    if coverage is None:
        return agreement is not None and agreement >= min_agreement
    if coverage < min_coverage:
        return False
    return agreement is None or agreement >= min_agreement


def level_for(
    *,
    algorithm: str,
    distance: int,
    inliers: int | None,
    levels: Levels,
    low_quality: bool = False,
    agreement: float | None = None,
    coverage: float | None = None,
    alignment: float | None = None,
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
    if inliers is not None and levels.verification_passes(
        inliers=inliers, agreement=agreement, coverage=coverage, alignment=alignment
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
    coverage: float | None = None,
    alignment: float | None = None,
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
        coverage=coverage,
        alignment=alignment,
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
