"""Every layout as it comes: many files make one manifest in every format.

A LAION folder of 32 Parquet parts, CSV and JSONL parts, a ZIP of parts, and
img2dataset-style sidecars; rows are named by file, row and index; the filtered
output keeps the files and their names; bad layouts are refused naming the file.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from optout.models import Manifest, MatchJob
from optout.services import manifest_upload, match_job_start

from .helpers import (
    EXACT_URL,
    PREFIX,
    download,
    laion_parquet,
    read_parquet,
    report_rows,
    run_job,
    upload,
    wait_for_job,
)

URL = "/api/v1/manifests/"
PARTS = 32
PER_PART = 4
# (part, row in it) -> URL of a row that a claim removes, planted in some parts,
# in the forms artists mean: http for https, www., a query string.
PLANTED = {
    (0, 0): EXACT_URL,
    (3, 2): EXACT_URL.replace("https://", "http://"),
    (17, 1): PREFIX + "2021/boats.jpg",
    (30, 3): PREFIX.replace("https://", "https://www.") + "x.png",
    (31, 0): EXACT_URL + "?w=512",
}


def _parquet(columns: dict) -> bytes:
    out = io.BytesIO()
    pq.write_table(pa.table(columns), out)
    return out.getvalue()


def part_name(i: int) -> str:
    return f"part-{i:05d}-5114fd87-297e-42b0-9d11-50f1df323dfa-c000.snappy.parquet"


def part_rows(i: int) -> list[tuple[str, str, str | None]]:
    return [
        (PLANTED.get((i, r), f"https://free.example/{i}/{r}.jpg"), f"row {r}", None)
        for r in range(PER_PART)
    ]


def laion_folder() -> dict[str, bytes]:
    return {part_name(i): laion_parquet(part_rows(i)) for i in range(PARTS)}


def expected_removed() -> set[tuple[str, int]]:
    return {(part_name(p), r) for p, r in PLANTED}


def check_reports_and_outputs(report, filtered: dict[str, bytes], parts) -> None:
    """Row by row: a part's filtered file holds exactly the rows the report
    does not remove, under the part's own name."""
    removed = {(r["file"], int(r["row"])) for r in report if r["removed"] == "True"}
    assert removed == expected_removed()
    for line in report:
        index = sum(PER_PART for name in parts if name < line["file"])
        assert int(line["index"]) == index + int(line["row"])
    assert list(filtered) == list(parts)
    for name, data in parts.items():
        urls = read_parquet(data).column("URL").to_pylist()
        kept = [u for r, u in enumerate(urls) if (name, r) not in removed]
        assert read_parquet(filtered[name]).column("URL").to_pylist() == kept


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_laion_folder_of_32_parquet_parts_is_one_job_with_its_files_kept(
    celery_worker, curator_client, registry
):
    parts = laion_folder()

    response = curator_client.post(
        URL,
        {"files": [upload(name, data) for name, data in parts.items()]},
        format="multipart",
    )

    assert response.status_code == 201, response.json()
    job = wait_for_job(curator_client, response.json()["job"]["url"])
    assert job["state"] == "succeeded", job["failure_reason"]
    assert job["rows_total"] == PARTS * PER_PART
    by_kind: dict[str, list[dict]] = {}
    for output in job["outputs"]:
        by_kind.setdefault(output["kind"], []).append(output)
    report = list(
        csv.DictReader(
            io.StringIO(
                download(curator_client, by_kind["report_csv"][0]["url"]).decode()
            )
        )
    )
    filtered = {
        o["name"]: download(curator_client, o["url"]) for o in by_kind["filtered"]
    }
    check_reports_and_outputs(report, dict(sorted(filtered.items())), parts)
    files = job["receipt"]["payload"]["manifest"]["files"]
    assert [(f["name"], f["rows"]) for f in files] == [
        (name, PER_PART) for name in parts
    ]


@pytest.mark.django_db
def test_a_zip_of_the_parts_is_the_same_manifest_and_spark_markers_are_ignored(
    curator, registry
):
    parts = laion_folder()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("laion/_SUCCESS", b"")
        for name, data in reversed(parts.items()):  # a ZIP's order is not the rows'
            zf.writestr(f"laion/{name}", data)
            zf.writestr(f"laion/.{name}.crc", b"crc")

    manifest = manifest_upload(
        owner=curator, files=[upload("laion.zip", archive.getvalue())]
    )
    job = run_job(match_job_start(manifest=manifest, owner=curator))

    assert manifest.name == "laion.zip"
    assert [p.original_name for p in manifest.parts.all()] == sorted(parts)
    filtered = {
        o.name: output_bytes_named(job, o.name)
        for o in job.outputs.filter(kind="filtered")
    }
    check_reports_and_outputs(report_rows(job), dict(sorted(filtered.items())), parts)


