"""Reads for trust in the registry: audit log, notifications, style-claim review,
domain-proof problems, and where an artist's works and claims were found."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from workers.engine import manifests as engine_manifests
from workers.engine.perceptual import removes_row
from workers.engine.reports import csv_safe
from workers.engine.style import StyleIndex
from workers.engine.types import ChunkSpec, ManifestFormat

from .models import AuditEvent, Claim, Notification, RightsHolder, User, Work

# --- audit log ----------------------------------------------------------------
AUDIT_COLUMNS = (
    "id",
    "created",
    "action",
    "actor",
    "target_type",
    "target_id",
    "target_label",
    "holder_id",
    "holder",
    "before",
    "after",
    "reason",
    "revision",
)


@dataclass(frozen=True)
class AuditFilters:
    action: str = ""
    target_type: str = ""
    actor: str = ""  # a username
    holder: int | None = None
    since: date | None = None
    until: date | None = None  # inclusive


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def audit_event_list(
    *, filters: AuditFilters | None = None, holder: RightsHolder | None = None
) -> QuerySet[AuditEvent]:
    """Events, newest first; `holder` limits them to one artist's own trail."""
    qs = AuditEvent.objects.select_related("actor", "holder").order_by(
        "-created", "-id"
    )
    if holder is not None:
        qs = qs.filter(holder=holder)
    f = filters or AuditFilters()
    if f.action:
        qs = qs.filter(action=f.action)
    if f.target_type:
        qs = qs.filter(target_type=f.target_type)
    if f.actor:
        qs = qs.filter(actor__username__iexact=f.actor)
    if f.holder is not None:
        qs = qs.filter(holder_id=f.holder)
    if f.since:
        qs = qs.filter(created__gte=_day_start(f.since))
    if f.until:
        qs = qs.filter(created__lt=_day_start(f.until) + timedelta(days=1))
    return qs


def audit_actions() -> list[str]:
    return list(
        AuditEvent.objects.order_by("action")
        .values_list("action", flat=True)
        .distinct()
    )


def audit_target_types() -> list[str]:
    return list(
        AuditEvent.objects.order_by("target_type")
        .values_list("target_type", flat=True)
        .distinct()
    )


def audit_event_row(event: AuditEvent, *, show_actor: bool = True) -> dict[str, Any]:
    """One event as a flat dict (exports, API). Artists see no actor names."""
    actor = ""
    if event.actor_id is not None:
        actor = event.actor.username if show_actor else _role(event)
    return {
        "id": event.pk,
        "created": event.created.isoformat(),
        "action": event.action,
        "actor": actor or ("system" if event.actor_id is None else ""),
        "target_type": event.target_type,
        "target_id": event.target_id,
        "target_label": event.target_label,
        "holder_id": event.holder_id,
        "holder": event.holder.display_name if event.holder_id else "",
        "before": event.before,
        "after": event.after,
        "reason": event.reason,
        "revision": event.revision,
    }


def _role(event: AuditEvent) -> str:
    """Who acted, as the artist may see it: never another person's name."""
    if event.holder_id is not None and event.actor_id == event.holder.user_id:
        return "you"
    return "admin" if event.actor.is_staff else "another user"


def audit_csv_rows(
    events: QuerySet[AuditEvent], *, show_actor: bool = True
) -> Iterator[list[Any]]:
    """Header, then one row per event, spreadsheet-formula-safe (see reports)."""
    import json

    yield list(AUDIT_COLUMNS)
    for event in events.iterator(chunk_size=2000):
        row = audit_event_row(event, show_actor=show_actor)
        for key in ("before", "after"):
            row[key] = json.dumps(row[key], ensure_ascii=False, sort_keys=True)
        yield [csv_safe(row[c]) if row[c] is not None else "" for c in AUDIT_COLUMNS]


# --- notifications ------------------------------------------------------------
def notification_list_for_user(
    *, user: User, unread_only: bool = False
) -> QuerySet[Notification]:
    """Unread first, then newest first."""
    qs = Notification.objects.filter(user=user)
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    return qs.order_by(F("read_at").asc(nulls_first=True), "-created", "-id")


def notification_unread_count(*, user: User) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


