"""Every read on the curators' side: jobs, their matches and outputs, by owner;
the stored manifest's files; registry lookups; where an artist's works and
claims were found, and caption hits for the style review.

A job, a match or an output that is not the user's is simply not found (None or
an empty queryset), so callers answer 404 and ids leak nothing.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import http_sf
from django.conf import settings
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from accounts.models import User
from core.errors import ValidationFailed
from core.storage import local_copy
from disputes.selectors import match_exceptions_filter
from optout.models import (
    Chunk,
    Dataset,
    DatasetOptOut,
    JobOutput,
    LookupSeen,
    Manifest,
    ManifestPart,
    ManifestSidecar,
    Match,
    MatchJob,
    PublisherSignals,
    UncheckedRow,
)
from optout.signing import published_keys
from optout.snapshots import snapshot_for_revision
from registry.models import Image, RightsHolder
from registry.selectors import (
    claim_standings,
    opt_ins_apply,
    registry_identity,
    registry_revision_current,
)
from workers.engine import datasetindex
from workers.engine import manifests as engine_manifests
from workers.engine.consent import OPT_IN
from workers.engine.hashes import HashRejected, parse_hex, phash_to_int
from workers.engine.manifests import Sidecar
from workers.engine.perceptual import Levels, TailModel, removes_row, tail_models
from workers.engine.receipts import PublishedKey, keys_document
from workers.engine.snapshot import Thresholds
from workers.engine.style import StyleIndex, word_texts
from workers.engine.types import ChunkSpec, ManifestFormat, MatchKind, RowBatch
from workers.engine.urls import UrlRejected, normalize_domain, normalize_url
from workers.engine.websignals import HostSignals, url_places


def receipt_keys() -> dict[str, PublishedKey]:
    """Key id -> the registry's public keys that receipts may be signed with.

    The active key is generated on first use when none is configured
    (optout/signing.py).
    """
    return {key.key_id: key for key in published_keys()}


def receipt_keys_document() -> dict[str, Any]:
    """What /.well-known/dnt-registry-keys.json serves: the registry and its
    keys, the active one first, then the retired ones."""
    registry = {
        "id": registry_identity(),
        "name": settings.SITE_NAME,
        "url": settings.SITE_URL,
    }
    return keys_document(published_keys(), registry)


def part_local_path(part: ManifestPart | ManifestSidecar) -> Path:
    """The stored part on this machine's disk: the file itself on the folder
    storage, a copy checked against its SHA-256 on object storage."""
    return local_copy(part.file.name, sha256=part.sha256)


def manifest_paths(manifest: Manifest) -> list[Path]:
    return [part_local_path(p) for p in manifest.parts.all()]


def manifest_sidecars(manifest: Manifest) -> list[tuple[Path, Sidecar]]:
    """img2dataset's sidecars beside the manifest's parts, as the engine takes them."""
    return [
        (part_local_path(s), Sidecar(part=s.part, kind=s.kind, name=s.original_name))
        for s in manifest.sidecars.all()
    ]


# How many unchecked rows a job's page and API show (the reports hold them all).
UNCHECKED_SHOWN = 20


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


def job_unchecked_rows(
    *, job: MatchJob, limit: int = UNCHECKED_SHOWN
) -> list[UncheckedRow]:
    """The job's first unchecked rows (what could not be checked), in row order."""
    return list(UncheckedRow.objects.filter(job=job).order_by("row", "id")[:limit])


def job_columns(*, job: MatchJob) -> dict[str, Any]:
    """{used, unused, not_checked}: the column each signal used, and the rest."""
    manifest = job.manifest
    return engine_manifests.column_report(
        manifest.columns, manifest.found_columns or []
    ).as_dict()


def job_warnings(*, job: MatchJob) -> list[str]:
    """What the curator must be told was not checked, in words.

    No URL column, from the start; once the job has succeeded, its receipt's
    warnings, which add the rows passed on unchecked.
    """
    payload = job.receipt.get("payload", {})
    if "warnings" in payload:
        return list(payload["warnings"])
    manifest = job.manifest
    return engine_manifests.column_report(
        manifest.columns, manifest.found_columns or []
    ).warnings


