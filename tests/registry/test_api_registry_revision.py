"""GET /api/v1/registry/revision/: the counter every enforced change bumps,
and the registry's own id."""

from __future__ import annotations

import uuid

from registry.models import RegistryIdentity
from registry.services import claim_create

URL = "/api/v1/registry/revision/"


def test_it_starts_at_zero(curator_client):
    response = curator_client.get(URL)

    assert response.status_code == 200
    assert response.json()["revision"] == 0


def test_it_counts_changes_to_what_is_enforced(artist_client, holder):
    claim_create(owner=holder, kind="url", value="https://a.example/1")
    claim_create(owner=holder, kind="domain", value="a.example")  # not yet

    assert artist_client.get(URL).json()["revision"] == 1


def test_it_names_the_registry_by_the_id_made_when_it_was_installed(
    curator_client, artist_client
):
    first = curator_client.get(URL).json()["registry"]

    assert uuid.UUID(first).version == 4
    assert first == str(RegistryIdentity.objects.get().uuid)
    assert artist_client.get(URL).json()["registry"] == first


def test_it_answers_anonymous_users_401(anon_client, db):
    response = anon_client.get(URL)

    assert response.status_code == 401
    assert response.json()["message"] == (
        "Authentication credentials were not provided."
    )
