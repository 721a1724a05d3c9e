"""The worker path: an upload commits, a real Celery worker fingerprints it."""

from __future__ import annotations

import time

import pytest
from django.conf import settings

from core.uploads import bytes_file
from registry.models import Fingerprint, Image
from registry.services import portfolio_upload
from tests.images import image_bytes, truncated_png
from workers.engine.fingerprint import fingerprint_bytes, unpack_variants
from workers.engine.perceptual import SCHEMES

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting for the worker")


def test_a_real_worker_fingerprints_uploaded_images(celery_worker, holder):
    files = [bytes_file(f"art-{i}.png", image_bytes(i)) for i in range(3)]
    result = portfolio_upload(owner=holder, files=files)
    ids = [i.pk for i in result.images]

    wait_for(lambda: Image.objects.filter(pk__in=ids, status="hashed").count() == 3)

    for i, image_id in enumerate(ids):
        image = Image.objects.get(pk=image_id)
        expected = fingerprint_bytes(image_bytes(i)).fingerprints
        prints = {f.algorithm: f for f in image.fingerprints.filter(variant="original")}
        assert prints["sha256"].hex == expected.sha256.hex()
        assert prints["md5"].hex == expected.md5.hex()
        assert prints["phash"].value_int == expected.phash_int
        assert bytes(prints["pdq"].value) == expected.pdq
        assert prints["pdq"].quality == expected.pdq_quality
        # and the registry-side variants, computed by the worker too
        variants = unpack_variants(image.pdq_variants)
        assert set(variants) == set(SCHEMES[settings.MATCH_VARIANT_SCHEME])
        assert (image.width, image.height) == (320, 240)
        assert image.thumbnail
        with image.thumbnail.open("rb") as fh:
            assert fh.read(3) == b"\xff\xd8\xff"  # a JPEG


def test_a_file_broken_after_upload_is_marked_failed_with_its_reason(
    celery_worker, holder
):
    result = portfolio_upload(owner=holder, files=[bytes_file("a.png", image_bytes(1))])
    image = result.images[0]
    wait_for(lambda: Image.objects.get(pk=image.pk).status == "hashed")
    # Damage the stored original, then ask the worker to do it again.
    with open(image.original.path, "wb") as fh:
        fh.write(truncated_png(1))
    from registry.tasks import image_fingerprint

    image_fingerprint.delay(image.pk, True)
    wait_for(lambda: Image.objects.get(pk=image.pk).status == "failed")
    assert (
        Image.objects.get(pk=image.pk).failure_reason == "the image file is truncated"
    )
    # old ones kept
    assert Fingerprint.objects.filter(image=image, variant="original").count() == 4


def test_a_message_queued_under_the_tasks_old_name_still_runs(celery_worker, holder):
    # A worker of this release picks up work an older release queued, when the
    # task was still called workers.tasks.image_fingerprint.
    from config.celery import app

    result = portfolio_upload(owner=holder, files=[bytes_file("a.png", image_bytes(2))])
    image = result.images[0]
    wait_for(lambda: Image.objects.get(pk=image.pk).status == "hashed")
    Image.objects.filter(pk=image.pk).update(status="pending")

    app.send_task(
        "workers.tasks.image_fingerprint", args=[image.pk, True], queue="images"
    )

    wait_for(lambda: Image.objects.get(pk=image.pk).status == "hashed")
