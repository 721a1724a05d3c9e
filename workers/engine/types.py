"""Shapes shared by the engine's parts: manifest rows in, matches out.

Readers (workers/engine/manifests.py) turn a manifest chunk into RowBatches,
columnar lists of plain Python values; the registry snapshot
(workers/engine/snapshot.py) matches a batch and returns Match records. Nothing
here imports Django, so a CLI or a notebook can run the whole engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ManifestFormat(StrEnum):
    CSV = "csv"
    TSV = "tsv"
    JSONL = "jsonl"
    PARQUET = "parquet"
    WEBDATASET = "webdataset"  # one or more .tar shards


class MatchKind(StrEnum):
    URL = "url"
    PREFIX = "prefix"
    DOMAIN = "domain"
    SHA256 = "sha256"
    MD5 = "md5"
    PHASH = "phash"
    PDQ = "pdq"
    DESCRIPTOR = (
        "descriptor"  # copy-detection descriptor (workers/engine/descriptor.py)
    )
    STYLE = "style"
    SIGNAL = "signal"  # the file's own refusal (workers/engine/datasignals.py)


# Logical columns a manifest row can carry, and the names that detect them when
# no mapping is given (first match wins, compared case-insensitively).
LOGICAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "url": ("url", "image_url", "img_url", "link", "src"),
    "caption": ("caption", "text", "alt", "alt_text", "title"),
    "key": ("key", "id", "uid", "__key__"),
    "sha256": ("sha256", "sha256_hash"),
    "md5": ("md5", "hash_md5", "md5_hash"),
    "phash": ("phash", "p_hash"),
    "pdq": ("pdq", "pdq_hash"),
}

# What a row is checked by: its URL (url, prefix and domain claims), its caption
# (style names), its hashes and its image (tar shards). A signal the manifest
# has no column for is not checked for any row.
SIGNALS = ("url", "caption", "sha256", "md5", "phash", "pdq", "image")
# RowProblem.signal of an image whose metadata (the preferences it states,
# workers/engine/datasignals.py) could not be read; the image was checked.
METADATA = "metadata"
# RowProblem.signal of a row whose URL's host (its robots.txt, tdmrep.json or
# RSL licence) could not be read (workers/engine/websignals.py).
PUBLISHER = "publisher"
# RowProblem.signal of a row that could not be read at all: nothing was checked.
WHOLE_ROW = "row"


@dataclass(frozen=True)
class ChunkSpec:
    """One unit of matching work, JSON-serializable (stored on the Chunk row).

    part: which uploaded file (0 for single-file manifests).
    kind: "row_groups" (Parquet, [start, stop) row-group indexes), "bytes"
    (CSV/TSV/JSONL, [start, stop) byte offsets aligned to line starts), or
    "tar" (a whole shard).
    first_row: the manifest-wide number of the chunk's first row (0-based), so
    every row has one stable number however the manifest is split.
    rows: how many rows the chunk holds.
    """

    part: int
    kind: str
    start: int
    stop: int
    first_row: int
    rows: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "part": self.part,
            "kind": self.kind,
            "start": self.start,
            "stop": self.stop,
            "first_row": self.first_row,
            "rows": self.rows,
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> ChunkSpec:
        return ChunkSpec(**{k: data[k] for k in ChunkSpec.__dataclass_fields__})


@dataclass(frozen=True)
class RowProblem:
    """Something in a row that could not be checked, and why.

    `signal` is what went unchecked: one of SIGNALS (the row's other signals
    were still checked), or WHOLE_ROW when the row could not be read at all.
    `field` names the column or tar member concerned, when one is to blame.
    A row with a problem is an unchecked row: callers report it and, unless
    told to keep such rows, leave it out of the filtered manifest.
    """

    row: int
    reason: str
    field: str | None = None
    signal: str = WHOLE_ROW

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "message": self.reason}


@dataclass
class RowBatch:
    """Rows first_row .. first_row+len-1 of a manifest, as columns.

    Every list has one entry per row; None where the row has no value. Hashes
    are parsed: sha256/md5/pdq as bytes, phash as a signed 64-bit int. `images`
    holds encoded image bytes (tar shards only), `image_names` the member each
    came from. `unchecked` lists, in row
    order, what could not be checked: a WHOLE_ROW problem (the row could not be
    read; all its values are None) or one signal's (that value is None, the
    row's other values are still matched); a row may have several. `notes`
    lists what was ignored in rows that are still matched (tar members that
    are not images, captions or metadata), with the member's name as `field`.
    """

    first_row: int
    keys: list[str | None]
    urls: list[str | None]
    captions: list[str | None]
    sha256: list[bytes | None]
    md5: list[bytes | None]
    phash: list[int | None]
    pdq: list[bytes | None]
    images: list[bytes | None] | None = None
    image_names: list[str | None] | None = None  # where each image came from
    unchecked: list[RowProblem] = field(default_factory=list)
    notes: list[RowProblem] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.keys)

    @classmethod
    def of(cls, *, first_row: int = 0, **columns: list[Any]) -> RowBatch:
        """A batch of the columns given (`urls=[...]`, `images=[...]`); the
        other value columns are None for every row. The lists must be as long
        as each other."""
        lengths = {len(v) for v in columns.values()}
        if len(lengths) != 1:
            raise ValueError("give at least one column, every one as long")
        (n,) = lengths
        empty = {
            name: [None] * n
            for name in ("keys", "urls", "captions", "sha256", "md5", "phash", "pdq")
            if name not in columns
        }
        return cls(first_row=first_row, **empty, **columns)


@dataclass(frozen=True)
class Match:
    """One hit: manifest row -> registry entry.

    ref: the registry id hit (a Claim id for url/prefix/domain/style, an Image
    id for hashes). distance: Hamming distance for phash/pdq, else None.
    matched: what matched (the normalized URL, prefix, domain or style name).
    matched_as (url, prefix and domain matches): which equivalence the match
    took, "exact" or "scheme", "www" and "query" joined with "+"
    (workers/engine/urlindex.py); empty for other kinds.
    Perceptual matches also carry: level (verified / strong / possible), the
    registry variant that came closest (with "+mirror" when the row's mirror
    did), the verification's figures (inlier count, appearance agreement and
    the inliers' coverage of the overlap; None when it could not run; and the
    dense alignment's figure, None when it was not tried: see
    verify.Verification) and the estimated chance that an unrelated image
    comes this close.
    Descriptor matches carry `similarity` (cosine of the two descriptors,
    -1..1) instead of a distance, and as `variant` the registered region that
    came closest ("whole", "centre", "top-left", ...; "trimmed:" in front when
    the row's trimmed form did).
    Signal matches (the row's image refuses AI training in its own metadata)
    have no registry entry (ref 0); `matched` is the preference as an aipref
    dictionary member ("train-ai=n"), `source` the protocol that said it
    (iptc, c2pa, cawg, rsl) and `evidence` what the file says, as written,
    with what is known of who signed it.
    """

    row: int
    kind: MatchKind
    ref: int
    distance: int | None = None
    matched: str = ""
    level: str = ""
    variant: str = ""
    inliers: int | None = None
    agreement: float | None = None
    coverage: float | None = None
    alignment: float | None = None
    chance: float | None = None
    matched_as: str = ""
    similarity: float | None = None
    source: str = ""
    evidence: str = ""