def image_work_ids(*, image_ids: Iterable[int]) -> dict[int, int]:
    """image id -> work id, for the images that still exist."""
    ids = set(image_ids)
    if not ids:
        return {}
    return dict(Image.objects.filter(pk__in=ids).values_list("pk", "work_id"))


LOOKUP_FIELDS = ("urls", "captions", "sha256", "md5", "phash", "pdq")


LOOKUP_MAX_ITEMS = 10_000


URL_KINDS = frozenset({MatchKind.URL, MatchKind.PREFIX, MatchKind.DOMAIN})
# The aipref categories a preferences answer names (draft-ietf-aipref-vocab).
PREFERENCE_CATEGORIES = ("train-ai", "ai-use", "search")


@dataclass(frozen=True)
class LookupHit:
    kind: str
    claim_id: int | None
    image_id: int | None
    work_id: int | None
    distance: int | None
    matched: str
    matched_as: str = ""
    level: str = ""
    variant: str = ""
    chance: float | None = None
    # Opt-in hits (level "opt-in"): the holder's terms for AI training.
    terms: dict[str, str] | None = None


@dataclass
class LookupItem:
    value: str
    matches: list[LookupHit] = field(default_factory=list)
    problem: str | None = None

    @property
    def url_opted_out(self) -> bool:
        """True when a url, prefix or domain claim refusing training covers
        this URL."""
        return any(
            hit.kind in URL_KINDS and hit.level != OPT_IN for hit in self.matches
        )

    @property
    def url_opted_in(self) -> bool:
        """True when a claim offering it for training on terms covers this
        URL and none refusing it does (a refusal wins)."""
        return not self.url_opted_out and any(
            hit.kind in URL_KINDS and hit.level == OPT_IN for hit in self.matches
        )


@dataclass(frozen=True)
class LookupResult:
    revision: int
    items: dict[str, list[LookupItem]]


@dataclass(frozen=True)
class Declaration:
    """One statement behind a URL's preferences (GET /api/v1/preferences/)."""

    declared_by: str  # "rights holder" or "publisher"
    via: str  # "registry", or the site's protocol
    preference: str  # "train-ai=n"
    verified: str
    claim: int | None = None
    kind: str = ""
    matched: str = ""
    matched_as: str = ""
    fetched_at: str | None = None
    # train-ai=y from the registry: the holder's terms (licence, payment,
    # contact, verified).
    terms: dict[str, str] | None = None


@dataclass(frozen=True)
class UrlPreferences:
    url: str
    preferences: str  # an RFC 9651 dictionary; "" when nothing is known
    categories: dict[str, str]  # category -> y, n or unknown
    declarations: list[Declaration]
    problem: str = ""


