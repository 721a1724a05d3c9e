"""GET /api/v1/me/: who the API thinks you are."""

from __future__ import annotations

from rest_framework.test import APIClient

from accounts.services import api_token_create
from registry.services import rights_holder_create

URL = "/api/v1/me/"


def test_it_shows_an_artist_their_account_and_rights_holder(artist_client, artist):
    response = artist_client.get(URL)

    assert response.status_code == 200
    assert response.json() == {
        "id": artist.pk,
        "username": "alice",
        "email": "alice@example.com",
        "roles": ["artist"],
        "rights_holder": {
            "id": artist.rights_holder.pk,
            "display_name": "Alice",
            "contact_email": "alice@example.com",
            "website": "",
            "verified": False,
        },
    }


def test_it_shows_a_curator_without_a_rights_holder(curator_client, curator):
    response = curator_client.get(URL)

    assert response.status_code == 200
    assert response.json()["roles"] == ["curator"]
    assert response.json()["rights_holder"] is None


def test_it_lists_every_role_of_an_admin_artist(admin_user):
    rights_holder_create(user=admin_user, display_name="Root")
    admin_user.is_curator = True
    admin_user.save()
    client = APIClient()
    client.force_authenticate(admin_user)

    response = client.get(URL)

    assert response.json()["roles"] == ["artist", "curator", "admin"]


def test_it_accepts_a_signed_in_session(artist):
    client = APIClient()
    client.force_login(artist)

    response = client.get(URL)

    assert response.status_code == 200
    assert response.json()["username"] == "alice"


def test_it_accepts_a_bearer_token(artist):
    _, key = api_token_create(user=artist, name="cli")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")

    assert client.get(URL).json()["username"] == "alice"


def test_it_answers_anonymous_users_401_in_json(anon_client):
    response = anon_client.get(URL)

    assert response.status_code == 401
    assert response.json() == {
        "message": "Authentication credentials were not provided.",
        "code": "not_authenticated",
        "extra": {},
    }
    assert response["WWW-Authenticate"] == 'Token realm="api"'


def test_it_rejects_an_unknown_token(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token dnt_not-a-real-key")

    response = client.get(URL)

    assert response.status_code == 401
    assert response.json()["message"] == "Invalid or revoked token."


def test_it_rejects_the_token_of_a_suspended_account(artist, artist_client):
    artist.is_active = False
    artist.save()

    response = artist_client.get(URL)

    assert response.status_code == 401
    assert response.json()["message"] == "Invalid or revoked token."
