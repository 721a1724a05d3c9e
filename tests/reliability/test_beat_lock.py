"""One beat sends, however many run (core/beat.py).

Two real `celery beat` processes on the test database (a PostgreSQL advisory
lock on PostgreSQL, a file lock beside the SQLite file) and a filesystem
broker of their own in tmp_path, so the messages they send can be counted
without a worker taking them. The match sweep is due every second: one beat
sends about one a second, two unlocked beats would send two. Then the holder
is SIGKILLed and the other takes over.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from tests.reliability.processes import shared_database_url, stop, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

ROOT = Path(settings.BASE_DIR)


def start_beat(tmp_path: Path, name: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": shared_database_url(),
        "CELERY_BROKER_URL": "filesystem://",
        "CELERY_BROKER_DIR": str(tmp_path / "broker"),
        "MATCH_SWEEP_SECONDS": "1",
        "BEAT_LOCK_RETRY_SECONDS": "1",
    }
    log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "beat",
            "--loglevel",
            "INFO",
            "--schedule",
            str(tmp_path / f"{name}-schedule"),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def sweeps_sent(tmp_path: Path) -> int:
    queue = tmp_path / "broker" / "queue"
    return sum(
        b'"optout.match_sweep"' in path.read_bytes() for path in queue.glob("*.msg")
    )


def says(tmp_path: Path, name: str, text: str) -> bool:
    path = tmp_path / f"{name}.log"
    return path.exists() and text.encode() in path.read_bytes()


def test_only_the_beat_holding_the_lock_sends_and_another_takes_over(tmp_path):
    beats = {name: start_beat(tmp_path, name) for name in ("a", "b")}
    try:
        wait_for(
            lambda: (
                any(says(tmp_path, n, "holds the beat lock") for n in beats)
                and any(says(tmp_path, n, "standing by") for n in beats)
            ),
            60,
            "one beat to lead and the other to stand by",
        )
        leader = next(n for n in beats if says(tmp_path, n, "holds the beat lock"))
        standby = next(n for n in beats if n != leader)
        start = sweeps_sent(tmp_path)
        time.sleep(6)
        sent = sweeps_sent(tmp_path) - start
        # One sweep a second from one beat (two beats would send about 12).
        assert 3 <= sent <= 8, sent

        stop(beats[leader], signal.SIGKILL)
        killed_at = time.monotonic()
        wait_for(
            lambda: says(tmp_path, standby, "holds the beat lock"),
            30,
            "the other beat to take over",
        )
        took_over = time.monotonic() - killed_at
        before = sweeps_sent(tmp_path)
        wait_for(
            lambda: sweeps_sent(tmp_path) >= before + 2,
            15,
            "the new holder to send sweeps",
        )
        print(f"the standby beat took over {took_over:.1f} s after the kill")
        assert took_over < 10
    finally:
        for proc in beats.values():
            stop(proc)
