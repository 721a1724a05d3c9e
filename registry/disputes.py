"""Disputes, false-match reports and match exceptions: writes and reads.

A dispute contests a work, one image or a claim. Its states, and who moves them:

    open -> awaiting_response        the system, as it is created (claimant told)
    awaiting_response -> under_review  the claimant answers
    awaiting_response|under_review -> resolved   an admin decides
        (-> pending_confirmation first when a second admin must agree)
    pending_confirmation -> resolved   a different admin confirms
    pending_confirmation -> under_review  a different admin declines
    awaiting_response -> resolved (lapsed) | under_review   the deadline check
    any unresolved state -> withdrawn  the disputer

A decision that changes what is enforced bumps the registry revision and writes
the audit record in the same transaction. A false-match report ends, when an
admin agrees, in MatchException rows that the matcher applies (through
`match_exceptions_filter`) to every job matched at that revision or later.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from workers.engine.fingerprint import fingerprint_bytes
from workers.engine.images import ImageRejected
from workers.engine.urls import UrlRejected, normalize_domain, normalize_url

from .audit import audit_record, notify
from .errors import Conflict, DomainError, NotFound, ValidationFailed
from .models import (
    AuditEvent,
    Claim,
    Dispute,
    DisputeEvidence,
    FalseMatchReport,
    Image,
    ImageExclusion,
    MatchException,
    User,
    Work,
)
from .services import registry_revision_bump
from .uploads import IncomingFile

log = logging.getLogger(__name__)

CLAIM_KINDS = {"url", "prefix", "domain", "style"}
HASH_KINDS = ("sha256", "md5", "phash", "pdq")
MAX_EVIDENCE_URLS = 20
# Distances to at most this many of a work's images are shown.
MAX_COMPARED_IMAGES = 50


class NotAllowed(DomainError):
    """The object is visible to the user, but this action is someone else's."""

    status_code = 403
    default_code = "forbidden"


def dispute_url(dispute: Dispute) -> str:
    return reverse("dispute_detail", args=[dispute.pk])


def _state_label(state: str) -> str:
    return state.replace("_", " ")


# --- targets ----------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    type: str
    obj: Claim | Work | Image

    @property
    def key(self) -> str:
        return f"{self.type}:{self.obj.pk}"


_TARGET_RE = re.compile(r"^(work|image|claim):([0-9]{1,18})$")


def target_parse(target: str) -> Target:
    """`work:12`, `image:40` or `claim:7` -> the object; NotFound if there is none."""
    match = _TARGET_RE.match((target or "").strip())
    if not match:
        raise ValidationFailed(
            "target must be work:<id>, image:<id> or claim:<id>", field="target"
        )
    kind, pk = match.group(1), int(match.group(2))
    obj: Claim | Work | Image | None
    if kind == "claim":
        obj = Claim.objects.select_related("owner__user").filter(pk=pk).first()
    elif kind == "work":
        obj = Work.objects.select_related("owner__user").filter(pk=pk).first()
    else:
        obj = Image.objects.select_related("work__owner__user").filter(pk=pk).first()
    if obj is None:
        raise NotFound(f"{kind} {pk} not found", field="target")
    return Target(kind, obj)


def _target_disputable(target: Target) -> None:
    obj = target.obj
    if isinstance(obj, Claim):
        if obj.state in (
            Claim.State.WITHDRAWN,
            Claim.State.REJECTED,
            Claim.State.REVOKED,
        ):
            raise Conflict(
                f"the claim is {_state_label(obj.state)}; there is nothing to dispute"
            )
    elif isinstance(obj, Work):
        if obj.status != Work.Status.ACTIVE:
            raise Conflict("the work is withdrawn; there is nothing to dispute")
    else:
        if (
            obj.work.status != Work.Status.ACTIVE
            or obj.exclusions.filter(temporary=False).exists()
        ):
            raise Conflict("the image is not enforced; there is nothing to dispute")


def _target_images(dispute: Dispute) -> QuerySet[Image]:
    if dispute.image_id:
        return Image.objects.filter(pk=dispute.image_id)
    if dispute.work_id:
        return Image.objects.filter(work_id=dispute.work_id)
    return Image.objects.none()


# --- evidence ---------------------------------------------------------------------


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


# --- enforcement changes ------------------------------------------------------------


def _audit(
    dispute: Dispute,
    *,
    actor: User | None,
    action: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
) -> None:
    audit_record(
        actor=actor,
        action=action,
        target=dispute,
        holder=dispute.holder,
        before=before,
        after=after,
        reason=reason,
    )


def _suspend(dispute: Dispute, actor: User | None) -> bool:
    """Stop enforcing the target while the dispute is open; True if it changed."""
    if dispute.claim_id:
        changed = Claim.objects.filter(
            pk=dispute.claim_id, state=Claim.State.ACTIVE
        ).update(state=Claim.State.SUSPENDED)
    else:
        images = list(_target_images(dispute).values_list("pk", flat=True))
        ImageExclusion.objects.bulk_create(
            ImageExclusion(image_id=pk, dispute=dispute, temporary=True)
            for pk in images
        )
        changed = len(images)
    if changed:
        registry_revision_bump(reason=f"dispute {dispute.pk} opened: suspended")
        audit_record(
            actor=actor,
            action=f"{dispute.target_type}.suspended",
            target=dispute.target,
            holder=dispute.holder,
            before={"enforced": True},
            after={"enforced": False, "dispute": dispute.pk},
            reason="enforcement suspended while the dispute is open",
        )
    return bool(changed)


