"""Proof of control of a domain: check a claim's token on its site, now or on
schedule, and stop enforcing a domain whose proof is lost until it is back.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from audit.services import audit_record, notify
from core.errors import Conflict, NotFound, Unavailable
from core.tasks import send, send_or_log
from registry.models import Claim, RightsHolder
from registry.services.claims import prefixes_activate_for_domain
from registry.services.publishing import published_read
from registry.services.revision import registry_revision_bump
from workers.engine import webproof

CLAIMS_URL = "/claims/"


# A sweep queues at most this many checks; the next sweep takes the rest.
SWEEP_BATCH = 1000


def proof_config() -> webproof.ProofConfig:
    """The fetcher's settings (tests replace it to reach a local server)."""
    return webproof.ProofConfig(
        scheme=settings.DOMAIN_PROOF_SCHEME,
        connect_timeout=settings.DOMAIN_PROOF_CONNECT_TIMEOUT,
        read_timeout=settings.DOMAIN_PROOF_READ_TIMEOUT,
        max_bytes=settings.DOMAIN_PROOF_MAX_BYTES,
        allow_private=settings.DOMAIN_PROOF_ALLOW_PRIVATE,
    )


def proof_file_url(claim: Claim) -> str:
    config = proof_config()
    return webproof.file_url(claim.normalized, config.scheme, config.port)


def proof_home_url(claim: Claim) -> str:
    config = proof_config()
    return webproof.home_url(claim.normalized, config.scheme, config.port)


def proof_meta_tag(claim: Claim) -> str:
    return webproof.meta_tag(claim.verification_token)


def _proof_lost(claim: Claim) -> bool:
    """Suspended because its proof disappeared (not with its account)."""
    return claim.state == Claim.State.SUSPENDED and not claim.suspended_from


def _checkable(claim: Claim) -> bool:
    user = claim.owner.user
    if claim.kind != Claim.Kind.DOMAIN or user.is_suspended or not user.email_verified:
        return False
    return claim.state in (Claim.State.UNVERIFIED, Claim.State.ACTIVE) or _proof_lost(
        claim
    )


def claim_domain_check_request(
    *, claim_id: int, owner: RightsHolder | None = None
) -> Claim:
    """Queue a check of a domain claim's proof ("Check now").

    `owner` limits it to that artist's claims (others' are not found); staff
    pass None. Raises NotFound, or Conflict for a claim that is not checked.
    """
    qs = Claim.objects.select_related("owner__user").filter(pk=claim_id)
    if owner is not None:
        qs = qs.filter(owner=owner)
    claim = qs.first()
    if claim is None:
        raise NotFound("claim not found")
    if claim.kind != Claim.Kind.DOMAIN:
        raise Conflict("only domain claims have a proof of control to check")
    if claim.owner.user.is_suspended:
        raise Conflict("the account is suspended: its claims are not checked")
    if not claim.owner.user.email_verified:
        raise Conflict(
            "confirm your email address first: claims are checked and enforced "
            "once it is confirmed"
        )
    if not _checkable(claim):
        state = claim.get_state_display().lower()
        raise Conflict(
            f"the claim is {state}: only unverified, active and suspended domain "
            "claims are checked"
        )
    # Sent now, not after a commit: nothing here is written, and the owner
    # must hear if the check was not queued (no sweep retries an owner's
    # "Check now"; the daily sweep re-checks only enforced claims).
    if not send_or_log("registry.claim_domain_check", claim.pk):
        raise Unavailable(
            "the check could not be queued: the task queue is unreachable; "
            "try again in a minute",
            code="queue_unavailable",
        )
    return claim


