"""Match jobs: start, cancel, ingest (plan chunks), match each chunk, sweep.

A job runs as: ingest (plan chunks) -> one match task per chunk -> finalize.
Each step claims its work with a conditional UPDATE, so a duplicated or
retried task finds nothing to do, and every chunk's state and lease live in
the database: the sweep re-queues chunks whose lease expired or whose message
was lost (a killed worker, a restarted Redis), so no task is waited on and no
chord is needed.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import User
from core import leases
from core.errors import Conflict, NotFound, ValidationFailed
from core.tasks import NORMAL, URGENT, enqueue
from disputes.selectors import match_exceptions_filter
from optout.models import Chunk, JobHost, Manifest, Match, MatchJob, UncheckedRow
from optout.references import reference_features
from optout.selectors import (
    default_levels,
    default_thresholds,
    manifest_paths,
)
from optout.services.publishers import host_signals
from optout.snapshots import descriptor_version, snapshot_for_revision
from registry.selectors import opt_ins_apply, registry_revision_current
from workers.engine import manifests as engine_manifests
from workers.engine.manifests import ManifestRejected
from workers.engine.perceptual import Levels, tail_models
from workers.engine.snapshot import Thresholds
from workers.engine.types import (
    SIGNALS,
    ChunkSpec,
    ManifestFormat,
    RowBatch,
    RowProblem,
)
from workers.engine.websignals import PROTOCOLS, url_places
from workers.engine.websignals import match_rows as match_publisher_rows

KIND_CLAIM = {"url", "prefix", "domain", "style"}
# Kinds whose ref is not an image: claims, and signals (ref 0: the file's own
# statement, no registry entry).
KIND_NO_IMAGE = KIND_CLAIM | {"signal"}


PERCEPTUAL_LEVELS = ("verified", "strong", "possible")
NO_SIGNALS = "none"  # signals=["none"]: read no protocol in the images


def _remove_levels(levels: Iterable[str] | None) -> list[str]:
    if levels is None:
        return [lv for lv in PERCEPTUAL_LEVELS if lv in settings.MATCH_REMOVE_LEVELS]
    chosen = list(dict.fromkeys(levels))
    unknown = [lv for lv in chosen if lv not in PERCEPTUAL_LEVELS]
    if unknown:
        raise ValidationFailed(
            f"remove_levels: unknown level {unknown[0]!r}; choose from "
            + ", ".join(PERCEPTUAL_LEVELS),
            field="remove_levels",
        )
    return [lv for lv in PERCEPTUAL_LEVELS if lv in chosen]


def signal_protocols(signals: Iterable[str] | None) -> list[str]:
    """The protocols a job reads in its images: the profile's by default,
    "none" for none; in PROTOCOLS order."""
    if signals is None:
        return [p for p in PROTOCOLS if p in settings.SIGNAL_PROTOCOLS]
    chosen = list(dict.fromkeys(signals))
    if chosen == [NO_SIGNALS]:
        return []
    unknown = [p for p in chosen if p not in PROTOCOLS]
    if unknown:
        raise ValidationFailed(
            f"signals: unknown protocol {unknown[0]!r}; choose from "
            + ", ".join(PROTOCOLS)
            + f", or {NO_SIGNALS!r} alone",
            field="signals",
        )
    return [p for p in PROTOCOLS if p in chosen]


def match_job_start(
    *,
    manifest: Manifest,
    owner: User,
    thresholds: dict[str, int] | None = None,
    remove_levels: Iterable[str] | None = None,
    keep_unchecked: bool = False,
    signals: Iterable[str] | None = None,
    web_signals: bool | None = None,
    opt_in_manifest: bool = False,
) -> MatchJob:
    """Queue a match job for `manifest`; ingest runs once this commits.

    `remove_levels`: which perceptual levels the filtered manifest removes
    (default settings.MATCH_REMOVE_LEVELS); the others are only listed.
    `keep_unchecked`: pass rows that could not be checked on into the filtered
    manifest (they are still reported) instead of leaving them out.
    `signals`: the protocols whose statements are read in the manifest's
    images (default settings.SIGNAL_PROTOCOLS; ["none"] for none); a refusal
    of AI training removes its row. `web_signals`: also read the sites of
    the manifest's hosts for those protocols (default settings.SIGNAL_WEB).
    `opt_in_manifest`: also write the manifest of the rows offered for AI
    training on terms (an opt-in match, nothing removing, checked in full).
    """
    if manifest.owner_id != owner.pk:
        raise NotFound("manifest not found")
    removing = _remove_levels(remove_levels)
    protocols = signal_protocols(signals)
    chosen = asdict(default_thresholds())
    from optout.snapshots import max_radius

    limits = asdict(max_radius())
    for kind, value in (thresholds or {}).items():
        if kind not in chosen:
            raise ValidationFailed(
                f"thresholds: unknown hash {kind!r}", field="thresholds"
            )
        if not isinstance(value, int) or not 0 <= value <= limits[kind]:
            raise ValidationFailed(
                f"thresholds: {kind} must be a whole number from 0 to {limits[kind]}",
                field="thresholds",
            )
        chosen[kind] = value
    # The levels' settings are fixed at start, so the receipt can name them.
    chosen.update(asdict(default_levels()))
    chosen["verify"] = settings.MATCH_VERIFY
    chosen["variant_scheme"] = settings.MATCH_VARIANT_SCHEME
    # The copy-detection model the job's image rows are described with.
    chosen["descriptor_model"] = descriptor_version()
    chosen["signals"] = protocols
    chosen["web_signals"] = bool(
        settings.SIGNAL_WEB if web_signals is None else web_signals
    )
    chosen["opt_in_manifest"] = bool(opt_in_manifest)
    with transaction.atomic():
        job = MatchJob.objects.create(
            manifest=manifest,
            owner=owner,
            manifest_sha256=manifest.sha256,
            thresholds=chosen,
            remove_levels=removing,
            keep_unchecked=bool(keep_unchecked),
        )
        _queue("match_job_ingest", job.pk)
    return job


def match_job_cancel(*, owner: User, job_id: int) -> MatchJob:
    job = MatchJob.objects.filter(pk=job_id, owner=owner).first()
    if job is None:
        raise NotFound("job not found")
    updated = MatchJob.objects.filter(
        pk=job.pk, state__in=[MatchJob.State.QUEUED, MatchJob.State.RUNNING]
    ).update(state=MatchJob.State.CANCELLED, finished=timezone.now(), phase="")
    if not updated:
        raise Conflict(f"the job has already {job.state}")
    job.refresh_from_db()
    return job


_STATE_WORDS = {
    MatchJob.State.QUEUED: "is queued",
    MatchJob.State.RUNNING: "is running",
    MatchJob.State.SUCCEEDED: "has succeeded",
    MatchJob.State.CANCELLED: "was cancelled",
}


def match_job_retry(*, owner: User, job_id: int) -> MatchJob:
    """Write a failed job's outputs again, from the matches it stored.

    Only a job that failed once its matching had finished can be retried (a
    full disk at finalize, or finalize failing MATCH_MAX_ATTEMPTS times): its
    chunks are not matched again, so the matches, the registry revision and
    the receipt's figures are those of the first run. A job that failed
    before (its manifest could not be read, a chunk kept failing) is a new
    check: matching again later would be against a newer registry than the
    revision the job names. Raises NotFound (not the owner's), Conflict (not
    failed, or failed before its matching finished).
    """
    job = MatchJob.objects.filter(pk=job_id, owner=owner).first()
    if job is None:
        raise NotFound("job not found")
    if job.state != MatchJob.State.FAILED:
        raise Conflict(
            f"only a failed job can be retried; this one {_STATE_WORDS[job.state]}"
        )
    if not job.can_retry:
        raise Conflict(
            "the job failed before its matching finished, so it cannot be "
            "retried; upload the manifest again for a new check"
        )
    with transaction.atomic():
        resumed = MatchJob.objects.filter(
            pk=job.pk, state=MatchJob.State.FAILED
        ).update(
            state=MatchJob.State.RUNNING,
            phase="finalizing",
            failure_reason="",
            finished=None,
            # A fresh start: the attempts and the error were the last run's.
            finalize_started=None,
            finalize_attempts=0,
            finalize_error="",
        )
        if not resumed:
            raise Conflict("the job is already being retried")
        _queue("match_job_finalize", job.pk)
    job.refresh_from_db()
    return job


def _queue(task_name: str, *args: Any, priority: int | None = None) -> None:
    enqueue(f"optout.{task_name}", *args, priority=priority)


def job_fail(job_id: int, reason: str) -> None:
    MatchJob.objects.filter(
        pk=job_id, state__in=[MatchJob.State.QUEUED, MatchJob.State.RUNNING]
    ).update(
        state=MatchJob.State.FAILED,
        failure_reason=reason[:4000],
        finished=timezone.now(),
        phase="",
    )


def match_job_ingest(*, job_id: int) -> None:
    """Plan the job's chunks and queue one match task each (idempotent)."""
    now = timezone.now()
    claimed = MatchJob.objects.filter(pk=job_id, state=MatchJob.State.QUEUED).update(
        state=MatchJob.State.RUNNING, started=now, ingest_started=now, phase="ingesting"
    )
    if not claimed:
        return
    with leases.Heartbeat(
        job_lease_renewal(job_id, "ingest_started"), lease_renew_every()
    ):
        _ingest(job_id)


