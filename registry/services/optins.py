"""Opt-ins: a rights holder offers what one of their claims covers, or one of
their works, for AI training on stated terms (a licence, a payment kind,
a contact).

Consent is worth something to a curator only when it comes from whoever
controls the work, so an opt-in needs a proof the registry checked: the
holder's enforced domain claim on the host of the URL, prefix or domain
(for a work, on the host of one of its source URLs). A stranger can refuse
on someone's behalf (a removal harms nobody) but never consent for them.

Each opt-in is in force from the revision that started it until the one
that ended it (registry.models.OptIn), so a job reads the consents of its
revision. An opt-in ends when its holder ends it or changes its terms, and
by itself at the first revision at which its target is no longer enforced
or its proof no longer holds (a domain claim withdrawn, suspended, revoked;
`opt_ins_revalidate`, called by every revision bump that drops a claim or
an image).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.services import audit_record
from core.errors import Conflict, NotFound, ValidationFailed
from registry.models import (
    PAYMENT_KINDS,
    Claim,
    OptIn,
    RightsHolder,
    Work,
    prefix_host,
)
from registry.services.revision import registry_revision_bump
from workers.engine.urls import UrlRejected, normalize_url

OPT_IN_KINDS = (Claim.Kind.URL, Claim.Kind.PREFIX, Claim.Kind.DOMAIN)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _clean_terms(licence: str, payment: str, contact: str) -> tuple[str, str, str]:
    licence = (licence or "").strip()
    if not licence:
        raise ValidationFailed(
            "licence: give the URL of your licence's terms (or of an RSL "
            "licence document)",
            field="licence",
        )
    if len(licence) > 2048 or not re.match(r"^https?://[^\s/]+", licence):
        raise ValidationFailed(
            "licence: an http(s) URL of at most 2,048 characters", field="licence"
        )
    payment = (payment or "").strip()
    if payment not in PAYMENT_KINDS:
        raise ValidationFailed(
            f"payment: {payment!r} is not an RSL payment kind; choose from "
            + ", ".join(PAYMENT_KINDS),
            field="payment",
        )
    contact = (contact or "").strip()
    if contact and not (
        (_EMAIL.match(contact) or re.match(r"^https?://[^\s/]+", contact))
        and len(contact) <= 254
    ):
        raise ValidationFailed(
            "contact: an email address or an http(s) URL, at most 254 characters",
            field="contact",
        )
    return licence, payment, contact


def _proving_domain(owner: RightsHolder, host: str) -> str | None:
    """The owner's enforced domain claim `host` is on (or under), if any."""
    host = host.removeprefix("www.")
    domains = Claim.objects.filter(
        owner=owner, kind=Claim.Kind.DOMAIN, state=Claim.State.ACTIVE
    ).values_list("normalized", flat=True)
    for domain in sorted(domains, key=len, reverse=True):
        if host == domain or host.endswith("." + domain):
            return domain
    return None


def _claim_proof(claim: Claim) -> str:
    """How the claim's consent is verified, or ValidationFailed saying why
    it cannot be."""
    if claim.kind not in OPT_IN_KINDS:
        raise ValidationFailed(
            "claim: only URL, prefix and domain claims can be offered for "
            "training; a style is not a work",
            field="claim",
        )
    if not claim.is_enforced:
        raise Conflict(
            f"the claim is {claim.get_state_display()}; only an enforced claim "
            "can be offered for training"
        )
    host = (
        claim.normalized
        if claim.kind == Claim.Kind.DOMAIN
        else (prefix_host(claim.normalized))
    )
    domain = _proving_domain(claim.owner, host)
    if domain is None:
        raise ValidationFailed(
            f"claim: consent counts only from whoever controls the site: claim "
            f"the domain {host} (or a parent domain) and verify it first",
            field="claim",
        )
    return f"domain proof ({domain})"


def _work_proof(work: Work) -> str:
    if work.status != Work.Status.ACTIVE:
        raise Conflict("the work is withdrawn")
    hosts = []
    for url in work.source_urls or []:
        try:
            hosts.append(normalize_url(str(url)).host)
        except UrlRejected:
            continue
    for host in hosts:
        domain = _proving_domain(work.owner, host)
        if domain is not None:
            return f"domain proof ({domain})"
    raise ValidationFailed(
        "source_urls: consent counts only from whoever controls where the work "
        "is published: add the work's URL on a domain you have claimed and "
        "verified"
        + (
            f" (its source URLs are on {', '.join(sorted(set(hosts)))})"
            if hosts
            else ""
        ),
        field="source_urls",
    )


