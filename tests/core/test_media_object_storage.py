"""Media in object storage (MEDIA_STORAGE_URL=s3://...), on a real S3 server.

Originals, thumbnails, manifests and a job's outputs go to the bucket and
nothing to MEDIA_ROOT; the /files/ views stream them, or send the browser
to a signed URL; a worker reads a manifest part from a local copy checked
against the SHA-256 recorded at upload. The whole flow with two worker
processes that share no disk is tests/optout/test_two_machines.py.
"""

from __future__ import annotations

import csv
import io
import os
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command

from core.objectstore import media_storage, store_from_url
from core.storage import StoredFileDamaged, local_copy
from tests.images import image_bytes
from tests.optout.helpers import (
    MATCHED_ROWS,
    checked_through_the_api,
    download,
    enforce,
    laion_parquet,
    read_parquet,
)
from tests.pages import fingerprint
from tests.pages import upload as portfolio

pytestmark = pytest.mark.django_db


def stored_keys(url: str) -> list[str]:
    return store_from_url(url).list("")


def files_under(root: str | Path) -> list[Path]:
    return [p for p in Path(root).rglob("*") if p.is_file()]


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_originals_and_thumbnails_go_to_the_bucket_and_are_streamed(
    client, settings, s3_media, artist, holder
):
    (image,) = portfolio(holder, 3)
    image = fingerprint(image)

    keys = stored_keys(s3_media)
    assert image.original.name in keys
    assert image.thumbnail.name in keys
    assert files_under(settings.MEDIA_ROOT) == []

    client.force_login(artist)
    original = client.get(f"/files/image/{image.pk}/original")
    assert original.status_code == 200
    assert body(original) == image_bytes(3)
    assert original["Content-Type"] == "image/png"
    assert original["Content-Disposition"] == 'inline; filename="art-3.png"'
    thumbnail = client.get(f"/files/image/{image.pk}/thumbnail")
    assert thumbnail.status_code == 200
    assert body(thumbnail)[:2] == b"\xff\xd8"  # a JPEG
    assert thumbnail["Cache-Control"].startswith("private")


def test_with_media_storage_redirect_the_browser_gets_a_signed_url(
    client, settings, s3_media, artist, holder
):
    settings.MEDIA_STORAGE_REDIRECT = True
    (image,) = portfolio(holder, 4)
    client.force_login(artist)

    response = client.get(f"/files/image/{image.pk}/original")
    assert response.status_code == 302
    assert response["Cache-Control"].startswith("private")
    signed = response["Location"]
    query = urlsplit(signed).query
    assert "X-Amz-Signature=" in query
    assert "X-Amz-Expires=300" in query
    with urllib.request.urlopen(signed, timeout=10) as answer:
        assert answer.read() == image_bytes(4)
        assert answer.headers["Content-Type"] == "image/png"
    # Without its signature the same object is refused.
    unsigned = signed.split("?", 1)[0]
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(unsigned, timeout=10)
    assert refused.value.code == 403

    # Strangers still get the view's 404, never a URL.
    client.logout()
    assert client.get(f"/files/image/{image.pk}/original").status_code == 404


def test_a_file_gone_from_the_bucket_is_a_404(client, s3_media, artist, holder):
    (image,) = portfolio(holder, 5)
    store_from_url(s3_media).delete([image.original.name])
    client.force_login(artist)
    assert client.get(f"/files/image/{image.pk}/original").status_code == 404


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_manifest_job_and_its_outputs_live_in_the_bucket(
    celery_worker, settings, s3_media, curator_client, holder
):
    enforce(holder)
    data = laion_parquet()
    job = checked_through_the_api(curator_client, "part-00000.parquet", data)
    assert job["state"] == "succeeded", job["failure_reason"]

    outputs = {o["kind"]: o for o in job["outputs"]}
    report = download(curator_client, outputs["report_csv"]["url"]).decode()
    assert {int(r["row"]) for r in csv.DictReader(io.StringIO(report))} == (
        MATCHED_ROWS
    )
    filtered = read_parquet(download(curator_client, outputs["filtered"]["url"]))
    assert filtered.schema == read_parquet(data).schema

    keys = stored_keys(s3_media)
    assert sum(k.startswith("manifests/") for k in keys) == 1
    assert sum(k.startswith("jobs/") or k.startswith("outputs/") for k in keys) >= 2
    assert files_under(settings.MEDIA_ROOT) == []
    # The worker read the part from one local copy, the bytes uploaded.
    copies = files_under(settings.MEDIA_CACHE_DIR)
    assert [c.read_bytes() for c in copies if not c.name.startswith(".")] == [data]


