"""Celery tasks: thin. Each loads by id, calls one service, returns little."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError


@shared_task(
    name="workers.tasks.image_fingerprint",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=120,
    time_limit=180,
)
def image_fingerprint(image_id: int, force: bool = False) -> str | None:
    from registry.services import image_fingerprint as fingerprint

    image = fingerprint(image_id=image_id, force=force)
    return image.status if image is not None else None


@shared_task(
    name="workers.tasks.match_job_ingest",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def match_job_ingest(job_id: int) -> None:
    from optout.services import match_job_ingest as ingest

    ingest(job_id=job_id)


@shared_task(
    name="workers.tasks.match_chunk",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def match_chunk(chunk_id: int) -> str:
    from optout.services import match_chunk_run

    return match_chunk_run(chunk_id=chunk_id)


@shared_task(
    name="workers.tasks.match_job_finalize",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def match_job_finalize(job_id: int) -> None:
    from optout.services import match_job_finalize as finalize

    finalize(job_id=job_id)


@shared_task(
    name="workers.tasks.match_sweep",
    acks_late=True,
    soft_time_limit=100,
    time_limit=120,
)
def match_sweep() -> dict[str, int]:
    from optout.services import match_sweep as sweep

    return sweep()


@shared_task(
    name="workers.tasks.dispute_deadlines",
    acks_late=True,
    soft_time_limit=300,
    time_limit=360,
)
def dispute_deadlines() -> dict[str, int]:
    from registry.disputes import dispute_deadlines_run

    return dispute_deadlines_run()


@shared_task(
    name="workers.tasks.claim_domain_check",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
    # Two requests (file, home page), each with at most 4 hops and its own
    # connect + read deadline: well under a minute with the default timeouts.
    soft_time_limit=150,
    time_limit=180,
)
def claim_domain_check(claim_id: int, scheduled: bool = False) -> str | None:
    from registry.services_trust import claim_domain_check as check

    claim = check(claim_id=claim_id, scheduled=scheduled)
    return claim.state if claim is not None else None


@shared_task(
    name="workers.tasks.domain_proof_sweep",
    acks_late=True,
    soft_time_limit=100,
    time_limit=120,
)
def domain_proof_sweep() -> int:
    from registry.services_trust import domain_proof_sweep as sweep

    return sweep()
