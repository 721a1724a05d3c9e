"""The snapshot grades perceptual candidates: variants point back to their image,
low-quality registered images are never strong by hash, and a saved snapshot
keeps both."""

from __future__ import annotations

import pytest

from tests.workers import verify_images as vi
from workers.engine import perceptual as P
from workers.engine import verify as V
from workers.engine.images import decode_image
from workers.engine.perceptual import Levels
from workers.engine.snapshot import RegistrySnapshot, Thresholds
from workers.engine.types import RowBatch

FLAT = bytes(32)  # a flag's hash: unrelated flat pictures land on it too
ART = bytes.fromhex("5d5511510101bbeb0a00f7fb2ba973eb0555ef7baa01eceb5f40ecb90103ec97")
ART_FLIPPED = bytes(b ^ 0xFF for b in ART)
SIZE = (640, 480)


def flip_bits(value: bytes, n: int) -> bytes:
    number = int.from_bytes(value, "big")
    for bit in range(n):
        number ^= 1 << (bit * 7)
    return number.to_bytes(32, "big")


def batch(*pdq: bytes) -> RowBatch:
    n = len(pdq)
    return RowBatch(
        first_row=0,
        keys=[None] * n,
        urls=[None] * n,
        captions=[None] * n,
        sha256=[None] * n,
        md5=[None] * n,
        phash=[None] * n,
        pdq=list(pdq),
    )


@pytest.fixture
def snapshot(tmp_path) -> RegistrySnapshot:
    built = RegistrySnapshot.build(
        revision=7,
        pdq=[(1, ART), (1, "flipx", ART_FLIPPED), (2, FLAT)],
        low_quality=[2],
        max_radius=Thresholds(phash=8, pdq=31),
    )
    built.save(tmp_path / "rev-7")
    return RegistrySnapshot.load(tmp_path / "rev-7")


def test_a_variant_hit_names_its_image_and_variant(snapshot):
    found, _ = snapshot.match(
        batch(flip_bits(ART_FLIPPED, 3)), levels=Levels(pdq_strong=31)
    )
    (match,) = found
    assert (match.ref, match.variant, match.distance) == (1, "flipx", 3)
    assert match.level == "strong"


def test_a_low_quality_image_is_only_possible_by_hash(snapshot):
    found, _ = snapshot.match(batch(FLAT, ART), levels=Levels(pdq_strong=31))
    assert [(m.row, m.ref, m.distance, m.level) for m in found] == [
        (0, 2, 0, "possible"),
        (1, 1, 0, "strong"),
    ]


def test_beyond_the_strong_distance_a_hash_match_is_possible(snapshot):
    found, _ = snapshot.match(batch(flip_bits(ART, 12)), levels=Levels(pdq_strong=10))
    assert [(m.ref, m.level) for m in found] == [(1, "possible")]


def shard_row(image: bytes) -> RowBatch:
    return RowBatch(
        first_row=0,
        keys=["000"],
        urls=[None],
        captions=[None],
        sha256=[None],
        md5=[None],
        phash=[None],
        pdq=[None],
        images=[image],
        image_names=["000.jpg"],
    )


def test_a_low_contrast_grayscale_copy_is_verified_by_coverage():
    # A dark texture: its thumbnails are too flat to compare the appearance,
    # so the inliers' coverage decides. Strong levels are off: only
    # verification can lift the hash candidate above possible.
    original = vi.grain(1, SIZE)
    pdq = P.pdq_variants(P.prepare(original), ["canonical"])["canonical"][0]
    snapshot = RegistrySnapshot.build(revision=1, pdq=[(1, pdq)])
    row = shard_row(vi.jpeg_bytes(vi.grayscale(original), 90))
    levels = Levels(pdq_strong=-1, phash_strong=-1)

    (verified,) = snapshot.match(
        row, levels=levels, references={1: V.extract(original)}.get
    )[0]
    (unverified,) = snapshot.match(row, levels=levels)[0]

    assert (verified.ref, verified.level) == (1, "verified")
    assert verified.inliers is not None and verified.inliers >= 300
    assert verified.agreement is None
    assert verified.coverage is not None
    assert verified.coverage >= levels.min_coverage
    assert unverified.level == "possible"
    assert (unverified.inliers, unverified.coverage) == (None, None)


def test_a_verified_match_carries_the_figures_that_decided_it():
    # A watermark hides its cells from the inliers: coverage below 1, above
    # the default minimum.
    original = vi.artwork(1)
    pdq = P.pdq_variants(P.prepare(original), ["canonical"])["canonical"][0]
    snapshot = RegistrySnapshot.build(revision=1, pdq=[(1, pdq)])
    data = vi.jpeg_bytes(vi.watermark(original), 85)
    references = {1: V.extract(original)}.get
    expected = V.verify(
        V.extract(decode_image(data).image), V.extract(original), try_mirror=False
    )

    (match,) = snapshot.match(
        shard_row(data), levels=Levels(pdq_strong=-1), references=references
    )[0]

    assert match.level == "verified"
    assert (match.inliers, match.agreement, match.coverage) == (
        expected.inliers,
        expected.agreement,
        expected.coverage,
    )
    assert V.DEFAULT_MIN_COVERAGE <= match.coverage < 1.0
    # The same copy, where the registry asks for full coverage: dismissed.
    strict = Levels(pdq_strong=-1, min_coverage=1.0)
    assert (
        snapshot.match(shard_row(data), levels=strict, references=references)[0] == []
    )
