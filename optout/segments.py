"""The registry's index segments: written from the outbox, kept in object
storage, cached and memory-mapped by every worker machine.

- `segments_publish` turns the ops recorded since the last segment
  (registry.models.IndexChange) into a delta segment, or builds a base from
  the database when there is none for this registry, format, descriptor
  model and radius (or a bump asked for a rebuild). A delta costs the size
  of the change; its ops say what was enforced at each revision it covers,
  so a job at revision N gets exactly N whenever the segment is written.
- `view_for_revision` gives the SegmentView of a revision: the chain of
  segments (workers/engine/segments.py), each downloaded once into
  SEGMENT_CACHE_DIR (checked against the SHA-256 of every file its
  segment.json names), memory-mapped and shared by the machine's processes.
- `segments_merge` folds deltas into a merged delta, or the chain into a new
  base, from the segments alone; `segments_sweep` deletes segments retired
  by a merge once SEGMENT_RETAIN_SECONDS have passed.

Segments are named uniquely and never change, so a cache never serves the
wrong registry's or revision's files: the catalog (IndexSegment) names the
segments of this registry, and each segment.json is checked against it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from registry.models import (
    Claim,
    Fingerprint,
    Image,
    IndexChange,
    IndexSegment,
    RegistryIdentity,
    RegistryRevision,
)
from registry.selectors import registry_identity
from registry.services.revision import (
    enforced_claims,
    enforced_images,
    record_touched,
)
from workers.engine import descindex
from workers.engine import segments as engine
from workers.engine.fingerprint import unpack_variants
from workers.engine.snapshot import FORMAT_VERSION, Thresholds

log = logging.getLogger(__name__)

_lock = threading.Lock()
_views: dict[tuple, engine.SegmentView] = {}
_loaded: dict[str, engine.Segment] = {}


class IndexUnavailable(RuntimeError):
    """The segments of a revision cannot be had (merged away, or missing from
    object storage)."""


def descriptor_version() -> str:
    """The model version image rows are described with ("" when turned off)."""
    if not settings.MATCH_DESCRIPTOR:
        return ""
    from workers.engine import descriptor

    return descriptor.version()


def max_radius() -> Thresholds:
    return Thresholds(
        phash=max(settings.MATCH_PHASH_MAX_RADIUS, settings.MATCH_PHASH_THRESHOLD),
        pdq=max(settings.MATCH_PDQ_MAX_RADIUS, settings.MATCH_PDQ_THRESHOLD),
    )


def index_identity() -> str:
    """What segments must have been built for to serve here, besides the
    registry: formats, descriptor model, Hamming radius."""
    radius = max_radius()
    model = descriptor_version()
    described = f"{model}.index{descindex.FORMAT_VERSION}" if model else "no-descriptor"
    return (
        f"segment{engine.SEGMENT_FORMAT}.snapshot{FORMAT_VERSION}"
        f":{described}:r{radius.phash}-{radius.pdq}"
    )


@cache
def _store_for(url: str) -> Any:
    from core.objectstore import store_from_url  # boto3 only where S3 is used

    return store_from_url(url)


def store() -> Any:
    """The object store segments are kept in (core.objectstore)."""
    return _store_for(settings.SEGMENT_STORE_URL)


def _key(registry: str, name: str, rel: str) -> str:
    return f"segments/{registry}/{name}/{rel}"


def _cache_dir() -> Path:
    root = Path(settings.SEGMENT_CACHE_DIR)
    root.mkdir(parents=True, exist_ok=True)
    return root


@contextmanager
def _file_lock(name: str) -> Iterator[None]:
    with open(_cache_dir() / name, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# -- Reading the database into entries ---------------------------------------


def _claim_entries(writer: engine.EntriesWriter, queryset: Any) -> None:
    rows = queryset.values_list("pk", "kind", "normalized", "aliases")
    for pk, kind, normalized, aliases in rows.iterator(chunk_size=20_000):
        writer.claim(pk, kind, normalized)
        if kind == Claim.Kind.STYLE:
            for alias in aliases or []:
                writer.claim(pk, kind, alias)


def _image_entries(
    writer: engine.EntriesWriter, image_ids: Iterator[list[int]], version: str
) -> None:
    """Each image's hashes, PDQ variants and (model `version`) descriptors."""
    for chunk in image_ids:
        prints: dict[int, dict[str, Any]] = {pk: {"pdq": {}} for pk in chunk}
        rows = Fingerprint.objects.filter(
            image_id__in=chunk, variant="original"
        ).values_list("image_id", "algorithm", "value", "value_int", "quality")
        for image_id, algorithm, value, value_int, quality in rows:
            entry = prints[image_id]
            if algorithm == Fingerprint.Algorithm.PDQ:
                if value is not None:
                    entry["pdq"]["original"] = bytes(value)
                if quality is not None:
                    entry["low_quality"] = quality < settings.PDQ_LOW_QUALITY
            elif algorithm == Fingerprint.Algorithm.PHASH and value_int is not None:
                entry["phash"] = (value_int & 0xFFFF_FFFF_FFFF_FFFF).to_bytes(8, "big")
            elif value is not None:
                entry[algorithm] = bytes(value)
        extra = Image.objects.filter(pk__in=chunk).values_list(
            "pk", "pdq_variants", "descriptors", "descriptor_version"
        )
        described: dict[int, bytes] = {}
        for pk, packed, descriptors, described_with in extra:
            try:
                variants = unpack_variants(packed)
            except ValueError:
                log.warning("image %s: its packed PDQ variants are damaged", pk)
                variants = {}
            for name, (raw, _) in variants.items():
                prints[pk]["pdq"].setdefault(name, raw)
            if version and descriptors is not None and described_with == version:
                described[pk] = bytes(descriptors)
        for pk in chunk:
            entry = prints[pk]
            writer.image(
                pk,
                sha256=entry.get("sha256"),
                md5=entry.get("md5"),
                phash=entry.get("phash"),
                pdq=entry["pdq"],
                low_quality=entry.get("low_quality", False),
                descriptors=described.get(pk),
            )


