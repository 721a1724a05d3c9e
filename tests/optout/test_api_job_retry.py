"""POST /api/v1/jobs/{id}/retry/: write a failed job's outputs again.

A job is failed at finalize by a real fault (its work folder is a file, so no
output can be written: finalize fails MATCH_MAX_ATTEMPTS times); the
full-disk drill is tests/reliability/test_disk_full.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rest_framework.test import APIClient

from accounts.services import api_token_create
from optout.models import Chunk, Match, MatchJob
from optout.services import match_chunk_run, match_job_finalize, match_job_ingest
from optout.services.jobs import job_fail

from .helpers import KEPT_URLS, output_bytes, read_parquet, start_job

pytestmark = pytest.mark.django_db


def url(job: MatchJob) -> str:
    return f"/api/v1/jobs/{job.pk}/retry/"


@pytest.fixture
def eager_celery(settings) -> Iterator[None]:
    """Queued tasks run at once, in this thread, and raise their errors."""
    from config.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = True
    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


def failed_at_finalize(owner, settings, tmp_path) -> MatchJob:
    """A job whose matching finished and whose outputs could not be written."""
    job = start_job(owner)
    match_job_ingest(job_id=job.pk)
    for chunk_id in Chunk.objects.filter(job=job).values_list("pk", flat=True):
        match_chunk_run(chunk_id=chunk_id)
    work = settings.WORK_ROOT
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    settings.WORK_ROOT = blocker
    settings.MATCH_LEASE_SECONDS = 0  # the second try finds the first stale
    settings.MATCH_MAX_ATTEMPTS = 1
    with pytest.raises(NotADirectoryError):
        match_job_finalize(job_id=job.pk)
    match_job_finalize(job_id=job.pk)
    settings.WORK_ROOT = work  # the fault is fixed
    job.refresh_from_db()
    assert job.state == "failed"
    return job


def failed_while_matching(owner) -> MatchJob:
    """A job failed by the sweep: a chunk kept failing."""
    job = start_job(owner)
    match_job_ingest(job_id=job.pk)
    job_fail(job.pk, "chunk 0 failed 5 times; see the worker logs")
    job.refresh_from_db()
    return job


def test_the_owner_retries_and_the_job_succeeds_with_its_matches(
    curator_client,
    curator,
    registry,
    settings,
    tmp_path,
    eager_celery,
    django_capture_on_commit_callbacks,
):
    job = failed_at_finalize(curator, settings, tmp_path)
    matches = sorted(Match.objects.filter(job=job).values_list("pk", flat=True))

    with django_capture_on_commit_callbacks(execute=True):
        response = curator_client.post(url(job))

    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "running"
    assert body["phase"] == "finalizing"
    assert body["failure_reason"] == ""
    # The finalize it queued has run (eagerly here).
    body = curator_client.get(f"/api/v1/jobs/{job.pk}/").json()
    assert body["state"] == "succeeded"
    assert {o["kind"] for o in body["outputs"]} == {
        "report_csv",
        "report_jsonl",
        "report_parquet",
        "filtered",
        "receipt",
    }
    job.refresh_from_db()
    assert read_parquet(output_bytes(job, "filtered")).column("URL").to_pylist() == (
        KEPT_URLS
    )
    assert sorted(Match.objects.filter(job=job).values_list("pk", flat=True)) == (
        matches
    )


def test_a_job_that_failed_while_matching_cannot_be_retried(curator_client, curator):
    job = failed_while_matching(curator)

    response = curator_client.post(url(job))

    assert response.status_code == 409
    assert response.json() == {
        "message": "the job failed before its matching finished, so it cannot be "
        "retried; upload the manifest again for a new check",
        "code": "conflict",
        "extra": {},
    }
    assert MatchJob.objects.get(pk=job.pk).state == "failed"


@pytest.mark.parametrize(
    "state, words",
    [
        ("queued", "is queued"),
        ("running", "is running"),
        ("succeeded", "has succeeded"),
        ("cancelled", "was cancelled"),
    ],
)
def test_only_a_failed_job_can_be_retried(curator_client, curator, state, words):
    job = start_job(curator)
    MatchJob.objects.filter(pk=job.pk).update(state=state)

    response = curator_client.post(url(job))

    assert response.status_code == 409
    assert response.json()["message"] == (
        f"only a failed job can be retried; this one {words}"
    )
    assert MatchJob.objects.get(pk=job.pk).state == state


def test_another_curator_cannot_retry_it(
    other_curator_client, curator, registry, settings, tmp_path
):
    job = failed_at_finalize(curator, settings, tmp_path)

    response = other_curator_client.post(url(job))

    assert response.status_code == 404
    assert response.json()["message"] == "job not found"
    assert MatchJob.objects.get(pk=job.pk).state == "failed"


def test_a_token_without_the_curate_scope_gets_403(
    curator, registry, settings, tmp_path
):
    job = failed_at_finalize(curator, settings, tmp_path)
    _, key = api_token_create(user=curator, name="lookups", scopes=["check"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    response = client.post(url(job))

    assert response.status_code == 403
    assert MatchJob.objects.get(pk=job.pk).state == "failed"


def test_anonymous_visitors_get_401(anon_client, curator):
    job = failed_while_matching(curator)

    assert anon_client.post(url(job)).status_code == 401


def test_get_is_not_allowed(curator_client, curator):
    job = failed_while_matching(curator)

    assert curator_client.get(url(job)).status_code == 405
