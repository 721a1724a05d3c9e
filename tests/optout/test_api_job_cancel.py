"""POST /api/v1/jobs/{id}/cancel/: stop a queued or running job."""

from __future__ import annotations

from optout.models import Chunk, MatchJob
from optout.services import match_job_ingest

from .helpers import run_job, start_job


def url(job: MatchJob) -> str:
    return f"/api/v1/jobs/{job.pk}/cancel/"


def test_the_owner_cancels_a_queued_job_and_it_never_runs(curator_client, curator):
    job = start_job(curator)

    response = curator_client.post(url(job))

    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "cancelled"
    assert body["finished"] is not None
    match_job_ingest(job_id=job.pk)  # the queued task arrives late
    assert not Chunk.objects.filter(job=job).exists()
    assert MatchJob.objects.get(pk=job.pk).state == "cancelled"


def test_a_finished_job_cannot_be_cancelled(curator_client, curator):
    job = run_job(start_job(curator))

    response = curator_client.post(url(job))

    assert response.status_code == 409
    assert response.json() == {
        "message": "the job has already succeeded",
        "code": "conflict",
        "extra": {},
    }


def test_cancelling_twice_is_a_conflict(curator_client, curator):
    job = start_job(curator)
    curator_client.post(url(job))

    response = curator_client.post(url(job))

    assert response.status_code == 409
    assert response.json()["message"] == "the job has already cancelled"


def test_another_curator_cannot_cancel_it(other_curator_client, curator):
    job = start_job(curator)

    response = other_curator_client.post(url(job))

    assert response.status_code == 404
    assert response.json()["message"] == "job not found"
    assert MatchJob.objects.get(pk=job.pk).state == "queued"


def test_anonymous_visitors_get_401(anon_client, curator):
    job = start_job(curator)

    assert anon_client.post(url(job)).status_code == 401
    assert MatchJob.objects.get(pk=job.pk).state == "queued"
