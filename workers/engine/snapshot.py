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
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .fingerprint import fingerprint_bytes
from .hamming import HammingIndex, pack_bytes
from .images import ImageRejected
from .style import StyleIndex
from .types import Match, MatchKind, RowBatch, RowProblem
from .urlindex import UrlIndex

FORMAT_VERSION = 1


@dataclass(frozen=True)
class Thresholds:
    """Largest Hamming distance that counts as a match, per perceptual hash."""

    phash: int = 8
    pdq: int = 31


class ExactIndex:
    """Fixed-length digests (SHA-256, MD5) -> ids, by binary search on 8 bytes."""

    def __init__(self, keys: np.ndarray, values: np.ndarray, ids: np.ndarray) -> None:
        self.keys = keys  # (N,) uint64, sorted: the digest's first 8 bytes
        self.values = values  # (N, L) uint8: the whole digests, in key order
        self.ids = ids  # (N,) int64

    @classmethod
    def build(cls, pairs: Iterable[tuple[int, bytes]], length: int) -> ExactIndex:
        ids_list: list[int] = []
        raw = bytearray()
        for ref, digest in pairs:
            if len(digest) != length:
                continue
            ids_list.append(ref)
            raw += digest
        values = np.frombuffer(bytes(raw), dtype=np.uint8).reshape(-1, length)
        keys = values[:, :8].copy().view(">u8").ravel().astype(np.uint64)
        order = np.argsort(keys, kind="stable")
        return cls(
            keys[order],
            np.ascontiguousarray(values[order]),
            np.array(ids_list, np.int64)[order],
        )

    def __len__(self) -> int:
        return int(self.keys.shape[0])

    @property
    def nbytes(self) -> int:
        return int(self.keys.nbytes + self.values.nbytes + self.ids.nbytes)

    def lookup(self, digests: list[bytes | None]) -> list[tuple[int, int]]:
        """(position in `digests`, id) for every digest in the index."""
        rows = [i for i, d in enumerate(digests) if d is not None]
        if not rows or not len(self):
            return []
        length = self.values.shape[1]
        queries = np.frombuffer(b"".join(digests[i] or b"" for i in rows), np.uint8)
        queries = queries.reshape(-1, length)
        qkeys = queries[:, :8].copy().view(">u8").ravel().astype(np.uint64)
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
        np.save(directory / "keys.npy", self.keys)
        np.save(directory / "values.npy", self.values)
        np.save(directory / "ids.npy", self.ids)

    @classmethod
    def load(cls, directory: Path, *, mmap: bool = True) -> ExactIndex:
        mode = "r" if mmap else None
        return cls(
            np.load(directory / "keys.npy", mmap_mode=mode),
            np.load(directory / "values.npy", mmap_mode=mode),
            np.load(directory / "ids.npy", mmap_mode=mode),
        )


