"""The worker path of dispute evidence: the request stores the files without
decoding them; the images worker fingerprints them after commit."""

from __future__ import annotations

import threading

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from disputes.models import Dispute, DisputeEvidence
from tests.conftest import client_for
from tests.disputes.helpers import (
    prefix_claim,
)
from tests.images import image_bytes
from tests.registry.test_image_fingerprint_worker import wait_for
from workers.engine import fingerprint as fp

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_evidence_is_stored_in_the_request_and_fingerprinted_by_the_worker(
    celery_worker, holder, curator, monkeypatch
):
    claim = prefix_claim(holder)
    decoded_in_request: list[int] = []
    real = fp.fingerprint_bytes
    request_thread = threading.get_ident()

    def watched(data: bytes, **kwargs):
        # The worker runs in a thread of this process: count the request's only.
        if threading.get_ident() == request_thread:
            decoded_in_request.append(len(data))
        return real(data, **kwargs)

    response = None
    with monkeypatch.context() as m:
        m.setattr("disputes.services.evidence.fingerprint_bytes", watched)
        response = client_for(curator).post(
            "/api/v1/disputes/",
            {
                "target": f"claim:{claim.pk}",
                "grounds": "too_broad",
                "statement": "Mine: I drew it in 2019 and the sketches are attached.",
                "files": [
                    SimpleUploadedFile("page.png", image_bytes(1)),
                    SimpleUploadedFile("note.txt", b"see the guests section"),
                ],
            },
            format="multipart",
        )
        assert response.status_code == 201, response.json()
        assert decoded_in_request == []
    body = response.json()
    # The answer is read after the commit that queued the work: the worker (a
    # thread here) may already have finished an item, never the request
    # (decoded_in_request above), so each is processing or done by the worker.
    assert {e["status"] for e in body["evidence"]} <= {"processing", "done"}
    assert len(body["evidence"]) == 2

    dispute = Dispute.objects.get(pk=body["id"])
    wait_for(
        lambda: (
            not dispute.evidence.filter(
                status=DisputeEvidence.Status.PROCESSING
            ).exists()
        )
    )
    evidence = {e.original_name: e for e in dispute.evidence.all()}
    expected = fp.fingerprint_bytes(image_bytes(1)).fingerprints
    assert evidence["page.png"].is_image
    assert evidence["page.png"].pdq == expected.pdq.hex()
    assert evidence["page.png"].phash == expected.phash.hex()
    with evidence["page.png"].thumbnail.open("rb") as fh:
        assert fh.read(3) == b"\xff\xd8\xff"  # a JPEG
    assert not evidence["note.txt"].is_image
    assert evidence["note.txt"].status == "done"


def test_evidence_fingerprinting_runs_on_the_images_queue():
    assert settings.CELERY_TASK_ROUTES["disputes.evidence_fingerprint"] == {
        "queue": "images"
    }
