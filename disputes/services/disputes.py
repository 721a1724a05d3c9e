"""Disputes: open, respond, withdraw, resolve, confirm, and the deadline check.

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
the audit record in the same transaction.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from audit.services import notify
from core.errors import (
    Conflict,
    LimitReached,
    NotAllowed,
    NotFound,
    ValidationFailed,
)
from core.uploads import IncomingFile
from disputes.models import Dispute, DisputeEvidence
from disputes.selectors import dispute_check_visible, disputer_label
from disputes.services.evidence import (
    _clean_urls,
    _evidence_delete,
    _evidence_save,
    _evidence_store,
)
from disputes.services.outcomes import (
    _apply_outcome,
    _audit,
    _check_outcome,
    _needs_second_admin,
    _suspend,
    _unsuspend,
)
from optout.selectors import account_was_shown
from registry.models import Claim, Image, Work

log = logging.getLogger(__name__)


def dispute_url(dispute: Dispute) -> str:
    return reverse("dispute_detail", args=[dispute.pk])


def _state_label(state: str) -> str:
    return state.replace("_", " ")


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


def dispute_target_for(*, user: User, target: str) -> Target:
    """The target as `user` may see it: admins see all; anyone an enforced
    claim (lookups and the Spawning endpoint show those); a work or image only
    through the account's own jobs' matches or a lookup that returned it.
    Else NotFound, as for a target that does not exist, so ids cannot be
    walked to see others' works."""
    parsed = target_parse(target)
    obj = parsed.obj
    if user.is_staff:
        return parsed
    if isinstance(obj, Claim):
        if obj.state == Claim.State.ACTIVE or account_was_shown(
            user=user, claim_id=obj.pk
        ):
            return parsed
    else:
        image_ids = [obj.pk] if isinstance(obj, Image) else obj.images.values("pk")
        holder_user_id = (
            obj.work.owner.user_id if isinstance(obj, Image) else obj.owner.user_id
        )
        if holder_user_id == user.pk or account_was_shown(
            user=user, image_ids=image_ids
        ):
            return parsed
    raise NotFound(f"{parsed.type} {obj.pk} not found", field="target")


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


