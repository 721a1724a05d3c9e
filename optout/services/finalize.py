"""Finishing a job: counts by kind, report files, the filtered manifest in the
input's own format, and the receipt.

The filtered manifest leaves out every row a removing match names and, unless
the job keeps them, every row that could not be checked in full; the reports
list both, and the receipt counts them and says in words what was passed on
unchecked or not checked at all.
"""

from __future__ import annotations

import heapq
import json
import logging
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from core import leases
from core.storage import storage_delete_quietly, storage_fault, storage_save
from optout.models import Chunk, JobHost, JobOutput, Match, MatchJob, UncheckedRow
from optout.selectors import manifest_paths, manifest_sidecars
from optout.services.jobs import (
    count_reason,
    job_fail,
    job_lease_renewal,
    lease_renew_every,
)
from optout.services.receipts import receipt_sign
from registry.selectors import registry_identity
from workers.engine import manifests as engine_manifests
from workers.engine.consent import OPT_IN
from workers.engine.manifests import ColumnReport, column_report
from workers.engine.perceptual import removes_row
from workers.engine.receipts import RECEIPT_TYPE, RECEIPT_VERSION, file_sha256
from workers.engine.reports import RowPlaces, unchecked_line, write_reports
from workers.engine.snapshot import checks_applied
from workers.engine.types import ManifestFormat
from workers.engine.versions import engine_versions, model_versions
from workers.engine.websignals import WEB_PROTOCOLS

log = logging.getLogger(__name__)

# Where the published keys are, relative to SITE_URL (config/urls.py).
KEYS_PATH = "/.well-known/dnt-registry-keys.json"


def match_job_finalize(*, job_id: int) -> None:
    """Counts, reports, the filtered manifest and the receipt (idempotent)."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.MATCH_LEASE_SECONDS)
    claimed = (
        MatchJob.objects.filter(pk=job_id, state=MatchJob.State.RUNNING)
        .filter(Q(finalize_started__isnull=True) | Q(finalize_started__lt=stale))
        .filter(chunks_done=F("chunks_total"))
        .update(
            finalize_started=now,
            phase="finalizing",
            finalize_attempts=F("finalize_attempts") + 1,
        )
    )
    if not claimed:
        return
    job = MatchJob.objects.select_related("manifest").get(pk=job_id)
    if job.finalize_attempts > settings.MATCH_MAX_ATTEMPTS:
        job_fail(
            job_id,
            f"writing the outputs failed {job.finalize_attempts - 1} times; the "
            f"last error: {job.finalize_error or 'the worker stopped'}",
        )
        return
    try:
        with leases.Heartbeat(
            job_lease_renewal(job_id, "finalize_started"), lease_renew_every()
        ):
            _finalize(job)
    except OutputsNotWritten as exc:
        # Another attempt would meet the same full or read-only disk: the job
        # fails now, with what to do, and match_job_retry resumes it.
        log.error("job %s: %s (%s)", job_id, exc.reason, exc.__cause__)
        MatchJob.objects.filter(pk=job_id).update(
            finalize_error=f"{type(exc.__cause__).__name__}: {exc.__cause__}"[:2000]
        )
        job_fail(job_id, exc.reason)
    except Exception as exc:
        MatchJob.objects.filter(pk=job_id).update(
            finalize_error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise


class OutputsNotWritten(Exception):
    """Finalize met a full or unwritable disk; `reason` says so in words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# Where finalize writes, as an operator knows it (the setting to look at).
WORK_FOLDER = "the work folder (WORK_ROOT)"
FILE_STORAGE = "the file storage (MEDIA_ROOT)"


def _not_written(exc: OSError, where: str) -> OutputsNotWritten | None:
    """OutputsNotWritten for a full or unwritable disk met in `where`, or None
    for any other error (retried, as before)."""
    fault = storage_fault(exc)
    if fault is None:
        return None
    # The words for the errno alone: pyarrow's own message is longer, and
    # exc's file name is a server path the curator need not see.
    cause = os.strerror(exc.errno) if exc.errno else str(exc)
    if fault == "full":
        return OutputsNotWritten(
            f"the outputs could not be written: the disk of {where} is full "
            f"({cause}); free space, then retry the job"
        )
    return OutputsNotWritten(
        f"the outputs could not be written: {where} cannot be written "
        f"({cause}); an admin must make it writable, then retry the job"
    )


