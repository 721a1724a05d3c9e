"""API: check a domain claim now, the artist's own audit log, notifications."""

from __future__ import annotations

import pytest

from audit.models import Notification
from audit.services import notify
from registry.services import claim_create, claim_withdraw
from tests.registry.trust import freeze


@pytest.fixture
def queued(monkeypatch) -> list[tuple]:
    from registry import tasks

    calls: list[tuple] = []
    monkeypatch.setattr(
        tasks.claim_domain_check,
        "apply_async",
        lambda args, kwargs=None, **options: calls.append(tuple(args)),
    )
    return calls


def test_check_now_accepts_the_owners_domain_claim(
    artist_client, holder, queued, django_capture_on_commit_callbacks
):
    claim = claim_create(owner=holder, kind="domain", value="alice.example")
    with django_capture_on_commit_callbacks(execute=True):
        response = artist_client.post(f"/api/v1/claims/{claim.pk}/check/")
    assert response.status_code == 202
    body = response.json()
    assert (body["id"], body["state"], body["proof_error"]) == (
        claim.pk,
        "unverified",
        "",
    )
    assert queued == [(claim.pk,)]


def test_check_now_hides_others_claims_and_refuses_other_kinds(
    artist_client, other_client, curator_client, anon_client, holder, queued
):
    domain = claim_create(owner=holder, kind="domain", value="a.example")
    url = claim_create(owner=holder, kind="url", value="https://a.example/")
    response = other_client.post(f"/api/v1/claims/{domain.pk}/check/")
    assert (response.status_code, response.json()["message"]) == (
        404,
        "claim not found",
    )
    response = artist_client.post(f"/api/v1/claims/{url.pk}/check/")
    assert (response.status_code, response.json()["message"]) == (
        409,
        "only domain claims have a proof of control to check",
    )
    assert curator_client.post(f"/api/v1/claims/{domain.pk}/check/").status_code == 403
    assert anon_client.post(f"/api/v1/claims/{domain.pk}/check/").status_code == 401
    assert queued == []


def test_the_audit_api_lists_the_artists_own_events(
    artist_client, other_client, curator_client, anon_client, holder, monkeypatch
):
    freeze(monkeypatch)
    claim = claim_create(owner=holder, kind="url", value="https://a.example/")
    claim_withdraw(owner=holder, claim_id=claim.pk)
    body = artist_client.get("/api/v1/audit/").json()
    assert body["count"] == 2
    assert [e["action"] for e in body["results"]] == ["claim.withdraw", "claim.create"]
    assert body["results"][0] == {
        "id": body["results"][0]["id"],
        "created": "2026-11-24T09:00:00Z",
        "action": "claim.withdraw",
        "actor": "you",
        "target_type": "claim",
        "target_id": claim.pk,
        "target_label": "exact URL: https://a.example/",
        "before": {"state": "active"},
        "after": {"state": "withdrawn"},
        "reason": "",
        "revision": 2,
        "sentence": "You withdrew the claim “exact URL: https://a.example/”.",
        "change": "state: active → withdrawn",
    }
    filtered = artist_client.get("/api/v1/audit/", {"action": "claim.create"}).json()
    assert filtered["count"] == 1
    assert other_client.get("/api/v1/audit/").json()["count"] == 0
    assert curator_client.get("/api/v1/audit/").status_code == 403
    assert anon_client.get("/api/v1/audit/").status_code == 401


def test_the_audit_api_names_a_bad_filter(artist_client):
    response = artist_client.get("/api/v1/audit/", {"since": "yesterday"})
    assert response.status_code == 400
    assert response.json()["message"].startswith("since: Date has wrong format.")
    response = artist_client.get(
        "/api/v1/audit/", {"since": "2026-11-25", "until": "2026-11-24"}
    )
    assert response.json()["message"] == "until: must not be before since"


def test_notifications_api_lists_unread_first_and_marks_read(
    artist, artist_client, other_client, curator, curator_client, anon_client
):
    a = notify(user=artist, kind="test", subject="A")
    b = notify(user=artist, kind="test", subject="B")
    notify(user=curator, kind="test", subject="C")
    Notification.objects.filter(pk=b.pk).update(read_at=b.created)
    body = artist_client.get("/api/v1/notifications/").json()
    assert [n["subject"] for n in body["results"]] == ["A", "B"]
    unread = artist_client.get("/api/v1/notifications/", {"unread": "true"}).json()
    assert [n["subject"] for n in unread["results"]] == ["A"]
    assert curator_client.get("/api/v1/notifications/").json()["count"] == 1

    response = other_client.post("/api/v1/notifications/read/", {"ids": [a.pk]})
    assert response.json() == {"marked": 0}
    response = artist_client.post(
        "/api/v1/notifications/read/", {"ids": [a.pk]}, format="json"
    )
    assert response.json() == {"marked": 1}
    response = artist_client.post(
        "/api/v1/notifications/read/", {"ids": ["x"]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["message"] == "ids: 0: A valid integer is required."
    assert anon_client.get("/api/v1/notifications/").status_code == 401
    assert curator_client.post("/api/v1/notifications/read/").json() == {"marked": 1}
