"""What a decision does to enforcement: revoke, narrow (a narrower prefix, or
images left out), suspend while open; and when a second admin must confirm.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.utils import timezone

from accounts.models import User
from audit.services import audit_record
from core.errors import ValidationFailed
from disputes.models import Dispute, ImageExclusion
from disputes.selectors import dispute_target_images
from registry.models import Claim, IndexChange, Work
from registry.services import registry_revision_bump
from registry.services.revision import index_touch
from workers.engine.urlindex import url_key
from workers.engine.urls import UrlRejected, normalize_domain, normalize_url


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
        index_touch(IndexChange.Space.CLAIM, [dispute.claim_id])
    else:
        images = list(dispute_target_images(dispute).values_list("pk", flat=True))
        ImageExclusion.objects.bulk_create(
            ImageExclusion(image_id=pk, dispute=dispute, temporary=True)
            for pk in images
        )
        index_touch(IndexChange.Space.IMAGE, images)
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
        index_touch(IndexChange.Space.CLAIM, [dispute.claim_id])
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
    return dispute_target_images(dispute).count()


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
        # Compared as matching compares them: scheme and www do not matter.
        key, claim_key = url_key(href)[0], url_key(claim.normalized)[0]
        inside = key.startswith(claim_key) and key != claim_key
    else:
        domain = normalize_domain(claim.normalized)
        inside = (
            url.host == domain
            or url.host.endswith("." + domain)
            or (
                domain.startswith("www.") and url.host == domain[4:] and "." in url.host
            )
        )
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
    work_images = set(dispute_target_images(dispute).values_list("pk", flat=True))
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
        index_touch(IndexChange.Space.IMAGE, dispute.excluded_images)
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
