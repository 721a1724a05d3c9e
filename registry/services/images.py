"""Fingerprinting images (exact hashes, pHash, PDQ and its variants, local
features, a thumbnail) and re-fingerprinting when the algorithms change.
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from audit.services import audit_record
from core.sweeps import sweep_stale
from core.tasks import enqueue, send
from registry.models import Fingerprint, Image, IndexChange, Work
from registry.services.revision import index_touch, registry_revision_bump
from workers.engine import fingerprint as fp
from workers.engine import perceptual
from workers.engine.hashes import phash_to_int
from workers.engine.images import ImageRejected


def _queue_fingerprint(image_id: int) -> None:
    Image.objects.filter(pk=image_id).update(queued_at=timezone.now(), queue_attempts=1)
    enqueue("registry.image_fingerprint", image_id)


def images_sweep() -> dict[str, int]:
    """Queue again the fingerprints of images still pending long after their
    message was sent (lost with a broker restart, a killed worker, a broker
    down at upload); fail them, with the reason, after QUEUE_MAX_ATTEMPTS."""
    return sweep_stale(
        Image.objects.filter(status=Image.Status.PENDING, source=Image.Source.UPLOAD),
        task_name="registry.image_fingerprint",
        stale_seconds=settings.QUEUE_STALE_SECONDS,
        max_attempts=settings.QUEUE_MAX_ATTEMPTS,
        fail=lambda image, reason: _image_fail(image, f"fingerprinting was {reason}"),
    )


def _fingerprint_save(
    *,
    image: Image,
    algorithm: str,
    raw: bytes,
    version: str,
    quality: int | None,
    variant: str = "original",
) -> None:
    defaults: dict[str, object] = {"version": version, "quality": quality}
    if algorithm == Fingerprint.Algorithm.PHASH:
        defaults.update(value_int=phash_to_int(raw), value=None)
    else:
        defaults.update(value=raw, value_int=None)
    Fingerprint.objects.update_or_create(
        image=image, algorithm=algorithm, variant=variant, defaults=defaults
    )


def _variant_scheme() -> tuple[str, tuple[str, ...]]:
    scheme = settings.MATCH_VARIANT_SCHEME
    return scheme, perceptual.SCHEMES[scheme]


def image_fingerprint(*, image_id: int, force: bool = False) -> Image | None:
    """Compute an uploaded image's fingerprints and thumbnail (the worker's job).

    Idempotent: an image already hashed with the current algorithm versions is
    left alone unless `force`. A file that cannot be decoded marks the image
    failed with the reason.
    """
    image = Image.objects.filter(pk=image_id).select_related("work").first()
    if image is None or image.source != Image.Source.UPLOAD or not image.original:
        return image
    if (
        not force
        and image.status == Image.Status.HASHED
        and not image_needs_refingerprint(image=image)
    ):
        return image

    # Slow work (reading, decoding, hashing, writing the thumbnail) outside any
    # transaction.
    try:
        with image.original.open("rb") as fh:
            data = fh.read()
    except OSError as exc:
        return _image_fail(image, f"the stored original cannot be read ({exc})")
    try:
        result = fp.fingerprint_bytes(
            data,
            max_pixels=settings.UPLOAD_MAX_IMAGE_PIXELS,
            thumbnail_size=settings.THUMBNAIL_SIZE,
            variants=_variant_scheme()[1],
            features=True,
            descriptors=settings.MATCH_DESCRIPTOR,
        )
    except ImageRejected as exc:
        return _image_fail(image, str(exc))
    old_files = [f.name for f in (image.thumbnail, image.features) if f]
    thumb_path = default_storage.save(
        Image._meta.get_field("thumbnail").generate_filename(None, "t.jpg"),
        ContentFile(result.thumbnail),
    )
    features_path = default_storage.save(
        Image._meta.get_field("features").generate_filename(None, "f.npz"),
        ContentFile(result.features or b""),
    )
    prints = result.fingerprints
    with transaction.atomic():
        locked = Image.objects.select_for_update().filter(pk=image.pk).first()
        if locked is None:  # deleted meanwhile
            default_storage.delete(thumb_path)
            default_storage.delete(features_path)
            return None
        was_hashed = locked.status == Image.Status.HASHED
        old_hex = {
            f.algorithm: f.hex for f in locked.fingerprints.filter(variant="original")
        }
        for algorithm, raw, quality in (
            ("sha256", prints.sha256, None),
            ("md5", prints.md5, None),
            ("phash", prints.phash, None),
            ("pdq", prints.pdq, prints.pdq_quality),
        ):
            _fingerprint_save(
                image=locked,
                algorithm=algorithm,
                raw=raw,
                version=fp.ALGORITHM_VERSIONS[algorithm],
                quality=quality,
            )
        # Registry-side variants: the scheme's, replacing any older scheme's,
        # packed into one value (a Fingerprint row each was 25 rows an image
        # with the default scheme: docs/PERFORMANCE.md, database size).
        locked.pdq_variants = fp.pack_variants(prints.pdq_variants) or None
        locked.variants_version = fp.variants_version(_variant_scheme()[0])
        Fingerprint.objects.filter(image=locked).exclude(variant="original").delete()
        locked.status = Image.Status.HASHED
        locked.failure_reason = ""
        locked.width, locked.height = prints.width, prints.height
        locked.format = prints.format
        locked.byte_size = len(data)
        locked.thumbnail = thumb_path
        locked.features = features_path
        locked.descriptors = prints.descriptors or None
        locked.descriptor_version = prints.descriptor_version
        locked.fingerprinted_at = timezone.now()
        locked.save()
        if locked.work.status == Work.Status.ACTIVE:
            registry_revision_bump(reason=f"image {locked.pk} fingerprinted")
        new_hex = {
            f.algorithm: f.hex for f in locked.fingerprints.filter(variant="original")
        }
        changed = sorted(a for a in new_hex if old_hex.get(a) != new_hex[a])
        if not was_hashed or changed:
            # The worker acts for nobody: no actor. Unchanged hashes (a forced
            # re-run) change nothing enforced and leave no event.
            audit_record(
                actor=None,
                action="image.refingerprint" if was_hashed else "image.fingerprint",
                target=locked,
                target_label=f"{locked.work.title}: {locked}",
                holder=locked.work.owner,
                before={a: old_hex[a] for a in changed if a in old_hex},
                after={a: new_hex[a] for a in changed},
            )
    for old in old_files:
        if old not in (thumb_path, features_path):
            default_storage.delete(old)
    return locked


def _image_fail(image: Image, reason: str) -> Image:
    Image.objects.filter(pk=image.pk).update(
        status=Image.Status.FAILED, failure_reason=reason[:2000]
    )
    index_touch(IndexChange.Space.IMAGE, [image.pk])
    image.status, image.failure_reason = Image.Status.FAILED, reason
    return image


def image_needs_refingerprint(*, image: Image) -> bool:
    """True if a stored fingerprint is missing or from an older algorithm version."""
    if image.source != Image.Source.UPLOAD:
        return False
    versions = dict(
        image.fingerprints.filter(variant="original").values_list(
            "algorithm", "version"
        )
    )
    if versions != fp.ALGORITHM_VERSIONS:
        return True
    scheme, variants = _variant_scheme()
    # What is stored now, not what the caller's instance last read.
    packed, variants_version, descriptor_version = (
        Image.objects.filter(pk=image.pk)
        .values_list("pdq_variants", "variants_version", "descriptor_version")
        .get()
    )
    if descriptor_version != _descriptor_version():
        return True
    try:
        stored = fp.unpack_variants(packed)
    except ValueError:
        return True
    if not variants:
        return bool(stored)
    wrong_names = set(stored) != set(variants)
    return wrong_names or variants_version != fp.variants_version(scheme)


def _descriptor_version() -> str:
    """What an image's descriptor_version must read ("" when they are off)."""
    if not settings.MATCH_DESCRIPTOR:
        return ""
    from workers.engine import descriptor

    return descriptor.version()


