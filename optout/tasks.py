"""The curators' Celery tasks: ingest a manifest, match a chunk, finalize, sweep.

Thin: each loads by id and calls one service; the services hold the leases and
the conditional updates that make a repeated or duplicated message harmless.
"""

from __future__ import annotations

import logging
from typing import Any

from billiard.exceptions import WorkerLostError
from celery import shared_task
from celery.worker.request import Request
from django.conf import settings
from django.db import OperationalError, close_old_connections

from core import leases, uploads
from core.tasks import legacy_name
from optout import services

log = logging.getLogger(__name__)


@shared_task(
    name="optout.match_job_ingest",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=60,  # a countdown stays well under the visibility timeout
    max_retries=5,
)
def match_job_ingest(job_id: int) -> None:
    services.match_job_ingest(job_id=job_id)


class ChunkRequest(Request):
    """A match_chunk message as the worker's main process handles it.

    When the pool process running the chunk dies (SIGKILL, the OOM killer),
    the main process learns it at once: it frees the chunk that process held
    and queues it ahead of the queue, instead of leaving it until its lease
    runs out. Celery then rejects the message back to the queue as usual
    (task_reject_on_worker_lost); that copy finds the chunk done and is dropped.
    """

    def on_failure(
        self, exc_info: Any, send_failed_event: bool = True, return_ok: bool = False
    ) -> Any:
        exc = getattr(exc_info.exception, "exc", exc_info.exception)
        killed = isinstance(exc, WorkerLostError) or (
            isinstance(exc, SystemExit | KeyboardInterrupt)
            and not (self._already_cancelled or self._already_revoked)
        )
        if killed and self.worker_pid and self.args:
            try:
                services.match_chunk_worker_lost(
                    chunk_id=int(self.args[0]),
                    holder=leases.holder_for(self.worker_pid),
                )
            except Exception:  # the database away: the lease runs out instead
                log.exception("could not free the chunk of a lost pool process")
            finally:
                close_old_connections()
        return super().on_failure(exc_info, send_failed_event, return_ok)


@shared_task(
    name="optout.match_chunk",
    Request=ChunkRequest,
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=60,  # a countdown stays well under the visibility timeout
    max_retries=5,
)
def match_chunk(chunk_id: int) -> str:
    return services.match_chunk_run(chunk_id=chunk_id)


@shared_task(
    name="optout.match_job_finalize",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=60,  # a countdown stays well under the visibility timeout
    max_retries=5,
)
def match_job_finalize(job_id: int) -> None:
    services.match_job_finalize(job_id=job_id)


@shared_task(
    name="optout.match_sweep",
    acks_late=True,
    soft_time_limit=100,
    time_limit=120,
)
def match_sweep() -> dict[str, int]:
    return services.match_sweep()


@shared_task(
    name="optout.upload_temp_sweep",
    acks_late=True,
    soft_time_limit=100,
    time_limit=120,
)
def upload_temp_sweep() -> int:
    return uploads.upload_temp_sweep(
        folder=settings.FILE_UPLOAD_TEMP_DIR,
        max_age_seconds=settings.UPLOAD_TEMP_MAX_AGE_SECONDS,
    )


legacy_name(match_job_ingest, "workers.tasks.match_job_ingest")
legacy_name(match_chunk, "workers.tasks.match_chunk")
legacy_name(match_job_finalize, "workers.tasks.match_job_finalize")
legacy_name(match_sweep, "workers.tasks.match_sweep")


@shared_task(
    name="optout.segments_maintain",
    acks_late=True,
    # A base of a large registry takes minutes to merge; beat sends the next
    # one only after SEGMENT_MAINTAIN_SECONDS, and publishers lock each other.
    soft_time_limit=3000,
    time_limit=3600,
)
def segments_maintain() -> dict:
    from optout.segments import segments_maintain as maintain

    return maintain()


@shared_task(
    name="optout.dataset_ingest",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=5,
)
def dataset_ingest(dataset_id: int) -> None:
    services.dataset_ingest(dataset_id=dataset_id)


@shared_task(
    name="optout.dataset_chunk",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=5,
)
def dataset_chunk(chunk_id: int) -> str:
    return services.dataset_chunk_run(chunk_id=chunk_id)


@shared_task(
    name="optout.dataset_images",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=5,
    # An IVF-PQ build over tens of millions of vectors takes many minutes.
    soft_time_limit=6 * 3600,
    time_limit=6 * 3600 + 300,
)
def dataset_images(dataset_id: int) -> str:
    return services.dataset_images(dataset_id=dataset_id)


@shared_task(
    name="optout.dataset_sweep",
    acks_late=True,
    soft_time_limit=100,
    time_limit=120,
)
def dataset_sweep() -> dict[str, int]:
    return services.dataset_sweep()