def _chunks(ids: Iterator[int] | list[int], size: int = 5_000) -> Iterator[list[int]]:
    chunk: list[int] = []
    for pk in ids:
        chunk.append(pk)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _base_entries(version: str, spill: Path | None = None) -> engine.Entries:
    """Everything enforced now; with `spill`, written there as it is read (a
    base of millions of images is then never held in memory)."""
    writer = engine.EntriesWriter(spill=spill)
    _claim_entries(writer, enforced_claims())
    ids = (
        enforced_images()
        .order_by("pk")
        .values_list("pk", flat=True)
        .iterator(chunk_size=20_000)
    )
    _image_entries(writer, _chunks(ids), version)
    return writer.entries()


def _delta_entries(
    ops: list[tuple[int, int, int, int]], version: str
) -> engine.Entries:
    """The ops, and the values of every claim and image one of them adds."""
    writer = engine.EntriesWriter()
    for space, ref, revision, op in ops:
        writer.op(space, ref, revision, op)
    added = {
        space: set() for space in (IndexChange.Space.CLAIM, IndexChange.Space.IMAGE)
    }
    for space, ref, _, op in ops:
        if op == engine.ADD:
            added[space].add(ref)
    claims = sorted(added[IndexChange.Space.CLAIM])
    for chunk in _chunks(claims):
        _claim_entries(writer, Claim.objects.filter(pk__in=chunk).order_by("pk"))
    images = sorted(added[IndexChange.Space.IMAGE])
    existing = (
        sorted(Image.objects.filter(pk__in=chunk).values_list("pk", flat=True))
        for chunk in _chunks(images)
    )
    _image_entries(writer, existing, version)
    return writer.entries()


# -- Publishing ---------------------------------------------------------------


def _catalog(registry: str, identity: str) -> list[dict[str, Any]]:
    return [
        row.meta
        for row in IndexSegment.objects.filter(registry=registry, identity=identity)
    ]


def _upload(directory: Path, meta: dict[str, Any]) -> None:
    target = store()
    for rel in engine.segment_files(meta):  # segment.json last: it marks complete
        target.put_file(_key(meta["registry"], meta["name"], rel), directory / rel)


