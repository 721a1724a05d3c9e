"""Helpers for the trust tests: a fixed clock and artists' sites on a local server."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest

from registry.services import domain_proof, proof_config
from tests.webserver import Site
from workers.engine.webproof import FetchFailed

START = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime

    def advance(self, **kw: float) -> datetime:
        self.now += timedelta(**kw)
        return self.now


def freeze(monkeypatch: pytest.MonkeyPatch, when: datetime = START) -> Clock:
    """Patch django.utils.timezone.now (services and auto_now fields use it)."""
    clock = Clock(when)
    monkeypatch.setattr("django.utils.timezone.now", lambda: clock.now)
    return clock


def point_domains_at(monkeypatch: pytest.MonkeyPatch, site: Site, *names: str) -> None:
    """Resolve `names` to the local server and let that one address through.

    Only the name lookup and the port are changed (the outbound network edge);
    the fetcher still refuses every other private address.
    """
    table = dict.fromkeys(names or ("alice.example",), "127.0.0.1")
    original = proof_config

    def resolver(host: str, port: int) -> list[str]:
        if host not in table:
            raise FetchFailed(f"{host} does not resolve")
        return [table[host]]

    def config():
        return replace(
            original(),
            resolver=resolver,
            port=site.port,
            allowed_addresses=frozenset({"127.0.0.1"}),
        )

    monkeypatch.setattr(domain_proof, "proof_config", config)
