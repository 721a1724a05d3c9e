"""Celery beat that sends only while it holds the registry's one beat lock.

Every worker machine may run beat (`celery worker --beat`, or a `beat`
service per machine) and exactly one of them sends the periodic tasks: the
others wait, and take over within BEAT_LOCK_RETRY_SECONDS once the holder is
gone. The lock lives where the registry's state lives:

- PostgreSQL: a session advisory lock on a connection of beat's own. It is
  scoped to the database, held across machines, and released by the server
  the moment the holder's connection closes (a killed process, a lost
  machine): no expiry to wait for and no clock to trust.
- SQLite (the embedded default, one machine): an exclusive `flock` on a file
  beside the database, released by the kernel when the holder dies.

The sweeps it sends are idempotent anyway (each claims its rows with a
conditional UPDATE), so a moment with two senders costs only repeated
queries; the lock keeps that from being the normal case.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
from pathlib import Path
from typing import Any

from celery.beat import PersistentScheduler
from django.conf import settings
from django.db import connection

log = logging.getLogger(__name__)


def _lock_key(name: str) -> int:
    """A stable signed 64-bit key for pg_try_advisory_lock."""
    digest = hashlib.sha256(f"dnt-registry:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class PostgresLock:
    """A session advisory lock on a connection that only this lock uses."""

    def __init__(self, name: str) -> None:
        self.key = _lock_key(name)
        self._conn: Any = None

    def _connect(self) -> Any:
        import psycopg

        params = connection.get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        params["autocommit"] = True
        params.setdefault("connect_timeout", 5)
        return psycopg.connect(**params)

    def hold(self) -> bool:
        """True while we hold the lock; tries to take it when we do not."""
        try:
            if self._conn is not None:
                # Still ours while this connection lives.
                self._conn.execute("SELECT 1")
                return True
            conn = self._connect()
            got = conn.execute(
                "SELECT pg_try_advisory_lock(%s)", [self.key]
            ).fetchone()[0]
            if got:
                self._conn = conn
                return True
            conn.close()
            return False
        except Exception as exc:  # the database away: hold nothing until back
            log.warning("beat lock: %s", exc)
            self.release()
            return False

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()  # closing the session releases the lock
            except Exception:
                pass
            self._conn = None


class FileLock:
    """An exclusive flock on a file (one machine: the SQLite default)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def hold(self) -> bool:
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the file releases the lock
            self._fd = None


def beat_lock() -> PostgresLock | FileLock:
    """The lock for the configured database."""
    if connection.vendor == "postgresql":
        return PostgresLock("celery-beat")
    name = str(connection.settings_dict["NAME"])
    return FileLock(Path(f"{name}.beat-lock"))


class SingleBeatScheduler(PersistentScheduler):
    """PersistentScheduler that ticks only while it holds the beat lock."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._lock = beat_lock()
        self._leading: bool | None = None
        super().__init__(*args, **kwargs)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        leading = self._lock.hold()
        if leading != self._leading:
            self._leading = leading
            log.info(
                "beat: %s",
                "holds the beat lock; sending periodic tasks"
                if leading
                else "another beat holds the lock; standing by",
            )
        if not leading:
            return float(settings.BEAT_LOCK_RETRY_SECONDS)
        return min(super().tick(*args, **kwargs), self.max_interval)

    def close(self) -> None:
        self._lock.release()
        super().close()
