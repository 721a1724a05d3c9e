"""The registry revision: one counter, bumped in the transaction of every change
to what is enforced, so a job can name exactly what it matched against.
"""

from __future__ import annotations

from django.db.models import F
from django.utils import timezone

from registry.models import RegistryRevision


def registry_revision_bump(*, reason: str) -> int:
    """Add one to the registry revision; call inside the transaction of the change."""
    RegistryRevision.objects.get_or_create(pk=1)
    RegistryRevision.objects.filter(pk=1).update(
        value=F("value") + 1, last_reason=reason[:200], changed=timezone.now()
    )
    return RegistryRevision.objects.get(pk=1).value
