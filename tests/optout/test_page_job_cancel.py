"""POST /datasets/jobs/<id>/cancel/: the job page's cancel button."""

from __future__ import annotations

from django.urls import reverse

from optout.models import MatchJob
from tests.pages import assert_login_redirect

from .helpers import run_job, start_job


def url(job: MatchJob) -> str:
    return reverse("job_cancel", args=[job.pk])


def test_the_owner_cancels_a_queued_job(client, curator):
    job = start_job(curator)
    client.force_login(curator)

    response = client.post(url(job), follow=True)

    assert response.redirect_chain == [(reverse("job_detail", args=[job.pk]), 302)]
    text = response.content.decode()
    assert "The job was cancelled." in text
    assert '<span class="badge withdrawn">cancelled</span>' in text
    assert MatchJob.objects.get(pk=job.pk).state == "cancelled"


def test_a_finished_job_says_it_cannot_be_cancelled(client, curator, registry):
    job = run_job(start_job(curator))
    client.force_login(curator)

    response = client.post(url(job), follow=True)

    assert "the job has already succeeded" in response.content.decode()
    assert MatchJob.objects.get(pk=job.pk).state == "succeeded"


def test_get_is_not_allowed(client, curator):
    job = start_job(curator)
    client.force_login(curator)

    assert client.get(url(job)).status_code == 405


def test_another_curators_job_is_a_404(client, curator, other_curator):
    job = start_job(curator)
    client.force_login(other_curator)

    assert client.post(url(job)).status_code == 404
    assert MatchJob.objects.get(pk=job.pk).state == "queued"


def test_anonymous_visitors_are_sent_to_log_in(client, curator):
    job = start_job(curator)

    assert_login_redirect(client.post(url(job)), url(job))
    assert MatchJob.objects.get(pk=job.pk).state == "queued"
