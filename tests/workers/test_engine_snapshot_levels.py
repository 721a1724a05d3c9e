"""The snapshot grades perceptual candidates: variants point back to their image,
low-quality registered images are never strong by hash, and a saved snapshot
keeps both."""

from __future__ import annotations

import pytest

from workers.engine.perceptual import Levels
from workers.engine.snapshot import RegistrySnapshot, Thresholds
from workers.engine.types import RowBatch

FLAT = bytes(32)  # a flag's hash: unrelated flat pictures land on it too
ART = bytes.fromhex("5d5511510101bbeb0a00f7fb2ba973eb0555ef7baa01eceb5f40ecb90103ec97")
ART_FLIPPED = bytes(b ^ 0xFF for b in ART)


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
