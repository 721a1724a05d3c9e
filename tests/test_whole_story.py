"""The whole story, as the README tells it, through the API and a real worker:
an artist claims, a curator's job matches, the curator disputes, the artist
responds, an admin decides, the next job reflects the decision, and the audit
log tells it all."""

from __future__ import annotations

import json

import pytest
from django.core import mail
from django.test import Client

from tests.conftest import client_for
from tests.optout.helpers import csv_manifest, upload, wait_for_job

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PREFIX = "https://alice.example/gallery/"
ROWS = [
    ("https://alice.example/gallery/boats.jpg", "boats at dawn"),
    ("https://free.example/cat.jpg", "a cat"),
]


def check(curator_client) -> dict:
    response = curator_client.post(
        "/api/v1/manifests/",
        {"files": [upload("part-0.csv", csv_manifest(ROWS))]},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    job = wait_for_job(curator_client, response.json()["job"]["url"])
    assert job["state"] == "succeeded", job["failure_reason"]
    return job


def test_a_dispute_from_claim_to_decision_changes_the_next_job(
    celery_worker, artist, artist_client, curator, curator_client, admin_user
):
    # 1. The artist claims a URL prefix on a host they have not proved: it
    # waits, and an admin approves it on the review page.
    response = artist_client.post(
        "/api/v1/claims/", {"kind": "prefix", "value": PREFIX}, format="json"
    )
    assert response.status_code == 201, response.json()
    claim = response.json()
    assert claim["state"] == "pending_review"
    admin = Client()
    admin.force_login(admin_user)
    page = admin.get("/review/prefixes/").content.decode()
    assert f'data-claim="{claim["id"]}"' in page
    response = admin.post(
        "/review/prefixes/",
        {"claim": claim["id"], "decision": "approve", "reason": "her own gallery"},
    )
    assert response.status_code == 302
    assert (
        "No URL or prefix claims wait"
        in admin.get("/review/prefixes/").content.decode()
    )

    # 2. The curator's job matches the first row, through a real worker.
    first = check(curator_client)
    assert first["counts"] == {"prefix": 1}
    assert first["receipt"]["payload"]["rows"]["removed"] == 1

    # 3. The curator disputes the claim.
    response = curator_client.post(
        "/api/v1/disputes/",
        {
            "target": f"claim:{claim['id']}",
            "grounds": "too_broad",
            "statement": "The gallery also hosts CC0 photos by other photographers.",
            "evidence_urls": ["https://alice.example/gallery/LICENSE.txt"],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    dispute = response.json()
    assert dispute["state"] == "awaiting_response"
    assert any(
        "dispute" in m.subject.lower() for m in mail.outbox if m.to == [artist.email]
    )

    # 4. The artist responds.
    response = artist_client.post(
        f"/api/v1/disputes/{dispute['id']}/respond/",
        {"response": "Only my own works are in that folder."},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["state"] == "under_review"

    # 5. An admin decides: revoked, with a reason.
    response = client_for(admin_user).post(
        f"/api/v1/disputes/{dispute['id']}/resolve/",
        {"outcome": "revoked", "reason": "The folder holds CC0 photos by others."},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["state"] == "resolved"
    assert response.json()["outcome"] == "revoked"

    # 6. The next job no longer removes the row, and names a later revision.
    second = check(curator_client)
    assert second["counts"] == {}
    assert second["receipt"]["payload"]["rows"]["removed"] == 0
    assert second["registry_revision"] > first["registry_revision"]

    # 7. The audit log tells the story, in order.
    admin = Client()
    admin.force_login(admin_user)
    export = admin.get("/review/audit/?format=jsonl")
    assert export.status_code == 200
    events = [
        json.loads(line)
        for line in b"".join(export.streaming_content).decode().splitlines()
    ]
    actions = [e["action"] for e in sorted(events, key=lambda e: e["id"])]
    story = [
        "claim.create",
        "dispute.opened",
        "dispute.awaiting_response",
        "dispute.responded",
        "claim.revoked",
        "dispute.resolved",
    ]
    positions = [actions.index(a) for a in story]
    assert positions == sorted(positions), actions
    # and the artist reads the same story for their own claim
    own = artist_client.get("/api/v1/audit/").json()["results"]
    assert {"claim.create", "claim.revoked"} <= {e["action"] for e in own}
