"""Migration 0014 moves PDQ variant rows onto their image, packed, and back."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from registry.models import Fingerprint, Image
from workers.engine.fingerprint import unpack_variants

BEFORE = [("registry", "0013_index_ops_mark")]
AFTER = [("registry", "0014_pdq_variants_packed")]

pytestmark = pytest.mark.django_db(transaction=True)


def _migrate(target):
    executor = MigrationExecutor(connection)
    executor.migrate(target)
    executor.loader.build_graph()
    return executor.loader.project_state(target).apps


def test_variant_rows_become_one_packed_value_and_come_back(artist):
    old = _migrate(BEFORE)
    OldImage = old.get_model("registry", "Image")
    OldFingerprint = old.get_model("registry", "Fingerprint")
    work = old.get_model("registry", "Work").objects.create(
        owner_id=artist.rights_holder.pk, title="Boats"
    )
    image, bare = (OldImage.objects.create(work=work) for _ in range(2))
    rows = {"flip-h": (bytes(range(32)), 91), "rot+3": (bytes(32), 47)}
    OldFingerprint.objects.create(
        image=image, algorithm="pdq", version="pdqhash-0.2:1", value=b"\1" * 32
    )
    for name, (raw, quality) in rows.items():
        OldFingerprint.objects.create(
            image=image,
            algorithm="pdq",
            variant=name,
            version="v2:dihedral:512px",
            value=raw,
            quality=quality,
        )

    _migrate(AFTER)
    moved = Image.objects.get(pk=image.pk)
    assert unpack_variants(moved.pdq_variants) == rows
    assert moved.variants_version == "v2:dihedral:512px"
    assert Image.objects.get(pk=bare.pk).pdq_variants is None
    assert list(Fingerprint.objects.values_list("variant", flat=True)) == ["original"]

    _migrate(BEFORE)
    back = {
        f.variant: (bytes(f.value), f.quality, f.version)
        for f in OldFingerprint.objects.filter(image_id=image.pk)
    }
    assert back == {
        "original": (b"\1" * 32, None, "pdqhash-0.2:1"),
        **{n: (raw, q, "v2:dihedral:512px") for n, (raw, q) in rows.items()},
    }
    _migrate(AFTER)
    # Leave the database as the rest of the session expects it: every app at
    # its latest migration (registry has more after 0014).
    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
