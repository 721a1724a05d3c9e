"""POST /api/v1/portfolio/ with ZIP archives: the images inside, and ZIP bombs."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from registry.models import Image, Work
from tests.images import image_bytes, zip_bytes

URL = "/api/v1/portfolio/"


def upload(client, *files: tuple[str, bytes], **fields):
    data = {"files": [SimpleUploadedFile(name, body) for name, body in files]}
    return client.post(URL, {**data, **fields}, format="multipart")


def stored_files() -> list[Path]:
    return sorted(p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file())


def test_it_registers_every_image_in_a_zip(artist_client):
    archive = zip_bytes(
        {
            "portfolio/harbour.png": image_bytes(1),
            "portfolio/ferry.jpg": image_bytes(2, "JPEG"),
            "portfolio/": b"",
            "__MACOSX/portfolio/._harbour.png": b"junk",
            "portfolio/.DS_Store": b"junk",
        }
    )

    response = upload(artist_client, ("portfolio.zip", archive))

    assert response.status_code == 201
    body = response.json()
    assert [i["original_name"] for i in body["images"]] == [
        "portfolio.zip: portfolio/harbour.png",
        "portfolio.zip: portfolio/ferry.jpg",
    ]
    assert [w["title"] for w in body["works"]] == ["harbour", "ferry"]
    assert body["rejected"] == []
    assert Image.objects.count() == 2


def test_it_mixes_zips_and_images_in_one_upload(artist_client):
    response = upload(
        artist_client,
        ("loose.png", image_bytes(1)),
        ("more.zip", zip_bytes({"a.webp": image_bytes(2, "WEBP")})),
    )

    assert response.status_code == 201
    assert [i["original_name"] for i in response.json()["images"]] == [
        "loose.png",
        "more.zip: a.webp",
    ]


def test_it_lists_bad_members_and_keeps_the_good_ones(artist_client):
    archive = zip_bytes(
        {
            "good.png": image_bytes(1),
            "readme.txt": b"hello",
            "cut.png": image_bytes(2)[:500],
            "inner.zip": zip_bytes({"x.png": image_bytes(3)}),
        }
    )

    response = upload(artist_client, ("art.zip", archive))

    assert response.status_code == 201
    body = response.json()
    assert [i["original_name"] for i in body["images"]] == ["art.zip: good.png"]
    assert body["rejected"] == [
        {
            "file": "art.zip: readme.txt",
            "message": "not an image (unrecognised file format)",
        },
        {"file": "art.zip: cut.png", "message": "the image file is truncated"},
        {
            "file": "art.zip: inner.zip",
            "message": "nested ZIP archives are not accepted",
        },
    ]


def test_it_rejects_members_that_would_escape_the_upload_folder(artist_client):
    tmp = Path(tempfile.gettempdir())
    media = Path(settings.MEDIA_ROOT)
    outside = [media.parent / "x.png", tmp / "x.png", Path("/abs.png"), Path("x.png")]
    before = {p: p.exists() for p in outside}
    archive = zip_bytes(
        {
            "../x.png": image_bytes(1),
            "/abs.png": image_bytes(2),
            "ok/../../x.png": image_bytes(3),
            "good.png": image_bytes(4),
        }
    )

    response = upload(artist_client, ("evil.zip", archive))

    assert response.status_code == 201
    body = response.json()
    assert [i["original_name"] for i in body["images"]] == ["evil.zip: good.png"]
    assert body["rejected"] == [
        {
            "file": "evil.zip: ../x.png",
            "message": "paths with '..' are not allowed in a ZIP",
        },
        {
            "file": "evil.zip: /abs.png",
            "message": "absolute paths are not allowed in a ZIP",
        },
        {
            "file": "evil.zip: ok/../../x.png",
            "message": "paths with '..' are not allowed in a ZIP",
        },
    ]
    # Nothing was written outside MEDIA_ROOT, and inside it only the one original.
    assert {p: p.exists() for p in outside} == before
    files = stored_files()
    assert len(files) == 1
    assert files[0].relative_to(media).parts[0] == "originals"
    assert files[0].read_bytes() == image_bytes(4)


def test_it_rejects_a_highly_compressed_member_as_a_zip_bomb(artist_client):
    zeros = b"\0" * (2 * 1024 * 1024)
    archive = zip_bytes({"good.png": image_bytes(1), "bomb.png": zeros})
    info = zipfile.ZipFile(io.BytesIO(archive)).getinfo("bomb.png")
    ratio = info.file_size / info.compress_size
    assert ratio > settings.ZIP_MAX_RATIO

    response = upload(artist_client, ("bomb.zip", archive))

    assert response.status_code == 201
    assert [i["original_name"] for i in response.json()["images"]] == [
        "bomb.zip: good.png"
    ]
    assert response.json()["rejected"] == [
        {
            "file": "bomb.zip: bomb.png",
            "message": f"compressed {ratio:.0f}:1, over the 100:1 limit "
            "(possible ZIP bomb)",
        }
    ]


def test_it_rejects_a_zip_that_declares_too_much_data(artist_client, settings):
    settings.ZIP_MAX_TOTAL_BYTES = 1024 * 1024
    archive = zip_bytes({"filler.png": b"\0" * (3 * 1024 * 1024)})

    response = upload(artist_client, ("big.zip", archive))

    assert response.status_code == 400
    message = "the ZIP expands to 3 MB, over the 1 MB limit (possible ZIP bomb)"
    assert response.json()["message"] == f"big.zip: {message}"
    assert response.json()["extra"]["rejected"] == [
        {"file": "big.zip", "message": message}
    ]
    assert not Image.objects.exists()
    assert stored_files() == []


def test_it_rejects_a_zip_with_too_many_members(artist_client, settings):
    settings.ZIP_MAX_MEMBERS = 3
    archive = zip_bytes({f"{i}.png": image_bytes(i) for i in range(4)})

    response = upload(artist_client, ("many.zip", archive))

    assert response.status_code == 400
    assert response.json()["message"] == (
        "many.zip: the ZIP has 4 files, over the limit of 3"
    )
    assert not Work.objects.exists()
    assert stored_files() == []


def test_it_rejects_a_file_named_zip_that_is_not_one(artist_client):
    response = upload(artist_client, ("photos.zip", b"this is no archive"))

    assert response.status_code == 400
    assert response.json()["message"] == "photos.zip: not a valid ZIP archive"


def test_it_rejects_an_empty_zip(artist_client):
    response = upload(artist_client, ("empty.zip", zip_bytes({})))

    assert response.status_code == 400
    assert response.json()["message"] == (
        "empty.zip: the ZIP archive contains no files"
    )


def test_it_rejects_a_zip_of_many_small_members_that_add_up_to_a_bomb(
    artist_client,
):
    # 200 one-colour pictures of 1 MB each: every member under the per-member
    # check, the archive ~200:1 in all.
    flat = b"BM" + b"\0" * (1024 * 1024 - 2)
    archive = zip_bytes({f"{i}.bmp": flat for i in range(200)})
    assert len(archive) < 1024 * 1024

    response = upload(artist_client, ("flat.zip", archive))

    assert response.status_code == 400
    assert response.json()["message"].startswith("flat.zip: the ZIP expands ")
    assert response.json()["message"].endswith(
        ":1 in all, over the 100:1 limit (possible ZIP bomb)"
    )
    assert not Image.objects.exists()