def _ingest(job_id: int) -> None:
    job = MatchJob.objects.select_related("manifest").get(pk=job_id)
    manifest = job.manifest
    found = manifest.found_columns or []
    report = engine_manifests.column_report(manifest.columns, found)
    if all(signal in report.not_checked for signal in SIGNALS):
        # The upload refuses such a manifest; one stored before that rule, or
        # whose mapping was edited, fails here rather than check nothing.
        job_fail(job_id, engine_manifests.nothing_to_check(found))
        return
    revision = registry_revision_current()
    snapshot_for_revision(revision)  # build it once, before the chunks need it
    try:
        specs = engine_manifests.plan_chunks(
            manifest_paths(manifest),
            ManifestFormat(manifest.format),
            target_rows=settings.MATCH_CHUNK_ROWS,
        )
    except ManifestRejected as exc:
        job_fail(job_id, str(exc))
        return
    with transaction.atomic():
        now = timezone.now()
        Chunk.objects.filter(job_id=job_id).delete()
        chunks = Chunk.objects.bulk_create(
            Chunk(
                job_id=job_id,
                index=i,
                spec=spec.as_dict(),
                rows=spec.rows,
                queued_at=now,
            )
            for i, spec in enumerate(specs)
        )
        MatchJob.objects.filter(pk=job_id).update(
            registry_revision=revision,
            rows_total=sum(s.rows for s in specs),
            chunks_total=len(chunks),
            phase="matching",
        )
        if chunks:
            ids = [c.pk for c in Chunk.objects.filter(job_id=job_id).order_by("index")]
            for chunk_id in ids:
                _queue("match_chunk", chunk_id)
        else:
            _queue("match_job_finalize", job_id)


