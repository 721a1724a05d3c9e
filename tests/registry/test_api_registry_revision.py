"""GET /api/v1/registry/revision/: the counter every enforced change bumps."""

from __future__ import annotations

from registry.services import claim_create

URL = "/api/v1/registry/revision/"


def test_it_starts_at_zero(curator_client):
    response = curator_client.get(URL)

    assert response.status_code == 200
    assert response.json() == {"revision": 0}


def test_it_counts_changes_to_what_is_enforced(artist_client, holder):
    claim_create(owner=holder, kind="url", value="https://a.example/1")
    claim_create(owner=holder, kind="domain", value="a.example")  # not yet

    assert artist_client.get(URL).json() == {"revision": 1}


def test_it_answers_anonymous_users_401(anon_client, db):
    response = anon_client.get(URL)

    assert response.status_code == 401
    assert response.json()["message"] == (
        "Authentication credentials were not provided."
    )
