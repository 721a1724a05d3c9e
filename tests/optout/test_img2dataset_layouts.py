"""img2dataset's two layouts of the same data remove the same rows.

Tried by a user: a resized and a mirrored copy of registered works were found
as verified in img2dataset's tar output and kept in its Parquet output. Here
the real img2dataset downloads the same URLs (copies, an unrelated picture and
a dead link) from a local server twice, as tar shards with their sidecars and
as Parquet with embedded images; each folder is one job, and both remove the
copies, at the same level, row by row against their reports.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from django.core.management import call_command

from core.uploads import bytes_file
from optout.models import MatchJob
from optout.services import manifest_upload, match_job_start
from registry.services import image_fingerprint, portfolio_upload
from tests.img2dataset_output import run_img2dataset
from tests.workers.verify_images import artwork, jpeg_bytes, mirror

from .helpers import report_rows, run_job, upload

pytestmark = pytest.mark.django_db


def jpeg(img, quality: int = 90) -> bytes:
    return jpeg_bytes(img, quality)


@pytest.fixture
def registered(holder):
    result = portfolio_upload(
        owner=holder,
        files=[bytes_file(f"art-{s}.jpg", jpeg(artwork(s))) for s in (1, 2)],
    )
    return [image_fingerprint(image_id=i.pk) for i in result.images]


SERVED = {
    "resized.jpg": jpeg(artwork(1).resize((384, 288))),
    "mirrored.jpg": jpeg(mirror(artwork(2)), quality=60),
    "unrelated.jpg": jpeg(artwork(40)),
    "other.jpg": jpeg(artwork(41)),
}
COPIES = {"resized.jpg", "mirrored.jpg"}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> dict[str, tuple[Path, dict[str, str]]]:
    work = tmp_path_factory.mktemp("img2dataset")
    return {
        fmt: run_img2dataset(work, SERVED, output_format=fmt, per_shard=3)
        for fmt in ("webdataset", "parquet")
    }


def check_folder(curator, folder: Path) -> MatchJob:
    files = [upload(p.name, p.read_bytes()) for p in sorted(folder.iterdir())]
    manifest = manifest_upload(owner=curator, files=files)
    job = run_job(match_job_start(manifest=manifest, owner=curator))
    assert job.state == "succeeded", job.failure_reason
    return job


def removed_urls(job: MatchJob) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for line in report_rows(job):
        if line["removed"] == "True":
            out.setdefault(line["url"], set()).add(line["level"])
    return out


def output(job: MatchJob, name: str) -> bytes:
    with job.outputs.get(name=name).file.open("rb") as fh:
        return fh.read()


def test_both_layouts_remove_the_same_copies_at_the_same_level(
    curator, registered, outputs
):
    tar_folder, urls = outputs["webdataset"]
    parquet_folder, parquet_urls = outputs["parquet"]
    name_of = {u: n for n, u in urls.items()} | {u: n for n, u in parquet_urls.items()}

    tar_job = check_folder(curator, tar_folder)
    parquet_job = check_folder(curator, parquet_folder)

    tar_removed = {name_of[u]: lv for u, lv in removed_urls(tar_job).items()}
    parquet_removed = {name_of[u]: lv for u, lv in removed_urls(parquet_job).items()}
    assert set(tar_removed) == COPIES
    assert parquet_removed == tar_removed
    assert all("verified" in levels for levels in parquet_removed.values())
    assert parquet_job.manifest.columns["image"] == "jpg"
    assert parquet_job.receipt["payload"]["columns"]["image"] == "jpg"


def test_the_filtered_parquet_lacks_exactly_the_removed_rows(
    curator, registered, outputs
):
    folder, _ = outputs["parquet"]
    job = check_folder(curator, folder)
    removed = {
        (line["file"], int(line["row"]))
        for line in report_rows(job)
        if line["removed"] == "True"
    }
    assert len(removed) == len(COPIES)

    parts = sorted(p.name for p in folder.glob("*.parquet"))
    assert [p.original_name for p in job.manifest.parts.all()] == parts
    for name in parts:
        original = pd.read_parquet(folder / name)
        filtered = pd.read_parquet(io.BytesIO(output(job, name)))
        kept = [r for r in range(len(original)) if (name, r) not in removed]
        assert filtered["url"].tolist() == original["url"].iloc[kept].tolist()
        assert filtered["jpg"].tolist() == original["jpg"].iloc[kept].tolist()
        stats = json.loads(output(job, name.replace(".parquet", "_stats.json")))
        assert stats["count"] == len(filtered)
        assert stats["successes"] == int((filtered["status"] == "success").sum())
        assert stats["filtered"]["rows_removed"] == len(original) - len(filtered)


def test_tar_shards_sidecars_describe_the_filtered_shards(curator, registered, outputs):
    folder, urls = outputs["webdataset"]
    job = check_folder(curator, folder)

    shards = sorted(p.name for p in folder.glob("*.tar"))
    assert [p.original_name for p in job.manifest.parts.all()] == shards
    kept_urls = set()
    for shard in shards:
        metadata = pd.read_parquet(
            io.BytesIO(output(job, shard.replace(".tar", ".parquet")))
        )
        stats = json.loads(output(job, shard.replace(".tar", "_stats.json")))
        assert (metadata["status"] == "success").all()  # no unchecked failed row
        assert stats["count"] == stats["successes"] == len(metadata)
        kept_urls |= set(metadata["url"])
    names = {urls[n] for n in SERVED} - {urls[n] for n in COPIES}
    assert kept_urls == names


def test_check_manifest_on_an_img2dataset_parquet_folder_removes_the_copies(
    registered, outputs, tmp_path
):
    folder, urls = outputs["parquet"]
    out = io.StringIO()

    call_command(
        "check_manifest",
        str(folder),
        "--out",
        str(tmp_path),
        stdout=out,
        stderr=io.StringIO(),
    )

    assert "image <- jpg" in out.getvalue()
    kept = set()
    for part in sorted((tmp_path / "filtered").glob("*.parquet")):
        kept |= set(pd.read_parquet(part)["url"])
    assert kept == set(urls.values()) - {urls[n] for n in COPIES}
