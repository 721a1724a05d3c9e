"""Drill: Redis restarted while a portfolio's images are being fingerprinted.

The artist uploads through the API; a real images worker (with its beat) is
fingerprinting them when Redis is shut down without saving and started again,
so every queued message, and the one the worker holds unacknowledged, is
gone. The images sweep queues what still waits; every image must end hashed,
each once. Redis only: the filesystem broker cannot be restarted this way.
This drill restarts the shared Redis, losing everyone's queued messages.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from audit.models import AuditEvent
from registry.models import Image
from tests.conftest import client_for
from tests.images import image_bytes
from tests.reliability.processes import (
    redis_restart,
    shared_database_url,
    start_worker,
    stop,
    wait_for,
)

pytestmark = [
    pytest.mark.worker,
    pytest.mark.serial,
    pytest.mark.django_db(transaction=True),
]

IMAGES = 10


@pytest.mark.skipif(
    not settings.CELERY_BROKER_URL.startswith("redis")
    and "redis" not in os.environ.get("REQUIRE_SERVICES", ""),
    reason="needs the Redis broker (CI runs it)",
)
def test_every_image_is_fingerprinted_once_after_a_redis_restart(
    tmp_path, artist, holder
):
    response = client_for(artist).post(
        "/api/v1/portfolio/",
        {
            "files": [
                SimpleUploadedFile(f"a{i}.png", image_bytes(i, size=(640, 480)))
                for i in range(IMAGES)
            ]
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert Image.objects.filter(status=Image.Status.PENDING).count() == IMAGES

    def hashed() -> int:
        return Image.objects.filter(status=Image.Status.HASHED).count()

    worker = start_worker(
        tmp_path,
        "images",
        queues="images,celery",
        env={
            "DATABASE_URL": shared_database_url(),
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "QUEUE_SWEEP_SECONDS": "1",
            "QUEUE_STALE_SECONDS": "2",
        },
    )
    try:
        wait_for(lambda: hashed() >= 1, 60, "the first image hashed", every=0.02)
        redis_restart()
        back = time.monotonic()
        waiting = IMAGES - hashed()
        assert waiting > 0, "all were hashed before the restart; add images"
        wait_for(lambda: hashed() == IMAGES, 60, "every image hashed")
        took = time.monotonic() - back
        print(
            f"\nRedis back -> {waiting} waiting images hashed: {took:.1f} s"
            f" (QUEUE_STALE_SECONDS=2)"
        )
    finally:
        stop(worker)

    images = Image.objects.filter(work__owner=holder)
    assert images.filter(status=Image.Status.HASHED).count() == IMAGES
    assert not images.exclude(status=Image.Status.HASHED).exists()
    # Once each: one "fingerprinted" event per image and no re-run (a second
    # run of a hashed image returns early; a racing one would record a
    # refingerprint or leave a second thumbnail).
    events = AuditEvent.objects.filter(target_type="image")
    assert sorted(
        events.filter(action="image.fingerprint").values_list("target_id", flat=True)
    ) == sorted(images.values_list("pk", flat=True))
    assert not events.filter(action="image.refingerprint").exists()
    thumbs = [p for p in Path(settings.MEDIA_ROOT).rglob("*.jpg") if p.is_file()]
    assert len(thumbs) == IMAGES
    assert took < 30