def _unsuspend(dispute: Dispute, actor: User | None, reason: str) -> None:
    """Undo `_suspend` (the target is enforced again as before the dispute)."""
    if not dispute.suspended:
        return
    if dispute.claim_id:
        changed = Claim.objects.filter(
            pk=dispute.claim_id, state=Claim.State.SUSPENDED
        ).update(state=Claim.State.ACTIVE)
    else:
        changed, _ = ImageExclusion.objects.filter(
            dispute=dispute, temporary=True
        ).delete()
    dispute.suspended = False
    if changed:
        registry_revision_bump(reason=f"dispute {dispute.pk}: enforcement restored")
        audit_record(
            actor=actor,
            action=f"{dispute.target_type}.restored",
            target=dispute.target,
            holder=dispute.holder,
            before={"enforced": False},
            after={"enforced": True, "dispute": dispute.pk},
            reason=reason,
        )


def _images_touched(dispute: Dispute, outcome: str, excluded: Sequence[int]) -> int:
    if outcome == Dispute.Outcome.UPHELD:
        return 0
    if outcome == Dispute.Outcome.NARROWED:
        return len(excluded)
    return _target_images(dispute).count()


def _needs_second_admin(
    dispute: Dispute, outcome: str, excluded: Sequence[int]
) -> bool:
    if outcome == Dispute.Outcome.UPHELD:
        return False
    if dispute.claim_id and dispute.holder.verified:
        return True
    return (
        _images_touched(dispute, outcome, excluded)
        > settings.DISPUTE_SECOND_ADMIN_IMAGES
    )


def _narrowed_claim_value(claim: Claim, narrowed_to: str) -> str:
    """The normalized narrower prefix, checked to lie inside the claim's scope."""
    if claim.kind not in (Claim.Kind.PREFIX, Claim.Kind.DOMAIN):
        raise ValidationFailed(
            "narrowed_to: only a URL prefix or domain claim can be narrowed "
            "(to a narrower URL prefix); revoke or uphold this one",
            field="narrowed_to",
        )
    try:
        url = normalize_url(narrowed_to)
    except UrlRejected as exc:
        raise ValidationFailed(f"narrowed_to: {exc}", field="narrowed_to") from None
    href = url.href
    if claim.kind == Claim.Kind.PREFIX:
        inside = href.startswith(claim.normalized) and href != claim.normalized
    else:
        domain = normalize_domain(claim.normalized)
        inside = url.host == domain or url.host.endswith("." + domain)
    if not inside:
        raise ValidationFailed(
            f"narrowed_to: {href} is not inside the claim {claim.normalized}",
            field="narrowed_to",
        )
    return href


def _check_outcome(
    dispute: Dispute, outcome: str, narrowed_to: str, excluded: Sequence[int]
) -> tuple[str, list[int]]:
    if outcome not in Dispute.Outcome.values:
        raise ValidationFailed(
            "outcome must be upheld, revoked or narrowed", field="outcome"
        )
    if outcome != Dispute.Outcome.NARROWED:
        return "", []
    if dispute.claim_id:
        assert dispute.claim is not None
        return _narrowed_claim_value(dispute.claim, narrowed_to), []
    if dispute.image_id:
        raise ValidationFailed(
            "outcome: one image cannot be narrowed; revoke or uphold it",
            field="outcome",
        )
    ids = sorted(set(excluded))
    work_images = set(_target_images(dispute).values_list("pk", flat=True))
    if not ids:
        raise ValidationFailed(
            "excluded_images: choose the images to leave out", field="excluded_images"
        )
    if not set(ids) <= work_images:
        raise ValidationFailed(
            "excluded_images: every image must belong to the disputed work",
            field="excluded_images",
        )
    if set(ids) == work_images:
        raise ValidationFailed(
            "excluded_images: that is every image of the work; revoke it instead",
            field="excluded_images",
        )
    return "", ids


