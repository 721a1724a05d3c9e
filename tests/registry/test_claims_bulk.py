"""Bulk claims: many URLs, prefixes or domains pasted or as a text/CSV file,
through the page and the API, with per-line errors and the usual rules."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from registry.models import Claim
from registry.selectors import registry_revision_current

pytestmark = pytest.mark.django_db

PAGE = reverse("claims_bulk")
API = "/api/v1/claims/bulk/"

PASTED = """https://alice.example/art/1.jpg
# a comment, skipped

https://alice.example/art/2.jpg
not a url
prefix,https://alice.example/sketches/
domain,alice.example
https://alice.example/art/1.jpg
"""


def test_the_page_adds_the_good_lines_and_lists_the_bad(client, artist, holder):
    client.force_login(artist)
    revision = registry_revision_current()
    response = client.post(PAGE, {"kind": "url", "lines": PASTED})
    assert response.status_code == 200
    text = response.content.decode()
    assert "4 claims added, 2 lines refused." in text
    assert '<tr data-line="5">' in text
    assert "not a url" in text
    assert '<tr data-line="8">' in text
    assert "you already have this claim" in text
    states = dict(holder.claims.values_list("normalized", "state"))
    assert states == {
        "https://alice.example/art/1.jpg": Claim.State.ACTIVE,
        "https://alice.example/art/2.jpg": Claim.State.ACTIVE,
        "https://alice.example/sketches/": Claim.State.PENDING_REVIEW,
        "alice.example": Claim.State.UNVERIFIED,
    }
    # One revision for the lot, not one per line.
    assert registry_revision_current() == revision + 1


def test_a_csv_file_with_a_header(client, artist, holder):
    client.force_login(artist)
    data = 'kind,value\nurl,https://alice.example/a.png\nurl,"https://alice.example/b,c.png"\n'
    response = client.post(
        PAGE,
        {"kind": "url", "file": SimpleUploadedFile("claims.csv", data.encode())},
    )
    assert "2 claims added, 0 lines refused." in response.content.decode()
    assert holder.claims.filter(normalized="https://alice.example/b,c.png").exists()


def test_too_many_lines_are_refused_whole(client, artist, holder, settings):
    settings.CLAIM_BULK_MAX_LINES = 3
    client.force_login(artist)
    lines = "\n".join(f"https://alice.example/{i}.jpg" for i in range(4))
    response = client.post(PAGE, {"kind": "url", "lines": lines})
    assert response.status_code == 400
    assert "4 claims given; at most 3 at once" in response.content.decode()
    assert not holder.claims.exists()


def test_a_file_that_is_not_text_is_named(client, artist):
    client.force_login(artist)
    response = client.post(
        PAGE,
        {"kind": "url", "file": SimpleUploadedFile("art.png", b"\x89PNG\xff\xfe")},
    )
    assert response.status_code == 400
    assert "art.png is not UTF-8 text" in response.content.decode()


def test_the_api_answers_per_line(artist_client, holder):
    response = artist_client.post(API, {"kind": "url", "lines": PASTED}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert len(body["created"]) == 4
    assert body["errors"] == [
        {
            "line": 5,
            "value": "not a url",
            "message": "'not a url' is not a valid URL",
        },
        {
            "line": 8,
            "value": "https://alice.example/art/1.jpg",
            "message": "you already have this claim",
        },
    ]
    assert (
        "URL" in body["errors"][0]["message"] or "url" in body["errors"][0]["message"]
    )


def test_the_api_takes_a_file_and_says_400_when_nothing_was_made(artist_client, holder):
    response = artist_client.post(
        API,
        {"kind": "prefix", "file": SimpleUploadedFile("x.txt", b"nope\nalso nope\n")},
        format="multipart",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["message"] == "lines: no claim was made; 2 lines refused"
    assert [e["line"] for e in body["extra"]["errors"]] == [1, 2]


def test_the_prefix_rules_hold_in_bulk(artist_client, holder):
    response = artist_client.post(
        API,
        {"kind": "prefix", "lines": "https://upload.wikimedia.org/\n"},
        format="json",
    )
    assert response.status_code == 201
    (claim,) = response.json()["created"]
    assert claim["state"] == "pending_review"
    assert "prove you control upload.wikimedia.org" in claim["pending_reason"]
