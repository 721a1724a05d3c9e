"""Disputes' Celery tasks: the deadline check (run by beat) and evidence
fingerprinting (on the images queue)."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from core.tasks import legacy_name
from disputes import services


@shared_task(
    name="disputes.dispute_deadlines",
    acks_late=True,
    soft_time_limit=300,
    time_limit=360,
)
def dispute_deadlines() -> dict[str, int]:
    return services.dispute_deadlines_run()


@shared_task(
    name="disputes.evidence_fingerprint",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=60,  # a countdown stays well under the visibility timeout
    max_retries=5,
    soft_time_limit=120,
    time_limit=180,
)
def evidence_fingerprint(evidence_id: int) -> str | None:
    evidence = services.evidence_fingerprint(evidence_id=evidence_id)
    return evidence.status if evidence is not None else None


@shared_task(
    name="disputes.evidence_sweep",
    acks_late=True,
    soft_time_limit=120,
    time_limit=180,
)
def evidence_sweep() -> dict[str, int]:
    return services.evidence_sweep()


@shared_task(
    name="disputes.review_digest",
    acks_late=True,
    soft_time_limit=120,
    time_limit=180,
)
def review_digest() -> int:
    return services.review_digest_send()


legacy_name(dispute_deadlines, "workers.tasks.dispute_deadlines")
