"""/datasets/jobs/<id>/outputs/<output_id>/: the job page's download links."""

from __future__ import annotations

from django.urls import reverse

from optout.models import JobOutput, MatchJob
from tests.pages import assert_login_redirect

from .helpers import KEPT_URLS, read_parquet, run_job, start_job


def url(job: MatchJob, output: JobOutput) -> str:
    return reverse("job_output", args=[job.pk, output.pk])


def test_the_owner_downloads_the_filtered_manifest(client, curator, registry):
    job = run_job(start_job(curator))
    filtered = job.outputs.get(kind="filtered")
    client.force_login(curator)

    response = client.get(url(job, filtered))

    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        f'attachment; filename="{filtered.name}"'
    )
    table = read_parquet(b"".join(response.streaming_content))
    assert table.column("URL").to_pylist() == KEPT_URLS


def test_another_curator_gets_a_404(client, curator, other_curator, registry):
    job = run_job(start_job(curator))
    client.force_login(other_curator)

    response = client.get(url(job, job.outputs.get(kind="report_csv")))

    assert response.status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client, curator, registry):
    job = run_job(start_job(curator))
    link = url(job, job.outputs.get(kind="report_csv"))

    assert_login_redirect(client.get(link), link)
