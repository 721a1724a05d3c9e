"""GET /api/v1/jobs/{id}/: a job's state, progress, counts, receipt and files."""

from __future__ import annotations

import hashlib

from django.conf import settings

from optout.models import MatchJob
from registry.selectors import registry_revision_current

from .helpers import laion_parquet, run_job, start_job


def url(job: MatchJob) -> str:
    return f"/api/v1/jobs/{job.pk}/"


def test_a_finished_job_shows_its_counts_receipt_and_files(
    curator_client, curator, registry
):
    job = run_job(start_job(curator))

    response = curator_client.get(url(job))

    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "succeeded"
    assert body["phase"] == ""
    assert body["failure_reason"] == ""
    assert body["progress"] == 1.0
    assert (body["rows_total"], body["rows_done"], body["rows_skipped"]) == (7, 7, 0)
    assert body["chunks_total"] == body["chunks_done"] >= 1
    assert body["counts"] == {
        "url": 1,
        "prefix": 1,
        "domain": 1,
        "style": 1,
        "phash": 1,
    }
    assert body["skipped_reasons"] == {}
    assert body["problems"] == []
    assert body["registry_revision"] == registry_revision_current()
    assert body["manifest_sha256"] == hashlib.sha256(laion_parquet()).hexdigest()
    assert body["thresholds"] == {
        "phash": settings.MATCH_PHASH_THRESHOLD,
        "pdq": settings.MATCH_PDQ_THRESHOLD,
        "pdq_strong": settings.MATCH_PDQ_STRONG,
        "phash_strong": settings.MATCH_PHASH_STRONG,
        "min_inliers": settings.MATCH_MIN_INLIERS,
        "min_agreement": settings.MATCH_MIN_AGREEMENT,
        "max_candidates": settings.MATCH_MAX_CANDIDATES,
        "verify": True,
        "variant_scheme": settings.MATCH_VARIANT_SCHEME,
    }
    assert body["remove_levels"] == ["verified", "strong"]
    assert body["receipt"]["algorithm"] == "Ed25519"
    receipt = body["receipt"]["payload"]
    assert receipt["levels"]["remove"] == ["verified", "strong"]
    assert receipt["manifest"]["sha256"] == body["manifest_sha256"]
    assert receipt["registry"]["revision"] == body["registry_revision"]
    assert receipt["rows"]["removed"] == 4
    assert receipt["rows"]["kept_for_review"] == 1
    assert receipt["matches_by_level"] == {"possible": 1}
    assert body["matches_url"] == f"http://testserver/api/v1/jobs/{job.pk}/matches/"
    kinds = sorted(o["kind"] for o in body["outputs"])
    assert kinds == [
        "filtered",
        "receipt",
        "report_csv",
        "report_jsonl",
        "report_parquet",
    ]
    csv = next(o for o in body["outputs"] if o["kind"] == "report_csv")
    assert csv["name"] == "matches.csv"
    assert csv["size"] > 0
    assert csv["url"] == (
        f"http://testserver/api/v1/jobs/{job.pk}/outputs/{csv['id']}/"
    )


def test_a_queued_job_shows_no_progress_yet(curator_client, curator):
    job = start_job(curator)

    body = curator_client.get(url(job)).json()

    assert body["state"] == "queued"
    assert body["progress"] == 0.0
    assert body["rows_total"] is None
    assert body["outputs"] == []
    assert body["receipt"] == {}


def test_a_failed_job_says_why(curator_client, curator):
    job = start_job(curator)
    MatchJob.objects.filter(pk=job.pk).update(
        state="failed", failure_reason="chunk 0 failed 5 times; see the worker logs"
    )

    body = curator_client.get(url(job)).json()

    assert body["state"] == "failed"
    assert body["failure_reason"] == "chunk 0 failed 5 times; see the worker logs"


def test_another_curators_job_is_not_found(other_curator_client, curator):
    job = start_job(curator)

    response = other_curator_client.get(url(job))

    assert response.status_code == 404
    assert response.json() == {
        "message": "job not found",
        "code": "not_found",
        "extra": {},
    }


def test_anonymous_visitors_get_401(anon_client, curator):
    job = start_job(curator)

    assert anon_client.get(url(job)).status_code == 401


def test_an_id_too_big_for_the_database_is_not_found(curator_client):
    response = curator_client.get(f"/api/v1/jobs/{2**63}/")

    assert response.status_code == 404
