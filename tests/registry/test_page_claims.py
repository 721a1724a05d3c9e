from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils.html import escape

from registry.models import Claim
from registry.selectors import registry_revision_current
from registry.services import claim_create
from tests.pages import assert_login_redirect

URL = reverse("claims")


def test_it_sends_anonymous_visitors_to_log_in(client, db):
    assert_login_redirect(client.get(URL), URL)
    assert_login_redirect(
        client.post(URL, {"kind": "url", "value": "https://a.b/"}), URL
    )
    assert not Claim.objects.exists()


def test_it_sends_a_curator_to_the_dashboard(client, curator):
    client.force_login(curator)
    assert client.get(URL)["Location"] == reverse("dashboard")


def test_it_lists_the_owners_claims_only(client, artist, holder, other_holder):
    claim_create(owner=holder, kind="url", value="https://alice.example/a.png")
    claim_create(owner=other_holder, kind="url", value="https://bob.example/")
    client.force_login(artist)
    response = client.get(URL)
    assert response.status_code == 200
    text = response.content.decode()
    assert "https://alice.example/a.png" in text
    assert "bob.example" not in text
    assert '<span class="badge active">active</span>' in text


def test_it_adds_a_url_claim_that_is_enforced_at_once(client, artist, holder):
    revision = registry_revision_current()
    client.force_login(artist)
    response = client.post(
        URL, {"kind": "url", "value": "HTTPS://Alice.Example:443/art/a.png#top"}
    )
    assert response.status_code == 302
    assert response["Location"] == URL
    text = client.get(URL).content.decode()
    assert "Claim added: exact URL: HTTPS://Alice.Example:443/art/a.png#top." in text

    claim = Claim.objects.get()
    assert claim.owner == holder
    assert claim.state == Claim.State.ACTIVE
    assert claim.normalized == "https://alice.example/art/a.png"
    assert registry_revision_current() == revision + 1


def test_a_domain_claim_shows_its_verification_token(client, artist):
    client.force_login(artist)
    client.post(URL, {"kind": "domain", "value": "Alice.Example"})
    claim = Claim.objects.get()
    assert claim.state == Claim.State.UNVERIFIED
    text = client.get(URL).content.decode()
    assert f'<code class="token">{claim.verification_token}</code>' in text
    # How to prove control: the exact file URL and meta tag (test_page_claim_check).
    assert (
        '<code class="proof-url">'
        "https://alice.example/.well-known/dnt-registry-verification.txt</code>"
    ) in text
    assert '<span class="badge unverified">unverified</span>' in text


def test_a_style_claim_with_aliases_waits_for_review(client, artist):
    client.force_login(artist)
    response = client.post(
        URL,
        {"kind": "style", "value": "Alice Example", "aliases": "A. Example, alicex,"},
    )
    assert response.status_code == 302
    claim = Claim.objects.get()
    assert claim.state == Claim.State.PENDING_REVIEW
    assert claim.aliases == ["a. example", "alicex"]
    text = client.get(URL).content.decode()
    assert '<span class="badge pending_review">pending review</span>' in text
    assert "also: a. example, alicex" in text


@pytest.mark.parametrize(
    "data, field, message",
    [
        (
            {"kind": "style", "value": "A"},
            "value",
            "value: a style name needs at least 2 characters",
        ),
        (
            {"kind": "url", "value": "https://a.example/", "aliases": "x y"},
            "aliases",
            "aliases: only style claims have aliases",
        ),
        (
            {"kind": "style", "value": "Alice", "aliases": "b"},
            "aliases",
            "aliases: each alias needs at least 2 characters",
        ),
    ],
)
def test_it_shows_the_services_error_on_the_named_field(
    client, artist, data, field, message
):
    client.force_login(artist)
    response = client.post(URL, data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert response.context["form"].errors[field] == [message]
    assert not Claim.objects.exists()


def test_it_refuses_a_claim_the_owner_already_has(client, artist, holder):
    claim_create(owner=holder, kind="prefix", value="https://alice.example/art/")
    client.force_login(artist)
    response = client.post(
        URL, {"kind": "prefix", "value": "https://ALICE.example/art/"}
    )
    assert response.status_code == 400
    assert "value: you already have this claim" in response.content.decode()
    assert Claim.objects.count() == 1


def test_it_refuses_a_url_that_is_not_one(client, artist):
    client.force_login(artist)
    response = client.post(URL, {"kind": "url", "value": "not a url"})
    assert response.status_code == 400
    [error] = response.context["form"].errors["value"]
    assert error.startswith("value: ")
    assert escape(error) in response.content.decode()
    assert not Claim.objects.exists()


def test_it_says_how_url_claims_match(client, artist):
    client.force_login(artist)

    text = " ".join(client.get(URL).content.decode().split())

    assert "How URL claims match" in text
    assert (
        "http and https are the same, and so are a host with and without a "
        'leading <span class="mono">www.</span>: a prefix claim on '
        "https://alice.example/art/ also covers http://alice.example/art/x.png "
        "and https://www.alice.example/art/y.png."
    ) in text
    assert "An exact URL without a query string also covers it with any query" in text
    assert "A URL with a query string covers that query only." in text
    assert "exact, scheme, www, query" in text