def _hamming_build(
    pairs: Iterable[tuple[int, bytes]], width: int, max_radius: int
) -> HammingIndex:
    ids: list[int] = []
    values: list[bytes] = []
    for ref, value in pairs:
        if len(value) == width:
            ids.append(ref)
            values.append(value)
    hashes = pack_bytes(values) if values else np.zeros((0, width // 8), np.uint64)
    return HammingIndex.build(hashes, np.array(ids, np.int64), max_radius=max_radius)


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
    ) -> None:
        self.revision = revision
        self.urls = urls
        self.styles = styles
        self.sha256 = sha256
        self.md5 = md5
        self.phash = phash
        self.pdq = pdq
        self.max_radius = max_radius

    @classmethod
    def build(
        cls,
        *,
        revision: int,
        url_claims: Iterable[tuple[int, str]] = (),
        prefix_claims: Iterable[tuple[int, str]] = (),
        domain_claims: Iterable[tuple[int, str]] = (),
        style_names: Iterable[tuple[int, str]] = (),
        sha256: Iterable[tuple[int, bytes]] = (),
        md5: Iterable[tuple[int, bytes]] = (),
        phash: Iterable[tuple[int, bytes]] = (),
        pdq: Iterable[tuple[int, bytes]] = (),
        max_radius: Thresholds = Thresholds(phash=12, pdq=63),
    ) -> RegistrySnapshot:
        """Index everything enforced. Hashes are raw bytes (pHash 8, PDQ 32)."""
        return cls(
            revision=revision,
            urls=UrlIndex.build(
                urls=url_claims, prefixes=prefix_claims, domains=domain_claims
            ),
            styles=StyleIndex.build(style_names),
            sha256=ExactIndex.build(sha256, 32),
            md5=ExactIndex.build(md5, 16),
            phash=_hamming_build(phash, 8, max_radius.phash),
            pdq=_hamming_build(pdq, 32, max_radius.pdq),
            max_radius=max_radius,
        )

    def sizes(self) -> dict[str, int]:
        return {
            "urls": len(self.urls),
            "styles": len(self.styles),
            "sha256": len(self.sha256),
            "md5": len(self.md5),
            "phash": len(self.phash),
            "pdq": len(self.pdq),
        }

    def save(self, directory: Path) -> None:
        """Write to `directory` (which must not exist yet) atomically."""
        tmp = directory.with_name(directory.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        self.urls.save(tmp / "urls")
        self.styles.save(tmp / "styles")
        self.sha256.save(tmp / "sha256")
        self.md5.save(tmp / "md5")
        self.phash.save(tmp / "phash")
        self.pdq.save(tmp / "pdq")
        meta = {
            "format": FORMAT_VERSION,
            "revision": self.revision,
            "max_radius": asdict(self.max_radius),
            "sizes": self.sizes(),
        }
        (tmp / "snapshot.json").write_text(json.dumps(meta, indent=2))
        tmp.rename(directory)

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
        )

    def match(
        self, batch: RowBatch, thresholds: Thresholds = Thresholds()
    ) -> tuple[list[Match], list[RowProblem]]:
        """Every match of the batch's rows, and the rows that could not be read."""
        if (
            thresholds.phash > self.max_radius.phash
            or thresholds.pdq > self.max_radius.pdq
        ):
            raise ValueError("thresholds exceed the radius this snapshot was built for")
        first = batch.first_row
        skipped = {p.row for p in batch.skipped}
        problems: list[RowProblem] = []
        if batch.images is not None:
            problems += _fingerprint_images(batch, skipped)
            skipped |= {p.row for p in problems}

        def live(values: list) -> list:
            if not skipped:
                return values
            return [None if first + i in skipped else v for i, v in enumerate(values)]

        matches: list[Match] = []
        url_matches, url_problems = self.urls.match(live(batch.urls), first)
        matches += url_matches
        problems += url_problems
        matches += self.styles.match(live(batch.captions), first)
        for kind, index, column in (
            (MatchKind.SHA256, self.sha256, batch.sha256),
            (MatchKind.MD5, self.md5, batch.md5),
        ):
            for pos, ref in index.lookup(live(column)):
                matches.append(Match(row=first + pos, kind=kind, ref=ref, distance=0))
        matches += _hamming_matches(
            self.phash, live(batch.phash), first, MatchKind.PHASH, thresholds.phash, 8
        )
        matches += _hamming_matches(
            self.pdq, live(batch.pdq), first, MatchKind.PDQ, thresholds.pdq, 32
        )
        matches.sort(key=lambda m: (m.row, m.kind, m.ref))
        return matches, problems


def _hamming_matches(
    index: HammingIndex,
    values: list,
    first: int,
    kind: MatchKind,
    radius: int,
    width: int,
) -> list[Match]:
    rows = [i for i, v in enumerate(values) if v is not None]
    if not rows or not len(index):
        return []
    raw = [
        (v & 0xFFFF_FFFF_FFFF_FFFF).to_bytes(8, "big") if isinstance(v, int) else v
        for v in (values[i] for i in rows)
    ]
    queries = pack_bytes(raw)
    q_idx, ids, dist = index.search(queries, radius)
    return [
        Match(row=first + rows[int(q)], kind=kind, ref=int(ref), distance=int(d))
        for q, ref, d in zip(q_idx, ids, dist, strict=True)
    ]


def _fingerprint_images(batch: RowBatch, skipped: set[int]) -> list[RowProblem]:
    """Fill the batch's hash columns from its images (tar shards)."""
    problems = []
    assert batch.images is not None
    for i, data in enumerate(batch.images):
        row = batch.first_row + i
        if data is None or row in skipped:
            continue
        try:
            prints = fingerprint_bytes(data, thumbnail_size=None).fingerprints
        except ImageRejected as exc:
            problems.append(RowProblem(row=row, reason=str(exc), field="image"))
            continue
        batch.sha256[i] = batch.sha256[i] or prints.sha256
        batch.md5[i] = batch.md5[i] or prints.md5
        batch.phash[i] = prints.phash_int
        batch.pdq[i] = prints.pdq
    return problems