def output_bytes_named(job: MatchJob, name: str) -> bytes:
    with job.outputs.get(name=name).file.open("rb") as fh:
        return fh.read()


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_text_parts_are_numbered_per_file_and_keep_their_names(curator, registry, fmt):
    def text(urls: list[str]) -> bytes:
        if fmt == "csv":
            return ("url,caption\n" + "".join(f"{u},x\n" for u in urls)).encode()
        return "".join(
            json.dumps({"url": u, "caption": "x"}) + "\n" for u in urls
        ).encode()

    files = {
        f"a.{fmt}": text(["https://free.example/1.jpg", EXACT_URL]),
        f"b.{fmt}": text(
            [EXACT_URL.replace("https", "http"), "https://free.example/2.jpg"]
        ),
    }
    manifest = manifest_upload(
        owner=curator, files=[upload(n, d) for n, d in files.items()]
    )
    job = run_job(match_job_start(manifest=manifest, owner=curator))

    report = report_rows(job)
    assert [(r["file"], r["row"], r["index"], r["kind"]) for r in report] == [
        (f"a.{fmt}", "1", "1", "url"),
        (f"b.{fmt}", "0", "2", "url"),
    ]
    assert output_bytes_named(job, f"a.{fmt}") == text(["https://free.example/1.jpg"])
    assert output_bytes_named(job, f"b.{fmt}") == text(["https://free.example/2.jpg"])


def stats(count: int) -> bytes:
    return json.dumps(
        {
            "count": count,
            "successes": count,
            "failed_to_download": 0,
            "failed_to_resize": 0,
            "status_dict": {"success": count},
        }
    ).encode()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            [("a.parquet", laion_parquet()), ("b.csv", b"url\nhttps://x.example/1\n")],
            "b.csv: a CSV part among Parquet parts (a.parquet); the parts of one "
            "manifest share one format",
        ),
        (
            [("00000_stats.json", stats(3)), ("00001.parquet", laion_parquet())],
            "00000_stats.json: img2dataset statistics without their shard; upload "
            "00000.tar or 00000.parquet with it, or leave it out",
        ),
        (
            [("00000.parquet", laion_parquet()), ("00000_stats.json", b"[1, 2]")],
            "00000_stats.json: not img2dataset statistics (a JSON object)",
        ),
        (
            [
                ("a.parquet", laion_parquet()),
                ("b.parquet", _parquet({"TEXT": ["no url here"]})),
            ],
            "column 'URL' for url is missing",
        ),
    ],
    ids=["mixed formats", "stats alone", "stats not an object", "column missing"],
)
def test_a_bad_layout_is_refused_naming_the_file_and_nothing_is_kept(
    curator_client, files, message, settings
):
    response = curator_client.post(
        URL, {"files": [upload(n, d) for n, d in files]}, format="multipart"
    )

    assert response.status_code == 400
    assert message in response.json()["message"]
    assert not Manifest.objects.exists()
    assert not any(Path(settings.MEDIA_ROOT).rglob("manifests/*/*"))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("members", "message"),
    [
        (
            {"a/x.parquet": laion_parquet(), "b/x.parquet": laion_parquet()},
            "x.parquet: two files have this name",
        ),
        (
            {"inner.zip": b"PK\x03\x04" + b"\0" * 40},
            "laion.zip: inner.zip: nested ZIP archives are not accepted",
        ),
        ({"_SUCCESS": b""}, "laion.zip: the ZIP archive holds no manifest file"),
    ],
    ids=["same name twice", "nested zip", "only markers"],
)
def test_a_bad_zip_is_refused_naming_the_member(curator_client, members, message):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)

    response = curator_client.post(
        URL, {"files": [upload("laion.zip", archive.getvalue())]}, format="multipart"
    )

    assert response.status_code == 400
    assert message in response.json()["message"]
    assert not Manifest.objects.exists()


@pytest.mark.django_db
def test_a_corrupt_zip_is_refused(curator_client):
    response = curator_client.post(
        URL,
        {"files": [upload("laion.zip", b"PK\x03\x04 not really")]},
        format="multipart",
    )

    assert response.status_code == 400
    assert response.json()["message"] == "laion.zip: not a valid ZIP archive"


@pytest.mark.django_db
def test_the_web_form_takes_the_parts_of_one_manifest(client, curator):
    client.force_login(curator)
    parts = {part_name(i): laion_parquet(part_rows(i)) for i in range(3)}

    response = client.post(
        reverse("manifest_upload"),
        {"files": [upload(n, d) for n, d in parts.items()]},
    )

    assert response.status_code == 302
    manifest = Manifest.objects.get()
    assert [p.original_name for p in manifest.parts.all()] == list(parts)
    assert manifest.format == "parquet"


