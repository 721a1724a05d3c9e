"""Claims: create, withdraw, review (style claims), and the suspension of an
account's claims with the account.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from audit.services import audit_record, notify
from core.errors import Conflict, NotFound, ValidationFailed
from registry.models import (
    CLAIM_CATEGORIES,
    Claim,
    RightsHolder,
    host_in_domains,
    no_training,
    prefix_host,
)
from registry.services.revision import registry_revision_bump
from workers.engine.style import normalize_text
from workers.engine.urls import UrlRejected, normalize_domain, normalize_url


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
    preferences: Mapping[str, str] | None = None,
    bump_revision: bool = True,
) -> Claim:
    """Claim a URL, URL prefix, domain or style name.

    `preferences` (aipref category -> "y" or "n"): a claim always refuses AI
    training (`train-ai` "n"); URL, prefix and domain claims may also say
    whether search and AI use (`ai-use`) are allowed.

    URL claims are enforced at once; a prefix at once only on a host whose
    control the holder has proved (an active domain claim on it or a parent
    domain), else it waits for that proof or an admin (pending review: a
    stranger must not opt out a whole host); a domain waits for proof of
    control (state unverified), a style name for an admin (pending review).
    """
    normalized = _claim_normalize(kind, value)
    stated = claim_preferences_clean(kind, preferences)
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
        Claim.Kind.PREFIX: Claim.State.PENDING_REVIEW,
        Claim.Kind.DOMAIN: Claim.State.UNVERIFIED,
        Claim.Kind.STYLE: Claim.State.PENDING_REVIEW,
    }[Claim.Kind(kind)]
    blocked_by = None
    if kind in (Claim.Kind.URL, Claim.Kind.PREFIX):
        blocked_by = _revoked_cover(owner, normalized)
        if (
            blocked_by is not None
            and blocked_by.kind == kind
            and _bare(blocked_by.normalized) == _bare(normalized)
        ):
            raise ValidationFailed(
                f"value: an admin's decision revoked this claim of yours (claim "
                f"#{blocked_by.pk}); it cannot be claimed again, but you can ask for "
                "the decision to be reviewed",
                field="value",
            )
    if blocked_by is not None or (
        kind in (Claim.Kind.URL, Claim.Kind.PREFIX) and not owner.user.email_verified
    ):
        state = Claim.State.PENDING_REVIEW
    elif kind == Claim.Kind.PREFIX and host_proved(owner, prefix_host(normalized)):
        state = Claim.State.ACTIVE
    elif kind == Claim.Kind.URL and _over_host_cap(owner, prefix_host(normalized)):
        state = Claim.State.PENDING_REVIEW
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
                preferences=stated,
                state=state,
                verification_token=(
                    secrets.token_urlsafe(24) if kind == Claim.Kind.DOMAIN else ""
                ),
                activated_at=timezone.now() if state == Claim.State.ACTIVE else None,
                blocked_by=blocked_by,
            )
            if claim.is_enforced and bump_revision:
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


BULK_KINDS = (Claim.Kind.URL, Claim.Kind.PREFIX, Claim.Kind.DOMAIN)


@dataclass(frozen=True)
class BulkLineError:
    line: int
    value: str
    message: str


@dataclass(frozen=True)
class BulkResult:
    created: list[Claim]
    errors: list[BulkLineError]


def _bulk_lines(text: str, default_kind: str) -> Iterable[tuple[int, str, str]]:
    """(line number, kind, value) for each line that says something.

    A line is a value of `default_kind`, or `kind,value` (CSV: a header
    `kind,value` is skipped, quotes are read as CSV quotes). Blank lines and
    lines starting with # are skipped.
    """
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [c.strip() for c in row]
        if not cells or not any(cells) or cells[0].startswith("#"):
            continue
        if len(cells) >= 2 and cells[0].lower() in BULK_KINDS:
            kind, value = cells[0].lower(), cells[1]
        elif len(cells) >= 2 and [c.lower() for c in cells[:2]] == ["kind", "value"]:
            continue
        else:
            kind, value = default_kind, ",".join(row).strip()
        yield number, kind, value


def claims_text_from_file(*, name: str, data: bytes) -> str:
    """A bulk claims file's text: UTF-8 (a BOM is dropped), at most
    CLAIM_BULK_MAX_BYTES. Raises ValidationFailed naming the file."""
    most = settings.CLAIM_BULK_MAX_BYTES
    if len(data) > most:
        raise ValidationFailed(
            f"file: {name} is {len(data):,} bytes; at most {most:,}", field="file"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationFailed(
            f"file: {name} is not UTF-8 text (byte {exc.start})", field="file"
        ) from None


def claim_preferences_clean(
    kind: str, preferences: Mapping[str, str] | None
) -> dict[str, str]:
    """A claim's preferences as stored: train-ai "n", and search and ai-use
    as given (URL, prefix and domain claims). Raises ValidationFailed naming
    `preferences` and the category."""
    stated = no_training()
    for category, value in (preferences or {}).items():
        if category not in CLAIM_CATEGORIES:
            raise ValidationFailed(
                f"preferences: unknown category {category!r}; use "
                + ", ".join(CLAIM_CATEGORIES),
                field="preferences",
            )
        if value not in ("y", "n"):
            raise ValidationFailed(
                f"preferences: {category} is y (allowed) or n (not allowed)",
                field="preferences",
            )
        if category == "train-ai" and value != "n":
            raise ValidationFailed(
                "preferences: a claim refuses AI training (train-ai=n); to "
                "offer what it covers for training on terms, opt it in once it "
                "is enforced (PUT /api/v1/claims/<id>/opt-in/)",
                field="preferences",
            )
        if category != "train-ai" and kind == Claim.Kind.STYLE:
            raise ValidationFailed(
                "preferences: a style claim speaks of training only; search and "
                "ai-use are for URL, prefix and domain claims",
                field="preferences",
            )
        stated[category] = value
    return {c: stated[c] for c in CLAIM_CATEGORIES if c in stated}


def claim_create_bulk(
    *, owner: RightsHolder, text: str, default_kind: str = Claim.Kind.URL
) -> BulkResult:
    """Claim many URLs, prefixes or domains at once (pasted or a text/CSV file).

    Each line goes through claim_create's rules (proof, caps, revoked claims);
    a bad line is reported with its number and message and the good ones are
    kept. One revision bump for the lot. Raises ValidationFailed when there are
    more than CLAIM_BULK_MAX_LINES lines or none.
    """
    if default_kind not in BULK_KINDS:
        raise ValidationFailed(
            "kind: bulk claims are url, prefix or domain", field="kind"
        )
    limit = settings.CLAIM_BULK_MAX_LINES
    if text.count("\n") > limit * 2:
        raise ValidationFailed(f"lines: at most {limit:,} lines at once", field="lines")
    try:
        lines = list(_bulk_lines(text, default_kind))
    except csv.Error as exc:
        raise ValidationFailed(
            f"lines: not readable as CSV: {exc}", field="lines"
        ) from None
    if not lines:
        raise ValidationFailed("lines: give at least one URL", field="lines")
    if len(lines) > limit:
        raise ValidationFailed(
            f"lines: {len(lines):,} claims given; at most {limit:,} at once",
            field="lines",
        )
    created: list[Claim] = []
    errors: list[BulkLineError] = []
    with transaction.atomic():
        for number, kind, value in lines:
            try:
                created.append(
                    claim_create(
                        owner=owner, kind=kind, value=value, bump_revision=False
                    )
                )
            except ValidationFailed as exc:
                message = exc.message.removeprefix("value: ")
                errors.append(BulkLineError(number, value[:300], message))
        if any(c.is_enforced for c in created):
            registry_revision_bump(reason=f"{len(created)} claims created at once")
    return BulkResult(created, errors)


def _bare(normalized: str) -> str:
    """A normalized URL without its scheme and a leading www.: how claims
    cover each other (the URL equivalences)."""
    rest = normalized.split("://", 1)[-1]
    return rest.removeprefix("www.")


def _revoked_cover(owner: RightsHolder, normalized: str) -> Claim | None:
    """The holder's revoked claim (URL, prefix or domain) covering `normalized`."""
    bare = _bare(normalized)
    host = prefix_host(normalized)
    for claim in Claim.objects.filter(
        owner=owner,
        state=Claim.State.REVOKED,
        kind__in=[Claim.Kind.URL, Claim.Kind.PREFIX, Claim.Kind.DOMAIN],
    ).order_by("id"):
        if claim.kind == Claim.Kind.DOMAIN:
            if host_in_domains(host, [claim.normalized]):
                return claim
        elif claim.kind == Claim.Kind.PREFIX:
            if bare.startswith(_bare(claim.normalized)):
                return claim
        elif bare == _bare(claim.normalized):
            return claim
    return None