def _register(directory: Path, identity: str) -> IndexSegment | None:
    """Upload a written segment and add it to the catalog (None if another
    process published the same range meanwhile)."""
    meta = engine.Segment(directory).meta
    with transaction.atomic():
        RegistryIdentity.objects.select_for_update().filter(pk=1).first()
        if IndexSegment.objects.filter(
            registry=meta["registry"],
            identity=identity,
            kind=meta["kind"],
            first=meta["first"],
            last=meta["last"],
        ).exists():
            return None
        _upload(directory, meta)
        return IndexSegment.objects.create(
            name=meta["name"],
            kind=meta["kind"],
            first=meta["first"],
            last=meta["last"],
            registry=meta["registry"],
            identity=identity,
            meta=meta,
            bytes=meta["bytes"],
        )


@contextmanager
def _consistent_read() -> Iterator[None]:
    """A transaction whose reads all see one state of the database."""
    if connection.in_atomic_block:
        with transaction.atomic():
            yield
        return
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield


def segments_publish() -> IndexSegment | None:
    """Write the segments that bring the index to the current revision.

    A delta of the ops since the last segment; before the first, an empty
    base at revision 0 when the outbox holds every op since (a registry made
    with it), else a base read from the database. A base is also read from
    the database when a bump asked for a rebuild, or when the ops an index
    needs were pruned. Returns the last segment written (None: up to date).
    """
    identity = index_identity()
    version = descriptor_version()
    written = None
    with _file_lock(".publish-lock"):
        with transaction.atomic():
            # Changes noted but never bumped (rows saved by hand, a script)
            # count from the current revision on.
            if IndexChange.objects.filter(revision=None).exists():
                row = RegistryRevision.objects.select_for_update().filter(pk=1).first()
                record_touched(row.value if row else 0)
        for _ in range(2):  # at most an empty base, then a delta
            segment = _publish_next(identity, version)
            if segment is None:
                break
            written = segment
    return written


def _ops_pruned_to() -> int:
    """Ops up to this revision are gone (0: the outbox holds them all)."""
    mark = (
        IndexChange.objects.filter(space=IndexChange.Space.PRUNED)
        .values_list("revision", flat=True)
        .first()
    )
    return mark or 0


def _publish_next(identity: str, version: str) -> IndexSegment | None:
    with tempfile.TemporaryDirectory(dir=_cache_dir(), prefix=".publish-") as tmp:
        return _publish_into(Path(tmp), identity, version)


def _publish_into(tmp: Path, identity: str, version: str) -> IndexSegment | None:
    with _consistent_read():
        registry = registry_identity()
        row = RegistryRevision.objects.filter(pk=1).first()
        revision = row.value if row else 0
        done = max((m["last"] for m in _catalog(registry, identity)), default=-1)
        if done >= revision:
            return None
        pruned = _ops_pruned_to()
        rebuild = IndexChange.objects.filter(
            space=IndexChange.Space.REBUILD,
            revision__gt=max(done, 0),
            revision__lte=revision,
        ).exists()
        if done < 0 and pruned == 0 and not rebuild:
            kind, first, last = engine.BASE, 0, 0
            entries = engine.EntriesWriter().entries()
        elif done < 0 or done < pruned or rebuild:
            kind, first, last = engine.BASE, 0, revision
            entries = _base_entries(version, spill=tmp / "entries")
        else:
            kind, first, last = engine.DELTA, done, revision
            ops = list(
                IndexChange.objects.filter(
                    revision__gt=done,
                    revision__lte=revision,
                    space__in=[IndexChange.Space.CLAIM, IndexChange.Space.IMAGE],
                )
                .order_by("revision", "pk")
                .values_list("space", "ref", "revision", "op")
            )
            entries = _delta_entries(ops, version)
    directory = engine.write_segment(
        tmp,
        entries,
        kind=kind,
        first=first,
        last=last,
        registry=registry,
        descriptor_version=version,
        max_radius=max_radius(),
        descriptor_hnsw_min=settings.MATCH_DESCRIPTOR_HNSW_MIN,
        descriptor_ivfpq_min=settings.MATCH_DESCRIPTOR_IVFPQ_MIN,
        descriptor_ivf_codes=settings.MATCH_DESCRIPTOR_IVF_CODES,
    )
    del entries  # the spilled files' maps, before the folder goes
    segment = _register(directory, identity)
    if segment is not None:
        log.info(
            "index segment %s: revisions %s to %s, %s claims, %s images, %s ops",
            segment.name,
            first,
            last,
            segment.meta["claims"],
            segment.meta["images"],
            segment.meta["ops"],
        )
    return segment


