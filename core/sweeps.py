"""Re-queue work whose message was lost, with backoff and an attempt cap.

Each kind of queued work keeps its state in the database: a row waiting for
its task (an image being fingerprinted, an evidence file being processed)
records when it was last queued (`queued_at`) and how many times
(`queue_attempts`). A sweep (Celery beat) re-queues the rows whose last
message is older than `stale_seconds * 2 ** (attempts - 1)`: a slow backlog is
not multiplied, since a row is queued again only once its wait has doubled;
after `max_attempts` the row fails with a reason a person can act on. The
claim of each row is a conditional update on its `queued_at`, so overlapping
sweeps (two beat processes) queue it once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from core.tasks import send_or_log


def sweep_stale(
    waiting: QuerySet[Any],
    *,
    task_name: str,
    stale_seconds: int,
    max_attempts: int,
    fail: Callable[[Any, str], None],
    batch: int = 1000,
) -> dict[str, int]:
    """Re-queue (or fail) the stale rows of `waiting`; returns the counts."""
    now = timezone.now()
    report = {"requeued": 0, "failed": 0, "unqueued": 0}
    oldest = now - timedelta(seconds=stale_seconds)
    candidates = waiting.filter(queued_at__lt=oldest) | waiting.filter(
        queued_at__isnull=True
    )
    for row in candidates.order_by("queued_at", "pk")[:batch]:
        attempts = row.queue_attempts or 0
        due = now - timedelta(seconds=stale_seconds * 2 ** max(attempts - 1, 0))
        if row.queued_at is not None and row.queued_at > due:
            continue  # backing off
        claimed = type(row).objects.filter(pk=row.pk, queued_at=row.queued_at)
        if attempts >= max_attempts:
            if claimed.update(queued_at=now):
                fail(
                    row,
                    f"queued {attempts} times without finishing (the queue or a "
                    "worker lost it each time); upload it again or ask an admin "
                    "to look at the workers",
                )
                report["failed"] += 1
            continue
        if not claimed.update(queued_at=now, queue_attempts=attempts + 1):
            continue  # another sweep took it
        if send_or_log(task_name, row.pk):
            report["requeued"] += 1
        else:
            report["unqueued"] += 1
    return report
