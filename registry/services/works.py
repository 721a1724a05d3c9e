"""Works: create, update, withdraw; portfolio uploads (files and ZIPs) and
images registered by their hashes alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from core.errors import Conflict, NotFound, ValidationFailed
from core.uploads import CheckedImage, IncomingFile, RejectedFile, check_files
from registry.models import Image, RightsHolder, Work
from registry.services.images import _fingerprint_save, _queue_fingerprint
from registry.services.revision import registry_revision_bump
from workers.engine.hashes import HashRejected, parse_hex
from workers.engine.urls import UrlRejected, normalize_url


def _clean_source_urls(source_urls: Iterable[str]) -> list[str]:
    cleaned = []
    for i, url in enumerate(source_urls or []):
        try:
            cleaned.append(normalize_url(url).href)
        except UrlRejected as exc:
            raise ValidationFailed(
                f"source_urls[{i}]: {exc}", field="source_urls"
            ) from None
    return cleaned


def work_create(
    *,
    owner: RightsHolder,
    title: str,
    description: str = "",
    source_urls: Iterable[str] = (),
) -> Work:
    title = (title or "").strip()
    if not title:
        raise ValidationFailed("title may not be blank", field="title")
    return Work.objects.create(
        owner=owner,
        title=title[:300],
        description=description or "",
        source_urls=_clean_source_urls(source_urls),
    )


def work_update(
    *,
    owner: RightsHolder,
    work_id: int,
    title: str | None = None,
    description: str | None = None,
    source_urls: Iterable[str] | None = None,
) -> Work:
    work = _owned_work(owner=owner, work_id=work_id)
    if title is not None:
        if not title.strip():
            raise ValidationFailed("title may not be blank", field="title")
        work.title = title.strip()[:300]
    if description is not None:
        work.description = description
    if source_urls is not None:
        work.source_urls = _clean_source_urls(source_urls)
    work.save()
    return work


def _owned_work(*, owner: RightsHolder, work_id: int) -> Work:
    work = Work.objects.filter(pk=work_id, owner=owner).first()
    if work is None:
        raise NotFound("work not found")
    return work


def work_withdraw(*, owner: RightsHolder, work_id: int) -> Work:
    """Stop enforcing a work and all its images."""
    with transaction.atomic():
        work = _owned_work(owner=owner, work_id=work_id)
        if work.status == Work.Status.WITHDRAWN:
            raise Conflict("the work is already withdrawn")
        work.status = Work.Status.WITHDRAWN
        work.withdrawn_at = timezone.now()
        work.save(update_fields=["status", "withdrawn_at"])
        if work.images.filter(status=Image.Status.HASHED).exists():
            registry_revision_bump(reason=f"work {work.pk} withdrawn")
        audit_record(
            actor=owner.user,
            action="work.withdraw",
            target=work,
            holder=owner,
            before={"status": Work.Status.ACTIVE},
            after={"status": Work.Status.WITHDRAWN},
        )
    return work


@dataclass
class UploadResult:
    works: list[Work] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)
    rejected: list[RejectedFile] = field(default_factory=list)


def _title_from_name(name: str) -> str:
    base = name.rsplit(": ", 1)[-1].rsplit("/", 1)[-1]
    stem = base.rsplit(".", 1)[0] if "." in base else base
    return stem.replace("_", " ").replace("-", " ").strip() or base or "Untitled"


def portfolio_upload(
    *,
    owner: RightsHolder,
    files: Iterable[IncomingFile],
    work_id: int | None = None,
) -> UploadResult:
    """Register uploaded images (and the images inside ZIPs).

    Each image becomes its own work titled after its file name, unless `work_id`
    names one of the owner's works to add them all to. Bad files are skipped and
    reported; if none is good, ValidationFailed lists every rejected file.
    """
    target = _owned_work(owner=owner, work_id=work_id) if work_id else None
    if target is not None and target.status != Work.Status.ACTIVE:
        raise Conflict("images cannot be added to a withdrawn work")

    result = UploadResult()
    stored: list[tuple[CheckedImage, str]] = []
    try:
        _store_checked(files, result, stored)
    except BaseException:
        # A full or unwritable disk part-way: keep nothing half-written.
        for _, path in stored:
            default_storage.delete(path)
        raise

    if not stored:
        if not result.rejected:
            raise ValidationFailed("no files were uploaded", field="files")
        raise ValidationFailed(
            _rejected_summary(result.rejected),
            field="files",
            extra={"rejected": [r.as_dict() for r in result.rejected]},
        )

    try:
        with transaction.atomic():
            for item, path in stored:
                work = target or Work.objects.create(
                    owner=owner, title=_title_from_name(item.name)
                )
                image = Image.objects.create(
                    work=work,
                    source=Image.Source.UPLOAD,
                    original=path,
                    original_name=item.name[:255],
                    byte_size=len(item.data),
                    format=item.format,
                    width=item.width,
                    height=item.height,
                )
                result.works.append(work)
                result.images.append(image)
                _queue_fingerprint(image.pk)
    except BaseException:
        for _, path in stored:
            default_storage.delete(path)
        raise
    if target is not None:
        result.works = [target]
    return result


def _store_checked(
    files: Sequence[IncomingFile],
    result: UploadResult,
    stored: list[tuple[CheckedImage, str]],
) -> None:
    for item in check_files(files):
        if isinstance(item, RejectedFile):
            result.rejected.append(item)
        elif len(stored) >= settings.UPLOAD_MAX_FILES:
            result.rejected.append(
                RejectedFile(
                    item.name,
                    f"over the limit of {settings.UPLOAD_MAX_FILES} images per upload",
                )
            )
        else:
            # Storage I/O stays outside the transaction. The name is chosen
            # first, so a write that fails part-way (a full disk) can be
            # removed too: storage leaves what it wrote.
            name = default_storage.get_available_name(
                Image._meta.get_field("original").generate_filename(None, item.name)
            )
            try:
                path = default_storage.save(name, ContentFile(item.data))
            except BaseException:
                if default_storage.exists(name):
                    default_storage.delete(name)
                raise
            stored.append((item, path))


def _rejected_summary(rejected: list[RejectedFile]) -> str:
    if len(rejected) == 1:
        return f"{rejected[0].file}: {rejected[0].message}"
    return (
        f"none of the {len(rejected)} files was accepted: "
        + "; ".join(f"{r.file}: {r.message}" for r in rejected[:5])
        + ("; …" if len(rejected) > 5 else "")
    )


HASH_FIELDS = ("sha256", "md5", "phash", "pdq")


def image_register_hashes(
    *,
    owner: RightsHolder,
    hashes: dict[str, str | None],
    title: str = "",
    work_id: int | None = None,
    pdq_quality: int | None = None,
    descriptor: str = "",
    descriptor_version: str = "",
) -> Image:
    """Register an image by its hashes alone (the StopNCII model).

    `descriptor` (base64, as `manage.py fingerprint` prints it) and its
    `descriptor_version` come together or not at all; the version must be this
    registry's current model, since a hash-only image can never be described
    again here. Raises ValidationFailed naming the field, NotFound for a work
    that is not the owner's, Conflict for a withdrawn one.
    """
    parsed: dict[str, bytes] = {}
    for name in HASH_FIELDS:
        value = hashes.get(name)
        if value in (None, ""):
            continue
        try:
            parsed[name] = parse_hex(name, str(value))
        except HashRejected as exc:
            raise ValidationFailed(str(exc), field=name) from None
    if not parsed:
        raise ValidationFailed(
            "give at least one hash: sha256, md5, phash or pdq", field="hashes"
        )
    if pdq_quality is not None and not 0 <= pdq_quality <= 100:
        raise ValidationFailed("pdq_quality must be 0-100", field="pdq_quality")
    packed = _submitted_descriptor(descriptor or "", descriptor_version or "")
    target = _owned_work(owner=owner, work_id=work_id) if work_id else None
    if target is not None and target.status != Work.Status.ACTIVE:
        raise Conflict("images cannot be added to a withdrawn work")
    if target is None and not (title or "").strip():
        raise ValidationFailed("title may not be blank", field="title")

    with transaction.atomic():
        work = target or Work.objects.create(owner=owner, title=title.strip()[:300])
        image = Image.objects.create(
            work=work,
            source=Image.Source.HASHES,
            status=Image.Status.HASHED,
            fingerprinted_at=timezone.now(),
            descriptors=packed or None,
            descriptor_version=descriptor_version.strip() if packed else "",
        )
        for name, raw in parsed.items():
            _fingerprint_save(
                image=image,
                algorithm=name,
                raw=raw,
                version="submitted",
                quality=pdq_quality if name == "pdq" else None,
            )
        registry_revision_bump(reason=f"image {image.pk} registered by hashes")
        audit_record(
            actor=owner.user,
            action="image.register_hashes",
            target=image,
            target_label=f"{work.title}: image {image.pk}",
            holder=owner,
            after={
                **{name: raw.hex() for name, raw in parsed.items()},
                # Not the vectors: which model made them, and which they were.
                **(
                    {
                        "descriptor_version": image.descriptor_version,
                        "descriptor_sha256": hashlib.sha256(packed).hexdigest()[:16],
                    }
                    if packed
                    else {}
                ),
            },
        )
    return image


def _submitted_descriptor(text: str, version: str) -> bytes:
    """The packed descriptor of a hash-only registration (b"" when none was
    given); ValidationFailed naming the field when it cannot be used."""
    text, version = text.strip(), version.strip()
    if not text and not version:
        return b""
    if not version:
        raise ValidationFailed(
            "descriptor_version is required with a descriptor (manage.py "
            "fingerprint prints both)",
            field="descriptor_version",
        )
    if not text:
        raise ValidationFailed(
            "descriptor is required with a descriptor_version (manage.py "
            "fingerprint prints both)",
            field="descriptor",
        )
    from workers.engine import descriptor  # onnxruntime: loaded on first use

    current = descriptor.version()
    if version != current:
        raise ValidationFailed(
            f"descriptor_version {version!r} is not this registry's model "
            f"{current!r}: rerun manage.py fingerprint with the registry's "
            "current release and submit its output",
            field="descriptor_version",
        )
    try:
        return descriptor.from_text(text, dim=descriptor.model().info.dim)
    except ValueError as exc:
        raise ValidationFailed(str(exc), field="descriptor") from None
