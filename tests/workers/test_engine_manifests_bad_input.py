"""Bad manifests: what fails the job (ManifestRejected) and what skips a row."""

from __future__ import annotations

import gzip
import io
import json
import tarfile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.images import image_bytes, zip_bytes
from tests.workers.test_engine_manifests import (
    PHASH,
    by_row,
    csv_manifest,
    laion_parquet,
    read_all,
    sample,
    tar_with,
    webdataset_keys,
    webdataset_shards,
)
from workers.engine.manifests import (
    ManifestRejected,
    count_rows,
    detect_columns,
    plan_chunks,
    read_chunk,
    sniff,
    write_filtered,
)
from workers.engine.types import ManifestFormat, RowBatch

CSV = ManifestFormat.CSV
JSONL = ManifestFormat.JSONL
PARQUET = ManifestFormat.PARQUET
WEBDATASET = ManifestFormat.WEBDATASET
WANTED = "upload CSV, TSV, JSON Lines, Parquet or uncompressed WebDataset .tar shards"


def unchecked(batches: list[RowBatch]) -> list[dict[str, object]]:
    """What the batches could not check: row, signal, field and reason."""
    return [
        {"row": p.row, "signal": p.signal, "field": p.field, "message": p.reason}
        for b in batches
        for p in b.unchecked
    ]


# --- unknown formats ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.csv", b"", "the file is empty"),
        (
            "photo.csv",
            image_bytes(0, "PNG", size=(8, 8)),
            f"the file is a PNG image, not a manifest; {WANTED}",
        ),
        (
            "m.zip",
            zip_bytes({"m.csv": b"url\n"}),
            f"the file is a ZIP archive, not a manifest; {WANTED}",
        ),
        (
            "shard.tar.gz",
            # mtime 0: the same bytes (and test id) in every process.
            gzip.compress(b"x" * 600, mtime=0),
            f"the file is a gzip-compressed file, not a manifest; {WANTED}",
        ),
        (
            "m.bin",
            b"\x01\x02\x00\x03" * 100,
            f"the file holds binary data, not text; {WANTED}",
        ),
        (
            "m.csv",
            "url\nhttps://a.example/\n".encode("utf-16"),
            "the file is UTF-16 text, not a manifest; save it as UTF-8",
        ),
        (
            "m.csv",
            ("url,caption\n" + "https://a.example/,\u00e9t\u00e9\n" * 50).encode(
                "latin-1"
            ),
            "the file is not UTF-8 text; save it as UTF-8",
        ),
        (
            "m.json",
            b'[{"url": "https://a.example/"}]',
            "the file is a JSON array, not JSON Lines; write one JSON object per line",
        ),
        (
            "m.parquet",
            b"url\nhttps://a.example/\n",
            "the file is named .parquet but is not Parquet",
        ),
        (
            "s.tar",
            b"url\nhttps://a.example/\n",
            "the file is named .tar but is not a tar archive",
        ),
        ("m.csv", b"\n\n  \n", "the file holds no rows, only blank lines"),
    ],
)
def test_it_rejects_files_that_are_not_manifests(tmp_path, name, data, message):
    path = tmp_path / "upload"
    path.write_bytes(data)
    with pytest.raises(ManifestRejected) as exc:
        sniff(path, name)
    assert str(exc.value) == message


# --- parquet --------------------------------------------------------------------


def test_a_truncated_parquet_file_is_rejected(tmp_path):
    path = laion_parquet(tmp_path / "laion.parquet")
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ManifestRejected) as exc:
        sniff(path, path.name)
    assert str(exc.value) == "the Parquet file is truncated (it does not end with PAR1)"
    with pytest.raises(ManifestRejected, match=r"^not a readable Parquet file \("):
        detect_columns(path, PARQUET)


def test_a_parquet_file_with_corrupt_pages_fails_the_chunk_that_reads_them(tmp_path):
    path = tmp_path / "c.parquet"
    urls = [f"https://x.example/{i}/a/long/path" for i in range(200)]
    pq.write_table(
        pa.table({"url": urls}),
        path,
        compression="snappy",
        row_group_size=100,
        use_dictionary=False,
    )
    column = pq.ParquetFile(path).metadata.row_group(1).column(0)
    data = bytearray(path.read_bytes())
    data[column.data_page_offset + 40 : column.data_page_offset + 140] = b"\xff" * 100
    path.write_bytes(bytes(data))
    first, second = plan_chunks([path], PARQUET, target_rows=100)
    assert (
        sum(len(b) for b in read_chunk([path], PARQUET, first, {"url": "url"})) == 100
    )
    with pytest.raises(ManifestRejected, match=r"^row groups 1-1 cannot be read \("):
        list(read_chunk([path], PARQUET, second, {"url": "url"}))


