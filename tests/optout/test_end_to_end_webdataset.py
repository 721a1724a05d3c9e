"""img2dataset WebDataset shards through the API and a real worker, to a filtered
set of shards that still loads in `webdataset`, without the registered image."""

from __future__ import annotations

import csv
import io
import tarfile
import time
from pathlib import Path

import pytest
import webdataset as wds

from core.uploads import bytes_file
from registry.models import Image
from registry.services import portfolio_upload
from tests.images import image_bytes

from .helpers import EXACT_URL, download, enforce, upload, wait_for_job, webdataset_tar

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def wait_hashed(image: Image, timeout: float = 60) -> Image:
    deadline = time.monotonic() + timeout
    while True:
        image.refresh_from_db()
        if image.status != Image.Status.PENDING:
            return image
        assert time.monotonic() < deadline, "the image was never fingerprinted"
        time.sleep(0.2)


def sample(key: str, seed: int, url: str) -> tuple[str, bytes, dict]:
    meta = {"url": url, "caption": f"picture {seed}", "status": "success"}
    return key, image_bytes(seed, "JPEG"), meta


def keys_in(path: Path) -> list[str]:
    return [s["__key__"] for s in wds.WebDataset(str(path), shardshuffle=False)]


def test_a_registered_image_is_removed_from_the_shards_by_its_content(
    celery_worker, curator_client, holder, tmp_path
):
    enforce(holder)
    registered = image_bytes(7, "JPEG")
    (image,) = portfolio_upload(
        owner=holder, files=[bytes_file("harbour.jpg", registered)]
    ).images
    image = wait_hashed(image)  # fingerprinted by the worker, as in production
    assert image.status == Image.Status.HASHED
    shards = [
        webdataset_tar(
            [
                sample("000000000", 7, "https://free.example/a.jpg"),  # the image
                sample("000000001", 8, "https://free.example/b.jpg"),
            ]
        ),
        webdataset_tar(
            [
                sample("000010000", 9, EXACT_URL),  # claimed URL
                sample("000010001", 10, "https://free.example/d.jpg"),
            ]
        ),
    ]

    response = curator_client.post(
        "/api/v1/manifests/",
        {"files": [upload("00000.tar", shards[0]), upload("00001.tar", shards[1])]},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["format"] == "webdataset"
    job = wait_for_job(curator_client, response.json()["job"]["url"])

    assert job["state"] == "succeeded", job["failure_reason"]
    assert job["rows_total"] == 4
    report = download(
        curator_client,
        next(o["url"] for o in job["outputs"] if o["kind"] == "report_csv"),
    ).decode()
    rows = list(csv.DictReader(io.StringIO(report)))
    content = {r["kind"] for r in rows if r["key"] == "000000000"}
    assert {"sha256", "md5", "phash"} <= content
    assert {r["image_id"] for r in rows if r["key"] == "000000000"} == {str(image.pk)}
    assert [r["kind"] for r in rows if r["key"] == "000010000"] == ["url"]
    assert {r["key"] for r in rows} == {"000000000", "000010000"}

    filtered = {}
    for output in job["outputs"]:
        if output["kind"] == "filtered":
            path = tmp_path / output["name"]
            path.write_bytes(download(curator_client, output["url"]))
            filtered[output["name"]] = path
    assert sorted(filtered) == ["00000.tar", "00001.tar"]
    assert keys_in(filtered["00000.tar"]) == ["000000001"]
    assert keys_in(filtered["00001.tar"]) == ["000010001"]
    with tarfile.open(filtered["00000.tar"]) as tar:
        assert tar.getnames() == [
            "000000001.jpg",
            "000000001.txt",
            "000000001.json",
        ]
        kept = tar.extractfile("000000001.jpg")
        assert kept is not None and kept.read() == image_bytes(8, "JPEG")


def test_a_sample_whose_image_does_not_decode_is_left_out_and_reported(
    celery_worker, curator_client, holder, tmp_path
):
    enforce(holder)
    broken = b"\xff\xd8\xff\xe0 the start of a JPEG and nothing more"
    rows = [
        sample("000000000", 8, "https://free.example/a.jpg"),
        ("000000001", broken, {"url": "https://free.example/b.jpg"}),
        ("000000002", broken, {"url": EXACT_URL}),  # its URL is still checked
        sample("000010000", 9, EXACT_URL),
        sample("000010001", 10, "https://free.example/d.jpg"),
    ]
    shards = {"00000.tar": rows[:3], "00001.tar": rows[3:]}

    response = curator_client.post(
        "/api/v1/manifests/",
        {"files": [upload(name, webdataset_tar(s)) for name, s in shards.items()]},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    job = wait_for_job(curator_client, response.json()["job"]["url"])

    assert job["state"] == "succeeded", job["failure_reason"]
    report = list(
        csv.DictReader(
            io.StringIO(
                download(
                    curator_client,
                    next(o["url"] for o in job["outputs"] if o["kind"] == "report_csv"),
                ).decode()
            )
        )
    )
    assert [
        (r["file"], r["row"], r["index"], r["kind"], r["signal"]) for r in report
    ] == [
        ("00000.tar", "1", "1", "unchecked", "image"),
        ("00000.tar", "2", "2", "url", ""),
        ("00000.tar", "2", "2", "unchecked", "image"),
        ("00001.tar", "0", "3", "url", ""),
    ]
    assert report[0]["field"] == "000000001.jpg"
    assert report[0]["reason"].startswith("image does not decode: ")
    removed = {int(r["index"]) for r in report if r["removed"] == "True"}
    assert job["rows_unchecked"] == 2
    assert job["receipt"]["payload"]["rows"]["removed"] == len(removed) == 3

    # Row by row: a sample is in the filtered shards exactly when the report
    # does not remove it.
    row = 0
    for name, samples in shards.items():
        output = next(o for o in job["outputs"] if o["name"] == name)
        path = tmp_path / output["name"]
        path.write_bytes(download(curator_client, output["url"]))
        expected = []
        for key, _, _ in samples:
            if row not in removed:
                expected.append(key)
            row += 1
        assert keys_in(path) == expected
