"""Two worker "machines" match one job against segments from object storage.

Two real worker processes (celery -A config worker) that share no disk:
each has its own MEDIA_ROOT, work folder, segment cache and media cache, on
a real S3 server (SeaweedFS) that holds the segments and the media. Both
take chunks of the same job, each downloads the same segments and the
manifest once from the store, and the job finds every registered URL
exactly once; its report is in the store too.
"""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.files import File

from optout.models import Chunk, Match, MatchJob
from optout.services import manifest_upload, match_job_start
from registry.models import IndexSegment
from registry.services import claim_create
from tests.reliability import processes
from tests.reliability.processes import stop, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

ROWS = 40_000
CHUNK_ROWS = 2_000
CLAIMED = [7, 2_345, 19_999, 31_000, 39_999]


def test_two_machines_match_one_job_from_segments_in_s3(
    tmp_path, settings, s3_store_url, s3_media, artist, curator
):
    settings.SEGMENT_STORE_URL = s3_store_url
    for i in CLAIMED:
        claim_create(
            owner=artist.rights_holder, kind="url", value=f"https://img.example/{i}.jpg"
        )
    urls = [f"https://img.example/{i}.jpg" for i in range(ROWS)]
    path = tmp_path / "laion.parquet"
    pq.write_table(pa.table({"URL": urls}), path, row_group_size=CHUNK_ROWS)
    manifest = manifest_upload(
        owner=curator, files=[File(open(path, "rb"), name=path.name)]
    )
    env = {
        "DATABASE_URL": processes.shared_database_url(),
        "SEGMENT_STORE_URL": s3_store_url,
        "MEDIA_STORAGE_URL": s3_media,
        "MATCH_CHUNK_ROWS": str(CHUNK_ROWS),
    }
    workers = {
        name: processes.start_worker(
            tmp_path,
            name,
            queues="ingest,match,celery",
            env={
                **env,
                # This machine's own disk: nothing here is shared.
                "MEDIA_ROOT": str(tmp_path / f"{name}-media"),
                "WORK_ROOT": str(tmp_path / f"{name}-work"),
                "MEDIA_CACHE_DIR": str(tmp_path / f"{name}-media-cache"),
            },
        )
        for name in ("one", "two")
    }
    try:
        for name in workers:
            log = tmp_path / f"{name}.log"
            wait_for(lambda log=log: b" ready." in log.read_bytes(), 120, name)
        job = match_job_start(manifest=manifest, owner=curator)
        wait_for(
            lambda: MatchJob.objects.get(pk=job.pk).state in MatchJob.FINAL_STATES,
            240,
            "the job to finish",
        )
    finally:
        for proc in workers.values():
            stop(proc)
    job.refresh_from_db()
    assert job.state == "succeeded", job.failure_reason
    assert sorted(Match.objects.filter(job=job).values_list("row", flat=True)) == (
        CLAIMED
    )
    holders = set(Chunk.objects.filter(job=job).values_list("lease_holder", flat=True))
    assert len(holders) >= 2, holders  # both machines matched chunks

    # Each machine holds the job's segments, downloaded from the S3 store
    # (the catalog's checksums verified), and nothing else wrote segments.
    from core.objectstore import store_from_url

    # The manifest and the outputs are in the bucket, not on any machine's
    # MEDIA_ROOT; each machine read the manifest from its own checked copy.
    media = store_from_url(s3_media).list("")
    part = manifest.parts.get()
    assert part.file.name in media
    assert {o.file.name for o in job.outputs.all()} <= set(media)
    assert job.outputs.filter(kind="report_csv").exists()
    for name in ("one", "two"):
        media_root = tmp_path / f"{name}-media"
        assert not [p for p in media_root.rglob("*") if p.is_file()], name
        copies = [
            p
            for p in (tmp_path / f"{name}-media-cache").iterdir()
            if not p.name.startswith(".")
        ]
        assert [p.read_bytes() for p in copies] == [path.read_bytes()], name

    names = set(IndexSegment.objects.values_list("name", flat=True))
    assert names
    store = store_from_url(s3_store_url)
    for name in ("one", "two"):
        cache = tmp_path / f"{name}-segment-cache"
        held = {p.name for p in cache.iterdir() if not p.name.startswith(".")}
        assert held == names, (name, held)
        for segment in held:
            meta = json.loads((cache / segment / "segment.json").read_text())
            key = f"segments/{meta['registry']}/{segment}/segment.json"
            assert json.loads(store.get_bytes(key)) == meta
