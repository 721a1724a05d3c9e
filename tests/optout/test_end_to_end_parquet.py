"""A LAION-style Parquet through the API and a real Celery worker, to its outputs."""

from __future__ import annotations

import csv
import io
import json

import pytest

from .helpers import (
    KEPT_URLS,
    LAION_ROWS,
    MATCHED_ROWS,
    REMOVED_ROWS,
    checked_through_the_api,
    download,
    enforce,
    laion_parquet,
    read_parquet,
)

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_curator_uploads_watches_and_downloads_report_and_filtered_parquet(
    celery_worker, curator_client, holder
):
    registry = enforce(holder)
    data = laion_parquet()

    job = checked_through_the_api(curator_client, "part-00000.parquet", data)

    assert job["state"] == "succeeded", job["failure_reason"]
    assert job["progress"] == 1.0
    assert job["rows_done"] == job["rows_total"] == len(LAION_ROWS)
    assert job["counts"] == {"url": 1, "prefix": 1, "domain": 1, "style": 1, "phash": 1}
    outputs = {o["kind"]: o for o in job["outputs"]}

    report = download(curator_client, outputs["report_csv"]["url"]).decode()
    rows = list(csv.DictReader(io.StringIO(report)))
    assert {int(r["row"]) for r in rows} == MATCHED_ROWS
    assert {int(r["row"]) for r in rows if r["removed"] == "True"} == REMOVED_ROWS
    by_kind = {r["kind"]: r for r in rows}
    assert by_kind["url"]["claim_id"] == str(registry.url.pk)
    assert by_kind["prefix"]["claim_id"] == str(registry.prefix.pk)
    assert by_kind["domain"]["claim_id"] == str(registry.domain.pk)
    assert by_kind["style"]["claim_id"] == str(registry.style.pk)
    assert by_kind["phash"]["image_id"] == str(registry.image.pk)
    assert by_kind["phash"]["distance"] == "0"

    filtered = read_parquet(download(curator_client, outputs["filtered"]["url"]))
    original = read_parquet(data)
    assert filtered.schema == original.schema
    # Row by row: the filtered file holds exactly the rows no report line removes.
    removed = {int(r["index"]) for r in rows if r["removed"] == "True"}
    assert {r["file"] for r in rows} == {"part-00000.parquet"}
    assert filtered.to_pylist() == [
        row for i, row in enumerate(original.to_pylist()) if i not in removed
    ]
    assert filtered.column("URL").to_pylist() == KEPT_URLS
    assert filtered.column("TEXT").to_pylist() == ["a photo", "a cat", "a dog"]

    receipt = json.loads(download(curator_client, outputs["receipt"]["url"]))
    assert receipt == job["receipt"]
    assert receipt["payload"]["manifest"]["sha256"] == job["manifest_sha256"]
    assert receipt["payload"]["rows"]["removed"] == len(REMOVED_ROWS)

    matches = curator_client.get(job["matches_url"], {"kind": "style"}).json()
    assert [m["row"] for m in matches["results"]] == [3]


def test_rows_with_a_malformed_hash_are_left_out_row_by_row(
    celery_worker, curator_client, holder
):
    enforce(holder)
    rows = [
        *LAION_ROWS,
        ("https://free.example/7.jpg", "a hash cut short", "d1c4f0e8"),
        ("https://alice.example/gallery/8.jpg", "claimed, bad hash", "not hex!"),
    ]
    data = laion_parquet(rows)

    job = checked_through_the_api(curator_client, "part-00001.parquet", data)

    assert job["state"] == "succeeded", job["failure_reason"]
    outputs = {o["kind"]: o for o in job["outputs"]}
    report = list(
        csv.DictReader(
            io.StringIO(download(curator_client, outputs["report_csv"]["url"]).decode())
        )
    )
    unchecked = [
        (r["row"], r["signal"], r["field"]) for r in report if r["kind"] == "unchecked"
    ]
    assert unchecked == [("7", "phash", "phash"), ("8", "phash", "phash")]
    assert [r["kind"] for r in report if r["row"] == "8"] == ["prefix", "unchecked"]
    removed = {int(r["row"]) for r in report if r["removed"] == "True"}
    assert removed == REMOVED_ROWS | {7, 8}

    filtered = read_parquet(download(curator_client, outputs["filtered"]["url"]))
    assert filtered.column("URL").to_pylist() == [
        url for i, (url, _, _) in enumerate(rows) if i not in removed
    ]
    assert filtered.column("phash").to_pylist() == [
        phash for i, (_, _, phash) in enumerate(rows) if i not in removed
    ]
    assert job["receipt"]["payload"]["rows"]["unchecked"] == 2
    assert job["receipt"]["payload"]["rows"]["unchecked_removed"] == 1