def dispute_create(
    *,
    disputer: User,
    target: str,
    grounds: str,
    statement: str,
    evidence_urls: Iterable[str] = (),
    files: Sequence[IncomingFile] = (),
    named: bool = False,
) -> Dispute:
    """Open a dispute; it awaits the claimant's response at once.

    `named`: the claimant sees the disputer's username (else "another user").
    Raises NotAllowed (email not confirmed), ValidationFailed (bad grounds,
    too short a statement, bad URL or file), NotFound (no such target),
    LimitReached (too many disputes open or opened today), Conflict (already
    disputed by you and not resolved, the same grounds already decided, or
    nothing left to dispute).
    """
    if not disputer.email_verified:
        raise NotAllowed(
            "confirm your email address before you open a dispute: open the link "
            "we emailed you, or ask for a new one on your account page",
            code="email_unverified",
        )
    parsed = dispute_target_for(user=disputer, target=target)
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
    least = settings.DISPUTE_STATEMENT_MIN_CHARS
    if len(statement) < least:
        raise ValidationFailed(
            f"statement: say why the claim is wrong in at least {least} "
            f"characters (you wrote {len(statement)}), with what shows it",
            field="statement",
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
    _check_limits(disputer)

    stored = _evidence_store(files)
    try:
        with transaction.atomic():
            dispute = _dispute_open(
                disputer, parsed, grounds, statement, urls, named=named
            )
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


def _check_limits(disputer: User) -> None:
    """One account's reach: disputes open at once, and opened in 24 hours."""
    mine = Dispute.objects.filter(disputer=disputer)
    most_open = settings.DISPUTE_MAX_OPEN_PER_ACCOUNT
    if mine.exclude(state__in=Dispute.FINAL_STATES).count() >= most_open:
        raise LimitReached(
            f"you have {most_open} disputes open, the most one account may have; "
            "wait for some to be decided, or withdraw one"
        )
    per_day = settings.DISPUTE_MAX_PER_DAY
    since = timezone.now() - timedelta(days=1)
    if mine.filter(created__gte=since).count() >= per_day:
        raise LimitReached(
            f"you opened {per_day} disputes in the last 24 hours, the most one "
            "account may; try again tomorrow"
        )


def _sentence_start(label: str) -> str:
    return "Another user" if label == "another user" else label


def _dispute_open(
    disputer: User,
    target: Target,
    grounds: str,
    statement: str,
    urls: list[str],
    *,
    named: bool,
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
        disputer_named=named,
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
            f"{_sentence_start(disputer_label(dispute, holder.user))} disputes "
            f"your {target.type} “{obj}” "
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
            dispute_check_visible(dispute, user)
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
        dispute_check_visible(dispute, user)
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

    Raises NotAllowed (not an admin, or an admin who is a party: who opened
    the dispute or holds what it is about), ValidationFailed (no reason, bad
    outcome or narrowing), Conflict (the dispute is not awaiting a decision).
    """
    if not admin.is_staff:
        raise NotAllowed("only admins decide disputes")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("reason: say why you decided so", field="reason")
    with transaction.atomic():
        dispute = _locked(dispute_id)
        _not_a_party(dispute, admin)
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


def _not_a_party(dispute: Dispute, admin: User) -> None:
    """No admin decides a dispute they opened or one about what they hold."""
    if dispute.disputer_id == admin.pk:
        raise NotAllowed("you opened this dispute; another admin must decide it")
    if dispute.holder.user_id == admin.pk:
        raise NotAllowed(
            "the dispute is about your own work or claim; another admin must decide it"
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
        _not_a_party(dispute, admin)
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
        # The declined proposal's reason stays in the audit log, not on the
        # dispute, which is back under review with no decision.
        dispute.decision_reason = ""
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


def _lapse_needs_admin(dispute: Dispute) -> str:
    """Why an unanswered dispute must go to an admin rather than revoke its
    target by itself ("" when it may lapse): one account cannot switch off
    others' opt-outs just by waiting."""
    if not settings.DISPUTE_UNANSWERED_RELEASES:
        return "an admin will decide"
    disputer = dispute.disputer
    now = timezone.now()
    days = settings.DISPUTE_TRUSTED_ACCOUNT_DAYS
    if disputer.date_joined > now - timedelta(days=days):
        return (
            f"the disputer's account is younger than {days} days, so an admin decides"
        )
    most = settings.DISPUTE_TRUSTED_MAX_OPEN
    mine = Dispute.objects.filter(disputer=disputer)
    if mine.exclude(state__in=Dispute.FINAL_STATES).count() > most:
        return f"the disputer has more than {most} disputes open, so an admin decides"
    per_day = settings.DISPUTE_LAPSES_PER_DAY
    lapsed_today = mine.filter(
        lapsed=True, decided_at__gte=now - timedelta(days=1)
    ).count()
    if lapsed_today >= per_day:
        return (
            f"the disputer's disputes already released {lapsed_today} target(s) "
            "unanswered in the last 24 hours, so an admin decides"
        )
    return ""


def _lapse(dispute: Dispute) -> str:
    before = dispute.state
    reason = "the claimant did not respond by the deadline"
    to_admin = _lapse_needs_admin(dispute)
    if to_admin:
        dispute.state = Dispute.State.UNDER_REVIEW
        dispute.save(update_fields=["state", "updated"])
        _audit(
            dispute,
            actor=None,
            action="dispute.unanswered",
            before={"state": before},
            after={"state": dispute.state},
            reason=f"{reason}; {to_admin}",
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


def disputes_withdraw_for_account(*, user: User) -> int:
    """Withdraw the unresolved disputes an account opened (account deletion)."""
    ids = list(
        Dispute.objects.filter(disputer=user)
        .exclude(state__in=Dispute.FINAL_STATES)
        .values_list("pk", flat=True)
    )
    for dispute_id in ids:
        dispute_withdraw(user=user, dispute_id=dispute_id)
    return len(ids)