def _lease_for() -> timedelta:
    return timedelta(seconds=settings.MATCH_LEASE_SECONDS)


def lease_renew_every() -> float:
    """Renew a lease four times per lease: one missed renewal costs nothing."""
    return settings.MATCH_LEASE_SECONDS / 4


def _lease(chunk_id: int, *, taking_from: str | None = None) -> str | None:
    """Lease the chunk if it is free (pending, or its lease ran out).

    `taking_from`: the token of a lease whose holder is known to be dead
    (core.leases.holder_is_dead); that lease is taken before it runs out.
    """
    token = uuid.uuid4().hex
    now = timezone.now()
    running = MatchJob.objects.filter(state=MatchJob.State.RUNNING).values("pk")
    free = Q(state=Chunk.State.PENDING) | Q(
        state=Chunk.State.LEASED, lease_expires__lt=now
    )
    if taking_from:
        free |= Q(state=Chunk.State.LEASED, lease_token=taking_from)
    leased = (
        Chunk.objects.filter(
            pk=chunk_id, job_id__in=running, attempts__lt=settings.MATCH_MAX_ATTEMPTS
        )
        .filter(free)
        .update(
            state=Chunk.State.LEASED,
            lease_token=token,
            lease_expires=now + _lease_for(),
            lease_holder=leases.holder(),
            attempts=F("attempts") + 1,
        )
    )
    return token if leased else None