def url_preferences(*, urls: list[str]) -> tuple[int, list[UrlPreferences]]:
    """The AI-usage preferences of each URL at the current revision: the URL,
    prefix and domain claims covering it (each refuses train-ai, or offers
    it on terms, and may say search and ai-use) and what its
    site said at the registry's last fetch within SIGNAL_WEB_CACHE_SECONDS
    (never fetched here). A category any declaration refuses is refused; one
    only allowed is allowed; the rest are unknown (aipref-vocab 5.1)."""
    if len(urls) > LOOKUP_MAX_ITEMS:
        raise ValidationFailed(
            f"urls: at most {LOOKUP_MAX_ITEMS:,} URLs per request, got {len(urls):,}",
            field="urls",
        )
    revision = registry_revision_current()
    batch = RowBatch.of(urls=[u.strip() or None for u in urls])
    found, problems = snapshot_for_revision(revision).match(batch, default_thresholds())
    found = match_exceptions_filter(revision=revision, batch=batch, found=found)
    found = opt_ins_apply(revision=revision, found=found)
    claims = [m for m in found if m.kind in URL_KINDS]
    standings = claim_standings(claim_ids={m.ref for m in claims})
    said: dict[int, list[Declaration]] = {}
    for m in claims:
        standing = standings.get(m.ref)
        if standing is None:  # withdrawn since the index was built
            continue
        # Training as of the revision: refused, or offered on terms.
        terms = json.loads(m.evidence) if m.level == OPT_IN else None
        stated = {**standing.preferences, "train-ai": "y" if terms else "n"}
        for category in PREFERENCE_CATEGORIES:
            if category not in stated:
                continue
            on_terms = terms if category == "train-ai" else None
            said.setdefault(m.row, []).append(
                Declaration(
                    declared_by="rights holder",
                    via="registry",
                    preference=f"{category}={stated[category]}",
                    verified=on_terms["verified"] if on_terms else standing.verified,
                    claim=m.ref,
                    kind=str(m.kind),
                    matched=m.matched,
                    matched_as=m.matched_as,
                    terms=on_terms,
                )
            )
    places = dict(enumerate(url_places(batch.urls)))
    fresh = timezone.now() - timedelta(seconds=settings.SIGNAL_WEB_CACHE_SECONDS)
    sites = {
        host: HostSignals.from_dict(signals)
        for host, signals in PublisherSignals.objects.filter(
            host__in={p[0] for p in places.values() if p}, fetched_at__gte=fresh
        ).values_list("host", "signals")
    }
    for i, place in places.items():
        if not place or place[0] not in sites:
            continue
        site = sites[place[0]]
        for category in PREFERENCE_CATEGORIES:
            for rule in site.applicable(place[1], category):
                said.setdefault(i, []).append(
                    Declaration(
                        declared_by="publisher",
                        via=rule.source,
                        preference=rule.preference,
                        verified=f"served by {site.host}",
                        matched=rule.value,
                        fetched_at=site.fetched_at,
                    )
                )
    unreadable = {p.row: p.reason for p in problems}
    out = []
    for i, url in enumerate(urls):
        declarations = said.get(i, [])
        categories = {c: "unknown" for c in PREFERENCE_CATEGORIES}
        for d in declarations:
            category, value = d.preference.split("=")
            if value == "n" or categories[category] == "unknown":
                categories[category] = value
        known = {
            c: (http_sf.Token(v), {}) for c, v in categories.items() if v != "unknown"
        }
        out.append(
            UrlPreferences(
                url=url,
                preferences=http_sf.ser(known) if known else "",
                categories=categories,
                declarations=declarations,
                problem=unreadable.get(i, ""),
            )
        )
    return revision, out


def default_thresholds() -> Thresholds:
    return Thresholds(
        phash=settings.MATCH_PHASH_THRESHOLD, pdq=settings.MATCH_PDQ_THRESHOLD
    )


def default_levels() -> Levels:
    return Levels(
        pdq_strong=settings.MATCH_PDQ_STRONG,
        phash_strong=settings.MATCH_PHASH_STRONG,
        min_inliers=settings.MATCH_MIN_INLIERS,
        min_agreement=settings.MATCH_MIN_AGREEMENT,
        min_coverage=settings.MATCH_MIN_COVERAGE,
        min_alignment=(
            settings.MATCH_MIN_ALIGNMENT if settings.MATCH_MIN_ALIGNMENT >= 0 else None
        ),
        max_candidates=settings.MATCH_MAX_CANDIDATES,
        descriptor_k=settings.MATCH_DESCRIPTOR_K,
        descriptor_min=settings.MATCH_DESCRIPTOR_MIN,
        descriptor_possible=settings.MATCH_DESCRIPTOR_POSSIBLE,
        descriptor_strong=(
            settings.MATCH_DESCRIPTOR_STRONG
            if settings.MATCH_DESCRIPTOR_STRONG >= 0
            else None
        ),
    )


def default_tails() -> dict[str, TailModel]:
    """Chance-match models for the configured variant scheme (docs/MATCHING.md)."""
    return tail_models(settings.MATCH_VARIANT_SCHEME)


