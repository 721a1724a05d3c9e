"""POST /api/v1/portfolio/: uploading images (ZIP archives: test_api_portfolio_zip)."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image as PILImage

from registry.models import Image, Work
from registry.permissions import NOT_AN_ARTIST
from registry.services import work_create, work_withdraw
from tests.images import drawing, image_bytes, truncated_png

URL = "/api/v1/portfolio/"


def upload(client, *files: tuple[str, bytes], **fields):
    data = {"files": [SimpleUploadedFile(name, body) for name, body in files]}
    return client.post(URL, {**data, **fields}, format="multipart")


def stored_files() -> list[Path]:
    return sorted(p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file())


def png_declaring_size(width: int, height: int) -> bytes:
    """A tiny, valid PNG file whose header claims width x height pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def assert_rejected_alone(response, file: str, message: str) -> None:
    """The one file was rejected: 400, its name and reason, nothing stored."""
    assert response.status_code == 400
    full = f"{file}: {message}"
    assert response.json() == {
        "message": full,
        "code": "invalid",
        "extra": {
            "rejected": [{"file": file, "message": message}],
            "fields": {"files": [full]},
        },
    }
    assert not Image.objects.exists()
    assert not Work.objects.exists()
    assert stored_files() == []


# --- good uploads ---------------------------------------------------------------


def test_it_registers_each_image_as_a_work_named_after_its_file(artist_client, holder):
    response = upload(
        artist_client,
        ("harbour_at-dusk.png", image_bytes(1)),
        ("ferry.jpg", image_bytes(2, "JPEG")),
    )

    assert response.status_code == 201
    body = response.json()
    assert [w["title"] for w in body["works"]] == ["harbour at dusk", "ferry"]
    assert body["rejected"] == []
    first, second = body["images"]
    assert first["work"] == body["works"][0]["id"]
    assert first["original_name"] == "harbour_at-dusk.png"
    assert (first["format"], first["width"], first["height"]) == ("PNG", 320, 240)
    assert first["byte_size"] == len(image_bytes(1))
    assert first["status"] == "pending"
    assert first["source"] == "upload"
    assert first["original_url"] == (
        f"http://testserver/files/image/{first['id']}/original"
    )
    assert first["thumbnail_url"] is None  # made by the worker
    assert second["format"] == "JPEG"
    images = Image.objects.order_by("id")
    assert [i.work.owner for i in images] == [holder, holder]
    with images[0].original.open("rb") as fh:
        assert fh.read() == image_bytes(1)
    # Stored under a random name, never the user's.
    assert "harbour" not in images[0].original.name


def test_it_adds_every_image_to_a_given_work(artist_client, holder):
    work = work_create(owner=holder, title="Sketchbook")

    response = upload(
        artist_client,
        ("a.png", image_bytes(1)),
        ("b.png", image_bytes(2)),
        work=work.pk,
    )

    assert response.status_code == 201
    body = response.json()
    assert [w["id"] for w in body["works"]] == [work.pk]
    assert body["works"][0]["image_count"] == 2
    assert {i["work"] for i in body["images"]} == {work.pk}
    assert Work.objects.count() == 1


@pytest.mark.parametrize(
    "name, fmt",
    [
        ("a.jpg", "JPEG"),
        ("a.png", "PNG"),
        ("a.gif", "GIF"),
        ("a.tiff", "TIFF"),
        ("a.bmp", "BMP"),
        ("a.webp", "WEBP"),
        ("a.avif", "AVIF"),
    ],
)
def test_it_accepts_common_image_formats(artist_client, name, fmt):
    response = upload(artist_client, (name, image_bytes(3, fmt)))

    assert response.status_code == 201, response.json()
    image = response.json()["images"][0]
    assert (image["format"], image["width"], image["height"]) == (fmt, 320, 240)
    assert Image.objects.get().format == fmt


def test_it_accepts_heic_photos(artist_client):
    import pillow_heif

    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    drawing(4).save(out, format="HEIF")

    response = upload(artist_client, ("IMG_0001.HEIC", out.getvalue()))

    assert response.status_code == 201, response.json()
    assert response.json()["images"][0]["format"] == "HEIF"


def test_it_accepts_an_animated_gif_by_its_first_frame(artist_client):
    frames = [drawing(5).convert("P"), drawing(6).convert("P")]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:])
    assert PILImage.open(io.BytesIO(out.getvalue())).n_frames == 2

    response = upload(artist_client, ("loop.gif", out.getvalue()))

    assert response.status_code == 201
    assert response.json()["images"][0]["format"] == "GIF"


def test_it_keeps_good_files_and_lists_the_broken_one(artist_client):
    response = upload(
        artist_client,
        ("a.png", image_bytes(1)),
        ("broken.png", truncated_png(2)),
        ("c.jpg", image_bytes(3, "JPEG")),
    )

    assert response.status_code == 201
    body = response.json()
    assert [i["original_name"] for i in body["images"]] == ["a.png", "c.jpg"]
    assert body["rejected"] == [
        {"file": "broken.png", "message": "the image file is truncated"}
    ]
    assert Image.objects.count() == 2
    assert len(stored_files()) == 2


# --- bad uploads, one reason each ---------------------------------------------------


def test_it_rejects_a_file_that_is_not_an_image(artist_client):
    response = upload(artist_client, ("notes.txt", b"remember the milk\n" * 20))

    assert_rejected_alone(
        response, "notes.txt", "not an image (unrecognised file format)"
    )


