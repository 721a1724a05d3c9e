"""Drill: a worker killed while it held the broker's restore lock.

Kombu's Redis transport gives a vanished worker's unacknowledged messages
back once their visibility timeout has passed. Every worker looks every few
seconds, under a lock in Redis; a worker SIGKILLed while it held that lock
leaves it to expire by itself, which with kombu's default took five minutes,
and until then no one gave any message back (the drill of a whole worker
killed twice waited for exactly that, now and then). The lock now expires
after the visibility timeout (config/broker.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

import pytest
from django.conf import settings
from kombu import Connection

from config.broker import KOMBU_MUTEX_EXPIRE, redis_transport_options

pytestmark = pytest.mark.skipif(
    not settings.CELERY_BROKER_URL.startswith("redis")
    and "redis" not in os.environ.get("REQUIRE_SERVICES", ""),
    reason="needs the Redis broker (CI runs it)",
)

VISIBILITY = 3

KILLED_HOLDING_THE_LOCK = """
import json, os, signal, sys
from kombu import Connection
url, queue, options = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
with Connection(url, transport_options=options) as connection:
    message = connection.SimpleQueue(queue).get(timeout=10)  # taken, not acked
    # Killed in the middle of a look for messages to give back: the lock is
    # taken as kombu takes it, and never released.
    lock = connection.default_channel.client.lock(
        "unacked_mutex", timeout=options["unacked_mutex_expire"]
    )
    assert lock.acquire(blocking=False)
    print(message.payload, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_message_comes_back_although_its_worker_died_holding_the_restore_lock():
    options = redis_transport_options(VISIBILITY)
    assert options["unacked_mutex_expire"] < KOMBU_MUTEX_EXPIRE
    queue = f"drill-restore-{uuid.uuid4().hex}"
    with Connection(settings.CELERY_BROKER_URL, transport_options=options) as conn:
        inbox = conn.SimpleQueue(queue)
        try:
            inbox.put({"chunk": 7})
            killed = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    KILLED_HOLDING_THE_LOCK,
                    settings.CELERY_BROKER_URL,
                    queue,
                    json.dumps(options),
                ],
                capture_output=True,
                timeout=60,
            )
            assert killed.returncode == -9, killed.stderr.decode()
            assert b"'chunk': 7" in killed.stdout
            died = time.monotonic()

            # A surviving consumer looks on every empty poll; the message
            # comes back once its timeout has passed and the dead worker's
            # lock has expired, not after kombu's five minutes.
            bound = VISIBILITY + options["unacked_mutex_expire"] + 10
            payload = None
            while payload is None and time.monotonic() - died < bound:
                try:
                    message = inbox.get(timeout=1)
                except inbox.Empty:
                    continue
                payload = message.payload
                message.ack()
            assert payload == {"chunk": 7}, f"not back within {bound} s"
        finally:
            inbox.clear()
            inbox.close()