def _apply_outcome(dispute: Dispute, actor: User | None) -> None:
    """Change enforcement as `dispute.outcome` says; bump and audit if it changed."""
    outcome = dispute.outcome
    reason = dispute.decision_reason
    if outcome == Dispute.Outcome.UPHELD:
        _unsuspend(dispute, actor, f"dispute {dispute.pk} upheld: {reason}")
        return
    # The target stops being enforced (in part): temporary exclusions give way
    # to the decision's own.
    ImageExclusion.objects.filter(dispute=dispute, temporary=True).delete()
    dispute.suspended = False
    changed = False
    target = dispute.target
    before: dict[str, Any]
    after: dict[str, Any]
    if dispute.claim_id:
        claim = Claim.objects.select_for_update().get(pk=dispute.claim_id)
        before = {"state": claim.state}
        changed = claim.state in (Claim.State.ACTIVE, Claim.State.SUSPENDED)
        # A claim its owner withdrew meanwhile stays withdrawn.
        if claim.state not in (Claim.State.WITHDRAWN, Claim.State.REJECTED):
            claim.state = Claim.State.REVOKED
            claim.save(update_fields=["state"])
        after = {"state": claim.state}
        if outcome == Dispute.Outcome.NARROWED:
            narrower = (
                Claim.objects.filter(
                    owner_id=claim.owner_id,
                    kind=Claim.Kind.PREFIX,
                    normalized=dispute.narrowed_to,
                )
                .exclude(state__in=[Claim.State.WITHDRAWN, Claim.State.REJECTED])
                .first()
            )
            if narrower is None:
                narrower = Claim.objects.create(
                    owner_id=claim.owner_id,
                    kind=Claim.Kind.PREFIX,
                    value=dispute.narrowed_to,
                    normalized=dispute.narrowed_to,
                    state=Claim.State.ACTIVE,
                    activated_at=timezone.now(),
                )
            elif narrower.state != Claim.State.ACTIVE:
                narrower.state, narrower.activated_at = (
                    Claim.State.ACTIVE,
                    timezone.now(),
                )
                narrower.save(update_fields=["state", "activated_at"])
            after["replaced_by"] = narrower.pk
            after["narrowed_to"] = dispute.narrowed_to
            changed = True
        action = f"claim.{outcome}"
        target = claim
    elif outcome == Dispute.Outcome.NARROWED:
        ImageExclusion.objects.bulk_create(
            ImageExclusion(image_id=pk, dispute=dispute)
            for pk in dispute.excluded_images
        )
        before, after = (
            {"excluded_images": []},
            {"excluded_images": dispute.excluded_images},
        )
        changed, action = True, "work.narrowed"
    elif dispute.work_id:
        work = Work.objects.select_for_update().get(pk=dispute.work_id)
        before = {"status": work.status}
        changed = work.status == Work.Status.ACTIVE
        if changed:
            work.status, work.withdrawn_at = Work.Status.WITHDRAWN, timezone.now()
            work.save(update_fields=["status", "withdrawn_at"])
        after, action, target = {"status": work.status}, "work.revoked", work
    else:
        ImageExclusion.objects.create(image_id=dispute.image_id, dispute=dispute)
        before, after = {"enforced": True}, {"enforced": False}
        changed, action = True, "image.revoked"
    if changed:
        registry_revision_bump(reason=f"dispute {dispute.pk} {outcome}")
    audit_record(
        actor=actor,
        action=action,
        target=target,
        holder=dispute.holder,
        before=before,
        after={**after, "dispute": dispute.pk},
        reason=reason,
    )


# --- disputes: writes ---------------------------------------------------------------


def dispute_create(
    *,
    disputer: User,
    target: str,
    grounds: str,
    statement: str,
    evidence_urls: Iterable[str] = (),
    files: Sequence[IncomingFile] = (),
) -> Dispute:
    """Open a dispute; it awaits the claimant's response at once.

    Raises ValidationFailed (bad grounds, empty statement, bad URL or file),
    NotFound (no such target), Conflict (already disputed by you and not
    resolved, the same grounds already decided, or nothing left to dispute).
    """
    parsed = target_parse(target)
    if grounds not in Dispute.Grounds.values:
        raise ValidationFailed(
            "grounds must be one of " + ", ".join(Dispute.Grounds.values),
            field="grounds",
        )
    is_style = isinstance(parsed.obj, Claim) and parsed.obj.kind == Claim.Kind.STYLE
    if grounds == Dispute.Grounds.IMPERSONATION and not is_style:
        raise ValidationFailed(
            "grounds: impersonation applies to style claims only", field="grounds"
        )
    statement = (statement or "").strip()
    if not statement:
        raise ValidationFailed(
            "statement: say why the claim is wrong", field="statement"
        )
    urls = _clean_urls(evidence_urls)
    holder_user_id = (
        parsed.obj.work.owner.user_id
        if isinstance(parsed.obj, Image)
        else parsed.obj.owner.user_id
    )
    if holder_user_id == disputer.pk:
        raise ValidationFailed(
            "target: you cannot dispute your own registration; withdraw it instead",
            field="target",
        )
    _target_disputable(parsed)
    _check_repeat(disputer, parsed.key, grounds, statement)

    stored = _evidence_store(files)
    try:
        with transaction.atomic():
            dispute = _dispute_open(disputer, parsed, grounds, statement, urls)
            _evidence_save(dispute, stored, DisputeEvidence.Party.DISPUTER)
    except IntegrityError:
        _evidence_delete(stored)
        raise Conflict(
            "you already have a dispute about this that is not resolved",
            code="duplicate",
        ) from None
    except BaseException:
        _evidence_delete(stored)
        raise
    return dispute


