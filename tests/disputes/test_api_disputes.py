"""The disputes API: create (multipart), list, detail, respond, withdraw, decide."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from disputes.models import Dispute
from registry.models import Claim
from tests.conftest import client_for
from tests.disputes.helpers import (
    fingerprint_evidence,
    make_admin,
    open_dispute,
    prefix_claim,
)
from tests.images import image_bytes

pytestmark = pytest.mark.django_db

URL = "/api/v1/disputes/"


@pytest.fixture
def claim(holder):
    return prefix_claim(holder)


@pytest.fixture
def dispute(claim, other_artist):
    return open_dispute(other_artist, f"claim:{claim.pk}")


def test_anonymous_callers_get_401(anon_client, dispute):
    assert anon_client.get(URL).status_code == 401
    assert anon_client.post(URL, {}).status_code == 401
    assert anon_client.get(f"{URL}{dispute.pk}/").status_code == 401
    assert anon_client.post(f"{URL}{dispute.pk}/withdraw/").status_code == 401


def test_a_curator_opens_a_dispute_with_files(curator_client, claim):
    response = curator_client.post(
        URL,
        {
            "target": f"claim:{claim.pk}",
            "grounds": "too_broad",
            "statement": "The prefix covers other people's pages on a shared host.",
            "evidence_urls": ["https://alice.example/guests/bob/"],
            "files": [
                SimpleUploadedFile("page.png", image_bytes(1)),
                SimpleUploadedFile("note.txt", b"see the guests section"),
            ],
        },
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["state"] == "awaiting_response"
    assert body["target"] == f"claim:{claim.pk}"
    assert body["you_are"] == ["disputer"]
    # Stored, not yet fingerprinted: the images worker does that after commit.
    assert [(e["name"], e["status"]) for e in body["evidence"]] == [
        ("page.png", "processing"),
        ("note.txt", "processing"),
    ]
    assert body["evidence"][0]["pdq"] == ""

    fingerprint_evidence(Dispute.objects.get(pk=body["id"]))

    body = curator_client.get(f"{URL}{body['id']}/").json()
    assert [(e["name"], e["status"], e["is_image"]) for e in body["evidence"]] == [
        ("page.png", "done", True),
        ("note.txt", "done", False),
    ]
    assert len(body["evidence"][0]["pdq"]) == 64


def test_a_dispute_may_be_opened_with_json(other_client, claim):
    response = other_client.post(
        URL,
        {
            "target": f"claim:{claim.pk}",
            "grounds": "other",
            "statement": "why: the pages were published by my studio in 2018",
        },
        format="json",
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (
            {"grounds": "other", "statement": "x"},
            400,
            "target: This field is required.",
        ),
        (
            {"target": "claim:1", "grounds": "nope", "statement": "x"},
            400,
            'grounds: "nope" is not a valid choice.',
        ),
        (
            {"target": "claim:999999", "grounds": "other", "statement": "x"},
            404,
            "claim 999999 not found",
        ),
        (
            {"target": "work:abc", "grounds": "other", "statement": "x"},
            400,
            "target must be work:<id>, image:<id> or claim:<id>",
        ),
    ],
)
def test_bad_input_says_what_is_wrong(curator_client, claim, body, status, message):
    response = curator_client.post(URL, body, format="json")
    assert response.status_code == status
    assert response.json()["message"] == message


def test_a_second_open_dispute_is_a_409(other_client, dispute, claim):
    response = other_client.post(
        URL,
        {"target": f"claim:{claim.pk}", "grounds": "licensed", "statement": "x" * 40},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["message"].startswith(
        f"you already have a dispute about this (#{dispute.pk}"
    )


def test_a_same_grounds_repeat_after_a_decision_is_a_409(
    other_client, dispute, claim, admin_user
):
    client_for(admin_user).post(
        f"{URL}{dispute.pk}/resolve/",
        {"outcome": "upheld", "reason": "hers"},
        format="json",
    )
    response = other_client.post(
        URL,
        {
            "target": f"claim:{claim.pk}",
            "grounds": dispute.grounds,
            "statement": dispute.statement,
        },
        format="json",
    )
    assert response.status_code == 409
    assert "on these grounds was already decided" in response.json()["message"]


def test_each_side_lists_their_disputes(
    artist_client, other_client, curator_client, dispute
):
    ids = [d["id"] for d in artist_client.get(URL).json()["results"]]
    assert ids == [dispute.pk]
    assert artist_client.get(URL, {"role": "disputer"}).json()["results"] == []
    claimant = artist_client.get(URL, {"role": "claimant"}).json()["results"]
    assert claimant[0]["you_are"] == ["claimant"]
    assert [d["id"] for d in other_client.get(URL).json()["results"]] == [dispute.pk]
    assert curator_client.get(URL).json()["results"] == []
    assert artist_client.get(URL, {"state": "resolved"}).json()["results"] == []


def test_a_stranger_gets_404_for_someone_elses_dispute(curator_client, dispute):
    for method, path in (
        ("get", ""),
        ("post", "respond/"),
        ("post", "withdraw/"),
    ):
        response = getattr(curator_client, method)(
            f"{URL}{dispute.pk}/{path}", {"response": "x"}, format="json"
        )
        assert response.status_code == 404
        assert response.json()["message"] == "dispute not found"


def test_the_claimant_responds_once(artist_client, dispute):
    url = f"{URL}{dispute.pk}/respond/"
    response = artist_client.post(
        url,
        {
            "response": "My 2015 post.",
            "files": [SimpleUploadedFile("post.png", image_bytes(2))],
        },
        format="multipart",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "under_review"
    assert body["evidence"][0]["party"] == "claimant"
    again = artist_client.post(url, {"response": "again"}, format="json")
    assert again.status_code == 409
    assert again.json()["message"] == (
        "the dispute is under review; it no longer awaits your response"
    )


def test_the_disputer_cannot_respond(other_client, dispute):
    response = other_client.post(
        f"{URL}{dispute.pk}/respond/", {"response": "x"}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["message"] == "only the claimant can respond to a dispute"


def test_the_disputer_withdraws_once(other_client, artist_client, dispute):
    url = f"{URL}{dispute.pk}/withdraw/"
    assert artist_client.post(url).status_code == 403
    response = other_client.post(url)
    assert response.status_code == 200
    assert response.json()["state"] == "withdrawn"
    again = other_client.post(url)
    assert again.status_code == 409
    assert again.json()["message"] == (
        "the dispute is already withdrawn; it cannot be withdrawn"
    )


def test_only_admins_resolve(artist_client, other_client, dispute):
    for client in (artist_client, other_client):
        response = client.post(
            f"{URL}{dispute.pk}/resolve/",
            {"outcome": "revoked", "reason": "x"},
            format="json",
        )
        assert response.status_code == 403
        assert response.json()["message"] == "only admins decide disputes"


def test_an_admin_resolves_and_a_second_confirms(holder, claim, dispute, admin_user):
    holder.verified = True
    holder.save()
    first, second = client_for(admin_user), client_for(make_admin("root2"))
    response = first.post(
        f"{URL}{dispute.pk}/resolve/",
        {"outcome": "revoked", "reason": "forged"},
        format="json",
    )
    assert response.json()["state"] == "pending_confirmation"
    confirm = f"{URL}{dispute.pk}/confirm/"
    same = first.post(confirm, {"approve": True}, format="json")
    assert same.status_code == 409
    assert same.json()["message"] == (
        "a second, different admin must confirm this decision"
    )
    response = second.post(confirm, {"approve": True}, format="json")
    assert response.status_code == 200
    assert response.json()["state"] == "resolved"
    claim.refresh_from_db()
    assert claim.state == Claim.State.REVOKED
    again = second.post(
        f"{URL}{dispute.pk}/resolve/",
        {"outcome": "upheld", "reason": "x"},
        format="json",
    )
    assert again.status_code == 409
    assert again.json()["message"] == (
        "the dispute is resolved; it cannot be decided now"
    )
    assert Dispute.objects.get().outcome == "revoked"


def test_a_decision_without_a_reason_is_a_400(dispute, admin_user):
    response = client_for(admin_user).post(
        f"{URL}{dispute.pk}/resolve/",
        {"outcome": "revoked", "reason": " "},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["message"] == "reason: This field may not be blank."
