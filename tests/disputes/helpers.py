"""Helpers shared by the dispute tests: a claim or work to dispute, a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from accounts.models import User
from disputes.models import Dispute
from disputes.services import dispute_create, evidence_fingerprint
from registry.models import Claim, RightsHolder
from tests.factories import approved_prefix

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Clock:
    """django.utils.timezone.now, fixed and moved by hand (no sleeps)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, start: datetime = T0) -> None:
        self.now = start
        monkeypatch.setattr(timezone, "now", lambda: self.now)

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def prefix_claim(holder: RightsHolder, value: str = "https://alice.example/") -> Claim:
    return approved_prefix(holder, value)


def open_dispute(
    disputer: User,
    target: str,
    *,
    grounds: str = "not_owner",
    statement: str = "I drew this; here is my sketchbook.",
    **kwargs,
) -> Dispute:
    return dispute_create(
        disputer=disputer,
        target=target,
        grounds=grounds,
        statement=statement,
        **kwargs,
    )


def fingerprint_evidence(dispute: Dispute) -> None:
    """Do here what the images worker does for each evidence file (no worker)."""
    for evidence_id in dispute.evidence.values_list("pk", flat=True):
        evidence_fingerprint(evidence_id=evidence_id)


def make_admin(username: str) -> User:
    return User.objects.create_superuser(username, f"{username}@example.com", "pw")


@pytest.fixture(autouse=True)
def _fast_passwords(settings) -> None:
    # The cast signs up with real passwords; PBKDF2 would make each test's
    # setup take a second. (Autouse: runs before the cast's fixtures.)
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
