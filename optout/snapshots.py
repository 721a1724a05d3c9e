"""The registry's index at a revision, for matching.

Since issue 14 the index is made of segments (optout/segments.py): a job at
revision N matches against exactly what was enforced at N, from segments in
object storage cached on each worker machine. This module keeps the names
the job, lookup and command code call.
"""

from __future__ import annotations

from django.conf import settings

from optout.segments import (  # noqa: F401
    IndexUnavailable,
    descriptor_version,
    forget_loaded,
    max_radius,
    view_for_revision,
)
from workers.engine.segments import SegmentView
from workers.engine.snapshot import RegistrySnapshot


def snapshot_for_revision(revision: int) -> SegmentView:
    """What the registry enforced at `revision` (see view_for_revision)."""
    return view_for_revision(revision)


def build_snapshot(*, revision: int) -> RegistrySnapshot:
    """Everything the database enforces now, indexed as one snapshot labelled
    `revision` (not from segments: the reference they are checked against)."""
    from optout.segments import _base_entries
    from registry.selectors import registry_identity
    from workers.engine.segments import snapshot_of

    return snapshot_of(
        _base_entries(descriptor_version()),
        revision=revision,
        registry=registry_identity(),
        descriptor_version=descriptor_version(),
        max_radius=max_radius(),
        descriptor_hnsw_min=settings.MATCH_DESCRIPTOR_HNSW_MIN,
        descriptor_ivfpq_min=settings.MATCH_DESCRIPTOR_IVFPQ_MIN,
        descriptor_ivf_codes=settings.MATCH_DESCRIPTOR_IVF_CODES,
    )
