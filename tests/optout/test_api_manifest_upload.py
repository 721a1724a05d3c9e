"""POST /api/v1/manifests/: a curator uploads a manifest and its job starts."""

from __future__ import annotations

import hashlib
import json

from accounts.permissions import NOT_A_CURATOR
from optout.models import Manifest, MatchJob

from .helpers import csv_manifest, laion_parquet, upload

URL = "/api/v1/manifests/"


def radii(thresholds: dict) -> dict:
    """The Hamming radii a job was started with (the levels' settings aside)."""
    return {k: thresholds[k] for k in ("phash", "pdq")}


def test_a_curator_uploads_a_laion_parquet_and_its_job_is_queued(
    curator_client, curator
):
    data = laion_parquet()

    response = curator_client.post(
        URL, {"files": [upload("part-00000.parquet", data)]}, format="multipart"
    )

    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "part-00000.parquet"
    assert body["format"] == "parquet"
    assert body["columns"]["url"] == "URL"
    assert body["columns"]["caption"] == "TEXT"
    assert body["size"] == len(data)
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["parts"] == [
        {"name": "part-00000.parquet", "size": len(data), "sha256": body["sha256"]}
    ]
    job = body["job"]
    assert job["state"] == "queued"
    assert job["progress"] == 0.0
    assert job["manifest"] == body["id"]
    assert job["url"] == f"http://testserver/api/v1/jobs/{job['id']}/"

    stored = MatchJob.objects.get(pk=job["id"])
    assert stored.owner == curator
    assert stored.manifest_sha256 == hashlib.sha256(data).hexdigest()
    assert radii(stored.thresholds) == {"phash": 8, "pdq": 40}
    assert stored.remove_levels == ["verified", "strong"]


def test_it_takes_a_name_column_overrides_and_thresholds(curator_client):
    data = b"image_link,words\nhttps://a.example/1.png,a cat\n"

    response = curator_client.post(
        URL,
        {
            "files": [upload("export.csv", data)],
            "name": "Crawl of March",
            "columns": json.dumps({"url": "image_link", "caption": "words"}),
            "thresholds": json.dumps({"phash": 4}),
        },
        format="multipart",
    )

    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "Crawl of March"
    assert body["format"] == "csv"
    assert body["columns"]["url"] == "image_link"
    assert body["columns"]["caption"] == "words"
    assert radii(MatchJob.objects.get().thresholds) == {"phash": 4, "pdq": 40}


def test_a_curator_asks_to_keep_unchecked_rows(curator_client):
    data = b"url,caption\nhttps://a.example/1.png,a cat\n"

    response = curator_client.post(
        URL,
        {"files": [upload("m.csv", data)], "keep_unchecked": "true"},
        format="multipart",
    )

    assert response.status_code == 201
    assert MatchJob.objects.get().keep_unchecked is True
    assert response.json()["found_columns"] == ["url", "caption"]


def test_unchecked_rows_are_left_out_unless_asked(curator_client):
    data = b"url,caption\nhttps://a.example/1.png,a cat\n"

    response = curator_client.post(
        URL, {"files": [upload("m.csv", data)]}, format="multipart"
    )

    assert response.status_code == 201
    assert MatchJob.objects.get().keep_unchecked is False


def test_it_rejects_a_keep_unchecked_that_is_not_a_boolean(curator_client):
    data = b"url,caption\nhttps://a.example/1.png,a cat\n"

    response = curator_client.post(
        URL,
        {"files": [upload("m.csv", data)], "keep_unchecked": "perhaps"},
        format="multipart",
    )

    assert response.status_code == 400
    assert response.json()["extra"]["fields"]["keep_unchecked"] == [
        "Must be a valid boolean."
    ]
    assert not Manifest.objects.exists()


def test_blank_columns_and_thresholds_mean_the_defaults(curator_client):
    # A form that sends every field, empty ones too (curl -F thresholds=).
    data = b"url,caption\nhttps://a.example/1.png,a cat\n"

    response = curator_client.post(
        URL,
        {"files": [upload("m.csv", data)], "columns": "", "thresholds": ""},
        format="multipart",
    )

    assert response.status_code == 201
    assert response.json()["columns"]["url"] == "url"
    assert radii(MatchJob.objects.get().thresholds) == {"phash": 8, "pdq": 40}


def test_it_rejects_a_file_it_cannot_read_naming_it(curator_client):
    response = curator_client.post(
        URL,
        {"files": [upload("notes.bin", b"\x00\x01\x02 not a manifest")]},
        format="multipart",
    )

    assert response.status_code == 400
    body = response.json()
    assert body["message"].startswith("notes.bin: ")
    assert body["code"] == "invalid"
    assert list(body["extra"]["fields"]) == ["files"]
    assert not Manifest.objects.exists()


def test_it_rejects_columns_that_are_not_a_json_object(curator_client):
    response = curator_client.post(
        URL,
        {"files": [upload("a.csv", csv_manifest([]))], "columns": "url=URL"},
        format="multipart",
    )

    assert response.status_code == 400
    assert response.json()["message"] == (
        'columns: must be a JSON object, e.g. {"url": "URL", "caption": "TEXT"}'
    )


def test_it_rejects_an_unknown_logical_column(curator_client):
    response = curator_client.post(
        URL,
        {
            "files": [upload("a.csv", csv_manifest([("https://a.example/", "x")]))],
            "columns": json.dumps({"link": "url"}),
        },
        format="multipart",
    )

    assert response.status_code == 400
    assert response.json()["message"] == (
        "columns: unknown column 'link'; use one of caption, image, key, md5, "
        "pdq, phash, sha256, url"
    )
    assert not Manifest.objects.exists()


def test_it_rejects_a_threshold_beyond_the_index_radius_before_storing(
    curator_client,
):
    response = curator_client.post(
        URL,
        {
            "files": [upload("a.parquet", laion_parquet())],
            "thresholds": json.dumps({"phash": 9}),
        },
        format="multipart",
    )

    assert response.status_code == 400
    assert response.json()["message"] == (
        "thresholds: phash must be a whole number from 0 to 8"
    )
    assert not Manifest.objects.exists()


def test_a_url_encoded_form_is_refused_as_it_cannot_carry_files(curator_client):
    response = curator_client.post(
        URL, "name=x", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 415
    assert response.json()["message"] == (
        'Unsupported media type "application/x-www-form-urlencoded" in request.'
    )


def test_it_needs_a_file(curator_client):
    response = curator_client.post(URL, {"name": "nothing"}, format="multipart")

    assert response.status_code == 400
    assert response.json()["message"] == (
        "files: no manifest file was uploaded; send it in this multipart field"
    )


def test_an_account_that_is_not_a_curator_is_told_so(artist_client):
    response = artist_client.post(
        URL, {"files": [upload("a.parquet", laion_parquet())]}, format="multipart"
    )

    assert response.status_code == 403
    assert response.json() == {
        "message": NOT_A_CURATOR,
        "code": "not_a_curator",
        "extra": {},
    }
    assert not Manifest.objects.exists()


def test_anonymous_visitors_get_401(anon_client, db):
    response = anon_client.post(
        URL, {"files": [upload("a.parquet", laion_parquet())]}, format="multipart"
    )

    assert response.status_code == 401
    assert not Manifest.objects.exists()
