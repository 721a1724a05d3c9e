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
    assert (body["rows_total"], body["rows_done"], body["rows_unchecked"]) == (7, 7, 0)
    assert body["chunks_total"] == body["chunks_done"] >= 1
    assert body["counts"] == {
        "url": 1,
        "prefix": 1,
        "domain": 1,
        "style": 1,
        "phash": 1,
    }
    assert body["unchecked_reasons"] == {}
    assert body["unchecked"] == []
    assert body["keep_unchecked"] is False
    assert body["warnings"] == []
    assert body["columns"] == {
        "used": {"url": "URL", "caption": "TEXT", "phash": "phash"},
        "unused": ["WIDTH", "HEIGHT", "similarity"],
        "not_checked": ["sha256", "md5", "pdq", "image"],
    }
    assert body["receipt"]["payload"]["columns_unused"] == body["columns"]["unused"]
    assert body["receipt"]["payload"]["rows"]["unchecked"] == 0
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
        "min_coverage": settings.MATCH_MIN_COVERAGE,
        "min_alignment": None,  # off unless the registry turns it on
        "verify": True,
        "variant_scheme": settings.MATCH_VARIANT_SCHEME,
        "descriptor_k": settings.MATCH_DESCRIPTOR_K,
        "descriptor_min": settings.MATCH_DESCRIPTOR_MIN,
        "descriptor_possible": settings.MATCH_DESCRIPTOR_POSSIBLE,
        "descriptor_strong": None,  # MATCH_DESCRIPTOR_STRONG -1: off
        "descriptor_model": "",  # MATCH_DESCRIPTOR off by default
        "signals": list(settings.SIGNAL_PROTOCOLS),  # all seven by default
        "web_signals": False,  # SIGNAL_WEB off by default
        "opt_in_manifest": False,
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


def test_a_job_lists_the_rows_it_could_not_check(curator_client, curator, registry):
    data = (
        b"key,url,caption\n"
        b"a,https://free.example/0.jpg,a cat\n"
        b"b,https://free.example/1.jpg,caf\xe9\n"
        b"c,https://free.example/2.jpg,a dog,one field too many\n"
    )
    job = run_job(start_job(curator, data, name="m.csv"))

    body = curator_client.get(url(job)).json()

    assert body["rows_unchecked"] == 2
    assert body["unchecked_reasons"] == {
        "caption is not valid UTF-8": 1,
        "row has 4 fields, the header has 3": 1,
    }
    assert body["unchecked"] == [
        {
            "row": 1,
            "key": "b",
            "url": "https://free.example/1.jpg",
            "signal": "caption",
            "field": "caption",
            "reason": "caption is not valid UTF-8",
        },
        {
            "row": 2,
            "key": "",
            "url": "",
            "signal": "row",
            "field": "",
            "reason": "row has 4 fields, the header has 3",
        },
    ]
    assert body["receipt"]["payload"]["rows"]["removed"] == 2
    assert body["receipt"]["payload"]["rows"]["unchecked_removed"] == 2


def test_a_running_job_already_warns_that_urls_are_not_checked(curator_client, curator):
    job = start_job(
        curator, b"image_link,alt\nhttps://a.example/x,a cat\n", name="m.csv"
    )

    body = curator_client.get(url(job)).json()

    assert body["state"] == "queued"
    assert body["warnings"] == [
        "URLs were not checked: no URL column; found columns: image_link, alt"
    ]
    assert body["columns"] == {
        "used": {"caption": "alt"},
        "unused": ["image_link"],
        "not_checked": ["url", "sha256", "md5", "phash", "pdq", "image"],
    }


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