def test_a_parquet_file_with_no_usable_column_is_rejected(tmp_path):
    path = tmp_path / "sizes.parquet"
    pq.write_table(pa.table({"WIDTH": [1], "HEIGHT": [2], "hash": [3]}), path)
    with pytest.raises(ManifestRejected) as exc:
        detect_columns(path, PARQUET)
    assert str(exc.value) == (
        "no usable column: URLs were not checked: no URL column; found columns: "
        "WIDTH, HEIGHT, hash, and no caption, hash or image column either; name "
        'yours with a column mapping, e.g. {"url": "image_link"}'
    )


def test_an_override_naming_a_missing_column_is_rejected(tmp_path):
    path = laion_parquet(tmp_path / "laion.parquet", n=10)
    with pytest.raises(ManifestRejected) as exc:
        detect_columns(path, PARQUET, {"url": "image_link"})
    assert exc.value.field == "url"
    assert str(exc.value).startswith(
        "column 'image_link' given for url is not in the manifest; its columns are: "
        "'URL', 'TEXT', 'WIDTH',"
    )


def test_an_unknown_column_role_is_rejected(tmp_path):
    path = laion_parquet(tmp_path / "laion.parquet", n=10)
    with pytest.raises(ManifestRejected, match=r"^unknown column 'link'; use one of "):
        detect_columns(path, PARQUET, {"link": "URL"})


# --- CSV ------------------------------------------------------------------------


def test_csv_values_that_are_not_utf8_are_unchecked_and_the_rest_is_read(tmp_path):
    path = tmp_path / "m.csv"
    path.write_bytes(
        b"key,url,caption\n"
        b"k0,https://a.example/0,fine\n"
        b"k1,https://a.example/1,caf\xe9\n"
        b'k\xe92,https://a.example/2,"quoted caf\xe9\nover two lines"\n'
        b"k3,https://a.example/3,caf\xc3\xa9\n"
        b"k4,https://a.example/\xe9,fine\n"
    )
    assert sniff(path, path.name) == CSV
    batches = read_all([path], CSV)
    not_utf8 = "caption is not valid UTF-8"
    assert unchecked(batches) == [
        {"row": 1, "signal": "caption", "field": "caption", "message": not_utf8},
        {"row": 2, "signal": "caption", "field": "caption", "message": not_utf8},
        {
            "row": 4,
            "signal": "url",
            "field": "url",
            "message": "url is not valid UTF-8",
        },
    ]
    rows = by_row(batches)
    assert rows[1][:3] == ("k1", "https://a.example/1", None)  # the URL is read
    assert rows[2][:2] == ("k\ufffd2", "https://a.example/2")  # a key is repaired
    assert rows[3][1:3] == ("https://a.example/3", "caf\u00e9")
    assert rows[4][1:3] == (None, "fine")


def test_a_csv_header_that_is_not_utf8_is_rejected(tmp_path):
    path = tmp_path / "m.csv"
    path.write_bytes(b"url,l\xe9gende\nhttps://a.example/0,x\n")
    with pytest.raises(ManifestRejected) as exc:
        detect_columns(path, CSV)
    assert str(exc.value) == "the header row is unreadable: row is not valid UTF-8"


