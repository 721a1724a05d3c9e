"""A curator's job reads what each image says about AI training in its own
metadata: a refusal removes the row, the report names the protocol and the
value, and the receipt lists the protocols checked."""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import webdataset as wds

from optout.models import Manifest
from optout.services import manifest_upload, match_job_start
from tests.images import image_bytes
from tests.signal_images import iptc_data_mining, rsl_licence, with_c2pa, with_xmp

from .helpers import (
    download,
    enforce,
    output_bytes,
    report_rows,
    run_job,
    upload,
    wait_for_job,
    webdataset_tar,
)


def samples() -> list[tuple[str, bytes, dict]]:
    def meta(n: int) -> dict:
        return {"url": f"https://free.example/{n}.jpg", "caption": f"picture {n}"}

    return [
        (
            "000000000",
            with_xmp(20, iptc_data_mining("DMI-PROHIBITED-AIMLTRAINING")),
            meta(0),
        ),
        ("000000001", image_bytes(21, "JPEG"), meta(1)),
        (
            "000000002",
            with_c2pa(
                22,
                {"cawg.ai_generative_training": "notAllowed"},
                label="cawg.training-mining",
            ),
            meta(2),
        ),
        ("000000003", with_xmp(23, iptc_data_mining("DMI-ALLOWED")), meta(3)),
        ("000000004", with_xmp(24, rsl_licence(permits="search")), meta(4)),
    ]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_images_that_refuse_training_are_removed_with_their_evidence(
    celery_worker, curator_client, holder, tmp_path
):
    enforce(holder)
    response = curator_client.post(
        "/api/v1/manifests/",
        {"files": [upload("00000.tar", webdataset_tar(samples()))]},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    job = wait_for_job(curator_client, response.json()["job"]["url"])
    assert job["state"] == "succeeded", job["failure_reason"]

    report = json.loads(
        "["
        + ",".join(
            download(
                curator_client,
                next(o["url"] for o in job["outputs"] if o["kind"] == "report_jsonl"),
            )
            .decode()
            .splitlines()
        )
        + "]"
    )
    signals = [
        (r["key"], r["source"], r["matched"], r["removed"])
        for r in report
        if r["kind"] == "signal"
    ]
    assert signals == [
        ("000000000", "iptc", "train-ai=n", True),
        ("000000002", "cawg", "train-ai=n", True),
        ("000000004", "rsl", "train-ai=n", True),
    ]
    evidence = {r["key"]: r["evidence"] for r in report if r["kind"] == "signal"}
    assert evidence["000000000"] == "DMI-PROHIBITED-AIMLTRAINING"
    assert evidence["000000002"] == (
        "cawg.ai_generative_training=notAllowed; manifest valid, signer on no "
        "trust list; signed by Harbour Artist"
    )
    assert evidence["000000004"] == "permits only search"
    assert all(r["claim_id"] is None and r["image_id"] is None for r in report)

    (filtered,) = [o for o in job["outputs"] if o["kind"] == "filtered"]
    path = tmp_path / filtered["name"]
    path.write_bytes(download(curator_client, filtered["url"]))
    kept = [s["__key__"] for s in wds.WebDataset(str(path), shardshuffle=False)]
    assert kept == ["000000001", "000000003"]

    payload = job["receipt"]["payload"]
    (metadata,) = [c for c in payload["checks"] if c["signal"] == "metadata"]
    assert metadata["protocols"] == ["iptc", "c2pa", "cawg", "rsl"]
    assert metadata["kinds"] == ["signal"]
    assert payload["matches"]["signal"] == 3
    assert payload["rows"]["removed"] == 3


@pytest.mark.django_db
def test_a_curator_can_read_fewer_protocols_or_none(curator, holder):
    enforce(holder)
    shard = webdataset_tar(samples())

    def removed_keys(signals) -> list[str]:
        manifest: Manifest = manifest_upload(
            owner=curator, files=[upload("00000.tar", shard)]
        )
        job = run_job(
            match_job_start(manifest=manifest, owner=curator, signals=signals)
        )
        assert job.state == job.State.SUCCEEDED, job.failure_reason
        assert job.thresholds["signals"] == (
            []
            if signals == ["none"]
            else [p for p in ("iptc", "c2pa", "cawg", "rsl") if p in signals]
        )
        return sorted(r["key"] for r in report_rows(job) if r["removed"] == "True")

    assert removed_keys(["iptc"]) == ["000000000"]
    assert removed_keys(["cawg", "rsl"]) == ["000000002", "000000004"]
    assert removed_keys(["none"]) == []


@pytest.mark.django_db
def test_signals_are_read_in_parquet_images_and_unreadable_metadata_is_unchecked(
    curator, holder
):
    enforce(holder)
    images = [
        with_xmp(30, iptc_data_mining("DMI-PROHIBITED"), "PNG"),
        image_bytes(31, "JPEG"),
        with_xmp(32, b"<x:xmpmeta><rdf:RDF><unclosed"),
    ]
    out = io.BytesIO()
    pq.write_table(
        pa.table(
            {
                "url": [f"https://free.example/p{i}.jpg" for i in range(3)],
                "jpg": pa.array(images, pa.binary()),
            }
        ),
        out,
    )
    manifest = manifest_upload(
        owner=curator, files=[upload("part.parquet", out.getvalue())]
    )
    job = run_job(match_job_start(manifest=manifest, owner=curator))
    assert job.state == job.State.SUCCEEDED, job.failure_reason
    lines = [
        (r["index"], r["kind"], r["source"], r["signal"]) for r in report_rows(job)
    ]
    assert lines == [("0", "signal", "iptc", ""), ("2", "unchecked", "", "metadata")]
    reason = next(r["reason"] for r in report_rows(job) if r["kind"] == "unchecked")
    assert reason.startswith("XMP packet is not well-formed XML")
    kept = pq.read_table(io.BytesIO(output_bytes(job, "filtered")))
    assert kept.column("url").to_pylist() == ["https://free.example/p1.jpg"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("sent", "message"),
    [
        (["none", "iptc"], "'none' reads no protocol; send it alone"),
        (["ai.txt"], '"ai.txt" is not a valid choice.'),
    ],
)
def test_a_bad_signals_field_is_refused_naming_it(curator_client, sent, message):
    response = curator_client.post(
        "/api/v1/manifests/",
        {
            "files": [upload("00000.tar", webdataset_tar(samples()[:1]))],
            "signals": sent,
        },
        format="multipart",
    )
    assert response.status_code == 400
    fields = response.json()["extra"]["fields"]
    assert list(fields) == ["signals"]
    assert message in str(fields["signals"])
    assert not Manifest.objects.exists()  # nothing stored for a refused request


@pytest.mark.django_db
def test_the_job_page_shows_who_said_it_and_offers_no_dispute(client, curator, holder):
    from django.urls import reverse

    from optout.models import Match

    enforce(holder)
    manifest = manifest_upload(
        owner=curator, files=[upload("00000.tar", webdataset_tar(samples()[:2]))]
    )
    job = run_job(match_job_start(manifest=manifest, owner=curator))
    match = Match.objects.get(job=job, kind="signal")
    client.force_login(curator)
    page = client.get(reverse("job_detail", args=[job.pk])).content.decode()
    assert "said by iptc" in page
    assert "DMI-PROHIBITED-AIMLTRAINING" in page
    report_url = reverse("match_report", args=[match.pk])
    assert f'href="{report_url}"' not in page
    response = client.post(report_url, {"reason": "not_same_image"})
    assert response.status_code == 400
    assert "the image&#x27;s or its publisher&#x27;s own statement" in (
        response.content.decode()
    )
