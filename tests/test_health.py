"""GET /healthz: each dependency, for the load balancer and for people."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from registry.models import Image
from tests.conftest import client_for
from tests.images import image_bytes
from tests.reliability.broker import broker_down

pytestmark = pytest.mark.django_db


def test_it_answers_ok_and_each_dependency(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    lines = response.content.decode().splitlines()
    assert lines[0] == "ok"
    assert "database: ok" in lines
    assert "broker: ok" in lines
    assert "storage: ok" in lines
    assert "oldest_waiting_seconds: None" in lines
    assert response["Content-Type"] == "text/plain"
    assert "no-cache" in response["Cache-Control"]


def test_json_for_programs(client):
    body = client.get("/healthz", {"format": "json"}).json()
    assert body["ok"] is True
    assert body["database"] == body["broker"] == body["storage"] == "ok"
    assert body["free_bytes"] > 0


def test_a_broker_that_is_down_is_reported_but_keeps_the_200(client):
    with broker_down():
        response = client.get("/healthz", {"format": "json"})
    assert response.status_code == 200
    assert response.json()["broker"].startswith("unavailable (")


def test_storage_low_on_space_is_reported(client, settings):
    settings.HEALTH_MIN_FREE_BYTES = 1 << 62
    body = client.get("/healthz", {"format": "json"}).json()
    assert body["storage"].startswith("low on space (")


def test_work_waiting_long_is_reported(client, artist):
    with broker_down():
        client_for(artist).post(
            "/api/v1/portfolio/",
            {"files": [SimpleUploadedFile("a.png", image_bytes(1))]},
            format="multipart",
        )
    Image.objects.update(queued_at=timezone.now() - timedelta(minutes=30))
    body = client.get("/healthz", {"format": "json"}).json()
    assert 1790 <= body["oldest_waiting_seconds"] <= 1830


def test_it_needs_no_login_and_sets_no_cookie(client):
    response = client.get("/healthz")
    assert not response.cookies


def test_it_only_answers_reads(client):
    assert client.post("/healthz").status_code == 405
    assert client.head("/healthz").status_code == 200
