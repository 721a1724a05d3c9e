"""POST /api/v1/images/hashes/: registering an image by its hashes alone."""

from __future__ import annotations

import base64
import hashlib
import io
import json

import numpy as np
import PIL.Image
import pytest
from django.core.management import call_command

from audit.models import AuditEvent
from registry.models import Fingerprint, Image, Work
from registry.permissions import NOT_AN_ARTIST
from registry.selectors import registry_revision_current
from registry.services import work_create, work_withdraw
from tests.images import image_bytes
from workers.engine import descriptor
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


# The descriptor, computed on the artist's machine by manage.py fingerprint.


@pytest.fixture
def fingerprint_json(tmp_path) -> dict:
    """manage.py fingerprint --json's line for a drawn image, parsed."""
    path = tmp_path / "night-market.png"
    path.write_bytes(image_bytes(1))
    out = io.StringIO()
    call_command("fingerprint", "--json", str(path), stdout=out)
    return json.loads(out.getvalue())


def packed(vectors: np.ndarray) -> str:
    return descriptor.to_text(descriptor.pack(vectors))


def regions() -> np.ndarray:
    return descriptor.model().regions(PIL.Image.open(io.BytesIO(image_bytes(1))))


def post_descriptor(client, hashes, text: str, version: str | None = None):
    """Register image T by `hashes` with this descriptor text and version (by
    default the registry's model)."""
    return client.post(
        URL,
        {
            "title": "T",
            **hashes,
            "descriptor": text,
            "descriptor_version": version or descriptor.version(),
        },
        format="json",
    )


def test_the_fingerprint_commands_json_registers_the_image_with_its_descriptor(
    artist_client, holder, fingerprint_json
):
    before = registry_revision_current()

    response = artist_client.post(
        URL, {**fingerprint_json, "title": "Night market"}, format="json"
    )

    assert response.status_code == 201, response.json()
    assert response.json()["fingerprints"]["pdq"] == fingerprint_json["pdq"]
    image = Image.objects.get(pk=response.json()["id"])
    assert image.descriptor_version == descriptor.version()
    assert bytes(image.descriptors) == base64.b64decode(fingerprint_json["descriptor"])
    assert (
        descriptor.to_text(bytes(image.descriptors)) == fingerprint_json["descriptor"]
    )
    assert registry_revision_current() == before + 1
    event = AuditEvent.objects.get(action="image.register_hashes")
    assert event.after == {
        "sha256": fingerprint_json["sha256"],
        "md5": fingerprint_json["md5"],
        "phash": fingerprint_json["phash"],
        "pdq": fingerprint_json["pdq"],
        "descriptor_version": descriptor.version(),
        "descriptor_sha256": hashlib.sha256(bytes(image.descriptors)).hexdigest()[:16],
    }


def test_a_pasted_descriptor_may_be_wrapped_over_lines(artist_client, hashes):
    text = packed(regions())
    wrapped = "\n".join(text[i : i + 76] for i in range(0, len(text), 76))

    response = post_descriptor(artist_client, hashes, wrapped)

    assert response.status_code == 201, response.json()
    assert descriptor.to_text(bytes(Image.objects.get().descriptors)) == text


def test_without_a_descriptor_none_is_stored(artist_client, hashes):
    response = artist_client.post(
        URL,
        {"title": "T", **hashes, "descriptor": "", "descriptor_version": None},
        format="json",
    )

    assert response.status_code == 201
    image = Image.objects.get()
    assert image.descriptors is None and image.descriptor_version == ""
    event = AuditEvent.objects.get(action="image.register_hashes")
    assert "descriptor_version" not in event.after


def _bad_descriptors() -> list:
    good = regions()
    nan = good.copy()
    nan[1, 7] = np.nan
    return [
        pytest.param(
            "no base64 here!",
            "descriptor",
            "descriptor is not valid base64 (as manage.py fingerprint prints it)",
            id="not-base64",
        ),
        pytest.param(
            descriptor.to_text(descriptor.pack(good)[:-2]),
            "descriptor",
            "descriptor must be 2 vectors of 256 float16 values (1024 bytes, "
            "1368 base64 characters), got 1022 bytes",
            id="wrong-size",
        ),
        pytest.param(
            packed(good[:1]),
            "descriptor",
            "descriptor must be 2 vectors of 256 float16 values (1024 bytes, "
            "1368 base64 characters), got 512 bytes",
            id="too-few-regions",
        ),
        pytest.param(
            packed(nan),
            "descriptor",
            "descriptor holds values that are not finite (NaN or inf)",
            id="nan",
        ),
        pytest.param(
            packed(np.vstack([good[:1], good[1:2] * 0.5])),
            "descriptor",
            "descriptor vector 2 (centre) has length 0.500, not 1 (within 0.01)",
            id="not-unit-length",
        ),
    ]


@pytest.mark.parametrize("text, field, message", _bad_descriptors())
def test_it_rejects_a_bad_descriptor_naming_the_field(
    artist_client, hashes, text, field, message
):
    response = post_descriptor(artist_client, hashes, text)

    assert response.status_code == 400
    assert response.json() == {
        "message": message,
        "code": "invalid",
        "extra": {"fields": {field: [message]}},
    }
    assert not Image.objects.exists()
    assert not Work.objects.exists()


def test_it_rejects_a_descriptor_of_another_model_saying_what_to_do(
    artist_client, hashes
):
    response = post_descriptor(
        artist_client, hashes, packed(regions()), "descriptor-v0:000000000000:r6"
    )

    assert response.status_code == 400
    message = (
        "descriptor_version 'descriptor-v0:000000000000:r6' is not this "
        f"registry's model {descriptor.version()!r}: rerun manage.py fingerprint "
        "with the registry's current release and submit its output"
    )
    assert response.json()["message"] == message
    assert response.json()["extra"]["fields"] == {"descriptor_version": [message]}
    assert not Image.objects.exists()


@pytest.mark.parametrize(
    "given, field, message",
    [
        (
            {"descriptor": "AAAA"},
            "descriptor_version",
            "descriptor_version is required with a descriptor (manage.py "
            "fingerprint prints both)",
        ),
        (
            {"descriptor_version": "descriptor-v1:3734537c5ca1:r6"},
            "descriptor",
            "descriptor is required with a descriptor_version (manage.py "
            "fingerprint prints both)",
        ),
    ],
)
def test_a_descriptor_and_its_version_come_together(
    artist_client, hashes, given, field, message
):
    response = artist_client.post(URL, {"title": "T", **hashes, **given}, format="json")

    assert response.status_code == 400
    assert response.json()["extra"]["fields"] == {field: [message]}
    assert not Image.objects.exists()


def test_it_rejects_a_descriptor_that_is_not_a_string(artist_client, hashes):
    response = artist_client.post(
        URL, {"title": "T", **hashes, "descriptor": [1, 2]}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["message"] == "descriptor: Not a valid string."