def _over_host_cap(owner: RightsHolder, host: str) -> bool:
    """Whether a new exact claim on an unproved `host` is past the cap."""
    if host_proved(owner, host):
        return False
    on_host = Q()
    for scheme in ("http", "https"):
        for name in (host, f"www.{host}"):
            on_host |= Q(normalized__startswith=f"{scheme}://{name}/")
            on_host |= Q(normalized__startswith=f"{scheme}://{name}:")
    enforced = Claim.objects.filter(
        on_host, owner=owner, kind=Claim.Kind.URL, state=Claim.State.ACTIVE
    ).count()
    return enforced >= settings.CLAIM_UNPROVED_URLS_PER_HOST


def host_proved(owner: RightsHolder, host: str) -> bool:
    """Whether `owner` has proved control of `host` or a parent domain."""
    domains = Claim.objects.filter(
        owner=owner, kind=Claim.Kind.DOMAIN, state=Claim.State.ACTIVE
    ).values_list("normalized", flat=True)
    return host_in_domains(host, domains)


def _activate_waiting(claim: Claim, *, reason: str) -> None:
    """Enforce a claim that waited (pending review), recording why."""
    claim.state = Claim.State.ACTIVE
    claim.activated_at = timezone.now()
    claim.save(update_fields=["state", "activated_at"])
    audit_record(
        actor=None,
        action="claim.approve",
        target=claim,
        holder=claim.owner,
        before={"state": Claim.State.PENDING_REVIEW},
        after={"state": claim.state},
        reason=reason,
    )


