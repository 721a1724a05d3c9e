"""A registry snapshot: everything enforced at one registry revision, indexed.

Built once per revision from streams of (id, value) pairs, saved as files in a
directory (numpy arrays, memory-mapped on load so every worker process on a
machine shares one copy through the page cache) and queried batch by batch.
Matching a RowBatch returns every Match and the rows that could not be read.

Limits: the snapshot is immutable; a registry change means a new revision and a
new snapshot. Hamming search is exact up to the radius the snapshot was built
for (`max_radius`); asking for more raises.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .arrays import IN_MEMORY, ArrayFiles, save_array
from .datasignals import EMBEDDED_PROTOCOLS, TRAIN_AI, read_embedded
from .descindex import DEFAULT_HNSW_MIN, DEFAULT_IVFPQ_MIN, IVF_CODES, DescriptorIndex
from .fingerprint import query_fingerprints
from .hamming import HammingIndex, pack_bytes
from .images import ImageRejected, decode_image
from .perceptual import Levels, TailModel, descriptor_level, level_for
from .style import StyleIndex
from .types import (
    METADATA,
    PUBLISHER,
    WHOLE_ROW,
    Match,
    MatchKind,
    RowBatch,
    RowProblem,
)
from .urlindex import PackedClaims, UrlIndex, prepare_urls
from .websignals import WEB_PROTOCOLS

FORMAT_VERSION = 5  # 5: copy-detection descriptors (descriptors/)

# A PDQ index entry's id packs the image id and the variant's position in the
# snapshot's variant list: image_id * VARIANT_SLOTS + position.
VARIANT_SLOTS = 64

# Loads a registered image's local features for verification (None when the
# registry has only its hashes); see workers/engine/verify.py.
ReferenceLoader = Callable[[int], Any]

# Which match kinds each signal (a manifest role) feeds in Snapshot.match. An
# image (tar shards) is fingerprinted, then looked up as its four hashes.
SIGNAL_KINDS: dict[str, tuple[MatchKind, ...]] = {
    "url": (MatchKind.URL, MatchKind.PREFIX, MatchKind.DOMAIN),
    "caption": (MatchKind.STYLE,),
    "sha256": (MatchKind.SHA256,),
    "md5": (MatchKind.MD5,),
    "phash": (MatchKind.PHASH,),
    "pdq": (MatchKind.PDQ,),
    "image": (
        MatchKind.SHA256,
        MatchKind.MD5,
        MatchKind.PHASH,
        MatchKind.PDQ,
        MatchKind.DESCRIPTOR,
    ),
}


def checks_applied(
    columns: Mapping[str, str],
    *,
    verify: bool,
    descriptor: bool = False,
    signals: Sequence[str] = (),
    web: bool = False,
) -> list[dict[str, Any]]:
    """Each check a manifest with these columns (role -> column) gets.

    One entry per signal found, in SIGNAL_KINDS order: the signal, the
    manifest's column for it and the match kinds it is checked for. Images are
    also verified geometrically against stored originals when `verify` is on.
    Roles that are not signals (key, status) are not checks. Images are
    looked up by the copy-detection descriptor too when `descriptor` is on,
    and their metadata read for the `signals` protocols found inside files
    (an entry of its own: signal "metadata", kind "signal", the protocols).
    With `web`, the URLs' hosts are read for the `signals` protocols found on
    sites (signal "publisher").
    """
    embedded = [p for p in signals if p in EMBEDDED_PROTOCOLS]
    on_sites = [p for p in signals if p in WEB_PROTOCOLS] if web else []
    checks: list[dict[str, Any]] = []
    for signal, kinds in SIGNAL_KINDS.items():
        column = columns.get(signal)
        if not column:
            continue
        check: dict[str, Any] = {
            "signal": signal,
            "columns": [column],
            "kinds": [
                str(kind)
                for kind in kinds
                if descriptor or kind is not MatchKind.DESCRIPTOR
            ],
        }
        if signal == "image":
            check["verified_geometrically"] = verify
        checks.append(check)
        for wanted, name, protocols in (
            ("image", METADATA, embedded),
            ("url", PUBLISHER, on_sites),
        ):
            if signal == wanted and protocols:
                checks.append(
                    {
                        "signal": name,
                        "columns": [column],
                        "kinds": [str(MatchKind.SIGNAL)],
                        "protocols": protocols,
                    }
                )
    return checks


@dataclass(frozen=True)
class Thresholds:
    """Largest Hamming distance that counts as a match, per perceptual hash."""

    phash: int = 8
    pdq: int = 31


# Digests to look up: their positions, (Q, L) bytes and first 8 bytes as keys.
DigestQueries = tuple[list[int], np.ndarray, np.ndarray]


def prepare_digests(digests: list[bytes | None], length: int) -> DigestQueries:
    rows = [i for i, d in enumerate(digests) if d is not None and len(d) == length]
    if not rows:
        return [], np.zeros((0, length), np.uint8), np.zeros(0, np.uint64)
    queries = np.frombuffer(b"".join(digests[i] or b"" for i in rows), np.uint8)
    queries = queries.reshape(-1, length)
    qkeys = queries[:, :8].copy().view(">u8").ravel().astype(np.uint64)
    return rows, queries, qkeys


@dataclass(frozen=True)
class HashArrays:
    """Hashes as arrays, for building an index without a Python object per
    entry: `ids` (N,) int64, `values` (N, L) uint8 and, for PDQ, each entry's
    variant as a code (N,) into `variant_names` (no codes: all "original")."""

    ids: np.ndarray
    values: np.ndarray
    variant_codes: np.ndarray | None = None
    variant_names: tuple[str, ...] = ()


class ExactIndex:
    """Fixed-length digests (SHA-256, MD5) -> ids, by binary search on 8 bytes."""

    def __init__(self, keys: np.ndarray, values: np.ndarray, ids: np.ndarray) -> None:
        self.keys = keys  # (N,) uint64, sorted: the digest's first 8 bytes
        self.values = values  # (N, L) uint8: the whole digests, in key order
        self.ids = ids  # (N,) int64

    @classmethod
    def build(
        cls,
        pairs: Iterable[tuple[int, bytes]] | HashArrays,
        length: int,
        out: ArrayFiles = IN_MEMORY,
    ) -> ExactIndex:
        """With `out` on disk, the arrays are built straight into their files."""
        if isinstance(pairs, HashArrays):
            if pairs.values.shape[1:] != (length,):
                raise ValueError(f"digests must be {length} bytes")
            values = np.asarray(pairs.values, dtype=np.uint8)
            ids = np.asarray(pairs.ids, np.int64)
        else:
            ids_list: list[int] = []
            raw = bytearray()
            for ref, digest in pairs:
                if len(digest) != length:
                    continue
                ids_list.append(ref)
                raw += digest
            values = np.frombuffer(bytes(raw), dtype=np.uint8).reshape(-1, length)
            ids = np.array(ids_list, np.int64)
        keys = np.ascontiguousarray(values[:, :8]).view(">u8").ravel()
        order = np.argsort(keys, kind="stable")
        return cls(
            out.gather("keys", keys, order),
            out.gather("values", values, order),
            out.gather("ids", ids, order),
        )

    def __len__(self) -> int:
        return int(self.keys.shape[0])

    @property
    def nbytes(self) -> int:
        return int(self.keys.nbytes + self.values.nbytes + self.ids.nbytes)

    def lookup(self, digests: list[bytes | None]) -> list[tuple[int, int]]:
        """(position in `digests`, id) for every digest in the index."""
        return self.lookup_prepared(prepare_digests(digests, self.values.shape[1]))

    def lookup_prepared(self, prepared: DigestQueries) -> list[tuple[int, int]]:
        """`lookup` of digests prepared once for several indexes."""
        rows, queries, qkeys = prepared
        if not rows or not len(self):
            return []
        lo = np.searchsorted(self.keys, qkeys, side="left")
        hi = np.searchsorted(self.keys, qkeys, side="right")
        hits: list[tuple[int, int]] = []
        for qi in np.nonzero(hi > lo)[0]:
            for pos in range(lo[qi], hi[qi]):
                if np.array_equal(self.values[pos], queries[qi]):
                    hits.append((rows[qi], int(self.ids[pos])))
        return hits

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        save_array(directory / "keys.npy", self.keys)
        save_array(directory / "values.npy", self.values)
        save_array(directory / "ids.npy", self.ids)

    @classmethod
    def load(cls, directory: Path, *, mmap: bool = True) -> ExactIndex:
        mode = "r" if mmap else None
        return cls(
            np.load(directory / "keys.npy", mmap_mode=mode),
            np.load(directory / "values.npy", mmap_mode=mode),
            np.load(directory / "ids.npy", mmap_mode=mode),
        )


def _hamming_build(
    pairs: Iterable[tuple[int, bytes]] | HashArrays,
    width: int,
    max_radius: int,
    out: ArrayFiles = IN_MEMORY,
) -> HammingIndex:
    if isinstance(pairs, HashArrays):
        if pairs.values.shape[1:] != (width,):
            raise ValueError(f"hashes must be {width} bytes")
        # Big-endian words over the raw bytes, not a converted copy: the
        # build converts them as it sorts them into its own arrays.
        raw = np.ascontiguousarray(pairs.values, dtype=np.uint8).view(">u8")
        return HammingIndex.build(
            raw.reshape(-1, width // 8),
            np.asarray(pairs.ids, np.int64),
            max_radius=max_radius,
            out=out,
        )
    ids: list[int] = []
    values: list[bytes] = []
    for ref, value in pairs:
        if len(value) == width:
            ids.append(ref)
            values.append(value)
    hashes = pack_bytes(values) if values else np.zeros((0, width // 8), np.uint64)
    return HammingIndex.build(
        hashes, np.array(ids, np.int64), max_radius=max_radius, out=out
    )


def _pack_variant_arrays(pdq: HashArrays, variants: list[str]) -> HashArrays:
    """`_pack_variants` for arrays: ids become packed ids (image id *
    VARIANT_SLOTS + the variant's position in `variants`, filled as seen)."""
    if pdq.variant_codes is None:
        positions = np.zeros(len(pdq.ids), np.int64)
    else:
        codes = np.asarray(pdq.variant_codes, np.int64)
        seen, first = np.unique(codes, return_index=True)
        slot = np.zeros(len(pdq.variant_names), np.int64)
        for code in seen[np.argsort(first, kind="stable")]:
            name = pdq.variant_names[code]
            if name not in variants:
                if len(variants) >= VARIANT_SLOTS:
                    raise ValueError(f"more than {VARIANT_SLOTS} PDQ variants")
                variants.append(name)
            slot[code] = variants.index(name)
        positions = slot[codes]
    packed = np.asarray(pdq.ids, np.int64) * VARIANT_SLOTS + positions
    return HashArrays(packed, pdq.values)


def _pack_variants(
    entries: Iterable[tuple[int, str, bytes] | tuple[int, bytes]],
    variants: list[str],
) -> Iterable[tuple[int, bytes]]:
    """(image id, variant, hash) -> (packed id, hash); fills `variants` as seen."""
    positions = {name: i for i, name in enumerate(variants)}
    for entry in entries:
        if len(entry) == 2:
            image_id, name, value = entry[0], "original", entry[1]
        else:
            image_id, name, value = entry  # type: ignore[misc]
        position = positions.get(name)
        if position is None:
            if len(variants) >= VARIANT_SLOTS:
                raise ValueError(f"more than {VARIANT_SLOTS} PDQ variants")
            position = positions[name] = len(variants)
            variants.append(name)
        yield image_id * VARIANT_SLOTS + position, value


# The indexes a snapshot's sizes count, in the order they are saved.
SIZED_PARTS = ("urls", "styles", "sha256", "md5", "phash", "pdq", "descriptors")


def _made(value: Any) -> Any:
    """An input given as a callable is made when its index needs it."""
    return value() if callable(value) else value


def _parts(
    variants: list[str],
    *,
    url_claims: Any = (),
    prefix_claims: Any = (),
    domain_claims: Any = (),
    style_names: Any = (),
    sha256: Any = (),
    md5: Any = (),
    phash: Any = (),
    pdq: Any = (),
    max_radius: Thresholds,
    low_quality: Any = (),
    descriptors: Any = (),
    descriptor_version: str = "",
    descriptor_dim: int = 256,
    descriptor_hnsw_min: int = DEFAULT_HNSW_MIN,
    descriptor_ivfpq_min: int = DEFAULT_IVFPQ_MIN,
    descriptor_ivf_codes: str = IVF_CODES,
    folder: Path | None = None,
) -> Iterator[tuple[str, Any]]:
    """(name, index) of a snapshot, one at a time, in the order saved; each
    made from its inputs only when reached (RegistrySnapshot.build's
    arguments, or callables returning them). Fills `variants` with the PDQ
    variant names as the PDQ index is built. With `folder` (where the
    snapshot is being saved), the big indexes are built straight into their
    files there (workers/engine/arrays.py), not in memory."""

    def out(name: str) -> ArrayFiles:
        return IN_MEMORY if folder is None else ArrayFiles(folder / name)

    yield (
        "urls",
        UrlIndex.build(
            urls=_made(url_claims),
            prefixes=_made(prefix_claims),
            domains=_made(domain_claims),
            out=out("urls"),
        ),
    )
    yield "styles", StyleIndex.build(_made(style_names))
    yield "sha256", ExactIndex.build(_made(sha256), 32, out("sha256"))
    yield "md5", ExactIndex.build(_made(md5), 16, out("md5"))
    yield "phash", _hamming_build(_made(phash), 8, max_radius.phash, out("phash"))
    values = _made(pdq)
    packed = (
        _pack_variant_arrays(values, variants)
        if isinstance(values, HashArrays)
        else _pack_variants(values, variants)
    )
    del values
    index = _hamming_build(packed, 32, max_radius.pdq, out("pdq"))
    del packed
    yield "pdq", index
    del index
    yield "low_quality", np.unique(np.fromiter(_made(low_quality), np.int64))
    yield (
        "descriptors",
        DescriptorIndex.build(
            (
                (image_id, np.frombuffer(raw, np.float16))
                for image_id, raw in _made(descriptors)
            ),
            dim=descriptor_dim,
            hnsw_min=descriptor_hnsw_min,
            ivfpq_min=descriptor_ivfpq_min,
            ivf_codes=descriptor_ivf_codes,
        )
        if descriptor_version
        else None,
    )


def _saving(directory: Path) -> Path:
    """Where a snapshot is written before it is renamed to `directory`."""
    return directory.with_name(directory.name + ".tmp")


def _save_parts(
    directory: Path,
    parts: Iterable[tuple[str, Any]],
    *,
    revision: int,
    registry: str,
    max_radius: Thresholds,
    pdq_variants: list[str],
    descriptor_version: str,
    on_saved: Callable[[], None] | None = None,
) -> dict[str, int]:
    """Save each (name, index) as it comes into `directory` (which must not
    exist yet), calling `on_saved` after each, then snapshot.json,
    atomically; the sizes."""
    tmp = _saving(directory)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    sizes = dict.fromkeys(SIZED_PARTS, 0)
    for name, part in parts:
        if name == "low_quality":
            save_array(tmp / "low_quality.npy", part)
        elif part is not None:
            part.save(tmp / name)
        if name in sizes and part is not None:
            sizes[name] = len(part)
        del part
        if on_saved is not None:
            on_saved()
    meta = {
        "format": FORMAT_VERSION,
        "registry": registry,
        "revision": revision,
        "max_radius": asdict(max_radius),
        # Filled as the PDQ index was built.
        "pdq_variants": pdq_variants,
        "descriptor_version": descriptor_version,
        "sizes": sizes,
    }
    (tmp / "snapshot.json").write_text(json.dumps(meta, indent=2))
    tmp.rename(directory)
    return sizes


class RegistrySnapshot:
    def __init__(
        self,
        *,
        revision: int,
        urls: UrlIndex,
        styles: StyleIndex,
        sha256: ExactIndex,
        md5: ExactIndex,
        phash: HammingIndex,
        pdq: HammingIndex,
        max_radius: Thresholds,
        pdq_variants: list[str] | None = None,
        low_quality: np.ndarray | None = None,
        descriptors: DescriptorIndex | None = None,
        descriptor_version: str = "",
        registry: str = "",
    ) -> None:
        self.revision = revision
        # The identity of the registry whose revision this is: revision
        # numbers alone are the same in every registry (all count from 0).
        self.registry = registry
        self.urls = urls
        self.styles = styles
        self.sha256 = sha256
        self.md5 = md5
        self.phash = phash
        self.pdq = pdq
        self.max_radius = max_radius
        self.pdq_variants = pdq_variants or ["original"]
        # Sorted ids of images whose PDQ quality is low: never strong by hash.
        self.low_quality = (
            low_quality if low_quality is not None else np.zeros(0, np.int64)
        )
        # Region descriptors of every enforced image (None: no descriptors,
        # image rows are matched by hashes only) and the model version that
        # made them; a row is described by the same model.
        self.descriptors = descriptors
        self.descriptor_version = descriptor_version

    def is_low_quality(self, image_id: int) -> bool:
        pos = int(np.searchsorted(self.low_quality, image_id))
        return pos < len(self.low_quality) and int(self.low_quality[pos]) == image_id

    @classmethod
    def build(
        cls,
        *,
        revision: int,
        url_claims: Iterable[tuple[int, str]] | PackedClaims = (),
        prefix_claims: Iterable[tuple[int, str]] = (),
        domain_claims: Iterable[tuple[int, str]] = (),
        style_names: Iterable[tuple[int, str]] = (),
        sha256: Iterable[tuple[int, bytes]] | HashArrays = (),
        md5: Iterable[tuple[int, bytes]] | HashArrays = (),
        phash: Iterable[tuple[int, bytes]] | HashArrays = (),
        pdq: Iterable[tuple[int, str, bytes] | tuple[int, bytes]] | HashArrays = (),
        max_radius: Thresholds = Thresholds(phash=12, pdq=63),
        low_quality: Iterable[int] = (),
        descriptors: Iterable[tuple[int, bytes]] = (),
        descriptor_version: str = "",
        descriptor_dim: int = 256,
        descriptor_hnsw_min: int = DEFAULT_HNSW_MIN,
        descriptor_ivfpq_min: int = DEFAULT_IVFPQ_MIN,
        descriptor_ivf_codes: str = IVF_CODES,
        registry: str = "",
    ) -> RegistrySnapshot:
        """Index everything enforced. Hashes are raw bytes (pHash 8, PDQ 32).

        `registry` is the identity of the registry whose `revision` this is.

        PDQ entries are (image id, variant name, hash), or (image id, hash) for
        the original; every variant of an image points back to the image.
        Any of the hashes may come as HashArrays instead (index segments
        build from Arrow columns that way, without an object per entry).
        Descriptors are (image id, descriptor.pack bytes of its regions), all
        made by the model `descriptor_version` names; with no version, image
        rows are matched by their hashes only.
        """
        variants: list[str] = ["original"]
        parts = dict(
            _parts(
                variants,
                url_claims=url_claims,
                prefix_claims=prefix_claims,
                domain_claims=domain_claims,
                style_names=style_names,
                sha256=sha256,
                md5=md5,
                phash=phash,
                pdq=pdq,
                max_radius=max_radius,
                low_quality=low_quality,
                descriptors=descriptors,
                descriptor_version=descriptor_version,
                descriptor_dim=descriptor_dim,
                descriptor_hnsw_min=descriptor_hnsw_min,
                descriptor_ivfpq_min=descriptor_ivfpq_min,
                descriptor_ivf_codes=descriptor_ivf_codes,
            )
        )
        return cls(
            revision=revision,
            max_radius=max_radius,
            pdq_variants=variants,
            descriptor_version=descriptor_version,
            registry=registry,
            **parts,
        )

    @staticmethod
    def write(
        directory: Path,
        *,
        revision: int,
        registry: str,
        max_radius: Thresholds,
        descriptor_version: str,
        on_saved: Callable[[], None] | None = None,
        **inputs: Any,
    ) -> dict[str, int]:
        """What `build(...).save(directory)` writes, one index at a time: each
        is built, saved and dropped before the next, and each input may be a
        callable that makes it when its index is built (a base segment's
        Arrow columns), so memory holds one index and its inputs at a time,
        never the whole snapshot; `on_saved` is called after each. The
        snapshot's sizes."""
        variants: list[str] = ["original"]
        return _save_parts(
            directory,
            _parts(
                variants,
                max_radius=max_radius,
                descriptor_version=descriptor_version,
                # Built into their files where they are being saved: a
                # build's memory is its transients, not what it keeps.
                folder=_saving(directory),
                **inputs,
            ),
            revision=revision,
            registry=registry,
            max_radius=max_radius,
            pdq_variants=variants,
            descriptor_version=descriptor_version,
            on_saved=on_saved,
        )

    def sizes(self) -> dict[str, int]:
        return {
            "urls": len(self.urls),
            "styles": len(self.styles),
            "sha256": len(self.sha256),
            "md5": len(self.md5),
            "phash": len(self.phash),
            "pdq": len(self.pdq),
            "descriptors": len(self.descriptors) if self.descriptors else 0,
        }

    def save(self, directory: Path) -> None:
        """Write to `directory` (which must not exist yet) atomically."""
        _save_parts(
            directory,
            (
                (name, getattr(self, name))
                for name in (*SIZED_PARTS[:-1], "low_quality", "descriptors")
            ),
            revision=self.revision,
            registry=self.registry,
            max_radius=self.max_radius,
            pdq_variants=self.pdq_variants,
            descriptor_version=self.descriptor_version,
        )

    @classmethod
    def load(cls, directory: Path, *, mmap: bool = True) -> RegistrySnapshot:
        meta = json.loads((directory / "snapshot.json").read_text())
        if meta.get("format") != FORMAT_VERSION:
            raise ValueError(f"{directory}: snapshot format {meta.get('format')}")
        return cls(
            revision=int(meta["revision"]),
            urls=UrlIndex.load(directory / "urls", mmap=mmap),
            styles=StyleIndex.load(directory / "styles"),
            sha256=ExactIndex.load(directory / "sha256", mmap=mmap),
            md5=ExactIndex.load(directory / "md5", mmap=mmap),
            phash=HammingIndex.load(directory / "phash", mmap=mmap),
            pdq=HammingIndex.load(directory / "pdq", mmap=mmap),
            max_radius=Thresholds(**meta["max_radius"]),
            pdq_variants=list(meta["pdq_variants"]),
            low_quality=np.load(directory / "low_quality.npy"),
            descriptors=(
                DescriptorIndex.load(directory / "descriptors", mmap=mmap)
                if meta.get("descriptor_version")
                else None
            ),
            descriptor_version=meta.get("descriptor_version", ""),
            registry=meta.get("registry", ""),
        )

    def match(
        self,
        batch: RowBatch,
        thresholds: Thresholds = Thresholds(),
        *,
        levels: Levels | None = None,
        references: ReferenceLoader | None = None,
        tails: dict[str, TailModel] | None = None,
        signals: Sequence[str] = (),
    ) -> tuple[list[Match], list[RowProblem]]:
        """Every match of the batch's rows, and what of them could not be checked.

        See `match_parts`, which this is for a snapshot of one part.
        """
        return match_parts(
            [(self, None)],
            batch,
            thresholds,
            levels=levels,
            references=references,
            tails=tails,
            signals=signals,
        )


# Which entries of a part are live: (space, ids) -> a bool mask over ids.
# Claims (URL, prefix, domain, style matches) are space CLAIM, images IMAGE.
Alive = Callable[[int, np.ndarray], np.ndarray]
CLAIM, IMAGE = 0, 1
CLAIM_KINDS = frozenset(
    (MatchKind.URL, MatchKind.PREFIX, MatchKind.DOMAIN, MatchKind.STYLE)
)
Part = tuple[RegistrySnapshot, Alive | None]


def _live(matches: list[Match], alive: Alive | None) -> list[Match]:
    """The matches whose claim or image is live in their part."""
    if alive is None or not matches:
        return matches
    spaces = np.array([CLAIM if m.kind in CLAIM_KINDS else IMAGE for m in matches])
    refs = np.array([m.ref for m in matches], np.int64)
    keep = np.zeros(len(matches), bool)
    for space in (CLAIM, IMAGE):
        sel = spaces == space
        if sel.any():
            keep[sel] = alive(space, refs[sel])
    return [m for m, k in zip(matches, keep.tolist(), strict=True) if k]


def _live_hits(
    hits: list[tuple[tuple[int, str], int, int]], alive: Alive | None, slots: int = 1
) -> list[tuple[tuple[int, str], int, int]]:
    """Hamming hits whose image (id // slots) is live."""
    if alive is None or not hits:
        return hits
    images = np.array([ref for _, ref, _ in hits], np.int64) // slots
    keep = alive(IMAGE, images).tolist()
    return [h for h, k in zip(hits, keep, strict=True) if k]


def match_parts(
    parts: list[Part],
    batch: RowBatch,
    thresholds: Thresholds = Thresholds(),
    *,
    levels: Levels | None = None,
    references: ReferenceLoader | None = None,
    tails: dict[str, TailModel] | None = None,
    signals: Sequence[str] = (),
) -> tuple[list[Match], list[RowProblem]]:
    """Every match of the batch's rows in the live entries of `parts`, and
    what of the rows could not be checked.

    A part is a snapshot and which of its entries are live (None: all); an
    index made of segments (workers/engine/segments.py) has several, and a
    claim or image is live in one part at most. The parts share their
    radius and descriptor model.

    The problems returned are the matcher's own (a URL that does not
    normalize, an image that does not decode), each naming its signal;
    the reader's are in `batch.unchecked`.

    `thresholds` bound the perceptual candidates (Hamming radius); `levels`
    grade them. When a row carries its image (tar shards) and `references`
    returns the registered image's local features, each candidate is
    verified geometrically. `tails` (per algorithm) estimate each
    perceptual match's chance probability. `signals` names the protocols
    (datasignals.EMBEDDED_PROTOCOLS) whose statements are read from each
    row's image: a refusal of AI training is a signal match.
    """
    head = parts[0][0]
    if thresholds.phash > head.max_radius.phash or thresholds.pdq > head.max_radius.pdq:
        raise ValueError("thresholds exceed the radius this snapshot was built for")
    levels = levels or Levels()
    first = batch.first_row
    # Readers already empty the rows they could not read; a batch built
    # by hand may not have, and such a row must not match either.
    unreadable = {p.row for p in batch.unchecked if p.signal == WHOLE_ROW}
    problems: list[RowProblem] = []
    query_pdq: list[tuple[int, str, bytes]] = []
    described: list[tuple[int, str, Any]] = []
    if batch.images is not None:
        # An image that does not decode leaves only the image unchecked:
        # the row's URL, caption and given hashes are still matched.
        problems, query_pdq, described = _fingerprint_images(
            batch, unreadable, descriptor=head.descriptors is not None
        )

    def live(values: list) -> list:
        if not unreadable:
            return values
        return [None if first + i in unreadable else v for i, v in enumerate(values)]

    matches: list[Match] = []
    urls = prepare_urls(live(batch.urls), first)
    problems += urls.problems
    captions = live(batch.captions)
    sha256, md5 = live(batch.sha256), live(batch.md5)
    phash_values = live(batch.phash)
    pdq_queries: list[tuple[int, str, bytes]] = [
        (i, "", v) for i, v in enumerate(live(batch.pdq)) if v is not None
    ]
    pdq_queries += [q for q in query_pdq if first + q[0] not in unreadable]
    candidates = _Candidates(levels.max_candidates)
    low_quality: set[int] = set()
    # Queries prepared once, searched in every part.
    digests = ((MatchKind.SHA256, prepare_digests(sha256, 32)),)
    digests += ((MatchKind.MD5, prepare_digests(md5, 16)),)
    phash_queries = _tagged_queries(
        [(i, "", v) for i, v in enumerate(phash_values) if v is not None]
    )
    pdq_packed = _tagged_queries(pdq_queries)
    for snapshot, alive in parts:
        found = snapshot.urls.lookup(urls) + snapshot.styles.match(captions, first)
        for kind, prepared in digests:
            index = snapshot.sha256 if kind is MatchKind.SHA256 else snapshot.md5
            for pos, ref in index.lookup_prepared(prepared):
                found.append(Match(row=first + pos, kind=kind, ref=ref, distance=0))
        matches += _live(found, alive)
        phash_hits = _hamming_search_tagged(
            snapshot.phash, phash_queries, thresholds.phash
        )
        for (pos, _), ref, dist in _live_hits(phash_hits, alive):
            candidates.add(MatchKind.PHASH, pos, ref, dist, "original")
            if snapshot.is_low_quality(ref):
                low_quality.add(ref)
        pdq_hits = _hamming_search_tagged(snapshot.pdq, pdq_packed, thresholds.pdq)
        for (pos, mirror), packed, dist in _live_hits(pdq_hits, alive, VARIANT_SLOTS):
            image_id, slot = divmod(packed, VARIANT_SLOTS)
            variant = snapshot.pdq_variants[slot] + ("+mirror" if mirror else "")
            candidates.add(MatchKind.PDQ, pos, image_id, dist, variant)
            if snapshot.is_low_quality(image_id):
                low_quality.add(image_id)

    verifier = (
        _Verifier(
            batch,
            references,
            levels.min_inliers,
            levels.min_agreement,
            levels.min_coverage,
            levels.min_alignment,
        )
        if references is not None
        else None
    )
    if described:
        matches += _descriptor_matches(parts, described, first, levels, verifier)
    for kind, pos, image_id, dist, variant in candidates.best():
        checked = verifier.check(pos, image_id) if verifier else None
        inliers, agreement, coverage, alignment = checked or (None,) * 4
        level = level_for(
            algorithm=str(kind),
            distance=dist,
            inliers=inliers,
            levels=levels,
            low_quality=image_id in low_quality,
            agreement=agreement,
            coverage=coverage,
            alignment=alignment,
        )
        if level is None:
            continue
        tail = (tails or {}).get(str(kind))
        matches.append(
            Match(
                row=first + pos,
                kind=kind,
                ref=image_id,
                distance=dist,
                level=level,
                variant=variant,
                inliers=inliers,
                agreement=agreement,
                coverage=coverage,
                alignment=alignment,
                chance=tail.probability(dist) if tail else None,
            )
        )
    embedded = [p for p in signals if p in EMBEDDED_PROTOCOLS]
    if batch.images is not None and embedded:
        found, unread = _embedded_signals(batch, unreadable, embedded)
        matches += found
        problems += unread
    matches.sort(key=lambda m: (m.row, m.kind, m.ref, m.source))
    return matches, problems


def _embedded_signals(
    batch: RowBatch, unreadable: set[int], protocols: Sequence[str]
) -> tuple[list[Match], list[RowProblem]]:
    """Signal matches for the batch's images that refuse AI training in their
    own metadata, and the images whose metadata could not be read."""
    matches: list[Match] = []
    problems: list[RowProblem] = []
    assert batch.images is not None
    for i, data in enumerate(batch.images):
        row = batch.first_row + i
        if data is None or row in unreadable:
            continue
        said = read_embedded(data, protocols)
        member = batch.image_names[i] if batch.image_names else None
        for reason in said.problems:
            problems.append(
                RowProblem(
                    row=row, reason=reason, field=member or "image", signal=METADATA
                )
            )
        for statement in said.refusals(TRAIN_AI):
            matches.append(
                Match(
                    row=row,
                    kind=MatchKind.SIGNAL,
                    ref=0,
                    matched=statement.preference,
                    source=statement.source,
                    evidence="; ".join(
                        x for x in (statement.value, statement.note) if x
                    ),
                )
            )
    return matches, problems


def _descriptor_matches(
    parts: list[Part],
    described: list[tuple[int, str, Any]],
    first: int,
    levels: Levels,
    verifier: _Verifier | None,
) -> list[Match]:
    """The k nearest live registered images of each described row, graded.

    `described`: (batch position, query form, image) per form of a row
    ("whole", "trimmed"). A row's image counts once per registered image,
    by the form that came closest.
    """
    from . import descriptor  # onnxruntime: only where images are matched

    model = descriptor.model()
    for snapshot, _ in parts:
        if descriptor.version() != snapshot.descriptor_version:
            raise ValueError(
                f"the snapshot's descriptors are {snapshot.descriptor_version!r}, "
                f"the engine's model is {descriptor.version()!r}"
            )
    vectors = model.embed([image for _, _, image in described])
    k = levels.descriptor_k
    hits: list[list[tuple[int, float, int]]] = [[] for _ in described]
    for snapshot, alive in parts:
        assert snapshot.descriptors is not None
        # Ask for more than k where dead entries could crowd out live ones.
        found = snapshot.descriptors.search(
            vectors,
            k if alive is None else 2 * k + 8,
            min_similarity=levels.descriptor_min,
        )
        for q, row_hits in enumerate(found):
            if alive is not None and row_hits:
                ids = np.array([image_id for image_id, _, _ in row_hits], np.int64)
                keep = alive(IMAGE, ids).tolist()
                row_hits = [h for h, ok in zip(row_hits, keep, strict=True) if ok]
            hits[q] += row_hits
    if len(parts) > 1:
        hits = [sorted(h, key=lambda hit: -hit[1])[:k] for h in hits]
    best: dict[tuple[int, int], tuple[float, str]] = {}
    for (pos, form, _), row_hits in zip(described, hits, strict=True):
        for image_id, similarity, region in row_hits:
            name = descriptor.REGION_NAMES[region]
            variant = name if form == "whole" else f"{form}:{name}"
            old = best.get((pos, image_id))
            if old is None or similarity > old[0]:
                best[(pos, image_id)] = (similarity, variant)
    matches = []
    for (pos, image_id), (similarity, variant) in sorted(best.items()):
        checked = verifier.check(pos, image_id) if verifier else None
        inliers, agreement, coverage, alignment = checked or (None,) * 4
        level = descriptor_level(
            similarity=similarity,
            inliers=inliers,
            agreement=agreement,
            coverage=coverage,
            alignment=alignment,
            levels=levels,
        )
        if level is None:
            continue
        matches.append(
            Match(
                row=first + pos,
                kind=MatchKind.DESCRIPTOR,
                ref=image_id,
                level=level,
                variant=variant,
                inliers=inliers,
                agreement=agreement,
                coverage=coverage,
                alignment=alignment,
                similarity=round(similarity, 4),
            )
        )
    return matches


@dataclass
class _Candidates:
    """The nearest registered images per (kind, row), at most `limit` of them."""

    limit: int
    best_by_pair: dict[tuple[MatchKind, int, int], tuple[int, str]] = field(
        default_factory=dict
    )

    def add(
        self, kind: MatchKind, pos: int, image_id: int, dist: int, variant: str
    ) -> None:
        key = (kind, pos, image_id)
        old = self.best_by_pair.get(key)
        if old is None or dist < old[0]:
            self.best_by_pair[key] = (dist, variant)

    def best(self) -> list[tuple[MatchKind, int, int, int, str]]:
        per_row: dict[tuple[MatchKind, int], list[tuple[int, int, str]]] = {}
        for (kind, pos, image_id), (dist, variant) in self.best_by_pair.items():
            per_row.setdefault((kind, pos), []).append((dist, image_id, variant))
        out = []
        for (kind, pos), hits in per_row.items():
            hits.sort()
            for dist, image_id, variant in hits[: self.limit]:
                out.append((kind, pos, image_id, dist, variant))
        return out


# What _Verifier.check reports of a pair: inliers, agreement, coverage and
# the dense alignment's figure.
_Checked = tuple[int, float | None, float, float | None]


class _Verifier:
    """Verifies (row, registered image) pairs once each, decoding a row once.

    A row's features are extracted once; those of its mirror image only when
    some pair needs them (the plain try fell short).
    """

    def __init__(
        self,
        batch: RowBatch,
        references: ReferenceLoader,
        min_inliers: int,
        min_agreement: float,
        min_coverage: float,
        min_alignment: float | None,
    ) -> None:
        self.batch = batch
        self.references = references
        self.min_inliers = min_inliers
        self.min_agreement = min_agreement
        self.min_coverage = min_coverage
        self.min_alignment = min_alignment
        self.rows: dict[int, Any] = {}
        self.mirrored: dict[int, Any] = {}
        self.results: dict[tuple[int, int], _Checked | None] = {}

    def check(self, pos: int, image_id: int) -> _Checked | None:
        """(inliers, agreement, coverage, alignment) of the pair, or None when
        it cannot be verified."""
        key = (pos, image_id)
        if key not in self.results:
            self.results[key] = self._verify(pos, image_id)
        return self.results[key]

    def _verify(self, pos: int, image_id: int) -> _Checked | None:
        images = self.batch.images
        if images is None or images[pos] is None:
            return None
        reference = self.references(image_id)
        if reference is None:
            return None
        from . import verify  # imports OpenCV: only where verification runs

        if pos not in self.rows:
            try:
                self.rows[pos] = decode_image(images[pos] or b"").image
            except ImageRejected:
                self.rows[pos] = None
        image = self.rows[pos]
        if image is None:
            return None

        def features(mirrored: bool) -> Any:
            found = self.mirrored.get((pos, mirrored))
            if found is None:
                found = self.mirrored[(pos, mirrored)] = verify.extract(
                    image, mirrored=mirrored
                )
            return found

        # The plain try, then the mirror's (its features made once per row,
        # only when some pair needs them).
        best = verify.verify(
            features(False),
            reference,
            min_inliers=self.min_inliers,
            min_agreement=self.min_agreement,
            min_coverage=self.min_coverage,
            min_alignment=self.min_alignment,
            mirrored_query=lambda: features(True),
        )
        return best.inliers, best.agreement, best.coverage, best.alignment


# Hamming queries packed once: (tags, packed words).
TaggedQueries = tuple[list[tuple[int, str, Any]], np.ndarray | None]


def _tagged_queries(queries: list[tuple[int, str, Any]]) -> TaggedQueries:
    """Pack (position, tag, hash) queries once for several indexes; pHash as
    a signed int or 8 bytes, PDQ as 32 bytes."""
    if not queries:
        return queries, None
    raw = [
        (v & 0xFFFF_FFFF_FFFF_FFFF).to_bytes(8, "big") if isinstance(v, int) else v
        for _, _, v in queries
    ]
    return queries, pack_bytes(raw)


def _hamming_search_tagged(
    index: HammingIndex, prepared: TaggedQueries, radius: int
) -> list[tuple[tuple[int, str], int, int]]:
    queries, packed = prepared
    if packed is None or not len(index):
        return []
    q_idx, ids, dist = index.search(packed, radius)
    return [
        ((queries[int(q)][0], queries[int(q)][1]), int(ref), int(d))
        for q, ref, d in zip(q_idx.tolist(), ids.tolist(), dist.tolist(), strict=True)
    ]


def _fingerprint_images(
    batch: RowBatch, unreadable: set[int], *, descriptor: bool = False
) -> tuple[list[RowProblem], list[tuple[int, str, bytes]], list[tuple[int, str, Any]]]:
    """Fill the batch's hash columns from its images (tar shards).

    Returns the images that do not decode (signal "image"), the extra PDQ
    queries beside the canonical hash (perceptual.query_pdq): the trimmed
    form, tagged "", and the mirror, tagged "mirror"; and, with `descriptor`,
    the forms of each image to describe (position, "whole"/"trimmed", image).
    """
    problems = []
    queries: list[tuple[int, str, bytes]] = []
    described: list[tuple[int, str, Any]] = []
    assert batch.images is not None
    for i, data in enumerate(batch.images):
        row = batch.first_row + i
        if data is None or row in unreadable:
            continue
        try:
            prints = query_fingerprints(data, descriptor=descriptor)
        except ImageRejected as exc:
            member = batch.image_names[i] if batch.image_names else None
            problems.append(
                RowProblem(
                    row=row,
                    reason=f"image does not decode: {exc}",
                    field=member or "image",
                    signal="image",
                )
            )
            continue
        batch.sha256[i] = batch.sha256[i] or prints.sha256
        batch.md5[i] = batch.md5[i] or prints.md5
        batch.phash[i] = int.from_bytes(prints.phash, "big", signed=True)
        batch.pdq[i] = prints.pdq["canonical"]
        for name, value in prints.pdq.items():
            if name != "canonical":
                queries.append((i, "mirror" if name == "flipx" else "", value))
        for form, image in prints.descriptor_images.items():
            described.append((i, form, image))
    return problems, queries, described
