from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from registry.models import Fingerprint, Image, Work
from tests.images import image_bytes
from tests.pages import assert_login_redirect, upload
from workers.engine import descriptor

URL = reverse("register_hashes")
SHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
PDQ = "f" * 64


def test_it_sends_anonymous_visitors_to_log_in(client, db):
    assert_login_redirect(client.get(URL), URL)
    assert_login_redirect(client.post(URL, {"title": "x", "sha256": SHA256}), URL)
    assert not Image.objects.exists()


def test_it_explains_how_to_compute_hashes_locally(client, artist):
    client.force_login(artist)
    response = client.get(URL)
    assert response.status_code == 200
    text = response.content.decode()
    assert "manage.py fingerprint PATH" in text
    for name in ("title", "sha256", "md5", "phash", "pdq"):
        assert f'name="{name}"' in text


def test_it_registers_a_work_by_its_hashes(client, artist, holder):
    client.force_login(artist)
    response = client.post(
        URL,
        {
            "title": "Night study",
            "sha256": SHA256.upper(),
            "pdq": PDQ,
            "pdq_quality": 80,
        },
    )
    image = Image.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("work_detail", args=[image.work_id])
    text = client.get(response["Location"]).content.decode()
    assert "Hashes registered for “Night study”." in text
    assert f'data-algorithm="sha256">{SHA256}</code>' in text

    assert image.source == Image.Source.HASHES
    assert image.status == Image.Status.HASHED
    assert image.work.owner == holder
    assert image.work.title == "Night study"
    prints = {f.algorithm: f for f in Fingerprint.objects.filter(image=image)}
    assert set(prints) == {"sha256", "pdq"}
    assert prints["sha256"].hex == SHA256
    assert prints["pdq"].quality == 80


@pytest.mark.parametrize(
    "data, field, message",
    [
        (
            {"title": "x", "sha256": "abc"},
            "sha256",
            "sha256 must be 64 hex digits, got 3",
        ),
        (
            {"title": "x", "md5": "z" * 32},
            "md5",
            "md5 must contain only hex digits 0-9 and a-f",
        ),
        (
            {"title": "x", "phash": "0" * 15},
            "phash",
            "phash must be 16 hex digits, got 15",
        ),
        ({"title": "x"}, None, "give at least one hash: sha256, md5, phash or pdq"),
        ({"title": " ", "sha256": SHA256}, "title", "title may not be blank"),
        (
            {"title": "x", "pdq": PDQ, "pdq_quality": 101},
            "pdq_quality",
            "pdq_quality must be 0-100",
        ),
    ],
)
def test_it_shows_the_services_error_on_the_named_field(
    client, artist, data, field, message
):
    client.force_login(artist)
    response = client.post(URL, data)
    assert response.status_code == 400
    assert message in response.content.decode()
    errors = response.context["form"].errors
    assert errors[field or "__all__"] == [message]
    assert not Image.objects.exists()


def test_it_adds_hashes_to_an_existing_work(client, artist, holder):
    (image,) = upload(holder, 1)
    client.force_login(artist)
    response = client.post(URL, {"work": image.work_id, "md5": "0" * 32})
    assert response.status_code == 302
    assert Image.objects.filter(work_id=image.work_id).count() == 2
    assert Work.objects.count() == 1


def test_it_will_not_add_hashes_to_someone_elses_work(client, holder, other_artist):
    (image,) = upload(holder, 1)
    client.force_login(other_artist)
    response = client.post(URL, {"work": image.work_id, "md5": "0" * 32})
    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()
    assert Image.objects.count() == 1


def fingerprint_lines(path) -> dict[str, str]:
    """manage.py fingerprint's human output for one file: field -> value."""
    out = io.StringIO()
    call_command("fingerprint", str(path), stdout=out)
    fields = {}
    for line in out.getvalue().splitlines()[1:]:
        if line.strip():
            name, value = line.split(None, 1)
            fields[name] = value
    return fields


def test_it_registers_the_descriptor_pasted_from_the_fingerprint_command(
    client, artist, tmp_path
):
    path = tmp_path / "study.png"
    path.write_bytes(image_bytes(2))
    printed = fingerprint_lines(path)
    client.force_login(artist)
    assert 'name="descriptor"' in client.get(URL).content.decode()

    response = client.post(
        URL,
        {
            "title": "Study",
            "pdq": printed["pdq"],
            "descriptor_version": printed["descriptor_version"],
            # a textarea wraps long lines; the copy may carry them
            "descriptor": "\r\n".join(
                printed["descriptor"][i : i + 64]
                for i in range(0, len(printed["descriptor"]), 64)
            ),
        },
    )

    assert response.status_code == 302
    image = Image.objects.get()
    assert image.descriptor_version == descriptor.version()
    assert descriptor.to_text(bytes(image.descriptors)) == printed["descriptor"]


def test_it_shows_a_descriptor_error_on_its_field(client, artist):
    client.force_login(artist)
    response = client.post(
        URL,
        {
            "title": "x",
            "pdq": PDQ,
            "descriptor": "AAAA",
            "descriptor_version": descriptor.version(),
        },
    )
    message = (
        "descriptor must be 2 vectors of 256 float16 values (1024 bytes, "
        "1368 base64 characters), got 3 bytes"
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert response.context["form"].errors == {"descriptor": [message]}
    assert not Image.objects.exists()
