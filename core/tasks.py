"""Queue Celery work by task name, after the transaction commits.

Services call `enqueue("registry.image_fingerprint", image_id)` instead of
importing the task: a task module imports its app's services, so importing it
back from them would close a cycle. The name resolves to the registered task
(routing, retries and eager mode apply as usual), or is sent as a plain
message when this process has not loaded that task module.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from celery import current_app
from django.db import transaction


def send(name: str, *args: Any) -> None:
    """Send the task now (outside a transaction, or from a task body)."""
    app = current_app
    if name not in app.tasks:
        # Only a worker loads the apps' tasks.py at start; elsewhere (the web
        # server, a management command, the tests) load them on first use, so
        # the name resolves to the task with its routing and eager mode.
        app.loader.import_default_modules()
    app.signature(name, args=args).apply_async()


def enqueue(name: str, *args: Any) -> None:
    """Send the task once the current transaction commits (at once if none)."""
    transaction.on_commit(partial(send, name, *args))


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
                "max_retries",
                "soft_time_limit",
                "time_limit",
            )
            if getattr(task, key, None) is not None
        },
    )(task.run)
