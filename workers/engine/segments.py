"""The registry's index as immutable segments, and a revision's view of them.

A segment covers the registry revisions (first, last]. It holds

- entries: the values to index, as Arrow tables (claims and style names,
  image hashes, PDQ variants, descriptors), indexed as a RegistrySnapshot
  saved beside them (index/), memory-mapped when loaded;
- ops: which claim or image became enforced (add) or stopped being enforced
  (drop) at which revision, for the changes of its range.

Kinds:

- "base": everything enforced at `last` (first is 0; no ops);
- "delta": the changes of (first, last], every op kept, so it serves any
  revision from `first` on (ops after the revision asked for are ignored);
- "merged": consecutive deltas merged, each claim's and image's last op
  kept, so it serves revisions from `last` on.

A view at revision N is one base (last <= N) and the chain of deltas that
follows it up to N (`choose_chain`). Which entries are live at N: a base
entry unless some delta has an op on its claim or image at or before N; a
delta entry when the latest op at or before N on its claim or image is an
add made within the delta's range. So each claim and image is live in one
segment at most, and a change costs a delta of its own size, whatever the
size of the registry. Merging (`merge`) folds deltas into one, or the chain
into a new base, from the segments' own entries: the database is not read.

Django-free: the registry writes segments (optout/segments.py), worker
machines and the offline client read them.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from .descindex import DEFAULT_HNSW_MIN, DEFAULT_IVFPQ_MIN, IVF_CODES
from .snapshot import (
    CLAIM,
    FORMAT_VERSION,
    IMAGE,
    Alive,
    HashArrays,
    Part,
    RegistrySnapshot,
    Thresholds,
    match_parts,
)
from .urlindex import PackedClaims

SEGMENT_FORMAT = 1
BASE, DELTA, MERGED = "base", "delta", "merged"
ADD, DROP = 1, 0

CLAIMS_SCHEMA = pa.schema(
    [("ref", pa.int64()), ("kind", pa.string()), ("value", pa.string())]
)
IMAGES_SCHEMA = pa.schema(
    [
        ("ref", pa.int64()),
        ("sha256", pa.binary()),
        ("md5", pa.binary()),
        ("phash", pa.binary()),
        ("low_quality", pa.bool_()),
        ("descriptors", pa.binary()),
    ]
)
PDQ_SCHEMA = pa.schema(
    [("ref", pa.int64()), ("variant", pa.string()), ("value", pa.binary())]
)
OPS_SCHEMA = pa.schema(
    [
        ("space", pa.int8()),
        ("ref", pa.int64()),
        ("revision", pa.int64()),
        ("op", pa.int8()),
    ]
)
TABLES = {
    "claims": CLAIMS_SCHEMA,
    "images": IMAGES_SCHEMA,
    "pdq": PDQ_SCHEMA,
    "ops": OPS_SCHEMA,
}
CLAIM_KINDS = ("url", "prefix", "domain", "style")


class SegmentsMissing(LookupError):
    """No chain of segments serves the revision asked for."""


def keys_of(space: int, refs: np.ndarray) -> np.ndarray:
    """One int64 key per (space, ref): claims and images never collide."""
    return np.asarray(refs, np.int64) * 2 + space


@dataclass
class Entries:
    """A segment's contents, as Arrow tables (see TABLES)."""

    claims: pa.Table
    images: pa.Table
    pdq: pa.Table
    ops: pa.Table

    def table(self, name: str) -> pa.Table:
        return getattr(self, name)

    def rows(self) -> int:
        """Claims and images held (their names and variants not counted)."""
        claims = np.unique(self.claims.column("ref").to_numpy()).size
        return int(claims + self.images.num_rows)


# Rows an EntriesWriter holds as Python values before making them an Arrow
# batch: a base read from the database holds one batch of Python objects per
# table at most, not a Python object per value of the whole registry.
FLUSH_ROWS = 50_000


