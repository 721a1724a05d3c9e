"""Evidence files and URLs of a dispute: checked and stored in the request,
fingerprinted by the images worker afterwards, so the review page can compare
them with the disputed images.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.utils import timezone

from core.errors import ValidationFailed
from core.storage import storage_save
from core.sweeps import sweep_stale
from core.tasks import enqueue
from core.uploads import IncomingFile
from disputes.models import Dispute, DisputeEvidence
from workers.engine.fingerprint import fingerprint_bytes
from workers.engine.images import ImageRejected
from workers.engine.urls import UrlRejected, normalize_url

MAX_EVIDENCE_URLS = 20
_CHUNK = 1 << 20

log = logging.getLogger(__name__)


def _clean_urls(urls: Iterable[str]) -> list[str]:
    cleaned: list[str] = []
    for i, url in enumerate(urls or []):
        url = (url or "").strip()
        if not url:
            continue
        try:
            href = normalize_url(url).href
        except UrlRejected as exc:
            raise ValidationFailed(
                f"evidence_urls[{i}]: {exc}", field="evidence_urls"
            ) from None
        if href not in cleaned:
            cleaned.append(href)
    if len(cleaned) > MAX_EVIDENCE_URLS:
        raise ValidationFailed(
            f"evidence_urls: at most {MAX_EVIDENCE_URLS} URLs", field="evidence_urls"
        )
    return cleaned


@dataclass
class _StoredEvidence:
    name: str
    path: str
    size: int
    sha256: str


def _evidence_store(files: Sequence[IncomingFile]) -> list[_StoredEvidence]:
    """Check and store evidence files, streamed; outside any transaction.

    Nothing is decoded here: an image is fingerprinted by the images worker
    once the evidence is saved (`evidence_fingerprint`), so a large image
    never costs the web process its pixels.
    """
    if len(files) > settings.DISPUTE_EVIDENCE_MAX_FILES:
        raise ValidationFailed(
            f"files: at most {settings.DISPUTE_EVIDENCE_MAX_FILES} evidence files",
            field="files",
        )
    for f in files:
        name = f.name or "(unnamed file)"
        if f.size == 0:
            raise ValidationFailed(f"files: {name}: the file is empty", field="files")
        if f.size > settings.UPLOAD_MAX_FILE_BYTES:
            raise ValidationFailed(
                f"files: {name}: the file is over the "
                f"{settings.UPLOAD_MAX_FILE_BYTES:,} byte limit",
                field="files",
            )
    stored: list[_StoredEvidence] = []
    try:
        for f in files:
            name = f.name or "(unnamed file)"
            digest = hashlib.sha256()
            f.stream.seek(0)
            while chunk := f.stream.read(_CHUNK):
                digest.update(chunk)
            f.stream.seek(0)
            # storage_save: a write that fails part-way (a full disk) leaves
            # nothing; the files stored before it are removed below.
            path = storage_save(
                DisputeEvidence._meta.get_field("file").generate_filename(None, name),
                File(f.stream),
            )
            stored.append(
                _StoredEvidence(
                    name=name[:255], path=path, size=f.size, sha256=digest.hexdigest()
                )
            )
    except BaseException:
        _evidence_delete(stored)
        raise
    return stored


def _evidence_delete(stored: Iterable[_StoredEvidence]) -> None:
    for item in stored:
        default_storage.delete(item.path)


def _evidence_save(
    dispute: Dispute, stored: Iterable[_StoredEvidence], party: str
) -> None:
    """Save the evidence rows and queue their fingerprinting on commit."""
    created = DisputeEvidence.objects.bulk_create(
        DisputeEvidence(
            dispute=dispute,
            party=party,
            file=item.path,
            original_name=item.name,
            byte_size=item.size,
            sha256=item.sha256,
            status=DisputeEvidence.Status.PROCESSING,
        )
        for item in stored
    )
    DisputeEvidence.objects.filter(pk__in=[e.pk for e in created]).update(
        queued_at=timezone.now(), queue_attempts=1
    )
    for evidence in created:
        enqueue("disputes.evidence_fingerprint", evidence.pk)


def evidence_sweep() -> dict[str, int]:
    """Queue again evidence still being processed long after its message was
    sent; after QUEUE_MAX_ATTEMPTS keep it as a document (unhashed), which
    is what a file the worker cannot read becomes too."""
    return sweep_stale(
        DisputeEvidence.objects.filter(status=DisputeEvidence.Status.PROCESSING),
        task_name="disputes.evidence_fingerprint",
        stale_seconds=settings.QUEUE_STALE_SECONDS,
        max_attempts=settings.QUEUE_MAX_ATTEMPTS,
        fail=lambda evidence, reason: DisputeEvidence.objects.filter(
            pk=evidence.pk
        ).update(status=DisputeEvidence.Status.DONE),
    )


def evidence_fingerprint(*, evidence_id: int) -> DisputeEvidence | None:
    """Fingerprint one evidence file and make its thumbnail (the worker's job).

    Idempotent: evidence no longer being processed is left alone. A file that
    is not an image we accept is kept as a document, without hashes.
    """
    evidence = DisputeEvidence.objects.filter(pk=evidence_id).first()
    if evidence is None or evidence.status != DisputeEvidence.Status.PROCESSING:
        return evidence
    # Slow work (reading, decoding, hashing, the thumbnail) outside any
    # transaction; the result is written by a conditional update.
    result = None
    try:
        with evidence.file.open("rb") as fh:
            data = fh.read(settings.UPLOAD_MAX_FILE_BYTES + 1)
    except OSError as exc:
        log.warning("evidence %s: the stored file cannot be read: %s", evidence_id, exc)
        data = b""
    if data and len(data) <= settings.UPLOAD_MAX_FILE_BYTES:
        try:
            result = fingerprint_bytes(
                data,
                max_pixels=settings.UPLOAD_MAX_IMAGE_PIXELS,
                thumbnail_size=settings.THUMBNAIL_SIZE,
            )
        except ImageRejected:
            result = None  # a document, not an image: kept, not hashed
    fields: dict[str, object] = {"status": DisputeEvidence.Status.DONE}
    thumb_path = ""
    if result is not None:
        prints = result.fingerprints
        if result.thumbnail:
            thumb_path = default_storage.save(
                DisputeEvidence._meta.get_field("thumbnail").generate_filename(
                    None, "t.jpg"
                ),
                ContentFile(result.thumbnail),
            )
        fields.update(
            is_image=True,
            phash=prints.phash.hex(),
            pdq=prints.pdq.hex(),
            pdq_quality=prints.pdq_quality,
            thumbnail=thumb_path,
        )
    updated = DisputeEvidence.objects.filter(
        pk=evidence.pk, status=DisputeEvidence.Status.PROCESSING
    ).update(**fields)
    if not updated:  # deleted, or done by another delivery meanwhile
        if thumb_path:
            default_storage.delete(thumb_path)
        return DisputeEvidence.objects.filter(pk=evidence_id).first()
    evidence.refresh_from_db()
    return evidence