def claim_domain_check(*, claim_id: int, scheduled: bool = False) -> Claim | None:
    """Fetch the proof of a domain claim and move its state (the worker's job).

    unverified -> active on success; active -> suspended after
    DOMAIN_PROOF_FAILURES_TO_SUSPEND failed checks in a row ("proof lost");
    suspended (proof lost) -> active when it is back. Every state change bumps
    the revision, is audited and notified. `scheduled` checks (the sweep) skip
    a claim checked recently, so a duplicated message does nothing.
    """
    claim = (
        Claim.objects.select_related("owner__user")
        .filter(pk=claim_id, kind=Claim.Kind.DOMAIN)
        .first()
    )
    if claim is None or not _checkable(claim):
        return claim
    if scheduled and claim.proof_checked_at is not None:
        due = claim.proof_checked_at + timedelta(
            seconds=settings.DOMAIN_PROOF_RECHECK_SECONDS
        )
        if timezone.now() < due:
            return claim

    # The network, slow and untrusted, stays outside the transaction.
    result = webproof.check_domain(
        claim.normalized, claim.verification_token, proof_config()
    )
    # With the proof, what the site publishes of the refusal (its robots.txt,
    # tdmrep.json, RSL licence and ai.txt: the artist's publish page).
    published = (
        published_read(
            claim.normalized,
            proof_config(),
            offered=claim.opt_ins.filter(until_revision=None).exists(),
        )
        if result.ok
        else None
    )

    with transaction.atomic():
        locked = (
            Claim.objects.select_for_update()
            .select_related("owner__user")
            .filter(pk=claim.pk)
            .first()
        )
        if locked is None or locked.state != claim.state or not _checkable(locked):
            return locked  # changed while we were fetching: that change wins
        now = timezone.now()
        before = locked.state
        locked.proof_checked_at = now
        if result.ok:
            locked.proof_method = result.method
            locked.proof_error = ""
            locked.proof_failures = 0
            locked.published = published
            if before != Claim.State.ACTIVE:
                locked.state = Claim.State.ACTIVE
                locked.activated_at = now
        else:
            locked.proof_method = ""
            locked.proof_error = result.error[:2000]
            locked.proof_failures += 1
            if (
                before == Claim.State.ACTIVE
                and locked.proof_failures >= settings.DOMAIN_PROOF_FAILURES_TO_SUSPEND
            ):
                locked.state = Claim.State.SUSPENDED
        locked.save()
        if locked.state != before:
            _domain_state_changed(locked, before)
    return locked


def _domain_state_changed(claim: Claim, before: str) -> None:
    domain = claim.normalized
    if claim.state == Claim.State.ACTIVE:
        # The proof also stands for the holder's prefixes on this host.
        prefixes_activate_for_domain(domain=claim)
    if claim.state == Claim.State.ACTIVE and before == Claim.State.UNVERIFIED:
        action, kind = "claim.domain_verified", "claim.domain_verified"
        subject = f"Domain verified: {domain} is now enforced"
        body = f"We found your token ({claim.proof_method}); the claim is enforced."
    elif claim.state == Claim.State.ACTIVE:
        action, kind = "claim.domain_proof_restored", "claim.domain_proof_restored"
        subject = f"Domain proof found again: {domain} is enforced again"
        body = f"We found your token again ({claim.proof_method})."
    else:
        action, kind = "claim.domain_proof_lost", "claim.domain_proof_lost"
        subject = f"Domain proof lost: {domain} is no longer enforced"
        body = (
            f"The last {claim.proof_failures} checks failed: {claim.proof_error}\n\n"
            "Serve the token again and press “Check now” on your claims page."
        )
    registry_revision_bump(reason=f"claim {claim.pk} {action.split('.', 1)[1]}")
    audit_record(
        actor=None,
        action=action,
        target=claim,
        holder=claim.owner,
        before={"state": before},
        after={"state": claim.state, "proof_method": claim.proof_method},
        reason=claim.proof_error,
    )
    notify(user=claim.owner.user, kind=kind, subject=subject, body=body, url=CLAIMS_URL)


def domain_proof_sweep() -> int:
    """Queue a check of every enforced (or proof-lost) domain claim that is due.

    Run by Celery beat every DOMAIN_PROOF_SWEEP_SECONDS; returns how many were
    queued. Unverified claims are checked when their owner asks ("Check now").
    """
    due = timezone.now() - timedelta(seconds=settings.DOMAIN_PROOF_RECHECK_SECONDS)
    ids = list(
        Claim.objects.filter(kind=Claim.Kind.DOMAIN, owner__user__suspended_at=None)
        .filter(
            Q(state=Claim.State.ACTIVE)
            | Q(state=Claim.State.SUSPENDED, suspended_from="")
        )
        .filter(Q(proof_checked_at__isnull=True) | Q(proof_checked_at__lt=due))
        # Never checked first, on every database (PostgreSQL sorts NULL last).
        .order_by(F("proof_checked_at").asc(nulls_first=True), "id")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    for claim_id in ids:
        send("registry.claim_domain_check", claim_id, True)
    return len(ids)
