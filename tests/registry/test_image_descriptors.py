"""With MATCH_DESCRIPTOR on, registered images carry their descriptors, and a
job's snapshot finds an edited copy by them."""

from __future__ import annotations

import pytest

from core.uploads import bytes_file
from optout.snapshots import build_snapshot, descriptor_version
from registry.models import Image
from registry.services import (
    image_fingerprint,
    image_needs_refingerprint,
    images_refingerprint,
    portfolio_upload,
)
from tests.workers import verify_images as vi
from workers.engine import descriptor
from workers.engine.types import MatchKind, RowBatch

pytestmark = pytest.mark.django_db


@pytest.fixture
def described(settings):
    settings.MATCH_DESCRIPTOR = True
    return settings


def _upload(holder, seed):
    image = portfolio_upload(
        owner=holder, files=[bytes_file(f"{seed}.jpg", vi.jpeg_bytes(vi.artwork(seed)))]
    ).images[0]
    image_fingerprint(image_id=image.pk)
    return Image.objects.get(pk=image.pk)


def test_a_fingerprinted_image_stores_its_region_descriptors(described, holder):
    image = _upload(holder, 21)
    assert image.descriptor_version == descriptor.version() == descriptor_version()
    vectors = descriptor.unpack(bytes(image.descriptors), 256)
    assert vectors.shape == (len(descriptor.REGIONS), 256)
    assert not image_needs_refingerprint(image=image)


def test_a_new_model_version_means_refingerprinting(described, holder):
    image = _upload(holder, 22)
    Image.objects.filter(pk=image.pk).update(descriptor_version="descriptor-v0:old")
    image.refresh_from_db()
    assert image_needs_refingerprint(image=image)
    assert images_refingerprint(sync=True) == 1
    image.refresh_from_db()
    assert image.descriptor_version == descriptor.version()
    assert images_refingerprint(sync=True) == 0


def test_descriptors_off_leaves_images_and_snapshots_without_them(holder, settings):
    settings.MATCH_DESCRIPTOR = False
    image = _upload(holder, 23)
    assert image.descriptors is None and image.descriptor_version == ""
    assert build_snapshot(revision=1).descriptors is None


def test_the_snapshot_finds_a_rotated_copy_by_descriptor(described, holder):
    image = _upload(holder, 24)
    _upload(holder, 25)
    snapshot = build_snapshot(revision=99)
    assert snapshot.sizes()["descriptors"] == 2 * len(descriptor.REGIONS)
    copy = vi.jpeg_bytes(vi.rotate(vi.artwork(24), 7, expand=True), 80)
    batch = RowBatch(
        first_row=0,
        keys=[None],
        urls=[None],
        captions=[None],
        sha256=[None],
        md5=[None],
        phash=[None],
        pdq=[None],
        images=[copy],
    )
    from optout.references import reference_features

    found, _ = snapshot.match(batch, references=reference_features)
    verified = [
        m for m in found if m.kind == MatchKind.DESCRIPTOR and m.level == "verified"
    ]
    assert [m.ref for m in verified] == [image.pk]
    assert verified[0].similarity is not None
