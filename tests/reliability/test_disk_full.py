"""Drills: the disk full when a job writes its outputs, and under manifest and
dispute evidence uploads. A real filesystem of 1 MB (tmpfs, mounted by the
test as root: `small_disk` of test_faults.py), filled by a file the test
writes; freeing space is deleting that file.

What users see: a job that cannot write its outputs fails at once with the
reason and what to do (not after MATCH_MAX_ATTEMPTS sweeps), keeps no file it
wrote, and once space is freed a retry finishes it with the same matches; an
upload that does not fit is a 507 (JSON under /api/, words on the pages) and
keeps no row and no file.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from disputes.models import Dispute, DisputeEvidence
from optout.models import Chunk, JobOutput, Manifest, Match, MatchJob
from optout.services import (
    match_chunk_run,
    match_job_finalize,
    match_job_ingest,
    match_job_retry,
    match_sweep,
)
from tests.disputes.helpers import prefix_claim
from tests.optout.helpers import (
    KEPT_URLS,
    REMOVED_ROWS,
    Registry,
    enforce,
    output_bytes,
    read_parquet,
    removed_by_report,
    report_rows,
    start_job,
    upload,
)
from tests.reliability import test_faults
from tests.reliability.test_faults import files_under, noise_png

pytestmark = pytest.mark.django_db

PAGE = 4096

# A real 1 MB filesystem (tmpfs), mounted as root; skipped elsewhere outside CI.
small_disk = test_faults.small_disk


@pytest.fixture
def registry(holder) -> Registry:
    return enforce(holder)


def fill(disk: Path, *, leave: int) -> Path:
    """Fill `disk` but `leave` bytes (whole pages); returns the filler file."""
    stat = os.statvfs(disk)
    filler = disk / "filler"
    filler.write_bytes(b"\0" * (stat.f_bavail * stat.f_frsize - leave))
    return filler


def big_csv(rows: int) -> bytes:
    """A CSV manifest of `rows` rows (about 50 bytes each)."""
    lines = ["url,caption"] + [
        f"https://free.example/{i:08d}.jpg,photo number {i}" for i in range(rows)
    ]
    return ("\n".join(lines) + "\n").encode()


def matched(job: MatchJob) -> MatchJob:
    """The job with its chunks matched in-process, as the workers would."""
    match_job_ingest(job_id=job.pk)
    for chunk_id in Chunk.objects.filter(job=job).values_list("pk", flat=True):
        match_chunk_run(chunk_id=chunk_id)
    job.refresh_from_db()
    assert job.chunks_done == job.chunks_total > 0
    return job


@pytest.mark.parametrize(
    "full, where",
    [
        # The reports cannot be written in the work folder at all.
        ("work", "the work folder (WORK_ROOT)"),
        # They are written, then copying them to storage stops part-way: the
        # first file fits, the rest do not.
        ("media", "the file storage (MEDIA_ROOT)"),
    ],
)
def test_a_finalize_on_a_full_disk_fails_at_once_and_a_retry_finishes_it(
    small_disk, settings, tmp_path, curator, registry, full, where
):
    media, work = small_disk / "media", small_disk / "work"
    media.mkdir()
    work.mkdir()
    settings.MEDIA_ROOT = str(media)
    settings.WORK_ROOT = work if full == "work" else tmp_path / "work"
    settings.WORK_ROOT.mkdir(exist_ok=True)
    job = matched(start_job(curator))
    manifest_files = files_under(media)
    match_ids = sorted(Match.objects.filter(job=job).values_list("pk", flat=True))
    attempts = sorted(Chunk.objects.filter(job=job).values_list("attempts", flat=True))
    filler = fill(small_disk, leave=2 * PAGE)

    match_job_finalize(job_id=job.pk)  # no exception: the job is failed instead

    job.refresh_from_db()
    assert job.state == "failed"
    assert job.failure_reason == (
        f"the outputs could not be written: the disk of {where} is full (No "
        "space left on device); free space, then retry the job"
    )
    assert job.finalize_attempts == 1
    assert job.phase == "" and job.finished is not None
    # Nothing it wrote is left: no output, no temporary file.
    assert not JobOutput.objects.filter(job=job).exists()
    assert sorted(files_under(small_disk)) == sorted([filler, *manifest_files])
    assert files_under(settings.WORK_ROOT) == []
    # The sweep leaves a failed job alone (before: re-queued for good).
    assert "finalize" not in match_sweep()

    # Space freed, the curator retries.
    filler.unlink()
    job = match_job_retry(owner=curator, job_id=job.pk)
    assert (job.state, job.phase, job.failure_reason) == ("running", "finalizing", "")
    match_job_finalize(job_id=job.pk)

    job.refresh_from_db()
    assert job.state == "succeeded", job.failure_reason
    assert removed_by_report(report_rows(job)) == REMOVED_ROWS
    filtered = read_parquet(output_bytes(job, "filtered"))
    assert filtered.column("URL").to_pylist() == KEPT_URLS
    assert job.receipt["payload"]["rows"]["removed"] == len(REMOVED_ROWS)
    # Matched once: the same matches, no chunk run again.
    assert sorted(Match.objects.filter(job=job).values_list("pk", flat=True)) == (
        match_ids
    )
    assert (
        sorted(Chunk.objects.filter(job=job).values_list("attempts", flat=True))
        == attempts
    )
    outputs = JobOutput.objects.filter(job=job)
    stored = {o.file.path for o in outputs}
    assert len(stored) == 5  # three reports, the filtered manifest, the receipt
    if full == "media":
        # The drill did fail part-way: matches.csv fitted in the room left.
        sizes = {o.name: o.size for o in outputs}
        assert sizes["matches.csv"] < 2 * PAGE < sum(sizes.values())
    assert set(map(str, files_under(media))) == stored | set(map(str, manifest_files))


def test_a_finalize_on_a_read_only_disk_names_it_and_resumes_once_writable(
    small_disk, settings, curator, registry
):
    settings.WORK_ROOT = small_disk
    job = matched(start_job(curator))
    remount = ["mount", "-o", "remount,ro", str(small_disk)]
    subprocess.run(remount, check=True)
    try:
        match_job_finalize(job_id=job.pk)
    finally:
        remount[2] = "remount,rw"
        subprocess.run(remount, check=True)

    job.refresh_from_db()
    assert job.state == "failed"
    assert job.failure_reason == (
        "the outputs could not be written: the work folder (WORK_ROOT) cannot be "
        "written (Read-only file system); an admin must make it writable, then "
        "retry the job"
    )
    assert job.can_retry
    match_job_retry(owner=curator, job_id=job.pk)
    match_job_finalize(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == "succeeded"
    assert files_under(small_disk) == []


def test_a_manifest_upload_on_a_full_disk_is_a_507_and_keeps_nothing(
    small_disk, settings, curator, curator_client
):
    settings.MEDIA_ROOT = str(small_disk)
    filler = fill(small_disk, leave=4 * PAGE)
    data = big_csv(2000)  # about 100 KB: a part is written, then the disk is full
    assert len(data) > 20 * PAGE

    response = curator_client.post(
        "/api/v1/manifests/", {"files": [upload("big.csv", data)]}, format="multipart"
    )

    assert response.status_code == 507
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "storage_full"
    assert "storage is full" in response.json()["message"]
    assert not Manifest.objects.exists() and not MatchJob.objects.exists()
    assert files_under(small_disk) == [filler]


def test_the_manifest_page_says_so_in_words(small_disk, settings, client, curator):
    settings.MEDIA_ROOT = str(small_disk)
    filler = fill(small_disk, leave=PAGE)
    client.force_login(curator)

    response = client.post(
        reverse("manifest_upload"), {"files": upload("big.csv", big_csv(2000))}
    )

    assert response.status_code == 507
    assert "The registry&#x27;s storage is full" in response.content.decode()
    assert not Manifest.objects.exists()
    assert files_under(small_disk) == [filler]


def dispute_form(claim_pk: int) -> dict:
    return {
        "target": f"claim:{claim_pk}",
        "grounds": "too_broad",
        "statement": "The prefix covers other people's pages on a shared host.",
        # The first file fits, the second is cut short by the full disk.
        "files": [
            SimpleUploadedFile("small.png", noise_png(1, side=40)),
            SimpleUploadedFile("scan.png", noise_png(2)),
        ],
    }


def test_dispute_evidence_on_a_full_disk_is_a_507_and_opens_no_dispute(
    small_disk, settings, holder, curator_client
):
    # A dispute is opened with its evidence or not at all: opened without it,
    # the claimant's response time would run against a dispute missing what
    # shows it, and the disputer could not add the files later.
    claim = prefix_claim(holder)
    settings.MEDIA_ROOT = str(small_disk)
    filler = fill(small_disk, leave=3 * PAGE)

    response = curator_client.post(
        "/api/v1/disputes/", dispute_form(claim.pk), format="multipart"
    )

    assert response.status_code == 507
    assert response.json()["code"] == "storage_full"
    assert not Dispute.objects.exists() and not DisputeEvidence.objects.exists()
    assert files_under(small_disk) == [filler]


def test_the_dispute_page_says_so_in_words(
    small_disk, settings, client, holder, curator
):
    claim = prefix_claim(holder)
    settings.MEDIA_ROOT = str(small_disk)
    filler = fill(small_disk, leave=3 * PAGE)
    client.force_login(curator)

    response = client.post(
        reverse("dispute_new") + f"?target=claim:{claim.pk}", dispute_form(claim.pk)
    )

    assert response.status_code == 507
    assert "The registry&#x27;s storage is full" in response.content.decode()
    assert not Dispute.objects.exists()
    assert files_under(small_disk) == [filler]
