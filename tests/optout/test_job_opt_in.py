"""Rows their rights holders offer for AI training on terms: a job keeps them,
lists them with their terms, and on request writes the manifest of them
alone; a refusal by anyone else still removes the row; the registry's
answers (Spawning's optIn, preferences, lookup) say the same."""

from __future__ import annotations

import hashlib
import io
import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from accounts.services import api_token_create
from optout.services import (
    manifest_upload,
    match_chunk_run,
    match_job_finalize,
    match_job_ingest,
    match_job_start,
)
from registry.models import Work
from registry.services import claim_create, image_register_hashes
from registry.services.optins import opt_in_end, opt_in_set

from .helpers import activate_domain, output_bytes, report_rows, upload

pytestmark = pytest.mark.django_db

TERMS = {
    "licence": "https://alice.example/licence.html",
    "payment": "attribution",
    "contact": "licensing@alice.example",
}
OFFERED = "https://alice.example/free/a.jpg"
BOTH = "https://alice.example/free/both.jpg"  # offered, and refused by another
REFUSED = "https://alice.example/art/harbour.png"
WORK_BYTES = b"the bytes of alice's offered picture"
WORK_SHA = hashlib.sha256(WORK_BYTES).hexdigest()


@pytest.fixture
def offers(holder, other_holder):
    activate_domain(claim_create(owner=holder, kind="domain", value="alice.example"))
    prefix = claim_create(
        owner=holder, kind="prefix", value="https://alice.example/free/"
    )
    claim_create(owner=holder, kind="url", value=REFUSED)
    claim_create(owner=other_holder, kind="url", value=BOTH)
    image = image_register_hashes(
        owner=holder, hashes={"sha256": WORK_SHA}, title="Offered picture"
    )
    Work.objects.filter(pk=image.work_id).update(
        source_urls=["https://alice.example/pictures/offered"]
    )
    opt_in_set(owner=holder, claim_id=prefix.pk, **TERMS)
    opt_in_set(owner=holder, work_id=image.work_id, **TERMS)
    return prefix, image


def manifest() -> bytes:
    table = pa.table(
        {
            "URL": [
                REFUSED,
                OFFERED,
                BOTH,
                "https://free.example/3.jpg",
                "https://mirror.example/copy.jpg",
            ],
            "TEXT": ["harbour", "free one", "both", "a cat", "a copy"],
            "sha256": [None, None, None, None, WORK_SHA],
        }
    )
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def test_a_job_keeps_and_lists_opt_in_rows_as_of_its_revision(curator, holder, offers):
    prefix, _ = offers
    job = match_job_start(
        manifest=manifest_upload(
            owner=curator, files=[upload("p.parquet", manifest())]
        ),
        owner=curator,
        opt_in_manifest=True,
    )
    match_job_ingest(job_id=job.pk)
    # Withdrawn after the job took its revision: the job still reads the offer.
    opt_in_end(owner=holder, claim_id=prefix.pk)
    for chunk in job.chunks.all():
        match_chunk_run(chunk_id=chunk.pk)
    match_job_finalize(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == "succeeded", job.failure_reason

    report = report_rows(job)
    removed = {int(r["index"]) for r in report if r["removed"] == "True"}
    assert removed == {0, 2}
    offered = {int(r["index"]): r for r in report if r["level"] == "opt-in"}
    assert set(offered) == {1, 2, 4}  # row 2's offer is listed, but it goes
    terms = json.loads(offered[1]["evidence"])
    assert terms == {**TERMS, "verified": "domain proof (alice.example)"}
    assert offered[4]["kind"] == "sha256"
    assert offered[1]["removed"] == "False"

    kept = pq.read_table(io.BytesIO(output_bytes(job, "filtered")))
    assert kept.column("URL").to_pylist() == [
        OFFERED,
        "https://free.example/3.jpg",
        "https://mirror.example/copy.jpg",
    ]
    only = pd.read_parquet(io.BytesIO(output_bytes(job, "opt_in")))
    assert only["URL"].tolist() == [OFFERED, "https://mirror.example/copy.jpg"]
    assert job.outputs.get(kind="opt_in").name == "opt-in-p.parquet"
    receipt = job.receipt["payload"]
    assert receipt["rows"]["opt_in"] == 2
    assert receipt["rows"]["removed"] == 2
    assert receipt["rows"]["kept_for_review"] == 0
    assert "opt_in_manifest" not in receipt["levels"]


def test_the_job_page_shows_the_terms(client, curator, offers):
    job = match_job_start(
        manifest=manifest_upload(
            owner=curator, files=[upload("p.parquet", manifest())]
        ),
        owner=curator,
    )
    match_job_ingest(job_id=job.pk)
    for chunk in job.chunks.all():
        match_chunk_run(chunk_id=chunk.pk)
    match_job_finalize(job_id=job.pk)
    assert not job.outputs.filter(kind="opt_in").exists()
    client.force_login(curator)
    page = client.get(f"/datasets/jobs/{job.pk}/").content.decode()
    assert "offered for training: licence" in page
    assert "payment attribution" in page
    assert "2 rows offered for AI training on terms" in page


def test_the_registry_answers_say_it_is_offered(client, curator, offers):
    _, key = api_token_create(user=curator, name="datadiligence")
    spawning = client.post(
        "/api/v2/query/urls/",
        data="\n".join([OFFERED, BOTH, REFUSED]).encode(),
        content_type="text/plain",
        HTTP_AUTHORIZATION=f"API {key}",
    )
    assert spawning.status_code == 200
    assert [(u["optOut"], u["optIn"]) for u in spawning.json()["urls"]] == [
        (False, True),
        (True, False),
        (True, False),
    ]

    answer = client.get(
        "/api/v1/preferences/",
        {"url": [OFFERED, BOTH]},
        HTTP_AUTHORIZATION=f"Token {key}",
    )
    assert answer.status_code == 200, answer.json()
    offered, both = answer.json()["urls"]
    assert offered["categories"]["train-ai"] == "y"
    assert offered["preferences"] == "train-ai=y"
    (said,) = [d for d in offered["declarations"] if d["kind"] == "prefix"]
    assert said["terms"]["payment"] == "attribution"
    assert said["verified"] == "domain proof (alice.example)"
    assert both["categories"]["train-ai"] == "n"  # a refusal wins

    lookup = client.post(
        "/api/v1/lookup/",
        {"urls": [OFFERED], "sha256": [WORK_SHA]},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {key}",
    )
    assert lookup.status_code == 200, lookup.json()
    (url_hit,) = lookup.json()["urls"][0]["matches"]
    (hash_hit,) = lookup.json()["sha256"][0]["matches"]
    assert url_hit["level"] == hash_hit["level"] == "opt-in"
    assert hash_hit["terms"]["licence"] == TERMS["licence"]
