"""Finishing a job: counts by kind, report files, the filtered manifest in the
input's own format, and the receipt.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from optout.models import Chunk, JobOutput, Match, MatchJob
from optout.selectors import manifest_paths
from workers.engine import manifests as engine_manifests
from workers.engine.perceptual import removes_row
from workers.engine.reports import write_reports
from workers.engine.types import ManifestFormat


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
            "matched_as",
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
        matched_as,
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
            "matched_as": matched_as,
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
