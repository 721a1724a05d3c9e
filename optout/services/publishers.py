"""Publishers' signals for a job's hosts: read from the cache, or fetched.

Each host's answer (workers/engine/websignals.HostSignals) is kept in
PublisherSignals for SIGNAL_WEB_CACHE_SECONDS. A worker that needs hosts the
cache lacks claims their rows first (one UPDATE), fetches what it claimed
with SIGNAL_WEB_CONCURRENCY threads under a process-wide rate limit
(SIGNAL_WEB_RATE requests a second), and waits for the hosts another worker
is fetching; a claim runs out after a fetch's worst time, so a killed
worker's hosts are fetched again by the next one to ask. Every host thus
gets one connection at a time, and at most one fetch a day.

Memory: one batch's hosts at a time (their rules, a few kilobytes each).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from optout.models import PublisherSignals
from workers.engine import webproof
from workers.engine.websignals import WEB_PROTOCOLS, HostSignals, check_host

WAIT_STEP = 0.2  # seconds between looks at hosts another worker is fetching


def publisher_config() -> webproof.ProofConfig:
    """The fetcher's settings: the domain check's limits, our own User-Agent
    (tests replace this to reach a local server)."""
    return webproof.ProofConfig(
        scheme=settings.DOMAIN_PROOF_SCHEME,
        connect_timeout=settings.DOMAIN_PROOF_CONNECT_TIMEOUT,
        read_timeout=settings.DOMAIN_PROOF_READ_TIMEOUT,
        allow_private=settings.DOMAIN_PROOF_ALLOW_PRIVATE,
        user_agent=f"{webproof.SLUG}-signals/1 (+{settings.SITE_URL.rstrip('/')}/)",
    )


class _Rate:
    """At most `per_second` starts a second across this process's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next = 0.0

    def wait(self, per_second: float) -> None:
        if per_second <= 0:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + 1.0 / per_second
        if start > now:
            time.sleep(start - now)


_rate = _Rate()


def _claim_seconds(config: webproof.ProofConfig) -> float:
    """A host's worst fetch: robots.txt (https then http), licences, tdmrep."""
    per_request = config.connect_timeout + config.read_timeout
    return per_request * 8 + 10


def host_signals(
    hosts: Iterable[str],
    protocols: Iterable[str],
    *,
    alive: Callable[[], bool] = lambda: True,
) -> dict[str, HostSignals]:
    """What each host says, fresh within the cache's age, for `protocols`
    (the web ones among them). `alive` is asked while waiting for other
    workers' fetches: False stops the wait (the caller lost its lease)."""
    wanted = sorted({h for h in hosts if h})
    chosen = [p for p in WEB_PROTOCOLS if p in set(protocols)]
    out: dict[str, HostSignals] = {}
    if not wanted or not chosen:
        return out
    config = publisher_config()
    max_age = timedelta(seconds=settings.SIGNAL_WEB_CACHE_SECONDS)
    PublisherSignals.objects.bulk_create(
        [PublisherSignals(host=h) for h in wanted], ignore_conflicts=True
    )
    pending = set(wanted)
    while pending:
        now = timezone.now()
        for host, signals in PublisherSignals.objects.filter(
            host__in=pending, fetched_at__gte=now - max_age
        ).values_list("host", "signals"):
            said = HostSignals.from_dict(signals)
            if set(chosen) <= set(said.protocols):
                out[host] = said
                pending.discard(host)
        if not pending:
            break
        token = uuid.uuid4().hex
        PublisherSignals.objects.filter(host__in=pending).filter(
            Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
        ).update(
            claimed_until=now + timedelta(seconds=_claim_seconds(config)), claim=token
        )
        mine = list(
            PublisherSignals.objects.filter(host__in=pending, claim=token).values_list(
                "host", flat=True
            )
        )
        if mine:
            for said in _fetch(mine, chosen, config):
                out[said.host] = said
                pending.discard(said.host)
        elif not alive():
            raise RuntimeError("lost the lease while waiting for hosts")
        else:
            time.sleep(WAIT_STEP)  # another worker is fetching them
    return out


def _fetch(
    hosts: list[str], protocols: list[str], config: webproof.ProofConfig
) -> Iterator[HostSignals]:
    """Fetch the hosts in threads (network only: the database is written
    here, in the caller's thread, as each host is done)."""

    def one(host: str) -> HostSignals:
        _rate.wait(settings.SIGNAL_WEB_RATE)
        return check_host(host, config, protocols, timezone.now().isoformat())

    workers = max(1, min(settings.SIGNAL_WEB_CONCURRENCY, len(hosts)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for said in pool.map(one, hosts):
            PublisherSignals.objects.filter(host=said.host).update(
                signals=said.as_dict(),
                fetched_at=timezone.now(),
                claimed_until=None,
                claim="",
            )
            yield said