def _finalize(job: MatchJob) -> None:
    job_id = job.pk
    if Chunk.objects.filter(job=job).exclude(state=Chunk.State.DONE).exists():
        MatchJob.objects.filter(pk=job_id).update(finalize_started=None)
        return
    matches = Match.objects.filter(job=job)
    counts = dict(
        matches.values_list("kind").annotate(n=Count("id")).values_list("kind", "n")
    )
    removing = _removes(job)
    matched = np.array(
        sorted(set(matches.filter(removing).values_list("row", flat=True).distinct())),
        dtype=np.int64,
    )
    unchecked = _row_array(
        UncheckedRow.objects.filter(job=job)
        .order_by("row")
        .values_list("row", flat=True)
        .distinct()
    )
    # Unchecked rows that no removing match takes out anyway: these are what
    # keep_unchecked decides about.
    only_unchecked = int(np.setdiff1d(unchecked, matched, assume_unique=True).size)
    if job.keep_unchecked:
        removed, passed, removed_unchecked = matched, only_unchecked, 0
    else:
        removed = np.union1d(matched, unchecked)
        passed, removed_unchecked = 0, only_unchecked
    columns = column_report(job.manifest.columns, job.manifest.found_columns or [])
    warnings = list(columns.warnings)
    if passed:
        warnings.append(passed_unchecked_warning(passed))
    levels = dict(
        matches.exclude(level="")
        .values_list("level")
        .annotate(n=Count("id"))
        .values_list("level", "n")
    )
    # Rows with a perceptual match that stay in the filtered manifest (neither
    # a removing match nor being unchecked takes them out).
    graded = _row_array(
        matches.exclude(level__in=["", OPT_IN])
        .order_by("row")
        .values_list("row", flat=True)
        .distinct()
    )
    listed = int(np.setdiff1d(graded, removed, assume_unique=True).size)
    # Rows offered for training on terms: an opt-in match, no removing
    # match, and checked in full (an unread signal might refuse).
    opted_in = np.setdiff1d(
        _row_array(
            matches.filter(level=OPT_IN)
            .order_by("row")
            .values_list("row", flat=True)
            .distinct()
        ),
        np.union1d(matched, unchecked),
        assume_unique=True,
    )
    reasons: Counter[str] = Counter()
    part_rows: Counter[int] = Counter()
    for chunk_reasons, spec, rows in (
        Chunk.objects.filter(job=job)
        .order_by("index")
        .values_list("unchecked_reasons", "spec", "rows")
    ):
        # sorted: PostgreSQL's jsonb does not keep the keys' order
        for reason, n in sorted((chunk_reasons or {}).items()):
            count_reason(reasons, reason, n)
        part_rows[spec["part"]] += rows
    parts = list(job.manifest.parts.all())
    sidecars = list(job.manifest.sidecars.all())
    places = RowPlaces.from_rows(
        [part.original_name for part in parts],
        [part_rows[i] for i in range(len(parts))],
    )

    try:
        workdir = Path(
            tempfile.mkdtemp(prefix=f"job-{job_id}-", dir=settings.WORK_ROOT)
        )
    except OSError as exc:
        if (fault := _not_written(exc, WORK_FOLDER)) is None:
            raise
        raise fault from exc
    try:
        report_paths = write_reports(_report_rows(job), workdir / "report", places)
        fmt = ManifestFormat(job.manifest.format)
        paths = manifest_paths(job.manifest)
        filtered = engine_manifests.write_filtered(
            paths, fmt, removed, workdir / "filtered"
        )
        rewritten = engine_manifests.write_sidecars(
            fmt, paths, filtered, manifest_sidecars(job.manifest), workdir / "filtered"
        )
        outputs = [
            (JobOutput.Kind.REPORT_CSV, report_paths["csv"], "matches.csv"),
            (JobOutput.Kind.REPORT_JSONL, report_paths["jsonl"], "matches.jsonl"),
            (JobOutput.Kind.REPORT_PARQUET, report_paths["parquet"], "matches.parquet"),
        ]
        # The filtered parts and their sidecars keep the names the curator
        # uploaded them under: the folder still describes itself.
        outputs += [
            (JobOutput.Kind.FILTERED, path, part.original_name)
            for path, part in zip(filtered, parts, strict=True)
        ]
        outputs += [
            (JobOutput.Kind.SIDECAR, path, sidecar.original_name)
            for path, sidecar in zip(rewritten, sidecars, strict=True)
        ]
        if job.thresholds.get("opt_in_manifest"):
            outputs += _write_opt_in(
                job, fmt, paths, parts, sidecars, part_rows, opted_in, workdir
            )
        publishers = None
        if job.thresholds.get("web_signals"):
            path = workdir / "publishers.jsonl"
            publishers = _write_publishers(job, path)
            outputs.append((JobOutput.Kind.PUBLISHERS, path, "publishers.jsonl"))
        finished = timezone.now()
        receipt = receipt_sign(
            receipt_build(
                job_id=job.pk,
                manifest_name=job.manifest.name,
                manifest_sha256=job.manifest_sha256,
                manifest_format=job.manifest.format,
                manifest_size=job.manifest.size,
                files=[
                    receipt_file(
                        name=part.original_name,
                        size=part.size,
                        sha256=part.sha256,
                        rows=part_rows[i],
                    )
                    for i, part in enumerate(parts)
                ],
                sidecars=[
                    receipt_sidecar(
                        name=sidecar.original_name,
                        kind=sidecar.kind,
                        part=parts[sidecar.part].original_name,
                        size=sidecar.size,
                        sha256=sidecar.sha256,
                    )
                    for sidecar in sidecars
                ],
                columns=job.manifest.columns,
                column_words=columns,
                warnings=warnings,
                registry_revision=job.registry_revision,
                thresholds=job.thresholds,
                rows=job.rows_total,
                rows_removed=int(removed.shape[0]),
                counts=counts,
                levels=levels,
                remove_levels=job.remove_levels,
                rows_listed_for_review=listed,
                rows_opt_in=int(opted_in.shape[0]),
                rows_unchecked=int(unchecked.shape[0]),
                unchecked_reasons=dict(reasons),
                keep_unchecked=job.keep_unchecked,
                rows_passed_unchecked=passed,
                rows_removed_unchecked=removed_unchecked,
                outputs=[
                    receipt_output(kind=str(kind), name=name, path=path)
                    for kind, path, name in outputs
                ],
                started=job.started,
                finished=finished,
                publishers=publishers,
            )
        )
        (workdir / "receipt.json").write_text(
            json.dumps(receipt, indent=2, ensure_ascii=False), encoding="utf-8"
        )
        outputs.append(
            (JobOutput.Kind.RECEIPT, workdir / "receipt.json", "receipt.json")
        )
        try:
            _store_outputs(
                job,
                outputs,
                counts=counts,
                rows_unchecked=int(unchecked.shape[0]),
                unchecked_reasons=dict(reasons),
                receipt=receipt,
                finished=finished,
            )
        except OSError as exc:
            if (fault := _not_written(exc, FILE_STORAGE)) is None:
                raise
            raise fault from exc
    except OSError as exc:
        # Writing the reports, the filtered manifest or the receipt.
        if (fault := _not_written(exc, WORK_FOLDER)) is None:
            raise
        raise fault from exc
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _store_outputs(
    job: MatchJob, outputs: list[tuple[str, Path, str]], **succeeded: Any
) -> None:
    """Copy the written files to storage, then save their rows and mark the job
    succeeded (`succeeded`: the job's fields to set) in one transaction.

    The copies are made outside the transaction (slow I/O); whatever stops
    them, a full disk part-way included, removes every file stored, so no
    output is left without its row. Earlier outputs (a finalize that lost a
    race with a cancel) are replaced once this commits.
    """
    field = JobOutput._meta.get_field("file")
    stored: list[JobOutput] = []
    try:
        for kind, path, name in outputs:
            output = JobOutput(job=job, kind=kind, name=name, size=path.stat().st_size)
            with open(path, "rb") as fh:
                output.file = storage_save(
                    field.generate_filename(output, name),
                    File(fh),
                    storage=field.storage,
                )
            stored.append(output)
        with transaction.atomic():
            old = list(JobOutput.objects.filter(job=job))
            JobOutput.objects.filter(pk__in=[o.pk for o in old]).delete()
            JobOutput.objects.bulk_create(stored)
            done = MatchJob.objects.filter(
                pk=job.pk, state=MatchJob.State.RUNNING
            ).update(state=MatchJob.State.SUCCEEDED, phase="", **succeeded)
            if not done:
                # Cancelled meanwhile: the outputs are not kept.
                raise _JobNoLongerRunning
            transaction.on_commit(partial(_delete_stored, old, field.storage))
    except _JobNoLongerRunning:
        _delete_stored(stored, field.storage)
    except BaseException:
        _delete_stored(stored, field.storage)
        raise


