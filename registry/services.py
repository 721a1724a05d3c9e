"""Every write to the registry. Keyword-only, typed, raising DomainError."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from workers.engine import fingerprint as fp
from workers.engine import perceptual
from workers.engine.hashes import HashRejected, parse_hex, phash_to_int
from workers.engine.images import ImageRejected
from workers.engine.style import normalize_text
from workers.engine.urls import UrlRejected, normalize_domain, normalize_url

from .audit import audit_record, notify
from .errors import Conflict, NotFound, ValidationFailed
from .models import (
    ApiToken,
    Claim,
    Fingerprint,
    Image,
    RegistryRevision,
    RightsHolder,
    User,
    Work,
)
from .uploads import CheckedImage, IncomingFile, RejectedFile, check_files

# --- registry revision ---------------------------------------------------------


def registry_revision_bump(*, reason: str) -> int:
    """Add one to the registry revision; call inside the transaction of the change."""
    RegistryRevision.objects.get_or_create(pk=1)
    RegistryRevision.objects.filter(pk=1).update(
        value=F("value") + 1, last_reason=reason[:200], changed=timezone.now()
    )
    return RegistryRevision.objects.get(pk=1).value


# --- accounts -----------------------------------------------------------------


def user_signup(
    *,
    username: str,
    email: str,
    password: str,
    is_artist: bool,
    is_curator: bool,
    display_name: str = "",
) -> User:
    """Create an account with its roles; an artist gets a RightsHolder profile."""
    if not (is_artist or is_curator):
        raise ValidationFailed(
            "choose at least one role: artist or curator", field="roles"
        )
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationFailed("that username is taken", field="username")
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationFailed("an account with that email exists", field="email")
    with transaction.atomic():
        user = User.objects.create_user(
            username=username,
            email=email,
            password=password,
            is_artist=is_artist,
            is_curator=is_curator,
        )
        if is_artist:
            rights_holder_create(user=user, display_name=display_name or username)
    return user


def rights_holder_create(
    *, user: User, display_name: str, website: str = ""
) -> RightsHolder:
    """Make `user` an artist (idempotent)."""
    holder, _ = RightsHolder.objects.get_or_create(
        user=user,
        defaults={
            "display_name": display_name,
            "contact_email": user.email,
            "website": website,
        },
    )
    if not user.is_artist:
        User.objects.filter(pk=user.pk).update(is_artist=True)
        user.is_artist = True
    return holder


def rights_holder_update(
    *,
    holder: RightsHolder,
    display_name: str | None = None,
    contact_email: str | None = None,
    website: str | None = None,
) -> RightsHolder:
    if display_name is not None:
        if not display_name.strip():
            raise ValidationFailed(
                "display_name may not be blank", field="display_name"
            )
        holder.display_name = display_name.strip()
    if contact_email is not None:
        holder.contact_email = contact_email
    if website is not None:
        holder.website = website
    holder.save()
    return holder


def rights_holder_set_verified(*, holder: RightsHolder, verified: bool) -> RightsHolder:
    holder.verified = verified
    holder.save(update_fields=["verified"])
    return holder


def api_token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """A new token; the raw key is returned once and never stored."""
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("name may not be blank", field="name")
    key = ApiToken.new_key()
    token = ApiToken.objects.create(
        user=user,
        name=name[:100],
        key_prefix=key[: len(ApiToken.PREFIX) + 4],
        key_hash=ApiToken.hash_key(key),
    )
    return token, key


def api_token_revoke(*, user: User, token_id: int) -> ApiToken:
    token = ApiToken.objects.filter(pk=token_id, user=user).first()
    if token is None:
        raise NotFound("token not found")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


# --- works and images ----------------------------------------------------------


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
            # Storage I/O stays outside the transaction.
            path = default_storage.save(
                Image._meta.get_field("original").generate_filename(None, item.name),
                ContentFile(item.data),
            )
            stored.append((item, path))

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


def _rejected_summary(rejected: list[RejectedFile]) -> str:
    if len(rejected) == 1:
        return f"{rejected[0].file}: {rejected[0].message}"
    return (
        f"none of the {len(rejected)} files was accepted: "
        + "; ".join(f"{r.file}: {r.message}" for r in rejected[:5])
        + ("; …" if len(rejected) > 5 else "")
    )


def _queue_fingerprint(image_id: int) -> None:
    from workers.tasks import image_fingerprint

    transaction.on_commit(partial(image_fingerprint.delay, image_id))


HASH_FIELDS = ("sha256", "md5", "phash", "pdq")


def image_register_hashes(
    *,
    owner: RightsHolder,
    hashes: dict[str, str | None],
    title: str = "",
    work_id: int | None = None,
    pdq_quality: int | None = None,
) -> Image:
    """Register an image by its hashes alone (the StopNCII model)."""
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
            after={name: raw.hex() for name, raw in parsed.items()},
        )
    return image


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
        # Registry-side variants: the scheme's, replacing any older scheme's.
        variants_version = fp.variants_version(_variant_scheme()[0])
        for variant, (raw, quality) in prints.pdq_variants.items():
            _fingerprint_save(
                image=locked,
                algorithm="pdq",
                raw=raw,
                version=variants_version,
                quality=quality,
                variant=variant,
            )
        Fingerprint.objects.filter(image=locked).exclude(
            variant__in=["original", *prints.pdq_variants]
        ).delete()
        locked.status = Image.Status.HASHED
        locked.failure_reason = ""
        locked.width, locked.height = prints.width, prints.height
        locked.format = prints.format
        locked.byte_size = len(data)
        locked.thumbnail = thumb_path
        locked.features = features_path
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
    stored = dict(
        image.fingerprints.exclude(variant="original").values_list("variant", "version")
    )
    current = fp.variants_version(scheme)
    return set(stored) != set(variants) or any(v != current for v in stored.values())


def images_refingerprint(*, force: bool = False, sync: bool = False) -> int:
    """Queue re-fingerprinting of uploaded images whose fingerprints are out of date.

    With `force`, every uploaded image. With `sync`, fingerprint them here, one
    at a time, instead of queueing (small installs, tests). Returns how many
    were queued (or done).
    """
    from workers.tasks import image_fingerprint as image_fingerprint_task

    qs = Image.objects.filter(source=Image.Source.UPLOAD).exclude(original="")
    if not force:
        # One query for the whole registry: images lacking a current fingerprint
        # of every algorithm, or not hashed.
        current = Q()
        for algorithm, version in fp.ALGORITHM_VERSIONS.items():
            current |= Q(
                fingerprints__algorithm=algorithm, fingerprints__version=version
            )
        # Variants: every one of the scheme's at the current version, no other.
        scheme, variants = _variant_scheme()
        variant_rows = ~Q(fingerprints__variant="original")
        qs = qs.annotate(
            n_current=Count(
                "fingerprints", filter=current & Q(fingerprints__variant="original")
            ),
            n_variants=Count("fingerprints", filter=variant_rows),
            n_variants_current=Count(
                "fingerprints",
                filter=variant_rows
                & Q(
                    fingerprints__variant__in=variants,
                    fingerprints__version=fp.variants_version(scheme),
                ),
            ),
        ).filter(
            ~Q(status=Image.Status.HASHED)
            | Q(n_current__lt=len(fp.ALGORITHM_VERSIONS))
            | ~Q(n_variants=len(variants))
            | ~Q(n_variants_current=len(variants))
        )
    queued = 0
    for image_id in qs.values_list("pk", flat=True).iterator(chunk_size=2000):
        if sync:
            image_fingerprint(image_id=image_id, force=force)
        else:
            image_fingerprint_task.delay(image_id, force)
        queued += 1
    return queued


# --- claims -------------------------------------------------------------------


def normalize_style_name(name: str) -> str:
    """NFKC, case-folded, inner white space collapsed: how names are compared.

    The same rule the matcher applies to captions (workers.engine.style).
    """
    return normalize_text(name)


def _claim_normalize(kind: str, value: str) -> str:
    try:
        if kind in (Claim.Kind.URL, Claim.Kind.PREFIX):
            return normalize_url(value).href
        if kind == Claim.Kind.DOMAIN:
            return normalize_domain(value)
    except UrlRejected as exc:
        raise ValidationFailed(f"value: {exc}", field="value") from None
    if kind == Claim.Kind.STYLE:
        name = normalize_style_name(value)
        if len(name) < 2:
            raise ValidationFailed(
                "value: a style name needs at least 2 characters", field="value"
            )
        return name
    raise ValidationFailed(f"kind: unknown claim kind {kind!r}", field="kind")


def claim_create(
    *,
    owner: RightsHolder,
    kind: str,
    value: str,
    aliases: Iterable[str] = (),
) -> Claim:
    """Claim a URL, URL prefix, domain or style name.

    URL and prefix claims are enforced at once; a domain waits for proof of
    control (state unverified), a style name for an admin (pending review).
    """
    normalized = _claim_normalize(kind, value)
    clean_aliases: list[str] = []
    if kind == Claim.Kind.STYLE:
        for alias in aliases or []:
            alias_n = normalize_style_name(alias)
            if len(alias_n) < 2:
                raise ValidationFailed(
                    "aliases: each alias needs at least 2 characters", field="aliases"
                )
            if alias_n != normalized and alias_n not in clean_aliases:
                clean_aliases.append(alias_n)
    elif aliases:
        raise ValidationFailed(
            "aliases: only style claims have aliases", field="aliases"
        )

    state = {
        Claim.Kind.URL: Claim.State.ACTIVE,
        Claim.Kind.PREFIX: Claim.State.ACTIVE,
        Claim.Kind.DOMAIN: Claim.State.UNVERIFIED,
        Claim.Kind.STYLE: Claim.State.PENDING_REVIEW,
    }[Claim.Kind(kind)]
    exists = (
        Claim.objects.filter(owner=owner, kind=kind, normalized=normalized)
        .exclude(state__in=[Claim.State.WITHDRAWN, Claim.State.REJECTED])
        .exists()
    )
    if exists:
        raise ValidationFailed("value: you already have this claim", field="value")
    try:
        with transaction.atomic():
            claim = Claim.objects.create(
                owner=owner,
                kind=kind,
                value=value.strip()[:2048],
                normalized=normalized[:2048],
                aliases=clean_aliases,
                state=state,
                verification_token=(
                    secrets.token_urlsafe(24) if kind == Claim.Kind.DOMAIN else ""
                ),
                activated_at=timezone.now() if state == Claim.State.ACTIVE else None,
            )
            if claim.is_enforced:
                registry_revision_bump(reason=f"claim {claim.pk} created")
            audit_record(
                actor=owner.user,
                action="claim.create",
                target=claim,
                holder=owner,
                after={"state": claim.state, "value": claim.normalized},
            )
    except IntegrityError:
        raise ValidationFailed(
            "value: you already have this claim", field="value"
        ) from None
    return claim


def claim_withdraw(*, owner: RightsHolder, claim_id: int) -> Claim:
    with transaction.atomic():
        claim = (
            Claim.objects.select_for_update().filter(pk=claim_id, owner=owner).first()
        )
        if claim is None:
            raise NotFound("claim not found")
        if claim.state == Claim.State.WITHDRAWN:
            raise Conflict("the claim is already withdrawn")
        was_enforced = claim.is_enforced
        before = claim.state
        claim.state = Claim.State.WITHDRAWN
        claim.withdrawn_at = timezone.now()
        claim.save(update_fields=["state", "withdrawn_at"])
        if was_enforced:
            registry_revision_bump(reason=f"claim {claim.pk} withdrawn")
        audit_record(
            actor=owner.user,
            action="claim.withdraw",
            target=claim,
            holder=owner,
            before={"state": before},
            after={"state": claim.state},
        )
    return claim


def claim_review(
    *, claim_id: int, approve: bool, admin: User | None = None, reason: str = ""
) -> Claim:
    """An admin approves or rejects a style claim that is pending review.

    The artist is notified; the decision and its reason go to the audit log.
    """
    with transaction.atomic():
        claim = (
            Claim.objects.select_for_update()
            .select_related("owner__user")
            .filter(pk=claim_id)
            .first()
        )
        if claim is None:
            raise NotFound("claim not found")
        if claim.state != Claim.State.PENDING_REVIEW:
            raise Conflict(
                f"the claim is {claim.state.replace('_', ' ')}, not pending review"
            )
        if approve:
            claim.state = Claim.State.ACTIVE
            claim.activated_at = timezone.now()
            claim.save(update_fields=["state", "activated_at"])
            registry_revision_bump(reason=f"claim {claim.pk} approved")
        else:
            claim.state = Claim.State.REJECTED
            claim.save(update_fields=["state"])
        verb = "approved" if approve else "rejected"
        audit_record(
            actor=admin,
            action="claim.approve" if approve else "claim.reject",
            target=claim,
            holder=claim.owner,
            before={"state": Claim.State.PENDING_REVIEW},
            after={"state": claim.state},
            reason=reason,
        )
        notify(
            user=claim.owner.user,
            kind=f"claim.{verb}",
            subject=f"Your style claim “{claim.value}” was {verb}",
            body=(
                "It is now enforced: captions naming it are flagged in datasets."
                if approve
                else "It is not enforced."
            )
            + (f"\n\nReason: {reason}" if reason else ""),
            url="/claims/",
        )
    return claim