def _check_repeat(disputer: User, key: str, grounds: str, statement: str) -> None:
    earlier = Dispute.objects.filter(disputer=disputer, target_key=key)
    active = earlier.exclude(state__in=Dispute.FINAL_STATES).first()
    if active is not None:
        raise Conflict(
            f"you already have a dispute about this (#{active.pk}, "
            f"{_state_label(active.state)}); add to it or withdraw it first",
            code="duplicate",
        )
    same = earlier.filter(state=Dispute.State.RESOLVED, grounds=grounds)
    for old in same:
        if " ".join(old.statement.split()) == " ".join(statement.split()):
            raise Conflict(
                f"a dispute of yours on these grounds was already decided "
                f"(#{old.pk}, {old.outcome}); dispute it on other grounds or "
                "give new evidence",
                field="grounds",
                code="repeat",
            )


def _dispute_open(
    disputer: User, target: Target, grounds: str, statement: str, urls: list[str]
) -> Dispute:
    obj = target.obj
    holder = obj.work.owner if isinstance(obj, Image) else obj.owner
    dispute = Dispute.objects.create(
        disputer=disputer,
        holder=holder,
        target_type=target.type,
        target_key=target.key,
        claim=obj if isinstance(obj, Claim) else None,
        work=obj if isinstance(obj, Work) else None,
        image=obj if isinstance(obj, Image) else None,
        grounds=grounds,
        statement=statement,
        evidence_urls=urls,
        state=Dispute.State.OPEN,
    )
    _audit(
        dispute,
        actor=disputer,
        action="dispute.opened",
        after={"state": dispute.state, "grounds": grounds, "target": target.key},
        reason=statement,
    )
    if settings.DISPUTE_SUSPEND_WHILE_OPEN:
        dispute.suspended = _suspend(dispute, disputer)
    now = timezone.now()
    dispute.state = Dispute.State.AWAITING_RESPONSE
    dispute.response_due = now + timedelta(days=settings.DISPUTE_RESPONSE_DAYS)
    dispute.save(update_fields=["state", "response_due", "suspended", "updated"])
    _audit(
        dispute,
        actor=None,
        action="dispute.awaiting_response",
        before={"state": Dispute.State.OPEN},
        after={
            "state": dispute.state,
            "response_due": dispute.response_due.isoformat(),
        },
    )
    notify(
        user=holder.user,
        kind="dispute_opened",
        subject=f"Your {target.type} “{obj}” is disputed",
        body=(
            f"{disputer.username} disputes your {target.type} “{obj}” "
            f"({dispute.get_grounds_display()}). Please respond by "
            f"{dispute.response_due:%Y-%m-%d}; "
            + (
                "if you do not, it stops being enforced."
                if settings.DISPUTE_UNANSWERED_RELEASES
                else "if you do not, an admin decides without your answer."
            )
        ),
        url=dispute_url(dispute),
    )
    return dispute


def _locked(dispute_id: int) -> Dispute:
    dispute = (
        # Lock the dispute row only: PostgreSQL cannot lock the nullable side
        # of the outer joins to claim, work and image.
        Dispute.objects.select_for_update(of=("self",))
        .select_related("holder__user", "disputer", "claim", "work", "image")
        .filter(pk=dispute_id)
        .first()
    )
    if dispute is None:
        raise NotFound("dispute not found")
    return dispute


def _visible_or_404(dispute: Dispute, user: User) -> None:
    if not (
        user.is_staff
        or dispute.disputer_id == user.pk
        or dispute.holder.user_id == user.pk
    ):
        raise NotFound("dispute not found")


def dispute_respond(
    *,
    user: User,
    dispute_id: int,
    response: str,
    files: Sequence[IncomingFile] = (),
) -> Dispute:
    """The claimant answers; the dispute goes to an admin (under review)."""
    response = (response or "").strip()
    if not response:
        raise ValidationFailed("response: write your answer", field="response")
    stored = _evidence_store(files)
    try:
        with transaction.atomic():
            dispute = _locked(dispute_id)
            _visible_or_404(dispute, user)
            if dispute.holder.user_id != user.pk:
                raise NotAllowed("only the claimant can respond to a dispute")
            if dispute.state != Dispute.State.AWAITING_RESPONSE:
                raise Conflict(
                    f"the dispute is {_state_label(dispute.state)}; it no longer "
                    "awaits your response"
                )
            now = timezone.now()
            dispute.state = Dispute.State.UNDER_REVIEW
            dispute.response, dispute.responded_at = response, now
            dispute.save(update_fields=["state", "response", "responded_at", "updated"])
            _evidence_save(dispute, stored, DisputeEvidence.Party.CLAIMANT)
            _audit(
                dispute,
                actor=user,
                action="dispute.responded",
                before={"state": Dispute.State.AWAITING_RESPONSE},
                after={"state": dispute.state},
                reason=response,
            )
            notify(
                user=dispute.disputer,
                kind="dispute_responded",
                subject=f"The claimant answered your dispute #{dispute.pk}",
                body="An admin will now review it.",
                url=dispute_url(dispute),
            )
    except BaseException:
        _evidence_delete(stored)
        raise
    return dispute


