"""A match job survives a worker killed mid-chunk and a Redis restart.

Real worker processes (celery -A config worker) on the configured broker and
database; the job must finish with every match stored exactly once. The sweep
(Celery beat, embedded in the worker here) re-queues what the broker lost.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.conf import settings
from django.core.files import File
from django.db.models import Count

from optout.models import Chunk, Match, MatchJob
from optout.services import manifest_upload, match_job_start
from registry.models import Claim
from registry.services import registry_revision_bump
from tests.reliability import processes
from tests.reliability.processes import stop, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

ROOT = Path(settings.BASE_DIR)
ROWS = 600_000
CHUNK_ROWS = 30_000  # about half a second of work per chunk on this machine
CLAIM_EVERY = 97


# Short, so the drills take seconds: a lease renewed every second, a sweep
# every second, a killed worker's leftover messages back after 6 s.
LEASE = 4
SWEEP = 1
VISIBILITY = 6


def start_worker(
    tmp_path: Path, name: str, **extra_env: str
) -> subprocess.Popen[bytes]:
    return processes.start_worker(
        tmp_path,
        name,
        queues="ingest,match,celery",
        env={
            "DATABASE_URL": processes.shared_database_url(),
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "MATCH_CHUNK_ROWS": str(CHUNK_ROWS),
            "MATCH_LEASE_SECONDS": str(LEASE),
            "MATCH_REQUEUE_SECONDS": "4",
            "MATCH_SWEEP_SECONDS": str(SWEEP),
            "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY),
            **extra_env,
        },
    )


def wait_ready(tmp_path: Path, name: str) -> None:
    log = tmp_path / f"{name}.log"
    wait_for(lambda: b" ready." in log.read_bytes(), 120, f"worker {name} to start")


@pytest.fixture
def job_setup(request, tmp_path, artist, curator, settings):
    """A Parquet manifest of ROWS rows in row groups (chunks) of `param` rows,
    and URL claims on every CLAIM_EVERY-th row."""
    chunk_rows = getattr(request, "param", CHUNK_ROWS)
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
    registry_revision_bump(reason="test claims", rebuild=True)  # bulk: no signals
    urls = [f"https://img.example/{i}.jpg" for i in range(ROWS)]
    table = pa.table({"URL": urls, "TEXT": [f"photo {i}" for i in range(ROWS)]})
    path = tmp_path / "laion.parquet"
    pq.write_table(table, path, row_group_size=chunk_rows)
    manifest = manifest_upload(
        owner=curator, files=[File(open(path, "rb"), name=path.name)]
    )
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


def recovered_in(killed: list[tuple[Chunk, float]], timeout: float) -> list[float]:
    """Seconds from each kill until another process leased its chunk (or it
    was done), watched together."""
    found: dict[int, float] = {}
    deadline = time.monotonic() + timeout
    while len(found) < len(killed):
        for chunk, killed_at in killed:
            if chunk.pk in found:
                continue
            now = Chunk.objects.get(pk=chunk.pk)
            if now.state == "done" or (
                now.attempts > chunk.attempts and now.lease_holder != chunk.lease_holder
            ):
                found[chunk.pk] = time.monotonic() - killed_at
        if time.monotonic() > deadline:
            raise AssertionError(f"killed chunks not taken again: {killed} {found}")
        time.sleep(0.05)
    return [found[chunk.pk] for chunk, _ in killed]


def unacked_messages() -> int | None:
    """Messages Redis holds for workers that took them and have not acked."""
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        return None
    import redis

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    return client.hlen("unacked")


SMALL_CHUNKS = 10_000  # 60 chunks: long enough to kill a worker twice


@pytest.mark.parametrize("job_setup", [SMALL_CHUNKS], indirect=True)
def test_a_job_survives_a_whole_worker_killed_twice(tmp_path, job_setup, curator):
    """Three workers; two of them are SIGKILLed whole (main process and pool)
    mid-chunk, one after the other. Each one's chunk is leased again once its
    lease runs out and the sweep looks (LEASE + SWEEP), ahead of the backlog,
    not after a fixed five minutes; nothing is lost or doubled; the killed
    workers' messages come back after the visibility timeout and are dropped,
    leaving nothing unacknowledged."""
    manifest, expected = job_setup
    small = {"MATCH_CHUNK_ROWS": str(SMALL_CHUNKS)}
    steady = start_worker(tmp_path, "steady", **small)
    victims = [start_worker(tmp_path, f"victim{i}", **small) for i in range(2)]
    recoveries = []
    try:
        for name in ("steady", "victim0", "victim1"):
            wait_ready(tmp_path, name)
        job = match_job_start(manifest=manifest, owner=curator)
        killed = []
        for victim in victims:
            chunk = wait_for_chunk_held_by(job, victim)
            stop(victim, signal.SIGKILL)
            killed.append((chunk, time.monotonic()))
        recoveries = recovered_in(killed, LEASE + SWEEP + 30)
        wait_for(
            lambda: MatchJob.objects.get(pk=job.pk).state in MatchJob.FINAL_STATES,
            240,
            "the job to finish after the kills",
        )
        print(f"recovered after a whole-worker kill in {recoveries} s")
        if settings.CELERY_BROKER_URL.startswith("redis"):
            # The lease runs out after LEASE s, the sweep looks every SWEEP s
            # and queues the chunk ahead of the others: the worst case, plus
            # the time a busy 2-core machine takes to answer. (The embedded
            # filesystem broker has no priorities: there the chunk waits for
            # the chunks queued before it.)
            assert max(recoveries) <= LEASE + SWEEP + 5, recoveries
        assert_every_match_once(job, expected)
        if unacked_messages() is not None:
            wait_for(
                lambda: unacked_messages() == 0,
                VISIBILITY + 15,
                "the killed workers' messages to come back and be dropped",
            )
    finally:
        for proc in [steady, *victims]:
            stop(proc)


def children_of(worker: subprocess.Popen[bytes]) -> set[str]:
    """Pids (as text) of the worker's child processes: its pool, its beat."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == str(worker.pid):
            found.add(stat.parent.name)
    return found