def test_a_local_copy_is_checked_against_the_recorded_sha256(settings, s3_media):
    import hashlib

    name = default_storage.save("manifests/ab/part", ContentFile(b"good bytes"))
    good = hashlib.sha256(b"good bytes").hexdigest()
    path = local_copy(name, sha256=good)
    assert path.read_bytes() == b"good bytes"
    assert path.is_relative_to(settings.MEDIA_CACHE_DIR)
    assert local_copy(name, sha256=good) == path  # downloaded once

    # The object changed behind the registry's back: refused, nothing kept.
    store_from_url(s3_media).put_bytes(name, b"other bytes")
    path.unlink()
    with pytest.raises(StoredFileDamaged, match=f"{name}: the stored file's SHA-256"):
        local_copy(name, sha256=good)
    assert not [p for p in os.listdir(settings.MEDIA_CACHE_DIR) if "part" in p]


def test_local_copies_past_the_cache_size_are_evicted_oldest_first(settings, s3_media):
    settings.MEDIA_CACHE_MAX_BYTES = 2_500
    names = [
        default_storage.save(f"manifests/cd/{i}", ContentFile(bytes([i]) * 1_000))
        for i in range(4)
    ]
    paths = []
    for i, name in enumerate(names):
        paths.append(local_copy(name))
        os.utime(paths[-1], (1_000_000 + i, 1_000_000 + i))
    assert [p.exists() for p in paths] == [False, False, True, True]
    # An evicted copy comes back on the next use.
    assert local_copy(names[0]).read_bytes() == b"\x00" * 1_000


def test_on_the_folder_storage_a_local_copy_is_the_file_itself(settings):
    name = default_storage.save("manifests/ef/part", ContentFile(b"bytes"))
    assert local_copy(name) == Path(settings.MEDIA_ROOT) / name


def test_healthz_reports_the_object_storage(client, settings, s3_media):
    # The storage's S3 client is built on its first use (boto3 loads its
    # data: about a second of CPU, more with the suite's other processes
    # busy), which the 1.5 s bound of the check is not there to measure.
    default_storage.exists(".warm-up")
    answer = client.get("/healthz?format=json").json()
    assert answer["storage"] == "ok"
    assert answer["free_bytes"] is None

    down = "s3://media/x?endpoint=http://127.0.0.1:9"  # nothing listens there
    settings.MEDIA_STORAGE_URL = down
    settings.STORAGES = {**settings.STORAGES, "default": media_storage(down)}
    answer = client.get("/healthz?format=json").json()
    assert answer["storage"].startswith("object storage")
    assert "ok" != answer["storage"]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://host/media", "media is kept in MEDIA_ROOT"),
        ("/var/media", "media is kept in MEDIA_ROOT"),
        ("s3:///prefix", "no bucket"),
        ("s3://media/p?secret_key=x", "credentials do not belong in the URL"),
    ],
)
def test_a_wrong_media_storage_url_is_refused_naming_it(url, message):
    with pytest.raises(ValueError, match=message):
        media_storage(url)


def test_media_to_store_moves_an_install_off_its_folder(settings, s3_media, holder):
    # Media written to the folder storage first, as before MEDIA_STORAGE_URL.
    folder = Path(settings.MEDIA_ROOT)
    s3 = settings.STORAGES["default"]
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    }
    (image,) = portfolio(holder, 6)
    image = fingerprint(image)
    names = {image.original.name, image.thumbnail.name}
    on_disk = {p.relative_to(folder).as_posix() for p in files_under(folder)}
    assert on_disk >= names
    settings.STORAGES = {**settings.STORAGES, "default": s3}
    # One name already there with other bytes is reported, never overwritten.
    store_from_url(s3_media).put_bytes(image.thumbnail.name, b"someone else's")

    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match="1 files differ"):
        call_command("media_to_store", stdout=out, stderr=err)
    assert out.getvalue().startswith(f"Copied {len(on_disk) - 1} files")
    assert set(stored_keys(s3_media)) == on_disk
    assert f"not copied: {image.thumbnail.name}" in err.getvalue()
    image.refresh_from_db()
    assert image.original.read() == image_bytes(6)
    assert store_from_url(s3_media).get_bytes(image.thumbnail.name) == (
        b"someone else's"
    )

    # Again: nothing left to copy.
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("media_to_store", stdout=out, stderr=io.StringIO())
    assert out.getvalue().startswith("Copied 0 files")


def test_media_to_store_refuses_without_object_storage(settings):
    with pytest.raises(CommandError, match="MEDIA_STORAGE_URL is not set"):
        call_command("media_to_store")