# -- Reading on worker machines -------------------------------------------------


def _local(meta: dict[str, Any]) -> Path:
    """The segment's folder in this machine's cache, downloaded if need be."""
    root = _cache_dir()
    directory = root / meta["name"]
    if _intact(directory, meta):
        directory.touch()
        return directory
    with _file_lock(f".{meta['name']}.lock"):
        if _intact(directory, meta):
            return directory
        shutil.rmtree(directory, ignore_errors=True)
        part = root / f".{meta['name']}.part-{os.getpid()}"
        shutil.rmtree(part, ignore_errors=True)
        source = store()
        try:
            for rel in engine.segment_files(meta):
                target = part / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                source.get_file(_key(meta["registry"], meta["name"], rel), target)
        except KeyError as exc:
            shutil.rmtree(part, ignore_errors=True)
            raise IndexUnavailable(
                f"segment {meta['name']} is missing from {source.url}: {exc}"
            ) from None
        wrong = engine.check_files(part, meta)
        if wrong:
            shutil.rmtree(part, ignore_errors=True)
            raise IndexUnavailable(f"segment {meta['name']} from {source.url}: {wrong}")
        part.rename(directory)
    _evict(keep={meta["name"]})
    return directory


def _intact(directory: Path, meta: dict[str, Any]) -> bool:
    """The folder holds this segment (its segment.json is the catalog's)."""
    try:
        return engine.Segment(directory).meta == meta
    except (OSError, ValueError, KeyError):
        return False


def _evict(keep: set[str]) -> None:
    """Remove least recently used segments while the cache is over its size.

    Processes that still map a removed segment keep reading it (the files
    live on until unmapped); the next one to need it downloads it again.
    """
    root = _cache_dir()
    folders = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    sizes = {
        p: sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) for p in folders
    }
    total = sum(sizes.values())
    in_use = keep | set(_loaded)
    for folder in sorted(folders, key=lambda p: p.stat().st_mtime):
        if total <= settings.SEGMENT_CACHE_MAX_BYTES:
            break
        if folder.name in in_use:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        total -= sizes[folder]


def _segment(meta: dict[str, Any]) -> engine.Segment:
    loaded = _loaded.get(meta["name"])
    if loaded is None:
        loaded = _loaded[meta["name"]] = engine.Segment(_local(meta))
    return loaded


def chain_for_revision(revision: int) -> list[dict[str, Any]]:
    """The segments (their segment.json) whose view is `revision`, publishing
    the segments up to it first if no process has yet."""
    registry = registry_identity()
    identity = index_identity()
    for _ in range(3):
        try:
            return engine.choose_chain(_catalog(registry, identity), revision)
        except engine.SegmentsMissing:
            segments_publish()
    try:
        return engine.choose_chain(_catalog(registry, identity), revision)
    except engine.SegmentsMissing as exc:
        raise IndexUnavailable(f"revision {revision}: {exc}") from None


def segment_file(name: str, rel: str) -> Path | None:
    """A file of this registry's segment `name`, from this machine's cache
    (downloaded and checked if need be); None when there is no such file."""
    row = IndexSegment.objects.filter(
        name=name, registry=registry_identity(), identity=index_identity()
    ).first()
    if row is None or rel not in (*row.meta["files"], "segment.json"):
        return None
    return _local(row.meta) / rel