def wait_for_chunk_held_by(job: MatchJob, worker: subprocess.Popen[bytes]) -> Chunk:
    """The first chunk of `job` that one of `worker`'s processes leases."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        pids = children_of(worker)
        for chunk in Chunk.objects.filter(job=job, state="leased"):
            if chunk.lease_holder.rpartition(":")[2] in pids:
                return chunk
        time.sleep(0.01)
    raise AssertionError("timed out waiting for the worker to hold a chunk")


def test_a_killed_pool_process_is_replaced_and_its_chunk_retaken_at_once(
    tmp_path, job_setup, curator
):
    """The pool process running a chunk is SIGKILLed (as the kernel's OOM
    killer does). The worker's main process frees the chunk that process held
    and queues it ahead of the backlog (optout.tasks.ChunkRequest); the
    replacement process takes it without waiting for the lease (30 s here)
    to run out. The message Celery rejects back to the queue
    (task_reject_on_worker_lost) finds the chunk done and is dropped."""
    manifest, expected = job_setup
    worker = start_worker(tmp_path, "worker", MATCH_LEASE_SECONDS="30")
    try:
        wait_ready(tmp_path, "worker")
        job = match_job_start(manifest=manifest, owner=curator)
        killed, recoveries = [], []
        for _ in range(2):
            chunk = wait_for_chunk_held_by(job, worker)
            os.kill(int(chunk.lease_holder.rpartition(":")[2]), signal.SIGKILL)
            killed.append((chunk, time.monotonic()))
            [recovery] = recovered_in(killed[-1:], 60)
            recoveries.append(recovery)
        wait_for(
            lambda: MatchJob.objects.get(pk=job.pk).state in MatchJob.FINAL_STATES,
            240,
            "the job to finish after the kills",
        )
        print(f"recovered after a pool process was killed in {recoveries} s")
        if settings.CELERY_BROKER_URL.startswith("redis"):
            # The worker's main process freed it and queued it ahead of the
            # others the moment its pool process died; the time is the pool
            # starting a replacement process (0.3-4 s here), not the lease.
            assert max(recoveries) < 10, recoveries
        else:
            # No priorities on the filesystem broker: it waits its turn, and
            # is still taken before the 30 s lease runs out.
            assert max(recoveries) < 25, recoveries
        assert_every_match_once(job, expected)
        if unacked_messages() is not None:
            # Only a sweep the live worker is running, for a moment: nothing
            # of the killed processes stays unacknowledged.
            wait_for(lambda: unacked_messages() == 0, 10, "no unacked messages")
    finally:
        stop(worker)


@pytest.mark.serial
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
        # Every queued message is gone: Redis keeps nothing here.
        processes.redis_restart()
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


@pytest.mark.django_db
def test_a_chunk_this_process_could_not_give_back_is_taken_at_once(
    curator, registry, settings
):
    """The database went away mid-chunk: the attempt could not put its chunk
    back, so the chunk stays leased by this very process. Its retry takes it
    over at once instead of waiting for the lease (60 s here) to run out."""
    from optout.services import jobs, match_chunk_run, match_job_ingest

    from .helpers import start_job

    settings.MATCH_LEASE_SECONDS = 60
    job = start_job(curator)
    match_job_ingest(job_id=job.pk)
    chunk = Chunk.objects.filter(job=job).first()
    assert jobs._lease(chunk.pk) is not None  # the cut-off attempt's lease
    started = time.monotonic()
    assert match_chunk_run(chunk_id=chunk.pk) == "done"
    assert time.monotonic() - started < 10
    chunk.refresh_from_db()
    assert (chunk.state, chunk.attempts) == ("done", 2)
