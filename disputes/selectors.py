"""Reads for disputes and false-match reports, and the match-exception filter
the matcher applies to every batch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet

from accounts.models import User
from audit.models import AuditEvent
from audit.selectors import audit_change_words, audit_sentence
from core.errors import NotFound
from disputes.models import Dispute, DisputeEvidence, FalseMatchReport, MatchException
from registry.models import Image
from workers.engine.exceptions import drop_excepted, row_keys, target_of

CLAIM_KINDS = {"url", "prefix", "domain", "style"}


HASH_KINDS = ("sha256", "md5", "phash", "pdq")


# Distances to at most this many of a work's images are shown.
MAX_COMPARED_IMAGES = 50


def disputer_label(dispute: Dispute, viewer: User | None) -> str:
    """How `viewer` sees who opened the dispute: the disputer and admins see the
    username; the claimant sees it only if the disputer chose to be named."""
    disputer = dispute.disputer
    if viewer is not None and (
        viewer.pk == disputer.pk or viewer.is_staff or dispute.disputer_named
    ):
        return disputer.username
    return "another user"


def dispute_timeline_rows(
    *, dispute: Dispute, viewer: User | None
) -> list[dict[str, Any]]:
    """The dispute's audit events as sentences, naming people as `viewer` may
    see them: admins (and viewer None, the review pages) see usernames;
    others "you", the claimant's name, the disputer's only if they chose to
    be named, "an admin", "the system"."""
    rows = []
    for event in dispute_timeline(dispute=dispute).select_related("actor"):
        actor = event.actor
        if actor is None:
            who = "the system"
        elif viewer is None or viewer.is_staff:
            who = actor.username
        elif actor.pk == viewer.pk:
            who = "you"
        elif actor.pk == dispute.disputer_id:
            who = disputer_label(dispute, viewer)
        elif actor.pk == dispute.holder.user_id:
            who = f"the claimant ({dispute.holder.display_name})"
        else:
            who = "an admin" if actor.is_staff else "another user"
        rows.append(
            {
                "event": event,
                "sentence": audit_sentence(event, who=who),
                "change": audit_change_words(event),
            }
        )
    return rows


def dispute_target_images(dispute: Dispute) -> QuerySet[Image]:
    if dispute.image_id:
        return Image.objects.filter(pk=dispute.image_id)
    if dispute.work_id:
        return Image.objects.filter(work_id=dispute.work_id)
    return Image.objects.none()


def dispute_check_visible(dispute: Dispute, user: User) -> None:
    """NotFound unless the user is staff, the disputer or the claimant."""

    if not (
        user.is_staff
        or dispute.disputer_id == user.pk
        or dispute.holder.user_id == user.pk
    ):
        raise NotFound("dispute not found")


def evidence_get_for_user(*, user: User, evidence_id: int) -> DisputeEvidence:
    """Evidence is for the dispute's parties and staff; NotFound for anyone else."""
    evidence = (
        DisputeEvidence.objects.select_related("dispute__holder")
        .filter(pk=evidence_id)
        .first()
    )
    if evidence is None or not (user.is_authenticated and user.is_active):
        raise NotFound("file not found")
    try:
        dispute_check_visible(evidence.dispute, user)
    except NotFound:
        raise NotFound("file not found") from None
    return evidence


def false_match_report_get_for_user(*, user: User, report_id: int) -> FalseMatchReport:
    """A report, for staff and the curator who made it; NotFound for others."""
    report = FalseMatchReport.objects.filter(pk=report_id).first()
    if (
        report is None
        or not (user.is_authenticated and user.is_active)
        or not (user.is_staff or report.reporter_id == user.pk)
    ):
        raise NotFound("report not found")
    return report


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
    dispute_check_visible(dispute, user)
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
        dispute_target_images(dispute).prefetch_related("fingerprints")[
            :MAX_COMPARED_IMAGES
        ]
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


batch_row_keys = row_keys


def match_exceptions_at(
    *, revision: int, targets: Iterable[str] | None = None
) -> dict[str, set[tuple[str, str]]]:
    """target -> the (key_type, key) pairs excepted at `revision`; all
    targets, or those named."""
    rows = MatchException.objects.filter(revision__lte=revision)
    if targets is not None:
        rows = rows.filter(target_key__in=set(targets))
    excepted: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for target, key_type, key in rows.values_list("target_key", "key_type", "key"):
        excepted[target].add((key_type, key))
    return dict(excepted)


def match_exceptions_filter(
    *, revision: int | None, batch: Any, found: list[Any]
) -> list[Any]:
    """Drop the engine's matches that a match exception (at `revision`) rules out.

    One query per batch, and only for the claims and images the batch hit.
    """
    if not found or revision is None:
        return found
    excepted = match_exceptions_at(
        revision=revision, targets={target_of(m) for m in found}
    )
    if not excepted:
        return found
    return drop_excepted(batch, found, excepted)


def disputes_export_for_account(*, user: User) -> list[dict[str, Any]]:
    """The disputes the account opened or had to answer, as it sees them."""
    rows = []
    for d in dispute_list_for_user(user=user).order_by("id"):
        rows.append(
            {
                "id": d.pk,
                "you_are": "disputer" if d.disputer_id == user.pk else "claimant",
                "target": d.target_key,
                "grounds": d.grounds,
                "statement": d.statement,
                "evidence_urls": d.evidence_urls,
                "response": d.response,
                "state": d.state,
                "outcome": d.outcome,
                "decision_reason": d.decision_reason,
                "created": d.created.isoformat(),
            }
        )
    return rows
