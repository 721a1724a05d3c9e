"""Drills: the disk full under manifest and dispute evidence uploads. A real
filesystem of 1 MB (tmpfs, mounted by the test as root: `small_disk` of
test_faults.py), filled by a file the test writes.

What users see: an upload that does not fit is a 507 (JSON under /api/, words
on the pages) and keeps no row and no file, the one cut short included.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from disputes.models import Dispute, DisputeEvidence
from optout.models import Manifest, MatchJob
from tests.disputes.helpers import prefix_claim
from tests.optout.helpers import upload
from tests.reliability import test_faults
from tests.reliability.test_faults import files_under, noise_png

pytestmark = pytest.mark.django_db

PAGE = 4096

# A real 1 MB filesystem (tmpfs), mounted as root; skipped elsewhere outside CI.
small_disk = test_faults.small_disk


def fill(disk: Path, *, leave: int) -> Path:
    """Fill `disk` but `leave` bytes (whole pages); returns the filler file."""
    stat = os.statvfs(disk)
    filler = disk / "filler"
    filler.write_bytes(b"\0" * (stat.f_bavail * stat.f_frsize - leave))
    return filler


def big_csv(rows: int) -> bytes:
    """A CSV manifest of `rows` rows (about 50 bytes each)."""
    lines = ["url,caption"] + [
        f"https://free.example/{i:08d}.jpg,photo number {i}" for i in range(rows)
    ]
    return ("\n".join(lines) + "\n").encode()


def test_a_manifest_upload_on_a_full_disk_is_a_507_and_keeps_nothing(
    small_disk, settings, curator, curator_client
):
    settings.MEDIA_ROOT = str(small_disk)
    filler = fill(small_disk, leave=4 * PAGE)
    data = big_csv(2000)  # about 100 KB: a part is written, then the disk is full
    assert len(data) > 20 * PAGE

    response = curator_client.post(
        "/api/v1/manifests/", {"files": [upload("big.csv", data)]}, format="multipart"
    )

    assert response.status_code == 507
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "storage_full"
    assert "storage is full" in response.json()["message"]
    assert not Manifest.objects.exists() and not MatchJob.objects.exists()
    assert files_under(small_disk) == [filler]


def test_the_manifest_page_says_so_in_words(small_disk, settings, client, curator):
    settings.MEDIA_ROOT = str(small_disk)
    filler = fill(small_disk, leave=PAGE)
    client.force_login(curator)

    response = client.post(
        reverse("manifest_upload"), {"files": upload("big.csv", big_csv(2000))}
    )

    assert response.status_code == 507
    assert "The registry&#x27;s storage is full" in response.content.decode()
    assert not Manifest.objects.exists()
    assert files_under(small_disk) == [filler]


def dispute_form(claim_pk: int) -> dict:
    return {
        "target": f"claim:{claim_pk}",
        "grounds": "too_broad",
        "statement": "The prefix covers other people's pages on a shared host.",
        # The first file fits, the second is cut short by the full disk.
        "files": [
            SimpleUploadedFile("small.png", noise_png(1, side=40)),
            SimpleUploadedFile("scan.png", noise_png(2)),
        ],
    }


def test_dispute_evidence_on_a_full_disk_is_a_507_and_opens_no_dispute(
    small_disk, settings, holder, curator_client
):
    # A dispute is opened with its evidence or not at all: opened without it,
    # the claimant's response time would run against a dispute missing what
    # shows it, and the disputer could not add the files later.
    claim = prefix_claim(holder)
    settings.MEDIA_ROOT = str(small_disk)
    filler = fill(small_disk, leave=3 * PAGE)

    response = curator_client.post(
        "/api/v1/disputes/", dispute_form(claim.pk), format="multipart"
    )

    assert response.status_code == 507
    assert response.json()["code"] == "storage_full"
    assert not Dispute.objects.exists() and not DisputeEvidence.objects.exists()
    assert files_under(small_disk) == [filler]


def test_the_dispute_page_says_so_in_words(
    small_disk, settings, client, holder, curator
):
    claim = prefix_claim(holder)
    settings.MEDIA_ROOT = str(small_disk)
    filler = fill(small_disk, leave=3 * PAGE)
    client.force_login(curator)

    response = client.post(
        reverse("dispute_new") + f"?target=claim:{claim.pk}", dispute_form(claim.pk)
    )

    assert response.status_code == 507
    assert "The registry&#x27;s storage is full" in response.content.decode()
    assert not Dispute.objects.exists()
    assert files_under(small_disk) == [filler]
