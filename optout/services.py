"""Every write on the curators' side: manifests, match jobs, chunks, outputs.

A job runs as: ingest (plan chunks) -> one match task per chunk -> finalize.
Each step claims its work with a conditional UPDATE, so a duplicated or
retried task finds nothing to do, and every chunk's state and lease live in
the database: the sweep re-queues chunks whose lease expired or whose message
was lost (a killed worker, a restarted Redis), so no task is waited on and no
chord is needed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from registry.disputes import match_exceptions_filter
from registry.errors import Conflict, NotFound, ValidationFailed
from registry.models import User
from registry.selectors import registry_revision_current
from workers.engine import manifests as engine_manifests
from workers.engine.manifests import ManifestRejected
from workers.engine.perceptual import Levels, TailModel, removes_row, tail_models
from workers.engine.reports import write_reports
from workers.engine.snapshot import Thresholds
from workers.engine.types import ChunkSpec, ManifestFormat, RowBatch

from .models import Chunk, JobOutput, Manifest, ManifestPart, Match, MatchJob
from .references import reference_features
from .snapshots import snapshot_for_revision

KIND_CLAIM = {"url", "prefix", "domain", "style"}


class UploadedManifestFile(Protocol):
    name: str
    size: int

    def chunks(self, chunk_size: int | None = None) -> Iterator[bytes]: ...

    def seek(self, offset: int) -> Any: ...


# --- manifests ------------------------------------------------------------------


def _part_local_path(part: ManifestPart) -> Path:
    # FileSystemStorage: the file itself. Object storage comes with a download
    # step here (TODO(#4): S3-compatible media).
    return Path(default_storage.path(part.file.name))


def manifest_paths(manifest: Manifest) -> list[Path]:
    return [_part_local_path(p) for p in manifest.parts.all()]


def manifest_upload(
    *,
    owner: User,
    files: list[UploadedManifestFile],
    columns: dict[str, str] | None = None,
    name: str = "",
) -> Manifest:
    """Store a manifest (one file, or several tar shards), streamed to storage.

    Detects its format and columns now, so a file we cannot read is refused
    with a 400 that names it instead of failing later in a worker.
    """
    if not files:
        raise ValidationFailed("no manifest file was uploaded", field="files")
    total = sum(f.size for f in files)
    if total > settings.MANIFEST_MAX_BYTES:
        raise ValidationFailed(
            f"the manifest is {total:,} bytes, over the limit of "
            f"{settings.MANIFEST_MAX_BYTES:,}",
            field="files",
        )
    overrides = _clean_columns(columns)
    digest = hashlib.sha256()
    stored: list[tuple[UploadedManifestFile, str, str]] = []
    try:
        for upload in files:
            if upload.size == 0:
                raise ValidationFailed(
                    f"{upload.name}: the file is empty", field="files"
                )
            part_digest = hashlib.sha256()
            for block in upload.chunks():
                digest.update(block)
                part_digest.update(block)
            upload.seek(0)
            path = default_storage.save(
                ManifestPart._meta.get_field("file").generate_filename(
                    None, upload.name
                ),
                File(upload, name=upload.name),
            )
            stored.append((upload, path, part_digest.hexdigest()))
        paths = [Path(default_storage.path(p)) for _, p, _ in stored]
        fmt = _sniff_all(paths, [u.name for u, _, _ in stored])
        try:
            detected = engine_manifests.detect_columns(paths[0], fmt, overrides or None)
        except ManifestRejected as exc:
            raise ValidationFailed(
                f"{stored[0][0].name}: {exc}", field="columns"
            ) from None
        with transaction.atomic():
            manifest = Manifest.objects.create(
                owner=owner,
                name=(name or stored[0][0].name)[:255],
                format=fmt.value,
                columns=detected,
                column_overrides=overrides,
                size=total,
                sha256=digest.hexdigest(),
            )
            ManifestPart.objects.bulk_create(
                ManifestPart(
                    manifest=manifest,
                    index=i,
                    file=path,
                    original_name=upload.name[:255],
                    size=upload.size,
                    sha256=part_sha,
                )
                for i, (upload, path, part_sha) in enumerate(stored)
            )
    except BaseException:
        for _, path, _ in stored:
            default_storage.delete(path)
        raise
    return manifest


def _clean_columns(columns: dict[str, str] | None) -> dict[str, str]:
    if not columns:
        return {}
    from workers.engine.types import LOGICAL_COLUMNS

    clean = {}
    for logical, actual in columns.items():
        if logical not in LOGICAL_COLUMNS:
            raise ValidationFailed(
                f"columns: unknown column {logical!r}; use one of "
                + ", ".join(sorted(LOGICAL_COLUMNS)),
                field="columns",
            )
        if not isinstance(actual, str) or not actual:
            raise ValidationFailed(
                f"columns: {logical} must name a column of the file", field="columns"
            )
        clean[logical] = actual
    return clean


def _sniff_all(paths: list[Path], names: list[str]) -> ManifestFormat:
    formats = []
    for path, name in zip(paths, names, strict=True):
        try:
            formats.append(engine_manifests.sniff(path, name))
        except ManifestRejected as exc:
            raise ValidationFailed(f"{name}: {exc}", field="files") from None
    if len(paths) > 1 and any(f != ManifestFormat.WEBDATASET for f in formats):
        raise ValidationFailed(
            "several files make one manifest only as WebDataset tar shards",
            field="files",
        )
    return formats[0]


# --- jobs -----------------------------------------------------------------------


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
        max_candidates=settings.MATCH_MAX_CANDIDATES,
    )


def default_tails() -> dict[str, TailModel]:
    """Chance-match models for the configured variant scheme (docs/MATCHING.md)."""
    return tail_models(settings.MATCH_VARIANT_SCHEME)


PERCEPTUAL_LEVELS = ("verified", "strong", "possible")


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


def match_job_start(
    *,
    manifest: Manifest,
    owner: User,
    thresholds: dict[str, int] | None = None,
    remove_levels: Iterable[str] | None = None,
) -> MatchJob:
    """Queue a match job for `manifest`; ingest runs once this commits.

    `remove_levels`: which perceptual levels the filtered manifest removes
    (default settings.MATCH_REMOVE_LEVELS); the others are only listed.
    """
    if manifest.owner_id != owner.pk:
        raise NotFound("manifest not found")
    removing = _remove_levels(remove_levels)
    chosen = asdict(default_thresholds())
    from .snapshots import max_radius

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
    with transaction.atomic():
        job = MatchJob.objects.create(
            manifest=manifest,
            owner=owner,
            manifest_sha256=manifest.sha256,
            thresholds=chosen,
            remove_levels=removing,
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


def _queue(task_name: str, *args: Any) -> None:
    from workers import tasks

    transaction.on_commit(partial(getattr(tasks, task_name).delay, *args))


def _fail(job_id: int, reason: str) -> None:
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
    job = MatchJob.objects.select_related("manifest").get(pk=job_id)
    manifest = job.manifest
    revision = registry_revision_current()
    snapshot_for_revision(revision)  # build it once, before the chunks need it
    try:
        specs = engine_manifests.plan_chunks(
            manifest_paths(manifest),
            ManifestFormat(manifest.format),
            target_rows=settings.MATCH_CHUNK_ROWS,
        )
    except ManifestRejected as exc:
        _fail(job_id, str(exc))
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


def _lease(chunk_id: int) -> str | None:
    token = uuid.uuid4().hex
    now = timezone.now()
    running = MatchJob.objects.filter(state=MatchJob.State.RUNNING).values("pk")
    leased = (
        Chunk.objects.filter(pk=chunk_id, job_id__in=running)
        .filter(
            Q(state=Chunk.State.PENDING)
            | Q(state=Chunk.State.LEASED, lease_expires__lt=now)
        )
        .update(
            state=Chunk.State.LEASED,
            lease_token=token,
            lease_expires=now + timedelta(seconds=settings.MATCH_LEASE_SECONDS),
            attempts=F("attempts") + 1,
        )
    )
    return token if leased else None


def _extend_lease(chunk_id: int, token: str) -> bool:
    return bool(
        Chunk.objects.filter(
            pk=chunk_id, lease_token=token, state=Chunk.State.LEASED
        ).update(
            lease_expires=timezone.now()
            + timedelta(seconds=settings.MATCH_LEASE_SECONDS)
        )
    )


def match_chunk_run(*, chunk_id: int) -> str:
    """Match one chunk and store its matches; returns what happened, for logs."""
    token = _lease(chunk_id)
    if token is None:
        return "not leased"
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
    skipped: Counter[str] = Counter()
    examples: list[dict[str, Any]] = []
    try:
        for batch in engine_manifests.read_chunk(
            manifest_paths(manifest),
            ManifestFormat(manifest.format),
            spec,
            manifest.columns,
        ):
            found, problems = snapshot.match(
                batch, thresholds, levels=levels, references=references, tails=tails
            )
            found = match_exceptions_filter(
                revision=job.registry_revision, batch=batch, found=found
            )
            for problem in [*batch.skipped, *problems]:
                skipped[problem.reason] += 1
                if len(examples) < 20:
                    examples.append(problem.as_dict())
            matches += _match_rows(job, chunk, batch, found)
            if not _extend_lease(chunk_id, token):
                return "lease lost"
    except ManifestRejected as exc:
        _fail(job.pk, str(exc))
        return "failed"
    except Exception:
        # Let another attempt try; the sweep fails the job after too many.
        Chunk.objects.filter(pk=chunk_id, lease_token=token).update(
            state=Chunk.State.PENDING, lease_token="", queued_at=timezone.now()
        )
        raise

    rows_skipped = sum(skipped.values())
    with transaction.atomic():
        done = Chunk.objects.filter(
            pk=chunk_id,
            lease_token=token,
            state=Chunk.State.LEASED,
            job__state=MatchJob.State.RUNNING,
        ).update(
            state=Chunk.State.DONE,
            rows_skipped=rows_skipped,
            matches=len(matches),
            skipped_reasons=dict(skipped),
            problems=examples,
        )
        if not done:
            transaction.set_rollback(True)
            return "lease lost"
        Match.objects.filter(chunk_id=chunk_id).delete()
        Match.objects.bulk_create(matches, batch_size=5000)
        MatchJob.objects.filter(pk=job.pk).update(
            rows_done=F("rows_done") + chunk.rows,
            rows_skipped=F("rows_skipped") + rows_skipped,
            chunks_done=F("chunks_done") + 1,
        )
        remaining = Chunk.objects.filter(job_id=job.pk).exclude(state=Chunk.State.DONE)
        if not remaining.exists():
            _queue("match_job_finalize", job.pk)
    return "done"


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
                image_id=None if kind in KIND_CLAIM else m.ref,
                distance=m.distance,
                matched=(m.matched or "")[:2048],
                level=m.level,
                variant=m.variant[:32],
                inliers=m.inliers,
                agreement=m.agreement,
                chance=m.chance,
            )
        )
    return out


def match_job_finalize(*, job_id: int) -> None:
    """Counts, reports, the filtered manifest and the receipt (idempotent)."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.MATCH_LEASE_SECONDS)
    claimed = (
        MatchJob.objects.filter(pk=job_id, state=MatchJob.State.RUNNING)
        .filter(Q(finalize_started__isnull=True) | Q(finalize_started__lt=stale))
        .filter(chunks_done=F("chunks_total"))
        .update(finalize_started=now, phase="finalizing")
    )
    if not claimed:
        return
    job = MatchJob.objects.select_related("manifest").get(pk=job_id)
    if Chunk.objects.filter(job=job).exclude(state=Chunk.State.DONE).exists():
        MatchJob.objects.filter(pk=job_id).update(finalize_started=None)
        return
    matches = Match.objects.filter(job=job)
    counts = dict(
        matches.values_list("kind").annotate(n=Count("id")).values_list("kind", "n")
    )
    removing = _removes(job)
    removed = np.array(
        sorted(set(matches.filter(removing).values_list("row", flat=True).distinct())),
        dtype=np.int64,
    )
    levels = dict(
        matches.exclude(level="")
        .values_list("level")
        .annotate(n=Count("id"))
        .values_list("level", "n")
    )
    listed = (
        matches.exclude(level="")
        .exclude(row__in=matches.filter(removing).values("row"))
        .values("row")
        .distinct()
        .count()
    )
    skipped: Counter[str] = Counter()
    for reasons in Chunk.objects.filter(job=job).values_list(
        "skipped_reasons", flat=True
    ):
        skipped.update(reasons or {})

    workdir = Path(tempfile.mkdtemp(prefix=f"job-{job_id}-", dir=settings.WORK_ROOT))
    try:
        report_paths = write_reports(_report_rows(job), workdir / "report")
        filtered = engine_manifests.write_filtered(
            manifest_paths(job.manifest),
            ManifestFormat(job.manifest.format),
            removed,
            workdir / "filtered",
        )
        finished = timezone.now()
        receipt = receipt_build(
            job_id=job.pk,
            manifest_name=job.manifest.name,
            manifest_sha256=job.manifest_sha256,
            manifest_format=job.manifest.format,
            manifest_size=job.manifest.size,
            registry_revision=job.registry_revision,
            thresholds=job.thresholds,
            rows=job.rows_total,
            rows_skipped=job.rows_skipped,
            rows_removed=int(removed.shape[0]),
            counts=counts,
            levels=levels,
            remove_levels=job.remove_levels,
            rows_listed_for_review=listed,
            skipped_reasons=dict(skipped),
            started=job.started,
            finished=finished,
        )
        (workdir / "receipt.json").write_text(json.dumps(receipt, indent=2))
        outputs = [
            (JobOutput.Kind.REPORT_CSV, report_paths["csv"], "matches.csv"),
            (JobOutput.Kind.REPORT_JSONL, report_paths["jsonl"], "matches.jsonl"),
            (JobOutput.Kind.REPORT_PARQUET, report_paths["parquet"], "matches.parquet"),
            (JobOutput.Kind.RECEIPT, workdir / "receipt.json", "receipt.json"),
        ]
        # Filtered parts keep the names the curator uploaded them under.
        names = [p.original_name for p in job.manifest.parts.all()]
        outputs += [
            (JobOutput.Kind.FILTERED, path, f"filtered-{name}")
            for path, name in zip(filtered, names, strict=True)
        ]
        with transaction.atomic():
            for old in JobOutput.objects.filter(job=job):
                old.file.delete(save=False)
                old.delete()
            for kind, path, name in outputs:
                output = JobOutput(
                    job=job, kind=kind, name=name, size=path.stat().st_size
                )
                with open(path, "rb") as fh:
                    output.file.save(name, File(fh), save=False)
                output.save()
            MatchJob.objects.filter(pk=job_id, state=MatchJob.State.RUNNING).update(
                state=MatchJob.State.SUCCEEDED,
                counts=counts,
                skipped_reasons=dict(skipped),
                receipt=receipt,
                finished=finished,
                phase="",
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def receipt_build(
    *,
    job_id: int | None,
    manifest_name: str,
    manifest_sha256: str,
    manifest_format: str,
    manifest_size: int,
    registry_revision: int | None,
    thresholds: dict[str, int],
    rows: int | None,
    rows_skipped: int,
    rows_removed: int,
    counts: dict[str, int],
    skipped_reasons: dict[str, int],
    levels: dict[str, int] | None = None,
    remove_levels: list[str] | None = None,
    rows_listed_for_review: int = 0,
    started: datetime | None,
    finished: datetime,
) -> dict[str, Any]:
    """The receipt a curator keeps: what was checked, against what, and the result.

    One shape for a job's receipt.json and check_manifest's (job_id None there).
    """
    return {
        "job": job_id,
        "manifest": {
            "name": manifest_name,
            "sha256": manifest_sha256,
            "format": manifest_format,
            "size": manifest_size,
        },
        "registry_revision": registry_revision,
        "thresholds": thresholds,
        "rows": rows,
        "rows_skipped": rows_skipped,
        "rows_removed": rows_removed,
        "rows_listed_for_review": rows_listed_for_review,
        "matches": counts,
        "levels": levels or {},
        "remove_levels": remove_levels or [],
        "skipped_reasons": skipped_reasons,
        "started": started.isoformat() if started else None,
        "finished": finished.isoformat(),
        "software": "optout-registry " + settings.VERSION,
    }


def _report_rows(job: MatchJob) -> Iterator[dict[str, Any]]:
    qs = (
        Match.objects.filter(job=job)
        .order_by("row", "kind", "id")
        .values_list(
            "row",
            "key",
            "url",
            "kind",
            "claim_id",
            "image_id",
            "image__work_id",
            "distance",
            "matched",
            "level",
            "variant",
            "inliers",
            "agreement",
            "chance",
        )
    )
    removes = set(job.remove_levels)
    for (
        row,
        key,
        url,
        kind,
        claim_id,
        image_id,
        work_id,
        distance,
        matched,
        level,
        variant,
        inliers,
        agreement,
        chance,
    ) in qs.iterator(chunk_size=20_000):
        yield {
            "row": row,
            "key": key,
            "url": url,
            "kind": kind,
            "claim_id": claim_id,
            "image_id": image_id,
            "work_id": work_id,
            "distance": distance,
            "matched": matched,
            "level": level,
            "variant": variant,
            "inliers": inliers,
            "agreement": agreement,
            "chance": chance,
            # This match alone removes its row (another match may too).
            "removed": removes_row(level, removes),
        }


def _removes(job: MatchJob) -> Q:
    """Matches that remove their row (perceptual.removes_row, as a filter)."""
    return Q(level="") | Q(level__in=job.remove_levels)


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
    lost = Chunk.objects.filter(job__in=running).filter(
        Q(state=Chunk.State.LEASED, lease_expires__lt=now)
        | Q(state=Chunk.State.PENDING, queued_at__lt=requeue_before)
    )
    for chunk in lost.only("pk", "job_id", "attempts", "index"):
        if chunk.attempts >= settings.MATCH_MAX_ATTEMPTS:
            _fail(
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
                    | Q(state=Chunk.State.PENDING)
                )
                .update(state=Chunk.State.PENDING, lease_token="", queued_at=now)
            ):
                _queue("match_chunk", chunk.pk)
                report["chunks"] += 1

    # Jobs whose ingest or finalize task was lost.
    for job_id in MatchJob.objects.filter(
        state=MatchJob.State.QUEUED, created__lt=requeue_before
    ).values_list("pk", flat=True):
        with transaction.atomic():
            _queue("match_job_ingest", job_id)
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
