"""Real processes for the drills: Celery workers, a restarted Redis, waiting.

The queues and the environment are arguments: the images worker takes other
queues; the PostgreSQL drill points the worker at another database; the
match job drills (tests/optout/test_match_job_faults.py) shorten the leases.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(settings.BASE_DIR)
IN_CI = bool(os.environ.get("CI"))


def shared_database_url() -> str:
    """The URL of the database this test process uses (the test database)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    port = db["PORT"] or 5432
    return f"postgres://{db['USER']}@{db['HOST']}:{port}/{db['NAME']}"


def broker_env() -> dict[str, str]:
    """What a child process needs to share this session's broker."""
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        from config.celery import app

        opts = app.conf.broker_transport_options
        return {"CELERY_BROKER_DIR": str(Path(opts["data_folder_in"]).parent)}
    return {}


def start_worker(
    tmp_path: Path, name: str, *, queues: str, env: dict[str, str]
) -> subprocess.Popen[bytes]:
    """`celery worker --beat` on `queues`, one prefork child, logging to a file."""
    log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            queues,
            "--pool",
            "prefork",
            "--concurrency",
            "1",
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "INFO",
            "--hostname",
            f"{name}@%h",
            "--beat",
            "--schedule",
            str(tmp_path / f"{name}-beat"),
        ],
        cwd=ROOT,
        env={
            **os.environ,
            **broker_env(),
            # The test's object store, and a segment cache of this "machine".
            "SEGMENT_STORE_URL": settings.SEGMENT_STORE_URL,
            "SEGMENT_CACHE_DIR": str(tmp_path / f"{name}-segment-cache"),
            **env,
        },
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def wait_for(
    predicate: Callable[[], object], timeout: float, what: str, every: float = 0.2
) -> float:
    """Seconds until `predicate()` was true; AssertionError naming `what` if never."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def redis_restart() -> None:
    """Stop Redis without saving and start it again: every queued message is gone.

    The shared server on 6379, started as .ci/run starts it.
    """
    subprocess.run(["redis-cli", "-h", "127.0.0.1", "shutdown", "nosave"], check=False)
    time.sleep(0.5)
    subprocess.run(
        [
            "redis-server",
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "-::1",
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            "/var/lib/redis",
            "--logfile",
            "/var/log/redis/ci.log",
        ],
        check=True,
    )
    for _ in range(50):
        if (
            subprocess.run(["redis-cli", "ping"], capture_output=True).stdout.strip()
            == b"PONG"
        ):
            return
        time.sleep(0.1)
    raise AssertionError("Redis did not come back")