def registry_lookup(*, items: dict[str, list[str]]) -> LookupResult:
    """Check a batch of values against the current registry revision's snapshot.

    `items` maps each of LOOKUP_FIELDS to its values (URLs, captions, hex
    hashes); an empty value checks nothing. Raises ValidationFailed for more
    than LOOKUP_MAX_ITEMS values in all, or a malformed hash (naming the field
    and its index).
    """
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
    found = opt_ins_apply(revision=revision, found=found)
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
                matched_as=m.matched_as,
                level=m.level,
                variant=m.variant,
                chance=m.chance,
                terms=json.loads(m.evidence) if m.level == OPT_IN else None,
            )
        )
    for problem in problems:
        slots[problem.row][1].problem = problem.reason

    answer: dict[str, list[LookupItem]] = {name: [] for name in LOOKUP_FIELDS}
    for name, item in slots:
        answer[name].append(item)
    return LookupResult(revision=revision, items=answer)


# Caption rows shown as examples on the style review page.
CAPTION_EXAMPLES = 5


@dataclass
class CaptionHits:
    jobs_scanned: int = 0
    rows_scanned: int = 0
    rows_matched: int = 0
    jobs_matched: int = 0
    examples: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # jobs that could not be read


def style_caption_hits(
    *, names: list[str], jobs: int, rows_per_job: int
) -> CaptionHits:
    """How many caption rows of recent finished jobs name the style.

    Bounded: the `jobs` most recent succeeded jobs whose manifest has a caption
    column, the first `rows_per_job` rows of each, read from the stored
    manifest with the matcher's own readers and style index.
    """
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
                        if len(hits.examples) < CAPTION_EXAMPLES:
                            hits.examples.append(str(captions[match.row])[:300])
                    if budget <= 0:
                        break
        except (engine_manifests.ManifestRejected, OSError, ValueError) as exc:
            hits.skipped.append(f"job {job.pk}: {exc}")
        if hits.rows_matched > matched_before:
            hits.jobs_matched += 1
    return hits


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


def account_was_shown(
    *, user: User, claim_id: int | None = None, image_ids: Any = ()
) -> bool:
    """Whether the account's own jobs matched the claim or one of the images,
    or one of its lookups returned one of the images."""
    matches = Match.objects.filter(job__manifest__owner=user)
    if claim_id is not None:
        return matches.filter(claim_id=claim_id).exists()
    return (
        matches.filter(image__in=image_ids).exists()
        or LookupSeen.objects.filter(user=user, image__in=image_ids).exists()
    )


def optout_export_for_account(*, user: User) -> list[dict[str, Any]]:
    """The account's manifests and their jobs (not the files), for its export."""
    rows = []
    for manifest in (
        Manifest.objects.filter(owner=user).prefetch_related("jobs").order_by("id")
    ):
        rows.append(
            {
                "id": manifest.pk,
                "name": manifest.name,
                "format": manifest.format,
                "size": manifest.size,
                "created": manifest.created.isoformat(),
                "jobs": [
                    {
                        "id": job.pk,
                        "state": job.state,
                        "registry_revision": job.registry_revision,
                        "created": job.created.isoformat(),
                    }
                    for job in manifest.jobs.all()
                ],
            }
        )
    return rows


# --- The dataset search ("have I been trained?") ---------------------------

SEARCH_BY = ("text", "site")
SEARCH_PER_PAGE = 50
SEARCH_EXPORT_MAX = 100_000  # rows in one CSV export


def dataset_folder(dataset_id: int) -> Path:
    """Where a dataset's search index lives (SEARCH_INDEX_DIR/<id>)."""
    return Path(settings.SEARCH_INDEX_DIR) / str(int(dataset_id))


def datasets_listed(*, staff: bool = False) -> QuerySet[Dataset]:
    """Datasets the search covers (ready), and for admins every one."""
    rows = Dataset.objects.exclude(state=Dataset.State.REMOVED).order_by("name", "pk")
    return rows if staff else rows.filter(state=Dataset.State.READY)


def dataset_rows(dataset: Dataset, rows: Iterable[int]) -> list[datasetindex.Hit]:
    """These rows of a dataset as its index holds them."""
    rows = list(rows)
    index = datasetindex.open_index(dataset_folder(dataset.pk))
    return datasetindex.search(
        index, datasetindex.rows_query(index, rows), limit=len(rows)
    ).hits


