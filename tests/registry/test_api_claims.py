"""/api/v1/claims/: claiming URLs, prefixes, domains and style names."""

from __future__ import annotations

import pytest

from registry.models import Claim
from registry.permissions import NOT_AN_ARTIST
from registry.selectors import registry_revision_current
from registry.services import claim_create
from tests.factories import approved_prefix

URL = "/api/v1/claims/"


@pytest.fixture
def claim(holder) -> Claim:
    return claim_create(
        owner=holder, kind="url", value="https://alice.example/harbour.png"
    )


@pytest.fixture
def others_claim(other_holder) -> Claim:
    return approved_prefix(other_holder, "https://bob.example/art/")


# --- create -------------------------------------------------------------------


def test_it_enforces_a_url_claim_at_once(artist_client, holder):
    before = registry_revision_current()

    response = artist_client.post(
        URL,
        {"kind": "url", "value": "HTTPS://Alice.Example:443/a/../harbour.png#top"},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    claim = Claim.objects.get(pk=body["id"])
    assert claim.owner == holder
    assert body == {
        "id": claim.pk,
        "kind": "url",
        "value": "HTTPS://Alice.Example:443/a/../harbour.png#top",
        "normalized": "https://alice.example/harbour.png",
        "aliases": [],
        "preferences": {"train-ai": "n"},  # what every claim says
        "state": "active",
        "verification_token": None,
        "created": claim.created.isoformat().replace("+00:00", "Z"),
        "activated_at": claim.activated_at.isoformat().replace("+00:00", "Z"),
        "withdrawn_at": None,
        "proof_checked_at": None,
        "proof_method": "",
        "proof_error": "",
        "pending_reason": "",
        "blocked_by": None,
        "opt_in": None,
    }
    assert registry_revision_current() == before + 1


def test_a_prefix_on_a_host_not_proved_waits_with_its_reason(artist_client):
    before = registry_revision_current()

    response = artist_client.post(
        URL, {"kind": "prefix", "value": "https://upload.wikimedia.org/"}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert body["state"] == "pending_review"
    assert body["pending_reason"] == (
        "A prefix reaches every URL under it, so it is enforced once you prove you "
        "control upload.wikimedia.org: claim the domain upload.wikimedia.org (or a "
        "parent domain) and verify it, or wait for an admin to approve it."
    )
    assert registry_revision_current() == before  # nothing enforced


def test_a_prefix_on_a_proved_domain_is_enforced_at_once(artist_client, holder):
    domain = claim_create(owner=holder, kind="domain", value="alice.example")
    Claim.objects.filter(pk=domain.pk).update(state=Claim.State.ACTIVE)

    response = artist_client.post(
        URL,
        {"kind": "prefix", "value": "https://www.art.alice.example/x/"},
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["state"] == "active"
    assert response.json()["pending_reason"] == ""


def test_a_domain_claim_waits_for_proof_and_shows_its_token(artist_client):
    before = registry_revision_current()

    response = artist_client.post(
        URL, {"kind": "domain", "value": "Alice.Example"}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    claim = Claim.objects.get(pk=body["id"])
    assert body["state"] == "unverified"
    assert body["normalized"] == "alice.example"
    assert body["verification_token"] == claim.verification_token
    assert len(claim.verification_token) >= 24
    assert body["activated_at"] is None
    assert registry_revision_current() == before


def test_a_style_claim_waits_for_review_with_its_aliases(artist_client):
    response = artist_client.post(
        URL,
        {
            "kind": "style",
            "value": "Alice  Atkinson",
            "aliases": ["A. Atkinson", "ALICE ATKINSON", "alice_a"],
        },
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert body["state"] == "pending_review"
    assert body["normalized"] == "alice atkinson"
    assert body["aliases"] == ["a. atkinson", "alice_a"]


def test_it_rejects_an_unknown_kind(artist_client):
    response = artist_client.post(URL, {"kind": "hash", "value": "abc"}, format="json")

    assert response.status_code == 400
    assert response.json()["message"] == 'kind: "hash" is not a valid choice.'
    assert not Claim.objects.exists()


def test_it_rejects_a_url_claim_that_is_not_a_url(artist_client):
    response = artist_client.post(
        URL, {"kind": "url", "value": "ftp://alice.example/a.png"}, format="json"
    )

    assert response.status_code == 400
    message = "value: 'ftp://alice.example/a.png' is not an http(s) URL"
    assert response.json() == {
        "message": message,
        "code": "invalid",
        "extra": {"fields": {"value": [message]}},
    }
    assert not Claim.objects.exists()


def test_it_rejects_a_domain_that_is_not_a_domain_name(artist_client):
    response = artist_client.post(
        URL, {"kind": "domain", "value": "localhost"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["message"] == "value: 'localhost' is not a domain name"


def test_it_rejects_aliases_on_a_url_claim(artist_client):
    response = artist_client.post(
        URL,
        {"kind": "url", "value": "https://alice.example/", "aliases": ["x y"]},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["message"] == "aliases: only style claims have aliases"


def test_it_rejects_a_one_letter_style_name(artist_client):
    response = artist_client.post(URL, {"kind": "style", "value": "A"}, format="json")

    assert response.status_code == 400
    assert response.json()["message"] == (
        "value: a style name needs at least 2 characters"
    )


def test_it_rejects_a_claim_the_artist_already_has(artist_client, claim):
    response = artist_client.post(
        URL,
        {"kind": "url", "value": "https://ALICE.example/harbour.png"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["message"] == "value: you already have this claim"
    assert Claim.objects.count() == 1


def test_two_artists_may_claim_the_same_url(artist_client, other_holder):
    claim_create(owner=other_holder, kind="url", value="https://shared.example/a.png")

    response = artist_client.post(
        URL, {"kind": "url", "value": "https://shared.example/a.png"}, format="json"
    )

    assert response.status_code == 201


def test_it_rejects_a_claim_without_a_value(artist_client):
    response = artist_client.post(URL, {"kind": "url"}, format="json")

    assert response.status_code == 400
    assert response.json()["message"] == "value: This field is required."


# --- list and detail ------------------------------------------------------------


def test_it_lists_only_the_artists_own_claims(artist_client, claim, others_claim):
    response = artist_client.get(URL)

    assert response.status_code == 200
    assert response.json()["count"] == 1
    assert [c["id"] for c in response.json()["results"]] == [claim.pk]


def test_it_filters_claims_by_state_and_kind(artist_client, holder, claim):
    domain = claim_create(owner=holder, kind="domain", value="alice.example")
    style = claim_create(owner=holder, kind="style", value="Alice A")

    def ids(**params: str) -> list[int]:
        return [c["id"] for c in artist_client.get(URL, params).json()["results"]]

    assert ids(state="active") == [claim.pk]
    assert ids(state="unverified") == [domain.pk]
    assert ids(kind="style") == [style.pk]
    assert ids(kind="url", state="active") == [claim.pk]
    assert ids(kind="url", state="pending_review") == []


def test_it_rejects_an_unknown_state_filter(artist_client):
    response = artist_client.get(URL, {"state": "live"})

    assert response.status_code == 400
    assert response.json()["message"] == 'state: "live" is not a valid choice.'


def test_it_shows_one_claim(artist_client, claim):
    response = artist_client.get(f"{URL}{claim.pk}/")

    assert response.status_code == 200
    assert response.json()["normalized"] == "https://alice.example/harbour.png"


def test_it_hides_another_artists_claim(artist_client, others_claim):
    response = artist_client.get(f"{URL}{others_claim.pk}/")

    assert response.status_code == 404
    assert response.json() == {
        "message": "claim not found",
        "code": "not_found",
        "extra": {},
    }


def test_it_does_not_show_another_artists_domain_token(artist_client, other_holder):
    theirs = claim_create(owner=other_holder, kind="domain", value="bob.example")

    response = artist_client.get(f"{URL}{theirs.pk}/")

    assert response.status_code == 404
    assert theirs.verification_token not in response.content.decode()


# --- withdraw -------------------------------------------------------------------


def test_it_withdraws_a_claim(artist_client, claim):
    before = registry_revision_current()

    response = artist_client.post(f"{URL}{claim.pk}/withdraw/")

    assert response.status_code == 200
    assert response.json()["state"] == "withdrawn"
    assert response.json()["withdrawn_at"] is not None
    claim.refresh_from_db()
    assert claim.state == Claim.State.WITHDRAWN
    assert registry_revision_current() == before + 1


def test_a_withdrawn_claim_can_be_made_again(artist_client, claim):
    artist_client.post(f"{URL}{claim.pk}/withdraw/")

    response = artist_client.post(
        URL, {"kind": "url", "value": claim.value}, format="json"
    )

    assert response.status_code == 201


def test_it_answers_409_when_the_claim_is_already_withdrawn(artist_client, claim):
    artist_client.post(f"{URL}{claim.pk}/withdraw/")

    response = artist_client.post(f"{URL}{claim.pk}/withdraw/")

    assert response.status_code == 409
    assert response.json()["message"] == "the claim is already withdrawn"


def test_it_does_not_withdraw_another_artists_claim(artist_client, others_claim):
    response = artist_client.post(f"{URL}{others_claim.pk}/withdraw/")

    assert response.status_code == 404
    assert response.json()["message"] == "claim not found"
    others_claim.refresh_from_db()
    assert others_claim.state == Claim.State.ACTIVE


# --- who may call ---------------------------------------------------------------

CALLS = [("get", ""), ("post", ""), ("get", "{id}/"), ("post", "{id}/withdraw/")]


@pytest.mark.parametrize("method, path", CALLS)
def test_it_tells_a_curator_to_become_an_artist(curator_client, claim, method, path):
    response = getattr(curator_client, method)(
        URL + path.format(id=claim.pk),
        {"kind": "url", "value": "https://c.example/"},
        format="json",
    )

    assert response.status_code == 403
    assert response.json()["message"] == NOT_AN_ARTIST
    assert Claim.objects.count() == 1
    claim.refresh_from_db()
    assert claim.state == Claim.State.ACTIVE


@pytest.mark.parametrize("method, path", CALLS)
def test_it_answers_anonymous_users_401(anon_client, claim, method, path):
    response = getattr(anon_client, method)(
        URL + path.format(id=claim.pk),
        {"kind": "url", "value": "https://c.example/"},
        format="json",
    )

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    claim.refresh_from_db()
    assert claim.state == Claim.State.ACTIVE
