"""A claim says what it refuses per use: training always, search and AI use
when the artist says; every claim made before meant train-ai=n."""

from __future__ import annotations

import pytest
from django.urls import reverse

from registry.models import Claim
from registry.services import claim_create

pytestmark = pytest.mark.django_db


def test_the_api_takes_and_gives_the_preferences(artist_client):
    response = artist_client.post(
        "/api/v1/claims/",
        {
            "kind": "url",
            "value": "https://alice.example/a.jpg",
            "preferences": {"search": "y", "ai-use": "n"},
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["preferences"] == {
        "train-ai": "n",
        "ai-use": "n",
        "search": "y",
    }
    plain = artist_client.post(
        "/api/v1/claims/",
        {"kind": "url", "value": "https://alice.example/b.jpg"},
        format="json",
    )
    assert plain.json()["preferences"] == {"train-ai": "n"}


@pytest.mark.parametrize(
    ("kind", "preferences", "message"),
    [
        ("url", {"search": "maybe"}, "preferences: search is y (allowed) or n"),
        ("url", {"crawl": "n"}, "preferences: unknown category 'crawl'"),
        ("url", {"train-ai": "y"}, "preferences: a claim refuses AI training"),
        ("style", {"search": "n"}, "preferences: a style claim speaks of training"),
    ],
)
def test_bad_preferences_are_refused_naming_the_field(
    artist_client, kind, preferences, message
):
    response = artist_client.post(
        "/api/v1/claims/",
        {
            "kind": kind,
            "value": "Alice Moreau" if kind == "style" else "https://a.example/x",
            "preferences": preferences,
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["message"].startswith(message)
    assert not Claim.objects.exists()


def test_the_claims_page_sets_and_shows_them(client, artist, holder):
    client.force_login(artist)
    response = client.post(
        reverse("claims"),
        {
            "kind": "url",
            "value": "https://alice.example/c.jpg",
            "search": "y",
            "ai_use": "",
        },
        follow=True,
    )
    claim = Claim.objects.get()
    assert claim.preferences == {"train-ai": "n", "search": "y"}
    assert "train-ai=n, search=y" in response.content.decode()


def test_the_preferences_api_gives_each_category_the_claim_states(
    artist_client, holder
):
    claim_create(
        owner=holder,
        kind="url",
        value="https://alice.example/d.jpg",
        preferences={"search": "y"},
    )
    body = artist_client.get(
        "/api/v1/preferences/", {"url": "https://alice.example/d.jpg"}
    ).json()
    (entry,) = body["urls"]
    assert entry["preferences"] == "train-ai=n, search=y"
    assert sorted(d["preference"] for d in entry["declarations"]) == [
        "search=y",
        "train-ai=n",
    ]
