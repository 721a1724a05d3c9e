"""Short leases kept alive while their holder runs, and who holds them.

A worker that takes a piece of work (a chunk, a job's ingest or finalize)
writes a lease that expires after a few seconds and renews it from a thread
while the task runs. A worker killed in any way stops renewing, so its work
is free again within one lease, however long the task would have taken; a
lease that is still being renewed shows its holder is alive. This is what
makes recovery take seconds (docs/RELIABILITY.md): a long, fixed lease made
every killed chunk wait five minutes.

`holder()` names this process (host and pid); `holder_is_dead()` says, for a
holder on this same host, whether its process is gone, so a redelivered
message need not wait for the lease to run out at all.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from types import TracebackType

from django.db import close_old_connections, connection, connections

log = logging.getLogger(__name__)


def holder() -> str:
    """This process, as a lease records it: `host:pid`."""
    return holder_for(os.getpid())


def holder_for(pid: int) -> str:
    """A process of this host, as a lease records it."""
    return f"{socket.gethostname()}:{pid}"[:128]


def holder_is_dead(name: str) -> bool:
    """True only when `name` is a process on this host that no longer runs.

    A holder on another host, or one that cannot be told, is taken to be
    alive: its lease then runs out by time (a wrong "dead" would only cost a
    repeated piece of work, since every write checks the lease's token, but
    there is no need to guess).
    """
    host, _, pid = name.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, owned by another user
        return False
    return False


class Heartbeat:
    """Call `renew()` every `every` seconds on a thread while the block runs.

    `renew` returns False once the lease is no longer ours (another worker
    took it after we stalled); `lost` then says so, and the renewing stops.
    The thread uses its own database connection, closed when it ends.

    Inside a transaction (a test calling a service in-process) no thread is
    started: it could not see the uncommitted lease, and on PostgreSQL it
    would wait on the row's lock until the transaction ends.
    """

    def __init__(self, renew: Callable[[], bool], every: float) -> None:
        self._renew = renew
        self._every = max(0.2, every)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost = False
        self.renewals = 0

    def __enter__(self) -> Heartbeat:
        if not connection.in_atomic_block:
            self._thread = threading.Thread(
                target=self._run, name="lease-heartbeat", daemon=True
            )
            self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        try:
            while not self._stop.wait(self._every):
                try:
                    close_old_connections()
                    if not self._renew():
                        self.lost = True
                        return
                    self.renewals += 1
                except Exception as exc:  # the database away for a moment
                    # Not fatal: the task's own writes check the lease; if the
                    # database stays away the lease runs out, as it should.
                    log.warning("could not renew a lease: %s", exc)
        finally:
            connections.close_all()
