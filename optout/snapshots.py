"""Registry snapshots on disk: built from the database once per revision.

Each revision's snapshot lives in SNAPSHOT_ROOT/rev-<n>/. The first process to
need it builds it under a file lock; the others wait and then memory-map the
same files. Every process keeps the latest snapshot it loaded, so a worker
loads a revision once, not once per chunk.

A folder is used only if its snapshot.json names this registry's identity,
the revision asked for, this code's format and the descriptor model in use;
otherwise it is rebuilt. Revision numbers alone are the same in every
registry (all count from 0): a folder left by another database, or restored
from a backup of one, would otherwise be matched against under the wrong
registry's name.
"""

from __future__ import annotations

import fcntl
import json
import logging
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.db.models import Q

from registry.models import Claim, Fingerprint, Image, Work
from registry.selectors import registry_identity
from workers.engine.snapshot import FORMAT_VERSION, RegistrySnapshot, Thresholds

log = logging.getLogger(__name__)

_cache: dict[str, RegistrySnapshot] = {}
_lock = threading.Lock()


def snapshot_root() -> Path:
    root = Path(settings.SNAPSHOT_ROOT)
    root.mkdir(parents=True, exist_ok=True)
    return root


def _claims(kind: str) -> Iterator[tuple[int, str]]:
    qs = Claim.objects.filter(kind=kind, state=Claim.State.ACTIVE).values_list(
        "pk", "normalized"
    )
    yield from qs.iterator(chunk_size=20_000)


def _style_names() -> Iterator[tuple[int, str]]:
    qs = Claim.objects.filter(kind=Claim.Kind.STYLE, state=Claim.State.ACTIVE)
    for pk, name, aliases in qs.values_list("pk", "normalized", "aliases").iterator(
        chunk_size=20_000
    ):
        yield pk, name
        for alias in aliases or []:
            yield pk, alias


def _enforced(algorithm: str):
    return Fingerprint.objects.filter(
        algorithm=algorithm,
        image__status=Image.Status.HASHED,
        image__work__status=Work.Status.ACTIVE,
        image__exclusions__isnull=True,  # left out by a dispute's outcome
    )


def _pdq_fingerprints() -> Iterator[tuple[int, str, bytes]]:
    """Every PDQ of every enforced image: the original and its variants."""
    qs = _enforced(Fingerprint.Algorithm.PDQ).filter(~Q(value=None))
    for image_id, variant, value in qs.values_list(
        "image_id", "variant", "value"
    ).iterator(chunk_size=50_000):
        yield image_id, variant, bytes(value)


def _fingerprints(algorithm: str) -> Iterator[tuple[int, bytes]]:
    qs = _enforced(algorithm).filter(variant="original")
    if algorithm == Fingerprint.Algorithm.PHASH:
        for image_id, value in qs.values_list("image_id", "value_int").iterator(
            chunk_size=50_000
        ):
            yield image_id, (value & 0xFFFF_FFFF_FFFF_FFFF).to_bytes(8, "big")
    else:
        for image_id, value in (
            qs.filter(~Q(value=None))
            .values_list("image_id", "value")
            .iterator(chunk_size=50_000)
        ):
            yield image_id, bytes(value)


def _low_quality() -> Iterator[int]:
    """Images whose PDQ quality is below PDQ_LOW_QUALITY (Meta's advice)."""
    qs = _enforced(Fingerprint.Algorithm.PDQ).filter(
        variant="original", quality__lt=settings.PDQ_LOW_QUALITY
    )
    yield from qs.values_list("image_id", flat=True).iterator(chunk_size=50_000)


def descriptor_version() -> str:
    """The model version image rows are described with ("" when turned off)."""
    if not settings.MATCH_DESCRIPTOR:
        return ""
    from workers.engine import descriptor

    return descriptor.version()