def dispute_withdraw(*, user: User, dispute_id: int) -> Dispute:
    """The disputer drops the dispute (any time before it is resolved)."""
    with transaction.atomic():
        dispute = _locked(dispute_id)
        _visible_or_404(dispute, user)
        if dispute.disputer_id != user.pk:
            raise NotAllowed("only the person who opened a dispute can withdraw it")
        if dispute.is_final:
            raise Conflict(
                f"the dispute is already {dispute.state}; it cannot be withdrawn"
            )
        before = dispute.state
        _unsuspend(dispute, user, f"dispute {dispute.pk} withdrawn")
        dispute.state = Dispute.State.WITHDRAWN
        dispute.resolved_at = timezone.now()
        dispute.save(update_fields=["state", "resolved_at", "suspended", "updated"])
        _audit(
            dispute,
            actor=user,
            action="dispute.withdrawn",
            before={"state": before},
            after={"state": dispute.state},
        )
        notify(
            user=dispute.holder.user,
            kind="dispute_withdrawn",
            subject=f"Dispute #{dispute.pk} was withdrawn",
            body=f"The dispute about your {dispute.target_type} “{dispute.target}” "
            "was withdrawn; nothing changes.",
            url=dispute_url(dispute),
        )
    return dispute


def dispute_resolve(
    *,
    admin: User,
    dispute_id: int,
    outcome: str,
    reason: str,
    narrowed_to: str = "",
    excluded_images: Sequence[int] = (),
) -> Dispute:
    """An admin decides. Takes effect now, or once a second admin confirms.

    Raises NotAllowed (not an admin), ValidationFailed (no reason, bad outcome
    or narrowing), Conflict (the dispute is not awaiting a decision).
    """
    if not admin.is_staff:
        raise NotAllowed("only admins decide disputes")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("reason: say why you decided so", field="reason")
    with transaction.atomic():
        dispute = _locked(dispute_id)
        if dispute.state not in (
            Dispute.State.AWAITING_RESPONSE,
            Dispute.State.UNDER_REVIEW,
        ):
            raise Conflict(
                f"the dispute is {_state_label(dispute.state)}; it cannot be "
                "decided now"
            )
        narrowed, excluded = _check_outcome(
            dispute, outcome, narrowed_to, excluded_images
        )
        before = dispute.state
        dispute.outcome = outcome
        dispute.narrowed_to = narrowed
        dispute.excluded_images = excluded
        dispute.decision_reason = reason
        dispute.decided_by, dispute.decided_at = admin, timezone.now()
        if _needs_second_admin(dispute, outcome, excluded):
            dispute.state = Dispute.State.PENDING_CONFIRMATION
            dispute.save()
            _audit(
                dispute,
                actor=admin,
                action="dispute.proposed",
                before={"state": before},
                after={"state": dispute.state, "outcome": outcome},
                reason=reason,
            )
            return dispute
        _finish(dispute, actor=admin, before=before)
    return dispute


def _finish(dispute: Dispute, *, actor: User | None, before: str) -> None:
    _apply_outcome(dispute, actor)
    dispute.state = Dispute.State.RESOLVED
    dispute.resolved_at = timezone.now()
    dispute.save()
    _audit(
        dispute,
        actor=actor,
        action="dispute.resolved",
        before={"state": before},
        after={"state": dispute.state, "outcome": dispute.outcome},
        reason=dispute.decision_reason,
    )
    subject = f"Dispute #{dispute.pk} was decided: {dispute.outcome}"
    body = f"{dispute.get_outcome_display()}: {dispute.decision_reason}"
    for user in (dispute.disputer, dispute.holder.user):
        notify(
            user=user,
            kind="dispute_resolved",
            subject=subject,
            body=body,
            url=dispute_url(dispute),
        )


def dispute_confirm(
    *, admin: User, dispute_id: int, approve: bool, reason: str = ""
) -> Dispute:
    """A second admin confirms (the decision takes effect) or declines it."""
    if not admin.is_staff:
        raise NotAllowed("only admins confirm decisions")
    with transaction.atomic():
        dispute = _locked(dispute_id)
        if dispute.state != Dispute.State.PENDING_CONFIRMATION:
            raise Conflict(
                f"the dispute is {_state_label(dispute.state)}; there is no "
                "decision to confirm"
            )
        if dispute.decided_by_id == admin.pk:
            raise Conflict("a second, different admin must confirm this decision")
        if approve:
            dispute.confirmed_by = admin
            _finish(dispute, actor=admin, before=Dispute.State.PENDING_CONFIRMATION)
            return dispute
        reason = (reason or "").strip()
        if not reason:
            raise ValidationFailed(
                "reason: say why you decline the decision", field="reason"
            )
        proposed = dispute.outcome
        dispute.state = Dispute.State.UNDER_REVIEW
        dispute.outcome, dispute.narrowed_to, dispute.excluded_images = "", "", []
        dispute.decided_by, dispute.decided_at, dispute.lapsed = None, None, False
        dispute.save()
        _audit(
            dispute,
            actor=admin,
            action="dispute.declined",
            before={"state": Dispute.State.PENDING_CONFIRMATION, "outcome": proposed},
            after={"state": dispute.state},
            reason=reason,
        )
    return dispute


