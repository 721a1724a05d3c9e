"""Geometric verification of a candidate pair with local features.

Perceptual hashes say two images look alike; they cannot say one is an edited
copy of the other. This module checks a candidate pair the way a person would:
it finds distinctive points in both images (ORB or AKAZE keypoints with binary
descriptors), pairs each query point with its nearest reference point when that
neighbour is clearly better than the second nearest (Lowe's ratio test), and
asks RANSAC for one geometric transform that carries many of those pairs onto
each other. The number of pairs that agree with the transform, the inliers, is
the evidence: a crop, rotation, rescale, recompression or watermark of a work
keeps dozens to hundreds; an unrelated image keeps a handful at most, because
random pairs do not line up under one plausible transform.

Both images are worked on in grayscale, scaled up or down to a fixed longer
side (512 px): the cost is bounded, a resized copy meets its original at the
same scale, and the reference's features can be extracted once and cached
(`Features.to_bytes`, about 36 bytes a keypoint). Keypoints are kept spread
over the image rather than strongest first, so a high-contrast overlay (a
watermark, a caption) cannot crowd out the picture under it.

The transform tried first is a similarity (rotation, uniform scale, shift:
`cv2.estimateAffinePartial2D`); when that fails the checks below, a full
affine, which also absorbs aspect-ratio stretches, is tried
(`cv2.estimateAffine2D`; not a homography: every edit we expect is affine, and
each extra degree of freedom lets random matches agree more often). Both are
rejected when implausible (scale outside 0.2-5, a stretch of one axis over
1.3 times the other, a reflection), and each reference point takes one match
at most, so a pile of random matches cannot buy inliers with a wild or
collapsing transform.
Descriptors are not mirror-invariant, so a mirrored copy is found by
extracting the flipped query as well (only when the first try fails).

Inliers are not enough: different pictures that share a template (a card
frame, a portrait backdrop, a flag's canton) match hundreds of points on the
shared part. `verified` also needs the inliers to cover the overlap of both
images (`coverage`: about the share of the picture two template-sharers have
in common, near 1 for a copy, measured over what a crop kept, not the whole
reference) and the query, laid on the reference, to look like it
(`agreement`, a correlation of thumbnails cell by cell). A cell where the
reference has content and the copy lays flat ground disagrees: the copy has
lost that part of the picture (a blank card frame against a filled card).
When the thumbnails are too flat to compare (a dark texture, marble, snow),
coverage alone decides.

Limits:
- Flat images (logos, letters, clip art) have few corners. Detection retries
  with a lower threshold, but a plain disc or a single glyph still has too few
  points to verify anything: such pairs get a low count, never a false pass.
- Images that genuinely share a part (the same logo or photo inside two
  different designs) match on that part: 25-35 inliers are typical, and
  hundreds for a shared template. Coverage rejects a part that is less than
  about DEFAULT_MIN_COVERAGE of the overlap; a template sharing more (a
  backdrop behind a small subject) is left to the appearance check, and when
  the pictures are also too flat to compare, it verifies.
- Coverage is only as sharp as the inliers are many: with 16-30 of them it
  says little (it is relative to what that many inliers could cover). A copy
  under a large overlay (a caption bar, a big watermark) loses the overlay's
  cells: 0.7-0.85 on the test pictures.
- A one-axis stretch is fitted by the affine only when the similarity fails:
  a similarity that passes (a band of the stretched picture lines up, and
  the checks pass) is what is reported.
- Perspective (photos of a print at an angle) is outside the models tried;
  mild perspective still verifies on the part that is nearly affine.
- Framing: a query showing the work at under 1/5 or over 5 times the
  reference's scale (a small inset in a collage, a blown-up detail) is outside
  the plausible scales. Copies under about 100 px lose too much detail, and
  under 16 px nothing is described at all.
- An overlay shared by unrelated images (the same stock-site watermark on both)
  is a shared part like any other; registered works rarely carry one.
- Inliers are counted once per 2 px cell of the reference, so the numbers are
  a little lower than OpenCV's raw RANSAC mask would give.

Dense alignment (opt-in: `min_alignment`, the engine's MATCH_MIN_ALIGNMENT):
where the keypoints fall short but found some (DENSE_MIN_INLIERS), the two
96 px thumbnails are aligned by ECC and compared; see `_dense`. It verifies
small pictures turned or recompressed that keep too few keypoints, or whose
keypoints a turned canvas's corners outnumber, and it aligns generic shapes
(a thin ring, a lit sphere) with each other as well: docs/MATCHING.md
("Dense alignment") measured both.

Nothing here raises on a degenerate image (tiny, constant, no keypoints): it
simply returns 0 inliers. Invalid arguments raise ValueError.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import cv2
import numpy as np
from PIL import Image

from .perceptual import trim_box, verification_passes

# Workers parallelize by process; OpenCV's own threads would only fight them.
cv2.setNumThreads(1)

KINDS = ("orb", "akaze")
DEFAULT_KIND = "orb"
DEFAULT_MAX_SIDE = 512
# Calibrated by the bench (bench/quality): recall against the unrelated tail.
DEFAULT_MIN_INLIERS = 16
DEFAULT_MIN_AGREEMENT = 0.5
DEFAULT_MIN_COVERAGE = 0.6
FORMAT_VERSION = 2
# The decision made from the figures, recorded in receipts beside the format:
# 2 counts a part of the reference that the copy lays flat ground on as
# disagreeing (MISSING_STD); 3 verifies, when the keypoints do not, a pair
# whose thumbnails align densely (_dense, `alignment`).
RULE_VERSION = 3

# Below this many pixels on the shorter side (at working size) there is
# nothing to describe.
MIN_SIDE = 16
# Keypoints are stored in 1/16 pixel as uint16.
MAX_MAX_SIDE = 4096
# At most this many keypoints per image: matching cost grows with the product.
MAX_KEYPOINTS = 1000
# ORB detects this many times more, then keeps MAX_KEYPOINTS spread over a
# GRID x GRID grid (see _spread).
DETECT_FACTOR = 3
GRID = 4
# Fewer keypoints than this and detection is retried at a lower threshold:
# flat art (letters, logos, clip art) has few strong corners.
RETRY_BELOW = 400
# FAST's default of 20 finds too few corners on flat art even on the first try.
ORB_FAST_THRESHOLDS = (12, 4)
AKAZE_THRESHOLDS = (0.0008, 0.0001)
# Lowe's ratio: a match counts only if its nearest neighbour is clearly nearer
# than the second.
RATIO = 0.8
# RANSAC inlier distance, in pixels of the reference's working image.
REPROJECTION_ERROR = 4.0
RANSAC_ITERATIONS = 2000
RANSAC_CONFIDENCE = 0.995
# Plausible transforms only: scale of the query onto the reference, and how
# far an affine transform may stretch one axis against the other.
MIN_SCALE, MAX_SCALE = 0.2, 5.0
MAX_ANISOTROPY = 1.3
# Inliers are counted once per reference position on this grid, so a corner
# found at several pyramid levels counts once.
CELL = 2.0
# Fewer matches than this cannot support a transform worth counting.
MIN_MATCHES = 4
DESCRIPTOR_BYTES = {"orb": 32, "akaze": 61}
# Appearance check: the query, laid on the reference by the transform found,
# must look like it. Compared as grayscale thumbnails of this longer side.
THUMB_SIDE = 96
# At least this share of the query must land on the reference for the check.
MIN_OVERLAP = 0.25
# The check correlates cells of a grid over the overlap and reports a low
# percentile of the cells' correlations; cells where the reference is flatter
# than FLAT_STD are left out (whatever a copy adds there, a caption, says
# nothing), and so are cells the copy lays flat on barely textured ones.
AGREEMENT_GRID = 6
AGREEMENT_PERCENTILE = 25
FLAT_STD = 4.0
# A cell that is textured in the reference (at least this deviation) but flat
# where the query is laid on it has lost the reference's content: it counts
# as a correlation of 0, not as a flat cell left out. This is what tells a
# shared template with its picture left out (a blank card frame, a flag's
# field without its badge) from a copy: the flat cells were skipped, so only
# the shared part was compared. 3 x FLAT_STD: a copy's own edits (lower
# contrast, JPEG, a small size) leave such cells with some texture.
MISSING_STD = 3 * FLAT_STD
# Coverage check (_coverage): each side's keypoints in the overlap are binned
# on a grid of this many cells a side over their extent.
COVERAGE_GRID = 8
# A copy lies mostly on its original or holds it mostly (a crop lies inside
# it, a border or a collage holds it): the overlap must be at least this share
# of one of the two images, or coverage is 0. Chance alignments that lay a
# sliver of one picture on the edge of the other fail here.
MIN_LAID = 0.5
# Dense alignment (_dense; opt-in, `min_alignment`), tried when no keypoint
# model passes but the best found DENSE_MIN_INLIERS inliers: the query's
# thumbnail is aligned on the reference's by OpenCV's ECC (an affine warp that
# maximises their correlation), started from the framings an edit leaves:
# the same frame (a resize, a re-encoding, a stretch), the frame inside
# uniform margins (a border, a letterbox), the frame turned by these angles
# on the same or an expanded canvas (a rotation), a centre crop of this share
# of each side, and the transforms the keypoints found, however few their
# inliers. Each start is scored by its correlation before any refinement;
# the best DENSE_REFINED starts at or above DENSE_START are refined.
DENSE_ANGLES = (-8.0, -4.0, 4.0, 8.0)
DENSE_CROP = 0.8
DENSE_START = 0.4
DENSE_REFINED = 2
DENSE_ITERATIONS = 25
DENSE_EPSILON = 1e-4
# The dense alignment's figure needs at least this many textured cells of the
# agreement grid compared (of AGREEMENT_GRID**2): a sliver or a lone glyph
# lines up with any blob.
DENSE_MIN_CELLS = 8
# The dense alignment is tried only for a pair whose keypoints found at least
# this many inliers under a plausible transform: some evidence of the same
# content. Below it, on the benchmark's look-alikes, aligned pairs are mostly
# generic shapes (rings, lit spheres, sprite grids) that align with each
# other as well as with their copies (docs/MATCHING.md, "Dense alignment").
DENSE_MIN_INLIERS = 8


@dataclass(frozen=True, eq=False)
class Features:
    """Keypoints and descriptors of one image at its working size."""

    keypoints: np.ndarray  # (N, 2) float32: x, y in the working image
    descriptors: np.ndarray  # (N, 32) uint8 for ORB, (N, 61) uint8 for AKAZE
    kind: str  # "orb" or "akaze"
    width: int  # of the working image (longer side == max_side unless tiny)
    height: int
    mirrored: bool = False  # extracted from the left-right flipped image
    # Grayscale thumbnail (longer side THUMB_SIDE) for the appearance check.
    thumb: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.keypoints.shape[0])

    def to_bytes(self) -> bytes:
        """A compact npz: keypoints as 1/16-pixel uint16, descriptors as is."""
        out = io.BytesIO()
        np.savez(
            out,
            meta=np.array(
                [
                    FORMAT_VERSION,
                    KINDS.index(self.kind),
                    self.width,
                    self.height,
                    int(self.mirrored),
                ],
                dtype=np.int32,
            ),
            keypoints=np.round(self.keypoints * 16).astype(np.uint16),
            descriptors=self.descriptors,
            thumb=self.thumb if self.thumb is not None else np.zeros((0, 0), np.uint8),
        )
        return out.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Features:
        """Read what `to_bytes` wrote. Raises ValueError for anything else."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                meta = npz["meta"]
                keypoints = npz["keypoints"].astype(np.float32) / 16
                descriptors = npz["descriptors"]
                thumb = npz["thumb"]
        except (OSError, KeyError, ValueError, EOFError) as exc:
            raise ValueError(f"not verify features ({exc})") from None
        if meta.shape != (5,) or int(meta[0]) != FORMAT_VERSION:
            raise ValueError("verify features of an unknown format version")
        kind_index = int(meta[1])
        if not 0 <= kind_index < len(KINDS):
            raise ValueError("verify features of an unknown kind")
        if (
            keypoints.ndim != 2
            or keypoints.shape[1] != 2
            or descriptors.dtype != np.uint8
            or descriptors.ndim != 2
            or descriptors.shape[0] != keypoints.shape[0]
            or thumb.dtype != np.uint8
            or thumb.ndim != 2
        ):
            raise ValueError("verify features with inconsistent arrays")
        return cls(
            keypoints=keypoints,
            descriptors=descriptors,
            kind=KINDS[kind_index],
            width=int(meta[2]),
            height=int(meta[3]),
            mirrored=bool(meta[4]),
            thumb=thumb if thumb.size else None,
        )