# Lease tokens of the chunks this process is matching now (any pool: a
# prefork process runs one, a thread pool several).
_RUNNING: set[str] = set()


def _lease_or_wait(chunk_id: int) -> str | None:
    """Lease the chunk, or find that a live worker holds it.

    A message for a chunk that is already leased is a redelivery: the worker
    running it was killed (Celery rejects the message back to the queue when
    a pool process dies; the broker restores a dead worker's messages after
    its visibility timeout), or the sweep queued it again while it was slow.
    The holder on this host that no longer runs is taken over at once;
    otherwise we watch the lease for up to one lease: renewed means its holder
    lives (this message is dropped), run out means it died (we take it).
    """
    token = _lease(chunk_id)
    if token is not None:
        return token
    deadline = time.monotonic() + settings.MATCH_LEASE_SECONDS + 1
    first_seen = None
    while True:
        row = (
            Chunk.objects.filter(
                pk=chunk_id,
                state=Chunk.State.LEASED,
                job__state=MatchJob.State.RUNNING,
            )
            .values("lease_token", "lease_expires", "lease_holder")
            .first()
        )
        if row is None:  # done, failed, pending again, or the job ended
            return _lease(chunk_id)
        ours = row["lease_holder"] == leases.holder()
        if (ours and row["lease_token"] not in _RUNNING) or leases.holder_is_dead(
            row["lease_holder"]
        ):
            # Held by a dead process, or by this one in an earlier attempt
            # that could not give it back (the database was down then).
            return _lease(chunk_id, taking_from=row["lease_token"])
        if first_seen is None:
            first_seen = row
        elif (
            row["lease_token"] != first_seen["lease_token"]
            or row["lease_expires"] > first_seen["lease_expires"]
        ):
            return None  # renewed or taken: a live worker has it
        token = _lease(chunk_id)
        if token is not None or time.monotonic() > deadline:
            return token
        time.sleep(min(1.0, max(0.1, lease_renew_every() / 2)))


def match_chunk_worker_lost(*, chunk_id: int, holder: str) -> bool:
    """Queue again, ahead of the queue, a chunk whose pool process died.

    Called in the worker's main process when the pool process `holder`
    (`host:pid`) running the chunk was killed (the OOM killer, a SIGKILL):
    the chunk is free at once instead of when its lease runs out. Only the
    lease that dead process held is released; True if it was.
    """
    with transaction.atomic():
        released = Chunk.objects.filter(
            pk=chunk_id,
            state=Chunk.State.LEASED,
            lease_holder=holder,
            job__state=MatchJob.State.RUNNING,
        ).update(
            state=Chunk.State.PENDING,
            lease_token="",
            queued_at=timezone.now(),
            requeues=0,
        )
        if released:
            _queue("match_chunk", chunk_id, priority=URGENT)
    return bool(released)


def _fail_if_worn_out(chunk_id: int) -> bool:
    """Fail the job of a free chunk that was started too many times.

    A chunk whose worker dies every time (a row that exhausts its memory, say)
    comes back at once each time (the message is rejected back to the queue,
    the dead holder's lease taken over): without this cap it would loop for
    ever and never reach the sweep's own limit.
    """
    chunk = (
        Chunk.objects.filter(
            pk=chunk_id,
            job__state=MatchJob.State.RUNNING,
            attempts__gte=settings.MATCH_MAX_ATTEMPTS,
        )
        .exclude(state=Chunk.State.DONE)
        .first()
    )
    if chunk is None:
        return False
    held = chunk.state == Chunk.State.LEASED and chunk.lease_expires > timezone.now()
    if held and not leases.holder_is_dead(chunk.lease_holder):
        return False
    job_fail(
        chunk.job_id,
        f"chunk {chunk.index} was started {chunk.attempts} times and never "
        "finished: the worker running it stopped each time (killed, or out of "
        "memory); see the worker logs",
    )
    return True


def _extend_lease(chunk_id: int, token: str) -> bool:
    return bool(
        Chunk.objects.filter(
            pk=chunk_id, lease_token=token, state=Chunk.State.LEASED
        ).update(lease_expires=timezone.now() + _lease_for())
    )


