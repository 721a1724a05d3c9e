"""The curators' Celery tasks: ingest a manifest, match a chunk, finalize, sweep.

Thin: each loads by id and calls one service; the services hold the leases and
the conditional updates that make a repeated or duplicated message harmless.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from core import uploads
from core.tasks import legacy_name
from optout import services


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


@shared_task(
    name="optout.match_chunk",
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
