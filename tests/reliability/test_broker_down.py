"""Drill: uploads while the broker is down lose nothing. The rows and files
stay, the answer is a success, and the work is done once the broker is back
(the sweep queues it; a real worker does it)."""

from __future__ import annotations

import os
import time
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from core.uploads import bytes_file
from disputes.models import DisputeEvidence
from disputes.services import evidence_sweep
from registry.models import Image
from registry.services import images_sweep
from tests.conftest import client_for
from tests.disputes.helpers import open_dispute, prefix_claim
from tests.images import image_bytes
from tests.reliability.broker import broker_down

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(predicate, timeout: float = 60) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_a_portfolio_uploaded_while_the_broker_is_down_is_kept_and_done_later(
    artist, holder, settings, celery_worker
):
    client = client_for(artist)
    with broker_down():
        response = client.post(
            "/api/v1/portfolio/",
            {
                "files": [
                    SimpleUploadedFile(f"a{i}.png", image_bytes(i)) for i in (1, 2)
                ]
            },
            format="multipart",
        )
    # Not a 500: the database is the source of truth, and it has the upload.
    assert response.status_code == 201, response.content
    images = list(Image.objects.filter(work__owner=holder))
    assert len(images) == 2
    assert all(i.status == Image.Status.PENDING for i in images)
    assert all(os.path.exists(i.original.path) for i in images)

    # The broker is back; the sweep finds the work whose message never left.
    Image.objects.update(queued_at=timezone.now() - timedelta(hours=1))
    assert images_sweep() == {"requeued": 2, "failed": 0, "unqueued": 0}
    took = wait_for(
        lambda: Image.objects.filter(status=Image.Status.HASHED).count() == 2
    )
    assert took < 60
    # Done once: a second sweep finds nothing to do.
    assert images_sweep() == {"requeued": 0, "failed": 0, "unqueued": 0}


def test_the_sweep_backs_off_and_gives_up_with_a_reason(holder, settings, artist):
    settings.QUEUE_STALE_SECONDS = 60
    settings.QUEUE_MAX_ATTEMPTS = 2
    client = client_for(artist)
    with broker_down():
        client.post(
            "/api/v1/portfolio/",
            {"files": [SimpleUploadedFile("a.png", image_bytes(3))]},
            format="multipart",
        )
        image = Image.objects.get()
        # Just queued: nothing to do yet.
        assert images_sweep() == {"requeued": 0, "failed": 0, "unqueued": 0}
        Image.objects.update(queued_at=timezone.now() - timedelta(seconds=61))
        # Still down: tried again, counted, not lost.
        assert images_sweep() == {"requeued": 0, "failed": 0, "unqueued": 1}
        # The wait doubles: 61 s after the second try is not yet due.
        Image.objects.update(queued_at=timezone.now() - timedelta(seconds=61))
        assert images_sweep()["unqueued"] == 0
        Image.objects.update(queued_at=timezone.now() - timedelta(seconds=121))
        assert images_sweep() == {"requeued": 0, "failed": 1, "unqueued": 0}
    image.refresh_from_db()
    assert image.status == Image.Status.FAILED
    assert image.failure_reason.startswith(
        "fingerprinting was queued 2 times without finishing"
    )
    assert os.path.exists(image.original.path)


def test_dispute_evidence_sent_while_the_broker_is_down_is_processed_later(
    holder, other_artist, celery_worker
):
    claim = prefix_claim(holder)
    with broker_down():
        dispute = open_dispute(
            other_artist,
            f"claim:{claim.pk}",
            files=[bytes_file("mine.png", image_bytes(4))],
        )
    evidence = dispute.evidence.get()
    assert evidence.status == DisputeEvidence.Status.PROCESSING
    DisputeEvidence.objects.update(queued_at=timezone.now() - timedelta(hours=1))
    assert evidence_sweep() == {"requeued": 1, "failed": 0, "unqueued": 0}
    wait_for(
        lambda: (
            DisputeEvidence.objects.get(pk=evidence.pk).status
            == DisputeEvidence.Status.DONE
        )
    )
    evidence.refresh_from_db()
    assert evidence.is_image and evidence.phash


def test_a_manifest_uploaded_while_the_broker_is_down_is_checked_later(
    curator_client, holder, celery_worker
):
    from optout.models import MatchJob
    from optout.services import match_sweep
    from tests.optout.helpers import enforce, laion_parquet, upload

    enforce(holder)
    with broker_down():
        response = curator_client.post(
            "/api/v1/manifests/",
            {"files": [upload("part-00000.parquet", laion_parquet())]},
            format="multipart",
        )
    # Accepted (before: a 500 HTML page for a job that then ran anyway).
    assert response.status_code == 201, response.content
    job = MatchJob.objects.get(pk=response.json()["job"]["id"])
    assert job.state == MatchJob.State.QUEUED

    MatchJob.objects.filter(pk=job.pk).update(
        created=timezone.now() - timedelta(hours=1)
    )
    assert match_sweep()["ingest"] == 1
    wait_for(
        lambda: MatchJob.objects.get(pk=job.pk).state == MatchJob.State.SUCCEEDED,
        timeout=120,
    )
    assert MatchJob.objects.get(pk=job.pk).matches.exists()


def test_check_now_while_the_broker_is_down_says_it_was_not_queued(artist, holder):
    """No sweep retries an owner's "Check now" of an unverified domain, so a
    check that could not be queued must not be answered as queued."""
    from django.urls import reverse

    from registry.services import claim_create

    claim = claim_create(owner=holder, kind="domain", value="alice.example")
    client = client_for(artist)
    with broker_down():
        response = client.post(f"/api/v1/claims/{claim.pk}/check/")
        assert response.status_code == 503, response.content
        assert response["Retry-After"] == "30"
        assert response.json()["code"] == "queue_unavailable"
        assert "could not be queued" in response.json()["message"]

        page = client_for(artist)
        page.force_login(artist)
        response = page.post(reverse("claim_check", args=[claim.pk]), follow=True)
    text = response.content.decode()
    assert "the check could not be queued" in text
    assert "Checking alice.example now" not in text
