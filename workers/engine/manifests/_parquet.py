"""Parquet: chunks are runs of row groups; only the mapped columns are read.

Images embedded in the file are read as tar shards' are: img2dataset's
`--output_format parquet` keeps the encoded image in a binary column named for
its format (`jpg`, `png`, `webp`), Hugging Face style datasets in an `image`
(or `img`) struct with a binary `bytes` field; either is found by name and
type, or named with the mapping `{"image": "column"}`. A null cell is a row
without an image (img2dataset's failed downloads), not an unchecked one; an
image over `max_image_bytes` leaves its row's image unchecked. With images, a
record batch holds at most MAX_BATCH_IMAGE_BYTES of them (estimated from the
row groups' sizes): memory per chunk is one row group as pyarrow decodes it
plus one batch of images.

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

from ..types import ChunkSpec, RowBatch, RowProblem
from ._common import (
    IMAGE_ROLE,
    MAX_BATCH_IMAGE_BYTES,
    VALUE_ROLES,
    ManifestRejected,
    build_batch,
    match_columns,
)

_CODECS = {"uncompressed": "none", "lz4_raw": "lz4", "lz4": "lz4"}
# Names an embedded image column goes by (compared case-insensitively).
IMAGE_NAMES = ("jpg", "jpeg", "png", "webp", "image", "img")


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


def _is_binary(dtype: pa.DataType) -> bool:
    return bool(pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype))


def _image_type(dtype: pa.DataType) -> str | None:
    """ "binary" or "struct" (with a binary `bytes` field) when the column can
    hold encoded images, else None."""
    if _is_binary(dtype):
        return "binary"
    if pa.types.is_struct(dtype):
        index = dtype.get_field_index("bytes")
        if index >= 0 and _is_binary(dtype.field(index).type):
            return "struct"
    return None


def detect(path: Path, overrides: Mapping[str, str] | None) -> dict[str, str]:
    schema = open_file(path).schema_arrow
    by_name = {name.lower(): name for name in schema.names}
    image = next(
        (
            by_name[candidate]
            for candidate in IMAGE_NAMES
            if candidate in by_name
            and _image_type(schema.field(by_name[candidate]).type)
        ),
        None,
    )
    if overrides and IMAGE_ROLE in overrides:
        image = _image_override(schema, by_name, overrides[IMAGE_ROLE])
    try:
        detected = match_columns(
            schema.names,
            {k: v for k, v in (overrides or {}).items() if k != IMAGE_ROLE},
        )
    except ManifestRejected as exc:
        # Images alone are something to check.
        if exc.field is not None or image is None:
            raise
        detected = {}
    if image is not None:
        detected[IMAGE_ROLE] = image
    return detected


def _image_override(
    schema: pa.Schema, by_name: Mapping[str, str], name: str
) -> str | None:
    """The column a mapping names for images (None: no images), checked."""
    if not name:
        return None
    name = name if name in schema.names else by_name.get(name.lower(), name)
    if name not in schema.names:
        raise ManifestRejected(
            f"column {name!r} given for image is not in the manifest",
            field=IMAGE_ROLE,
        )
    if not _image_type(schema.field(name).type):
        raise ManifestRejected(
            f"column {name!r} given for image holds {schema.field(name).type}, "
            "not image bytes (binary, or a struct with a binary bytes field)",
            field=IMAGE_ROLE,
        )
    return name


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
    max_image_bytes: int,
) -> Iterator[RowBatch]:
    pf = open_file(path, where)
    schema = pf.schema_arrow
    roles = [r for r in VALUE_ROLES if r in columns]
    for role in roles:
        if columns[role] not in schema.names:
            raise ManifestRejected(
                f"{where}column {columns[role]!r} for {role} is missing", field=role
            )
    image = columns.get(IMAGE_ROLE)
    if image is not None and (
        image not in schema.names or not _image_type(schema.field(image).type)
    ):
        raise ManifestRejected(
            f"{where}column {image!r} for image is missing or holds no image bytes",
            field=IMAGE_ROLE,
        )
    wanted = list(
        dict.fromkeys([*(columns[r] for r in roles), *([image] if image else [])])
    )
    trusted = [r for r in roles if _is_text(schema.field(columns[r]).type)]
    first_row = spec.first_row
    if image is not None:
        batch_rows = _image_batch_rows(pf, spec, batch_rows)
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
            images = names = None
            partial: dict[int, list[RowProblem]] = {}
            if image is not None:
                images, partial = _images(
                    cells[image], first_row, image, max_image_bytes
                )
                names = [image] * n
            batch = build_batch(
                first_row,
                n,
                raw,
                columns,
                {},
                trusted_text=trusted,
                images=images,
                image_names=names,
                partial=partial,
            )
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


def _image_batch_rows(pf: pq.ParquetFile, spec: ChunkSpec, batch_rows: int) -> int:
    """Rows per batch so a batch holds about MAX_BATCH_IMAGE_BYTES of images."""
    meta = pf.metadata
    size = sum(meta.row_group(g).total_byte_size for g in range(spec.start, spec.stop))
    rows = sum(meta.row_group(g).num_rows for g in range(spec.start, spec.stop))
    per_row = max(size // max(rows, 1), 1)
    return max(1, min(batch_rows, MAX_BATCH_IMAGE_BYTES // per_row))


def _images(
    cells: list, first_row: int, column: str, limit: int
) -> tuple[list[bytes | None], dict[int, list[RowProblem]]]:
    """The encoded images of a batch (struct cells: their `bytes`), and the
    rows whose image is over `limit` (that signal unchecked)."""
    images: list[bytes | None] = []
    problems: dict[int, list[RowProblem]] = {}
    for i, cell in enumerate(cells):
        data = cell.get("bytes") if isinstance(cell, dict) else cell
        if data is not None and len(data) > limit:
            problems[i] = [
                RowProblem(
                    first_row + i,
                    f"image is larger than {limit} bytes",
                    column,
                    IMAGE_ROLE,
                )
            ]
            data = None
        images.append(data or None)
    return images, problems


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
