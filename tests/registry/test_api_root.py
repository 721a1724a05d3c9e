"""GET /api/v1/: the registry's identity, public."""

from __future__ import annotations

import uuid

from rest_framework.test import APIClient

from registry.models import RegistryIdentity


def test_the_api_root_names_the_registry_without_an_account(db, settings):
    settings.SITE_NAME = "Test registry"
    response = APIClient().get("/api/v1/")

    assert response.status_code == 200
    body = response.json()
    assert body["registry"] == str(RegistryIdentity.objects.get().uuid)
    assert body["name"] == "Test registry"
    assert body["api"] == "v1"
    assert body["docs"] == "http://testserver/api/docs/"
    assert body["schema"] == "http://testserver/api/schema/"
    keys = APIClient().get(body["keys"])
    assert keys.status_code == 200
    assert keys.json()["registry"]["id"] == body["registry"]


def test_the_root_follows_the_identity_receipts_name(db):
    RegistryIdentity.objects.update(uuid=uuid.uuid4())
    body = APIClient().get("/api/v1/").json()
    assert body["registry"] == str(RegistryIdentity.objects.get().uuid)


def test_other_paths_under_the_api_are_still_a_json_404(db):
    response = APIClient().get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert response.json()["message"] == "no API endpoint at /api/v1/nothing-here/"
