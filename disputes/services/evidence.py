"""Evidence files and URLs of a dispute: checked, stored and fingerprinted, so
the review page can compare them with the disputed images.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from core.errors import ValidationFailed
from core.uploads import IncomingFile
from disputes.models import Dispute, DisputeEvidence
from workers.engine.fingerprint import fingerprint_bytes
from workers.engine.images import ImageRejected
from workers.engine.urls import UrlRejected, normalize_url

MAX_EVIDENCE_URLS = 20


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
    thumb_path: str = ""
    phash: str = ""
    pdq: str = ""
    pdq_quality: int | None = None


def _evidence_store(files: Sequence[IncomingFile]) -> list[_StoredEvidence]:
    """Check, store and fingerprint evidence files; outside any transaction."""
    import hashlib

    if len(files) > settings.DISPUTE_EVIDENCE_MAX_FILES:
        raise ValidationFailed(
            f"files: at most {settings.DISPUTE_EVIDENCE_MAX_FILES} evidence files",
            field="files",
        )
    checked: list[tuple[str, bytes]] = []
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
        checked.append((name, f.stream.read()))
    stored: list[_StoredEvidence] = []
    try:
        for name, data in checked:
            path = default_storage.save(
                DisputeEvidence._meta.get_field("file").generate_filename(None, name),
                ContentFile(data),
            )
            item = _StoredEvidence(
                name=name[:255],
                path=path,
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
            )
            stored.append(item)
            try:
                result = fingerprint_bytes(
                    data,
                    max_pixels=settings.UPLOAD_MAX_IMAGE_PIXELS,
                    thumbnail_size=settings.THUMBNAIL_SIZE,
                )
            except ImageRejected:
                continue  # a document, not an image: kept, not hashed
            prints = result.fingerprints
            item.phash, item.pdq = prints.phash.hex(), prints.pdq.hex()
            item.pdq_quality = prints.pdq_quality
            if result.thumbnail:
                item.thumb_path = default_storage.save(
                    DisputeEvidence._meta.get_field("thumbnail").generate_filename(
                        None, "t.jpg"
                    ),
                    ContentFile(result.thumbnail),
                )
    except BaseException:
        _evidence_delete(stored)
        raise
    return stored


def _evidence_delete(stored: Iterable[_StoredEvidence]) -> None:
    for item in stored:
        for path in (item.path, item.thumb_path):
            if path:
                default_storage.delete(path)


def _evidence_save(
    dispute: Dispute, stored: Iterable[_StoredEvidence], party: str
) -> None:
    DisputeEvidence.objects.bulk_create(
        DisputeEvidence(
            dispute=dispute,
            party=party,
            file=item.path,
            original_name=item.name,
            byte_size=item.size,
            thumbnail=item.thumb_path,
            is_image=bool(item.phash),
            sha256=item.sha256,
            phash=item.phash,
            pdq=item.pdq,
            pdq_quality=item.pdq_quality,
        )
        for item in stored
    )
