"""Perceptual matches carry a level and its figures, in the matches API, the
reports and the filtered manifest; the curator chooses which levels remove rows.

A WebDataset shard of edited copies of registered artworks: a rotated copy and a
mirrored, recompressed copy (both verified by local features against the stored
originals), a copy of an artwork registered by its hashes alone (possible by
default, strong where the registry allows strong hash matches: nothing
to verify against), a look-alike and an unrelated picture (no match).
"""

from __future__ import annotations

import csv
import io
import json
import tarfile

import pytest
from django.core.management import call_command

from core.uploads import bytes_file
from optout.models import Match
from optout.services import match_job_start
from registry.models import Image
from registry.services import image_fingerprint, image_register_hashes, portfolio_upload
from tests.workers.verify_images import (
    artwork,
    icon,
    jpeg_bytes,
    lookalike,
    mirror,
    rotate,
    watermark,
)
from workers.engine import fingerprint as fp

from .helpers import run_job, start_job, webdataset_tar

pytestmark = pytest.mark.django_db


def jpeg(img, quality: int = 85) -> bytes:
    return jpeg_bytes(img, quality)


def png(img) -> bytes:
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def registered(holder):
    """Artworks 1 and 2 uploaded (originals stored), artwork 3 by hashes alone."""
    result = portfolio_upload(
        owner=holder,
        files=[bytes_file(f"art-{s}.png", png(artwork(s))) for s in (1, 2)],
    )
    images = [image_fingerprint(image_id=i.pk) for i in result.images]
    prints = fp.fingerprint_bytes(png(artwork(3)), thumbnail_size=None).fingerprints
    hashed = image_register_hashes(
        owner=holder, title="Private piece", hashes={"pdq": prints.pdq.hex()}
    )
    assert all(image.features for image in images)
    # Hashed before features were stored: the worker computes them itself.
    Image.objects.filter(pk=images[1].pk).update(features="")
    return {"art1": images[0], "art2": images[1], "art3": hashed}


def shard() -> bytes:
    rows = [
        ("rotated", jpeg(rotate(artwork(1), 6, expand=False))),
        ("mirrored", jpeg(mirror(artwork(2)), quality=50)),
        ("hash-only", jpeg(artwork(3).resize((384, 288)))),
        ("lookalike", jpeg(lookalike(1))),
        ("unrelated", jpeg(artwork(40))),
    ]
    return webdataset_tar(
        [
            (key, data, {"url": f"https://cdn.example/{key}.jpg", "status": "success"})
            for key, data in rows
        ]
    )


def by_key(job) -> dict[str, list[Match]]:
    out: dict[str, list[Match]] = {}
    for m in Match.objects.filter(job=job).order_by("row", "kind"):
        out.setdefault(m.key, []).append(m)
    return out


def test_a_shard_job_gives_each_perceptual_match_a_level_and_figures(
    curator, curator_client, registered, client, settings
):
    job = run_job(start_job(curator, shard(), name="shard-00000.tar"))
    assert job.state == "succeeded", job.failure_reason

    found = by_key(job)
    assert set(found) == {"rotated", "mirrored", "hash-only"}
    for key, image in (("rotated", "art1"), ("mirrored", "art2")):
        pdq = next(m for m in found[key] if m.kind == "pdq")
        assert pdq.image_id == registered[image].pk
        assert pdq.level == "verified"
        assert pdq.inliers >= 16
        assert pdq.coverage >= settings.MATCH_MIN_COVERAGE
        assert pdq.variant
    assert next(m for m in found["mirrored"] if m.kind == "pdq").variant.startswith(
        ("flipx", "canonical+mirror")
    )
    hash_only = next(m for m in found["hash-only"] if m.kind == "pdq")
    assert hash_only.image_id == registered["art3"].pk
    assert (hash_only.level, hash_only.inliers) == ("possible", None)
    assert (hash_only.agreement, hash_only.coverage) == (None, None)
    assert hash_only.distance <= 31

    # the matches API shows the same figures
    body = curator_client.get(f"/api/v1/jobs/{job.pk}/matches/?level=verified").json()
    assert {m["key"] for m in body["results"]} == {"rotated", "mirrored"}
    assert all(m["inliers"] >= 16 and m["removed"] for m in body["results"])
    rotated = next(m for m in found["rotated"] if m.kind == "pdq")
    shown = next(
        m for m in body["results"] if m["key"] == "rotated" and m["kind"] == "pdq"
    )
    assert (shown["inliers"], shown["agreement"], shown["coverage"]) == (
        rotated.inliers,
        rotated.agreement,
        rotated.coverage,
    )

    # the CSV report has a column for each figure
    csv_output = job.outputs.get(kind="report_csv")
    report = list(csv.DictReader(io.StringIO(csv_output.file.read().decode())))
    pdq_rows = {r["key"]: r for r in report if r["kind"] == "pdq"}
    assert pdq_rows["rotated"]["level"] == "verified"
    assert int(pdq_rows["rotated"]["inliers"]) >= 16
    assert pdq_rows["hash-only"]["level"] == "possible"
    assert pdq_rows["hash-only"]["inliers"] == ""
    assert pdq_rows["hash-only"]["removed"] == "False"
    assert float(pdq_rows["rotated"]["agreement"]) >= 0.5
    assert float(pdq_rows["rotated"]["coverage"]) == rotated.coverage
    assert pdq_rows["hash-only"]["coverage"] == ""

    # the job page shows the levels
    client.force_login(curator)
    page = client.get(f"/datasets/jobs/{job.pk}/").content.decode()
    assert "Perceptual matches by level" in page
    assert 'class="level level-verified">verified</span>' in page
    assert f"{rotated.inliers} inliers" in page
    assert f"agreement {rotated.agreement:.2f}" in page
    assert f"coverage {rotated.coverage:.2f}" in page
    assert job.receipt["payload"]["matches_by_level"]["verified"] >= 2


