"""Queue Celery work by task name, after the transaction commits.

Services call `enqueue("registry.image_fingerprint", image_id)` instead of
importing the task: a task module imports its app's services, so importing it
back from them would close a cycle. The name resolves to the registered task
(routing, retries and eager mode apply as usual), or is sent as a plain
message when this process has not loaded that task module.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from celery import current_app
from django.db import transaction

log = logging.getLogger(__name__)


# Message priorities (Redis: a lower number is taken first; kombu keeps one
# list per step of 0, 3, 6, 9). Work goes in at NORMAL; work a sweep takes
# back from a dead worker goes in at URGENT, ahead of any backlog, so a killed
# worker's chunk is retried within seconds, not after the queue drains. The
# filesystem broker of the embedded default has no priorities (one machine).
URGENT = 0
NORMAL = 3


def send(name: str, *args: Any, priority: int | None = None) -> None:
    """Send the task now (outside a transaction, or from a task body)."""
    app = current_app
    if name not in app.tasks:
        # Only a worker loads the apps' tasks.py at start; elsewhere (the web
        # server, a management command, the tests) load them on first use, so
        # the name resolves to the task with its routing and eager mode.
        app.loader.import_default_modules()
    app.signature(name, args=args).apply_async(priority=priority)


def enqueue(name: str, *args: Any, priority: int | None = None) -> None:
    """Send the task once the current transaction commits (at once if none).

    The database is the source of truth: a broker that cannot be reached
    then is logged, never raised, so what was committed stays committed (a
    raised error here used to reach an upload's clean-up, which deleted the
    files of rows already saved). The work's sweep queues it once the broker
    is back.
    """
    transaction.on_commit(partial(send_or_log, name, *args, priority=priority))


def send_or_log(name: str, *args: Any, priority: int | None = None) -> bool:
    """`send`, or False and a warning when the broker is unreachable."""
    try:
        send(name, *args, priority=priority)
    except Exception as exc:  # kombu.OperationalError, redis, OSError, ...
        log.warning(
            "could not queue %s%r (%s: %s); its sweep will queue it",
            name,
            args,
            type(exc).__name__,
            exc,
        )
        return False
    return True


def legacy_name(task: Any, old_name: str) -> None:
    """Also register `task` under the name it had before it moved.

    Messages queued by an older release name the task as it was then
    (`workers.tasks.match_chunk`); a worker that knew only the new name would
    drop them as unregistered. The alias runs the same function with the same
    options, so an upgrade with work still queued loses none of it.
    """
    app = task.app
    app.task(
        name=old_name,
        bind=False,
        **{
            key: getattr(task, key)
            for key in (
                "acks_late",
                "autoretry_for",
                "retry_backoff",
                "retry_backoff_max",
                "max_retries",
                "soft_time_limit",
                "time_limit",
            )
            if getattr(task, key, None) is not None
        },
    )(task.run)
