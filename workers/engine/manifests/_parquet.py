"""Parquet: chunks are runs of row groups; only the mapped columns are read.

Values come out column by column (`to_pylist` of the needed columns), never as
per-row dicts: this is the path a million-row LAION file takes, and pyarrow does
the decoding. Filtered output is written row group by row group with the input's
Arrow schema (its key-value metadata included) and compression, so memory stays
at one row group.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..types import ChunkSpec, RowBatch
from ._common import VALUE_ROLES, ManifestRejected, build_batch, match_columns

_CODECS = {"uncompressed": "none", "lz4_raw": "lz4", "lz4": "lz4"}


def open_file(path: Path, where: str = "") -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise ManifestRejected(
            f"{where}not a readable Parquet file ({_first_line(exc)})"
        ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def detect(path: Path, overrides: Mapping[str, str] | None) -> dict[str, str]:
    return match_columns(open_file(path).schema_arrow.names, overrides)


def check_columns(path: Path, columns: Mapping[str, str], where: str) -> None:
    names = set(open_file(path, where).schema_arrow.names)
    for role, actual in columns.items():
        if actual not in names:
            raise ManifestRejected(
                f"{where}column {actual!r} for {role} is missing", field=role
            )


def row_group_sizes(path: Path, where: str) -> list[int]:
    meta = open_file(path, where).metadata
    return [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]


def plan(
    path: Path, part: int, first_row: int, target_rows: int, where: str
) -> list[ChunkSpec]:
    specs: list[ChunkSpec] = []
    start, rows, row = 0, 0, first_row
    sizes = row_group_sizes(path, where)
    for i, n in enumerate(sizes):
        rows += n
        if rows >= target_rows:
            specs.append(ChunkSpec(part, "row_groups", start, i + 1, row, rows))
            start, row, rows = i + 1, row + rows, 0
    if start < len(sizes) and rows:
        specs.append(ChunkSpec(part, "row_groups", start, len(sizes), row, rows))
    return specs


def _is_text(dtype: pa.DataType) -> bool:
    if pa.types.is_dictionary(dtype):
        dtype = dtype.value_type
    return bool(pa.types.is_string(dtype) or pa.types.is_large_string(dtype))


def read(
    path: Path,
    spec: ChunkSpec,
    columns: Mapping[str, str],
    batch_rows: int,
    where: str,
) -> Iterator[RowBatch]:
    pf = open_file(path, where)
    schema = pf.schema_arrow
    roles = [r for r in VALUE_ROLES if r in columns]
    for role in roles:
        if columns[role] not in schema.names:
            raise ManifestRejected(
                f"{where}column {columns[role]!r} for {role} is missing", field=role
            )
    wanted = list(dict.fromkeys(columns[r] for r in roles))
    trusted = [r for r in roles if _is_text(schema.field(columns[r]).type)]
    first_row = spec.first_row
    try:
        batches = pf.iter_batches(
            batch_size=batch_rows,
            row_groups=list(range(spec.start, spec.stop)),
            columns=wanted,
            use_threads=True,
        )
        for record_batch in batches:
            n = record_batch.num_rows
            cells = {
                name: record_batch.column(i).to_pylist()
                for i, name in enumerate(record_batch.schema.names)
            }
            raw = {role: cells[columns[role]] for role in roles}
            batch = build_batch(first_row, n, raw, columns, {}, trusted_text=trusted)
            first_row += n
            yield batch
    except (pa.ArrowException, OSError) as exc:
        raise ManifestRejected(
            f"{where}row groups {spec.start}-{spec.stop - 1} cannot be read "
            f"({_first_line(exc)})"
        ) from None
    if first_row - spec.first_row != spec.rows:
        raise ManifestRejected(
            f"{where}row groups {spec.start}-{spec.stop - 1} hold "
            f"{first_row - spec.first_row} rows, not the {spec.rows} planned; "
            "was the file changed?"
        )


def _compression(meta: pq.FileMetaData) -> str:
    if not meta.num_row_groups or not meta.num_columns:
        return "snappy"
    codec = str(meta.row_group(0).column(0).compression).lower()
    return _CODECS.get(codec, codec)


def write(
    path: Path, removed: np.ndarray, first_row: int, out: Path, where: str
) -> int:
    """Write `path` minus the manifest rows in `removed` (sorted) to `out`."""
    base = first_row

    def keep(table: pa.Table) -> pa.Array | None:
        nonlocal base
        n = table.num_rows
        lo, hi = np.searchsorted(removed, [base, base + n])
        mask = None
        if hi > lo:
            mask = np.ones(n, dtype=bool)
            mask[removed[lo:hi] - base] = False
        base += n
        return None if mask is None else pa.array(mask)

    return write_where(path, out, keep, where)


def write_where(
    path: Path,
    out: Path,
    keep: Callable[[pa.Table], pa.Array | None],
    where: str,
) -> int:
    """Copy `path` to `out` row group by row group, keeping the rows `keep`
    marks (None: all of the group); schema, metadata and compression stay.
    Returns the input's row count."""
    pf = open_file(path, where)
    meta = pf.metadata
    try:
        with pq.ParquetWriter(
            out, pf.schema_arrow, compression=_compression(meta)
        ) as writer:
            for g in range(meta.num_row_groups):
                table = pf.read_row_group(g)
                mask = keep(table)
                if mask is not None:
                    table = table.filter(mask)
                if table.num_rows:
                    writer.write_table(table, row_group_size=table.num_rows)
    except (pa.ArrowException, OSError) as exc:
        raise ManifestRejected(
            f"{where}cannot be rewritten ({_first_line(exc)})"
        ) from None
    return int(meta.num_rows)