# --- style-claim review -------------------------------------------------------
def style_review_queue() -> QuerySet[Claim]:
    return (
        Claim.objects.filter(kind=Claim.Kind.STYLE, state=Claim.State.PENDING_REVIEW)
        .select_related("owner__user")
        .order_by("created", "id")
    )


def style_claim_for_review(*, claim_id: int) -> Claim | None:
    return (
        Claim.objects.filter(pk=claim_id, kind=Claim.Kind.STYLE)
        .select_related("owner__user")
        .first()
    )


@dataclass
class CaptionHits:
    jobs_scanned: int = 0
    rows_scanned: int = 0
    rows_matched: int = 0
    jobs_matched: int = 0
    examples: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # jobs that could not be read


@dataclass
class SimilarClaim:
    claim: Claim
    same: bool  # the same normalized name (or alias)
    score: float  # 0..1, similarity of the closest pair of names


@dataclass
class StyleReview:
    claim: Claim
    holder: RightsHolder
    works_count: int
    other_claims: list[Claim]
    verified_links: list[Claim]
    similar: list[SimilarClaim]
    hits: CaptionHits
    recent_jobs: int
    rows_per_job: int

    @property
    def same_name_claims(self) -> list[SimilarClaim]:
        return [s for s in self.similar if s.same]


NEAR_NAME_RATIO = 0.8
NEAR_NAMES_SCANNED = 5000
EXAMPLES = 5


def style_review(*, claim: Claim) -> StyleReview:
    holder = claim.owner
    others = list(
        Claim.objects.filter(owner=holder).exclude(pk=claim.pk).order_by("kind", "id")
    )
    return StyleReview(
        claim=claim,
        holder=holder,
        works_count=Work.objects.filter(owner=holder).count(),
        other_claims=others,
        verified_links=[
            c
            for c in others
            if c.state == Claim.State.ACTIVE
            and c.kind in (Claim.Kind.DOMAIN, Claim.Kind.URL, Claim.Kind.PREFIX)
        ],
        similar=similar_style_claims(claim=claim),
        hits=style_caption_hits(
            names=[claim.normalized, *claim.aliases],
            jobs=settings.STYLE_REVIEW_RECENT_JOBS,
            rows_per_job=settings.STYLE_REVIEW_ROWS_PER_JOB,
        ),
        recent_jobs=settings.STYLE_REVIEW_RECENT_JOBS,
        rows_per_job=settings.STYLE_REVIEW_ROWS_PER_JOB,
    )


def similar_style_claims(*, claim: Claim) -> list[SimilarClaim]:
    """Other holders' live style claims with the same or a near name, the same
    first. Near: difflib's ratio >= 0.8 between any two of the names."""
    ours = {claim.normalized, *claim.aliases}
    live = (
        Claim.State.ACTIVE,
        Claim.State.PENDING_REVIEW,
        Claim.State.SUSPENDED,
        Claim.State.UNVERIFIED,
    )
    candidates = (
        Claim.objects.filter(kind=Claim.Kind.STYLE, state__in=live)
        .exclude(owner=claim.owner)
        .select_related("owner")
        .order_by("-id")[:NEAR_NAMES_SCANNED]
    )
    found: list[SimilarClaim] = []
    for other in candidates:
        theirs = {other.normalized, *other.aliases}
        if ours & theirs:
            found.append(SimilarClaim(claim=other, same=True, score=1.0))
            continue
        score = max(
            difflib.SequenceMatcher(None, a, b).ratio() for a in ours for b in theirs
        )
        if score >= NEAR_NAME_RATIO:
            found.append(SimilarClaim(claim=other, same=False, score=score))
    found.sort(key=lambda s: (not s.same, -s.score, s.claim.pk))
    return found


