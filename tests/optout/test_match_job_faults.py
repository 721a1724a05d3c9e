"""A match job survives a worker killed mid-chunk and a Redis restart.

Real worker processes (celery -A config worker) on the configured broker and
database; the job must finish with every match stored exactly once. The sweep
(Celery beat, embedded in the worker here) re-queues what the broker lost.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Count

from optout.models import Chunk, Match, MatchJob
from optout.services import manifest_upload, match_job_start
from registry.models import Claim
from registry.services import registry_revision_bump

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

ROOT = Path(settings.BASE_DIR)
ROWS = 600_000
CHUNK_ROWS = 30_000  # about half a second of work per chunk on this machine
CLAIM_EVERY = 97


def database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    port = db["PORT"] or 5432
    return f"postgres://{db['USER']}@{db['HOST']}:{port}/{db['NAME']}"


def start_worker(tmp_path: Path, name: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "SNAPSHOT_ROOT": str(tmp_path / "snapshots"),
        "MATCH_CHUNK_ROWS": str(CHUNK_ROWS),
        "MATCH_LEASE_SECONDS": "4",
        "MATCH_REQUEUE_SECONDS": "4",
        "MATCH_SWEEP_SECONDS": "1",
    }
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        from config.celery import app

        opts = app.conf.broker_transport_options
        env["CELERY_BROKER_DIR"] = str(Path(opts["data_folder_in"]).parent)
    log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            "ingest,match,celery",
            "--pool",
            "prefork",
            "--concurrency",
            "1",
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "INFO",
            "--hostname",
            f"{name}@%h",
            "--beat",
            "--schedule",
            str(tmp_path / f"{name}-beat"),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def wait_for(predicate, timeout: float, what: str, every: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


class Upload:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = path.name
        self.size = path.stat().st_size
        self._fh = open(path, "rb")  # noqa: SIM115

    def chunks(self, chunk_size: int | None = None):
        self._fh.seek(0)
        while block := self._fh.read(1 << 20):
            yield block

    def seek(self, offset: int) -> None:
        self._fh.seek(offset)

    def read(self, n: int = -1) -> bytes:
        return self._fh.read(n)


@pytest.fixture
def job_setup(tmp_path, artist, curator, settings):
    settings.SNAPSHOT_ROOT = tmp_path / "snapshots"
    holder = artist.rights_holder
    Claim.objects.bulk_create(
        Claim(
            owner=holder,
            kind="url",
            value=f"https://img.example/{i}.jpg",
            normalized=f"https://img.example/{i}.jpg",
            state="active",
        )
        for i in range(0, ROWS, CLAIM_EVERY)
    )
    registry_revision_bump(reason="test claims")
    urls = [f"https://img.example/{i}.jpg" for i in range(ROWS)]
    table = pa.table({"URL": urls, "TEXT": [f"photo {i}" for i in range(ROWS)]})
    path = tmp_path / "laion.parquet"
    pq.write_table(table, path, row_group_size=CHUNK_ROWS)
    manifest = manifest_upload(owner=curator, files=[Upload(path)])
    return manifest, len(range(0, ROWS, CLAIM_EVERY))


def assert_every_match_once(job: MatchJob, expected: int) -> None:
    job.refresh_from_db()
    assert job.state == "succeeded", (job.state, job.failure_reason)
    assert job.rows_done == ROWS
    doubled = (
        Match.objects.filter(job=job)
        .values("row", "kind", "claim_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    assert not doubled.exists()
    assert Match.objects.filter(job=job).count() == expected
    assert job.counts == {"url": expected}


def test_a_job_survives_a_worker_killed_mid_chunk(tmp_path, job_setup, curator):
    manifest, expected = job_setup
    first = start_worker(tmp_path, "first")
    second = None
    try:
        job = match_job_start(manifest=manifest, owner=curator)
        wait_for(
            lambda: (
                Chunk.objects.filter(job=job, state="done").count() >= 2
                and Chunk.objects.filter(job=job, state="leased").exists()
            ),
            120,
            "the first worker to be mid-job",
            every=0.01,
        )
        stop(first, signal.SIGKILL)  # the whole worker: main process and child
        killed_at = Chunk.objects.filter(job=job, state="done").count()
        assert killed_at < job.chunks_total if job.chunks_total else True
        second = start_worker(tmp_path, "second")
        wait_for(
            lambda: MatchJob.objects.get(pk=job.pk).state in MatchJob.FINAL_STATES,
            240,
            "the job to finish after the kill",
        )
        assert Chunk.objects.filter(job=job, attempts__gt=1).exists()
        assert_every_match_once(job, expected)
    finally:
        stop(first)
        if second:
            stop(second)


def restart_redis() -> None:
    subprocess.run(["redis-cli", "-h", "127.0.0.1", "shutdown", "nosave"], check=False)
    time.sleep(0.5)
    subprocess.run(
        [
            "redis-server",
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "-::1",
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            "/var/lib/redis",
            "--logfile",
            "/var/log/redis/ci.log",
        ],
        check=True,
    )
    for _ in range(50):
        if (
            subprocess.run(["redis-cli", "ping"], capture_output=True).stdout.strip()
            == b"PONG"
        ):
            return
        time.sleep(0.1)
    raise AssertionError("Redis did not come back")


@pytest.mark.skipif(
    not settings.CELERY_BROKER_URL.startswith("redis")
    and "redis" not in os.environ.get("REQUIRE_SERVICES", ""),
    reason="needs the Redis broker (CI runs it)",
)
def test_a_job_survives_a_redis_restart(tmp_path, job_setup, curator):
    manifest, expected = job_setup
    worker = start_worker(tmp_path, "worker")
    try:
        job = match_job_start(manifest=manifest, owner=curator)
        wait_for(
            lambda: Chunk.objects.filter(job=job, state="done").count() >= 2,
            120,
            "the job to be under way",
        )
        restart_redis()  # every queued message is gone: Redis keeps nothing here
        wait_for(
            lambda: MatchJob.objects.get(pk=job.pk).state in MatchJob.FINAL_STATES,
            240,
            "the job to finish after the restart",
        )
        assert_every_match_once(job, expected)
    finally:
        stop(worker)


@pytest.mark.django_db
def test_a_finalize_that_keeps_failing_fails_the_job_with_its_reason(
    curator, registry, settings, tmp_path
):
    from optout.models import Chunk
    from optout.services import match_chunk_run, match_job_finalize, match_job_ingest

    from .helpers import start_job

    job = start_job(curator)
    match_job_ingest(job_id=job.pk)
    for chunk_id in Chunk.objects.filter(job=job).values_list("pk", flat=True):
        match_chunk_run(chunk_id=chunk_id)
    # A real fault: the work folder is a file, so no output can be written.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    settings.WORK_ROOT = blocker
    settings.MATCH_LEASE_SECONDS = 0  # each retry finds the last one stale
    settings.MATCH_MAX_ATTEMPTS = 2

    for _ in range(2):
        with pytest.raises(OSError):
            match_job_finalize(job_id=job.pk)
    match_job_finalize(job_id=job.pk)

    job.refresh_from_db()
    assert job.state == "failed"
    assert job.failure_reason.startswith(
        "writing the outputs failed 2 times; the last error: NotADirectoryError: "
    )