@dataclass
class EntriesWriter:
    """Collects a segment's entries row by row.

    With `spill` (a folder that outlives the entries), each batch of
    FLUSH_ROWS rows is written to an uncompressed Arrow file there instead
    of being kept, and the entries are those files memory-mapped: a base of
    millions of images (a kilobyte each with descriptors) then costs page
    cache the system can reclaim, not process memory.
    """

    claims: dict[str, list] = field(default_factory=lambda: _columns(CLAIMS_SCHEMA))
    images: dict[str, list] = field(default_factory=lambda: _columns(IMAGES_SCHEMA))
    pdq: dict[str, list] = field(default_factory=lambda: _columns(PDQ_SCHEMA))
    ops: dict[str, list] = field(default_factory=lambda: _columns(OPS_SCHEMA))
    batches: dict[str, list[pa.RecordBatch]] = field(
        default_factory=lambda: {name: [] for name in TABLES}
    )
    spill: Path | None = None
    _files: dict[str, Any] = field(default_factory=dict)

    def _add(self, name: str, **values: Any) -> None:
        columns = getattr(self, name)
        _append(columns, **values)
        if len(columns["ref"]) >= FLUSH_ROWS:
            self._flush(name)

    def _flush(self, name: str) -> None:
        columns = getattr(self, name)
        if columns["ref"]:
            batch = pa.RecordBatch.from_pydict(columns, schema=TABLES[name])
            if self.spill is None:
                self.batches[name].append(batch)
            else:
                self._file(name).write_batch(batch)
            for values in columns.values():
                values.clear()

    def _file(self, name: str) -> Any:
        if name not in self._files:
            assert self.spill is not None
            self.spill.mkdir(parents=True, exist_ok=True)
            self._files[name] = ipc.new_file(self.spill / f"{name}.arrow", TABLES[name])
        return self._files[name]

    def claim(self, ref: int, kind: str, value: str) -> None:
        """A URL, prefix or domain claim, or one name of a style claim."""
        if kind not in CLAIM_KINDS:
            raise ValueError(f"claim {ref}: kind {kind!r} is not indexed")
        self._add("claims", ref=ref, kind=kind, value=value)

    def image(
        self,
        ref: int,
        *,
        sha256: bytes | None = None,
        md5: bytes | None = None,
        phash: bytes | None = None,
        pdq: Mapping[str, bytes] | None = None,
        low_quality: bool = False,
        descriptors: bytes | None = None,
    ) -> None:
        """An image's hashes (raw bytes: pHash 8, PDQ 32 per variant)."""
        self._add(
            "images",
            ref=ref,
            sha256=sha256,
            md5=md5,
            phash=phash,
            low_quality=low_quality,
            descriptors=descriptors,
        )
        for variant, value in (pdq or {}).items():
            self._add("pdq", ref=ref, variant=variant, value=value)

    def op(self, space: int, ref: int, revision: int, op: int) -> None:
        self._add("ops", space=space, ref=ref, revision=revision, op=op)

    def entries(self) -> Entries:
        for name in TABLES:
            self._flush(name)
        if self.spill is None:
            return Entries(
                **{
                    name: pa.Table.from_batches(self.batches[name], schema=schema)
                    for name, schema in TABLES.items()
                }
            )
        for name in TABLES:
            self._file(name).close()
        self._files.clear()
        return mapped_entries(self.spill)


def mapped_entries(folder: Path) -> Entries:
    """The entries in `folder`'s uncompressed Arrow files (one per table),
    memory-mapped: page cache, not process memory."""
    return Entries(
        **{
            name: ipc.open_file(pa.memory_map(str(folder / f"{name}.arrow"))).read_all()
            for name in TABLES
        }
    )


def _columns(schema: pa.Schema) -> dict[str, list]:
    return {name: [] for name in schema.names}


def _append(columns: dict[str, list], **values: Any) -> None:
    for name, value in values.items():
        columns[name].append(value)