def style_caption_hits(
    *, names: list[str], jobs: int, rows_per_job: int
) -> CaptionHits:
    """How many caption rows of recent finished jobs name the style.

    Bounded: the `jobs` most recent succeeded jobs whose manifest has a caption
    column, the first `rows_per_job` rows of each, read from the stored
    manifest with the matcher's own readers and style index.
    """
    from optout.models import Chunk, MatchJob
    from optout.services import manifest_paths

    hits = CaptionHits()
    index = StyleIndex.build((1, name) for name in names if name)
    if not len(index):
        return hits
    recent = (
        MatchJob.objects.filter(state=MatchJob.State.SUCCEEDED)
        .select_related("manifest")
        .order_by("-finished", "-id")
    )
    for job in recent.iterator(chunk_size=50):
        if hits.jobs_scanned >= jobs:
            break
        manifest = job.manifest
        if "caption" not in (manifest.columns or {}):
            continue
        hits.jobs_scanned += 1
        budget = rows_per_job
        matched_before = hits.rows_matched
        try:
            paths = manifest_paths(manifest)
            fmt = ManifestFormat(manifest.format)
            specs = Chunk.objects.filter(job=job).order_by("index")
            for chunk in specs.values_list("spec", flat=True):
                if budget <= 0:
                    break
                for batch in engine_manifests.read_chunk(
                    paths,
                    fmt,
                    ChunkSpec.from_dict(chunk),
                    manifest.columns,
                    batch_rows=max(1, min(budget, 10_000)),
                ):
                    captions = batch.captions[:budget]
                    budget -= len(captions)
                    hits.rows_scanned += len(captions)
                    for match in index.match(captions, 0):
                        hits.rows_matched += 1
                        if len(hits.examples) < EXAMPLES:
                            hits.examples.append(str(captions[match.row])[:300])
                    if budget <= 0:
                        break
        except (engine_manifests.ManifestRejected, OSError, ValueError) as exc:
            hits.skipped.append(f"job {job.pk}: {exc}")
        if hits.rows_matched > matched_before:
            hits.jobs_matched += 1
    return hits


# --- domain proof problems ----------------------------------------------------
def domain_proof_problems() -> QuerySet[Claim]:
    """Domain claims whose last check failed, or whose proof was lost."""
    return (
        Claim.objects.filter(kind=Claim.Kind.DOMAIN)
        .filter(
            Q(
                state__in=[Claim.State.UNVERIFIED, Claim.State.ACTIVE],
                proof_failures__gt=0,
            )
            | Q(state=Claim.State.SUSPENDED, suspended_from="")
        )
        .select_related("owner__user")
        .order_by(F("proof_checked_at").desc(nulls_last=True), "-id")
    )


# --- where works and claims were found ----------------------------------------


@dataclass
class FoundCount:
    matches: int = 0
    jobs: int = 0
    removed: int = 0
    removed_jobs: int = 0


def found_counts(
    *, holder: RightsHolder
) -> tuple[dict[int, FoundCount], dict[int, FoundCount]]:
    """({work id: counts}, {claim id: counts}) over succeeded jobs.

    A match counts as removed when it removed its row (perceptual.removes_row:
    exact, URL and style matches always; perceptual ones when the job removes
    their level). Three queries, whatever the number of works.
    """
    from optout.models import Match, MatchJob

    done = Q(job__state=MatchJob.State.SUCCEEDED)
    by_work = list(
        Match.objects.filter(done, image__work__owner=holder)
        .values_list("image__work_id", "job_id", "level")
        .annotate(n=Count("id"))
        .order_by()
    )
    by_claim = list(
        Match.objects.filter(done, claim__owner=holder)
        .values_list("claim_id", "job_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    job_ids = {job for _, job, _, _ in by_work}
    levels = {
        pk: set(remove)
        for pk, remove in MatchJob.objects.filter(pk__in=job_ids).values_list(
            "pk", "remove_levels"
        )
    }
    works: dict[int, FoundCount] = {}
    work_jobs: dict[int, set[int]] = {}
    work_removed_jobs: dict[int, set[int]] = {}
    for work_id, job_id, level, n in by_work:
        count = works.setdefault(work_id, FoundCount())
        count.matches += n
        work_jobs.setdefault(work_id, set()).add(job_id)
        if removes_row(level, levels[job_id]):
            count.removed += n
            work_removed_jobs.setdefault(work_id, set()).add(job_id)
    for work_id, count in works.items():
        count.jobs = len(work_jobs[work_id])
        count.removed_jobs = len(work_removed_jobs.get(work_id, ()))
    claims: dict[int, FoundCount] = {}
    claim_jobs: dict[int, set[int]] = {}
    for claim_id, job_id, n in by_claim:
        count = claims.setdefault(claim_id, FoundCount())
        count.matches += n
        count.removed += n
        claim_jobs.setdefault(claim_id, set()).add(job_id)
    for claim_id, count in claims.items():
        count.jobs = count.removed_jobs = len(claim_jobs[claim_id])
    return works, claims