def view_for_revision(revision: int) -> engine.SegmentView:
    """What the registry enforced at `revision`, ready to match against.

    Publishes the segments up to it first if no process has yet.
    """
    registry = registry_identity()
    with _lock:
        chain = chain_for_revision(revision)
        # Keyed by the segments themselves: a database restored from a backup
        # reaches a revision number again with other contents.
        key = (revision, *(meta["name"] for meta in chain))
        view = _views.get(key)
        if view is not None:
            return view
        view = engine.SegmentView([_segment(meta) for meta in chain], revision)
        if view.registry != registry:
            raise IndexUnavailable(
                f"segments of registry {view.registry} listed for {registry}"
            )
        _views.clear()  # one revision at a time per process
        _views[key] = view
        names = {segment.name for segment in view.segments}
        for name in [n for n in _loaded if n not in names]:
            del _loaded[name]
        return view


def forget_loaded() -> None:
    """Drop this process's views and loaded segments (tests, settings changes)."""
    with _lock:
        _views.clear()
        _loaded.clear()


# -- Merging ------------------------------------------------------------------


def segments_merge() -> IndexSegment | None:
    """Merge when the current chain has SEGMENT_MERGE_AT deltas or more.

    The deltas become one merged delta; when the deltas hold a tenth of the
    base's entries or more, the whole chain becomes a new base instead. The
    inputs are retired, not deleted (jobs at older revisions still read
    them; `segments_sweep` deletes them later).
    """
    registry = registry_identity()
    identity = index_identity()
    metas = _catalog(registry, identity)
    if not metas:
        return None
    head = max(m["last"] for m in metas)
    chain = engine.choose_chain(metas, head)
    deltas = chain[1:]
    if len(deltas) < settings.SEGMENT_MERGE_AT:
        return None
    base_rows = chain[0]["claims"] + chain[0]["images"]
    delta_rows = sum(m["claims"] + m["images"] + m["ops"] for m in deltas)
    into = engine.BASE if delta_rows * 10 >= base_rows else engine.MERGED
    inputs = chain if into == engine.BASE else deltas
    started = time.monotonic()
    with tempfile.TemporaryDirectory(dir=_cache_dir(), prefix=".merge-") as tmp:
        directory = engine.merge(
            Path(tmp),
            [engine.Segment(_local(meta)) for meta in inputs],
            into=into,
            descriptor_hnsw_min=settings.MATCH_DESCRIPTOR_HNSW_MIN,
            descriptor_ivfpq_min=settings.MATCH_DESCRIPTOR_IVFPQ_MIN,
            descriptor_ivf_codes=settings.MATCH_DESCRIPTOR_IVF_CODES,
        )
        segment = _register(directory, identity)
    if segment is not None:
        IndexSegment.objects.filter(name__in=[m["name"] for m in inputs]).update(
            retired_at=timezone.now()
        )
        log.info(
            "merged %d segments into %s in %.1f s",
            len(inputs),
            segment.name,
            time.monotonic() - started,
        )
    return segment


def segments_sweep(*, now: Any = None) -> int:
    """Delete segments retired more than SEGMENT_RETAIN_SECONDS ago, and the
    ops a base has absorbed; returns how many segments went."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.SEGMENT_RETAIN_SECONDS)
    old = list(IndexSegment.objects.filter(retired_at__lt=cutoff))
    target = store()
    for row in old:
        target.delete(
            _key(row.registry, row.name, rel) for rel in engine.segment_files(row.meta)
        )
        row.delete()
    # Ops the current index has published are in its segments; an index of
    # another identity (descriptor model, radius) that has fallen behind
    # them is rebuilt from a base (segments_publish reads the mark).
    published = max(
        (m["last"] for m in _catalog(registry_identity(), index_identity())),
        default=None,
    )
    if published is not None:
        IndexChange.objects.filter(
            space__in=[IndexChange.Space.CLAIM, IndexChange.Space.IMAGE],
            revision__lte=published,
        ).delete()
        IndexChange.objects.update_or_create(
            space=IndexChange.Space.PRUNED, defaults={"revision": published, "ref": 0}
        )
    return len(old)


def segments_maintain() -> dict[str, Any]:
    """Publish, merge, sweep: the periodic task's work."""
    published = segments_publish()
    merged = segments_merge()
    swept = segments_sweep()
    return {
        "published": published.name if published else None,
        "merged": merged.name if merged else None,
        "swept": swept,
    }
