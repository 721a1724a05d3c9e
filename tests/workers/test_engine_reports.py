from __future__ import annotations

import csv
import json

import pyarrow.parquet as pq

from workers.engine.reports import COLUMNS, RowPlaces, csv_safe, write_reports

ROWS = [
    {
        "index": 3,
        "key": "000003",
        "url": "https://a.example/3.jpg",
        "kind": "url",
        "claim_id": 7,
        "image_id": None,
        "work_id": None,
        "distance": None,
        "matched": "https://a.example/3.jpg",
        "matched_as": "scheme+query",
        "level": "",
        "variant": "",
        "inliers": None,
        "agreement": None,
        "coverage": None,
        "alignment": None,
        "chance": None,
        "removed": True,
        "signal": "",
        "field": "",
        "reason": "",
    },
    {
        "index": 9,
        "key": '=HYPERLINK("http://evil")',
        "url": "+cmd|' /C calc'!A0",
        "kind": "phash",
        "claim_id": None,
        "image_id": 12,
        "work_id": 4,
        "distance": 5,
        "matched": "",
        "matched_as": "",
        "level": "possible",
        "variant": "rot+3",
        "inliers": None,
        "agreement": None,
        "coverage": None,
        "alignment": None,
        "chance": 2.5e-07,
        "removed": False,
        "signal": "",
        "field": "",
        "reason": "",
    },
    {
        "index": 9,
        "key": '=HYPERLINK("http://evil")',
        "url": "+cmd|' /C calc'!A0",
        "kind": "unchecked",
        "claim_id": None,
        "image_id": None,
        "work_id": None,
        "distance": None,
        "matched": "",
        "matched_as": "",
        "level": "unchecked",
        "variant": "",
        "inliers": None,
        "agreement": None,
        "coverage": None,
        "alignment": None,
        "chance": None,
        "removed": True,
        "signal": "image",
        "field": "000009.jpg",
        "reason": "image does not decode: the image file is truncated",
    },
]


# Two parts: rows 0-4 are a.parquet's, 5 on b.parquet's.
PLACES = RowPlaces.from_rows(["a.parquet", "b.parquet"], [5, 7])


def placed(rows):
    """ROWS as the reports write them: each with its file and row there."""
    out = []
    for row in rows:
        file, at = PLACES.place(row["index"])
        out.append({c: {"file": file, "row": at}.get(c, row.get(c)) for c in COLUMNS})
    return out


def test_reports_hold_the_same_rows_in_three_formats(tmp_path):
    paths = write_reports(iter([dict(r) for r in ROWS]), tmp_path, PLACES)
    with open(paths["csv"], newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == list(COLUMNS)
    figures = COLUMNS.index("inliers")
    assert COLUMNS[figures : figures + 5] == (
        "inliers",
        "agreement",
        "coverage",
        "alignment",
        "chance",
    )
    assert [(r["file"], r["row"], r["index"], r["kind"]) for r in rows] == [
        ("a.parquet", "3", "3", "url"),
        ("b.parquet", "4", "9", "phash"),
        ("b.parquet", "4", "9", "unchecked"),
    ]
    assert rows[2]["reason"] == "image does not decode: the image file is truncated"
    lines = [json.loads(line) for line in paths["jsonl"].read_text().splitlines()]
    assert lines == placed(ROWS)
    table = pq.read_table(paths["parquet"])
    assert table.column_names == list(COLUMNS)
    assert table.to_pylist() == placed(ROWS)


def test_a_row_is_placed_in_its_file_even_after_an_empty_part():
    places = RowPlaces.from_rows(["a.csv", "empty.csv", "c.csv"], [2, 0, 3])
    assert [places.place(i) for i in range(5)] == [
        ("a.csv", 0),
        ("a.csv", 1),
        ("c.csv", 0),
        ("c.csv", 1),
        ("c.csv", 2),
    ]


def test_csv_cells_cannot_run_as_spreadsheet_formulas(tmp_path):
    paths = write_reports(iter([dict(r) for r in ROWS]), tmp_path, PLACES)
    with open(paths["csv"], newline="") as fh:
        evil = list(csv.DictReader(fh))[1]
    assert evil["key"] == '\'=HYPERLINK("http://evil")'
    assert evil["url"] == "'+cmd|' /C calc'!A0"
    # JSONL and Parquet keep the value verbatim.
    assert json.loads(paths["jsonl"].read_text().splitlines()[1])["key"].startswith("=")
    for value in ("-1", "@SUM(A1)", "\tx", "\rx"):
        assert csv_safe(value) == "'" + value
    assert csv_safe("https://ok") == "https://ok"
    assert csv_safe(5) == 5


def test_an_empty_report_has_headers_and_loads(tmp_path):
    paths = write_reports(iter([]), tmp_path, PLACES)
    assert paths["csv"].read_text().strip() == ",".join(COLUMNS)
    assert paths["jsonl"].read_text() == ""
    assert pq.read_table(paths["parquet"]).num_rows == 0
