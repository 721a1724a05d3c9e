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
Arrow schema (its key-value metadata included) and compression.

Memory: a compressed, dictionary-encoded column can decode to a thousand times
its stored size (639 bytes of zstd held 100,000 copies of an 8 KB URL: 800 MB
decoded). Text and bytes columns are therefore read as dictionary arrays,
which stay the size they are stored at, in batches sized from the row groups'
stored sizes; a value over its cap (MAX_URL_BYTES for a url, MAX_VALUE_BYTES
for others, the image limit for images) is left out before anything is
decoded, its row unchecked with the reason; and what is decoded into Python
objects, or written back, goes a slice of at most MAX_BATCH_VALUE_BYTES at a
time. The price: reading a column as a dictionary costs pyarrow a hash of each
value that was not stored dictionary-encoded, and the dictionary of a row
group grows as its batches are read (bounded by the group's stored size).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..types import WHOLE_ROW, ChunkSpec, RowBatch, RowProblem
from ._common import (
    IMAGE_ROLE,
    MAX_BATCH_IMAGE_BYTES,
    MAX_BATCH_VALUE_BYTES,
    MAX_URL_BYTES,
    MAX_VALUE_BYTES,
    VALUE_ROLES,
    ManifestRejected,
    build_batch,
    match_columns,
    too_long,
)

_CODECS = {"uncompressed": "none", "lz4_raw": "lz4", "lz4": "lz4"}
# Names an embedded image column goes by (compared case-insensitively).
IMAGE_NAMES = ("jpg", "jpeg", "png", "webp", "image", "img")


def open_file(
    path: Path, where: str = "", dictionary: list[str] | None = None
) -> pq.ParquetFile:
    """The file, its `dictionary` columns read as dictionary arrays."""
    try:
        return pq.ParquetFile(path, read_dictionary=dictionary or None)
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
    schema = open_file(path, where).schema_arrow
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
    # Text and bytes come as dictionary arrays (a dictionary-encoded column
    # stays as small as it is stored) and are decoded a budgeted slice at a time.
    pf = open_file(path, where, dictionary=_variable_columns(schema, wanted))
    trusted = [r for r in roles if _is_text(schema.field(columns[r]).type)]
    first_row = spec.first_row
    batch_rows = min(batch_rows, _budget_rows(pf, spec, wanted, batch_rows))
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
            yield from _batches(
                record_batch,
                first_row,
                roles,
                columns,
                image,
                trusted,
                max_image_bytes,
            )
            first_row += record_batch.num_rows
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


def _batches(
    record_batch: pa.RecordBatch,
    first_row: int,
    roles: list[str],
    columns: Mapping[str, str],
    image: str | None,
    trusted: list[str],
    max_image_bytes: int,
) -> Iterator[RowBatch]:
    """RowBatches of one record batch: values over their cap left out (and
    reported), then cut so each decodes to at most MAX_BATCH_VALUE_BYTES of
    values and MAX_BATCH_IMAGE_BYTES of images."""
    n = record_batch.num_rows
    arrays: dict[str, pa.Array] = {}
    value_bytes = np.zeros(n, dtype=np.int64)
    image_bytes = np.zeros(n, dtype=np.int64)
    whole: dict[int, RowProblem] = {}
    partial: dict[int, list[RowProblem]] = {}
    for i, name in enumerate(record_batch.schema.names):
        array = record_batch.column(i)
        lengths = _lengths(array)
        if lengths is not None:
            if name == image:
                caps = [(IMAGE_ROLE, max_image_bytes)]
            else:
                caps = [
                    (r, MAX_URL_BYTES if r == "url" else MAX_VALUE_BYTES)
                    for r in roles
                    if columns[r] == name
                ]
            over = lengths > min(cap for _, cap in caps)
            if over.any():
                array = _nulled(array, over)
                lengths = np.where(over, 0, lengths)
                for row in np.flatnonzero(over).tolist():
                    for role, cap in caps:
                        problem = RowProblem(
                            first_row + row,
                            f"image is larger than {cap} bytes"
                            if role == IMAGE_ROLE
                            else too_long(role, cap),
                            name,
                            WHOLE_ROW if role == "key" else role,
                        )
                        if role == "key":
                            whole[row] = problem
                        else:
                            partial.setdefault(row, []).append(problem)
            if name == image:
                image_bytes += lengths
            else:
                value_bytes += lengths
        elif name == image:  # a struct: its bytes field, capped in _images
            image_bytes += _struct_lengths(array)
        arrays[name] = array
    for start, stop in _cuts(value_bytes, image_bytes):
        cells = {
            name: _pylist(array.slice(start, stop - start))
            for name, array in arrays.items()
        }
        raw = {role: cells[columns[role]] for role in roles}
        images = names = None
        slice_partial = {i - start: p for i, p in partial.items() if start <= i < stop}
        if image is not None:
            images, found = _images(
                cells[image], first_row + start, image, max_image_bytes
            )
            for i, problems in found.items():
                slice_partial.setdefault(i, []).extend(problems)
            names = [image] * (stop - start)
        yield build_batch(
            first_row + start,
            stop - start,
            raw,
            columns,
            {i - start: p for i, p in whole.items() if start <= i < stop},
            trusted_text=trusted,
            images=images,
            image_names=names,
            partial=slice_partial,
        )


def _is_variable(dtype: pa.DataType) -> bool:
    """Text or bytes: a value of any length."""
    return bool(
        pa.types.is_string(dtype)
        or pa.types.is_large_string(dtype)
        or _is_binary(dtype)
    )


def _variable_columns(schema: pa.Schema, names: list[str] | None = None) -> list[str]:
    return [
        f.name
        for f in schema
        if (names is None or f.name in names) and _is_variable(f.type)
    ]


def _lengths(array: pa.Array) -> np.ndarray | None:
    """Bytes of each value (0 for null) of a text or bytes column, else None."""
    dtype = array.type
    if pa.types.is_dictionary(dtype):
        if not _is_variable(dtype.value_type):
            return None
        lengths = pc.take(pc.binary_length(array.dictionary), array.indices)
    elif _is_variable(dtype):
        lengths = pc.binary_length(array)
    else:
        return None
    return _filled(lengths)


def _struct_lengths(array: pa.Array) -> np.ndarray:
    field = pc.struct_field(array, "bytes")
    if pa.types.is_dictionary(field.type):
        field = field.dictionary_decode()
    return _filled(pc.binary_length(field))


def _filled(lengths: pa.Array) -> np.ndarray:
    """int64 lengths, null as 0 (pc.coalesce: fill_null imports pandas)."""
    if lengths.null_count:
        lengths = pc.coalesce(lengths, pa.scalar(0, lengths.type))
    return np.asarray(lengths.to_numpy(zero_copy_only=False), dtype=np.int64)


def _nulled(array: pa.Array, mask: np.ndarray) -> pa.Array:
    """`array` with the values at `mask` made null."""
    where = pa.array(mask)
    if pa.types.is_dictionary(array.type):
        indices = pc.if_else(where, pa.scalar(None, array.indices.type), array.indices)
        return pa.DictionaryArray.from_arrays(indices, array.dictionary)
    return pc.if_else(where, pa.scalar(None, array.type), array)


def _pylist(array: pa.Array) -> list:
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    return array.to_pylist()


def _cuts(
    value_bytes: np.ndarray, image_bytes: np.ndarray
) -> Iterator[tuple[int, int]]:
    """[start, stop) runs of rows within both budgets (one row at least)."""
    n = len(value_bytes)
    values = np.cumsum(value_bytes)
    images = np.cumsum(image_bytes)
    start = 0
    while start < n:
        before_v = values[start - 1] if start else 0
        before_i = images[start - 1] if start else 0
        stop = min(
            int(np.searchsorted(values, before_v + MAX_BATCH_VALUE_BYTES, "right")),
            int(np.searchsorted(images, before_i + MAX_BATCH_IMAGE_BYTES, "right")),
        )
        stop = max(stop, start + 1)
        yield start, stop
        start = stop


def _budget_rows(
    pf: pq.ParquetFile, spec: ChunkSpec, names: list[str], batch_rows: int
) -> int:
    """Rows per batch so a batch of these columns, as stored uncompressed,
    holds about MAX_BATCH_VALUE_BYTES (the readable part of the budget:
    dictionary-encoded values stay encoded until they are sliced)."""
    meta = pf.metadata
    size = rows = 0
    for g in range(spec.start, spec.stop):
        group = meta.row_group(g)
        rows += group.num_rows
        for c in range(group.num_columns):
            column = group.column(c)
            if column.path_in_schema.split(".")[0] in names:
                size += column.total_uncompressed_size
    per_row = max(size // max(rows, 1), 1)
    return max(1, min(batch_rows, MAX_BATCH_VALUE_BYTES // per_row))


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
    marks (None: all of the batch); schema, metadata and compression stay.

    Memory is bounded whatever the values decode to: text and bytes are read
    as dictionary arrays, in batches sized from the row group's stored size,
    and decoded for writing a slice of at most MAX_BATCH_VALUE_BYTES at a
    time. A row group that decodes to more is written as several row groups
    of about that size (before, one 639-byte file of 8 KiB values took 1.6 GB
    to rewrite). `keep` is called once per batch, in row order. Returns the
    input's row count.
    """
    schema = open_file(path, where).schema_arrow
    pf = open_file(path, where, dictionary=_variable_columns(schema))
    meta = pf.metadata
    try:
        with pq.ParquetWriter(out, schema, compression=_compression(meta)) as writer:
            for g in range(meta.num_row_groups):
                group = meta.row_group(g)
                per_row = max(group.total_byte_size // max(group.num_rows, 1), 1)
                rows = max(1, MAX_BATCH_VALUE_BYTES // per_row)
                for batch in pf.iter_batches(
                    batch_size=min(rows, max(group.num_rows, 1)),
                    row_groups=[g],
                    use_threads=True,
                ):
                    table = pa.Table.from_batches([batch])
                    mask = keep(table)
                    if mask is not None:
                        table = table.filter(mask)
                    sizes = np.zeros(table.num_rows, dtype=np.int64)
                    for column in table.columns:
                        lengths = _lengths(column.combine_chunks())
                        if lengths is not None:
                            sizes += lengths
                    for start, stop in _cuts(sizes, np.zeros_like(sizes)):
                        piece = table.slice(start, stop - start).cast(schema)
                        writer.write_table(piece, row_group_size=piece.num_rows)
    except (pa.ArrowException, OSError) as exc:
        raise ManifestRejected(
            f"{where}cannot be rewritten ({_first_line(exc)})"
        ) from None
    return int(meta.num_rows)
