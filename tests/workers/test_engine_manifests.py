"""Manifest readers and writers: sniffing, columns, chunks, rows, filtered output.

Bad input has its own file (test_engine_manifests_bad_input.py); the builders
below are shared with it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import tarfile
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import webdataset as wds

from tests.images import image_bytes
from workers.engine.hashes import parse_hex, phash_to_int
from workers.engine.manifests import (
    ManifestRejected,
    column_report,
    count_rows,
    detect_columns,
    found_columns,
    plan_chunks,
    read_chunk,
    sniff,
    write_filtered,
)
from workers.engine.types import ChunkSpec, ManifestFormat, RowBatch

PHASH = "8a74e64ee15b0557"
PDQ = "0f" * 32
MD5 = "900150983cd24fb0d6963f7d28e17f72"

# --- builders -------------------------------------------------------------------


def laion_parquet(path: Path, n: int = 23, row_group_size: int = 4) -> Path:
    urls = [f"https://laion.example/{i}.jpg" for i in range(n)]
    urls[7] = ""  # an empty cell is no value, not a problem
    texts: list[str | None] = [f"caption {i}" for i in range(n)]
    texts[3] = None
    table = pa.table(
        {
            "URL": urls,
            "TEXT": texts,
            "WIDTH": pa.array([640] * n, pa.int32()),
            "HEIGHT": pa.array([480] * n, pa.int32()),
            "similarity": [0.31] * n,
            "LANGUAGE": ["en"] * n,
            "hash": pa.array([i * 7_777_777_777 for i in range(n)], pa.int64()),
            "punsafe": [0.01] * n,
            "pwatermark": [0.2] * n,
            "NSFW": ["UNLIKELY"] * n,
            "LICENSE": ["?"] * n,
        }
    ).replace_schema_metadata({"origin": "laion-test"})
    pq.write_table(table, path, row_group_size=row_group_size, compression="zstd")
    return path


FAILED = {2, 5}


def img2dataset_parquet(path: Path, n: int = 8) -> Path:
    status = ["failed_to_download" if i in FAILED else "success" for i in range(n)]
    table = pa.table(
        {
            "url": [f"https://img.example/{i}.png" for i in range(n)],
            "caption": [f"an image {i}" for i in range(n)],
            "key": [f"{i:09d}" for i in range(n)],
            "status": status,
            "error_message": [
                "HTTP Error 404" if i in FAILED else None for i in range(n)
            ],
            "width": [None if i in FAILED else 256 for i in range(n)],
            "height": [None if i in FAILED else 256 for i in range(n)],
            "original_width": [None if i in FAILED else 1024 for i in range(n)],
            "original_height": [None if i in FAILED else 768 for i in range(n)],
            "exif": [None if i in FAILED else "{}" for i in range(n)],
            "sha256": [
                None if i in FAILED else hashlib.sha256(str(i).encode()).hexdigest()
                for i in range(n)
            ],
        }
    )
    pq.write_table(table, path, row_group_size=3)
    return path


def csv_manifest(path: Path, delimiter: str = ",", lineterminator: str = "\n") -> Path:
    """Five rows: a quoted newline, a quoted delimiter, an empty phash, a blank line."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=lineterminator)
    writer.writerow(["url", "caption", "sha256", "phash"])
    writer.writerow(["https://c.example/0", "plain", "ab" * 32, PHASH])
    writer.writerow(["https://c.example/1", "two\nlines", "", PHASH.upper()])
    writer.writerow(["https://c.example/2", f"with{delimiter} delimiter", "", ""])
    out.write(lineterminator)  # a blank line is not a row
    writer.writerow(["https://c.example/3", 'a "quoted" word', "", "0x" + PHASH])
    writer.writerow(["https://c.example/4", "last", "", ""])
    path.write_bytes(out.getvalue().encode())
    return path


