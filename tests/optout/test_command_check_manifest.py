"""manage.py check_manifest: the whole matching, locally, without Celery or storage."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from optout.models import Manifest, Match, MatchJob
from optout.selectors import receipt_keys
from registry.selectors import registry_revision_current
from workers.engine.receipts import verify_receipt

from .helpers import KEPT_URLS, laion_parquet, read_parquet, run_job, start_job


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "laion-part.parquet"
    path.write_bytes(laion_parquet())
    return path


def check(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("check_manifest", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_writes_the_reports_the_filtered_manifest_and_a_receipt(
    manifest, tmp_path, registry
):
    out_dir = tmp_path / "result"

    stdout, stderr = check(str(manifest), "--out", str(out_dir))

    assert (
        "7 rows checked, 4 to remove (domain 1, phash 1, prefix 1, style 1, url 1)."
        in (stdout)
    )
    assert "7 / 7 rows (100%)" in stderr
    assert "rows/s" in stderr
    with open(out_dir / "matches.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["row"], r["kind"]) for r in rows] == [
        ("0", "url"),
        ("1", "prefix"),
        ("2", "domain"),
        ("3", "style"),
        ("4", "phash"),
    ]
    assert rows[4]["work_id"] == str(registry.image.work_id)
    assert (out_dir / "matches.jsonl").exists()
    assert (out_dir / "matches.parquet").exists()
    (filtered,) = (out_dir / "filtered").iterdir()
    table = read_parquet(filtered.read_bytes())
    assert table.column("URL").to_pylist() == KEPT_URLS
    assert table.schema == read_parquet(manifest.read_bytes()).schema
    signed = json.loads((out_dir / "receipt.json").read_text())
    receipt = verify_receipt(signed, receipt_keys()).payload
    assert receipt["job"] is None
    assert receipt["registry"]["revision"] == registry_revision_current()
    assert receipt["rows"]["total"] == 7
    assert receipt["rows"]["removed"] == 4
    assert receipt["thresholds"]["phash"] == 8
    assert receipt["thresholds"]["pdq"] == 40
    assert [(f["name"], f["rows"]) for f in receipt["manifest"]["files"]] == [
        (manifest.name, 7)
    ]
    listed = {o["name"]: o["sha256"] for o in receipt["outputs"]}
    assert listed[filtered.name] == hashlib.sha256(filtered.read_bytes()).hexdigest()
    assert receipt["matches"] == {
        "url": 1,
        "prefix": 1,
        "domain": 1,
        "style": 1,
        "phash": 1,
    }
    assert stdout.strip().endswith(str(out_dir / "receipt.json"))


def test_it_stores_nothing_in_the_database(manifest, tmp_path, registry):
    check(str(manifest), "--out", str(tmp_path / "result"))

    assert not Manifest.objects.exists()
    assert not MatchJob.objects.exists()
    assert not Match.objects.exists()


def test_its_receipt_has_the_fields_of_a_jobs_receipt(
    manifest, tmp_path, curator, registry
):
    check(str(manifest), "--out", str(tmp_path / "result"))
    signed = json.loads((tmp_path / "result" / "receipt.json").read_text())
    job = run_job(start_job(curator))
    receipt, theirs = signed["payload"], job.receipt["payload"]

    assert set(signed) == set(job.receipt)
    assert signed["key_id"] == job.receipt["key_id"]
    assert set(receipt) == set(theirs)
    assert set(receipt["manifest"]) == set(theirs["manifest"])
    assert receipt["manifest"]["sha256"] == job.manifest_sha256
    assert receipt["manifest"]["files"] == theirs["manifest"]["files"]
    for field in (
        "rows",
        "matches",
        "thresholds",
        "levels",
        "registry",
        "columns",
        "checks",
        "software",
    ):
        assert receipt[field] == theirs[field], field


def test_a_tighter_phash_threshold_is_used(manifest, tmp_path, registry):
    out_dir = tmp_path / "result"

    check(str(manifest), "--out", str(out_dir), "--phash", "0", "--pdq", "10")

    receipt = json.loads((out_dir / "receipt.json").read_text())["payload"]
    assert receipt["thresholds"]["phash"] == 0
    assert receipt["thresholds"]["pdq"] == 10
    assert receipt["matches"]["phash"] == 1  # distance 0 still matches


def test_column_overrides_name_the_files_columns(tmp_path, registry):
    path = tmp_path / "export.csv"
    path.write_text(
        "link,words\nhttps://alice.example/art/harbour.png,x\nhttps://free.example/1,y\n"
    )
    out_dir = tmp_path / "result"

    stdout, _ = check(
        str(path),
        "--out",
        str(out_dir),
        "--columns",
        '{"url": "link", "caption": "words"}',
    )

    assert "2 rows checked, 1 to remove (url 1)." in stdout
    assert (out_dir / "filtered" / "export.csv").read_text().splitlines() == [
        "link,words",
        "https://free.example/1,y",
    ]


def test_it_prints_the_columns_it_used_and_those_it_did_not(
    manifest, tmp_path, registry
):
    stdout, _ = check(str(manifest), "--out", str(tmp_path / "result"))

    assert "Columns used: url <- URL, caption <- TEXT, phash <- phash" in stdout
    assert "Not checked, for want of a column: sha256, md5, pdq, image" in stdout
    assert "Found but not used: WIDTH, HEIGHT, similarity" in stdout
    assert "Warning" not in stdout


def test_it_warns_when_urls_are_not_checked(tmp_path, registry):
    path = tmp_path / "export.csv"
    path.write_text("image_link,caption\nhttps://alice.example/art/harbour.png,x\n")
    out_dir = tmp_path / "result"

    stdout, _ = check(str(path), "--out", str(out_dir))

    warning = "URLs were not checked: no URL column; found columns: image_link, caption"
    assert f"Warning: {warning}." in stdout
    receipt = json.loads((out_dir / "receipt.json").read_text())["payload"]
    assert receipt["warnings"] == [warning]
    assert receipt["columns_unused"] == ["image_link"]


LATIN1 = (
    b"url,caption\n"
    b"https://free.example/0.jpg,a cat\n"
    b"https://free.example/1.jpg,caf\xe9\n"
    b"https://alice.example/art/harbour.png,cr\xe8me\n"
    b"https://free.example/3.jpg,a dog\n"
)


@pytest.mark.parametrize(
    ("args", "kept", "said"),
    [
        (
            [],
            [0, 3],
            "2 rows could not be checked in full (listed in the reports as "
            "unchecked): 1 left out for that alone.",
        ),
        (
            ["--keep-unchecked"],
            [0, 1, 3],
            "2 rows could not be checked in full (listed in the reports as "
            "unchecked): 1 passed on unchecked (--keep-unchecked).",
        ),
    ],
)
def test_unchecked_rows_are_left_out_unless_kept(tmp_path, registry, args, kept, said):
    path = tmp_path / "m.csv"
    path.write_bytes(LATIN1)
    out_dir = tmp_path / "result"

    stdout, _ = check(str(path), "--out", str(out_dir), *args)

    assert said in stdout
    assert f"4 rows read, 2 checked in full, {4 - len(kept)} to remove (url 1)." in (
        stdout
    )
    with open(out_dir / "matches.csv", newline="") as fh:
        report = list(csv.DictReader(fh))
    assert [(r["row"], r["kind"], r["signal"]) for r in report] == [
        ("1", "unchecked", "caption"),
        ("2", "url", ""),
        ("2", "unchecked", "caption"),
    ]
    removed = {int(r["row"]) for r in report if r["removed"] == "True"}
    records = LATIN1.split(b"\n")[1:-1]
    assert (out_dir / "filtered" / "m.csv").read_bytes() == b"url,caption\n" + b"".join(
        records[i] + b"\n" for i in range(4) if i not in removed
    )
    assert sorted(set(range(4)) - removed) == kept
    receipt = json.loads((out_dir / "receipt.json").read_text())["payload"]
    assert receipt["rows"]["unchecked"] == 2
    assert receipt["keep_unchecked"] is bool(args)
    assert receipt["rows"]["unchecked_passed_on"] == (1 if args else 0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--phash", "9"], "--phash must be from 0 to 8"),
        (
            ["--columns", "url=URL"],
            '--columns must be a JSON object, e.g. {"url": "URL"}',
        ),
        (
            ["--columns", '{"link": "URL"}'],
            "--columns: unknown column 'link'; use one of caption, image, key, md5, "
            "pdq, phash, sha256, url",
        ),
    ],
)
def test_bad_options_are_refused(manifest, tmp_path, db, args, message):
    with pytest.raises(CommandError) as exc:
        check(str(manifest), "--out", str(tmp_path / "result"), *args)

    assert str(exc.value) == message


def test_a_missing_file_is_refused(tmp_path, db):
    with pytest.raises(CommandError, match="nowhere.parquet: no such file"):
        check(str(tmp_path / "nowhere.parquet"))


def test_an_unreadable_file_is_refused_naming_it(tmp_path, db):
    path = tmp_path / "notes.bin"
    path.write_bytes(b"\x00\x01\x02 not a manifest")

    with pytest.raises(CommandError, match=r"^notes\.bin: "):
        check(str(path), "--out", str(tmp_path / "result"))
