"""GET /healthz: what the web container's health check asks."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_it_answers_ok_once_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok"
    assert response["Content-Type"] == "text/plain"
    assert "no-cache" in response["Cache-Control"]


def test_it_needs_no_login_and_sets_no_cookie(client):
    response = client.get("/healthz")
    assert not response.cookies


def test_it_only_answers_reads(client):
    assert client.post("/healthz").status_code == 405
    assert client.head("/healthz").status_code == 200