def test_it_rejects_a_truncated_image(artist_client):
    response = upload(artist_client, ("cut.png", truncated_png()))

    assert_rejected_alone(response, "cut.png", "the image file is truncated")


def test_it_rejects_an_image_over_the_pixel_limit(artist_client, settings):
    settings.UPLOAD_MAX_IMAGE_PIXELS = 10_000

    response = upload(artist_client, ("big.png", image_bytes(1)))

    assert_rejected_alone(
        response,
        "big.png",
        "the image is too large (320x240): more than 10,000 pixels "
        "(possible decompression bomb)",
    )


def test_it_rejects_a_decompression_bomb_before_decoding_it(artist_client):
    bomb = png_declaring_size(100_000, 100_000)
    assert len(bomb) < 200

    response = upload(artist_client, ("bomb.png", bomb))

    assert_rejected_alone(
        response,
        "bomb.png",
        "the image is too large (100000x100000): more than 100,000,000 pixels "
        "(possible decompression bomb)",
    )


def test_it_rejects_a_file_over_the_size_limit(artist_client, settings):
    settings.UPLOAD_MAX_FILE_BYTES = 1024 * 1024

    response = upload(artist_client, ("huge.png", b"\x89PNG" + b"\0" * 1572860))

    assert_rejected_alone(
        response, "huge.png", "the file is 1.5 MB, over the 1 MB limit"
    )


def test_it_rejects_an_empty_file(artist_client):
    response = upload(artist_client, ("empty.png", b""))

    assert_rejected_alone(response, "empty.png", "the file is empty")


def test_it_names_every_file_when_none_is_good(artist_client):
    response = upload(
        artist_client, ("a.txt", b"hello"), ("b.png", b""), ("c.png", truncated_png())
    )

    assert response.status_code == 400
    body = response.json()
    assert body["message"] == (
        "none of the 3 files was accepted: "
        "a.txt: not an image (unrecognised file format); "
        "b.png: the file is empty; "
        "c.png: the image file is truncated"
    )
    assert [r["file"] for r in body["extra"]["rejected"]] == ["a.txt", "b.png", "c.png"]
    assert not Image.objects.exists()


def test_it_asks_for_files_when_none_were_sent(artist_client):
    response = artist_client.post(URL, {}, format="multipart")

    assert response.status_code == 400
    message = (
        "no file was uploaded; send images or ZIP archives in this multipart field"
    )
    assert response.json() == {
        "message": f"files: {message}",
        "code": "invalid",
        "extra": {"fields": {"files": [message]}},
    }


def test_it_ignores_files_sent_under_another_field_name(artist_client):
    response = artist_client.post(
        URL,
        {"file": SimpleUploadedFile("a.png", image_bytes(1))},
        format="multipart",
    )

    assert response.status_code == 400
    assert response.json()["message"].startswith("files: no file was uploaded")
    assert not Image.objects.exists()


def test_it_rejects_too_many_files_in_one_request(artist_client, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2

    response = upload(artist_client, *[(f"{i}.png", image_bytes(i)) for i in range(3)])

    assert response.status_code == 400
    assert response.json()["message"] == (
        "files: too many files in one request (the limit is 2); put them in a ZIP "
        "or send several requests"
    )
    assert not Image.objects.exists()


def test_it_keeps_images_up_to_the_per_upload_limit(artist_client, settings):
    settings.UPLOAD_MAX_FILES = 2

    response = upload(artist_client, *[(f"{i}.png", image_bytes(i)) for i in range(3)])

    assert response.status_code == 201
    assert [i["original_name"] for i in response.json()["images"]] == ["0.png", "1.png"]
    assert response.json()["rejected"] == [
        {"file": "2.png", "message": "over the limit of 2 images per upload"}
    ]


def test_it_wants_multipart_not_json(artist_client):
    response = artist_client.post(URL, {"files": ["a.png"]}, format="json")

    assert response.status_code == 415
    assert response.json()["message"] == (
        'Unsupported media type "application/json" in request.'
    )


def test_it_rejects_a_work_id_that_is_not_a_number(artist_client):
    response = upload(artist_client, ("a.png", image_bytes(1)), work="first")

    assert response.status_code == 400
    assert response.json()["message"] == "work: A valid integer is required."
    assert not Image.objects.exists()


# --- whose work ---------------------------------------------------------------


def test_it_does_not_add_images_to_another_artists_work(artist_client, other_holder):
    theirs = work_create(owner=other_holder, title="Bob's")

    response = upload(artist_client, ("a.png", image_bytes(1)), work=theirs.pk)

    assert response.status_code == 404
    assert response.json()["message"] == "work not found"
    assert not Image.objects.exists()
    assert stored_files() == []


def test_it_does_not_add_images_to_a_withdrawn_work(artist_client, holder):
    work = work_create(owner=holder, title="Old")
    work_withdraw(owner=holder, work_id=work.pk)

    response = upload(artist_client, ("a.png", image_bytes(1)), work=work.pk)

    assert response.status_code == 409
    assert response.json()["message"] == "images cannot be added to a withdrawn work"
    assert not Image.objects.exists()


def test_it_tells_a_curator_to_become_an_artist(curator_client):
    response = upload(curator_client, ("a.png", image_bytes(1)))

    assert response.status_code == 403
    assert response.json()["message"] == NOT_AN_ARTIST
    assert not Image.objects.exists()
    assert stored_files() == []


def test_it_answers_anonymous_users_401(anon_client, db):
    response = upload(anon_client, ("a.png", image_bytes(1)))

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert not Image.objects.exists()
    assert stored_files() == []
