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