def job_lease_renewal(job_id: int, field: str) -> Callable[[], bool]:
    """A renewal for a job's ingest or finalize lease (its `*_started` time)."""

    def renew() -> bool:
        return bool(
            MatchJob.objects.filter(
                pk=job_id, state=MatchJob.State.RUNNING, **{f"{field}__isnull": False}
            ).update(**{field: timezone.now()})
        )

    return renew


def match_chunk_run(*, chunk_id: int) -> str:
    """Match one chunk and store its matches; returns what happened, for logs."""
    token = _lease_or_wait(chunk_id)
    if token is None:
        return "failed" if _fail_if_worn_out(chunk_id) else "not leased"
    _RUNNING.add(token)
    try:
        with leases.Heartbeat(
            partial(_extend_lease, chunk_id, token), lease_renew_every()
        ) as heartbeat:
            return _match_chunk_leased(chunk_id, token, heartbeat)
    finally:
        _RUNNING.discard(token)


def _match_chunk_leased(chunk_id: int, token: str, heartbeat: leases.Heartbeat) -> str:
    chunk = Chunk.objects.select_related("job__manifest").get(pk=chunk_id)
    job = chunk.job
    manifest = job.manifest
    spec = ChunkSpec.from_dict(chunk.spec)
    assert job.registry_revision is not None
    snapshot = snapshot_for_revision(job.registry_revision)
    thresholds = Thresholds(phash=job.thresholds["phash"], pdq=job.thresholds["pdq"])
    levels = Levels(
        **{
            name: job.thresholds[name]
            for name in Levels.__dataclass_fields__
            if name in job.thresholds
        }
    )
    references = reference_features if job.thresholds.get("verify", True) else None
    tails = tail_models(job.thresholds.get("variant_scheme", ""))
    matches: list[Match] = []
    unchecked: list[UncheckedRow] = []
    reasons: Counter[str] = Counter()
    rows_unchecked = 0
    hosts: set[str] = set()  # hosts whose evidence this chunk has written
    try:
        for batch in engine_manifests.read_chunk(
            manifest_paths(manifest),
            ManifestFormat(manifest.format),
            spec,
            manifest.columns,
        ):
            found, problems = snapshot.match(
                batch,
                thresholds,
                levels=levels,
                references=references,
                tails=tails,
                signals=job.thresholds.get("signals", ()),
            )
            if job.thresholds.get("web_signals"):
                web_found, web_problems = _publisher_signals(
                    job, batch, job.thresholds.get("signals", ()), heartbeat, hosts
                )
                found += web_found
                problems += web_problems
            found = match_exceptions_filter(
                revision=job.registry_revision, batch=batch, found=found
            )
            found = opt_ins_apply(revision=job.registry_revision, found=found)
            found_unchecked = _unchecked_rows(
                job, chunk, batch, [*batch.unchecked, *problems], manifest.columns
            )
            for row in found_unchecked:
                count_reason(reasons, row.reason)
            rows_unchecked += len({row.row for row in found_unchecked})
            unchecked += found_unchecked
            matches += _match_rows(job, chunk, batch, found)
            # The heartbeat renews the lease; it says when another worker
            # took it (we stalled past it), so the rest is not matched twice.
            if heartbeat.lost:
                return "lease lost"
    except ManifestRejected as exc:
        job_fail(job.pk, str(exc))
        return "failed"
    except Exception:
        # Let another attempt try; the sweep fails the job after too many.
        Chunk.objects.filter(pk=chunk_id, lease_token=token).update(
            state=Chunk.State.PENDING, lease_token="", queued_at=timezone.now()
        )
        raise

    with transaction.atomic():
        done = Chunk.objects.filter(
            pk=chunk_id,
            lease_token=token,
            state=Chunk.State.LEASED,
            job__state=MatchJob.State.RUNNING,
        ).update(
            state=Chunk.State.DONE,
            rows_unchecked=rows_unchecked,
            matches=len(matches),
            unchecked_reasons=dict(reasons),
        )
        if not done:
            transaction.set_rollback(True)
            return "lease lost"
        Match.objects.filter(chunk_id=chunk_id).delete()
        Match.objects.bulk_create(matches, batch_size=5000)
        UncheckedRow.objects.filter(chunk_id=chunk_id).delete()
        UncheckedRow.objects.bulk_create(unchecked, batch_size=5000)
        MatchJob.objects.filter(pk=job.pk).update(
            rows_done=F("rows_done") + chunk.rows,
            rows_unchecked=F("rows_unchecked") + rows_unchecked,
            chunks_done=F("chunks_done") + 1,
        )
        remaining = Chunk.objects.filter(job_id=job.pk).exclude(state=Chunk.State.DONE)
        if not remaining.exists():
            _queue("match_job_finalize", job.pk)
    return "done"


