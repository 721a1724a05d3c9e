"""What a lookup showed an account: the registered images it may dispute."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils import timezone

from accounts.models import User
from optout.models import LookupSeen


def lookup_seen_record(*, user: User, image_ids: Iterable[int]) -> None:
    """Remember that `user` was shown these images (upserted, one row each)."""
    ids = sorted({i for i in image_ids if i})
    if not ids or not user.is_authenticated:
        return
    now = timezone.now()
    LookupSeen.objects.bulk_create(
        [LookupSeen(user=user, image_id=i, seen_at=now) for i in ids],
        update_conflicts=True,
        unique_fields=["user", "image"],
        update_fields=["seen_at"],
    )
