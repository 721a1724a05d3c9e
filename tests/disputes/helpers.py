"""Helpers shared by the dispute tests: a claim or work to dispute, a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from accounts.models import User
from disputes.models import Dispute
from disputes.services import dispute_create, evidence_fingerprint
from optout.services import lookup_seen_record
from registry.models import Claim, Image, RightsHolder
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
    statement: str = "I drew this in 2019; here is my sketchbook with dated pages.",
    **kwargs,
) -> Dispute:
    """Open a dispute as `disputer`, who first found the target the way users
    do: a work or image through a lookup of its hashes (a claim is public)."""
    shown_by_lookup(disputer, target)
    return dispute_create(
        disputer=disputer,
        target=target,
        grounds=grounds,
        statement=statement,
        **kwargs,
    )


def shown_by_lookup(user: User, target: str) -> None:
    """`user` looks the target's images up by their SHA-256 (the real lookup)."""
    kind, _, pk = target.partition(":")
    if kind not in ("work", "image"):
        return
    images = (
        Image.objects.filter(pk=pk)
        if kind == "image"
        else Image.objects.filter(work=pk)
    )
    hashes = [
        f.hex
        for image in images
        for f in image.fingerprints.all()
        if f.algorithm == "sha256" and f.variant == "original"
    ]
    if not hashes:  # not fingerprinted: record what a lookup would have shown
        lookup_seen_record(user=user, image_ids=images.values_list("pk", flat=True))
        return
    registry_lookup_as(user, hashes)


def registry_lookup_as(user: User, sha256: list[str]) -> None:
    from optout.selectors import registry_lookup

    result = registry_lookup(items={"sha256": sha256})
    lookup_seen_record(
        user=user,
        image_ids=(
            hit.image_id
            for found in result.items.values()
            for item in found
            for hit in item.matches
        ),
    )


def seasoned(user: User) -> User:
    """An account a year old: its unanswered disputes may lapse on their own
    (younger ones go to an admin, DISPUTE_TRUSTED_ACCOUNT_DAYS)."""
    User.objects.filter(pk=user.pk).update(
        date_joined=timezone.now() - timedelta(days=365)
    )
    user.refresh_from_db()
    return user


def fingerprint_evidence(dispute: Dispute) -> None:
    """Do here what the images worker does for each evidence file (no worker)."""
    for evidence_id in dispute.evidence.values_list("pk", flat=True):
        evidence_fingerprint(evidence_id=evidence_id)


def make_admin(username: str) -> User:
    return User.objects.create_superuser(username, f"{username}@example.com", "pw")
