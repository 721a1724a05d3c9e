"""The index is only ever read for the registry and revision it was built for.

The operator's case: a snapshot folder rev-300 left by another database was
reused by a database that had also reached revision 300, and its copies got
no matches. Segments are named uniquely, listed per registry in the
database's own catalog, and each cached folder is checked against it.
"""

from __future__ import annotations

import shutil
import uuid

from optout import segments
from optout.selectors import registry_lookup
from registry.models import Claim, IndexSegment, RegistryIdentity, RegistryRevision
from registry.selectors import registry_identity
from tests.factories import ClaimFactory


def _database_at_revision(revision: int, url: str) -> str:
    """This database enforcing one URL claim at `revision`; its identity."""
    Claim.objects.all().delete()
    ClaimFactory(value=url, normalized=url)
    RegistryRevision.objects.update_or_create(pk=1, defaults={"value": revision})
    return registry_identity()


def _matched(url: str) -> bool:
    result = registry_lookup(items={"urls": [url]})
    return bool(result.items["urls"][0].matches)


def test_another_registry_at_the_same_revision_never_reads_the_first_ones_segments(
    db,
):
    first = _database_at_revision(300, "https://one.example/a.png")
    assert _matched("https://one.example/a.png")

    # Another database (another identity) that has also reached revision 300,
    # with other claims, on the same object store and worker cache.
    RegistryIdentity.objects.update(uuid=uuid.uuid4())
    second = _database_at_revision(300, "https://two.example/b.png")
    assert second != first

    assert _matched("https://two.example/b.png")
    assert not _matched("https://one.example/a.png")
    assert {row.registry for row in IndexSegment.objects.all()} == {first, second}


def test_a_cached_folder_that_is_not_the_catalogs_segment_is_downloaded_again(
    db, settings
):
    _database_at_revision(7, "https://one.example/a.png")
    assert _matched("https://one.example/a.png")
    row = IndexSegment.objects.get(last=7)
    cached = settings.SEGMENT_CACHE_DIR / row.name
    # The folder replaced by another segment's files under the same name (a
    # restored backup, a hand copy).
    segments.forget_loaded()
    Claim.objects.all().delete()
    ClaimFactory(
        value="https://two.example/b.png", normalized="https://two.example/b.png"
    )
    RegistryRevision.objects.update(value=8)
    assert _matched("https://two.example/b.png")
    other = IndexSegment.objects.get(last=8)
    shutil.rmtree(cached)
    shutil.copytree(settings.SEGMENT_CACHE_DIR / other.name, cached)
    segments.forget_loaded()
    RegistryRevision.objects.update(value=7)

    assert _matched("https://one.example/a.png")
    assert not _matched("https://two.example/b.png")