class _JobNoLongerRunning(Exception):
    pass


def _delete_stored(outputs: list[JobOutput], storage: Any) -> None:
    for output in outputs:
        storage_delete_quietly(output.file.name, storage=storage)


def receipt_file(*, name: str, size: int, sha256: str, rows: int) -> dict[str, Any]:
    """One input file as a receipt lists it."""
    return {"name": name, "size": size, "sha256": sha256, "rows": rows}


def receipt_sidecar(
    *, name: str, kind: str, part: str, size: int, sha256: str
) -> dict[str, Any]:
    """An img2dataset sidecar as a receipt lists it: not matched, rewritten to
    fit its filtered part."""
    return {"name": name, "kind": kind, "part": part, "size": size, "sha256": sha256}


def receipt_output(*, kind: str, name: str, path: Path) -> dict[str, Any]:
    """One file the check wrote, with the digest an auditor compares."""
    sha256, size = file_sha256(path)
    return {"kind": kind, "name": name, "size": size, "sha256": sha256}


def receipt_build(
    *,
    job_id: int | None,
    manifest_name: str,
    manifest_sha256: str,
    manifest_format: str,
    manifest_size: int,
    files: list[dict[str, Any]],
    sidecars: list[dict[str, Any]] | None = None,
    columns: dict[str, str],
    column_words: ColumnReport | None = None,
    warnings: list[str] | None = None,
    registry_revision: int | None,
    thresholds: dict[str, Any],
    rows: int | None,
    rows_removed: int,
    counts: dict[str, int],
    levels: dict[str, int] | None = None,
    remove_levels: list[str] | None = None,
    rows_listed_for_review: int = 0,
    rows_opt_in: int = 0,
    rows_unchecked: int = 0,
    unchecked_reasons: dict[str, int] | None = None,
    keep_unchecked: bool = False,
    rows_passed_unchecked: int = 0,
    rows_removed_unchecked: int = 0,
    outputs: list[dict[str, Any]],
    started: datetime | None,
    finished: datetime,
    publishers: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The receipt's payload: what was checked, how, against what, and the result.

    One shape for a job's receipt and check_manifest's (job null there); sign
    it with receipt_sign. `files` (receipt_file): the manifest's files in
    order; `thresholds`: the job's (Hamming radii and the levels' settings);
    `outputs` (receipt_output): the reports and filtered files, each with its
    SHA-256, so an auditor holding only the filtered files can match them.
    `column_words`: the columns found but unused and the signals not checked;
    `warnings`: what was not checked, in words (no URL column, rows passed on
    unchecked). Rows: `rows_unchecked` could not be checked in full (by
    reason in `unchecked_reasons`); `rows_passed_unchecked` of them were kept
    in the filtered manifest (`keep_unchecked`), `rows_removed_unchecked` were
    left out for that alone (and are in `rows_removed`). `rows_opt_in` are
    offered for AI training on terms by their holders (and stay in the
    filtered manifest).
    Fractions are written as strings: a payload holds no float
    (workers/engine/receipts.py says why).
    """
    scheme = str(thresholds.get("variant_scheme", settings.MATCH_VARIANT_SCHEME))
    verify = bool(thresholds.get("verify", settings.MATCH_VERIFY))
    total = rows or 0
    radii = {kind: thresholds[kind] for kind in ("phash", "pdq") if kind in thresholds}
    words = column_words or column_report(columns, [])
    return {
        "type": RECEIPT_TYPE,
        "version": RECEIPT_VERSION,
        "registry": {
            "id": registry_identity(),
            "name": settings.SITE_NAME,
            "url": settings.SITE_URL,
            "keys_url": settings.SITE_URL.rstrip("/") + KEYS_PATH,
            "revision": registry_revision,
        },
        "job": job_id,
        "software": {
            "name": "optout-registry",
            "version": settings.VERSION,
            "engine": engine_versions(
                scheme, descriptor_model=thresholds.get("descriptor_model", "")
            ),
            "models": model_versions(scheme),
        },
        "manifest": {
            "name": manifest_name,
            "format": manifest_format,
            "size": manifest_size,
            "sha256": manifest_sha256,
            "sha256_of": "the bytes of the files below, concatenated in their order",
            "files": files,
            "sidecars": list(sidecars or []),
        },
        "columns": dict(sorted(columns.items())),
        "columns_unused": list(words.unused),
        "signals_not_checked": list(words.not_checked),
        "checks": checks_applied(
            columns,
            verify=verify,
            descriptor=bool(thresholds.get("descriptor_model")),
            signals=thresholds.get("signals", ()),
            web=bool(thresholds.get("web_signals")),
        ),
        "thresholds": radii,
        "levels": {
            **{
                name: _plain(value)
                for name, value in sorted(thresholds.items())
                if name not in radii and name not in JOB_OPTIONS
            },
            "remove": list(remove_levels or []),
        },
        "rows": {
            "total": total,
            "checked": total - rows_unchecked,
            "removed": rows_removed,
            "kept_for_review": rows_listed_for_review,
            "opt_in": rows_opt_in,
            "unchecked": rows_unchecked,
            "unchecked_passed_on": rows_passed_unchecked,
            "unchecked_removed": rows_removed_unchecked,
            "in_filtered": total - rows_removed,
        },
        "keep_unchecked": keep_unchecked,
        "unchecked_reasons": dict(sorted((unchecked_reasons or {}).items())),
        "warnings": list(warnings if warnings is not None else words.warnings),
        "matches": dict(sorted(counts.items())),
        "matches_by_level": dict(sorted((levels or {}).items())),
        "outputs": outputs,
        "started": started.isoformat() if started else None,
        "finished": finished.isoformat(),
        **({"publishers": publishers} if publishers is not None else {}),
    }


# What a job's `thresholds` also holds that is not a level's setting.
JOB_OPTIONS = ("signals", "web_signals", "opt_in_manifest")


def _write_opt_in(
    job: MatchJob,
    fmt: ManifestFormat,
    paths: list[Path],
    parts: list[Any],
    sidecars: list[Any],
    part_rows: Counter[int],
    opted_in: np.ndarray,
    workdir: Path,
) -> list[tuple[str, Path, str]]:
    """The manifest of the opt-in rows only (and its shards' metadata), each
    part named opt-in-<its name>."""
    folder = workdir / "opt-in"
    kept = engine_manifests.write_kept(
        paths, fmt, opted_in, [part_rows[i] for i in range(len(parts))], folder
    )
    rewritten = engine_manifests.write_sidecars(
        fmt, paths, kept, manifest_sidecars(job.manifest), folder
    )
    out: list[tuple[str, Path, str]] = [
        (JobOutput.Kind.OPT_IN, path, f"opt-in-{part.original_name}")
        for path, part in zip(kept, parts, strict=True)
    ]
    out += [
        (JobOutput.Kind.OPT_IN_SIDECAR, path, f"opt-in-{sidecar.original_name}")
        for path, sidecar in zip(rewritten, sidecars, strict=True)
    ]
    return out


def _write_publishers(job: MatchJob, path: Path) -> dict[str, Any]:
    """publishers.jsonl: per host the job's rows were checked against, what
    was fetched when and how it went, the rules read and the AI crawlers it
    keeps out; and the receipt's summary of it (counts only: a manifest can
    name millions of hosts, the file lists them)."""
    outcomes: dict[str, Counter[str]] = {}
    crawlers: Counter[str] = Counter()
    hosts = refusing = 0
    with open(path, "w", encoding="utf-8") as out:
        for host, signals in (
            JobHost.objects.filter(job=job)
            .order_by("host")
            .values_list("host", "signals")
            .iterator(chunk_size=5000)
        ):
            out.write(json.dumps({"host": host, **signals}, sort_keys=True) + "\n")
            hosts += 1
            for document in signals.get("documents") or []:
                name = document["url"].rsplit("/", 1)[-1] or document["url"]
                kind = name if name in ("robots.txt", "tdmrep.json") else "rsl"
                outcomes.setdefault(kind, Counter())[document["outcome"]] += 1
            crawlers.update(list(signals.get("crawlers") or {}))
            refusing += any(
                not r["allowed"] and r["category"] == "train-ai"
                for r in signals.get("rules") or []
            )
    return {
        "protocols": [
            p for p in job.thresholds.get("signals", ()) if p in WEB_PROTOCOLS
        ],
        "hosts": hosts,
        "hosts_refusing_training_somewhere": refusing,
        "documents": {k: dict(sorted(v.items())) for k, v in sorted(outcomes.items())},
        "ai_crawlers_kept_out": dict(sorted(crawlers.items())),
        "file": "publishers.jsonl",
    }


def _plain(value: Any) -> Any:
    """A setting as a payload holds it: floats as their shortest decimal string."""
    return repr(value) if isinstance(value, float) else value


def passed_unchecked_warning(n: int) -> str:
    """The words for `n` rows kept in the filtered manifest without a check."""
    if n == 1:
        return (
            "1 row was passed on unchecked: it could not be checked and is kept "
            "in the filtered manifest, as asked (keep_unchecked)"
        )
    return (
        f"{n:,} rows were passed on unchecked: they could not be checked and are "
        "kept in the filtered manifest, as asked (keep_unchecked)"
    )


def _row_array(rows: Any) -> np.ndarray:
    """Sorted distinct row numbers from a queryset, streamed into an array."""
    return np.fromiter(rows.iterator(chunk_size=50_000), dtype=np.int64)


def _report_rows(job: MatchJob) -> Iterator[dict[str, Any]]:
    """Matches and unchecked rows merged in row order (a row's matches first)."""
    return heapq.merge(
        _match_lines(job), _unchecked_lines(job), key=lambda line: line["index"]
    )


def _unchecked_lines(job: MatchJob) -> Iterator[dict[str, Any]]:
    qs = (
        UncheckedRow.objects.filter(job=job)
        .order_by("row", "id")
        .values_list("row", "key", "url", "signal", "field", "reason")
    )
    removed = not job.keep_unchecked
    for row, key, url, signal, field, reason in qs.iterator(chunk_size=20_000):
        yield unchecked_line(
            index=row,
            key=key,
            url=url,
            signal=signal,
            field=field,
            reason=reason,
            removed=removed,
        )


def _match_lines(job: MatchJob) -> Iterator[dict[str, Any]]:
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
            "coverage",
            "alignment",
            "chance",
            "similarity",
            "source",
            "evidence",
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
        coverage,
        alignment,
        chance,
        similarity,
        source,
        evidence,
    ) in qs.iterator(chunk_size=20_000):
        yield {
            "index": row,
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
            "coverage": coverage,
            "alignment": alignment,
            "chance": chance,
            "similarity": similarity,
            "source": source,
            "evidence": evidence,
            # This match alone removes its row (another match may too).
            "removed": removes_row(level, removes),
            "signal": "",
            "field": "",
            "reason": "",
        }


def _removes(job: MatchJob) -> Q:
    """Matches that remove their row (perceptual.removes_row, as a filter)."""
    return Q(level="") | Q(level__in=job.remove_levels)
