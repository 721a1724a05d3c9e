"""The index as segments, driven through the registry's own services.

What users see: a job at revision N gets what was enforced at N, whenever
it runs; a change costs a segment of its own size; merges change nothing
that is matched; and every step agrees with the database read whole.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from django.utils import timezone

from optout import segments
from optout.snapshots import build_snapshot, snapshot_for_revision
from registry import services
from registry.models import Claim, IndexChange, IndexSegment
from registry.selectors import registry_revision_current
from tests.conftest import make_artist
from workers.engine.snapshot import Thresholds
from workers.engine.types import RowBatch

URLS = [f"https://art.example/{i}.png" for i in range(12)]


def _sha(i: int) -> str:
    return hashlib.sha256(f"image {i}".encode()).hexdigest()


def _batch(urls: list[str], shas: list[str]) -> RowBatch:
    rows = len(urls) + len(shas)
    batch = RowBatch(
        first_row=0,
        keys=[None] * rows,
        urls=[*urls, *[None] * len(shas)],
        captions=[None] * rows,
        sha256=[*[None] * len(urls), *(bytes.fromhex(s) for s in shas)],
        md5=[None] * rows,
        phash=[None] * rows,
        pdq=[None] * rows,
    )
    return batch


def _matched(index, shas: list[str]) -> set[tuple[str, int]]:
    found, _ = index.match(_batch(URLS, shas), Thresholds())
    return {(str(m.kind), m.ref) for m in found}


def _agrees_with_database(shas: list[str]) -> set[tuple[str, int]]:
    revision = registry_revision_current()
    from_segments = _matched(snapshot_for_revision(revision), shas)
    assert from_segments == _matched(build_snapshot(revision=revision), shas)
    return from_segments


def test_a_job_at_revision_n_gets_n_even_when_the_index_is_written_later(db):
    artist = make_artist("ada")
    holder = artist.rights_holder
    first = services.claim_create(owner=holder, kind="url", value=URLS[0])
    at_one = registry_revision_current()
    # Two changes before any worker has asked for revision `at_one`.
    services.claim_withdraw(owner=holder, claim_id=first.pk)
    second = services.claim_create(owner=holder, kind="url", value=URLS[1])

    assert _matched(snapshot_for_revision(at_one), []) == {("url", first.pk)}
    assert _matched(snapshot_for_revision(registry_revision_current()), []) == {
        ("url", second.pk)
    }


def test_every_change_agrees_with_the_database_and_costs_its_own_size(db):
    artist = make_artist("ada")
    holder = artist.rights_holder
    other = make_artist("bea")
    shas = [_sha(i) for i in range(6)]
    claims = [
        services.claim_create(owner=holder, kind="url", value=url) for url in URLS[:6]
    ]
    images = [
        services.image_register_hashes(
            owner=holder, hashes={"sha256": sha}, title="work"
        )
        for sha in shas[:4]
    ]
    base_matches = _agrees_with_database(shas)
    assert len(base_matches) == 10

    # One more claim: a delta of one claim and one op.
    services.claim_create(owner=holder, kind="url", value=URLS[6])
    assert len(_agrees_with_database(shas)) == 11
    delta = IndexSegment.objects.order_by("-last").first()
    assert (delta.kind, delta.meta["claims"], delta.meta["images"]) == ("delta", 1, 0)
    assert delta.meta["ops"] == 1

    services.claim_withdraw(owner=holder, claim_id=claims[0].pk)
    services.work_withdraw(owner=holder, work_id=images[0].work_id)
    services.image_register_hashes(
        owner=other.rights_holder, hashes={"sha256": shas[5]}, title="other"
    )
    matched = _agrees_with_database(shas)
    assert ("url", claims[0].pk) not in matched
    assert ("sha256", images[0].pk) not in matched

    # An account suspended, then reinstated: its claims go and come back.
    admin = make_artist("root")
    services.claims_suspend_for_account(admin=admin, user=artist, reason="test")
    assert not {ref for kind, ref in _agrees_with_database(shas) if kind == "url"}
    services.claims_reinstate_for_account(admin=admin, user=artist, reason="test")
    assert len([k for k, _ in _agrees_with_database(shas) if k == "url"]) == 6

    # An image left out by a dispute's outcome (a save, noted by the signal).
    from disputes.models import ImageExclusion

    ImageExclusion.objects.create(image=images[1])
    services.registry_revision_bump(reason="test exclusion")
    assert ("sha256", images[1].pk) not in _agrees_with_database(shas)


def test_merges_change_nothing_matched_and_retire_their_inputs(db, settings):
    settings.SEGMENT_MERGE_AT = 3
    settings.SEGMENT_RETAIN_SECONDS = 60
    holder = make_artist("ada").rights_holder
    made = []
    for url in URLS[:8]:
        made.append(services.claim_create(owner=holder, kind="url", value=url))
        snapshot_for_revision(registry_revision_current())  # a delta each
    services.claim_withdraw(owner=holder, claim_id=made[2].pk)
    before = _agrees_with_database([])
    result = segments.segments_maintain()
    assert result["merged"]
    assert IndexSegment.objects.filter(retired_at__isnull=False).exists()
    segments.forget_loaded()
    assert _agrees_with_database([]) == before
    chain = snapshot_for_revision(registry_revision_current()).segments
    assert result["merged"] in [s.name for s in chain]
    # The next sweep deletes the retired segments and the ops they absorbed.
    swept = segments.segments_sweep(now=timezone.now() + timedelta(seconds=61))
    assert swept > 0
    assert not IndexSegment.objects.filter(retired_at__isnull=False).exists()
    assert not IndexChange.objects.filter(space__in=[0, 1]).exists()
    services.claim_withdraw(owner=holder, claim_id=made[3].pk)
    assert ("url", made[3].pk) not in _agrees_with_database([])


def test_a_second_machine_downloads_the_same_segments(db, settings, tmp_path):
    holder = make_artist("ada").rights_holder
    claim = services.claim_create(owner=holder, kind="url", value=URLS[0])
    revision = registry_revision_current()
    assert _matched(snapshot_for_revision(revision), []) == {("url", claim.pk)}
    written = IndexSegment.objects.count()

    settings.SEGMENT_CACHE_DIR = tmp_path / "machine-two"
    segments.forget_loaded()
    view = snapshot_for_revision(revision)
    assert _matched(view, []) == {("url", claim.pk)}
    assert all(s.directory.parent == tmp_path / "machine-two" for s in view.segments)
    # No new segment was written for it.
    assert IndexSegment.objects.count() == written


def test_a_damaged_download_is_refused_naming_the_file(db, settings, tmp_path):
    holder = make_artist("ada").rights_holder
    services.claim_create(owner=holder, kind="url", value=URLS[0])
    revision = registry_revision_current()
    snapshot_for_revision(revision)
    row = IndexSegment.objects.get(kind="delta")
    store_root = settings.SEGMENT_STORE_URL.removeprefix("file://")
    damaged = f"{store_root}/segments/{row.registry}/{row.name}/claims.arrow"
    with open(damaged, "r+b") as f:
        data = bytearray(f.read())
        data[12] ^= 0xFF
        f.seek(0)
        f.write(data)
    settings.SEGMENT_CACHE_DIR = tmp_path / "other"
    segments.forget_loaded()
    try:
        snapshot_for_revision(revision)
    except segments.IndexUnavailable as exc:
        assert "claims.arrow does not have the SHA-256" in str(exc)
    else:
        raise AssertionError("a damaged segment was used")
    assert not list((tmp_path / "other").glob(f"{row.name}*"))


def test_a_rebuild_picks_up_rows_written_in_bulk(db):
    holder = make_artist("ada").rights_holder
    Claim.objects.bulk_create(
        Claim(owner=holder, kind="url", value=u, normalized=u, state="active")
        for u in URLS[:3]
    )
    services.registry_revision_bump(reason="bulk", rebuild=True)
    assert len(_agrees_with_database([])) == 3
    assert IndexSegment.objects.order_by("-last").first().kind == "base"


def test_the_segment_json_names_registry_revision_and_model(db):
    holder = make_artist("ada").rights_holder
    services.claim_create(owner=holder, kind="url", value=URLS[0])
    view = snapshot_for_revision(registry_revision_current())
    meta = json.loads((view.segments[-1].directory / "segment.json").read_text())
    from registry.selectors import registry_identity

    assert meta["registry"] == registry_identity()
    assert meta["last"] == registry_revision_current()
    assert "descriptor_version" in meta and "snapshot_format" in meta
