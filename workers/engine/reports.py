"""Match reports a curator can load anywhere: CSV, JSON lines and Parquet.

One line per match, and one per thing a row could not be checked for: such a
line has kind and level `unchecked`, the `signal` not checked (`row` when the
row could not be read at all), the `field` (column or tar member) to blame and
the `reason`; `removed` says whether the line takes its row out of the
filtered manifest.

CSV cells that a spreadsheet would run as a formula (starting with =, +, -, @,
tab or carriage return) are prefixed with a single quote, per OWASP's advice on
CSV injection; JSONL and Parquet keep values verbatim.

One line per match (COLUMNS). A row is named three ways: `file` (the part it
is in), `row` (its 0-based row in that file: the line of a CSV/JSONL after the
header and blank lines, the row of a Parquet file, the sample of a tar shard)
and `index` (its 0-based number across the whole manifest, parts in order).
`matched` is the claim's value or the style name;
`matched_as` (url, prefix and domain matches) says which equivalence the match
took: "exact", or "scheme", "www" and "query" joined with "+"
(workers/engine/urlindex.py); it is empty for the other kinds.
A `signal` line is the row's image refusing AI training in its own metadata:
`matched` is the preference ("train-ai=n"), `source` the protocol (iptc,
c2pa, cawg, rsl) and `evidence` what the file says, as written, with what
is known of who signed it (workers/engine/datasignals.py).
"""

from __future__ import annotations

import csv
import json
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .exceptions import CLAIM_KINDS
from .types import ChunkSpec

_SCHEMA = pa.schema(
    [
        ("file", pa.string()),
        ("row", pa.int64()),
        ("index", pa.int64()),
        ("key", pa.string()),
        ("url", pa.string()),
        ("kind", pa.string()),
        ("claim_id", pa.int64()),
        ("image_id", pa.int64()),
        ("work_id", pa.int64()),
        ("distance", pa.int32()),
        ("matched", pa.string()),
        ("matched_as", pa.string()),
        ("level", pa.string()),
        ("variant", pa.string()),
        ("inliers", pa.int32()),
        ("agreement", pa.float64()),
        ("coverage", pa.float64()),
        ("alignment", pa.float64()),
        ("chance", pa.float64()),
        ("similarity", pa.float64()),
        ("source", pa.string()),
        ("evidence", pa.string()),
        ("removed", pa.bool_()),
        ("signal", pa.string()),
        ("field", pa.string()),
        ("reason", pa.string()),
    ]
)
COLUMNS = tuple(_SCHEMA.names)
UNCHECKED = "unchecked"  # kind and level of a line for something not checked


@dataclass(frozen=True)
class RowPlaces:
    """Where a manifest-wide row index lies: its file and its row there."""

    names: tuple[str, ...]
    starts: tuple[int, ...]  # the index of each file's first row

    @staticmethod
    def from_rows(names: Sequence[str], rows: Sequence[int]) -> RowPlaces:
        """From the manifest's part names and how many rows each holds."""
        starts, at = [], 0
        for n in rows:
            starts.append(at)
            at += n
        return RowPlaces(tuple(names), tuple(starts))

    @staticmethod
    def from_chunks(names: Sequence[str], specs: Iterable[ChunkSpec]) -> RowPlaces:
        """From the manifest's part names and its chunks (which cover every row)."""
        rows = [0] * len(names)
        for spec in specs:
            rows[spec.part] += spec.rows
        return RowPlaces.from_rows(names, rows)

    def place(self, index: int) -> tuple[str, int]:
        """(file name, row in that file) of the row numbered `index`."""
        part = bisect_right(self.starts, index) - 1
        return self.names[part], index - self.starts[part]


