"""Helpers for the trust tests: a fixed clock and artists' sites on a local server."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest

from registry.services import domain_proof, proof_config
from tests.webserver import Site
from workers.engine.webproof import FetchFailed, ProofConfig

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


def served_locally(config: ProofConfig, site: Site, *names: str) -> ProofConfig:
    """`config` with `names` resolved to the local server, its port, and that
    one address let through.

    Only the name lookup and the port are changed (the outbound network edge);
    the fetcher still refuses every other private address.
    """
    table = dict.fromkeys(names, "127.0.0.1")

    def resolver(host: str, port: int) -> list[str]:
        if host not in table:
            raise FetchFailed(f"{host} does not resolve")
        return [table[host]]

    return replace(
        config,
        resolver=resolver,
        port=site.port,
        allowed_addresses=frozenset({"127.0.0.1"}),
    )


def point_domains_at(monkeypatch: pytest.MonkeyPatch, site: Site, *names: str) -> None:
    """Point the domain check at the local server for `names`."""
    original = proof_config
    monkeypatch.setattr(
        domain_proof,
        "proof_config",
        lambda: served_locally(original(), site, *(names or ("alice.example",))),
    )