def dispute_deadlines_run() -> dict[str, int]:
    """The beat task's work: reminders, then unanswered disputes at their deadline.

    Idempotent: each dispute is taken with a conditional update or under a row
    lock, so overlapping runs do nothing twice.
    """
    now = timezone.now()
    report: dict[str, int] = defaultdict(int)
    soon = now + timedelta(days=settings.DISPUTE_REMINDER_DAYS)
    waiting = Dispute.objects.filter(state=Dispute.State.AWAITING_RESPONSE)
    for dispute in waiting.filter(
        reminded_at__isnull=True, response_due__gt=now, response_due__lte=soon
    ).select_related("holder__user"):
        with transaction.atomic():
            if Dispute.objects.filter(
                pk=dispute.pk,
                state=Dispute.State.AWAITING_RESPONSE,
                reminded_at__isnull=True,
            ).update(reminded_at=now):
                assert dispute.response_due is not None
                notify(
                    user=dispute.holder.user,
                    kind="dispute_reminder",
                    subject=f"Dispute #{dispute.pk}: your response is due "
                    f"{dispute.response_due:%Y-%m-%d}",
                    body=f"The dispute about your {dispute.target_type} "
                    f"“{dispute.target}” still awaits your response.",
                    url=dispute_url(dispute),
                )
                report["reminded"] += 1
    for dispute_id in waiting.filter(response_due__lte=now).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            dispute = _locked(dispute_id)
            if dispute.state != Dispute.State.AWAITING_RESPONSE:
                continue
            report[_lapse(dispute)] += 1
    return dict(report)


def _lapse(dispute: Dispute) -> str:
    before = dispute.state
    reason = "the claimant did not respond by the deadline"
    if not settings.DISPUTE_UNANSWERED_RELEASES:
        dispute.state = Dispute.State.UNDER_REVIEW
        dispute.save(update_fields=["state", "updated"])
        _audit(
            dispute,
            actor=None,
            action="dispute.unanswered",
            before={"state": before},
            after={"state": dispute.state},
            reason=reason + "; an admin will decide",
        )
        for user in (dispute.disputer, dispute.holder.user):
            notify(
                user=user,
                kind="dispute_unanswered",
                subject=f"Dispute #{dispute.pk}: no response by the deadline",
                body="An admin will now decide without the claimant's answer.",
                url=dispute_url(dispute),
            )
        return "to_review"
    dispute.outcome = Dispute.Outcome.REVOKED
    dispute.decision_reason = reason
    dispute.decided_at = timezone.now()
    dispute.lapsed = True
    if _needs_second_admin(dispute, dispute.outcome, []):
        dispute.state = Dispute.State.PENDING_CONFIRMATION
        dispute.save()
        _audit(
            dispute,
            actor=None,
            action="dispute.proposed",
            before={"state": before},
            after={"state": dispute.state, "outcome": dispute.outcome},
            reason=reason + "; an admin must confirm",
        )
        return "to_confirm"
    _finish(dispute, actor=None, before=before)
    return "released"


# --- disputes: reads ----------------------------------------------------------------


def dispute_list_for_user(*, user: User, role: str | None = None) -> QuerySet[Dispute]:
    """Disputes the user opened (role "disputer") or must answer ("claimant")."""
    qs = Dispute.objects.select_related("holder", "disputer", "claim", "work", "image")
    if role == "disputer":
        return qs.filter(disputer=user)
    if role == "claimant":
        return qs.filter(holder__user=user)
    return qs.filter(Q(disputer=user) | Q(holder__user=user))


def dispute_get_for_user(*, user: User, dispute_id: int) -> Dispute:
    dispute = (
        Dispute.objects.select_related(
            "holder__user", "disputer", "claim", "work", "image", "decided_by"
        )
        .filter(pk=dispute_id)
        .first()
    )
    if dispute is None:
        raise NotFound("dispute not found")
    _visible_or_404(dispute, user)
    return dispute


def dispute_list_for_review(*, state: str | None = None) -> QuerySet[Dispute]:
    qs = Dispute.objects.select_related(
        "holder", "disputer", "claim", "work", "image"
    ).order_by("response_due", "created", "id")
    if state:
        qs = qs.filter(state=state)
    return qs


def dispute_counts_by_state() -> dict[str, int]:
    counts = dict(
        Dispute.objects.values_list("state").annotate(n=Count("id")).order_by()
    )
    return {state: counts.get(state, 0) for state in Dispute.State.values}


def dispute_timeline(*, dispute: Dispute) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(
        target_type="dispute", target_id=dispute.pk
    ).order_by("created", "id")


def _hamming_hex(a: str, b: str) -> int | None:
    if not a or not b or len(a) != len(b):
        return None
    return (int(a, 16) ^ int(b, 16)).bit_count()


@dataclass(frozen=True)
class Comparison:
    """One evidence image against one disputed image."""

    evidence: DisputeEvidence
    image: Image
    phash: int | None
    pdq: int | None
    same_bytes: bool


def image_hashes(image: Image) -> dict[str, str]:
    return {
        f.algorithm: f.hex for f in image.fingerprints.all() if f.variant == "original"
    }