def test_ragged_and_badly_quoted_csv_rows_are_unchecked_and_named(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text(
        "url,caption\n"
        "https://a.example/0,ok\n"
        "https://a.example/1,one,too many\n"
        "https://a.example/2\n"
        'https://a.example/3,"closed"then more\n'
        "https://a.example/4,ok\n"
    )
    batches = read_all([path], CSV)
    assert [(p["row"], p["signal"], p["message"]) for p in unchecked(batches)] == [
        (1, "row", "row has 3 fields, the header has 2"),
        (2, "row", "row has 1 fields, the header has 2"),
        (3, "row", "malformed CSV row: ',' expected after '\"'"),
    ]
    assert by_row(batches)[3] == (None,) * 7  # nothing of it is matched
    assert by_row(batches)[4][1] == "https://a.example/4"


def test_an_unclosed_quote_fails_the_job_naming_its_row(tmp_path):
    path = tmp_path / "m.csv"
    lines = [
        "url,caption",
        "https://a.example/0,ok",
        'https://a.example/1,"never closed',
    ]
    lines += [f"https://a.example/{i},swallowed" for i in range(2, 40)]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ManifestRejected) as exc:
        plan_chunks([path], CSV, max_line_bytes=300)
    assert exc.value.row == 1
    assert str(exc.value) == (
        "row 1 is longer than 300 bytes; a CSV row this long is almost always an "
        "unclosed quote, which makes the rows after it untrustworthy"
    )