@pytest.mark.django_db
def test_tar_shards_with_their_sidecars_are_filtered_together(curator, registry):
    from .helpers import webdataset_tar

    image = b"\xff\xd8\xff not decoded here"
    samples = {
        "00000": [("000000", EXACT_URL), ("000001", "https://free.example/1.jpg")],
        "00001": [
            ("000010", "https://free.example/2.jpg"),
            ("000011", PREFIX + "a.jpg"),
        ],
    }
    files = []
    for shard, rows in samples.items():
        files.append(
            (
                f"{shard}.tar",
                webdataset_tar(
                    [(k, image, {"url": u, "caption": "x"}) for k, u in rows]
                ),
            )
        )
        meta = {
            "key": [k for k, _ in rows] + [f"{shard}99"],
            "url": [u for _, u in rows] + ["https://gone.example/x.jpg"],
            "status": ["success"] * len(rows) + ["failed_to_download"],
        }
        files.append((f"{shard}.parquet", _parquet(meta)))
        files.append((f"{shard}_stats.json", stats(len(rows) + 1)))

    manifest = manifest_upload(owner=curator, files=[upload(n, d) for n, d in files])
    job = run_job(
        match_job_start(manifest=manifest, owner=curator, keep_unchecked=True)
    )

    assert [p.original_name for p in manifest.parts.all()] == ["00000.tar", "00001.tar"]
    assert sorted(manifest.sidecars.values_list("original_name", "part")) == [
        ("00000.parquet", 0),
        ("00000_stats.json", 0),
        ("00001.parquet", 1),
        ("00001_stats.json", 1),
    ]
    sidecars = {
        o.name: output_bytes_named(job, o.name)
        for o in job.outputs.filter(kind="sidecar")
    }
    # The metadata keeps the rows of the samples its shard kept, and no
    # failed download (an unchecked URL).
    assert read_parquet(sidecars["00000.parquet"]).column("key").to_pylist() == [
        "000001"
    ]
    assert read_parquet(sidecars["00001.parquet"]).column("key").to_pylist() == [
        "000010"
    ]
    restated = json.loads(sidecars["00000_stats.json"])
    assert restated["count"] == restated["successes"] == 1
    assert restated["status_dict"] == {"success": 1}
    assert restated["filtered"] == {"rows_before": 2, "rows_removed": 1}
    payload = job.receipt["payload"]
    assert [s["name"] for s in payload["manifest"]["sidecars"]] == [
        "00000.parquet",
        "00000_stats.json",
        "00001.parquet",
        "00001_stats.json",
    ]
    assert {o["name"] for o in payload["outputs"] if o["kind"] == "sidecar"} == set(
        sidecars
    )


@pytest.mark.django_db
def test_check_manifest_takes_a_folder_a_glob_and_the_levels_to_remove(
    tmp_path, registry
):
    folder = tmp_path / "laion"
    folder.mkdir()
    parts = {part_name(i): laion_parquet(part_rows(i)) for i in range(4)}
    for name, data in parts.items():
        (folder / name).write_bytes(data)
    (folder / "_SUCCESS").write_bytes(b"")
    out, err = io.StringIO(), io.StringIO()

    call_command(
        "check_manifest",
        str(folder),
        "--out",
        str(tmp_path / "a"),
        stdout=out,
        stderr=err,
    )

    assert "Columns used: url <- URL, caption <- TEXT" in out.getvalue()
    assert "not part of the manifest: _SUCCESS" in err.getvalue()
    assert sorted(p.name for p in (tmp_path / "a" / "filtered").iterdir()) == list(
        parts
    )
    with open(tmp_path / "a" / "matches.csv", newline="") as fh:
        report = list(csv.DictReader(fh))
    assert {(r["file"], int(r["row"])) for r in report} == {
        (part_name(0), 0),
        (part_name(3), 2),
    }

    call_command(
        "check_manifest",
        str(folder / "part-0000[01]-*.parquet"),
        "--out",
        str(tmp_path / "b"),
        "--remove-levels",
        "verified,strong,possible",
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    receipt = json.loads((tmp_path / "b" / "receipt.json").read_text())
    assert [f["name"] for f in receipt["payload"]["manifest"]["files"]] == [
        part_name(0),
        part_name(1),
    ]
    assert receipt["payload"]["levels"]["remove"] == ["verified", "strong", "possible"]

    with pytest.raises(CommandError, match="--remove-levels: unknown level 'sure'"):
        call_command("check_manifest", str(folder), "--remove-levels", "sure")
    with pytest.raises(CommandError, match="no file matches"):
        call_command("check_manifest", str(tmp_path / "none-*.parquet"))


@pytest.mark.django_db
def test_a_file_name_of_any_length_and_script_is_kept_for_downloads(
    client, curator, registry
):
    name = "é" * 250 + ".csv"  # 500 bytes: over what a file system takes
    data = ("url,caption\n" + f"{EXACT_URL},x\nhttps://free.example/1.jpg,y\n").encode()

    manifest = manifest_upload(owner=curator, files=[upload(name, data)])
    job = run_job(match_job_start(manifest=manifest, owner=curator))

    assert job.state == "succeeded", job.failure_reason
    (output,) = job.outputs.filter(kind="filtered")
    assert output.name == name
    assert (
        output_bytes_named(job, name) == b"url,caption\nhttps://free.example/1.jpg,y\n"
    )
    client.force_login(curator)
    response = client.get(f"/datasets/jobs/{job.pk}/outputs/{output.pk}/")
    assert response.status_code == 200
    assert "filename*=utf-8''" + "%C3%A9" * 10 in response["Content-Disposition"]