def dispute_comparisons(*, dispute: Dispute) -> list[Comparison]:
    """Hamming distances from each evidence image to each disputed image."""
    images = list(
        _target_images(dispute).prefetch_related("fingerprints")[:MAX_COMPARED_IMAGES]
    )
    out = []
    for evidence in dispute.evidence.filter(is_image=True):
        for image in images:
            hashes = image_hashes(image)
            out.append(
                Comparison(
                    evidence=evidence,
                    image=image,
                    phash=_hamming_hex(evidence.phash, hashes.get("phash", "")),
                    pdq=_hamming_hex(evidence.pdq, hashes.get("pdq", "")),
                    same_bytes=evidence.sha256 == hashes.get("sha256"),
                )
            )
    return out


# --- false-match reports ---------------------------------------------------------


def _row_identifiers(match: Any) -> tuple[dict[str, str], bytes | None]:
    """Read the match's manifest row back: its URL and hashes, and a thumbnail.

    Returns ({} , None) when the manifest can no longer be read.
    """
    from optout.services import manifest_paths
    from workers.engine import manifests as engine_manifests
    from workers.engine.manifests import ManifestRejected
    from workers.engine.types import ChunkSpec, ManifestFormat

    chunk, manifest = match.chunk, match.job.manifest
    try:
        for batch in engine_manifests.read_chunk(
            manifest_paths(manifest),
            ManifestFormat(manifest.format),
            ChunkSpec.from_dict(chunk.spec),
            manifest.columns,
        ):
            i = match.row - batch.first_row
            if not 0 <= i < len(batch):
                continue
            found: dict[str, str] = {}
            thumb = None
            data = batch.images[i] if batch.images is not None else None
            if data:
                try:
                    result = fingerprint_bytes(
                        data, thumbnail_size=settings.THUMBNAIL_SIZE
                    )
                except ImageRejected:
                    result = None
                if result is not None:
                    prints = result.fingerprints
                    batch.sha256[i] = batch.sha256[i] or prints.sha256
                    batch.md5[i] = batch.md5[i] or prints.md5
                    batch.phash[i] = prints.phash_int
                    batch.pdq[i] = prints.pdq
                    thumb = result.thumbnail
            found.update(_batch_row_keys(batch, i))
            return found, thumb
    except (ManifestRejected, OSError, ValueError):
        log.warning("could not read back row %s of job %s", match.row, match.job_id)
    return {}, None


def _batch_row_keys(batch: Any, i: int) -> dict[str, str]:
    keys: dict[str, str] = {}
    url = batch.urls[i]
    if url:
        try:
            keys["url"] = normalize_url(url).href
        except UrlRejected:
            pass
    if batch.keys[i]:
        keys["key"] = str(batch.keys[i])
    for name in ("sha256", "md5", "pdq"):
        value = getattr(batch, name)[i]
        if value:
            keys[name] = bytes(value).hex()
    if batch.phash[i] is not None:
        keys["phash"] = (
            (batch.phash[i] & 0xFFFF_FFFF_FFFF_FFFF).to_bytes(8, "big").hex()
        )
    return keys


def false_match_report_create(
    *, reporter: User, match_id: int, reason: str, text: str = ""
) -> FalseMatchReport:
    """A curator reports one match of their own job as wrong."""
    from optout.models import Match

    match = (
        Match.objects.select_related("job__manifest", "chunk")
        .filter(pk=match_id, job__owner=reporter)
        .first()
    )
    if match is None:
        raise NotFound("match not found")
    if reason not in FalseMatchReport.Reason.values:
        raise ValidationFailed(
            "reason must be one of " + ", ".join(FalseMatchReport.Reason.values),
            field="reason",
        )
    text = (text or "").strip()
    if reason == FalseMatchReport.Reason.OTHER and not text:
        raise ValidationFailed("text: say what is wrong with the match", field="text")
    if FalseMatchReport.objects.filter(
        reporter=reporter, match=match, state=FalseMatchReport.State.OPEN
    ).exists():
        raise Conflict("you have already reported this match; it awaits review")
    keys, thumb = _row_identifiers(match)
    if match.url and "url" not in keys:
        try:
            keys["url"] = normalize_url(match.url).href
        except UrlRejected:
            pass
    thumb_path = ""
    if thumb:
        thumb_path = default_storage.save(
            FalseMatchReport._meta.get_field("row_thumbnail").generate_filename(
                None, "t.jpg"
            ),
            ContentFile(thumb),
        )
    try:
        with transaction.atomic():
            report = FalseMatchReport.objects.create(
                reporter=reporter,
                match=match,
                job_id_copy=match.job_id,
                row=match.row,
                kind=match.kind,
                claim_id=match.claim_id,
                image_id=match.image_id,
                row_key=match.key,
                row_url=match.url,
                row_hashes=keys,
                row_thumbnail=thumb_path,
                reason=reason,
                text=text,
            )
            audit_record(
                actor=reporter,
                action="false_match.reported",
                target=report,
                holder=_report_holder(report),
                after={"state": report.state, "reason": reason, "match": match.pk},
                reason=text,
            )
    except IntegrityError:
        if thumb_path:
            default_storage.delete(thumb_path)
        raise Conflict(
            "you have already reported this match; it awaits review"
        ) from None
    return report


def _report_holder(report: FalseMatchReport) -> Any:
    if report.claim_id:
        return Claim.objects.get(pk=report.claim_id).owner
    if report.image_id:
        return (
            Image.objects.select_related("work__owner")
            .get(pk=report.image_id)
            .work.owner
        )
    return None