def _publisher_signals(
    job: MatchJob,
    batch: RowBatch,
    protocols: Iterable[str],
    heartbeat: leases.Heartbeat,
    recorded: set[str],
) -> tuple[list[Any], list[RowProblem]]:
    """The batch's signal matches and problems from its URLs' hosts. What
    each host said is the job's evidence (JobHost), written as the batch is
    matched so a chunk holds one batch's hosts at a time; a host several
    chunks share keeps the first one's record (within the cache's age, the
    same answer), and a chunk done again finds its hosts there."""
    places = url_places(batch.urls)
    names = {place[0] for place in places if place}
    said = host_signals(names, protocols, alive=lambda: not heartbeat.lost)
    new = []
    for host, signals in said.items():
        if host not in recorded:
            record = signals.as_dict()
            record.pop("access", None)  # kept for matching, not evidence
            new.append(JobHost(job_id=job.pk, host=host, signals=record))
            recorded.add(host)
    JobHost.objects.bulk_create(new, batch_size=5000, ignore_conflicts=True)
    return match_publisher_rows(batch, said, places)


def _match_rows(
    job: MatchJob, chunk: Chunk, batch: RowBatch, found: Iterable[Any]
) -> list[Match]:
    out = []
    for m in found:
        i = m.row - batch.first_row
        kind = str(m.kind)
        out.append(
            Match(
                job_id=job.pk,
                chunk_id=chunk.pk,
                row=m.row,
                key=(batch.keys[i] or "")[:255],
                url=batch.urls[i] or "",
                kind=kind,
                claim_id=m.ref if kind in KIND_CLAIM else None,
                image_id=None if kind in KIND_NO_IMAGE else m.ref,
                distance=m.distance,
                matched=(m.matched or "")[:2048],
                source=m.source,
                evidence=m.evidence[:4096],
                matched_as=m.matched_as,
                level=m.level,
                variant=m.variant[:32],
                inliers=m.inliers,
                agreement=m.agreement,
                coverage=m.coverage,
                alignment=m.alignment,
                chance=m.chance,
                similarity=m.similarity,
            )
        )
    return out


# Distinct reasons counted per chunk and per job; the rest are counted together
# (a URL's reason names the URL, so a bad column could make one per row).
MAX_REASONS = 50
OTHER_REASONS = "other reasons (see the report)"


def count_reason(reasons: Counter[str], reason: str, n: int = 1) -> None:
    """Count `reason` in `reasons`, keeping at most MAX_REASONS distinct ones.

    Past MAX_REASONS - 1 reasons, new ones are counted as OTHER_REASONS, which
    is also what merging a chunk's counts brings in, in whatever order.
    """
    named = len(reasons) - (OTHER_REASONS in reasons)
    if reason not in reasons and reason != OTHER_REASONS and named >= MAX_REASONS - 1:
        reason = OTHER_REASONS
    reasons[reason] += n


def _unchecked_rows(
    job: MatchJob,
    chunk: Chunk,
    batch: RowBatch,
    problems: Iterable[RowProblem],
    columns: dict[str, str],
) -> list[UncheckedRow]:
    out = []
    for p in sorted(problems, key=lambda p: p.row):
        i = p.row - batch.first_row
        # The engine names a value's signal; the curator knows the column.
        field = columns.get(p.signal, p.field) if p.field == p.signal else p.field
        out.append(
            UncheckedRow(
                job_id=job.pk,
                chunk_id=chunk.pk,
                row=p.row,
                key=(batch.keys[i] or "")[:255],
                url=batch.urls[i] or "",
                signal=p.signal[:16],
                field=(field or "")[:255],
                reason=p.reason,
            )
        )
    return out


