"""URL claims the way artists mean them, through a whole job: a LAION-style
Parquet whose rows spell claimed URLs with http or https, with or without
www., with a CDN's query string; the filtered file, the three reports, the
matches API and the job page all agree, and each match says how it matched."""

from __future__ import annotations

import csv
import io
import json

from django.urls import reverse

from registry.services import claim_create
from tests.factories import approved_prefix

from .helpers import download, laion_parquet, read_parquet, run_job, start_job

ART = "https://alice.example/art/"  # a prefix claim, written with https
PHOTO = "https://bob.example/photos/pier.jpg"  # a URL claim without a query
ONE = "http://www.carol.example/view.png?id=1"  # a URL claim with a query


def planted_rows() -> list[tuple[str, str, str]]:
    """(manifest URL, kind, matched_as) for each row a claim must cover."""
    rows = []
    for i in range(20):
        rows.append((f"https://alice.example/art/{i}.png", "prefix", "exact"))
        rows.append((f"http://alice.example/art/x{i}.png", "prefix", "scheme"))
        rows.append((f"https://www.alice.example/art/y{i}.png", "prefix", "www"))
    rows += [
        (f"{PHOTO}?w=512", "url", "query"),
        ("http://www.bob.example/photos/pier.jpg", "url", "scheme+www"),
        ("HTTP://WWW.bob.example/photos/pier.jpg?w=64&h=64", "url", "scheme+www+query"),
        ("https://carol.example/view.png?id=1", "url", "scheme+www"),
    ]
    return rows


KEPT = [
    "https://free.example/1.png",
    "http://alice.example/artwork/1.png",  # not under /art/
    "https://img.alice.example/art/1.png",  # another host, not www
    "https://bob.example/photos/pier.jpg.webp",
    "https://carol.example/view.png",  # the claim's query is part of it
    "https://carol.example/view.png?id=2",
    "https://www2.alice.example/art/1.png",
]


def test_a_job_removes_every_spelling_of_claimed_urls_and_says_how_each_matched(
    client, curator, curator_client, holder
):
    prefix = approved_prefix(holder, ART)
    photo = claim_create(owner=holder, kind="url", value=PHOTO)
    one = claim_create(owner=holder, kind="url", value=ONE)
    claims = {"prefix": prefix.pk, "url": (photo.pk, one.pk)}
    planted = planted_rows()
    # Planted and kept rows interleaved, as in a real part file.
    manifest = []
    for i, (url, _, _) in enumerate(planted):
        manifest.append(url)
        if i < len(KEPT):
            manifest.append(KEPT[i])
    expected = {
        manifest.index(url): (kind, matched_as) for url, kind, matched_as in planted
    }
    assert len(expected) == 64 and len(manifest) == 64 + len(KEPT)

    job = run_job(
        start_job(
            curator, laion_parquet([(url, "a picture", None) for url in manifest])
        )
    )

    assert job.state == "succeeded", job.failure_reason
    body = curator_client.get(f"/api/v1/jobs/{job.pk}/").json()
    outputs = {o["kind"]: o["url"] for o in body["outputs"]}
    filtered = read_parquet(download(curator_client, outputs["filtered"]))
    assert filtered.column("URL").to_pylist() == KEPT

    csv_rows = list(
        csv.DictReader(
            io.StringIO(download(curator_client, outputs["report_csv"]).decode())
        )
    )
    jsonl_rows = [
        json.loads(line)
        for line in download(curator_client, outputs["report_jsonl"]).splitlines()
    ]
    parquet_rows = read_parquet(
        download(curator_client, outputs["report_parquet"])
    ).to_pylist()
    for rows in (csv_rows, jsonl_rows, parquet_rows):
        assert {int(r["row"]): (r["kind"], r["matched_as"]) for r in rows} == expected
        assert len(rows) == len(expected)
    for r in jsonl_rows:
        if r["kind"] == "prefix":
            assert (r["claim_id"], r["matched"]) == (claims["prefix"], ART)
        else:
            assert r["claim_id"] in claims["url"]
            assert r["matched"] in (PHOTO, ONE)
    assert [r["removed"] for r in parquet_rows] == [True] * len(expected)

    api_rows = []
    page = f"/api/v1/jobs/{job.pk}/matches/"
    while page:
        answer = curator_client.get(page).json()
        api_rows += answer["results"]
        page = answer["next"]
    assert {m["row"]: (m["kind"], m["matched_as"]) for m in api_rows} == expected

    client.force_login(curator)
    text = client.get(reverse("job_detail", args=[job.pk])).content.decode()
    assert "as scheme+www+query" in text
    assert "as www" in text