def _target(
    owner: RightsHolder, claim_id: int | None, work_id: int | None
) -> Claim | Work:
    if (claim_id is None) == (work_id is None):
        raise ValidationFailed("name a claim or a work", field="claim")
    if claim_id is not None:
        claim = (
            Claim.objects.select_for_update()
            .select_related("owner")
            .filter(pk=claim_id, owner=owner)
            .first()
        )
        if claim is None:
            raise NotFound("claim not found")
        return claim
    work = (
        Work.objects.select_for_update()
        .select_related("owner")
        .filter(pk=work_id, owner=owner)
        .first()
    )
    if work is None:
        raise NotFound("work not found")
    return work


def _open(target: Claim | Work) -> OptIn | None:
    field = "claim" if isinstance(target, Claim) else "work"
    return OptIn.objects.filter(**{field: target}, until_revision=None).first()


def _set_training(target: Claim | Work, value: str) -> None:
    # An update, not a save: preferences are not what the index holds, so
    # the claim is not touched for it.
    if isinstance(target, Claim):
        preferences = {**(target.preferences or {}), "train-ai": value}
        Claim.objects.filter(pk=target.pk).update(preferences=preferences)
        target.preferences = preferences


def opt_in_set(
    *,
    owner: RightsHolder,
    claim_id: int | None = None,
    work_id: int | None = None,
    licence: str,
    payment: str,
    contact: str = "",
) -> OptIn:
    """Offer a claim's URLs or a work for AI training on these terms (or
    change the terms of an offer). Raises ValidationFailed naming the field
    (licence, payment, contact; claim or source_urls when no proof holds)."""
    licence, payment, contact = _clean_terms(licence, payment, contact)
    with transaction.atomic():
        target = _target(owner, claim_id, work_id)
        verified = (
            _claim_proof(target) if isinstance(target, Claim) else _work_proof(target)
        )
        before = _open(target)
        if before is not None and (
            before.licence,
            before.payment,
            before.contact,
            before.verified,
        ) == (licence, payment, contact, verified):
            return before
        revision = registry_revision_bump(
            reason=f"opt-in for {'claim' if isinstance(target, Claim) else 'work'} "
            f"{target.pk}"
        )
        if before is not None:
            OptIn.objects.filter(pk=before.pk).update(
                until_revision=revision, ended=timezone.now()
            )
        opt_in = OptIn.objects.create(
            owner=owner,
            claim=target if isinstance(target, Claim) else None,
            work=target if isinstance(target, Work) else None,
            licence=licence,
            payment=payment,
            contact=contact,
            verified=verified,
            from_revision=revision,
        )
        _set_training(target, "y")
        audit_record(
            actor=owner.user,
            action="opt_in.set",
            target=target,
            holder=owner,
            before=before.terms if before else None,
            after=opt_in.terms,
        )
    return opt_in


def opt_in_end(
    *, owner: RightsHolder, claim_id: int | None = None, work_id: int | None = None
) -> None:
    """Withdraw the offer: from the next revision, matches refuse training
    again. Raises Conflict when there is none."""
    with transaction.atomic():
        target = _target(owner, claim_id, work_id)
        current = _open(target)
        if current is None:
            raise Conflict("this is not offered for training")
        revision = registry_revision_bump(reason=f"opt-in {current.pk} ended")
        OptIn.objects.filter(pk=current.pk).update(
            until_revision=revision, ended=timezone.now()
        )
        _set_training(target, "n")
        audit_record(
            actor=owner.user,
            action="opt_in.end",
            target=target,
            holder=owner,
            before=current.terms,
        )


def opt_ins_revalidate(*, revision: int, owner_ids: Iterable[int] | None) -> int:
    """End, at `revision`, the open opt-ins (of these owners; all when None)
    whose target is no longer enforced or whose proof no longer holds.
    Returns how many ended."""
    rows = OptIn.objects.filter(until_revision=None, from_revision__lt=revision)
    if owner_ids is not None:
        rows = rows.filter(owner_id__in=set(owner_ids))
    ended = []
    for opt_in in rows.select_related("claim__owner", "work__owner"):
        try:
            if opt_in.claim is not None:
                _claim_proof(opt_in.claim)
            else:
                _work_proof(opt_in.work)
        except (ValidationFailed, Conflict):
            ended.append(opt_in)
    if ended:
        OptIn.objects.filter(pk__in=[o.pk for o in ended]).update(
            until_revision=revision, ended=timezone.now()
        )
        claims = [o.claim_id for o in ended if o.claim_id]
        for claim in Claim.objects.filter(pk__in=claims):
            _set_training(claim, "n")
    return len(ended)


def opt_in_for(target: Claim | Work) -> OptIn | None:
    """The offer standing for a claim or work, if any."""
    return _open(target)


def opt_ins_for_owner(owner: RightsHolder) -> dict[str, OptIn]:
    """target key ("claim:12", "work:3") -> the owner's standing offers."""
    return {
        o.target_key: o
        for o in OptIn.objects.filter(owner=owner, until_revision=None).filter(
            Q(claim__isnull=False) | Q(work__isnull=False)
        )
    }
