"""/datasets/: the curator's dataset checks."""

from __future__ import annotations

from django.urls import reverse

from accounts.permissions import NOT_A_CURATOR
from tests.pages import assert_login_redirect

from .helpers import run_job, start_job

URL = reverse("jobs")


def test_it_lists_the_curators_jobs_with_their_state(client, curator, registry):
    done = run_job(start_job(curator, name="done.parquet"))
    queued = start_job(curator, name="waiting.parquet")
    client.force_login(curator)

    response = client.get(URL)

    assert response.status_code == 200
    text = response.content.decode()
    assert f'<a href="/datasets/jobs/{done.pk}/">#{done.pk}</a>' in text
    assert f'<a href="/datasets/jobs/{queued.pk}/">#{queued.pk}</a>' in text
    assert "done.parquet" in text and "waiting.parquet" in text
    assert '<span class="badge active">succeeded</span>' in text
    assert '<span class="badge pending">queued</span>' in text
    assert "7 / 7" in text
    assert text.index("waiting.parquet") < text.index("done.parquet")  # newest first


def test_the_nav_has_a_datasets_link_for_curators_only(client, curator, artist):
    client.force_login(curator)
    assert '<a href="/datasets/" aria-current="page">Datasets</a>' in (
        client.get(URL).content.decode()
    )

    client.force_login(artist)
    assert ">Datasets</a>" not in client.get(reverse("dashboard")).content.decode()


def test_an_empty_list_says_how_to_start(client, curator):
    client.force_login(curator)

    text = client.get(URL).content.decode()

    assert "No checks yet." in text
    assert 'href="/datasets/upload/"' in text


def test_another_curator_does_not_see_them(client, curator, other_curator):
    start_job(curator, name="secret.parquet")
    client.force_login(other_curator)

    text = client.get(URL).content.decode()

    assert "secret.parquet" not in text
    assert "No checks yet." in text


def test_an_account_that_is_not_a_curator_is_sent_to_its_dashboard(client, artist):
    client.force_login(artist)

    response = client.get(URL, follow=True)

    assert response.redirect_chain == [(reverse("dashboard"), 302)]
    assert NOT_A_CURATOR in response.content.decode()


def test_anonymous_visitors_are_sent_to_log_in(client, db):
    assert_login_redirect(client.get(URL), URL)
