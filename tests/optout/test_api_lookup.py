"""POST /api/v1/lookup/: check up to 10,000 items at once, synchronously."""

from __future__ import annotations

from registry.selectors import registry_revision_current

from .helpers import EXACT_URL, PHASH, PREFIX

URL = "/api/v1/lookup/"


def test_each_item_gets_its_matches_in_the_order_sent(curator_client, registry):
    response = curator_client.post(
        URL,
        {
            "urls": [
                "https://free.example/a.jpg",
                EXACT_URL,
                "",
                "https://alice.example/gallery/x.png",
                "https://bob-art.example/b.png",
            ],
            "captions": ["a cat", "after Alice Moreau"],
            "phash": [PHASH, "0000000000000000"],
        },
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert body["revision"] == registry_revision_current()
    urls = body["urls"]
    assert [u["value"] for u in urls] == [
        "https://free.example/a.jpg",
        EXACT_URL,
        "",
        "https://alice.example/gallery/x.png",
        "https://bob-art.example/b.png",
    ]
    assert urls[0]["matches"] == []
    assert urls[1]["matches"] == [
        {
            "kind": "url",
            "claim": registry.url.pk,
            "image": None,
            "work": None,
            "distance": None,
            "matched": EXACT_URL,
            "matched_as": "exact",
            "level": "",
            "variant": "",
            "chance": None,
            "terms": None,
        }
    ]
    assert urls[2] == {"value": "", "matches": [], "problem": None}
    assert [(m["kind"], m["claim"], m["matched"]) for m in urls[3]["matches"]] == [
        ("prefix", registry.prefix.pk, PREFIX)
    ]
    assert [(m["kind"], m["claim"]) for m in urls[4]["matches"]] == [
        ("domain", registry.domain.pk)
    ]
    captions = body["captions"]
    assert captions[0]["matches"] == []
    assert [(m["kind"], m["claim"]) for m in captions[1]["matches"]] == [
        ("style", registry.style.pk)
    ]
    phash = body["phash"]
    assert phash[0]["matches"] == [
        {
            "kind": "phash",
            "claim": None,
            "image": registry.image.pk,
            "work": registry.image.work_id,
            "distance": 0,
            "matched": "",
            "matched_as": "",
            "level": "possible",
            "variant": "original",
            "chance": None,
            "terms": None,
        }
    ]
    assert phash[1]["matches"] == []
    assert body["sha256"] == body["md5"] == body["pdq"] == []


def test_an_artist_may_check_too(artist_client, registry):
    response = artist_client.post(URL, {"urls": [EXACT_URL]}, format="json")

    assert response.status_code == 200
    assert response.json()["urls"][0]["matches"][0]["claim"] == registry.url.pk


def test_a_url_that_cannot_be_read_is_reported_not_matched(curator_client, registry):
    response = curator_client.post(URL, {"urls": ["not a url"]}, format="json")

    assert response.status_code == 200
    item = response.json()["urls"][0]
    assert item["matches"] == []
    assert item["problem"]


def test_a_malformed_hash_is_rejected_naming_the_field_and_index(curator_client):
    response = curator_client.post(
        URL,
        {"sha256": ["ab" * 32, "abc"]},
        format="json",
    )

    assert response.status_code == 400
    body = response.json()
    assert body["message"] == "sha256[1]: sha256 must be 64 hex digits, got 3"
    assert body["extra"]["index"] == 1
    assert body["extra"]["fields"] == {"sha256": [body["message"]]}


def test_more_than_10000_items_in_all_are_refused(curator_client):
    response = curator_client.post(
        URL,
        {"urls": ["https://a.example/"] * 9_000, "captions": ["x"] * 1_001},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["message"] == (
        "at most 10,000 items per lookup, got 10,001; split the batch or upload "
        "a manifest"
    )


def test_anonymous_visitors_get_401(anon_client, db):
    response = anon_client.post(URL, {"urls": [EXACT_URL]}, format="json")

    assert response.status_code == 401


def test_unknown_keys_are_refused_naming_them(curator_client, registry):
    # An ignored key would answer with empty lists, which reads as "not
    # registered" for URLs that are.
    response = curator_client.post(URL, {"items": [EXACT_URL]}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["message"] == (
        "unknown key 'items'; a lookup takes urls, captions, sha256, md5, phash and pdq"
    )
    assert body["extra"]["fields"] == {"items": [body["message"]]}


def test_every_unknown_key_is_named_even_beside_known_ones(curator_client, registry):
    response = curator_client.post(
        URL,
        {"urls": [EXACT_URL], "url": [EXACT_URL], "hashes": ["ab" * 32]},
        format="json",
    )

    assert response.status_code == 400
    body = response.json()
    assert body["message"].startswith("unknown keys 'hashes', 'url'; ")
    assert set(body["extra"]["fields"]) == {"hashes", "url"}


def test_urls_match_claims_up_to_scheme_www_and_query(curator_client, registry):
    response = curator_client.post(
        URL,
        {
            "urls": [
                "http://alice.example/art/harbour.png",
                "https://www.alice.example/art/harbour.png?w=512",
                "http://www.alice.example/gallery/x.png",
                "https://alice.example/art/harbour.png",
                "https://alice.example/art/harbour2.png",
            ]
        },
        format="json",
    )

    assert response.status_code == 200
    found = [
        [(m["kind"], m["matched"], m["matched_as"]) for m in item["matches"]]
        for item in response.json()["urls"]
    ]
    assert found == [
        [("url", EXACT_URL, "scheme")],
        [("url", EXACT_URL, "www+query")],
        [("prefix", PREFIX, "scheme+www")],
        [("url", EXACT_URL, "exact")],
        [],
    ]