def _member(table: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Which of `queries` are in the sorted array `table`."""
    if not len(table):
        return np.zeros(len(queries), bool)
    pos = np.searchsorted(table, queries)
    pos[pos == len(table)] = 0
    return table[pos] == queries


def _hash_arrays(
    table: pa.Table, name: str, width: int, *, variants: str | None = None
) -> HashArrays:
    """The rows of `table` whose `name` holds `width` bytes, as arrays (no
    Python object per entry: 10M images take seconds and no extra memory)."""
    # Only the columns read, and filtered only when some row lacks the hash:
    # a filter copies what it keeps (a mapped base's columns into memory).
    table = table.select(["ref", name, *([variants] if variants else [])])
    column = table.column(name)
    keep = pc.fill_null(pc.equal(pc.binary_length(column), width), False)
    kept = table.filter(keep) if pc.all(keep).as_py() is False else table
    # Cast a chunk at a time, then joined once: one copy of the hashes.
    values = pa.chunked_array(
        [chunk.cast(pa.binary(width)) for chunk in kept.column(name).chunks],
        pa.binary(width),
    ).combine_chunks()
    raw = np.frombuffer(values.buffers()[1], np.uint8)
    start = values.offset * width
    codes, names = None, ()
    if variants:
        encoded = pc.dictionary_encode(kept.column(variants)).combine_chunks()
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        names = tuple(encoded.dictionary.to_pylist())
    return HashArrays(
        ids=kept.column("ref").to_numpy().astype(np.int64, copy=False),
        values=raw[start : start + len(values) * width].reshape(-1, width),
        variant_codes=codes,
        variant_names=names,
    )


def _packed_claims(claims: pa.Table) -> PackedClaims:
    """URL claims as arrays (their values are normal forms: ASCII)."""
    if claims.column("value").null_count:
        claims = claims.filter(pc.is_valid(claims.column("value")))
    if not claims.num_rows:
        empty = np.zeros(0, np.int64)
        return PackedClaims(empty, np.zeros(0, np.uint8), np.zeros(1, np.int64))
    # Cast a chunk at a time, then joined once: one copy of the values.
    values = pa.chunked_array(
        [chunk.cast(pa.large_string()) for chunk in claims.column("value").chunks],
        pa.large_string(),
    ).combine_chunks()
    if not pc.all(pc.string_is_ascii(values)).as_py():
        raise UnicodeEncodeError("ascii", "", 0, 1, "a URL claim is not normalized")
    offsets = np.frombuffer(values.buffers()[1], np.int64)[
        values.offset : values.offset + len(values) + 1
    ]
    data = np.frombuffer(values.buffers()[2] or b"", np.uint8)
    return PackedClaims(
        ids=claims.column("ref").to_numpy().astype(np.int64, copy=False),
        data=data[int(offsets[0]) : int(offsets[-1])],
        offsets=offsets - offsets[0],
    )


def _snapshot_inputs(entries: Entries) -> dict[str, Any]:
    """RegistrySnapshot's inputs from a segment's entries, each a callable
    that reads its Arrow columns when its index is built."""
    is_url = pc.fill_null(pc.equal(entries.claims.column("kind"), "url"), False)
    images = entries.images

    def url_claims() -> PackedClaims:
        # The two columns read; filtered only when other claims are there
        # (a filter copies what it keeps out of a mapped base).
        claims = entries.claims.select(["ref", "value"])
        if pc.all(is_url).as_py() is False:
            claims = claims.filter(is_url)
        return _packed_claims(claims)

    @cache  # prefixes, domains and styles: one read for the three
    def others() -> dict[str, list[tuple[int, str]]]:
        claims = entries.claims.filter(pc.invert(is_url)).to_pydict()  # the few
        by_kind: dict[str, list[tuple[int, str]]] = {k: [] for k in CLAIM_KINDS}
        for ref, kind, value in zip(
            claims["ref"], claims["kind"], claims["value"], strict=True
        ):
            by_kind[kind].append((ref, value))
        return by_kind

    def low_quality() -> np.ndarray:
        refs = images.column("ref").to_numpy()
        flags = images.column("low_quality").to_numpy(zero_copy_only=False)
        return refs[flags.astype(bool)]

    def descriptors() -> Iterator[tuple[int, bytes]]:
        refs = images.column("ref").to_numpy()
        values = images.column("descriptors").to_pylist()
        return ((int(r), v) for r, v in zip(refs, values, strict=True) if v)

    return {
        "url_claims": url_claims,
        "prefix_claims": lambda: others()["prefix"],
        "domain_claims": lambda: others()["domain"],
        "style_names": lambda: others()["style"],
        "sha256": lambda: _hash_arrays(images, "sha256", 32),
        "md5": lambda: _hash_arrays(images, "md5", 16),
        "phash": lambda: _hash_arrays(images, "phash", 8),
        "pdq": lambda: _hash_arrays(entries.pdq, "value", 32, variants="variant"),
        "low_quality": low_quality,
        "descriptors": descriptors,
    }


def snapshot_of(
    entries: Entries,
    *,
    revision: int,
    registry: str,
    descriptor_version: str,
    max_radius: Thresholds,
    descriptor_hnsw_min: int,
    descriptor_ivfpq_min: int = DEFAULT_IVFPQ_MIN,
    descriptor_ivf_codes: str = IVF_CODES,
) -> RegistrySnapshot:
    """The snapshot of `entries`, in memory (write_segment saves the same
    one index at a time)."""
    inputs = {k: v() for k, v in _snapshot_inputs(entries).items()}
    if not descriptor_version:
        inputs["descriptors"] = ()
    return RegistrySnapshot.build(
        revision=revision,
        max_radius=max_radius,
        descriptor_version=descriptor_version,
        descriptor_hnsw_min=descriptor_hnsw_min,
        descriptor_ivfpq_min=descriptor_ivfpq_min,
        descriptor_ivf_codes=descriptor_ivf_codes,
        registry=registry,
        **inputs,
    )


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@contextmanager
def _removed_on_failure(folder: Path) -> Iterator[None]:
    try:
        yield
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def write_segment(
    root: Path,
    entries: Entries,
    *,
    kind: str,
    first: int,
    last: int,
    registry: str,
    descriptor_version: str,
    max_radius: Thresholds,
    descriptor_hnsw_min: int = DEFAULT_HNSW_MIN,
    descriptor_ivfpq_min: int = DEFAULT_IVFPQ_MIN,
    descriptor_ivf_codes: str = IVF_CODES,
) -> Path:
    """Write a segment into a new folder under `root`; its path.

    The folder's name is the segment's name: unique, so a segment's files
    never change once written, and caches need no invalidation.
    """
    if kind not in (BASE, DELTA, MERGED):
        raise ValueError(f"segment kind {kind!r}")
    if not 0 <= first <= last:
        raise ValueError(f"segment range ({first}, {last}]")
    name = f"{kind}-{first:012d}-{last:012d}-{secrets.token_hex(4)}"
    tmp = root / f"{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    # A failed write (a full disk: OSError) leaves nothing behind: each
    # attempt writes under a new name, so no later one would remove it.
    with _removed_on_failure(tmp):
        for table_name in TABLES:
            options = ipc.IpcWriteOptions(compression="zstd")
            table = entries.table(table_name)
            with ipc.new_file(
                tmp / f"{table_name}.arrow", table.schema, options=options
            ) as w:
                # Bounded batches: a merge reads a segment a batch at a time.
                w.write_table(table, max_chunksize=FLUSH_ROWS)
        # One index at a time: memory holds the entries and the index being
        # built, never the whole snapshot (bench/segment_memory.py).
        sizes = RegistrySnapshot.write(
            tmp / "index",
            revision=last,
            registry=registry,
            max_radius=max_radius,
            descriptor_version=descriptor_version,
            descriptor_hnsw_min=descriptor_hnsw_min,
            descriptor_ivfpq_min=descriptor_ivfpq_min,
            descriptor_ivf_codes=descriptor_ivf_codes,
            # What Arrow allocated for an index's inputs goes back to the
            # system before the next index is built (its pool keeps it).
            on_saved=pa.default_memory_pool().release_unused,
            **_snapshot_inputs(entries),
        )
        files = {
            str(path.relative_to(tmp)): {
                "bytes": path.stat().st_size,
                "sha256": _digest(path),
            }
            for path in sorted(tmp.rglob("*"))
            if path.is_file()
        }
        meta = {
            "segment_format": SEGMENT_FORMAT,
            "snapshot_format": FORMAT_VERSION,
            "name": name,
            "kind": kind,
            "first": first,
            "last": last,
            "registry": registry,
            "descriptor_version": descriptor_version,
            "max_radius": asdict(max_radius),
            "claims": int(np.unique(entries.claims.column("ref").to_numpy()).size),
            "images": entries.images.num_rows,
            "ops": entries.ops.num_rows,
            "sizes": sizes,
            "bytes": sum(f["bytes"] for f in files.values()),
            "files": files,
        }
        (tmp / "segment.json").write_text(json.dumps(meta, indent=1))
        tmp.rename(root / name)
        return root / name


def check_files(directory: Path, meta: Mapping[str, Any]) -> str:
    """Why the folder's files are not the segment's (empty when they are)."""
    for rel, want in meta["files"].items():
        path = directory / rel
        if not path.is_file():
            return f"{rel} is missing"
        if path.stat().st_size != want["bytes"]:
            return f"{rel} has {path.stat().st_size} bytes, not {want['bytes']}"
        if _digest(path) != want["sha256"]:
            return f"{rel} does not have the SHA-256 its segment names"
    return ""


class Segment:
    """A segment folder, its index memory-mapped and its ops in memory."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.meta = json.loads((self.directory / "segment.json").read_text())
        if self.meta.get("segment_format") != SEGMENT_FORMAT:
            raise ValueError(
                f"{self.directory}: segment format {self.meta.get('segment_format')}"
                f", this code reads {SEGMENT_FORMAT}"
            )
        self.name: str = self.meta["name"]
        self.kind: str = self.meta["kind"]
        self.first: int = int(self.meta["first"])
        self.last: int = int(self.meta["last"])
        self._snapshot: RegistrySnapshot | None = None
        self._ops: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def __repr__(self) -> str:
        return f"Segment({self.name})"

    @property
    def snapshot(self) -> RegistrySnapshot:
        if self._snapshot is None:
            self._snapshot = RegistrySnapshot.load(self.directory / "index")
        return self._snapshot

    def table(self, name: str) -> pa.Table:
        with ipc.open_file(self.directory / f"{name}.arrow") as reader:
            return reader.read_all()

    def entries(self) -> Entries:
        return Entries(**{name: self.table(name) for name in TABLES})

    @property
    def ops(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(keys, revisions, ops), as stored."""
        if self._ops is None:
            ops = self.table("ops")
            self._ops = (
                keys_of(0, ops.column("ref").to_numpy())
                + ops.column("space").to_numpy().astype(np.int64),
                ops.column("revision").to_numpy().astype(np.int64),
                ops.column("op").to_numpy().astype(np.int8),
            )
        return self._ops


def choose_chain(
    segments: Sequence[Mapping[str, Any]], revision: int
) -> list[Mapping[str, Any]]:
    """The segments (as their segment.json) whose view is `revision`.

    The newest base at or before the revision, then from its end the
    longest merged delta that ends at or before the revision, or else the
    delta that starts there, until the revision is reached.
    """
    bases = [s for s in segments if s["kind"] == BASE and s["last"] <= revision]
    if not bases:
        raise SegmentsMissing(f"no base segment at or before revision {revision}")
    chain = [max(bases, key=lambda s: s["last"])]
    cursor = chain[0]["last"]
    while cursor < revision:
        following = [s for s in segments if s["first"] == cursor and s["kind"] != BASE]
        merged = [s for s in following if s["kind"] == MERGED and s["last"] <= revision]
        deltas = [s for s in following if s["kind"] == DELTA]
        if merged:
            step = max(merged, key=lambda s: s["last"])
        elif deltas:
            step = max(deltas, key=lambda s: s["last"])
        else:
            raise SegmentsMissing(
                f"no segment covers revisions {cursor} to {revision} "
                "(not yet published, or merged away)"
            )
        chain.append(step)
        cursor = step["last"]
    return chain


def _latest_ops(
    segments: Sequence[Segment], revision: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per key, its latest op at or before `revision` in `segments`:
    (sorted keys, revisions, ops)."""
    parts = [s.ops for s in segments]
    if not parts:
        empty = np.zeros(0, np.int64)
        return empty, empty, np.zeros(0, np.int8)
    keys = np.concatenate([p[0] for p in parts])
    revs = np.concatenate([p[1] for p in parts])
    ops = np.concatenate([p[2] for p in parts])
    keep = revs <= revision
    keys, revs, ops = keys[keep], revs[keep], ops[keep]
    order = np.lexsort((revs, keys))
    keys, revs, ops = keys[order], revs[order], ops[order]
    last = np.ones(len(keys), bool)
    last[:-1] = keys[1:] != keys[:-1]
    return keys[last], revs[last], ops[last]


def liveness(segments: Sequence[Segment], revision: int) -> list[Alive]:
    """Which entries of each segment are live at `revision` (see module doc)."""
    deltas = [s for s in segments if s.kind != BASE]
    keys, revs, ops = _latest_ops(deltas, revision)
    out: list[Alive] = []
    for segment in segments:
        if segment.kind == BASE:
            dead = keys

            def alive(
                space: int, refs: np.ndarray, dead: np.ndarray = dead
            ) -> np.ndarray:
                return ~_member(dead, keys_of(space, refs))

        else:
            live = keys[(ops == ADD) & (revs > segment.first) & (revs <= segment.last)]

            def alive(
                space: int, refs: np.ndarray, live: np.ndarray = live
            ) -> np.ndarray:
                return _member(live, keys_of(space, refs))

        out.append(alive)
    return out


class SegmentView:
    """What the registry enforced at one revision, as a chain of segments.

    `match` answers like RegistrySnapshot.match over the live entries.
    """

    def __init__(self, segments: Sequence[Segment], revision: int) -> None:
        if not segments:
            raise SegmentsMissing("no segments")
        head = segments[0].meta
        for segment in segments[1:]:
            for name in ("registry", "descriptor_version", "max_radius"):
                if segment.meta[name] != head[name]:
                    raise ValueError(
                        f"segment {segment.name}: {name} {segment.meta[name]!r}, "
                        f"not {head[name]!r} as {segments[0].name}"
                    )
        self.segments = list(segments)
        self.revision = revision
        self.registry: str = head["registry"]
        self.descriptor_version: str = head["descriptor_version"]
        self.max_radius = Thresholds(**head["max_radius"])
        alive = liveness(self.segments, revision)
        self.parts: list[Part] = [
            (segment.snapshot, check)
            for segment, check in zip(self.segments, alive, strict=True)
        ]

    def match(self, batch: Any, thresholds: Thresholds | None = None, **kwargs: Any):
        return match_parts(self.parts, batch, thresholds or Thresholds(), **kwargs)

    def sizes(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for snapshot, _ in self.parts:
            for name, count in snapshot.sizes().items():
                total[name] = total.get(name, 0) + count
        return total

    def live_entries(self) -> Entries:
        """The live entries of every segment, as one set (no ops)."""
        return _live_entries(self.segments, liveness(self.segments, self.revision))


def _spilled_live_entries(
    segments: Sequence[Segment], alive: Sequence[Alive], spill: Path
) -> Entries:
    """`_live_entries`, read a batch at a time and written to uncompressed
    Arrow files in `spill`, returned memory-mapped: merging a chain into a
    new base never holds the registry's entries in memory."""
    spill.mkdir(parents=True, exist_ok=True)
    for name, schema in TABLES.items():
        space = CLAIM if name == "claims" else IMAGE
        with ipc.new_file(spill / f"{name}.arrow", schema) as out:
            if name == "ops":
                continue
            for segment, check in zip(segments, alive, strict=True):
                with ipc.open_file(segment.directory / f"{name}.arrow") as reader:
                    for i in range(reader.num_record_batches):
                        batch = reader.get_batch(i)
                        mask = check(space, batch.column("ref").to_numpy())
                        out.write_batch(batch.filter(pa.array(mask)))
    return mapped_entries(spill)


def _live_entries(segments: Sequence[Segment], alive: Sequence[Alive]) -> Entries:
    tables: dict[str, list[pa.Table]] = {name: [] for name in TABLES if name != "ops"}
    for segment, check in zip(segments, alive, strict=True):
        for name in tables:
            table = segment.table(name)
            space = CLAIM if name == "claims" else IMAGE
            mask = check(space, table.column("ref").to_numpy())
            tables[name].append(table.filter(pa.array(mask)))
    return Entries(
        **{
            name: pa.concat_tables(parts) if parts else TABLES[name].empty_table()
            for name, parts in tables.items()
        },
        ops=OPS_SCHEMA.empty_table(),
    )


def merge(
    root: Path,
    segments: Sequence[Segment],
    *,
    into: str,
    descriptor_hnsw_min: int = DEFAULT_HNSW_MIN,
    descriptor_ivfpq_min: int = DEFAULT_IVFPQ_MIN,
    descriptor_ivf_codes: str = IVF_CODES,
) -> Path:
    """Merge a chain into one segment under `root`; its folder.

    into=BASE: a base chain (base then deltas) becomes a new base at the
    chain's last revision. into=MERGED: consecutive deltas become one merged
    delta keeping each claim's and image's last op.
    """
    if not segments:
        raise ValueError("nothing to merge")
    for before, after in zip(segments, segments[1:], strict=False):
        if after.first != before.last:
            raise ValueError(f"{after.name} does not follow {before.name}")
    last = segments[-1].last
    head = segments[0].meta
    spill = root / f".entries-{secrets.token_hex(4)}"
    try:
        if into == BASE:
            if segments[0].kind != BASE:
                raise ValueError(
                    "a new base is merged from a chain that starts with a base"
                )
            # The whole registry: read a batch at a time, mapped from disk.
            entries = _spilled_live_entries(segments, liveness(segments, last), spill)
            first = 0
        elif into == MERGED:
            if any(s.kind == BASE for s in segments):
                raise ValueError("merged deltas are made of deltas only")
            entries = _live_entries(segments, liveness(segments, last))
            keys, revs, ops = _latest_ops(segments, last)
            entries.ops = pa.table(
                {
                    "space": (keys % 2).astype(np.int8),
                    "ref": keys // 2,
                    "revision": revs,
                    "op": ops,
                },
                schema=OPS_SCHEMA,
            )
            first = segments[0].first
        else:
            raise ValueError(f"merge into {into!r}")
        return write_segment(
            root,
            entries,
            kind=into,
            first=first,
            last=last,
            registry=head["registry"],
            descriptor_version=head["descriptor_version"],
            max_radius=Thresholds(**head["max_radius"]),
            descriptor_hnsw_min=descriptor_hnsw_min,
            descriptor_ivfpq_min=descriptor_ivfpq_min,
            descriptor_ivf_codes=descriptor_ivf_codes,
        )
    finally:
        shutil.rmtree(spill, ignore_errors=True)


def segment_files(meta: Mapping[str, Any]) -> Iterable[str]:
    """The segment's files, relative to its folder, segment.json last."""
    yield from meta["files"]
    yield "segment.json"
