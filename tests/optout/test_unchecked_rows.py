"""Rows that could not be checked are never passed on as clean.

Each manifest below holds rows the readers cannot fully check (text that is not
UTF-8, a broken quote, a line that is not JSON, a malformed hash, an image that
does not decode). They run through the real pipeline (upload, ingest, chunks,
finalize); the filtered manifest is compared row by row with what the report
says is removed, and the report, the receipt, the job page and the API say in
words what was not checked.
"""

from __future__ import annotations

import io
import tarfile
from collections import Counter

from django.urls import reverse

from optout.models import Chunk, Manifest, MatchJob, UncheckedRow
from optout.services import match_chunk_run
from optout.services.jobs import OTHER_REASONS, count_reason
from tests.images import image_bytes

from .helpers import (
    EXACT_URL,
    output_bytes,
    removed_by_report,
    report_rows,
    run_job,
    start_job,
    upload,
    webdataset_tar,
)

HEADER = b"url,caption\n"
LATIN1_RECORDS = [
    b"https://free.example/0.jpg,a cat\n",
    "https://alice.example/art/2.jpg,café\n".encode("latin-1"),
    # Its caption is not UTF-8 either, but its URL is claimed (prefix): the
    # URL is still checked, and the match removes the row whatever is kept.
    "https://alice.example/gallery/7.jpg,crème\n".encode("latin-1"),
    b"https://free.example/3.jpg,a dog\n",
]


def filtered_text_follows_report(
    job: MatchJob, header: bytes, records: list[bytes]
) -> set[int]:
    """The filtered file is the header plus every record the report keeps."""
    removed = removed_by_report(report_rows(job))
    kept = b"".join(r for i, r in enumerate(records) if i not in removed)
    assert output_bytes(job, "filtered") == header + kept
    return removed


def unchecked_lines(job: MatchJob) -> list[tuple[int, str, str, str, str]]:
    """(row, signal, field, reason, removed) of the report's unchecked lines."""
    lines = [r for r in report_rows(job) if r["kind"] == "unchecked"]
    assert all(r["level"] == "unchecked" for r in lines)
    return [
        (int(r["row"]), r["signal"], r["field"], r["reason"], r["removed"])
        for r in lines
    ]


def page(client, job: MatchJob) -> str:
    return client.get(reverse("job_detail", args=[job.pk])).content.decode()


# --- CSV, JSONL ------------------------------------------------------------------


def test_a_csv_row_that_is_not_utf8_is_reported_unchecked_and_left_out(
    client, curator, registry
):
    job = run_job(start_job(curator, HEADER + b"".join(LATIN1_RECORDS), name="m.csv"))

    assert job.state == MatchJob.State.SUCCEEDED, job.failure_reason
    removed = filtered_text_follows_report(job, HEADER, LATIN1_RECORDS)
    assert removed == {1, 2}
    assert unchecked_lines(job) == [
        (1, "caption", "caption", "caption is not valid UTF-8", "True"),
        (2, "caption", "caption", "caption is not valid UTF-8", "True"),
    ]
    assert [
        (r["row"], r["kind"]) for r in report_rows(job) if r["kind"] != "unchecked"
    ] == [("2", "prefix")]
    assert job.rows_unchecked == 2
    receipt = job.receipt["payload"]
    assert receipt["rows"] == {
        "total": 4,
        "checked": 2,
        "removed": 2,
        "kept_for_review": 0,
        "opt_in": 0,
        "unchecked": 2,
        "unchecked_passed_on": 0,
        "unchecked_removed": 1,
        "in_filtered": 2,
    }
    assert receipt["keep_unchecked"] is False
    assert receipt["unchecked_reasons"] == {"caption is not valid UTF-8": 2}
    client.force_login(curator)
    text = page(client, job)
    assert "2 rows could not be checked" in text
    assert "They are left out of the filtered manifest." in text
    assert "No row of this manifest is in the registry" not in text


def test_kept_unchecked_rows_are_passed_on_and_said_so(client, curator, registry):
    job = run_job(
        start_job(
            curator,
            HEADER + b"".join(LATIN1_RECORDS),
            name="m.csv",
            keep_unchecked=True,
        )
    )

    assert job.keep_unchecked is True
    removed = filtered_text_follows_report(job, HEADER, LATIN1_RECORDS)
    assert removed == {2}  # the prefix match; row 1 is passed on as asked
    assert [line[4] for line in unchecked_lines(job)] == ["False", "False"]
    receipt = job.receipt["payload"]
    assert receipt["keep_unchecked"] is True
    assert receipt["rows"]["unchecked_passed_on"] == 1
    assert receipt["rows"]["unchecked_removed"] == 0
    assert receipt["rows"]["in_filtered"] == 3
    assert "1 row was passed on unchecked" in " ".join(receipt["warnings"])
    client.force_login(curator)
    text = page(client, job)
    assert "1 row was passed on unchecked" in text
    assert "No row of this manifest is in the registry" not in text