def tsv_manifest(path: Path) -> Path:
    # Unquoted TSV: a caption may open with a quote it never closes.
    lines = [
        "url\tcaption\tpdq",
        f"https://t.example/0\tplain\t{PDQ}",
        'https://t.example/1\t"open quote only\t',
        'https://t.example/2\tthe "best" vase\t',
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def jsonl_manifest(path: Path) -> Path:
    rows = [
        {"url": "https://j.example/0", "caption": "zero", "md5": MD5, "id": 10},
        {"url": "https://j.example/1", "caption": "one", "pdq": PDQ, "id": 11},
        {"url": "https://j.example/2", "caption": "two", "id": 12},
    ]
    text = "\n".join(json.dumps(r) for r in rows[:2])
    # spacing that a re-encoder would change: the filtered file must keep it
    text += '\n\n{"url":   "https://j.example/2" , "caption":"two","id":12}\n'
    path.write_text(text)
    return path


def sample(i: int) -> dict[str, object]:
    image = image_bytes(i, "JPEG", size=(64, 48))
    return {
        "__key__": f"{i:09d}",
        "jpg": image,
        "txt": f"shard caption {i}",
        "json": {
            "url": f"https://w.example/{i}.jpg",
            "caption": f"shard caption {i}",
            "key": f"{i:09d}",
            "status": "success",
            "sha256": hashlib.sha256(image).hexdigest(),
            "width": 64,
            "height": 48,
        },
    }


def webdataset_shards(folder: Path, sizes: tuple[int, ...] = (3, 2)) -> list[Path]:
    paths = []
    i = 0
    for shard, size in enumerate(sizes):
        path = folder / f"{shard:05d}.tar"
        with wds.TarWriter(str(path)) as writer:
            for _ in range(size):
                writer.write(sample(i))
                i += 1
        paths.append(path)
    return paths


def tar_with(path: Path, members: list[tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w") as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def read_all(
    paths: list[Path],
    fmt: ManifestFormat,
    *,
    target_rows: int = 100_000,
    columns: dict[str, str] | None = None,
    **kwargs: int,
) -> list[RowBatch]:
    if columns is None:
        columns = detect_columns(paths[0], fmt)
    batches = []
    for spec in plan_chunks(paths, fmt, target_rows=target_rows):
        batches += list(read_chunk(paths, fmt, spec, columns, **kwargs))
    return batches


def by_row(batches: list[RowBatch]) -> dict[int, tuple[object, ...]]:
    rows = {}
    for b in batches:
        for i in range(len(b)):
            rows[b.first_row + i] = (
                b.keys[i],
                b.urls[i],
                b.captions[i],
                b.sha256[i],
                b.md5[i],
                b.phash[i],
                b.pdq[i],
            )
    return rows


def webdataset_keys(path: Path) -> list[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        return [s["__key__"] for s in wds.WebDataset(str(path), shardshuffle=False)]


# Every format, as (paths, format, rows): for the contract tests.
def build(kind: str, folder: Path) -> tuple[list[Path], ManifestFormat, int]:
    if kind == "laion":
        return [laion_parquet(folder / "laion.parquet")], ManifestFormat.PARQUET, 23
    if kind == "img2dataset":
        return [img2dataset_parquet(folder / "i2d.parquet")], ManifestFormat.PARQUET, 8
    if kind == "csv":
        return [csv_manifest(folder / "m.csv")], ManifestFormat.CSV, 5
    if kind == "csv-crlf-semicolon":
        path = csv_manifest(folder / "m.csv", ";", "\r\n")
        return [path], ManifestFormat.CSV, 5
    if kind == "tsv":
        return [tsv_manifest(folder / "m.tsv")], ManifestFormat.TSV, 3
    if kind == "jsonl":
        return [jsonl_manifest(folder / "m.jsonl")], ManifestFormat.JSONL, 3
    if kind == "webdataset":
        return webdataset_shards(folder), ManifestFormat.WEBDATASET, 5
    raise AssertionError(kind)


KINDS = [
    "laion",
    "img2dataset",
    "csv",
    "csv-crlf-semicolon",
    "tsv",
    "jsonl",
    "webdataset",
]


# --- sniffing -------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_it_sniffs_each_format_from_its_content_whatever_the_name(tmp_path, kind):
    paths, fmt, _ = build(kind, tmp_path)
    assert sniff(paths[0], paths[0].name) == fmt
    assert sniff(paths[0], "upload.bin") == fmt


def test_it_takes_a_name_hint_for_a_single_column_file(tmp_path):
    path = tmp_path / "urls"
    path.write_text("url\nhttps://a.example/1\n")
    assert sniff(path, "urls.tsv") == ManifestFormat.TSV
    assert sniff(path, "urls.csv") == ManifestFormat.CSV
    assert sniff(path, "urls.txt") == ManifestFormat.CSV


def test_a_tab_separated_file_named_csv_with_no_commas_is_tsv(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("url\tcaption\nhttps://a.example/1\ta cat\n")
    assert sniff(path, "m.csv") == ManifestFormat.TSV


# --- columns --------------------------------------------------------------------


def test_laion_parquet_needs_no_mapping_and_its_hash_column_is_not_a_content_hash(
    tmp_path,
):
    path = laion_parquet(tmp_path / "laion.parquet")
    assert detect_columns(path, ManifestFormat.PARQUET) == {
        "url": "URL",
        "caption": "TEXT",
    }


def test_img2dataset_parquet_needs_no_mapping(tmp_path):
    path = img2dataset_parquet(tmp_path / "i2d.parquet")
    assert detect_columns(path, ManifestFormat.PARQUET) == {
        "url": "url",
        "caption": "caption",
        "key": "key",
        "sha256": "sha256",
    }


def test_webdataset_columns_come_from_members_and_the_json_member(tmp_path):
    paths = webdataset_shards(tmp_path)
    assert detect_columns(paths, ManifestFormat.WEBDATASET) == {
        "key": "__key__",
        "image": "*",
        "caption": ".txt",
        "url": "url",
        "sha256": "sha256",
    }


def test_the_columns_found_are_listed_in_every_format(tmp_path):
    laion = laion_parquet(tmp_path / "laion.parquet")
    assert found_columns(laion, ManifestFormat.PARQUET)[:3] == ["URL", "TEXT", "WIDTH"]
    csv_path = csv_manifest(tmp_path / "m.csv")
    assert found_columns(csv_path, ManifestFormat.CSV) == [
        "url",
        "caption",
        "sha256",
        "phash",
    ]
    jsonl = jsonl_manifest(tmp_path / "m.jsonl")
    assert found_columns(jsonl, ManifestFormat.JSONL) == [
        "url",
        "caption",
        "md5",
        "id",
        "pdq",
    ]
    (shard,) = webdataset_shards(tmp_path, (2,))
    assert found_columns(shard, ManifestFormat.WEBDATASET) == [
        "__key__",
        ".jpg",
        ".json",
        ".txt",
        "url",
        "caption",
        "key",
        "status",
        "sha256",
        "width",
        "height",
        "*",
    ]


def test_the_column_report_names_what_each_signal_used_and_what_was_left():
    laion = column_report(
        {"url": "URL", "caption": "TEXT"}, ["URL", "TEXT", "WIDTH", "hash"]
    )
    assert laion.used == {"url": "URL", "caption": "TEXT"}
    assert laion.unused == ["WIDTH", "hash"]
    assert laion.not_checked == ["sha256", "md5", "phash", "pdq", "image"]
    assert laion.warnings == []
    no_url = column_report({"caption": "alt"}, ["image_link", "alt"])
    assert no_url.warnings == [
        "URLs were not checked: no URL column; found columns: image_link, alt"
    ]
    assert no_url.unused == ["image_link"]
    shard = column_report(
        {"key": "__key__", "image": "*", "caption": ".txt", "url": "url"},
        ["__key__", ".jpg", ".txt", ".json", "url", "status", "*"],
    )
    assert shard.used == {
        "url": "url",
        "caption": ".txt",
        "image": "*",
        "key": "__key__",
    }
    assert shard.not_checked == []  # the hashes come from each image
    assert shard.unused == [".jpg", ".json", "status"]


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (
            "csv",
            {"url": "url", "caption": "caption", "sha256": "sha256", "phash": "phash"},
        ),
        ("tsv", {"url": "url", "caption": "caption", "pdq": "pdq"}),
        (
            "jsonl",
            {
                "url": "url",
                "caption": "caption",
                "key": "id",
                "md5": "md5",
                "pdq": "pdq",
            },
        ),
    ],
)
def test_text_formats_detect_their_columns(tmp_path, kind, expected):
    paths, fmt, _ = build(kind, tmp_path)
    assert detect_columns(paths[0], fmt) == expected


def test_overrides_replace_detected_columns_and_an_empty_name_drops_one(tmp_path):
    path = laion_parquet(tmp_path / "laion.parquet")
    columns = detect_columns(
        path, ManifestFormat.PARQUET, {"caption": "", "key": "language"}
    )
    assert columns == {"url": "URL", "key": "LANGUAGE"}


def test_webdataset_overrides_may_name_members_or_json_fields(tmp_path):
    paths = webdataset_shards(tmp_path, (2,))
    columns = detect_columns(
        paths[0], ManifestFormat.WEBDATASET, {"caption": "caption", "image": ""}
    )
    assert columns["caption"] == "caption"
    assert "image" not in columns
    batches = read_all(paths, ManifestFormat.WEBDATASET, columns=columns)
    assert batches[0].images is None
    assert batches[0].captions == ["shard caption 0", "shard caption 1"]


def test_several_parts_are_checked_for_the_mapped_columns(tmp_path):
    first = laion_parquet(tmp_path / "a.parquet")
    second = tmp_path / "b.parquet"
    pq.write_table(pa.table({"url": ["https://x.example/"]}), second)
    with pytest.raises(ManifestRejected) as exc:
        detect_columns([first, second], ManifestFormat.PARQUET)
    assert str(exc.value) == "b.parquet: column 'URL' for url is missing"


# --- chunks ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_chunks_cover_every_row_once_with_the_same_numbers_for_any_chunk_size(
    tmp_path, kind
):
    paths, fmt, total = build(kind, tmp_path)
    assert count_rows(paths, fmt) == total
    seen = []
    for target in (1, 2, 3, 7, 100_000):
        specs = plan_chunks(paths, fmt, target_rows=target)
        assert sum(s.rows for s in specs) == total
        assert [s.first_row for s in specs] == list(
            np.cumsum([0] + [s.rows for s in specs[:-1]])
        )
        assert all(s == ChunkSpec.from_dict(s.as_dict()) for s in specs)
        rows = by_row(read_all(paths, fmt, target_rows=target))
        assert sorted(rows) == list(range(total))
        seen.append(rows)
    assert all(rows == seen[0] for rows in seen)


def test_parquet_chunks_are_runs_of_whole_row_groups(tmp_path):
    path = laion_parquet(tmp_path / "laion.parquet", n=23, row_group_size=4)
    specs = plan_chunks([path], ManifestFormat.PARQUET, target_rows=10)
    assert [(s.kind, s.start, s.stop, s.first_row, s.rows) for s in specs] == [
        ("row_groups", 0, 3, 0, 12),
        ("row_groups", 3, 6, 12, 11),
    ]


def test_csv_chunks_start_on_records_even_with_quoted_newlines(tmp_path):
    path = csv_manifest(tmp_path / "m.csv")
    data = path.read_bytes()
    specs = plan_chunks([path], ManifestFormat.CSV, target_rows=1)
    assert [s.rows for s in specs] == [1, 1, 1, 1, 1]
    # a chunk starts on a line; blank lines before its first record are no rows
    assert [data[s.start :].lstrip(b"\n")[:20] for s in specs] == [
        b"https://c.example/0,",
        b"https://c.example/1,",
        b"https://c.example/2,",
        b"https://c.example/3,",
        b"https://c.example/4,",
    ]
    assert specs[-1].stop == len(data)
    (batch,) = read_chunk(
        [path], ManifestFormat.CSV, specs[1], detect_columns(path, ManifestFormat.CSV)
    )
    assert batch.captions == ["two\nlines"]


def test_tar_shards_are_one_chunk_each_numbered_across_shards(tmp_path):
    paths = webdataset_shards(tmp_path, (3, 2))
    specs = plan_chunks(paths, ManifestFormat.WEBDATASET, target_rows=1)
    assert [(s.part, s.kind, s.first_row, s.rows) for s in specs] == [
        (0, "tar", 0, 3),
        (1, "tar", 3, 2),
    ]


def test_batches_hold_at_most_batch_rows(tmp_path):
    path = laion_parquet(tmp_path / "laion.parquet")
    for fmt, paths in (
        (ManifestFormat.PARQUET, [path]),
        (ManifestFormat.CSV, [csv_manifest(tmp_path / "m.csv")]),
        (ManifestFormat.WEBDATASET, webdataset_shards(tmp_path, (5,))),
    ):
        batches = read_all(paths, fmt, batch_rows=2)
        assert all(len(b) <= 2 for b in batches)
        assert [b.first_row for b in batches] == list(
            range(0, sum(map(len, batches)), 2)
        )


# --- values ---------------------------------------------------------------------


def test_it_reads_laion_parquet_rows(tmp_path):
    path = laion_parquet(tmp_path / "laion.parquet")
    rows = by_row(read_all([path], ManifestFormat.PARQUET, target_rows=5))
    assert rows[0] == (None, "https://laion.example/0.jpg", "caption 0") + (None,) * 4
    assert rows[3][1:3] == ("https://laion.example/3.jpg", None)
    assert rows[7][1:3] == (None, "caption 7")


def test_failed_img2dataset_rows_are_still_checked_by_url_and_caption(tmp_path):
    # No image was downloaded, but the URL is what a later download would
    # fetch: the row is checked like any row of a plain URL list.
    path = img2dataset_parquet(tmp_path / "i2d.parquet")
    batches = read_all([path], ManifestFormat.PARQUET)
    assert [p for b in batches for p in b.unchecked] == []
    rows = by_row(batches)
    assert rows[2][0:4] == (
        "000000002",
        "https://img.example/2.png",
        "an image 2",
        None,
    )
    assert rows[1][0:3] == ("000000001", "https://img.example/1.png", "an image 1")
    assert rows[1][3] == hashlib.sha256(b"1").digest()


def test_hashes_are_parsed_in_every_text_format(tmp_path):
    csv_rows = by_row(read_all([csv_manifest(tmp_path / "m.csv")], ManifestFormat.CSV))
    phash = phash_to_int(bytes.fromhex(PHASH))
    assert csv_rows[0][3] == bytes.fromhex("ab" * 32)
    assert [csv_rows[i][5] for i in range(5)] == [phash, phash, None, phash, None]
    assert csv_rows[1][2] == "two\nlines"
    assert csv_rows[2][2] == "with, delimiter"
    tsv_rows = by_row(read_all([tsv_manifest(tmp_path / "m.tsv")], ManifestFormat.TSV))
    assert tsv_rows[0][6] == bytes.fromhex(PDQ)
    assert tsv_rows[1][2] == '"open quote only'
    assert tsv_rows[2][2] == 'the "best" vase'
    jsonl_rows = by_row(
        read_all([jsonl_manifest(tmp_path / "m.jsonl")], ManifestFormat.JSONL)
    )
    assert jsonl_rows[0][0] == "10"
    assert jsonl_rows[0][4] == parse_hex("md5", MD5)
    assert jsonl_rows[1][6] == bytes.fromhex(PDQ)


def test_binary_and_integer_hash_columns_are_read_as_is(tmp_path):
    path = tmp_path / "h.parquet"
    digest = hashlib.sha256(b"x").digest()
    pq.write_table(
        pa.table(
            {
                "sha256": pa.array([digest, None], pa.binary(32)),
                "phash": pa.array([-5, 7], pa.int64()),
            }
        ),
        path,
    )
    (batch,) = read_all([path], ManifestFormat.PARQUET)
    assert batch.sha256 == [digest, None]
    assert batch.phash == [-5, 7]
    assert batch.unchecked == []


def test_tar_shards_give_images_captions_and_metadata(tmp_path):
    paths = webdataset_shards(tmp_path, (3, 2))
    batches = read_all(paths, ManifestFormat.WEBDATASET)
    assert [b.first_row for b in batches] == [0, 3]
    images = [img for b in batches for img in (b.images or [])]
    assert images == [sample(i)["jpg"] for i in range(5)]
    rows = by_row(batches)
    assert rows[4][:3] == ("000000004", "https://w.example/4.jpg", "shard caption 4")
    assert rows[4][3] == hashlib.sha256(images[4]).digest()
    assert all(not b.unchecked and not b.notes for b in batches)


def test_tar_shards_drawn_by_hand_group_members_by_key(tmp_path):
    png = image_bytes(1, "PNG", size=(32, 32))
    webp = image_bytes(2, "WEBP", size=(32, 32))
    path = tar_with(
        tmp_path / "hand.tar",
        [
            ("shard/a.png", png),
            ("shard/a.txt", b"first"),
            ("shard/b.webp", webp),
            ("shard/b.seg.png", png),  # a second image: ignored, listed
            ("shard/c.txt", "caf\u00e9".encode()),
        ],
    )
    (batch,) = read_all([path], ManifestFormat.WEBDATASET)
    assert batch.keys == ["shard/a", "shard/b", "shard/c"]
    assert batch.images == [png, webp, None]
    assert batch.captions == ["first", None, "caf\u00e9"]
    assert [n.as_dict() for n in batch.notes] == [
        {
            "row": 1,
            "field": "shard/b.seg.png",
            "message": "member ignored: only the first image of a sample is matched",
        }
    ]


# --- filtered output ------------------------------------------------------------


def test_filtered_parquet_keeps_schema_metadata_and_compression(tmp_path):
    path = laion_parquet(tmp_path / "laion.parquet")
    (out,) = write_filtered(
        [path], ManifestFormat.PARQUET, {0, 4, 5, 22, 99}, tmp_path / "out"
    )
    assert out == tmp_path / "out" / "laion.parquet"
    assert pq.read_schema(out).equals(pq.read_schema(path), check_metadata=True)
    assert pq.read_schema(out).metadata[b"origin"] == b"laion-test"
    meta = pq.ParquetFile(out).metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"
    kept = [i for i in range(23) if i not in {0, 4, 5, 22}]
    before = pq.read_table(path)
    assert pq.read_table(out).equals(before.take(kept))


def test_filtered_csv_keeps_its_dialect_header_and_bytes(tmp_path):
    path = csv_manifest(tmp_path / "m.csv", ";", "\r\n")
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    (out,) = write_filtered(
        [path], ManifestFormat.CSV, np.array([1, 3]), tmp_path / "out"
    )
    expected = (
        b"\xef\xbb\xbfurl;caption;sha256;phash\r\n"
        + f"https://c.example/0;plain;{'ab' * 32};{PHASH}\r\n".encode()
        + b'https://c.example/2;"with; delimiter";;\r\n'
        + b"\r\n"
        + b"https://c.example/4;last;;\r\n"
    )
    assert out.read_bytes() == expected
    assert sniff(out, out.name) == ManifestFormat.CSV
    assert count_rows([out], ManifestFormat.CSV) == 3


def test_filtered_tsv_and_jsonl_keep_lines_verbatim(tmp_path):
    tsv = tsv_manifest(tmp_path / "m.tsv")
    (out,) = write_filtered([tsv], ManifestFormat.TSV, {0}, tmp_path / "out")
    assert (
        out.read_text().splitlines()
        == tsv.read_text().splitlines()[:1] + (tsv.read_text().splitlines()[2:])
    )
    jsonl = jsonl_manifest(tmp_path / "m.jsonl")
    (out,) = write_filtered([jsonl], ManifestFormat.JSONL, {1}, tmp_path / "out")
    lines = jsonl.read_text().split("\n")
    assert out.read_text().split("\n") == [lines[0], *lines[2:]]
    assert '{"url":   "https://j.example/2" ,' in out.read_text()


def test_filtered_tar_shards_load_in_webdataset_with_exactly_the_kept_keys(tmp_path):
    paths = webdataset_shards(tmp_path, (3, 2))
    outs = write_filtered(paths, ManifestFormat.WEBDATASET, {1, 3}, tmp_path / "out")
    assert [o.name for o in outs] == ["00000.tar", "00001.tar"]
    assert webdataset_keys(outs[0]) == ["000000000", "000000002"]
    assert webdataset_keys(outs[1]) == ["000000004"]
    with tarfile.open(outs[0]) as tf:
        names = tf.getnames()
        assert names == [
            f"{k}.{ext}"
            for k in ("000000000", "000000002")
            for ext in ("jpg", "json", "txt")
        ]
        assert tf.extractfile("000000002.jpg").read() == sample(2)["jpg"]
    assert outs[0].stat().st_size % tarfile.RECORDSIZE == 0
    batches = read_all(outs, ManifestFormat.WEBDATASET)
    assert [k for b in batches for k in b.keys] == [
        "000000000",
        "000000002",
        "000000004",
    ]


def test_filtered_tar_keeps_long_names_and_directories(tmp_path):
    long = "d/" + "x" * 120
    path = tmp_path / "long.tar"
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tf:
        tf.addfile(_dir("d"))
        for key in (long + "1", long + "2"):
            for ext, data in (("jpg", b"\xff\xd8" + key.encode()), ("txt", b"t")):
                info = tarfile.TarInfo(f"{key}.{ext}")
                info.size = len(data)
                info.pax_headers = {"comment": "kept"}
                tf.addfile(info, io.BytesIO(data))
    (out,) = write_filtered([path], ManifestFormat.WEBDATASET, {0}, tmp_path / "out")
    with tarfile.open(out) as tf:
        members = tf.getmembers()
        assert [m.name for m in members] == ["d", f"{long}2.jpg", f"{long}2.txt"]
        assert members[1].pax_headers["comment"] == "kept"
    assert webdataset_keys(out) == [long + "2"]


def _dir(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    return info


@pytest.mark.parametrize("kind", KINDS)
def test_nothing_removed_copies_every_file_unchanged(tmp_path, kind):
    paths, fmt, _ = build(kind, tmp_path)
    outs = write_filtered(paths, fmt, set(), tmp_path / "out")
    assert [o.read_bytes() for o in outs] == [p.read_bytes() for p in paths]


@pytest.mark.parametrize("kind", KINDS)
def test_filtered_output_drops_exactly_the_removed_rows(tmp_path, kind):
    paths, fmt, total = build(kind, tmp_path)
    before = by_row(read_all(paths, fmt))
    removed = {0, total - 1}
    outs = write_filtered(paths, fmt, removed, tmp_path / "out")
    after = by_row(read_all(outs, fmt, columns=detect_columns(paths[0], fmt)))
    assert list(after.values()) == [
        v for r, v in sorted(before.items()) if r not in removed
    ]


def test_it_refuses_to_write_over_its_input(tmp_path):
    path = laion_parquet(tmp_path / "laion.parquet")
    with pytest.raises(ValueError, match="out_dir"):
        write_filtered([path], ManifestFormat.PARQUET, {1}, tmp_path)
