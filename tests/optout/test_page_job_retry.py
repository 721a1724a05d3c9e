"""POST /datasets/jobs/<id>/retry/: the job page's retry button."""

from __future__ import annotations

from django.urls import reverse

from optout.models import MatchJob
from tests.pages import assert_login_redirect

from .test_api_job_retry import failed_at_finalize, failed_while_matching


def url(job: MatchJob) -> str:
    return reverse("job_retry", args=[job.pk])


def test_a_job_failed_at_finalize_offers_a_retry_that_resumes_it(
    client, curator, registry, settings, tmp_path
):
    job = failed_at_finalize(curator, settings, tmp_path)
    client.force_login(curator)

    page = client.get(reverse("job_detail", args=[job.pk])).content.decode()
    assert "writing the outputs failed 1 times" in page
    assert f'action="{url(job)}"' in page
    assert "Retry writing the outputs" in page

    response = client.post(url(job), follow=True)

    assert response.redirect_chain == [(reverse("job_detail", args=[job.pk]), 302)]
    text = response.content.decode()
    assert "The job is writing its outputs again" in text
    assert "finalizing" in text
    assert "Retry writing the outputs" not in text
    assert MatchJob.objects.get(pk=job.pk).state == "running"


def test_a_job_failed_while_matching_says_it_cannot_be_retried(client, curator):
    job = failed_while_matching(curator)
    client.force_login(curator)

    page = client.get(reverse("job_detail", args=[job.pk])).content.decode()
    assert "Retry writing the outputs" not in page
    assert "failed before its matching finished and cannot be retried" in page

    response = client.post(url(job), follow=True)

    assert "so it cannot be retried; upload the manifest again" in (
        response.content.decode()
    )
    assert MatchJob.objects.get(pk=job.pk).state == "failed"


def test_get_is_not_allowed(client, curator):
    job = failed_while_matching(curator)
    client.force_login(curator)

    assert client.get(url(job)).status_code == 405


def test_another_curators_job_is_a_404(client, curator, other_curator):
    job = failed_while_matching(curator)
    client.force_login(other_curator)

    assert client.post(url(job)).status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client, curator):
    job = failed_while_matching(curator)

    assert_login_redirect(client.post(url(job)), url(job))
