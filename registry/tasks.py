"""The registry's Celery tasks: thin. Each loads by id, calls one service."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from core.tasks import legacy_name
from registry import services


@shared_task(
    name="registry.image_fingerprint",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=60,  # a countdown stays well under the visibility timeout
    max_retries=5,
    soft_time_limit=120,
    time_limit=180,
)
def image_fingerprint(image_id: int, force: bool = False) -> str | None:
    image = services.image_fingerprint(image_id=image_id, force=force)
    return image.status if image is not None else None


@shared_task(
    name="registry.claim_domain_check",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=60,  # a countdown stays well under the visibility timeout
    max_retries=3,
    # Two requests (file, home page), each with at most 4 hops and its own
    # connect + read deadline: well under a minute with the default timeouts.
    soft_time_limit=150,
    time_limit=180,
)
def claim_domain_check(claim_id: int, scheduled: bool = False) -> str | None:
    claim = services.claim_domain_check(claim_id=claim_id, scheduled=scheduled)
    return claim.state if claim is not None else None


@shared_task(
    name="registry.domain_proof_sweep",
    acks_late=True,
    soft_time_limit=100,
    time_limit=120,
)
def domain_proof_sweep() -> int:
    return services.domain_proof_sweep()


@shared_task(
    name="registry.withdrawn_files_sweep",
    acks_late=True,
    soft_time_limit=500,
    time_limit=540,
)
def withdrawn_files_sweep() -> int:
    return services.withdrawn_files_sweep()


@shared_task(
    name="registry.images_sweep",
    acks_late=True,
    soft_time_limit=120,
    time_limit=180,
)
def images_sweep() -> dict[str, int]:
    return services.images_sweep()


legacy_name(image_fingerprint, "workers.tasks.image_fingerprint")
legacy_name(claim_domain_check, "workers.tasks.claim_domain_check")
legacy_name(domain_proof_sweep, "workers.tasks.domain_proof_sweep")