def images_refingerprint(*, force: bool = False, sync: bool = False) -> int:
    """Queue re-fingerprinting of uploaded images whose fingerprints are out of date.

    With `force`, every uploaded image. With `sync`, fingerprint them here, one
    at a time, instead of queueing (small installs, tests). Returns how many
    were queued (or done).
    """
    qs = Image.objects.filter(source=Image.Source.UPLOAD).exclude(original="")
    if not force:
        # One query for the whole registry: images lacking a current fingerprint
        # of every algorithm, or not hashed.
        current = Q()
        for algorithm, version in fp.ALGORITHM_VERSIONS.items():
            current |= Q(
                fingerprints__algorithm=algorithm, fingerprints__version=version
            )
        # Variants: the scheme's, at the current version (the version names
        # the scheme); a scheme without variants wants none stored.
        scheme, variants = _variant_scheme()
        variants_ok = (
            Q(variants_version=fp.variants_version(scheme))
            if variants
            else Q(pdq_variants=None)
        )
        qs = qs.annotate(
            n_current=Count(
                "fingerprints", filter=current & Q(fingerprints__variant="original")
            ),
        ).filter(
            ~Q(status=Image.Status.HASHED)
            | ~Q(descriptor_version=_descriptor_version())
            | Q(n_current__lt=len(fp.ALGORITHM_VERSIONS))
            | ~variants_ok
        )
    queued = 0
    for image_id in qs.values_list("pk", flat=True).iterator(chunk_size=2000):
        if sync:
            image_fingerprint(image_id=image_id, force=force)
        else:
            send("registry.image_fingerprint", image_id, force)
        queued += 1
    return queued
