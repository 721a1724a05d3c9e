"""GET/POST /api/v1/preferences/: a URL's AI-usage preferences, with every
declaration behind them and how its declarer was verified."""

from __future__ import annotations

import pytest
from django.utils import timezone

from optout.models import PublisherSignals
from registry.models import Claim
from registry.services import claim_create
from tests.factories import approved_prefix
from workers.engine.websignals import WEB_PROTOCOLS, HostSignals, parse_robots

from .helpers import activate_domain

pytestmark = pytest.mark.django_db

URL = "/api/v1/preferences/"


def cached(host: str, robots: str, *, when=None) -> None:
    rules, _, access = parse_robots(robots, WEB_PROTOCOLS)
    said = HostSignals(
        host,
        "2026-12-07T04:00:00+00:00",
        list(WEB_PROTOCOLS),
        rules=rules,
        access=access,
    )
    PublisherSignals.objects.create(
        host=host, fetched_at=when or timezone.now(), signals=said.as_dict()
    )


def test_claims_and_the_sites_cached_answer_make_the_preferences(
    artist_client, holder, other_holder
):
    domain = activate_domain(
        claim_create(owner=holder, kind="domain", value="alice.example")
    )
    proved = claim_create(
        owner=holder, kind="prefix", value="https://alice.example/gallery/"
    )
    reviewed = approved_prefix(other_holder, "https://bob.example/art/")
    exact = claim_create(
        owner=other_holder, kind="url", value="https://carol.example/one.jpg"
    )
    assert {c.state for c in (proved, reviewed, exact)} == {Claim.State.ACTIVE}
    cached(
        "alice.example",
        "User-agent: *\nContent-Signal: search=yes, ai-train=no\n",
    )
    cached("dave.example", "User-agent: *\nContent-Usage: / train-ai=y\n")

    response = artist_client.get(
        URL,
        {
            "url": [
                "http://alice.example/gallery/harbour.jpg",
                "https://bob.example/art/x.png",
                "https://carol.example/one.jpg?w=512",
                "https://dave.example/free.jpg",
                "https://nobody.example/a.jpg",
                "not a url",
            ]
        },
    )
    assert response.status_code == 200, response.json()
    alice, bob, carol, dave, nobody, bad = response.json()["urls"]

    assert alice["preferences"] == "train-ai=n, search=y"
    assert alice["categories"] == {"train-ai": "n", "ai-use": "unknown", "search": "y"}
    by = {(d["declared_by"], d["via"], d["kind"]): d for d in alice["declarations"]}
    assert by[("rights holder", "registry", "prefix")]["verified"] == "domain proof"
    assert by[("rights holder", "registry", "prefix")]["claim"] == proved.pk
    assert by[("rights holder", "registry", "domain")]["claim"] == domain.pk
    assert by[("rights holder", "registry", "prefix")]["matched_as"] == "scheme"
    signal = by[("publisher", "content-signal", "")]
    assert signal["verified"] == "served by alice.example"
    assert signal["fetched_at"] == "2026-12-07T04:00:00+00:00"
    assert {d["preference"] for d in alice["declarations"]} == {
        "train-ai=n",
        "search=y",
    }

    assert [(d["verified"], d["kind"]) for d in bob["declarations"]] == [
        ("admin review", "prefix")
    ]
    assert [(d["verified"], d["matched_as"]) for d in carol["declarations"]] == [
        ("none", "query")
    ]
    # A site's yes is a yes only where nothing says no.
    assert dave["preferences"] == "train-ai=y"
    assert nobody == {
        "url": "https://nobody.example/a.jpg",
        "preferences": "",
        "categories": {"train-ai": "unknown", "ai-use": "unknown", "search": "unknown"},
        "declarations": [],
        "problem": "",
    }
    assert bad["problem"] == "'not a url' is not a valid URL"
    assert bad["declarations"] == []


def test_a_stale_site_answer_is_not_used(artist_client, settings):
    settings.SIGNAL_WEB_CACHE_SECONDS = 3600
    cached(
        "old.example",
        "User-agent: *\nContent-Usage: / train-ai=n\n",
        when=timezone.now() - timezone.timedelta(hours=2),
    )
    body = artist_client.get(URL, {"url": "https://old.example/a.jpg"}).json()
    assert body["urls"][0]["preferences"] == ""


def test_a_batch_goes_by_post_and_limits_are_named(artist_client, anon_client):
    response = artist_client.post(
        URL, {"urls": ["https://a.example/1.jpg", ""]}, format="json"
    )
    assert response.status_code == 200
    assert [u["url"] for u in response.json()["urls"]] == [
        "https://a.example/1.jpg",
        "",
    ]
    too_many = artist_client.get(
        URL, {"url": [f"https://a.example/{i}" for i in range(101)]}
    )
    assert too_many.status_code == 400
    assert too_many.json()["message"].startswith("url: at most 100 URLs in a GET")
    assert artist_client.get(URL).json()["message"] == "url: give at least one URL"
    assert anon_client.get(URL, {"url": "https://a.example/"}).status_code == 401