def prefixes_activate_for_domain(*, domain: Claim) -> list[int]:
    """Enforce the holder's pending prefixes (and exact URLs past the cap) on
    a domain it has just proved.

    Called inside the proof's transaction; the caller bumps the revision.
    """
    activated = []
    pending = Claim.objects.select_for_update().filter(
        owner=domain.owner,
        kind__in=[Claim.Kind.PREFIX, Claim.Kind.URL],
        state=Claim.State.PENDING_REVIEW,
        blocked_by__isnull=True,  # under a revoked claim: an admin decides
    )
    for claim in pending:
        host = prefix_host(claim.normalized)
        if host != domain.normalized and not host.endswith("." + domain.normalized):
            continue
        _activate_waiting(claim, reason=f"control of {domain.normalized} proved")
        activated.append(claim.pk)
    return activated


def claims_activate_for_verified_email(*, user: User) -> list[int]:
    """Enforce the account's URL and prefix claims that waited for its email
    address to be confirmed, under the same rules as a new claim: a prefix
    only on a proved host, exact URLs up to the cap on an unproved one; those
    under a revoked claim stay for an admin. Bumps the revision if any is
    enforced. Called inside the verification's transaction.
    """
    activated: list[int] = []
    pending = (
        Claim.objects.select_for_update()
        .select_related("owner")
        .filter(
            owner__user=user,
            kind__in=[Claim.Kind.URL, Claim.Kind.PREFIX],
            state=Claim.State.PENDING_REVIEW,
            blocked_by__isnull=True,
        )
        .order_by("id")
    )
    for claim in pending:
        host = prefix_host(claim.normalized)
        if claim.kind == Claim.Kind.PREFIX:
            if not host_proved(claim.owner, host):
                continue
        elif _over_host_cap(claim.owner, host):
            continue
        _activate_waiting(claim, reason="email address confirmed")
        activated.append(claim.pk)
    if activated:
        registry_revision_bump(reason=f"account {user.pk} confirmed its email")
    return activated


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


_KIND_WORDS = {
    Claim.Kind.STYLE: "style",
    Claim.Kind.PREFIX: "prefix",
    Claim.Kind.URL: "URL",
    Claim.Kind.DOMAIN: "domain",
}


