"""Shared by the curators' tests: a small registry, small manifests, a job run.

The registry (`enforce`) holds one claim of each kind and one image registered
by its pHash alone; `LAION_ROWS` is a LAION-style manifest in which rows 0-4 hit
one of them each (url, prefix, domain, style, phash) and rows 5-6 hit nothing.
Rows 0-3 are removed; row 4's hash-only match is listed for review.
"""

from __future__ import annotations

import csv
import io
import json
import tarfile
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from optout.models import Chunk, Manifest, MatchJob
from optout.services import (
    manifest_upload,
    match_chunk_run,
    match_job_finalize,
    match_job_ingest,
    match_job_start,
)
from registry.models import Claim, Image, RightsHolder
from registry.services import (
    claim_create,
    claim_review,
    image_register_hashes,
    registry_revision_bump,
)
from tests.factories import approved_prefix

EXACT_URL = "https://alice.example/art/harbour.png"
PREFIX = "https://alice.example/gallery/"
DOMAIN = "bob-art.example"
STYLE = "Alice Moreau"
PHASH = "d1c4f0e8b3a29587"

LAION_ROWS = [
    # URL, TEXT, phash
    (EXACT_URL, "a harbour", None),
    ("https://alice.example/gallery/2021/boats.jpg", "boats", None),
    ("https://bob-art.example/works/bridge.jpg", "a bridge", None),
    ("https://free.example/3.jpg", "dusk, in the style of alice  MOREAU,", None),
    ("https://free.example/4.jpg", "a photo", PHASH),
    ("https://free.example/5.jpg", "a cat", None),
    ("https://free.example/6.jpg", "a dog", "0000000000000000"),
]
# Row 4's pHash hit is only "possible" by default (a hash alone is never strong:
# docs/MATCHING.md), so it is listed in the reports but kept.
REMOVED_ROWS = {0, 1, 2, 3}
MATCHED_ROWS = {0, 1, 2, 3, 4}
KEPT_URLS = [
    "https://free.example/4.jpg",
    "https://free.example/5.jpg",
    "https://free.example/6.jpg",
]


@dataclass(frozen=True)
class Registry:
    url: Claim
    prefix: Claim
    domain: Claim
    style: Claim
    image: Image


def activate_domain(claim: Claim) -> Claim:
    """Prove control of a claimed domain (no service does it yet: a later issue)."""
    with transaction.atomic():
        Claim.objects.filter(pk=claim.pk).update(
            state=Claim.State.ACTIVE, activated_at=timezone.now()
        )
        registry_revision_bump(reason=f"claim {claim.pk} verified")
    claim.refresh_from_db()
    return claim


def enforce(holder: RightsHolder) -> Registry:
    """One enforced claim of every kind and one image registered by pHash."""
    url = claim_create(owner=holder, kind="url", value=EXACT_URL)
    prefix = approved_prefix(holder, PREFIX)
    domain = activate_domain(claim_create(owner=holder, kind="domain", value=DOMAIN))
    style = claim_create(owner=holder, kind="style", value=STYLE)
    style = claim_review(claim_id=style.pk, approve=True)
    image = image_register_hashes(
        owner=holder, hashes={"phash": PHASH}, title="Harbour at dusk"
    )
    return Registry(url=url, prefix=prefix, domain=domain, style=style, image=image)


def laion_parquet(rows: list[tuple[str, str, str | None]] = LAION_ROWS) -> bytes:
    """A LAION-style Parquet file (URL, TEXT, WIDTH, HEIGHT, similarity, phash)."""
    table = pa.table(
        {
            "URL": [r[0] for r in rows],
            "TEXT": [r[1] for r in rows],
            "WIDTH": pa.array([512] * len(rows), pa.int32()),
            "HEIGHT": pa.array([384] * len(rows), pa.int32()),
            "similarity": pa.array([0.31] * len(rows), pa.float64()),
            "phash": [r[2] for r in rows],
        }
    )
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def read_parquet(data: bytes) -> pa.Table:
    return pq.read_table(io.BytesIO(data))


def csv_manifest(rows: list[tuple[str, str]]) -> bytes:
    lines = ["url,caption"] + [f"{u},{c}" for u, c in rows]
    return ("\n".join(lines) + "\n").encode()


def webdataset_tar(samples: list[tuple[str, bytes, dict]]) -> bytes:
    """An img2dataset-style shard: {key}.jpg, {key}.txt and {key}.json per sample."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for key, image, meta in samples:
            members = {
                f"{key}.jpg": image,
                f"{key}.txt": meta.get("caption", "").encode(),
                f"{key}.json": json.dumps({"key": key, **meta}).encode(),
            }
            for name, data in members.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mtime = 1_700_000_000
                tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def start_job(
    owner: User,
    data: bytes | None = None,
    *,
    name: str = "laion-part.parquet",
    thresholds: dict[str, int] | None = None,
    keep_unchecked: bool = False,
) -> MatchJob:
    """Upload a manifest through the service and start its job (queued)."""
    manifest: Manifest = manifest_upload(
        owner=owner, files=[upload(name, data or laion_parquet())]
    )
    return match_job_start(
        manifest=manifest,
        owner=owner,
        thresholds=thresholds,
        keep_unchecked=keep_unchecked,
    )


def run_job(job: MatchJob) -> MatchJob:
    """Run the job's tasks in-process, in order, as the workers would."""
    match_job_ingest(job_id=job.pk)
    for chunk_id in Chunk.objects.filter(job=job).values_list("pk", flat=True):
        match_chunk_run(chunk_id=chunk_id)
    match_job_finalize(job_id=job.pk)
    job.refresh_from_db()
    return job


def output_bytes(job: MatchJob, kind: str) -> bytes:
    """The bytes of the job's one output of `kind` (report_csv, filtered, ...)."""
    (output,) = job.outputs.filter(kind=kind)
    with output.file.open("rb") as fh:
        return fh.read()


def report_rows(job: MatchJob) -> list[dict[str, str]]:
    """The job's matches.csv, one dict per line."""
    text = output_bytes(job, "report_csv").decode()
    return list(csv.DictReader(io.StringIO(text)))


def removed_by_report(report: list[dict[str, str]]) -> set[int]:
    """The rows the report says are removed (any of their lines says so)."""
    return {int(r["index"]) for r in report if r["removed"] == "True"}


def wait_for_job(client, url: str, *, timeout: float = 120) -> dict:
    """Poll the job API until the job is final; progress never goes backwards."""
    import time

    deadline = time.monotonic() + timeout
    seen = 0.0
    while True:
        body = client.get(url).json()
        assert 0.0 <= body["progress"] <= 1.0
        assert body["progress"] >= seen
        seen = body["progress"]
        if body["state"] in ("succeeded", "failed", "cancelled"):
            return body
        assert time.monotonic() < deadline, f"job still {body['state']}: {body}"
        time.sleep(0.2)


def checked_through_the_api(client, name: str, data: bytes) -> dict:
    """Upload one manifest file as a curator does and wait for its job; the
    finished job as the API shows it."""
    response = client.post(
        "/api/v1/manifests/", {"files": [upload(name, data)]}, format="multipart"
    )
    assert response.status_code == 201, response.json()
    return wait_for_job(client, response.json()["job"]["url"])


def download(client, url: str) -> bytes:
    response = client.get(url)
    assert response.status_code == 200, response.content[:200]
    return b"".join(response.streaming_content)