@dataclass(frozen=True)
class Verification:
    inliers: int  # distinct matches that agree with the transform (0: none)
    mirrored: bool  # the inliers came from the left-right flipped query
    model: str  # "similarity", "affine" or "" when no plausible one was found
    matches: int  # one-to-one matches that passed the ratio test, before RANSAC
    seconds: float  # wall time, including extracting the query's features
    scale: float = 0.0  # query onto reference, at working size (1: same framing)
    rotation: float = 0.0  # degrees that turn the query into the reference,
    # counter-clockwise as displayed
    # Correlation (-1..1) of the query laid on the reference with the reference,
    # over their overlap; None when either side has no thumbnail, the
    # transform lays too little of the query on the reference, or the overlap
    # is too flat to measure (a dark texture, snow).
    agreement: float | None = None
    # How evenly the inliers spread over the part of each image that the
    # transform lays on the other (0-1, the lower of the two sides; 0 when no
    # transform was found): see _coverage.
    coverage: float = 0.0
    # The dense alignment's figure (0-1, see _dense) when the keypoints did
    # not pass and it was tried; None when it was not, or when the thumbnails
    # could not be aligned over enough textured cells.
    alignment: float | None = None

    def verified(
        self,
        min_inliers: int = DEFAULT_MIN_INLIERS,
        min_agreement: float = DEFAULT_MIN_AGREEMENT,
        min_coverage: float = DEFAULT_MIN_COVERAGE,
        min_alignment: float | None = None,
    ) -> bool:
        """Enough inliers, spread over the overlap, and an appearance that agrees
        (or cannot be measured: then coverage alone decides); or, failing that,
        thumbnails that align densely (`min_alignment`, None: not used)."""
        return verification_passes(
            inliers=self.inliers,
            agreement=self.agreement,
            coverage=self.coverage,
            min_inliers=min_inliers,
            min_agreement=min_agreement,
            min_coverage=min_coverage,
            alignment=self.alignment,
            min_alignment=min_alignment,
        )


