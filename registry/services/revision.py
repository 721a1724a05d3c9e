"""The registry revision: one counter, bumped in the transaction of every change
to what is enforced, so a job can name exactly what it matched against.

The bump also records, for the index, what changed (registry.models.
IndexChange): every claim and image touched since the last bump becomes an
add or drop op at the new revision, judged by the same rules the index uses
(`enforced_claims`, `enforced_images`).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import F, QuerySet
from django.utils import timezone

from registry.models import Claim, Image, IndexChange, RegistryRevision, Work

_CHUNK = 5_000


def enforced_claims() -> QuerySet[Claim]:
    """The claims the index holds (every kind: URL, prefix, domain, style)."""
    return Claim.objects.filter(state=Claim.State.ACTIVE)


def enforced_images() -> QuerySet[Image]:
    """The images the index holds: hashed, of an active work, not left out by
    a dispute's outcome."""
    return Image.objects.filter(
        status=Image.Status.HASHED,
        work__status=Work.Status.ACTIVE,
        exclusions__isnull=True,
    )


def index_touch(space: int, refs: Iterable[int]) -> None:
    """Note claims or images whose enforcement may have changed; the next bump
    records them. Saves do this by themselves (registry/signals.py); call it
    after bulk updates, which send no signals."""
    IndexChange.objects.bulk_create(
        [IndexChange(space=space, ref=ref) for ref in set(refs)], batch_size=_CHUNK
    )


def _enforced(queryset: QuerySet, refs: list[int]) -> set[int]:
    found: set[int] = set()
    for start in range(0, len(refs), _CHUNK):
        chunk = refs[start : start + _CHUNK]
        found.update(queryset.filter(pk__in=chunk).values_list("pk", flat=True))
    return found


def record_touched(revision: int) -> set[int]:
    """Turn the touched claims and images into ops at `revision`; returns
    the rights holders whose claims or images were dropped."""
    pending = list(
        IndexChange.objects.filter(revision=None).values_list("pk", "space", "ref")
    )
    if not pending:
        return set()
    ids = [pk for pk, _, _ in pending]
    for start in range(0, len(ids), _CHUNK):
        IndexChange.objects.filter(pk__in=ids[start : start + _CHUNK]).delete()
    ops: list[IndexChange] = []
    for space, queryset in (
        (IndexChange.Space.CLAIM, enforced_claims()),
        (IndexChange.Space.IMAGE, enforced_images()),
    ):
        refs = sorted({ref for _, s, ref in pending if s == space})
        live = _enforced(queryset, refs)
        ops += [
            IndexChange(space=space, ref=ref, revision=revision, op=int(ref in live))
            for ref in refs
        ]
    IndexChange.objects.bulk_create(ops, batch_size=_CHUNK)
    owners: set[int] = set()
    for space, owner_of in (
        (IndexChange.Space.CLAIM, Claim.objects.values_list("owner_id", flat=True)),
        (
            IndexChange.Space.IMAGE,
            Image.objects.values_list("work__owner_id", flat=True),
        ),
    ):
        dropped = [op.ref for op in ops if not op.op and op.space == space]
        for start in range(0, len(dropped), _CHUNK):
            owners.update(owner_of.filter(pk__in=dropped[start : start + _CHUNK]))
    return owners


def registry_revision_bump(*, reason: str, rebuild: bool = False) -> int:
    """Add one to the registry revision; call inside the transaction of the
    change, after the change (the touched claims and images are judged as
    they are now).

    `rebuild`: the index is rebuilt from the database at this revision (for
    rows written in bulk, which bypass the signals that note changes).
    """
    RegistryRevision.objects.get_or_create(pk=1)
    RegistryRevision.objects.filter(pk=1).update(
        value=F("value") + 1, last_reason=reason[:200], changed=timezone.now()
    )
    revision = RegistryRevision.objects.get(pk=1).value
    dropped = record_touched(revision)
    if rebuild:
        IndexChange.objects.create(
            space=IndexChange.Space.REBUILD, revision=revision, op=1
        )
    if rebuild or dropped:
        # A claim or image left the index: consents it proved or carried end.
        from registry.services.optins import opt_ins_revalidate

        opt_ins_revalidate(revision=revision, owner_ids=None if rebuild else dropped)
    return revision
