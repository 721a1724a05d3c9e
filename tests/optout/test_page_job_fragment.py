"""/datasets/jobs/<id>/fragment/: the job's status alone, polled by its page."""

from __future__ import annotations

from django.urls import reverse

from optout.models import MatchJob
from tests.pages import assert_login_redirect

from .helpers import run_job, start_job


def url(job: MatchJob) -> str:
    return reverse("job_fragment", args=[job.pk])


def test_it_is_the_status_alone_and_follows_the_job(client, curator, registry):
    job = start_job(curator)
    client.force_login(curator)

    response = client.get(url(job))

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    text = response.content.decode()
    assert text.startswith(
        '<div class="job-status" data-final="0" data-state="queued">'
    )
    assert "<html" not in text

    run_job(job)
    text = client.get(url(job)).content.decode()
    assert text.startswith(
        '<div class="job-status" data-final="1" data-state="succeeded">'
    )
    assert "7 of 7 (100%)" in text
    assert "matches.csv" in text


def test_another_curators_job_is_a_404(client, curator, other_curator):
    job = start_job(curator)
    client.force_login(other_curator)

    assert client.get(url(job)).status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client, curator):
    job = start_job(curator)

    assert_login_redirect(client.get(url(job)), url(job))