def test_a_csv_row_with_an_unterminated_quote_is_unchecked_with_all_it_swallowed(
    curator, registry
):
    records = [
        b"https://free.example/0.jpg,ok\n",
        # The open quote runs to the end of the file: one broken record that
        # holds a claimed URL on one of its lines.
        b'https://free.example/1.jpg,"broken\n'
        + EXACT_URL.encode()
        + b",a harbour\nhttps://free.example/3.jpg,fine\n",
    ]

    job = run_job(start_job(curator, HEADER + b"".join(records), name="m.csv"))

    assert job.rows_total == 2
    assert filtered_text_follows_report(job, HEADER, records) == {1}
    ((row, signal, field, reason, removed),) = unchecked_lines(job)
    assert (row, signal, field, removed) == (1, "row", "", "True")
    assert reason.startswith("malformed CSV row: ")
    assert job.receipt["payload"]["rows"]["unchecked"] == 1


def test_a_jsonl_line_that_is_not_json_is_unchecked_and_left_out(curator, registry):
    records = [
        b'{"url": "https://free.example/0.jpg", "caption": "a"}\n',
        b'{"url": "' + EXACT_URL.encode() + b'", "caption": "b"\n',
        b'{"url": "https://free.example/2.jpg", "caption": "c"}\n',
    ]

    job = run_job(start_job(curator, b"".join(records), name="m.jsonl"))

    assert filtered_text_follows_report(job, b"", records) == {1}
    ((row, signal, _, reason, removed),) = unchecked_lines(job)
    assert (row, signal, removed) == (1, "row", "True")
    assert reason.startswith("line is not valid JSON: ")


def test_a_malformed_hash_leaves_only_that_hash_unchecked(curator, registry):
    header = b"url,caption,phash\n"
    records = [
        b"https://free.example/0.jpg,a cat,xyz\n",
        EXACT_URL.encode() + b",a harbour,12345\n",  # the URL is still checked
        b"https://free.example/2.jpg,a dog,0000000000000000\n",
    ]

    job = run_job(start_job(curator, header + b"".join(records), name="m.csv"))

    assert filtered_text_follows_report(job, header, records) == {0, 1}
    assert [r["kind"] for r in report_rows(job) if r["row"] == "1"] == [
        "url",
        "unchecked",
    ]
    assert [line[:3] for line in unchecked_lines(job)] == [
        (0, "phash", "phash"),
        (1, "phash", "phash"),
    ]


def test_an_img2dataset_row_that_failed_to_download_is_still_checked_by_url(
    curator, registry
):
    header = b"url,caption,status\n"
    records = [
        EXACT_URL.encode() + b",a harbour,failed_to_download\n",
        b"https://free.example/1.jpg,a cat,failed_to_download\n",
        b"https://free.example/2.jpg,a dog,success\n",
    ]

    job = run_job(start_job(curator, header + b"".join(records), name="m.csv"))

    assert filtered_text_follows_report(job, header, records) == {0}
    assert [r["kind"] for r in report_rows(job)] == ["url"]
    assert job.rows_unchecked == 0


# --- WebDataset shards -------------------------------------------------------------