@dataclass(frozen=True)
class SearchHit:
    dataset_id: int
    dataset: str
    row: int
    url: str
    caption: str
    why: str
    opted_out: bool  # by the artist searching, from this dataset
    thumb: bytes = b""
    similarity: float | None = None  # image searches: the descriptor's cosine
    level: str = ""  # image searches: verified (local features) or possible


@dataclass(frozen=True)
class SearchResults:
    by: str
    q: str
    why: str
    total: int
    offset: int
    hits: list[SearchHit]
    per_dataset: list[tuple[Dataset, int]]
    proposed_prefix: str  # the common prefix of the page's URLs, if any


def search_parse(by: str, q: str) -> tuple[str, str, str]:
    """(kind, value, why) for a search: kind text, host, prefix or url.
    Raises ValidationFailed naming `by` or `q`."""
    if by not in SEARCH_BY:
        raise ValidationFailed(
            f"by: {by!r} is not a search kind; choose text or site", field="by"
        )
    q = (q or "").strip()
    if not q:
        raise ValidationFailed("q: type what to search for", field="q")
    if len(q) > 2048:
        raise ValidationFailed("q: at most 2,048 characters", field="q")
    if by == "text":
        words = word_texts([q])[0]
        if not words:
            raise ValidationFailed("q: no letters or digits to search for", field="q")
        return "text", q, f'caption has "{words}" as whole words'
    has_path = "://" in q or "/" in q.strip("/")
    try:
        if not has_path:
            host = normalize_domain(q)
            return "host", host, f"URL on {host} or a subdomain"
        href = normalize_url(q if "://" in q else f"https://{q}").href
    except UrlRejected as exc:
        raise ValidationFailed(f"q: {exc}", field="q") from None
    if normalize_url(href).path in ("", "/") and "?" not in href:
        host = normalize_url(href).host
        return "host", host, f"URL on {host} or a subdomain"
    return "prefix", href, f"URL under {href}"


def _query(index: Any, kind: str, value: str) -> Any:
    if kind == "text":
        return datasetindex.text_query(index, value)
    if kind == "host":
        return datasetindex.host_query(index, value)
    return datasetindex.prefix_query(index, value)


def _estimate(index: Any, kind: str, value: str) -> datasetindex.Estimate | None:
    if kind == "text":
        return datasetindex.text_estimate(index, value)
    if kind == "host":
        return datasetindex.host_estimate(index, value)
    return None


def dataset_search(
    *,
    by: str,
    q: str,
    offset: int = 0,
    limit: int = SEARCH_PER_PAGE,
    dataset_id: int | None = None,
    holder_id: int | None = None,
) -> SearchResults:
    """The rows of the searchable datasets that match, dataset by dataset
    (by name) and in row order, `limit` from `offset`, with the count per
    dataset. `holder_id`: mark the rows that holder opted out. Reveals no
    claim: what matched is the query, nothing else."""
    kind, value, why = search_parse(by, q)
    datasets = list(datasets_listed())
    if dataset_id is not None:
        datasets = [d for d in datasets if d.pk == dataset_id]
    offset = max(0, int(offset))
    limit = max(0, int(limit))
    counts: list[tuple[Dataset, int]] = []
    hits: list[SearchHit] = []
    skip = offset
    for dataset in datasets:
        folder = dataset_folder(dataset.pk)
        if not folder.exists():
            continue
        index = datasetindex.open_index(folder)
        query = _query(index, kind, value)
        want = limit - len(hits)
        page = datasetindex.search(
            index,
            query,
            offset=skip,
            limit=want if want > 0 else 0,
            estimate=_estimate(index, kind, value),
        )
        counts.append((dataset, page.total))
        skip = max(0, skip - page.total)
        hits += [_search_hit(dataset, hit, why) for hit in page.hits[: max(0, want)]]
    hits = _mark_opted_out(hits, holder_id)
    return SearchResults(
        by=by,
        q=q,
        why=why,
        total=sum(n for _, n in counts),
        offset=offset,
        hits=hits,
        per_dataset=[(d, n) for d, n in counts if n],
        proposed_prefix=common_prefix([h.url for h in hits]),
    )