def _exception_keys(report: FalseMatchReport) -> list[tuple[str, str]]:
    """What identifies the reported row, for the exception."""
    keys = report.row_hashes or {}
    if report.kind in CLAIM_KINDS:
        if keys.get("url"):
            return [("url", keys["url"])]
        if keys.get("key"):
            return [("key", keys["key"])]
        return []
    return [(name, keys[name]) for name in HASH_KINDS if keys.get(name)]


def false_match_report_decide(
    *, admin: User, report_id: int, accept: bool, reason: str
) -> FalseMatchReport:
    """An admin agrees (adds match exceptions) or disagrees; the curator is told."""
    if not admin.is_staff:
        raise NotAllowed("only admins decide false-match reports")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("reason: say why you decided so", field="reason")
    with transaction.atomic():
        report = (
            FalseMatchReport.objects.select_for_update().filter(pk=report_id).first()
        )
        if report is None:
            raise NotFound("report not found")
        if report.state != FalseMatchReport.State.OPEN:
            raise Conflict(f"the report is already {report.state}")
        report.decided_by, report.decided_at = admin, timezone.now()
        report.decision_reason = reason
        after: dict[str, Any] = {}
        if accept:
            keys = _exception_keys(report)
            target = (
                f"claim:{report.claim_id}"
                if report.claim_id
                else f"image:{report.image_id}"
            )
            if not keys or not (report.claim_id or report.image_id):
                raise Conflict(
                    "the reported row cannot be identified (its manifest can no "
                    "longer be read, and the match names no URL or hash)"
                )
            revision = registry_revision_bump(
                reason=f"false-match report {report.pk} accepted"
            )
            for key_type, key in keys:
                MatchException.objects.get_or_create(
                    target_key=target,
                    key_type=key_type,
                    key=key,
                    defaults={
                        "claim_id": report.claim_id,
                        "image_id": report.image_id,
                        "report": report,
                        "revision": revision,
                        "created_by": admin,
                    },
                )
            report.state = FalseMatchReport.State.ACCEPTED
            after = {"exceptions": [f"{t}:{k}" for t, k in keys], "target": target}
        else:
            report.state = FalseMatchReport.State.REJECTED
        report.save()
        audit_record(
            actor=admin,
            action=f"false_match.{report.state}",
            target=report,
            holder=_report_holder(report),
            before={"state": FalseMatchReport.State.OPEN},
            after={"state": report.state, **after},
            reason=reason,
        )
        notify(
            user=report.reporter,
            kind="false_match_decided",
            subject=f"Your false-match report #{report.pk} was {report.state}",
            body=(
                "That row will no longer match in new checks. "
                if accept
                else "The match stands. "
            )
            + f"Reason: {reason}",
            url=reverse("job_detail", args=[report.job_id_copy])
            if report.job_id_copy
            else "",
        )
    return report


def false_match_report_list_for_review(
    *, state: str | None = None
) -> QuerySet[FalseMatchReport]:
    qs = FalseMatchReport.objects.select_related("reporter", "claim", "image")
    if state:
        qs = qs.filter(state=state)
    return qs.order_by("created", "id")


def false_match_report_get(*, report_id: int) -> FalseMatchReport:
    report = (
        FalseMatchReport.objects.select_related(
            "reporter", "claim__owner", "image__work__owner", "match", "decided_by"
        )
        .filter(pk=report_id)
        .first()
    )
    if report is None:
        raise NotFound("report not found")
    return report


def report_distances(*, report: FalseMatchReport) -> dict[str, int | None]:
    """Hamming distances between the reported row and the registered image."""
    if report.image is None:
        return {}
    hashes = image_hashes(report.image)
    row = report.row_hashes or {}
    return {
        name: _hamming_hex(row.get(name, ""), hashes.get(name, ""))
        for name in ("phash", "pdq")
    }


# --- match exceptions in matching ----------------------------------------------------


def match_exceptions_filter(
    *, revision: int | None, batch: Any, found: list[Any]
) -> list[Any]:
    """Drop the engine's matches that a match exception (at `revision`) rules out.

    One query per batch, and only for the claims and images the batch hit.
    """
    if not found or revision is None:
        return found
    targets = {
        f"{'claim' if str(m.kind) in CLAIM_KINDS else 'image'}:{m.ref}" for m in found
    }
    excepted: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for target, key_type, key in MatchException.objects.filter(
        target_key__in=targets, revision__lte=revision
    ).values_list("target_key", "key_type", "key"):
        excepted[target].add((key_type, key))
    if not excepted:
        return found
    kept = []
    row_keys: dict[int, set[tuple[str, str]]] = {}
    for m in found:
        target = f"{'claim' if str(m.kind) in CLAIM_KINDS else 'image'}:{m.ref}"
        if target in excepted:
            if m.row not in row_keys:
                row_keys[m.row] = set(
                    _batch_row_keys(batch, m.row - batch.first_row).items()
                )
            if row_keys[m.row] & excepted[target]:
                continue
        kept.append(m)
    return kept
