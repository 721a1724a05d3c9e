"""Domain claims on the claims page: instructions, the last result, Check now."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils.html import escape

from registry.models import Claim
from registry.services import claim_create, claim_domain_check
from tests.pages import assert_login_redirect
from tests.registry.trust import freeze, point_domains_at
from tests.webserver import local_site

CLAIMS = reverse("claims")


@pytest.fixture
def claim(holder) -> Claim:
    return claim_create(owner=holder, kind="domain", value="alice.example")


def check_url(claim: Claim) -> str:
    return reverse("claim_check", args=[claim.pk])


@pytest.fixture
def queued(monkeypatch) -> list[tuple]:
    from registry import tasks

    calls: list[tuple] = []
    monkeypatch.setattr(
        tasks.claim_domain_check,
        "apply_async",
        lambda args, kwargs=None, **options: calls.append(tuple(args)),
    )
    return calls


def test_an_unverified_domain_shows_the_exact_file_url_and_meta_tag(
    client, artist, claim
):
    client.force_login(artist)
    text = client.get(CLAIMS).content.decode()
    token = claim.verification_token
    assert (
        '<code class="proof-url">'
        "https://alice.example/.well-known/dnt-registry-verification.txt</code>"
    ) in text
    assert f'<code class="token">{token}</code>' in text
    assert escape(f'<meta name="dnt-registry-verification" content="{token}">') in text
    assert f'action="{check_url(claim)}"' in text


def test_check_now_queues_a_check_and_says_so(
    client, artist, claim, queued, django_capture_on_commit_callbacks
):
    client.force_login(artist)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(check_url(claim))
    assert response["Location"] == CLAIMS
    assert queued == [(claim.pk,)]
    text = client.get(CLAIMS).content.decode()
    assert (
        "Checking alice.example now: reload this page in a minute to see the result."
        in text
    )


def test_the_last_failure_is_shown_to_the_artist(
    client, artist, claim, settings, monkeypatch
):
    settings.DOMAIN_PROOF_SCHEME = "http"
    freeze(monkeypatch)
    with local_site() as site:
        point_domains_at(monkeypatch, site)
        claim_domain_check(claim_id=claim.pk)
    client.force_login(artist)
    text = client.get(CLAIMS).content.decode()
    assert "Last check (2026-11-24 09:00 UTC) failed:" in text
    assert (
        f"http://alice.example:{site.port}/.well-known/dnt-registry-verification.txt: "
        "HTTP 404" in text
    )


def test_a_verified_domain_says_how_it_was_proven(client, artist, claim):
    Claim.objects.filter(pk=claim.pk).update(state="active", proof_method="meta")
    client.force_login(artist)
    text = client.get(CLAIMS).content.decode()
    assert "Verified by the meta tag" in text


def test_another_artist_cannot_check_my_claim(client, other_artist, claim, queued):
    client.force_login(other_artist)
    assert client.post(check_url(claim)).status_code == 404
    assert queued == []


def test_a_url_claim_cannot_be_checked(client, artist, holder, queued):
    url = claim_create(owner=holder, kind="url", value="https://a.example/")
    client.force_login(artist)
    client.post(check_url(url))
    text = client.get(CLAIMS).content.decode()
    assert "only domain claims have a proof of control to check" in text
    assert queued == []


def test_anonymous_visitors_and_curators_cannot_check(client, curator, claim, queued):
    assert_login_redirect(client.post(check_url(claim)), check_url(claim))
    client.force_login(curator)
    assert client.post(check_url(claim))["Location"] == reverse("dashboard")
    assert client.get(check_url(claim)).status_code == 302  # GET: to the dashboard
    assert queued == []