def _descriptors(version: str) -> Iterator[tuple[int, bytes]]:
    """Every enforced image's region descriptors made by model `version`.

    Images described by another version (before `manage.py refingerprint`
    has caught up with a new model) are left out: their hashes still match.
    """
    qs = Image.objects.filter(
        status=Image.Status.HASHED,
        work__status=Work.Status.ACTIVE,
        exclusions__isnull=True,
        descriptor_version=version,
    ).exclude(descriptors=None)
    for image_id, raw in qs.values_list("pk", "descriptors").iterator(chunk_size=5_000):
        yield image_id, bytes(raw)


def max_radius() -> Thresholds:
    return Thresholds(
        phash=max(settings.MATCH_PHASH_MAX_RADIUS, settings.MATCH_PHASH_THRESHOLD),
        pdq=max(settings.MATCH_PDQ_MAX_RADIUS, settings.MATCH_PDQ_THRESHOLD),
    )


def build_snapshot(*, revision: int) -> RegistrySnapshot:
    """Index what the database enforces now, labelled with `revision`."""
    version = descriptor_version()
    return RegistrySnapshot.build(
        revision=revision,
        url_claims=_claims(Claim.Kind.URL),
        prefix_claims=_claims(Claim.Kind.PREFIX),
        domain_claims=_claims(Claim.Kind.DOMAIN),
        style_names=_style_names(),
        sha256=_fingerprints(Fingerprint.Algorithm.SHA256),
        md5=_fingerprints(Fingerprint.Algorithm.MD5),
        phash=_fingerprints(Fingerprint.Algorithm.PHASH),
        pdq=_pdq_fingerprints(),
        low_quality=_low_quality(),
        max_radius=max_radius(),
        descriptors=_descriptors(version) if version else (),
        descriptor_version=version,
        descriptor_hnsw_min=settings.MATCH_DESCRIPTOR_HNSW_MIN,
        registry=registry_identity(),
    )


def snapshot_for_revision(revision: int) -> RegistrySnapshot:
    """The snapshot of `revision`: from this process's cache, from disk, or built.

    Built from the database as it is now, so call it for the current revision
    (a job records the revision before it asks).
    """
    root = snapshot_root()
    want = _wanted(revision)
    key = f"{root}:{want['registry']}:{revision}"
    with _lock:
        cached = _cache.get(key)
        if cached is not None:
            return cached
        directory = root / f"rev-{revision}"
        with open(root / ".lock", "w") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                stale = _mismatch(directory, want)
                if stale:
                    if stale != "missing":
                        log.warning("snapshot %s is rebuilt: %s", directory, stale)
                    shutil.rmtree(directory, ignore_errors=True)
                    build_snapshot(revision=revision).save(directory)
                    _prune(root, keep=revision)
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)
        snapshot = RegistrySnapshot.load(directory)
        if (snapshot.registry, snapshot.revision) != (want["registry"], revision):
            # Only another process writing the folder without the lock gets here.
            raise RuntimeError(
                f"{directory} holds registry {snapshot.registry} revision "
                f"{snapshot.revision}, not {want['registry']} revision {revision}"
            )
        _cache.clear()  # one revision at a time per process
        _cache[key] = snapshot
        return snapshot


def _wanted(revision: int) -> dict:
    """What snapshot.json must say for a folder to serve `revision` here."""
    return {
        "registry": registry_identity(),
        "revision": revision,
        "format": FORMAT_VERSION,
        "descriptor_version": descriptor_version(),
    }


def _mismatch(directory: Path, want: dict) -> str:
    """Why the folder cannot serve (empty when it can): "missing", or the first
    field of snapshot.json that differs, with both values."""
    try:
        meta = json.loads((directory / "snapshot.json").read_text())
    except (OSError, ValueError):
        return "missing"
    for field, value in want.items():
        found = meta.get(field, "" if field == "descriptor_version" else None)
        if found != value:
            return f"{field} is {found!r}, not {value!r}"
    return ""


def _prune(root: Path, *, keep: int, spare: int = 3) -> None:
    """Delete old snapshots, keeping the newest few (jobs may still read them)."""
    revisions = sorted(
        int(p.name[4:]) for p in root.glob("rev-*") if p.name[4:].isdigit()
    )
    for old in revisions[:-spare]:
        if old != keep:
            shutil.rmtree(root / f"rev-{old}", ignore_errors=True)
