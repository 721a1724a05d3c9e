"""/datasets/jobs/<id>/: a job's progress, counts, receipt, files and matches."""

from __future__ import annotations

import html

from django.urls import reverse

from accounts.permissions import NOT_A_CURATOR
from optout.models import MatchJob
from tests.pages import assert_login_redirect

from .helpers import EXACT_URL, run_job, start_job


def url(job: MatchJob) -> str:
    return reverse("job_detail", args=[job.pk])


def test_a_finished_job_shows_counts_receipt_downloads_and_matches(
    client, curator, registry
):
    job = run_job(start_job(curator))
    client.force_login(curator)

    response = client.get(url(job))

    assert response.status_code == 200
    text = response.content.decode()
    assert f"Job #{job.pk}: laion-part.parquet" in text
    assert 'data-final="1"' in text
    assert '<span class="badge active">succeeded</span>' in text
    assert "7 of 7 (100%)" in text
    assert f'<progress id="progress-{job.pk}" max="100" value="100"' in text
    for kind in ("url", "prefix", "domain", "style", "phash"):
        assert f"<dt>{kind}</dt><dd>1</dd>" in text
    for output in job.outputs.all():
        link = reverse("job_output", args=[job.pk, output.pk])
        assert f'<a href="{link}" download>{output.name}</a>' in text
    assert html.escape(f'"sha256": "{job.manifest_sha256}"') in text
    assert (
        "Signed with the registry's Ed25519 key "
        f"<code>{job.receipt['key_id']}</code>" in text
    )
    assert (
        '<a href="/.well-known/dnt-registry-keys.json">published public keys</a>'
        in (text)
    )
    assert "1 row kept but listed for review." in text
    assert f"/api/v1/jobs/{job.pk}/matches/" in text
    assert f'<td class="value">{EXACT_URL}</td>' in text
    assert f"image {registry.image.pk} (work {registry.image.work_id})" in text
    assert "Cancel this job" not in text  # final: nothing to cancel
    assert "This page updates by itself." not in text


def test_a_job_finished_before_receipts_were_signed_still_shows_its_receipt(
    client, curator, registry
):
    job = run_job(start_job(curator))
    old = {"rows_listed_for_review": 2, "levels": {"possible": 3}, "job": job.pk}
    MatchJob.objects.filter(pk=job.pk).update(receipt=old)
    client.force_login(curator)

    text = client.get(url(job)).content.decode()

    assert "2 rows kept but listed for review." in text
    assert "<dt>possible</dt><dd>3</dd>" in text
    assert "Signed with" not in text


def test_a_job_names_the_column_of_each_signal_and_the_unused_ones(
    client, curator, registry
):
    job = run_job(start_job(curator))
    client.force_login(curator)

    text = client.get(url(job)).content.decode()

    assert '<h2 id="columns-heading">Columns checked</h2>' in text
    assert '<dt>url</dt><dd class="mono">URL</dd>' in text
    assert '<dt>caption</dt><dd class="mono">TEXT</dd>' in text
    assert "Not checked, for want of a column: sha256, md5, pdq, image." in text
    assert "Found but not used: " in text
    assert "WIDTH, HEIGHT, similarity" in text
    assert "Rows not checked" not in text
    assert "Warning:" not in text


def test_a_job_lists_its_first_unchecked_rows(client, curator, registry):
    data = b"url,caption\nhttps://free.example/0.jpg,caf\xe9\n{not,a,row\n"
    job = run_job(start_job(curator, data, name="m.csv"))
    client.force_login(curator)

    text = client.get(url(job)).content.decode()

    assert "2 rows could not be checked in full" in text
    assert "<li>caption is not valid UTF-8: 1</li>" in text
    assert (
        "<li>row 0: caption not checked [caption]: caption is not valid UTF-8</li>"
    ) in text
    assert "<li>row 1: not read at all: row has 3 fields, the header has 2</li>" in (
        text
    )
    assert "No checked row matched the registry, but 2 rows could not be checked" in (
        text
    )


def test_a_running_job_polls_and_offers_to_cancel(client, curator):
    job = start_job(curator)
    MatchJob.objects.filter(pk=job.pk).update(
        state="running", phase="matching", rows_total=200, rows_done=50
    )
    client.force_login(curator)

    text = client.get(url(job)).content.decode()

    assert 'data-final="0"' in text
    assert f'data-fragment-url="/datasets/jobs/{job.pk}/fragment/"' in text
    assert '<script src="/static/optout/job.js"></script>' in text
    assert '<span class="badge pending">running</span>' in text
    assert "matching" in text
    assert "50 of 200 (25%)" in text
    assert "Cancel this job" in text
    assert "This page updates by itself." in text


def test_a_failed_job_shows_the_reason(client, curator):
    job = start_job(curator)
    MatchJob.objects.filter(pk=job.pk).update(
        state="failed", failure_reason="row 12: url is not an http(s) URL"
    )
    client.force_login(curator)

    text = client.get(url(job)).content.decode()

    assert '<span class="badge failed">failed</span>' in text
    assert "row 12: url is not an http(s) URL" in text


def test_another_curators_job_is_a_404(client, curator, other_curator):
    job = start_job(curator)
    client.force_login(other_curator)

    assert client.get(url(job)).status_code == 404


def test_an_account_that_is_not_a_curator_is_sent_away(client, curator, artist):
    job = start_job(curator)
    client.force_login(artist)

    response = client.get(url(job), follow=True)

    assert response.redirect_chain == [(reverse("dashboard"), 302)]
    assert NOT_A_CURATOR in response.content.decode()


def test_anonymous_visitors_are_sent_to_log_in(client, curator):
    job = start_job(curator)

    assert_login_redirect(client.get(url(job)), url(job))