def extract(
    image: Image.Image | np.ndarray,
    *,
    max_side: int = DEFAULT_MAX_SIDE,
    mirrored: bool = False,
    kind: str = DEFAULT_KIND,
) -> Features:
    """Keypoints and descriptors of an image scaled to `max_side`, in grayscale.

    `image` is a PIL image (any mode; alpha is ignored) or a uint8 array
    (H x W gray or H x W x 3 RGB). It is scaled, up or down, so that its
    longer side is exactly `max_side`: a reference and a resized copy of it
    then meet at the same scale. `mirrored` flips it left-right first.

    Raises ValueError for an unknown kind, a max_side outside 64-4096 or an
    array of another shape or type.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if not 64 <= max_side <= MAX_MAX_SIDE:
        raise ValueError(f"max_side must be between 64 and {MAX_MAX_SIDE}")
    gray = _working_gray(image, max_side)
    if mirrored:
        gray = np.ascontiguousarray(gray[:, ::-1])
    height, width = gray.shape
    keypoints: list[cv2.KeyPoint] = []
    descriptors: np.ndarray | None = None
    if min(height, width) >= MIN_SIDE and int(gray.max()) != int(gray.min()):
        keypoints, descriptors = _detect(gray, kind)
    if descriptors is None or not keypoints:
        points = np.zeros((0, 2), np.float32)
        descriptors = np.zeros((0, DESCRIPTOR_BYTES[kind]), np.uint8)
    else:
        points = np.array([kp.pt for kp in keypoints], np.float32).reshape(-1, 2)
    return Features(
        keypoints=points,
        descriptors=np.ascontiguousarray(descriptors, dtype=np.uint8),
        kind=kind,
        width=width,
        height=height,
        mirrored=mirrored,
        thumb=_thumb(gray),
    )


def _thumb(gray: np.ndarray) -> np.ndarray | None:
    height, width = gray.shape
    if min(height, width) < MIN_SIDE:
        return None
    factor = THUMB_SIDE / max(height, width)
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return cv2.resize(gray, size, interpolation=cv2.INTER_AREA)


def _agreement(
    query: Features, reference: Features, matrix: np.ndarray
) -> float | None:
    """Correlation of the query laid on the reference, over their overlap."""
    scores = _cell_scores(query, reference, matrix)
    if scores is None or len(scores) < 4:
        return None
    return float(np.percentile(scores, AGREEMENT_PERCENTILE))


def _cell_scores(
    query: Features, reference: Features, matrix: np.ndarray
) -> list[float] | None:
    """The agreement grid's cells' correlations (None: nothing to compare)."""
    if query.thumb is None or reference.thumb is None:
        return None
    qh, qw = query.thumb.shape
    rh, rw = reference.thumb.shape
    thumb_matrix = _to_thumbnails(matrix, query, reference)
    laid = cv2.warpAffine(
        query.thumb.astype(np.float32), thumb_matrix, (rw, rh), flags=cv2.INTER_LINEAR
    )
    cover = cv2.warpAffine(
        np.ones((qh, qw), np.float32), thumb_matrix, (rw, rh), flags=cv2.INTER_NEAREST
    )
    # Leave out the blended rim of the laid image.
    cover = cv2.erode(cover, np.ones((3, 3), np.uint8))
    inside = cover > 0.5
    if inside.sum() < MIN_OVERLAP * qh * qw:
        return None
    laid = cv2.GaussianBlur(laid, (3, 3), 0)
    ref = cv2.GaussianBlur(reference.thumb.astype(np.float32), (3, 3), 0)
    # Per cell of a grid, then a low percentile: a shared frame, logo or
    # backdrop agrees in its own cells only, while a copy agrees nearly
    # everywhere (a watermark spoils a few cells, not a quarter of them).
    # The cells' sums come from summed-area tables (one pass, not 36).
    weight = inside.astype(np.float64)
    a = laid.astype(np.float64) * weight
    b = ref.astype(np.float64) * weight
    rows = _split_edges(rh, AGREEMENT_GRID)
    columns = _split_edges(rw, AGREEMENT_GRID)

    def cells(values: np.ndarray) -> np.ndarray:
        table = np.zeros((rh + 1, rw + 1))
        table[1:, 1:] = values.cumsum(0).cumsum(1)
        grid = table[np.ix_(rows, columns)]
        return grid[1:, 1:] - grid[:-1, 1:] - grid[1:, :-1] + grid[:-1, :-1]

    count = cells(weight)
    area = np.outer(np.diff(rows), np.diff(columns))
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_a, mean_b = cells(a) / count, cells(b) / count
        var_a = np.maximum(cells(a * a) / count - mean_a**2, 0.0)
        var_b = np.maximum(cells(b * b) / count - mean_b**2, 0.0)
        covariance = cells(a * b) / count - mean_a * mean_b
    std_a, std_b = np.sqrt(var_a), np.sqrt(var_b)
    scores = []
    for y in range(len(rows) - 1):
        for x in range(len(columns) - 1):
            if not area[y, x] or count[y, x] < 0.6 * area[y, x]:
                continue
            if std_b[y, x] < FLAT_STD:
                continue  # the reference is flat here: nothing to find
            if std_a[y, x] < FLAT_STD:
                # Flat in the copy: the reference's content is missing if
                # it had any to speak of, else the cell says nothing.
                if std_b[y, x] >= MISSING_STD:
                    scores.append(0.0)
                continue
            value = covariance[y, x] / (std_a[y, x] * std_b[y, x])
            scores.append(float(min(1.0, max(-1.0, value))))
    return scores


def _split_edges(length: int, parts: int) -> np.ndarray:
    """The edges of np.array_split(range(length), parts)'s pieces."""
    sizes = [length // parts + (1 if i < length % parts else 0) for i in range(parts)]
    return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)