def filtered_keys(job) -> set[str]:
    data = job.outputs.get(kind="filtered").file.read()
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {name.rsplit(".", 1)[0] for name in tar.getnames()}


def test_possible_matches_are_listed_not_removed_unless_the_curator_asks(
    curator, registered, settings
):
    keep = run_job(start_job(curator, shard(), name="shard-00000.tar"))
    hash_only = next(m for m in by_key(keep)["hash-only"] if m.kind == "pdq")
    assert hash_only.level == "possible"
    assert filtered_keys(keep) == {"hash-only", "lookalike", "unrelated"}
    assert keep.receipt["payload"]["rows"]["kept_for_review"] == 1
    assert keep.receipt["payload"]["levels"]["remove"] == ["verified", "strong"]

    manifest = keep.manifest

    strict = run_job(
        match_job_start(
            manifest=manifest,
            owner=curator,
            remove_levels=["verified", "strong", "possible"],
        )
    )
    assert filtered_keys(strict) == {"lookalike", "unrelated"}
    report = [
        json.loads(line)
        for line in strict.outputs.get(kind="report_jsonl").file.read().splitlines()
    ]
    assert {r["key"] for r in report if r["level"] == "possible"} == {"hash-only"}


def test_a_registry_that_allows_strong_hash_matches_removes_them(
    curator, registered, settings
):
    settings.MATCH_PDQ_STRONG = 31
    job = run_job(start_job(curator, shard(), name="shard-00000.tar"))
    hash_only = next(m for m in by_key(job)["hash-only"] if m.kind == "pdq")
    assert hash_only.level == "strong"
    assert filtered_keys(job) == {"lookalike", "unrelated"}


def test_a_registry_that_asks_for_full_coverage_no_longer_verifies_a_copy(
    curator, registered, settings
):
    # A watermark hides its cells from the inliers: the copy covers less than
    # all of the overlap, but enough at the default.
    data = webdataset_tar(
        [
            (
                "watermarked",
                jpeg(watermark(artwork(1))),
                {"url": "https://cdn.example/watermarked.jpg", "status": "success"},
            )
        ]
    )
    default = run_job(start_job(curator, data, name="shard-00000.tar"))
    copy = next(m for m in by_key(default)["watermarked"] if m.kind == "pdq")
    assert copy.level == "verified"
    assert settings.MATCH_MIN_COVERAGE <= copy.coverage < 1.0
    assert filtered_keys(default) == set()

    settings.MATCH_MIN_COVERAGE = 1.0
    strict = run_job(start_job(curator, data, name="shard-00000.tar"))

    assert strict.state == "succeeded", strict.failure_reason
    assert not Match.objects.filter(job=strict, level="verified")
    assert filtered_keys(strict) == {"watermarked"}
    assert strict.thresholds["min_coverage"] == 1.0
    assert strict.receipt["payload"]["levels"]["min_coverage"] == "1.0"


def test_check_manifest_reports_the_figures_a_job_does(
    curator, registered, tmp_path, settings
):
    path = tmp_path / "shard-00000.tar"
    path.write_bytes(shard())
    out = tmp_path / "result"
    call_command("check_manifest", str(path), "--out", str(out), stdout=io.StringIO())
    with open(out / "matches.csv", newline="") as fh:
        local = list(csv.DictReader(fh))
    job = run_job(start_job(curator, shard(), name="shard-00000.tar"))
    csv_output = job.outputs.get(kind="report_csv")
    theirs = list(csv.DictReader(io.StringIO(csv_output.file.read().decode())))

    figures = ("key", "kind", "level", "inliers", "agreement", "coverage")
    assert [[r[f] for f in figures] for r in local] == [
        [r[f] for f in figures] for r in theirs
    ]
    rotated = next(r for r in local if (r["key"], r["kind"]) == ("rotated", "pdq"))
    assert float(rotated["coverage"]) >= settings.MATCH_MIN_COVERAGE


