"""Descriptor candidates in the snapshot: nearest registered images, graded."""

from __future__ import annotations

import pytest

from tests.workers import verify_images as vi
from workers.engine import descriptor
from workers.engine import fingerprint as fp
from workers.engine import verify as V
from workers.engine.perceptual import Levels
from workers.engine.snapshot import RegistrySnapshot, Thresholds, checks_applied
from workers.engine.types import MatchKind, RowBatch

SEEDS = (11, 12, 13, 14)


def shard_batch(*images: bytes) -> RowBatch:
    n = len(images)
    return RowBatch(
        first_row=0,
        keys=[None] * n,
        urls=[None] * n,
        captions=[None] * n,
        sha256=[None] * n,
        md5=[None] * n,
        phash=[None] * n,
        pdq=[None] * n,
        images=list(images),
    )


@pytest.fixture(scope="module")
def registered():
    """image id -> (jpeg bytes, fingerprint result with descriptors and features)."""
    out = {}
    for image_id, seed in enumerate(SEEDS, start=1):
        data = vi.jpeg_bytes(vi.artwork(seed), 92)
        out[image_id] = (
            data,
            fp.fingerprint_bytes(data, descriptors=True, features=True),
        )
    return out


@pytest.fixture
def snapshot(registered, tmp_path):
    built = RegistrySnapshot.build(
        revision=3,
        descriptors=[
            (i, r.fingerprints.descriptors) for i, (_, r) in registered.items()
        ],
        descriptor_version=descriptor.version(),
        max_radius=Thresholds(phash=8, pdq=31),
    )
    built.save(tmp_path / "rev-3")
    return RegistrySnapshot.load(tmp_path / "rev-3")


def _copy():
    return vi.jpeg_bytes(vi.crop(vi.artwork(SEEDS[1]), 0.05, 0.15, 0.2, 0.0), 75)


def test_a_saved_snapshot_keeps_its_descriptors_and_their_version(snapshot):
    assert snapshot.descriptor_version == descriptor.version()
    assert snapshot.sizes()["descriptors"] == len(SEEDS) * len(descriptor.REGIONS)


def test_a_copy_is_verified_with_its_similarity_and_region(snapshot, registered):
    def references(image_id):
        return V.Features.from_bytes(registered[image_id][1].features)

    found, problems = snapshot.match(
        shard_batch(_copy()), levels=Levels(), references=references
    )
    assert problems == []
    descriptor_matches = [m for m in found if m.kind == MatchKind.DESCRIPTOR]
    (match,) = [m for m in descriptor_matches if m.level == "verified"]
    assert match.ref == 2 and match.row == 0
    assert match.inliers >= 16 and 0 < match.similarity <= 1
    assert match.coverage is not None and match.coverage >= Levels().min_coverage
    assert match.variant.split(":")[-1] in descriptor.REGIONS
    # the unrelated registered images are never verified
    assert all(m.ref == 2 for m in descriptor_matches if m.level == "verified")


def test_an_unverifiable_candidate_is_possible_with_its_figures(snapshot):
    """No originals to verify against (hash-only registrations): listed, kept."""
    found, _ = snapshot.match(
        shard_batch(_copy()), levels=Levels(descriptor_possible=-1.0)
    )
    mine = [m for m in found if m.kind == MatchKind.DESCRIPTOR and m.ref == 2]
    (match,) = mine
    assert match.level == "possible" and match.inliers is None
    assert (match.agreement, match.coverage) == (None, None)
    assert match.similarity is not None


def test_below_the_floor_nothing_is_a_candidate(snapshot):
    found, _ = snapshot.match(
        shard_batch(vi.jpeg_bytes(vi.artwork(99))),
        levels=Levels(descriptor_min=1.01),
    )
    assert [m for m in found if m.kind == MatchKind.DESCRIPTOR] == []


def test_a_snapshot_from_another_model_refuses_to_match(registered):
    built = RegistrySnapshot.build(
        revision=3,
        descriptors=[(1, registered[1][1].fingerprints.descriptors)],
        descriptor_version="descriptor-v0:000000000000:r6",
    )
    with pytest.raises(ValueError, match="descriptor-v0"):
        built.match(shard_batch(_copy()))


def test_checks_name_the_descriptor_only_when_it_is_on():
    on = checks_applied({"image": "jpg"}, verify=True, descriptor=True)
    off = checks_applied({"image": "jpg"}, verify=True)
    assert "descriptor" in on[0]["kinds"] and "descriptor" not in off[0]["kinds"]
