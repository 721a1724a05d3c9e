"""GET /api/v1/images/ and /api/v1/images/{id}/: images and their fingerprints."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image as PILImage

from core.uploads import bytes_file
from registry.models import Fingerprint, Image
from registry.permissions import NOT_AN_ARTIST
from registry.services import image_fingerprint, portfolio_upload
from tests.images import drawing, image_bytes, truncated_png
from workers.engine import fingerprint as fp

URL = "/api/v1/images/"


@pytest.fixture
def eager_celery(settings) -> Iterator[None]:
    """Queued tasks run at once, in this thread, and raise their errors."""
    from config.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = True
    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


def upload_and_fingerprint(client, capture, name: str, data: bytes) -> dict:
    with capture(execute=True):
        response = client.post(
            "/api/v1/portfolio/",
            {"files": [SimpleUploadedFile(name, data)]},
            format="multipart",
        )
    assert response.status_code == 201, response.json()
    return response.json()["images"][0]


@pytest.fixture
def images(holder) -> list[Image]:
    result = portfolio_upload(
        owner=holder, files=[bytes_file(f"{i}.png", image_bytes(i)) for i in range(3)]
    )
    return result.images


# --- fingerprints ---------------------------------------------------------------


def test_it_shows_the_fingerprints_the_worker_computed(
    artist_client, eager_celery, django_capture_on_commit_callbacks
):
    data = image_bytes(7)
    uploaded = upload_and_fingerprint(
        artist_client, django_capture_on_commit_callbacks, "harbour.png", data
    )

    response = artist_client.get(f"{URL}{uploaded['id']}/")

    assert response.status_code == 200
    body = response.json()
    expected = fp.fingerprint_bytes(data).fingerprints
    assert body["status"] == "hashed"
    assert body["failure_reason"] == ""
    assert body["fingerprinted_at"] is not None
    assert body["fingerprints"] == {
        "sha256": expected.sha256.hex(),
        "md5": expected.md5.hex(),
        "phash": expected.phash.hex(),
        "pdq": expected.pdq.hex(),
        "pdq_quality": expected.pdq_quality,
        "pdq_low_quality": False,
        "versions": fp.ALGORITHM_VERSIONS,
    }
    image = Image.objects.get(pk=body["id"])
    assert (
        body["thumbnail_url"] == f"http://testserver/files/image/{image.pk}/thumbnail"
    )
    assert body["original_url"] == f"http://testserver/files/image/{image.pk}/original"


def test_it_fingerprints_a_gif_by_its_first_frame(
    artist_client, eager_celery, django_capture_on_commit_callbacks
):
    frames = [drawing(5).convert("P"), drawing(6).convert("P")]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:])
    first_frame = PILImage.open(io.BytesIO(out.getvalue())).convert("RGB")

    uploaded = upload_and_fingerprint(
        artist_client, django_capture_on_commit_callbacks, "loop.gif", out.getvalue()
    )

    prints = artist_client.get(f"{URL}{uploaded['id']}/").json()["fingerprints"]
    assert prints["phash"] == fp.phash(first_frame).hex()
    assert prints["pdq"] == fp.pdq(first_frame)[0].hex()


def test_it_flags_a_low_quality_pdq_hash(
    artist_client, eager_celery, django_capture_on_commit_callbacks
):
    flat = PILImage.new("RGB", (320, 240), (200, 30, 30))
    out = io.BytesIO()
    flat.save(out, format="PNG")
    quality = fp.fingerprint_bytes(out.getvalue()).fingerprints.pdq_quality
    assert quality < 50

    uploaded = upload_and_fingerprint(
        artist_client, django_capture_on_commit_callbacks, "flat.png", out.getvalue()
    )

    prints = artist_client.get(f"{URL}{uploaded['id']}/").json()["fingerprints"]
    assert prints["pdq_quality"] == quality
    assert prints["pdq_low_quality"] is True


def test_it_shows_why_an_image_failed(artist_client, holder, images):
    image = images[0]
    with open(image.original.path, "wb") as fh:
        fh.write(truncated_png(0))
    image_fingerprint(image_id=image.pk)

    body = artist_client.get(f"{URL}{image.pk}/").json()

    assert body["status"] == "failed"
    assert body["failure_reason"] == "the image file is truncated"
    assert body["fingerprints"]["sha256"] is None


def test_a_pending_image_has_no_fingerprints_yet(artist_client, images):
    body = artist_client.get(f"{URL}{images[0].pk}/").json()

    assert body["status"] == "pending"
    assert body["thumbnail_url"] is None
    assert body["fingerprints"] == {
        "sha256": None,
        "md5": None,
        "phash": None,
        "pdq": None,
        "pdq_quality": None,
        "pdq_low_quality": None,
        "versions": {},
    }


def test_it_shows_only_the_original_not_the_variants(artist_client, images):
    image = images[0]
    image_fingerprint(image_id=image.pk)
    original = Fingerprint.objects.get(image=image, algorithm="phash")
    Fingerprint.objects.create(
        image=image, algorithm="phash", variant="mirror", version="x", value_int=1
    )

    body = artist_client.get(f"{URL}{image.pk}/").json()

    assert body["fingerprints"]["phash"] == original.hex


# --- list -----------------------------------------------------------------------


def test_it_lists_only_the_artists_own_images_newest_first(
    artist_client, other_holder, images
):
    portfolio_upload(owner=other_holder, files=[bytes_file("bob.png", image_bytes(9))])

    response = artist_client.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert [i["id"] for i in body["results"]] == [i.pk for i in reversed(images)]


def test_it_filters_images_by_status(artist_client, images):
    image_fingerprint(image_id=images[1].pk)

    hashed = artist_client.get(URL, {"status": "hashed"}).json()["results"]
    pending = artist_client.get(URL, {"status": "pending"}).json()["results"]

    assert [i["id"] for i in hashed] == [images[1].pk]
    assert [i["id"] for i in pending] == [images[2].pk, images[0].pk]


def test_it_filters_images_by_work(artist_client, images):
    work_id = images[1].work_id

    results = artist_client.get(URL, {"work": work_id}).json()["results"]

    assert [i["id"] for i in results] == [images[1].pk]


def test_filtering_by_another_artists_work_finds_nothing(
    artist_client, other_holder, images
):
    theirs = portfolio_upload(
        owner=other_holder, files=[bytes_file("bob.png", image_bytes(9))]
    ).works[0]

    response = artist_client.get(URL, {"work": theirs.pk})

    assert response.status_code == 200
    assert response.json()["results"] == []


@pytest.mark.parametrize(
    "params, message",
    [
        ({"status": "done"}, 'status: "done" is not a valid choice.'),
        ({"work": "abc"}, "work: A valid integer is required."),
        (
            {"work": str(10**30)},
            "work: Ensure this value is less than or equal to 9223372036854775807.",
        ),
    ],
)
def test_it_rejects_bad_filters(artist_client, db, params, message):
    response = artist_client.get(URL, params)

    assert response.status_code == 400
    assert response.json()["message"] == message


# --- detail: whose ----------------------------------------------------------------


def test_it_hides_another_artists_image(artist_client, other_holder):
    theirs = portfolio_upload(
        owner=other_holder, files=[bytes_file("bob.png", image_bytes(9))]
    ).images[0]

    response = artist_client.get(f"{URL}{theirs.pk}/")

    assert response.status_code == 404
    assert response.json() == {
        "message": "image not found",
        "code": "not_found",
        "extra": {},
    }


@pytest.mark.parametrize("path", ["", "{id}/"])
def test_it_tells_a_curator_to_become_an_artist(curator_client, images, path):
    response = curator_client.get(URL + path.format(id=images[0].pk))

    assert response.status_code == 403
    assert response.json()["message"] == NOT_AN_ARTIST


@pytest.mark.parametrize("path", ["", "{id}/"])
def test_it_answers_anonymous_users_401(anon_client, images, path):
    response = anon_client.get(URL + path.format(id=images[0].pk))

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
