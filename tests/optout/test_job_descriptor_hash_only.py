"""An image registered by its hashes and the descriptor `manage.py fingerprint`
printed on the artist's machine: with MATCH_DESCRIPTOR on, a shard's copy of
it is found by the descriptor and listed as `possible` with its similarity
(there is no original to verify against), never verified and never removed by
default. A hash-only image whose descriptor is of another model is left out of
descriptor matching, and the job still runs.

The shipped model (descriptor-v1) is weak: unrelated artworks can reach the
`possible` threshold too, so these tests assert what it does reliably: a
re-encoded or lightly resized copy comes out above 0.95.
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

from optout.snapshots import build_snapshot
from registry.models import Image
from tests.workers.verify_images import artwork, jpeg_bytes
from workers.engine import descriptor

from .helpers import run_job, start_job, webdataset_tar

pytestmark = pytest.mark.django_db

SEED = 31


def fingerprint_json(path) -> dict:
    out = io.StringIO()
    call_command("fingerprint", "--json", str(path), stdout=out)
    return json.loads(out.getvalue())


def register(client, tmp_path, seed: int, title: str) -> Image:
    """Register artwork `seed` as the artist would: fingerprint it locally,
    POST the command's JSON with a title."""
    path = tmp_path / f"art-{seed}.png"
    artwork(seed).save(path, format="PNG")
    response = client.post(
        "/api/v1/images/hashes/",
        {**fingerprint_json(path), "title": title},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return Image.objects.get(pk=response.json()["id"])


def shard(*rows: tuple[str, bytes]) -> bytes:
    return webdataset_tar(
        [
            (key, data, {"url": f"https://cdn.example/{key}.jpg", "status": "success"})
            for key, data in rows
        ]
    )


def descriptor_matches(client, job) -> dict[str, dict]:
    body = client.get(f"/api/v1/jobs/{job.pk}/matches/?kind=descriptor").json()
    return {m["key"]: m for m in body["results"] if m["kind"] == "descriptor"}


@override_settings(MATCH_DESCRIPTOR=True)
def test_a_copy_of_a_hash_only_image_is_a_possible_descriptor_match(
    artist_client, curator, curator_client, tmp_path
):
    image = register(artist_client, tmp_path, SEED, "Private piece")
    assert image.descriptor_version == descriptor.version()

    job = run_job(
        start_job(
            curator,
            shard(
                ("reencoded", jpeg_bytes(artwork(SEED), 85)),
                ("resized", jpeg_bytes(artwork(SEED).resize((384, 288)), 85)),
            ),
            name="shard-00000.tar",
        )
    )
    assert job.state == "succeeded", job.failure_reason
    assert job.thresholds["descriptor_model"] == descriptor.version()

    found = descriptor_matches(curator_client, job)
    assert set(found) == {"reencoded", "resized"}
    for match in found.values():
        assert match["image"] == image.pk
        assert match["level"] == "possible"
        assert match["inliers"] is None  # nothing to verify against
        assert match["similarity"] >= settings.MATCH_DESCRIPTOR_POSSIBLE
        assert match["similarity"] > 0.95
        assert match["removed"] is False

    # the report lists them, and the rows stay in the filtered shard
    report = list(
        csv.DictReader(
            io.StringIO(job.outputs.get(kind="report_csv").file.read().decode())
        )
    )
    rows = {r["key"]: r for r in report if r["kind"] == "descriptor"}
    assert {k: r["level"] for k, r in rows.items()} == {
        "reencoded": "possible",
        "resized": "possible",
    }
    assert float(rows["resized"]["similarity"]) == found["resized"]["similarity"]
    assert not any(m["level"] in ("verified", "strong") for m in found.values()), (
        "a hash-only image has no original to verify against"
    )


@override_settings(MATCH_DESCRIPTOR=True)
def test_a_hash_only_descriptor_of_another_model_is_skipped_not_fatal(
    artist_client, curator, curator_client, tmp_path
):
    current = register(artist_client, tmp_path, SEED, "Current")
    stale = register(artist_client, tmp_path, SEED + 1, "Described by an old model")
    Image.objects.filter(pk=stale.pk).update(
        descriptor_version="descriptor-v0:000000000000:r6"
    )

    snapshot = build_snapshot(revision=1)
    assert snapshot.descriptor_version == descriptor.version()
    assert snapshot.sizes()["descriptors"] == len(descriptor.REGIONS)  # one image

    job = run_job(
        start_job(
            curator,
            shard(
                ("current", jpeg_bytes(artwork(SEED), 85)),
                ("stale", jpeg_bytes(artwork(SEED + 1), 85)),
            ),
            name="shard-00000.tar",
        )
    )
    assert job.state == "succeeded", job.failure_reason
    found = descriptor_matches(curator_client, job)
    assert found["current"]["image"] == current.pk
    assert found["current"]["level"] == "possible"
    assert all(m["image"] != stale.pk for m in found.values())
