"""Disputes' Celery task: the deadline check, run by beat."""

from __future__ import annotations

from celery import shared_task

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


legacy_name(dispute_deadlines, "workers.tasks.dispute_deadlines")
