"""API token scopes: the key handed to a data pipeline (`check`) looks URLs up
but cannot upload, claim or dispute; a token cannot make or revoke a token
stronger than itself; the page shows each token's scopes."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import ApiToken
from accounts.services import api_token_create
from tests.disputes.helpers import prefix_claim
from tests.optout.helpers import EXACT_URL, enforce

pytestmark = pytest.mark.django_db


def token_client(user, scopes) -> tuple[APIClient, ApiToken]:
    token, key = api_token_create(user=user, name="pipeline", scopes=scopes)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client, token


def test_a_check_token_looks_up_but_cannot_change_anything(
    artist, holder, other_holder
):
    enforce(other_holder)
    claim = prefix_claim(other_holder, "https://bob.example/")
    artist.is_curator = True  # both roles: only the scope stands in the way
    artist.save()
    client, _ = token_client(artist, ["check"])

    lookup = client.post("/api/v1/lookup/", {"urls": [EXACT_URL]}, format="json")
    assert lookup.status_code == 200
    assert lookup.json()["urls"][0]["matches"]
    spawning = client.post(
        "/api/v2/query/urls/", data=EXACT_URL.encode(), content_type="text/plain"
    )
    assert spawning.status_code == 200

    refused = {
        "claim": client.post(
            "/api/v1/claims/",
            {"kind": "url", "value": "https://x.example/a.jpg"},
            format="json",
        ),
        "works": client.get("/api/v1/works/"),
        "manifest": client.post("/api/v1/manifests/", {}, format="multipart"),
        "dispute": client.post(
            "/api/v1/disputes/",
            {
                "target": f"claim:{claim.pk}",
                "grounds": "not_owner",
                "statement": "A pipeline key must never open a dispute by itself.",
            },
            format="json",
        ),
        "jobs": client.get("/api/v1/jobs/"),
    }
    for what, response in refused.items():
        assert response.status_code == 403, what
        assert "lacks the" in response.json()["message"], what
    assert holder.claims.count() == 0
    assert not other_holder.disputes.exists()
    # The account itself is readable with any token.
    assert client.get("/api/v1/me/").status_code == 200


def test_a_curate_token_cannot_claim_and_a_register_token_cannot_curate(artist):
    artist.is_curator = True
    artist.save()
    curate, _ = token_client(artist, ["curate"])
    register, _ = token_client(artist, ["register"])
    assert curate.get("/api/v1/jobs/").status_code == 200
    assert curate.get("/api/v1/claims/").status_code == 403
    assert register.get("/api/v1/claims/").status_code == 200
    assert register.get("/api/v1/jobs/").status_code == 403
    message = register.get("/api/v1/jobs/").json()["message"]
    assert message == (
        "This API token lacks the curate scope; create a token with it on your "
        "account page."
    )


def test_a_token_cannot_make_a_stronger_token(artist):
    client, _ = token_client(artist, ["check"])
    refused = client.post(
        "/api/v1/tokens/", {"name": "more", "scopes": ["register"]}, format="json"
    )
    assert refused.status_code == 400
    assert "lacks 'register'" in refused.json()["message"]
    made = client.post(
        "/api/v1/tokens/", {"name": "same", "scopes": ["check"]}, format="json"
    )
    assert made.status_code == 201
    assert made.json()["scopes"] == ["check"]
    # Without scopes a token made with a token gets its own, not the roles'.
    bare = client.post("/api/v1/tokens/", {"name": "bare"}, format="json")
    assert bare.status_code == 201
    assert bare.json()["scopes"] == ["check"]


def test_a_token_cannot_revoke_a_stronger_one(artist):
    weak, weak_token = token_client(artist, ["check"])
    _, strong = token_client(artist, ["check", "register"])
    response = weak.delete(f"/api/v1/tokens/{strong.pk}/")
    assert response.status_code == 403
    strong.refresh_from_db()
    assert strong.is_active
    assert weak.delete(f"/api/v1/tokens/{weak_token.pk}/").status_code == 200


def test_review_is_for_admins_only(artist, admin_user):
    with pytest.raises(Exception, match="scopes: review is for admins"):
        api_token_create(user=artist, name="x", scopes=["review"])
    token, _ = api_token_create(user=admin_user, name="x", scopes=["review"])
    assert token.scopes == ["review"]


def test_unknown_scopes_and_none_are_refused(artist):
    client, _ = token_client(artist, ["check", "register"])
    unknown = client.post(
        "/api/v1/tokens/", {"name": "x", "scopes": ["admin"]}, format="json"
    )
    assert unknown.status_code == 400
    assert "scopes" in unknown.json()["extra"]["fields"]


def test_the_token_page_shows_scopes_and_offers_them(client, artist):
    api_token_create(user=artist, name="pipeline", scopes=["check"])
    client.force_login(artist)
    page = client.get(reverse("account")).content.decode()
    assert "<code>check</code>" in page
    assert 'value="snapshot:read"' in page
    response = client.post(reverse("token_create"), {"name": "no scopes"})
    assert response.status_code == 400
    assert "choose at least one scope" in response.content.decode()
