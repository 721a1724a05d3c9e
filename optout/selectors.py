"""Every read on the curators' side: jobs, their matches and outputs, by owner.

A job, a match or an output that is not the user's is simply not found (None or
an empty queryset), so callers answer 404 and ids leak nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import F, QuerySet

from registry.disputes import match_exceptions_filter
from registry.errors import ValidationFailed
from registry.models import Image, User
from registry.selectors import registry_revision_current
from workers.engine.hashes import HashRejected, parse_hex, phash_to_int
from workers.engine.types import MatchKind, RowBatch

from .models import Chunk, JobOutput, Match, MatchJob
from .snapshots import snapshot_for_revision

# How many skipped-row examples a job shows (each chunk keeps its first 20).
PROBLEMS_SHOWN = 20


def job_list_for_owner(*, owner: User) -> QuerySet[MatchJob]:
    """The user's match jobs, newest first, with their manifests."""
    return MatchJob.objects.filter(owner=owner).select_related("manifest")


def job_get_for_owner(*, owner: User, job_id: int) -> MatchJob | None:
    """One of the user's jobs with its manifest, parts and outputs, or None."""
    return (
        MatchJob.objects.filter(owner=owner, pk=job_id)
        .select_related("manifest")
        .prefetch_related("manifest__parts", "outputs")
        .first()
    )


def match_list_for_job(
    *, job: MatchJob, kind: str | None = None, level: str | None = None
) -> QuerySet[Match]:
    """The job's matches in row order, each with `work_id` (image matches only)."""
    matches = Match.objects.filter(job=job).select_related("job")
    if kind:
        matches = matches.filter(kind=kind)
    if level:
        matches = matches.filter(level=level)
    return matches.annotate(work_id=F("image__work_id")).order_by("row", "kind", "id")


def output_list_for_job(*, job: MatchJob) -> QuerySet[JobOutput]:
    return JobOutput.objects.filter(job=job).order_by("kind", "name")


def output_get_for_owner(
    *, owner: User, job_id: int, output_id: int
) -> JobOutput | None:
    """One file of one of the user's jobs, or None."""
    return (
        JobOutput.objects.filter(pk=output_id, job_id=job_id, job__owner=owner)
        .select_related("job")
        .first()
    )


def job_problems(*, job: MatchJob, limit: int = PROBLEMS_SHOWN) -> list[dict[str, Any]]:
    """The first skipped rows of the job, in row order: {row, field, message}."""
    problems: list[dict[str, Any]] = []
    for chunk_problems in (
        Chunk.objects.filter(job=job)
        .order_by("index")
        .values_list("problems", flat=True)
    ):
        problems += chunk_problems or []
        if len(problems) >= limit:
            break
    return problems[:limit]


def image_work_ids(*, image_ids: Iterable[int]) -> dict[int, int]:
    """image id -> work id, for the images that still exist."""
    ids = set(image_ids)
    if not ids:
        return {}
    return dict(Image.objects.filter(pk__in=ids).values_list("pk", "work_id"))


# --- synchronous lookups ------------------------------------------------------------

LOOKUP_FIELDS = ("urls", "captions", "sha256", "md5", "phash", "pdq")
LOOKUP_MAX_ITEMS = 10_000
URL_KINDS = frozenset({MatchKind.URL, MatchKind.PREFIX, MatchKind.DOMAIN})


@dataclass(frozen=True)
class LookupHit:
    kind: str
    claim_id: int | None
    image_id: int | None
    work_id: int | None
    distance: int | None
    matched: str
    level: str = ""
    variant: str = ""
    chance: float | None = None


@dataclass
class LookupItem:
    value: str
    matches: list[LookupHit] = field(default_factory=list)
    problem: str | None = None

    @property
    def url_opted_out(self) -> bool:
        """True when a url, prefix or domain claim covers this URL."""
        return any(hit.kind in URL_KINDS for hit in self.matches)


@dataclass(frozen=True)
class LookupResult:
    revision: int
    items: dict[str, list[LookupItem]]


def registry_lookup(*, items: dict[str, list[str]]) -> LookupResult:
    """Check a batch of values against the current registry revision's snapshot.

    `items` maps each of LOOKUP_FIELDS to its values (URLs, captions, hex
    hashes); an empty value checks nothing. Raises ValidationFailed for more
    than LOOKUP_MAX_ITEMS values in all, or a malformed hash (naming the field
    and its index).
    """
    from .services import default_levels, default_tails, default_thresholds

    unknown = set(items) - set(LOOKUP_FIELDS)
    if unknown:
        raise ValidationFailed(f"unknown lookup field {sorted(unknown)[0]!r}")
    total = sum(len(values) for values in items.values())
    if total > LOOKUP_MAX_ITEMS:
        raise ValidationFailed(
            f"at most {LOOKUP_MAX_ITEMS:,} items per lookup, got {total:,}; "
            "split the batch or upload a manifest"
        )
    columns: dict[str, list[Any]] = {name: [None] * total for name in LOOKUP_FIELDS}
    slots: list[tuple[str, LookupItem]] = []
    for name in LOOKUP_FIELDS:
        for i, value in enumerate(items.get(name) or []):
            row = len(slots)
            slots.append((name, LookupItem(value=value)))
            text = value.strip()
            if not text:
                continue
            if name in ("urls", "captions"):
                columns[name][row] = text
                continue
            try:
                raw = parse_hex(name, text)
            except HashRejected as exc:
                raise ValidationFailed(
                    f"{name}[{i}]: {exc}", field=name, extra={"index": i}
                ) from None
            columns[name][row] = phash_to_int(raw) if name == "phash" else raw

    revision = registry_revision_current()
    snapshot = snapshot_for_revision(revision)
    batch = RowBatch(
        first_row=0,
        keys=[None] * total,
        urls=columns["urls"],
        captions=columns["captions"],
        sha256=columns["sha256"],
        md5=columns["md5"],
        phash=columns["phash"],
        pdq=columns["pdq"],
    )
    found, problems = snapshot.match(
        batch, default_thresholds(), levels=default_levels(), tails=default_tails()
    )
    found = match_exceptions_filter(revision=revision, batch=batch, found=found)
    claim_kinds = URL_KINDS | {MatchKind.STYLE}
    works = image_work_ids(
        image_ids=(m.ref for m in found if m.kind not in claim_kinds)
    )
    for m in found:
        is_claim = m.kind in claim_kinds
        slots[m.row][1].matches.append(
            LookupHit(
                kind=str(m.kind),
                claim_id=m.ref if is_claim else None,
                image_id=None if is_claim else m.ref,
                work_id=None if is_claim else works.get(m.ref),
                distance=m.distance,
                matched=m.matched,
                level=m.level,
                variant=m.variant,
                chance=m.chance,
            )
        )
    for problem in problems:
        slots[problem.row][1].problem = problem.reason

    answer: dict[str, list[LookupItem]] = {name: [] for name in LOOKUP_FIELDS}
    for name, item in slots:
        answer[name].append(item)
    return LookupResult(revision=revision, items=answer)