def _coverage(
    query: Features,
    reference: Features,
    matrix: np.ndarray,
    source: np.ndarray,
    target: np.ndarray,
) -> float:
    """How evenly the inliers spread over the overlap, the lower of both sides.

    On each side, the keypoints that the transform lays inside the other image
    (the overlap) are binned on a COVERAGE_GRID grid over their extent; a cell
    holding any of them is covered when an inlier lies in it. The covered
    cells are divided by how many the same number of inliers, drawn at random
    from those keypoints, would be expected to reach, so a copy with few
    inliers is not held to more than its count can cover (and with few
    inliers coverage says little). Different pictures sharing a template (a
    card frame, a backdrop, a flag's canton) have their inliers on the shared
    part only and none in the cells of their different contents: their
    coverage is about the share of the picture they share. Relative to the
    overlap, not the whole image: a crop covers what it kept. 0 when the
    overlap is under MIN_LAID of the smaller image (neither lies mostly on
    the other: no edit we match does that, chance alignments do).
    """
    if _laid_share(query, reference, matrix) < MIN_LAID:
        return 0.0
    inverse = cv2.invertAffineTransform(matrix.astype(np.float64))
    on_reference = _side_coverage(
        reference.keypoints,
        target,
        _inside(_apply(inverse, reference.keypoints), query.width, query.height),
    )
    on_query = _side_coverage(
        query.keypoints,
        source,
        _inside(_apply(matrix, query.keypoints), reference.width, reference.height),
    )
    return min(on_reference, on_query)


def _laid_share(query: Features, reference: Features, matrix: np.ndarray) -> float:
    """The overlap of the query laid on the reference, as a share of the
    smaller of the two (in the reference's working pixels)."""
    corners = np.array(
        [[0, 0], [query.width, 0], [query.width, query.height], [0, query.height]],
        np.float64,
    )
    laid = _apply(matrix.astype(np.float64), corners).astype(np.float32)
    frame = np.array(
        [
            [0, 0],
            [reference.width, 0],
            [reference.width, reference.height],
            [0, reference.height],
        ],
        np.float32,
    )
    overlap, _ = cv2.intersectConvexConvex(laid, frame)
    smaller = min(abs(cv2.contourArea(laid)), float(reference.width * reference.height))
    return float(overlap) / smaller if smaller > 0 else 0.0