def _backoff(requeues: int) -> timedelta:
    """How long a pending chunk or queued job waits before it is queued again."""
    return timedelta(seconds=settings.MATCH_REQUEUE_SECONDS * 2 ** min(requeues, 6))


def match_sweep() -> dict[str, int]:
    """Re-queue what a lost task left behind; fail chunks that keep failing.

    Run periodically (Celery beat). Safe to run anywhere, any number of times.
    """
    now = timezone.now()
    requeue_before = now - timedelta(seconds=settings.MATCH_REQUEUE_SECONDS)
    stale = now - timedelta(seconds=settings.MATCH_LEASE_SECONDS)
    report = Counter[str]()
    running = MatchJob.objects.filter(state=MatchJob.State.RUNNING)

    # Chunks whose worker died or lost its lease, or whose message was lost.
    # A pending chunk may only be waiting behind a slow backlog: it is queued
    # again once its wait passed MATCH_REQUEUE_SECONDS x 2^requeues.
    lost = Chunk.objects.filter(job__in=running).filter(
        Q(state=Chunk.State.LEASED, lease_expires__lt=now)
        | Q(state=Chunk.State.PENDING, queued_at__lt=requeue_before)
    )
    for chunk in lost.only(
        "pk", "job_id", "attempts", "index", "state", "queued_at", "requeues"
    ):
        pending = chunk.state == Chunk.State.PENDING
        if pending and chunk.queued_at > now - _backoff(chunk.requeues):
            report["waiting"] += 1
            continue
        if chunk.attempts >= settings.MATCH_MAX_ATTEMPTS:
            job_fail(
                chunk.job_id,
                f"chunk {chunk.index} failed {chunk.attempts} times; "
                "see the worker logs",
            )
            report["failed"] += 1
            continue
        with transaction.atomic():
            if (
                Chunk.objects.filter(pk=chunk.pk)
                .filter(
                    Q(state=Chunk.State.LEASED, lease_expires__lt=now)
                    | Q(state=Chunk.State.PENDING, queued_at=chunk.queued_at)
                )
                .update(
                    state=Chunk.State.PENDING,
                    lease_token="",
                    queued_at=now,
                    # A dead worker's chunk goes back at once; one whose
                    # message was slow or lost waits longer next time.
                    requeues=F("requeues") + 1 if pending else 0,
                )
            ):
                # A dead worker's chunk goes ahead of the queue (the job waits
                # on it); one whose message was only slow keeps its place.
                _queue("match_chunk", chunk.pk, priority=NORMAL if pending else URGENT)
                report["chunks"] += 1

    # Jobs whose ingest or finalize task was lost.
    for job in MatchJob.objects.filter(
        state=MatchJob.State.QUEUED, created__lt=requeue_before
    ).only("pk", "created", "ingest_requeued_at", "ingest_requeues"):
        last = job.ingest_requeued_at or job.created
        if last > now - _backoff(job.ingest_requeues):
            report["waiting"] += 1
            continue
        with transaction.atomic():
            if MatchJob.objects.filter(
                pk=job.pk,
                state=MatchJob.State.QUEUED,
                ingest_requeued_at=job.ingest_requeued_at,
            ).update(ingest_requeued_at=now, ingest_requeues=F("ingest_requeues") + 1):
                _queue("match_job_ingest", job.pk)
                report["ingest"] += 1
    for job_id in (
        running.filter(chunks_total=0, ingest_started__lt=stale)
        .exclude(phase="finalizing")
        .values_list("pk", flat=True)
    ):
        if not Chunk.objects.filter(job_id=job_id).exists():
            with transaction.atomic():
                if MatchJob.objects.filter(pk=job_id, chunks_total=0).update(
                    state=MatchJob.State.QUEUED
                ):
                    _queue("match_job_ingest", job_id)
                    report["ingest"] += 1
    for job_id in (
        running.filter(chunks_done=F("chunks_total"), chunks_total__gt=0)
        .filter(Q(finalize_started__isnull=True) | Q(finalize_started__lt=stale))
        .values_list("pk", flat=True)
    ):
        with transaction.atomic():
            _queue("match_job_finalize", job_id)
        report["finalize"] += 1
    return dict(report)