def common_prefix(urls: Iterable[str]) -> str:
    """The longest URL prefix ending at a "/" of the path that all these
    URLs share (one host), or "" when they share no more than the host."""
    hrefs = []
    for url in urls:
        try:
            hrefs.append(normalize_url(url))
        except UrlRejected:
            return ""
    if len(hrefs) < 2 or len({u.host for u in hrefs}) != 1:
        return ""
    text = os.path.commonprefix([u.href for u in hrefs])
    cut = text.rfind("/")
    head = hrefs[0].href.find(hrefs[0].host) + len(hrefs[0].host)
    if cut <= head:
        return ""
    return text[: cut + 1]


def _search_hit(
    dataset: Dataset, hit: datasetindex.Hit, why: str, level: str = ""
) -> SearchHit:
    return SearchHit(
        dataset_id=dataset.pk,
        dataset=dataset.name,
        row=hit.row,
        url=hit.url,
        caption=hit.caption,
        why=why,
        opted_out=False,
        thumb=hit.thumb,
        similarity=hit.similarity,
        level=level,
    )


def _mark_opted_out(hits: list[SearchHit], holder_id: int | None) -> list[SearchHit]:
    if holder_id is None or not hits:
        return hits
    done = set(
        DatasetOptOut.objects.filter(
            holder_id=holder_id,
            dataset_id__in={h.dataset_id for h in hits},
            row__in={h.row for h in hits},
        ).values_list("dataset_id", "row")
    )
    return [replace(h, opted_out=(h.dataset_id, h.row) in done) for h in hits]


IMAGE_SEARCH_MAX = 200  # nearest rows per dataset an image search lists at most
IMAGE_EXPORT_MAX = 1_000  # rows in one image search's CSV (each one verified)
IMAGE_PER_PAGE = 20  # each row shown is verified: about 20 ms a row
IMAGE_QUERY_SIDE = 512  # the query image is searched (and carried) at this size


def image_query(image: Any) -> Any:
    """The query as searched: RGB, at most IMAGE_QUERY_SIDE a side. Each
    page of an upload's results searches this same image again."""
    from PIL import Image as PILImage

    query = image.convert("RGB")
    if max(query.size) > IMAGE_QUERY_SIDE:
        query.thumbnail(
            (IMAGE_QUERY_SIDE, IMAGE_QUERY_SIDE), PILImage.Resampling.LANCZOS
        )
    return query


