"""GET /api/v1/jobs/{id}/outputs/{output_id}/: download one of a job's files."""

from __future__ import annotations

import csv
import io
import json

from optout.models import JobOutput, MatchJob

from .helpers import EXACT_URL, run_job, start_job


def url(job: MatchJob, output: JobOutput) -> str:
    return f"/api/v1/jobs/{job.pk}/outputs/{output.pk}/"


def test_the_owner_downloads_the_csv_report_as_an_attachment(
    curator_client, curator, registry
):
    job = run_job(start_job(curator))
    report = job.outputs.get(kind="report_csv")

    response = curator_client.get(url(job, report))

    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="matches.csv"'
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["row"], r["kind"]) for r in rows] == [
        ("0", "url"),
        ("1", "prefix"),
        ("2", "domain"),
        ("3", "style"),
        ("4", "phash"),
    ]
    assert rows[0]["url"] == EXACT_URL
    assert rows[4]["image_id"] == str(registry.image.pk)
    assert rows[4]["work_id"] == str(registry.image.work_id)


def test_the_receipt_is_the_jobs_receipt(curator_client, curator, registry):
    job = run_job(start_job(curator))
    receipt = job.outputs.get(kind="receipt")

    response = curator_client.get(url(job, receipt))

    assert response.status_code == 200
    assert json.loads(b"".join(response.streaming_content)) == job.receipt


def test_another_curator_cannot_download_it(other_curator_client, curator, registry):
    job = run_job(start_job(curator))
    report = job.outputs.get(kind="report_csv")

    response = other_curator_client.get(url(job, report))

    assert response.status_code == 404
    assert response.json()["message"] == "file not found"


def test_a_file_of_another_job_is_not_found_under_this_one(
    curator_client, curator, registry
):
    job = run_job(start_job(curator))
    other = run_job(start_job(curator))
    report = other.outputs.get(kind="report_csv")

    response = curator_client.get(f"/api/v1/jobs/{job.pk}/outputs/{report.pk}/")

    assert response.status_code == 404


def test_anonymous_visitors_get_401(anon_client, curator, registry):
    job = run_job(start_job(curator))
    report = job.outputs.get(kind="report_csv")

    assert anon_client.get(url(job, report)).status_code == 401