def test_unknown_levels_are_refused_with_the_field_named(curator, curator_client):
    response = curator_client.post(
        "/api/v1/manifests/",
        {
            "files": [io.BytesIO(shard())],
            "remove_levels": ["verified", "maybe"],
        },
        format="multipart",
    )
    assert response.status_code == 400
    body = response.json()
    assert "remove_levels" in body["extra"]["fields"]
    assert "maybe" in json.dumps(body)


def test_an_admin_reviewing_a_reported_match_sees_its_level_and_figures(
    curator, curator_client, registered, client, admin_user
):
    job = run_job(start_job(curator, shard(), name="shard-00000.tar"))
    rotated = next(m for m in by_key(job)["rotated"] if m.kind == "pdq")
    response = curator_client.post(
        f"/api/v1/matches/{rotated.pk}/report/",
        {"reason": "not_same_image", "text": "Another harbour."},
        format="json",
    )
    assert response.status_code == 201, response.json()

    client.force_login(admin_user)
    page = client.get(f"/review/reports/{response.json()['id']}/").content.decode()
    assert "<dt>Level</dt><dd>verified</dd>" in page
    assert f"<dt>Inliers</dt><dd>{rotated.inliers}</dd>" in page
    assert f"<dt>Agreement</dt><dd>{rotated.agreement:.2f}</dd>" in page
    assert f"<dt>Coverage</dt><dd>{rotated.coverage:.2f}</dd>" in page
    assert f"<dt>Variant</dt><dd>{rotated.variant}</dd>" in page


def test_a_registry_that_turns_on_dense_alignment_verifies_a_small_turned_copy(
    curator, curator_client, holder, client, settings
):
    # A 96 px icon turned 6 degrees on a larger canvas: its keypoints cover
    # too little of the copy (the canvas's corners add their own), but its
    # thumbnail, aligned densely on the original's, agrees.
    original = icon(2)
    (uploaded,) = portfolio_upload(
        owner=holder, files=[bytes_file("icon.png", png(original))]
    ).images
    image_fingerprint(image_id=uploaded.pk)
    turned = rotate(original, 6, expand=True)
    data = webdataset_tar(
        [
            (
                "turned",
                jpeg(turned, quality=40),
                {"url": "https://cdn.example/turned.jpg", "status": "success"},
            ),
            (
                "other",
                jpeg(rotate(icon(52), 6, expand=True), quality=40),
                {"url": "https://cdn.example/other.jpg", "status": "success"},
            ),
        ]
    )

    def verified(job) -> list[Match]:
        return [m for m in by_key(job).get("turned", []) if m.level == "verified"]

    default = run_job(start_job(curator, data, name="shard-00000.tar"))
    assert default.state == "succeeded", default.failure_reason
    assert verified(default) == []
    assert all(m.alignment is None for m in by_key(default).get("turned", []))
    assert default.receipt["payload"]["levels"]["min_alignment"] is None

    settings.MATCH_MIN_ALIGNMENT = 0.95
    job = run_job(start_job(curator, data, name="shard-00000.tar"))

    assert job.state == "succeeded", job.failure_reason
    copy = next(m for m in verified(job) if m.kind == "pdq")
    assert copy.image_id == uploaded.pk
    assert copy.coverage < settings.MATCH_MIN_COVERAGE
    assert copy.alignment >= 0.95
    assert not any(m.level == "verified" for m in by_key(job).get("other", []))
    assert filtered_keys(job) == {"other"}
    assert job.receipt["payload"]["levels"]["min_alignment"] == "0.95"
    report = [
        json.loads(line)
        for line in job.outputs.get(kind="report_jsonl").file.read().splitlines()
    ]
    line = next(r for r in report if r["key"] == "turned" and r["kind"] == "pdq")
    assert line["alignment"] == copy.alignment and line["removed"] is True
    body = curator_client.get(f"/api/v1/jobs/{job.pk}/matches/?level=verified").json()
    (shown,) = [
        m for m in body["results"] if m["key"] == "turned" and m["kind"] == "pdq"
    ]
    assert shown["alignment"] == copy.alignment
    client.force_login(curator)
    page = client.get(f"/datasets/jobs/{job.pk}/").content.decode()
    assert f"alignment {copy.alignment:.2f}" in page

    # A job created before the setting existed (no min_alignment among its
    # thresholds) keeps the rule it was created with.
    older = start_job(curator, data, name="shard-00000.tar")
    thresholds = dict(older.thresholds)
    del thresholds["min_alignment"]
    type(older).objects.filter(pk=older.pk).update(thresholds=thresholds)
    older = run_job(older)
    assert older.state == "succeeded", older.failure_reason
    assert verified(older) == []
