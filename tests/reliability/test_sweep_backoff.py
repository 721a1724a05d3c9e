"""The match sweep queues a pending chunk again only once its wait has
doubled since the last time, so a slow backlog is not multiplied; a chunk
whose worker died goes back at once. (Run with the broker down: the sweep's
bookkeeping is what is checked, and no stray message is left for later tests.)
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from optout.models import Chunk, MatchJob
from optout.services import match_sweep
from tests.optout.helpers import start_job
from tests.reliability.broker import broker_down

pytestmark = pytest.mark.django_db


def running_job_with_chunks(curator, n: int) -> MatchJob:
    job = start_job(curator)
    MatchJob.objects.filter(pk=job.pk).update(
        state=MatchJob.State.RUNNING, chunks_total=n
    )
    Chunk.objects.bulk_create(
        Chunk(job=job, index=i, spec={}, rows=1, queued_at=timezone.now())
        for i in range(n)
    )
    return job


def age_chunks(seconds: int) -> None:
    Chunk.objects.update(queued_at=timezone.now() - timedelta(seconds=seconds))


def test_a_backlog_is_queued_again_with_a_doubling_wait(curator, settings):
    settings.MATCH_REQUEUE_SECONDS = 120
    running_job_with_chunks(curator, 200)
    with broker_down():
        age_chunks(121)
        assert match_sweep()["chunks"] == 200
        # Just queued again: the next sweeps leave them alone...
        assert match_sweep().get("chunks", 0) == 0
        age_chunks(200)
        assert match_sweep().get("chunks", 0) == 0  # now 240 s are needed
        age_chunks(241)
        assert match_sweep()["chunks"] == 200
    assert set(Chunk.objects.values_list("requeues", flat=True)) == {2}


def test_a_dead_workers_chunk_goes_back_at_once(curator, settings):
    job = running_job_with_chunks(curator, 1)
    Chunk.objects.update(
        state=Chunk.State.LEASED,
        requeues=3,
        lease_token="x",
        lease_expires=timezone.now() - timedelta(seconds=1),
    )
    with broker_down():
        assert match_sweep()["chunks"] == 1
    chunk = Chunk.objects.get(job=job)
    assert (chunk.state, chunk.requeues) == (Chunk.State.PENDING, 0)


def test_a_queued_job_is_not_queued_again_every_sweep(curator, settings):
    settings.MATCH_REQUEUE_SECONDS = 120
    job = start_job(curator)
    MatchJob.objects.filter(pk=job.pk).update(
        created=timezone.now() - timedelta(seconds=121)
    )
    with broker_down():
        assert match_sweep()["ingest"] == 1
        assert match_sweep().get("ingest", 0) == 0
    job.refresh_from_db()
    assert job.ingest_requeues == 1