def _side_coverage(
    points: np.ndarray, inliers: np.ndarray, inside: np.ndarray
) -> float:
    points = points[inside]
    count = _distinct(inliers)
    if not len(points) or not count:
        return 0.0
    low = points.min(axis=0)
    span = np.maximum(points.max(axis=0) - low, 1.0)
    size = COVERAGE_GRID * COVERAGE_GRID

    def cells(where: np.ndarray) -> np.ndarray:
        index = np.floor((where - low) / span * COVERAGE_GRID).astype(np.int64)
        index = np.clip(index, 0, COVERAGE_GRID - 1)
        return index[:, 1] * COVERAGE_GRID + index[:, 0]

    share = np.bincount(cells(points), minlength=size) / len(points)
    # Cells weigh equally, not by their keypoints: a caption or a watermark
    # packs many keypoints that the other side lacks into a few cells.
    textured = share > 0
    hit = np.bincount(cells(inliers), minlength=size) > 0
    expected = float(np.sum(1.0 - (1.0 - share[textured]) ** count))
    if expected <= 0:
        return 0.0
    return min(1.0, float(np.count_nonzero(hit & textured)) / expected)


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points.astype(np.float64) @ matrix[:, :2].T + matrix[:, 2]


def _inside(points: np.ndarray, width: int, height: int) -> np.ndarray:
    return (
        (points[:, 0] >= 0)
        & (points[:, 0] <= width)
        & (points[:, 1] >= 0)
        & (points[:, 1] <= height)
    )


def verify(
    query: Image.Image | np.ndarray | Features,
    reference: Features,
    *,
    min_inliers: int = DEFAULT_MIN_INLIERS,
    min_agreement: float = DEFAULT_MIN_AGREEMENT,
    min_coverage: float = DEFAULT_MIN_COVERAGE,
    min_alignment: float | None = None,
    mirrored_query: Features | Callable[[], Features] | None = None,
    try_mirror: bool = True,
    max_side: int = DEFAULT_MAX_SIDE,
) -> Verification:
    """Count the query's matches that one plausible transform lays on the reference.

    When `query` is an image, its features are extracted here, and those of
    its mirror image too if the first try does not pass (`Verification.verified`
    with these thresholds). A caller checking one query against several
    references can extract once and pass `Features` instead, with
    `mirrored_query` for the mirror try: its features, or a function that
    makes them, called only when the mirror is tried (without it the mirror
    try is skipped). `try_mirror=False` skips it always. The thresholds choose which
    transform is reported when several are tried; they are not stored.

    With `min_alignment` (None, the default: not tried), when no keypoint
    model passes but the best found DENSE_MIN_INLIERS inliers, the thumbnails
    are aligned densely (`_dense`, plain, and mirrored where the mirror was
    tried) and the pair passes when its `alignment` reaches `min_alignment`;
    the model, scale and rotation reported are then the dense alignment's,
    the inliers, agreement and coverage still the keypoints' (so the figures
    decide as here at any thresholds: the keypoints' rule by theirs, the
    dense one by `alignment`, which holds its own agreement).

    Raises ValueError when the query's features are of another kind than the
    reference's, `min_inliers` < 1 or `min_coverage` outside 0-1.
    """
    started = time.perf_counter()
    if min_inliers < 1:
        raise ValueError("min_inliers must be at least 1")
    if not 0.0 <= min_coverage <= 1.0:
        raise ValueError("min_coverage must be between 0 and 1")
    if len(reference) < MIN_MATCHES:
        # Nothing the query could match: skip extracting it.
        return Verification(0, False, "", 0, time.perf_counter() - started)
    if isinstance(query, Features):
        query_features = query
    else:
        query_features = extract(query, max_side=max_side, kind=reference.kind)
    _check_pair(query_features, reference)
    thresholds = (min_inliers, min_agreement, min_coverage)
    best = _attempt(query_features, reference, *thresholds)
    tried = [best]
    # A near-symmetric picture can give a mirrored copy enough inliers the
    # wrong way round; its appearance then disagrees, so try the mirror too.
    if not best.passed and try_mirror:
        if callable(mirrored_query):
            mirrored_query = mirrored_query()
        elif mirrored_query is None and not isinstance(query, Features):
            mirrored_query = extract(
                query, max_side=max_side, mirrored=True, kind=reference.kind
            )
        if mirrored_query is not None:
            _check_pair(mirrored_query, reference)
            flipped = _attempt(mirrored_query, reference, *thresholds)
            tried.append(flipped)
            if flipped.passed or flipped.inliers > best.inliers:
                best = flipped
    alignment = None
    if (
        not best.passed
        and min_alignment is not None
        and best.inliers >= DENSE_MIN_INLIERS
    ):
        # The mirror densely only where its keypoints were tried too.
        mirror = len(tried) > 1
        dense = _dense(query_features, reference, tried, mirror, min_alignment)
        if dense is not None:
            alignment = dense.alignment
            if dense.alignment >= min_alignment:
                best = _Attempt(
                    mirrored=dense.mirrored,
                    matches=best.matches,
                    inliers=best.inliers,
                    model="dense",
                    scale=dense.scale,
                    rotation=dense.rotation,
                    matrix=dense.matrix,
                    agreement=best.agreement,
                    coverage=best.coverage,
                    passed=True,
                )
    return Verification(
        inliers=best.inliers,
        mirrored=best.mirrored,
        model=best.model,
        matches=best.matches,
        seconds=time.perf_counter() - started,
        scale=best.scale,
        rotation=best.rotation,
        agreement=best.agreement,
        coverage=best.coverage,
        alignment=alignment,
    )


def _check_pair(query: Features, reference: Features) -> None:
    if query.kind != reference.kind:
        raise ValueError(
            f"query features are {query.kind}, the reference's are {reference.kind}"
        )


