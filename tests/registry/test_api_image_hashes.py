"""POST /api/v1/images/hashes/: registering an image by its hashes alone."""

from __future__ import annotations

import pytest

from registry.models import Fingerprint, Image, Work
from registry.permissions import NOT_AN_ARTIST
from registry.selectors import registry_revision_current
from registry.services import work_create, work_withdraw
from tests.images import image_bytes
from workers.engine import fingerprint as fp

URL = "/api/v1/images/hashes/"


@pytest.fixture
def hashes() -> dict[str, str | int]:
    prints = fp.fingerprint_bytes(image_bytes(1)).fingerprints
    return {
        "sha256": prints.sha256.hex(),
        "md5": prints.md5.hex(),
        "phash": prints.phash.hex(),
        "pdq": prints.pdq.hex(),
        "pdq_quality": prints.pdq_quality,
    }


def test_it_registers_an_image_by_its_hashes(artist_client, holder, hashes):
    before = registry_revision_current()

    response = artist_client.post(
        URL, {"title": "Private sketch", **hashes}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    image = Image.objects.get(pk=body["id"])
    assert image.work.owner == holder
    assert image.work.title == "Private sketch"
    assert body["source"] == "hashes"
    assert body["status"] == "hashed"
    assert body["original_url"] is None
    assert body["thumbnail_url"] is None
    assert body["fingerprints"] == {
        "sha256": hashes["sha256"],
        "md5": hashes["md5"],
        "phash": hashes["phash"],
        "pdq": hashes["pdq"],
        "pdq_quality": hashes["pdq_quality"],
        "pdq_low_quality": False,
        "versions": {
            "md5": "submitted",
            "pdq": "submitted",
            "phash": "submitted",
            "sha256": "submitted",
        },
    }
    assert registry_revision_current() == before + 1
    stored = Fingerprint.objects.get(image=image, algorithm="phash")
    assert (
        stored.value_int == fp.fingerprint_bytes(image_bytes(1)).fingerprints.phash_int
    )


def test_it_accepts_uppercase_and_0x_hex_and_stores_it_lowercase(artist_client):
    response = artist_client.post(
        URL, {"title": "T", "phash": "0xABCDEF0123456789"}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["fingerprints"]["phash"] == "abcdef0123456789"
    assert response.json()["fingerprints"]["sha256"] is None


def test_it_adds_the_image_to_an_existing_work(artist_client, holder, hashes):
    work = work_create(owner=holder, title="Series")

    response = artist_client.post(URL, {"work": work.pk, **hashes}, format="json")

    assert response.status_code == 201
    assert response.json()["work"] == work.pk
    assert Work.objects.count() == 1


def test_it_flags_a_low_pdq_quality(artist_client, hashes):
    response = artist_client.post(
        URL, {"title": "T", **hashes, "pdq_quality": 10}, format="json"
    )

    assert response.json()["fingerprints"]["pdq_low_quality"] is True


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("phash", "abcdef012345678", "phash must be 16 hex digits, got 15"),
        ("md5", "z" * 32, "md5 must contain only hex digits 0-9 and a-f"),
        ("sha256", "ab", "sha256 must be 64 hex digits, got 2"),
        ("pdq", "0" * 63, "pdq must be 64 hex digits, got 63"),
    ],
)
def test_it_rejects_a_malformed_hash_naming_the_field(
    artist_client, holder, field, value, message
):
    response = artist_client.post(URL, {"title": "T", field: value}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "message": message,
        "code": "invalid",
        "extra": {"fields": {field: [message]}},
    }
    assert not Image.objects.exists()
    assert not Work.objects.exists()


def test_it_rejects_a_request_without_any_hash(artist_client):
    response = artist_client.post(URL, {"title": "T", "md5": ""}, format="json")

    assert response.status_code == 400
    assert response.json()["message"] == (
        "give at least one hash: sha256, md5, phash or pdq"
    )


def test_it_rejects_a_new_work_without_a_title(artist_client, hashes):
    response = artist_client.post(URL, hashes, format="json")

    assert response.status_code == 400
    assert response.json()["message"] == "title may not be blank"
    assert not Image.objects.exists()


def test_it_rejects_a_pdq_quality_out_of_range(artist_client, hashes):
    response = artist_client.post(
        URL, {"title": "T", **hashes, "pdq_quality": 101}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["message"] == "pdq_quality must be 0-100"


def test_it_rejects_a_hash_that_is_not_a_string(artist_client):
    response = artist_client.post(URL, {"title": "T", "phash": ["abc"]}, format="json")

    assert response.status_code == 400
    assert response.json()["message"] == "phash: Not a valid string."


def test_it_does_not_add_to_another_artists_work(artist_client, other_holder, hashes):
    theirs = work_create(owner=other_holder, title="Bob's")

    response = artist_client.post(URL, {"work": theirs.pk, **hashes}, format="json")

    assert response.status_code == 404
    assert response.json()["message"] == "work not found"
    assert not Image.objects.exists()


def test_it_does_not_add_to_a_withdrawn_work(artist_client, holder, hashes):
    work = work_create(owner=holder, title="Old")
    work_withdraw(owner=holder, work_id=work.pk)

    response = artist_client.post(URL, {"work": work.pk, **hashes}, format="json")

    assert response.status_code == 409
    assert response.json()["message"] == "images cannot be added to a withdrawn work"


def test_it_tells_a_curator_to_become_an_artist(curator_client, hashes):
    response = curator_client.post(URL, {"title": "T", **hashes}, format="json")

    assert response.status_code == 403
    assert response.json()["message"] == NOT_AN_ARTIST
    assert not Image.objects.exists()


def test_it_answers_anonymous_users_401(anon_client, db, hashes):
    response = anon_client.post(URL, {"title": "T", **hashes}, format="json")

    assert response.status_code == 401
    assert not Image.objects.exists()