def match_line(
    m: Any, batch: Any, *, removes: bool, work_id: int | None = None
) -> dict[str, Any]:
    """The report line for one of the engine's matches (snapshot.Match) of a
    row of `batch`; `work_id`: the matched image's work, where known."""
    i = m.row - batch.first_row
    is_claim = str(m.kind) in CLAIM_KINDS
    is_image = not is_claim and str(m.kind) != "signal"
    return {
        "index": m.row,
        "key": batch.keys[i] or "",
        "url": batch.urls[i] or "",
        "kind": str(m.kind),
        "claim_id": m.ref if is_claim else None,
        "image_id": m.ref if is_image else None,
        "work_id": work_id if is_image else None,
        "distance": m.distance,
        "matched": m.matched or "",
        "matched_as": m.matched_as,
        "level": m.level,
        "variant": m.variant,
        "inliers": m.inliers,
        "agreement": m.agreement,
        "coverage": m.coverage,
        "alignment": m.alignment,
        "chance": m.chance,
        "similarity": m.similarity,
        "source": m.source,
        "evidence": m.evidence,
        "removed": removes,
        "signal": "",
        "field": "",
        "reason": "",
    }


def problem_field(problem: Any, columns: Mapping[str, str]) -> str:
    """The column to blame for a RowProblem: the engine names a value by its
    signal, the curator knows the column."""
    if problem.field == problem.signal:
        return columns.get(problem.signal, problem.field or "")
    return problem.field or ""


def problem_line(
    problem: Any, batch: Any, columns: Mapping[str, str], *, removed: bool
) -> dict[str, Any]:
    """The report line for a RowProblem of a row of `batch`."""
    i = problem.row - batch.first_row
    return unchecked_line(
        index=problem.row,
        key=batch.keys[i] or "",
        url=batch.urls[i] or "",
        signal=problem.signal,
        field=problem_field(problem, columns),
        reason=problem.reason,
        removed=removed,
    )


def unchecked_line(
    *,
    index: int,
    key: str,
    url: str,
    signal: str,
    field: str,
    reason: str,
    removed: bool,
) -> dict[str, Any]:
    """The report line for a row, or one signal of it, that could not be checked."""
    line: dict[str, Any] = dict.fromkeys(COLUMNS)
    line.update(
        index=index,
        key=key,
        url=url,
        kind=UNCHECKED,
        matched="",
        matched_as="",
        level=UNCHECKED,
        variant="",
        source="",
        evidence="",
        removed=removed,
        signal=signal,
        field=field,
        reason=reason,
    )
    return line


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_reports(
    rows: Iterable[dict[str, Any]],
    directory: Path,
    places: RowPlaces,
    *,
    batch: int = 50_000,
) -> dict[str, Path]:
    """Write matches.csv, matches.jsonl and matches.parquet in one pass.

    Lines name their row by `index`; `places` adds its `file` and `row`.
    """
    directory.mkdir(parents=True, exist_ok=True)
    paths = {
        "csv": directory / "matches.csv",
        "jsonl": directory / "matches.jsonl",
        "parquet": directory / "matches.parquet",
    }
    with (
        open(paths["csv"], "w", newline="", encoding="utf-8") as csv_file,
        open(paths["jsonl"], "w", encoding="utf-8") as jsonl_file,
        pq.ParquetWriter(paths["parquet"], _SCHEMA) as parquet,
    ):
        writer = csv.writer(csv_file)
        writer.writerow(COLUMNS)
        pending: list[dict[str, Any]] = []

        def flush() -> None:
            if pending:
                columns = {c: [r.get(c) for r in pending] for c in COLUMNS}
                parquet.write_table(pa.table(columns, schema=_SCHEMA))
                pending.clear()

        for row in rows:
            row["file"], row["row"] = places.place(row["index"])
            writer.writerow([csv_safe(row.get(c)) for c in COLUMNS])
            jsonl_file.write(json.dumps({c: row.get(c) for c in COLUMNS}) + "\n")
            pending.append(row)
            if len(pending) >= batch:
                flush()
        flush()
    return paths
