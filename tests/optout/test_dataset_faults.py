"""Indexing a dataset survives a worker killed mid-chunk (issue 16).

Real worker processes (celery -A config worker --beat) on the configured
broker and database, as tests/optout/test_match_job_faults.py drills match
jobs: the killed worker's chunk is leased again once its lease runs out and
the dataset sweep looks, and every row ends in the index exactly once.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.conf import settings
from django.core.files import File

from optout.models import Dataset, DatasetChunk
from optout.selectors import dataset_folder
from optout.services import dataset_add, manifest_upload
from tests.reliability import processes
from tests.reliability.processes import stop, wait_for
from workers.engine import datasetindex

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

ROWS = 100_000
CHUNK_ROWS = 5_000  # 20 chunks of about a quarter of a second each
LEASE = 4
SWEEP = 1
VISIBILITY = 6


def start_worker(tmp_path: Path, name: str):
    return processes.start_worker(
        tmp_path,
        name,
        queues="ingest,match,celery",
        env={
            "DATABASE_URL": processes.shared_database_url(),
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "SEARCH_INDEX_DIR": str(settings.SEARCH_INDEX_DIR),
            "MATCH_CHUNK_ROWS": str(CHUNK_ROWS),
            "MATCH_LEASE_SECONDS": str(LEASE),
            "MATCH_REQUEUE_SECONDS": "4",
            "MATCH_SWEEP_SECONDS": str(SWEEP),
            "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY),
        },
    )


def wait_ready(tmp_path: Path, name: str) -> None:
    log = tmp_path / f"{name}.log"
    wait_for(lambda: b" ready." in log.read_bytes(), 120, f"worker {name} to start")


def test_indexing_survives_a_worker_killed_mid_chunk(tmp_path, admin_user):
    urls = [f"https://h{i % 7}.example/{i}.jpg" for i in range(ROWS)]
    table = pa.table({"URL": urls, "TEXT": [f"photo {i}" for i in range(ROWS)]})
    path = tmp_path / "laion.parquet"
    pq.write_table(table, path, row_group_size=CHUNK_ROWS)
    with path.open("rb") as f:
        manifest = manifest_upload(owner=admin_user, files=[File(f, name=path.name)])

    victim = start_worker(tmp_path, "victim")
    rescuer = None
    try:
        wait_ready(tmp_path, "victim")
        dataset = dataset_add(by=admin_user, manifest_id=manifest.pk, name="Big")
        # Kill the whole worker (main process, pool and beat) while it holds a
        # chunk, after it has committed some.
        wait_for(
            lambda: (
                DatasetChunk.objects.filter(dataset=dataset, state="done").count() >= 2
                and DatasetChunk.objects.filter(
                    dataset=dataset, state="leased"
                ).exists()
            ),
            120,
            "the victim to be indexing",
        )
        stop(victim, signal.SIGKILL)
        # What the victim left: its leased chunk (almost always: it leases
        # the next at once) and the chunks whose messages it had taken.
        left = DatasetChunk.objects.filter(dataset=dataset).exclude(state="done")
        assert left.exists()
        rescuer = start_worker(tmp_path, "rescuer")
        wait_for(
            lambda: Dataset.objects.get(pk=dataset.pk).state in ("ready", "failed"),
            240,
            "the dataset to be indexed after the kill",
        )
        dataset.refresh_from_db()
        assert dataset.state == "ready", dataset.failure_reason
        assert dataset.rows_done == dataset.rows_total == ROWS
        assert (
            DatasetChunk.objects.filter(dataset=dataset).exclude(state="done").count()
            == 0
        )
        # Every row once: seven hosts' counts add up to the rows, and the
        # rows of one host are all distinct and all there.
        index = datasetindex.open_index(dataset_folder(dataset.pk))
        counts = [
            datasetindex.count(index, datasetindex.host_query(index, f"h{h}.example"))
            for h in range(7)
        ]
        assert sum(counts) == ROWS
        page = datasetindex.search(
            index, datasetindex.host_query(index, "h3.example"), limit=ROWS
        )
        assert [hit.row for hit in page.hits] == list(range(3, ROWS, 7))
    finally:
        stop(victim)
        if rescuer is not None:
            stop(rescuer)