def dataset_image_search(
    *,
    image: Any,
    offset: int = 0,
    limit: int = SEARCH_PER_PAGE,
    dataset_id: int | None = None,
    holder_id: int | None = None,
) -> SearchResults:
    """The rows whose image is near `image` (a PIL image), nearest first
    across the datasets: up to IMAGE_SEARCH_MAX per dataset by the
    copy-detection descriptor (cosine at least MATCH_DESCRIPTOR_MIN, the
    whole image and its regions, so a dataset's crop is found) and every
    row whose PDQ is within MATCH_PDQ_THRESHOLD bits (the image, trimmed
    and mirrored); `limit` from `offset`. Each row shown is verified with
    local features against its thumbnail: level `verified` when they
    agree, else `possible`."""
    import numpy as np
    from PIL import Image as PILImage

    from workers.engine import descriptor, perceptual
    from workers.engine.verify import extract, verify

    image = image_query(image)
    model = descriptor.model()
    vectors = np.concatenate([model.embed([image]), model.regions(image)])
    hashes = perceptual.query_pdq(perceptual.prepare(image)).values()
    datasets = list(datasets_listed())
    if dataset_id is not None:
        datasets = [d for d in datasets if d.pk == dataset_id]
    # (dataset, row) -> (similarity or None, PDQ distance or None)
    found: dict[tuple[int, int], tuple[float | None, int | None]] = {}
    by_id = {d.pk: d for d in datasets}
    for dataset in datasets:
        folder = dataset_folder(dataset.pk)
        if not folder.exists():
            continue
        for row, sim in datasetindex.nearest(
            folder,
            vectors,
            k=IMAGE_SEARCH_MAX,
            min_similarity=settings.MATCH_DESCRIPTOR_MIN,
        ):
            found[(dataset.pk, row)] = (sim, None)
        for row, distance in datasetindex.near_hashes(
            folder, hashes, radius=settings.MATCH_PDQ_THRESHOLD
        )[:IMAGE_SEARCH_MAX]:
            sim = found.get((dataset.pk, row), (None, None))[0]
            found[(dataset.pk, row)] = (sim, distance)
    ranked = sorted(
        found.items(),
        key=lambda item: (
            -(item[1][0] if item[1][0] is not None else 0.0),
            item[1][1] if item[1][1] is not None else 257,
            by_id[item[0][0]].name,
            item[0],
        ),
    )
    offset = max(0, int(offset))
    page = ranked[offset : offset + max(0, int(limit))]
    query = extract(image) if page else None
    hits: list[SearchHit] = []
    shown: dict[tuple[int, int], datasetindex.Hit] = {}
    for dataset_pk in {key[0] for key, _ in page}:
        rows = [key[1] for key, _ in page if key[0] == dataset_pk]
        for hit in dataset_rows(by_id[dataset_pk], rows):
            shown[(dataset_pk, hit.row)] = hit
    for key, (sim, distance) in page:
        hit = shown.get(key)
        if hit is None:  # the dataset was removed meanwhile
            continue
        level = "possible"
        if hit.thumb:
            with PILImage.open(io.BytesIO(hit.thumb)) as thumb:
                if verify(query, extract(thumb)).verified():
                    level = "verified"
        why = []
        if sim is not None:
            why.append(f"image {sim:.2f} similar by the descriptor")
        if distance is not None:
            why.append(f"PDQ {distance} bits from the image")
        if level == "verified":
            why.append("verified by local features")
        hits.append(
            _search_hit(
                by_id[key[0]],
                replace(hit, similarity=sim),
                ", ".join(why),
                level=level,
            )
        )
    per_dataset: dict[int, int] = {}
    for (dataset_pk, _), _ in ranked:
        per_dataset[dataset_pk] = per_dataset.get(dataset_pk, 0) + 1
    hits = _mark_opted_out(hits, holder_id)
    return SearchResults(
        by="image",
        q="",
        why="the nearest images by the copy-detection descriptor and by PDQ",
        total=len(ranked),
        offset=offset,
        hits=hits,
        per_dataset=[(d, per_dataset[d.pk]) for d in datasets if d.pk in per_dataset],
        proposed_prefix=common_prefix([h.url for h in hits]),
    )


def search_opt_outs_for(holder_id: int) -> list[tuple[str, int]]:
    """(dataset name, rows) the holder opted out from the search's results."""
    return [
        (row["dataset__name"], row["rows"])
        for row in DatasetOptOut.objects.filter(holder_id=holder_id)
        .values("dataset__name")
        .annotate(rows=Count("pk"))
        .order_by("dataset__name")
    ]


def datasets_of_manifest(manifest_id: int) -> list[Dataset]:
    """The search's datasets made of this manifest (not removed)."""
    return list(
        Dataset.objects.filter(manifest_id=manifest_id).exclude(
            state=Dataset.State.REMOVED
        )
    )


def search_query_image(
    *,
    data: bytes | None = None,
    work_id: int | None = None,
    holder_id: int | None = None,
) -> Any:
    """The image to search with: uploaded bytes, or the first original of one
    of the holder's own works. Raises ValidationFailed naming `image` or
    `work`."""
    from workers.engine.images import ImageRejected, decode_image

    if work_id is not None:
        image = (
            Image.objects.filter(
                work_id=work_id, work__owner_id=holder_id, work__status="active"
            )
            .exclude(original="")
            .order_by("pk")
            .first()
        )
        if image is None or holder_id is None:
            raise ValidationFailed(
                "work: not one of your works with an uploaded image", field="work"
            )
        with image.original.open("rb") as f:
            data = f.read()
    if not data:
        raise ValidationFailed("image: upload an image or pick a work", field="image")
    try:
        return decode_image(data).image
    except (ImageRejected, OSError, ValueError) as exc:
        raise ValidationFailed(f"image: {exc}", field="image") from None
