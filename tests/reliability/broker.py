"""A broker that is down, for real: the project's Celery app pointed at a
Redis address where nothing listens (the real client, its real connection
error), then pointed back."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

from celery import current_app


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _reset_pools(app) -> None:
    # Detach, never close: kombu keeps each URL's pool in a registry of its
    # own and hands the same one back when the URL is used again.
    app._pool = None
    app.amqp._producer_pool = None


@contextmanager
def broker_down() -> Iterator[str]:
    app = current_app
    saved = {
        key: app.conf.get(key)
        for key in (
            "broker_url",
            "broker_write_url",
            "broker_connection_timeout",
            "task_publish_retry_policy",
        )
    }
    url = f"redis://127.0.0.1:{_closed_port()}/0"
    app.conf.broker_url = url
    app.conf.broker_write_url = url
    app.conf.broker_connection_timeout = 1
    app.conf.task_publish_retry_policy = {"max_retries": 0}
    _reset_pools(app)
    try:
        yield url
    finally:
        for key, value in saved.items():
            app.conf[key] = value
        _reset_pools(app)