def claim_review(
    *, claim_id: int, approve: bool, admin: User | None = None, reason: str = ""
) -> Claim:
    """An admin approves or rejects a claim pending review (a style name, or
    a prefix on a host its claimant has not proved).

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
            subject=f"Your {_KIND_WORDS[claim.kind]} claim “{claim.value}” was {verb}",
            body=(
                (
                    "It is now enforced: captions naming it are flagged in datasets."
                    if claim.kind == Claim.Kind.STYLE
                    else "It is now enforced: every URL under it is opted out."
                    if claim.kind == Claim.Kind.PREFIX
                    else "It is now enforced."
                )
                if approve
                else "It is not enforced."
            )
            + (f"\n\nReason: {reason}" if reason else ""),
            url="/claims/",
        )
    return claim


# --- claims of a suspended account ---------------------------------------------

SUSPENDABLE = (Claim.State.ACTIVE, Claim.State.UNVERIFIED, Claim.State.PENDING_REVIEW)


def claims_suspend_for_account(*, admin: User, user: User, reason: str) -> list[int]:
    """Suspend the account's live claims (inside the caller's transaction).

    Each claim remembers its state in `suspended_from`, so reinstating restores
    it exactly. Bumps the registry revision when an enforced claim stops.
    Returns the ids of the claims suspended.
    """
    holder = RightsHolder.objects.filter(user=user).first()
    claims = list(
        Claim.objects.select_for_update()
        .filter(owner__user=user, state__in=SUSPENDABLE)
        .order_by("id")
    )
    enforced = any(c.state == Claim.State.ACTIVE for c in claims)
    for claim in claims:
        before = claim.state
        claim.suspended_from = before
        claim.state = Claim.State.SUSPENDED
        claim.save(update_fields=["state", "suspended_from"])
        audit_record(
            actor=admin,
            action="claim.suspend",
            target=claim,
            holder=holder,
            before={"state": before},
            after={"state": claim.state},
            reason=reason,
        )
    if enforced:
        registry_revision_bump(reason=f"account {user.pk} suspended")
    return [c.pk for c in claims]


def claims_reinstate_for_account(*, admin: User, user: User, reason: str) -> list[int]:
    """Give back each claim claims_suspend_for_account suspended its old state."""
    holder = RightsHolder.objects.filter(user=user).first()
    claims = list(
        Claim.objects.select_for_update()
        .filter(owner__user=user, state=Claim.State.SUSPENDED)
        .exclude(suspended_from="")
        .order_by("id")
    )
    enforced = any(c.suspended_from == Claim.State.ACTIVE for c in claims)
    for claim in claims:
        claim.state = claim.suspended_from
        claim.suspended_from = ""
        claim.save(update_fields=["state", "suspended_from"])
        audit_record(
            actor=admin,
            action="claim.reinstate",
            target=claim,
            holder=holder,
            before={"state": Claim.State.SUSPENDED},
            after={"state": claim.state},
            reason=reason,
        )
    if enforced:
        registry_revision_bump(reason=f"account {user.pk} reinstated")
    return [c.pk for c in claims]


def holdings_withdraw_for_account(*, user: User) -> dict[str, int]:
    """Withdraw every claim and work of an account that is being deleted:
    enforced or waiting ones stop at once (revoked and rejected ones stay as
    the record of a decision). Returns how many of each."""
    from registry.services.works import work_withdraw

    holder = RightsHolder.objects.filter(user=user).first()
    if holder is None:
        return {"claims": 0, "works": 0}
    claims = Claim.objects.filter(owner=holder).exclude(
        state__in=[Claim.State.WITHDRAWN, Claim.State.REVOKED, Claim.State.REJECTED]
    )
    claim_ids = list(claims.values_list("pk", flat=True))
    for pk in claim_ids:
        claim_withdraw(owner=holder, claim_id=pk)
    work_ids = list(holder.works.filter(status="active").values_list("pk", flat=True))
    for pk in work_ids:
        work_withdraw(owner=holder, work_id=pk)
    return {"claims": len(claim_ids), "works": len(work_ids)}
