"""JSON nested 100,000 deep (valid, hostile) is refused where it arrives, never
a 500 and never a crashed chunk: API bodies, JSON fields of a multipart form,
JSONL manifest lines and tar `.json` members."""

from __future__ import annotations

import json

import pytest

from optout.services import manifest_upload, match_job_start
from tests.images import image_bytes
from tests.optout.helpers import (
    EXACT_URL,
    report_rows,
    run_job,
    upload,
    webdataset_tar,
)

DEEP = "[" * 100_000 + "]" * 100_000

pytestmark = pytest.mark.django_db


def test_a_deeply_nested_api_body_is_a_400(artist_client):
    response = artist_client.post(
        "/api/v1/claims/", DEEP, content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["message"] == (
        "JSON parse error - the body is nested too deeply"
    )


def test_a_deeply_nested_json_field_of_an_upload_is_a_400(curator_client):
    from tests.optout.helpers import laion_parquet

    response = curator_client.post(
        "/api/v1/manifests/",
        {"files": [upload("a.parquet", laion_parquet())], "columns": DEEP},
        format="multipart",
    )

    assert response.status_code == 400
    assert "must be a JSON object" in response.json()["message"]


def test_a_deeply_nested_jsonl_line_is_unchecked_and_the_rest_matched(
    curator, registry
):
    lines = [
        json.dumps({"url": EXACT_URL, "caption": "x"}),
        '{"url": "https://free.example/1.jpg", "x": ' + DEEP + "}",
        json.dumps({"url": "https://free.example/2.jpg", "caption": "y"}),
    ]
    manifest = manifest_upload(
        owner=curator, files=[upload("m.jsonl", ("\n".join(lines) + "\n").encode())]
    )
    job = run_job(match_job_start(manifest=manifest, owner=curator))

    assert job.state == "succeeded", job.failure_reason
    assert [(r["row"], r["kind"], r["reason"]) for r in report_rows(job)] == [
        ("0", "url", ""),
        ("1", "unchecked", "line is not valid JSON: nested too deeply"),
    ]


def test_a_deeply_nested_tar_json_member_leaves_its_metadata_unchecked(
    curator, registry
):
    import io
    import tarfile

    shard = io.BytesIO(
        webdataset_tar(
            [
                ("a", image_bytes(1, "JPEG"), {"url": EXACT_URL}),
                ("b", image_bytes(2, "JPEG"), {"url": "https://free.example/b.jpg"}),
            ]
        )
    )
    out = io.BytesIO()
    with tarfile.open(fileobj=shard) as src, tarfile.open(fileobj=out, mode="w") as dst:
        for info in src.getmembers():
            data = src.extractfile(info).read()
            if info.name == "b.json":
                data = DEEP.encode()
                info.size = len(data)
            dst.addfile(info, io.BytesIO(data))
    manifest = manifest_upload(owner=curator, files=[upload("s.tar", out.getvalue())])
    job = run_job(match_job_start(manifest=manifest, owner=curator))

    assert job.state == "succeeded", job.failure_reason
    lines = [(r["row"], r["kind"], r["reason"]) for r in report_rows(job)]
    assert ("0", "url", "") in lines
    assert (
        "1",
        "unchecked",
        "json member is not valid JSON: nested too deeply",
    ) in lines