def test_an_unclosed_quote_near_the_end_is_one_unchecked_row_to_the_end(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text(
        'url,caption\nhttps://a.example/0,ok\nhttps://a.example/1,"open\n'
        "https://a.example/2,swallowed\n"
    )
    assert unchecked(read_all([path], CSV)) == [
        {
            "row": 1,
            "signal": "row",
            "field": None,
            "message": "malformed CSV row: unexpected end of data",
        }
    ]
    assert count_rows([path], CSV) == 2


def test_csv_records_over_the_default_limit_fail_the_job(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text(f"url,caption\nhttps://a.example/0,{'x' * (1 << 20)}\n")
    with pytest.raises(ManifestRejected, match=r"^row 0 is longer than 1048576 bytes"):
        count_rows([path], CSV)


# --- JSONL ----------------------------------------------------------------------


def test_jsonl_lines_that_are_not_objects_are_unchecked_and_named(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_bytes(
        b'{"url": "https://a.example/0"}\n'
        b"{not json}\n"
        b"[1, 2]\n"
        b'{"url": "https://a.example/3", "caption": "caf\xe9"}\n'
        b'{"url": "https://a.example/4"}\n'
    )
    batches = read_all([path], JSONL)
    assert unchecked(batches) == [
        {
            "row": 1,
            "signal": "row",
            "field": None,
            "message": "line is not valid JSON: Expecting property name enclosed in "
            "double quotes",
        },
        {
            "row": 2,
            "signal": "row",
            "field": None,
            "message": "line is not a JSON object",
        },
        {
            "row": 3,
            "signal": "caption",
            "field": "caption",
            "message": "caption is not valid UTF-8",
        },
    ]
    rows = by_row(batches)
    assert rows[3][1:3] == ("https://a.example/3", None)  # its URL is still read
    assert rows[4][1] == "https://a.example/4"


@pytest.mark.parametrize("limit", [200, None])
def test_oversized_jsonl_lines_are_unchecked_and_named(tmp_path, limit):
    size = 300 if limit else (1 << 20) + 10
    path = tmp_path / "m.jsonl"
    path.write_text(
        '{"url": "https://a.example/0"}\n'
        + json.dumps({"url": "https://a.example/1", "caption": "x" * size})
        + '\n{"url": "https://a.example/2"}\n'
    )
    kwargs = {"max_line_bytes": limit} if limit else {}
    specs = plan_chunks([path], JSONL, target_rows=1, **kwargs)
    assert [s.rows for s in specs] == [1, 1, 1]
    columns = detect_columns(path, JSONL)
    batches = [
        b for s in specs for b in read_chunk([path], JSONL, s, columns, **kwargs)
    ]
    assert unchecked(batches) == [
        {
            "row": 1,
            "signal": "row",
            "field": None,
            "message": f"line is longer than {limit or 1 << 20} bytes",
        }
    ]
    assert by_row(batches)[2][1] == "https://a.example/2"
    (out,) = write_filtered([path], JSONL, {0}, tmp_path / "out", **kwargs)
    assert out.read_text() == path.read_text().split("\n", 1)[1]


# --- values ---------------------------------------------------------------------


def test_a_malformed_hash_leaves_only_that_hash_unchecked(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text(
        "url,sha256,PHASH\n"
        f"https://a.example/0,,{PHASH}\n"
        f"https://a.example/1,,{PHASH[:15]}\n"
        f"https://a.example/2,{'zz' * 32},\n"
        f"https://a.example/3,{'ab' * 31},{PHASH}0\n"
    )
    batches = read_all([path], CSV)
    assert [(p["row"], p["signal"], p["field"]) for p in unchecked(batches)] == [
        (1, "phash", "PHASH"),
        (2, "sha256", "sha256"),
        (3, "sha256", "sha256"),
        (3, "phash", "PHASH"),
    ]
    assert [p["message"] for p in unchecked(batches)] == [
        "phash must be 16 hex digits, got 15",
        "sha256 must contain only hex digits 0-9 and a-f",
        "sha256 must be 64 hex digits, got 62",
        "phash must be 16 hex digits, got 17",
    ]
    rows = by_row(batches)
    assert rows[1][1] == "https://a.example/1"  # the rest of the row is matched
    assert rows[1][5] is None
    assert rows[0][5] is not None


def test_values_of_the_wrong_type_leave_their_signal_unchecked(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text(
        '{"url": 42}\n'
        '{"url": "https://a.example/1", "pdq": 7}\n'
        '{"url": "https://a.example/2", "caption": ["a", "list"]}\n'
        '{"url": "https://a.example/3", "phash": -8}\n'
    )
    batches = read_all([path], JSONL)
    assert [(p["row"], p["signal"], p["message"]) for p in unchecked(batches)] == [
        (0, "url", "url must be text"),
        (1, "pdq", "pdq must be a string of hex digits"),
        (2, "caption", "caption must be text"),
    ]
    assert by_row(batches)[2][1] == "https://a.example/2"


def test_a_file_changed_after_planning_fails_its_chunk(tmp_path):
    path = csv_manifest(tmp_path / "m.csv")
    (spec,) = plan_chunks([path], CSV)
    path.write_text("url,caption,sha256,phash\nhttps://c.example/9,only,,\n")
    with pytest.raises(ManifestRejected) as exc:
        list(read_chunk([path], CSV, spec, detect_columns(path, CSV)))
    assert str(exc.value) == (
        "the chunk at byte 25 holds 1 rows, not the 5 planned; was the file changed?"
    )


# --- tar shards -----------------------------------------------------------------


def test_tar_members_that_are_not_samples_are_listed_and_not_matched(tmp_path):
    jpg = image_bytes(3, "JPEG", size=(32, 32))
    path = tar_with(
        tmp_path / "s.tar",
        [
            ("000.jpg", jpg),
            ("000.txt", b"a caption"),
            ("000.exe", b"MZ\x90\x00"),
            ("001.jpg", jpg),
            ("001.sh", b"#!/bin/sh\nrm -rf /\n"),
            ("run.sh", b"#!/bin/sh\n"),
        ],
    )
    (batch,) = read_all([path], WEBDATASET)
    assert batch.keys == ["000", "001", "run"]
    assert batch.images == [jpg, jpg, None]
    assert [n.as_dict() for n in batch.notes] == [
        {
            "row": 0,
            "field": "000.exe",
            "message": "member ignored: not an image, caption or metadata",
        },
        {
            "row": 1,
            "field": "001.sh",
            "message": "member ignored: not an image, caption or metadata",
        },
        {
            "row": 2,
            "field": "run.sh",
            "message": "member ignored: not an image, caption or metadata",
        },
    ]
    assert unchecked([batch]) == [
        {
            "row": 2,
            "signal": "row",
            "field": None,
            "message": "sample has no image, caption or metadata",
        }
    ]


def _member(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        (_member("../x.jpg", tarfile.REGTYPE), "points outside the shard (..)"),
        (_member("a/../../x.jpg", tarfile.REGTYPE), "points outside the shard (..)"),
        (_member("/etc/x.jpg", tarfile.REGTYPE), "has an absolute path"),
        (_member("x.jpg", tarfile.SYMTYPE, "/etc/passwd"), "is a link"),
        (_member("y.jpg", tarfile.LNKTYPE, "000000000.jpg"), "is a link"),
        (_member("z.jpg", tarfile.CHRTYPE), "is a device or a pipe"),
        (_member("f.jpg", tarfile.FIFOTYPE), "is a device or a pipe"),
    ],
)
def test_tar_path_tricks_fail_the_job_naming_the_member(tmp_path, member, reason):
    path = tmp_path / "s.tar"
    jpg = sample(0)["jpg"]
    assert isinstance(jpg, bytes)
    with tarfile.open(path, "w") as tf:
        ok = tarfile.TarInfo("000000000.jpg")
        ok.size = len(jpg)
        tf.addfile(ok, io.BytesIO(jpg))
        if member.isreg():
            member.size = 3
            tf.addfile(member, io.BytesIO(b"abc"))
        else:
            tf.addfile(member)
    message = (
        f"tar member {member.name!r} {reason}; a WebDataset shard holds only "
        "regular files with relative names"
    )
    for action in (
        lambda: detect_columns(path, WEBDATASET),
        lambda: plan_chunks([path], WEBDATASET),
        lambda: write_filtered([path], WEBDATASET, {0}, tmp_path / "out"),
    ):
        with pytest.raises(ManifestRejected) as exc:
            action()
        assert str(exc.value) == message
        assert exc.value.member == member.name


def test_a_truncated_tar_shard_is_rejected(tmp_path):
    (path,) = webdataset_shards(tmp_path, (2,))
    with tarfile.open(path) as tf:
        last = tf.getmembers()[-1]
    path.write_bytes(path.read_bytes()[: last.offset_data + 2])
    with pytest.raises(ManifestRejected) as exc:
        plan_chunks([path], WEBDATASET)
    assert str(exc.value) == "the tar file is truncated in member '000000001.txt'"


def test_garbage_after_the_last_tar_member_is_rejected(tmp_path):
    (path,) = webdataset_shards(tmp_path, (2,))
    with tarfile.open(path) as tf:
        last = tf.getmembers()[-1]
    data = bytearray(path.read_bytes())
    end = last.offset_data + 512
    data[end : end + 512] = b"garbage!" * 64
    path.write_bytes(bytes(data))
    with pytest.raises(ManifestRejected) as exc:
        count_rows([path], WEBDATASET)
    assert str(exc.value) == "the tar file is corrupt after member '000000001.txt'"


def test_a_bad_member_leaves_only_what_it_carries_unchecked(tmp_path):
    jpg = image_bytes(4, "JPEG", size=(32, 32))
    path = tar_with(
        tmp_path / "s.tar",
        [
            ("a.jpg", jpg),
            ("a.json", b"{broken"),
            ("b.jpg", jpg),
            ("b.txt", b"caf\xe9"),
            ("c.jpg", jpg),
            ("c.json", b"[1]"),
            ("d.jpg", jpg),
            ("d.json", json.dumps({"url": "https://a.example/d"}).encode()),
        ],
    )
    columns = {"key": "__key__", "image": "*", "caption": ".txt", "url": "url"}
    batches = read_all([path], WEBDATASET, columns=columns, max_image_bytes=len(jpg))
    assert unchecked(batches) == [
        {
            "row": 0,
            "signal": "url",
            "field": ".json",
            "message": "json member is not valid JSON: "
            "Expecting property name enclosed in double quotes",
        },
        {
            "row": 1,
            "signal": "caption",
            "field": ".txt",
            "message": "caption is not valid UTF-8 (txt member)",
        },
        {
            "row": 2,
            "signal": "url",
            "field": ".json",
            "message": "json member is not a JSON object",
        },
    ]
    # every image is still there to be matched
    assert batches[0].images == [jpg, jpg, jpg, jpg]
    too_small = read_all([path], WEBDATASET, columns=columns, max_image_bytes=10)
    assert [p for p in unchecked(too_small) if p["row"] == 3] == [
        {
            "row": 3,
            "signal": "image",
            "field": "d.jpg",
            "message": "image is larger than 10 bytes",
        }
    ]
    assert by_row(too_small)[3][1] == "https://a.example/d"


def test_filtered_tar_keeps_ignored_members_of_kept_samples(tmp_path):
    jpg = image_bytes(5, "JPEG", size=(32, 32))
    path = tar_with(
        tmp_path / "s.tar",
        [("a.jpg", jpg), ("a.exe", b"MZ"), ("b.jpg", jpg), ("b.exe", b"MZ")],
    )
    (out,) = write_filtered([path], WEBDATASET, {0}, tmp_path / "out")
    with tarfile.open(out) as tf:
        assert tf.getnames() == ["b.jpg", "b.exe"]
    assert webdataset_keys(out) == ["b"]