def shard_keys(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return list(dict.fromkeys(name.split(".")[0] for name in tar.getnames()))


def broken_shard() -> bytes:
    not_an_image = b"\xff\xd8\xff\xe0 this is not a JPEG after all"
    return webdataset_tar(
        [
            ("000000000", not_an_image, {"url": "https://free.example/0.jpg"}),
            ("000000001", not_an_image, {"url": EXACT_URL}),
            ("000000002", image_bytes(3, "JPEG"), {"url": "https://free.example/2"}),
        ]
    )


def test_a_shard_image_that_does_not_decode_is_unchecked_but_its_url_is_checked(
    curator, registry
):
    job = run_job(start_job(curator, broken_shard(), name="00000.tar"))

    report = report_rows(job)
    assert [(r["row"], r["kind"]) for r in report] == [
        ("0", "unchecked"),
        ("1", "url"),
        ("1", "unchecked"),
    ]
    assert [line[:3] for line in unchecked_lines(job)] == [
        (0, "image", "000000000.jpg"),
        (1, "image", "000000001.jpg"),
    ]
    assert unchecked_lines(job)[0][3].startswith("image does not decode: ")
    removed = removed_by_report(report)
    assert removed == {0, 1}
    filtered = output_bytes(job, "filtered")
    keys = ["000000000", "000000001", "000000002"]
    assert shard_keys(filtered) == [k for i, k in enumerate(keys) if i not in removed]


def test_a_kept_undecodable_shard_image_is_passed_on(curator, registry):
    job = run_job(
        start_job(curator, broken_shard(), name="00000.tar", keep_unchecked=True)
    )

    assert removed_by_report(report_rows(job)) == {1}
    assert shard_keys(output_bytes(job, "filtered")) == ["000000000", "000000002"]
    assert job.receipt["payload"]["rows"]["unchecked_passed_on"] == 1


# --- columns ---------------------------------------------------------------------


def test_a_manifest_without_a_url_column_is_checked_with_a_warning(
    client, curator_client, curator, registry
):
    data = b"image_link,caption\n" + EXACT_URL.encode() + b",a harbour\n"
    job = run_job(start_job(curator, data, name="m.csv"))
    warning = "URLs were not checked: no URL column; found columns: image_link, caption"

    assert job.state == MatchJob.State.SUCCEEDED
    receipt = job.receipt["payload"]
    assert receipt["warnings"] == [warning]
    assert receipt["columns"] == {"caption": "caption"}
    assert receipt["columns_unused"] == ["image_link"]
    assert receipt["signals_not_checked"] == [
        "url",
        "sha256",
        "md5",
        "phash",
        "pdq",
        "image",
    ]
    body = curator_client.get(f"/api/v1/jobs/{job.pk}/").json()
    assert body["warnings"] == [warning]
    assert body["columns"] == {
        "used": {"caption": "caption"},
        "unused": ["image_link"],
        "not_checked": ["url", "sha256", "md5", "phash", "pdq", "image"],
    }
    client.force_login(curator)
    text = page(client, job)
    assert warning in text
    assert "No row of this manifest is in the registry" not in text


def test_a_fully_checked_manifest_without_matches_says_no_row_is_in_the_registry(
    client, curator, registry
):
    data = HEADER + b"https://free.example/0.jpg,a cat\n"
    job = run_job(start_job(curator, data, name="m.csv"))

    client.force_login(curator)
    assert "No row of this manifest is in the registry." in page(client, job)
    assert job.receipt["payload"]["warnings"] == []
    assert job.receipt["payload"]["columns"] == {"url": "url", "caption": "caption"}


def test_a_manifest_with_nothing_to_check_is_refused_naming_its_columns(
    curator_client,
):
    response = curator_client.post(
        "/api/v1/manifests/",
        {"files": [upload("m.csv", b"image_link,width\nhttps://a.example/x,3\n")]},
        format="multipart",
    )

    assert response.status_code == 400
    message = response.json()["message"]
    assert "URLs were not checked: no URL column" in message
    assert "found columns: image_link, width" in message
    assert "no caption, hash or image column either" in message


def test_a_job_whose_manifest_has_nothing_to_check_fails_saying_so(curator, registry):
    job = start_job(
        curator, HEADER + b"https://free.example/0.jpg,a cat\n", name="m.csv"
    )
    # A mapping edited after the upload (or stored before the upload's check).
    Manifest.objects.filter(pk=job.manifest_id).update(columns={"key": "url"})

    job = run_job(job)

    assert job.state == MatchJob.State.FAILED
    assert job.failure_reason.startswith(
        "no usable column: URLs were not checked: no URL column; found columns: "
        "url, caption, and no caption, hash or image column either"
    )
    assert not job.outputs.exists()


def test_reasons_are_counted_but_not_without_bound(curator, registry):
    # A URL's reason quotes the URL: a column of bad URLs would otherwise make
    # one reason per row in the job's and the receipt's counts.
    records = [f"not-a-url-{i},a cat\n".encode() for i in range(60)]

    job = run_job(start_job(curator, HEADER + b"".join(records), name="m.csv"))

    assert job.rows_unchecked == 60
    assert len(job.unchecked_reasons) == 50
    assert job.unchecked_reasons["other reasons (see the report)"] == 11
    assert sum(job.receipt["payload"]["unchecked_reasons"].values()) == 60
    assert len(unchecked_lines(job)) == 60  # the report has every one
    assert filtered_text_follows_report(job, HEADER, records) == set(range(60))


def test_merged_reason_counts_keep_their_bound_in_any_order():
    # A chunk's counts come back from a JSON column, in the database's order.
    chunk = {f"reason {i:02d}": 1 for i in range(49)} | {OTHER_REASONS: 11}
    for items in (list(chunk.items()), list(reversed(chunk.items()))):
        reasons: Counter[str] = Counter()
        for reason, n in items:
            count_reason(reasons, reason, n)
        assert len(reasons) == 50
        assert reasons[OTHER_REASONS] == 11


# --- retries -----------------------------------------------------------------------


def test_a_retried_chunk_stores_its_unchecked_rows_once(curator, registry):
    job = run_job(start_job(curator, HEADER + b"".join(LATIN1_RECORDS), name="m.csv"))
    assert UncheckedRow.objects.filter(job=job).count() == 2
    MatchJob.objects.filter(pk=job.pk).update(state=MatchJob.State.RUNNING)
    (chunk,) = Chunk.objects.filter(job=job)
    Chunk.objects.filter(pk=chunk.pk).update(state=Chunk.State.PENDING)

    assert match_chunk_run(chunk_id=chunk.pk) == "done"

    assert UncheckedRow.objects.filter(job=job).count() == 2
