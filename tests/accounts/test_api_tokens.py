"""/api/v1/tokens/: listing, creating and revoking API tokens."""

from __future__ import annotations

from rest_framework.test import APIClient

from accounts.models import ApiToken
from accounts.services import api_token_create

URL = "/api/v1/tokens/"


def token_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_it_lists_only_the_callers_tokens(artist_client, artist, other_artist):
    api_token_create(user=artist, name="laptop")
    api_token_create(user=other_artist, name="bobs")

    response = artist_client.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [t["name"] for t in body["results"]] == ["laptop", "tests"]
    laptop = ApiToken.objects.get(name="laptop")
    assert body["results"][0] == {
        "id": laptop.pk,
        "name": "laptop",
        "key_prefix": laptop.key_prefix,
        "created": laptop.created.isoformat().replace("+00:00", "Z"),
        "last_used": None,
        "revoked_at": None,
        "active": True,
        # Made without scopes: everything the account's roles allow.
        "scopes": ["*"],
    }
    assert "key" not in body["results"][0]
    assert "key_hash" not in body["results"][0]


def test_it_creates_a_token_and_shows_its_key_once(artist_client, artist):
    response = artist_client.post(URL, {"name": "  ci runner "}, format="json")

    assert response.status_code == 201
    body = response.json()
    token = ApiToken.objects.get(pk=body["id"])
    assert token.user == artist
    assert body["name"] == "ci runner"
    assert body["key"].startswith("dnt_")
    assert body["key_prefix"] == body["key"][:8] == token.key_prefix
    assert token.key_hash == ApiToken.hash_key(body["key"])
    assert body["active"] is True
    # The key works, and is never shown again.
    assert token_client(body["key"]).get("/api/v1/me/").json()["username"] == "alice"
    listed = artist_client.get(URL).json()["results"]
    assert all("key" not in t for t in listed)


def test_it_records_when_a_token_was_last_used(artist):
    token, key = api_token_create(user=artist, name="cli")

    token_client(key).get("/api/v1/me/")

    token.refresh_from_db()
    assert token.last_used is not None


def test_it_rejects_a_token_without_a_name(artist_client):
    response = artist_client.post(URL, {"name": "   "}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "message": "name: This field may not be blank.",
        "code": "invalid",
        "extra": {"fields": {"name": ["This field may not be blank."]}},
    }
    assert ApiToken.objects.count() == 1  # the client's own


def test_it_rejects_a_name_over_100_characters(artist_client):
    response = artist_client.post(URL, {"name": "x" * 101}, format="json")

    assert response.status_code == 400
    assert response.json()["message"] == (
        "name: Ensure this field has no more than 100 characters."
    )


def test_it_revokes_a_token_which_then_stops_working(artist_client, artist):
    token, key = api_token_create(user=artist, name="old")
    assert token_client(key).get("/api/v1/me/").status_code == 200

    response = artist_client.delete(f"{URL}{token.pk}/")

    assert response.status_code == 200
    assert response.json()["active"] is False
    assert response.json()["revoked_at"] is not None
    token.refresh_from_db()
    assert token.revoked_at is not None
    revoked = token_client(key).get("/api/v1/me/")
    assert revoked.status_code == 401
    assert revoked.json()["message"] == "Invalid or revoked token."


def test_it_lets_a_token_revoke_itself(artist):
    token, key = api_token_create(user=artist, name="leaked")
    client = token_client(key)

    assert client.delete(f"{URL}{token.pk}/").status_code == 200

    assert client.get("/api/v1/me/").status_code == 401


def test_revoking_a_revoked_token_changes_nothing(artist_client, artist):
    token, _ = api_token_create(user=artist, name="old")
    first = artist_client.delete(f"{URL}{token.pk}/").json()["revoked_at"]

    response = artist_client.delete(f"{URL}{token.pk}/")

    assert response.status_code == 200
    assert response.json()["revoked_at"] == first


def test_it_hides_other_users_tokens(artist_client, other_artist):
    token, key = api_token_create(user=other_artist, name="bobs")

    response = artist_client.delete(f"{URL}{token.pk}/")

    assert response.status_code == 404
    assert response.json() == {
        "message": "token not found",
        "code": "not_found",
        "extra": {},
    }
    token.refresh_from_db()
    assert token.revoked_at is None
    assert token_client(key).get("/api/v1/me/").status_code == 200


def test_it_answers_404_for_an_id_too_large_for_the_database(artist_client):
    response = artist_client.delete(f"{URL}{10**30}/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_curators_manage_their_tokens_too(curator_client):
    response = curator_client.post(URL, {"name": "dataset bot"}, format="json")

    assert response.status_code == 201
    assert curator_client.get(URL).json()["count"] == 2


def test_it_answers_anonymous_users_401(anon_client, artist):
    token, _ = api_token_create(user=artist, name="x")

    for response in (
        anon_client.get(URL),
        anon_client.post(URL, {"name": "x"}, format="json"),
        anon_client.delete(f"{URL}{token.pk}/"),
    ):
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"
    token.refresh_from_db()
    assert token.revoked_at is None


def test_a_signed_in_session_needs_a_csrf_token_to_create_one(artist):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(artist)

    response = client.post(URL, {"name": "sneaky"}, format="json")

    assert response.status_code == 403
    assert response.json()["message"] == "CSRF Failed: CSRF cookie not set."
    assert not ApiToken.objects.filter(name="sneaky").exists()