def _working_gray(image: Image.Image | np.ndarray, max_side: int) -> np.ndarray:
    if isinstance(image, Image.Image):
        longer = max(image.size)
        if longer >= 2 * max_side:
            # A cheap integer box reduction first: converting and resizing a
            # photo at full resolution would cost more than the verification.
            image = image.reduce(longer // max_side)
        gray = np.asarray(image if image.mode == "L" else image.convert("L"))
    elif isinstance(image, np.ndarray):
        if image.dtype != np.uint8:
            raise ValueError("image arrays must be uint8")
        if image.ndim == 2:
            gray = image
        elif image.ndim == 3 and image.shape[2] == 3:
            gray = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
        else:
            raise ValueError("image arrays must be H x W or H x W x 3")
    else:
        raise ValueError("image must be a PIL image or a numpy array")
    height, width = gray.shape[:2]
    longer = max(height, width)
    # A thumbnail under MIN_SIDE is left as it is, for extract to reject:
    # blown up, its interpolation blurs would pass for corners.
    if longer != max_side and min(height, width) >= MIN_SIDE:
        factor = max_side / longer
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        # Upscaled too: ORB's pyramid spans about 3.6x, so a quarter-size copy
        # would otherwise fall outside the reference's range of scales.
        interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
        gray = cv2.resize(gray, size, interpolation=interpolation)
    return np.ascontiguousarray(gray)


def _detect(
    gray: np.ndarray, kind: str
) -> tuple[list[cv2.KeyPoint], np.ndarray | None]:
    thresholds = ORB_FAST_THRESHOLDS if kind == "orb" else AKAZE_THRESHOLDS
    keypoints: list[cv2.KeyPoint] = []
    descriptors: np.ndarray | None = None
    for threshold in thresholds:
        detector = _detector(kind, threshold)
        if kind == "orb":
            # Descriptors only for the keypoints kept, below.
            keypoints = list(detector.detect(gray, None))
        else:
            found, descriptors = detector.detectAndCompute(gray, None)
            keypoints = list(found)
        if len(keypoints) >= RETRY_BELOW:
            break
    if not keypoints:
        return [], None
    chosen = _spread(keypoints, gray.shape, MAX_KEYPOINTS)
    if kind == "orb":
        kept, descriptors = detector.compute(gray, [keypoints[i] for i in chosen])
        return list(kept), descriptors
    if descriptors is None:
        return [], None
    return [keypoints[i] for i in chosen], descriptors[chosen]


def _detector(kind: str, threshold: float) -> cv2.Feature2D:
    if kind == "orb":
        # A small edge threshold keeps points near the border, where crops
        # cut; ORB pads its pyramid, so their descriptors are still whole.
        return cv2.ORB_create(
            nfeatures=MAX_KEYPOINTS * DETECT_FACTOR,
            scaleFactor=1.2,
            nlevels=8,
            edgeThreshold=8,
            patchSize=31,
            fastThreshold=int(threshold),
        )
    return cv2.AKAZE_create(threshold=threshold)


def _spread(
    keypoints: list[cv2.KeyPoint], shape: tuple[int, ...], limit: int
) -> np.ndarray:
    """Indices of at most `limit` keypoints, spread over the image.

    The strongest corners cluster on the highest-contrast part of an image,
    which is often an overlay (a watermark, a caption) rather than the work:
    kept by strength alone, a watermark crowds out the picture. So keypoints
    are ranked within a GRID x GRID grid and taken tier by tier (every cell's
    best `limit / GRID**2`, then every cell's next ones, ...), by strength
    within a tier.
    """
    count = len(keypoints)
    if count <= limit:
        return np.arange(count)
    height, width = shape[:2]
    points = np.array([kp.pt for kp in keypoints], dtype=np.float32)
    response = np.array([kp.response for kp in keypoints], dtype=np.float32)
    column = np.minimum((points[:, 0] * GRID / width).astype(np.int64), GRID - 1)
    row = np.minimum((points[:, 1] * GRID / height).astype(np.int64), GRID - 1)
    cell = row * GRID + column
    order = np.lexsort((-response, cell))
    cell_sorted = cell[order]
    starts = np.searchsorted(cell_sorted, cell_sorted, side="left")
    rank = np.empty(count, dtype=np.int64)
    rank[order] = np.arange(count) - starts
    quota = max(1, limit // (GRID * GRID))
    return np.lexsort((-response, rank // quota))[:limit]


@dataclass(frozen=True)
class _Attempt:
    mirrored: bool
    matches: int = 0
    inliers: int = 0
    model: str = ""
    scale: float = 0.0
    rotation: float = 0.0
    matrix: np.ndarray | None = None
    agreement: float | None = None
    coverage: float = 0.0
    passed: bool = False


def _attempt(
    query: Features,
    reference: Features,
    min_inliers: int,
    min_agreement: float,
    min_coverage: float,
) -> _Attempt:
    """The first model that passes every check, else the one with most inliers."""
    source, target = _match(query, reference)
    best = _Attempt(mirrored=query.mirrored, matches=len(source))
    if len(source) < MIN_MATCHES:
        return best
    # The similarity first; the affine (6 degrees of freedom, so more chance
    # inliers) only when the similarity fails. Failing includes enough inliers
    # that then disagree: a one-axis stretch of 8-10 % keeps a band of
    # similarity inliers across the middle, but laid by that similarity the
    # picture's edges are 20-25 px off, and its appearance disagrees.
    for model, estimate in (
        ("similarity", cv2.estimateAffinePartial2D),
        ("affine", cv2.estimateAffine2D),
    ):
        matrix, mask = estimate(
            source,
            target,
            method=cv2.RANSAC,
            ransacReprojThreshold=REPROJECTION_ERROR,
            maxIters=RANSAC_ITERATIONS,
            confidence=RANSAC_CONFIDENCE,
            refineIters=10,
        )
        if matrix is None or mask is None:
            continue
        plausible = _plausible(matrix[:, :2])
        if plausible is None:
            continue
        chosen = mask.ravel().astype(bool)
        inliers = _distinct(target[chosen])
        agreement = _agreement(query, reference, matrix)
        coverage = _coverage(query, reference, matrix, source[chosen], target[chosen])
        passed = verification_passes(
            inliers=inliers,
            agreement=agreement,
            coverage=coverage,
            min_inliers=min_inliers,
            min_agreement=min_agreement,
            min_coverage=min_coverage,
        )
        if passed or inliers > best.inliers:
            scale, rotation = plausible
            best = _Attempt(
                mirrored=query.mirrored,
                matches=best.matches,
                inliers=inliers,
                model=model,
                scale=scale,
                rotation=rotation,
                matrix=matrix,
                agreement=agreement,
                coverage=coverage,
                passed=passed,
            )
        if passed:
            break
    return best


@dataclass(frozen=True)
class _Dense:
    # The lower of ECC's correlation over the overlap and the cells'
    # agreement (_agreement's statistic) of the aligned thumbnails.
    alignment: float
    mirrored: bool
    matrix: np.ndarray  # query working pixels -> reference working pixels
    scale: float
    rotation: float


def _dense(
    query: Features,
    reference: Features,
    tried: list[_Attempt],
    try_mirror: bool,
    enough: float,
) -> _Dense | None:
    """The query's thumbnail aligned densely on the reference's, or None.

    For the copies keypoints cannot verify: a 100 px icon resized to 30 px,
    recompressed at JPEG quality 30 or turned a few degrees keeps too few
    corners (2-13 inliers), yet its thumbnail still lines up with its
    original's. Starts (DENSE_*) are scored by their correlation, the best
    refined by ECC (cv2.findTransformECC, affine); the refined transform must
    be plausible (as the keypoints' are), lay at least MIN_LAID of one image
    on the other and compare at least DENSE_MIN_CELLS textured cells. Its
    figure, `alignment`, is the lower of ECC's correlation over the overlap
    and the cells' agreement (rule 2's, so a template with its picture left
    out still disagrees). The plain orientation first; the mirrored one (the
    thumbnail flipped) unless the plain one reached `enough`.
    """
    if query.thumb is None or reference.thumb is None:
        return None
    ref = reference.thumb.astype(np.float32)
    ref_blurred = cv2.GaussianBlur(ref, (3, 3), 0)
    best: _Dense | None = None
    for flip in (False, True) if try_mirror else (False,):
        thumb = query.thumb[:, ::-1] if flip else query.thumb
        oriented = replace(
            query, mirrored=query.mirrored != flip, thumb=np.ascontiguousarray(thumb)
        )
        starts = _dense_starts(oriented.thumb, reference.thumb)
        starts += [
            _thumb_warp(attempt.matrix, oriented, reference)
            for attempt in tried
            if attempt.matrix is not None and attempt.mirrored == oriented.mirrored
        ]
        found = _dense_refine(oriented, reference, ref, ref_blurred, starts, enough)
        if found is not None and (best is None or found.alignment > best.alignment):
            best = found
        if best is not None and best.alignment >= enough:
            break
    return best


def _dense_starts(query: np.ndarray, reference: np.ndarray) -> list[np.ndarray]:
    """Warps (reference thumbnail -> query thumbnail, ECC's direction) that the
    edits we match leave, before any refinement."""
    qh, qw = query.shape
    rh, rw = reference.shape
    starts = [np.float64([[qw / rw, 0, 0], [0, qh / rh, 0]])]
    left, top, right, bottom = trim_box(Image.fromarray(query).convert("RGB"))
    if (left, top, right, bottom) != (0, 0, qw, qh):
        starts.append(
            np.float64([[(right - left) / rw, 0, left], [0, (bottom - top) / rh, top]])
        )
    cut = (1 - DENSE_CROP) / 2
    starts.append(
        np.float64(
            [
                [qw / (DENSE_CROP * rw), 0, -cut * qw / DENSE_CROP],
                [0, qh / (DENSE_CROP * rh), -cut * qh / DENSE_CROP],
            ]
        )
    )
    centre_q = np.array([qw / 2, qh / 2])
    centre_r = np.array([rw / 2, rh / 2])
    same = np.sqrt(qw * qh / (rw * rh))
    for angle in DENSE_ANGLES:
        cos, sin = np.cos(np.radians(angle)), np.sin(np.radians(angle))
        turn = np.array([[cos, -sin], [sin, cos]])
        # The same canvas, or one expanded to hold the turned picture.
        expanded = np.sqrt(
            qw
            * qh
            / ((rw * abs(cos) + rh * abs(sin)) * (rw * abs(sin) + rh * abs(cos)))
        )
        for scale in (same, expanded):
            linear = scale * turn
            starts.append(np.hstack([linear, (centre_q - linear @ centre_r)[:, None]]))
    return starts


def _thumb_warp(matrix: np.ndarray, query: Features, reference: Features) -> np.ndarray:
    """A keypoint transform (query -> reference, working pixels) as a dense
    start (reference thumbnail -> query thumbnail)."""
    return cv2.invertAffineTransform(_to_thumbnails(matrix, query, reference))


def _thumb_scales(query: Features, reference: Features) -> tuple[float, float]:
    """Thumbnail pixels per working pixel, of the query and of the reference."""
    assert query.thumb is not None and reference.thumb is not None
    return (
        query.thumb.shape[1] / query.width,
        reference.thumb.shape[1] / reference.width,
    )


def _to_thumbnails(
    matrix: np.ndarray, query: Features, reference: Features
) -> np.ndarray:
    """A query -> reference transform in working pixels, in thumbnail pixels."""
    q_scale, r_scale = _thumb_scales(query, reference)
    out = matrix.astype(np.float64).copy()
    out[:, :2] *= r_scale / q_scale
    out[:, 2] *= r_scale
    return out


def _from_thumbnails(
    matrix: np.ndarray, query: Features, reference: Features
) -> np.ndarray:
    """A query -> reference transform in thumbnail pixels, in working pixels."""
    q_scale, r_scale = _thumb_scales(query, reference)
    out = matrix.astype(np.float64).copy()
    out[:, :2] *= q_scale / r_scale
    out[:, 2] /= r_scale
    return out


def _dense_refine(
    query: Features,
    reference: Features,
    ref: np.ndarray,
    ref_blurred: np.ndarray,
    starts: list[np.ndarray],
    enough: float,
) -> _Dense | None:
    """The best of the DENSE_REFINED starts that correlate best (at
    DENSE_START at least), each refined by ECC; the first to reach `enough`."""
    assert query.thumb is not None
    thumb = query.thumb.astype(np.float32)
    blurred = cv2.GaussianBlur(thumb, (3, 3), 0)
    rh, rw = ref.shape
    ones = np.ones_like(thumb)
    scored = []
    for start in starts:
        if not np.all(np.isfinite(start)):
            continue
        laid = cv2.warpAffine(
            blurred, start, (rw, rh), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        )
        cover = cv2.warpAffine(
            ones, start, (rw, rh), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP
        )
        inside = cover > 0.5
        if inside.mean() < MIN_OVERLAP:
            continue
        a, b = laid[inside], ref_blurred[inside]
        if a.std() < 1 or b.std() < 1:
            continue
        scored.append((float(np.corrcoef(a, b)[0, 1]), start))
    scored.sort(key=lambda pair: -pair[0])
    best: _Dense | None = None
    for correlation, start in scored[:DENSE_REFINED]:
        if correlation < DENSE_START:
            break
        found = _dense_one(query, reference, ref, thumb, start)
        if found is not None and (best is None or found.alignment > best.alignment):
            best = found
        if best is not None and best.alignment >= enough:
            break
    return best


def _dense_one(
    query: Features,
    reference: Features,
    ref: np.ndarray,
    thumb: np.ndarray,
    start: np.ndarray,
) -> _Dense | None:
    """One start refined by ECC, with its figures; None when ECC finds nothing
    to climb or the refined transform fails a check."""
    try:
        correlation, warp = cv2.findTransformECC(
            ref,
            thumb,
            start.astype(np.float32),
            cv2.MOTION_AFFINE,
            (
                cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT,
                DENSE_ITERATIONS,
                DENSE_EPSILON,
            ),
            None,
            3,
        )
    except cv2.error:
        return None  # flat, or no overlap left
    if not np.isfinite(correlation):
        return None
    matrix = _from_thumbnails(
        cv2.invertAffineTransform(warp.astype(np.float64)), query, reference
    )
    plausible = _plausible(matrix[:, :2])
    if plausible is None or _laid_share(query, reference, matrix) < MIN_LAID:
        return None
    scores = _cell_scores(query, reference, matrix)
    if scores is None or len(scores) < DENSE_MIN_CELLS:
        return None
    agreement = float(np.percentile(scores, AGREEMENT_PERCENTILE))
    return _Dense(
        alignment=max(0.0, min(float(correlation), agreement)),
        mirrored=query.mirrored,
        matrix=matrix,
        scale=plausible[0],
        rotation=plausible[1],
    )


def _match(query: Features, reference: Features) -> tuple[np.ndarray, np.ndarray]:
    """Matched (query points, reference points): ratio test, one-to-one."""
    if len(query) < 2 or len(reference) < 2:
        empty = np.zeros((0, 2), np.float32)
        return empty, empty
    distances, nearest = cv2.batchDistance(
        query.descriptors,
        reference.descriptors,
        cv2.CV_32S,
        normType=cv2.NORM_HAMMING,
        K=2,
    )
    good = np.flatnonzero(distances[:, 0] < RATIO * distances[:, 1])
    target = nearest[good, 0]
    # One match per reference point, the nearest: otherwise RANSAC can score
    # a collapsing transform that sends many query points to one place.
    order = np.lexsort((distances[good, 0], target))
    first = np.ones(order.size, dtype=bool)
    first[1:] = target[order][1:] != target[order][:-1]
    keep = order[first]
    return query.keypoints[good[keep]], reference.keypoints[target[keep]]


def _plausible(linear: np.ndarray) -> tuple[float, float] | None:
    """(scale, rotation in degrees) of a 2x2 linear map, None if implausible."""
    if not np.all(np.isfinite(linear)) or np.linalg.det(linear) <= 0:
        return None  # a reflection or a collapse
    singular = np.linalg.svd(linear, compute_uv=False)
    if singular[1] <= 0 or singular[0] / singular[1] > MAX_ANISOTROPY:
        return None
    scale = float(np.sqrt(singular[0] * singular[1]))
    if not MIN_SCALE <= scale <= MAX_SCALE:
        return None
    # Image y points down, so atan2 on the matrix gives a clockwise angle.
    rotation = -float(np.degrees(np.arctan2(linear[1, 0], linear[0, 0])))
    return scale, rotation


def _distinct(points: np.ndarray) -> int:
    """How many CELL x CELL cells the points fall in."""
    if points.size == 0:
        return 0
    cells = np.floor(points / CELL).astype(np.int64)
    return int(np.unique(cells[:, 0] * 1_000_003 + cells[:, 1]).size)
