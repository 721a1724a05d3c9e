"""A snapshot folder is only used for the registry and revision it was built for.

The operator's case: a folder rev-300 left by another database was reused by
a database that had also reached revision 300, and its copies got no matches.
"""

from __future__ import annotations

import json
import logging
import uuid

from optout import snapshots
from optout.selectors import registry_lookup
from registry.models import Claim, RegistryIdentity, RegistryRevision
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


def test_a_folder_of_another_registry_at_the_same_revision_is_rebuilt(
    db, settings, tmp_path, caplog
):
    settings.SNAPSHOT_ROOT = tmp_path
    first = _database_at_revision(300, "https://one.example/a.png")
    assert _matched("https://one.example/a.png")
    assert (tmp_path / "rev-300").is_dir()

    # Another database (another identity) that has also reached revision 300,
    # with other claims, on the same SNAPSHOT_ROOT.
    RegistryIdentity.objects.update(uuid=uuid.uuid4())
    second = _database_at_revision(300, "https://two.example/b.png")
    assert second != first

    with caplog.at_level(logging.WARNING, logger="optout.snapshots"):
        assert _matched("https://two.example/b.png")
    assert not _matched("https://one.example/a.png")
    rebuilt = json.loads((tmp_path / "rev-300" / "snapshot.json").read_text())
    assert (rebuilt["registry"], rebuilt["revision"]) == (second, 300)
    assert f"registry is '{first}', not '{second}'" in caplog.text


def test_a_folder_that_names_another_revision_is_rebuilt(db, settings, tmp_path):
    settings.SNAPSHOT_ROOT = tmp_path
    _database_at_revision(7, "https://one.example/a.png")
    assert _matched("https://one.example/a.png")
    # A folder renamed (or restored) under another revision's name.
    (tmp_path / "rev-7").rename(tmp_path / "rev-8")
    snapshots._cache.clear()
    _database_at_revision(8, "https://two.example/b.png")

    assert _matched("https://two.example/b.png")
    assert not _matched("https://one.example/a.png")
    meta = json.loads((tmp_path / "rev-8" / "snapshot.json").read_text())
    assert meta["revision"] == 8
