"""Manifest readers and writers: sniff, map columns, plan chunks, read rows, and
write the filtered manifest in the input's own format.

Formats: CSV and TSV (UTF-8, one header row), JSON Lines, Parquet, and WebDataset
`.tar` shards (img2dataset's output: `{key}.jpg`, `{key}.txt`, `{key}.json`). A
manifest is one file, or several parts of one format read in order (a LAION
folder of Parquet parts, img2dataset's shards, CSV parts); `layout` says which
files of a folder are parts and which are img2dataset's sidecars. Rows are
numbered from 0 across all parts (the index; reports also give each row's file
and its row in that file); a row's number depends only on the files, never on
how they were chunked. Empty lines are not rows (in JSONL, whitespace-only ones
neither). Every pass streams: a CSV/JSONL line or a tar member is the most held
in memory, a row group for Parquet.

Column mapping: {role: column} with roles from types.LOGICAL_COLUMNS (plus
`image` for tar shards), detected by name case-insensitively, then overridden;
an override with an empty name drops a role. LAION Parquet (URL, TEXT) and
img2dataset output (url, caption, key, sha256) need no mapping. LAION's `hash`
column is an internal integer, not a content hash, and is never mapped.
`column_report` says which column each signal used, which were found but not
used, and warns when there is no URL column (URLs were then not checked).

What fails the job (ManifestRejected) and what leaves a row unchecked
(RowProblem, in RowBatch.unchecked):

The job fails when the file as a whole cannot be trusted, or nothing in it could
be checked:
- sniff: an empty file, an unknown or binary format, a compressed file, a JSON
  array, a `.parquet` or `.tar` name over other content;
- no usable column (none of url, caption, sha256, md5, phash, pdq, nor images in
  tar shards), an unknown role, or an override naming a missing column;
- Parquet that pyarrow cannot open or decode: the damage cannot be pinned on
  rows, so no row of that file can be trusted;
- a CSV/TSV header that is not UTF-8 or not parseable, and any CSV/TSV record
  over `max_line_bytes` (1 MB): that is almost always an unclosed quote
  swallowing the following rows, so the rest of the file is suspect;
- a tar member with an absolute path, `..`, a link, a device or a pipe, and a
  truncated or corrupt shard: img2dataset never writes these, and the filtered
  shard would carry them on to the next user;
- a file that changed between planning and reading (a chunk's row count differs).

A row that cannot be read at all is unchecked as a whole (signal WHOLE_ROW: no
value of it is matched), when only that row is bad, so the rest of the manifest
is still worth matching:
- CSV/TSV: a row with more or fewer fields than the header, broken quoting
  (an unterminated quote makes one bad record of every line up to the end of
  the file or the next quote, all of them unchecked together);
- JSONL: a line that is not JSON, not an object, or over `max_line_bytes`
  (lines are independent, so the next one is safe);
- tar shards: a sample with no image, caption or metadata member.

A value that cannot be checked leaves only its own signal unchecked; the row's
other values are still matched, so a claimed URL still removes its row:
- a malformed hash ("phash must be 16 hex digits, got 15", field = the column);
- a url or caption that is not text, or not valid UTF-8 (CSV/TSV and JSONL rows
  are decoded value by value: UTF-8 never hides an ASCII byte, so a bad byte
  cannot move record boundaries);
- a URL that does not normalize (snapshot matching), an image that does not
  decode (snapshot matching) or is over its size limit;
- tar shards: a `.json` member that is not a JSON object (the signals read
  from it), a `.txt` caption that is not UTF-8 or over its size limit.
Callers report every unchecked row and, unless asked to keep them, leave the
row out of the filtered manifest: nothing is passed on as clean that was not
checked. An img2dataset row whose status is not `success` has no image, but its
URL, caption and hashes are checked like any other row's: it is not unchecked.
Tar members that are neither images, `.txt` nor `.json` (say `x.exe`), and a
sample's second image, are ignored and listed in RowBatch.notes; the row is still
matched.
"""

from __future__ import annotations

import codecs
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from ..types import ChunkSpec, ManifestFormat, RowBatch
from . import _parquet, _tar, _text
from ._common import (
    IMAGE_ROLE,
    MAX_IMAGE_BYTES,
    MAX_LINE_BYTES,
    ColumnReport,
    ManifestRejected,
    column_report,
    no_url_warning,
    nothing_to_check,
    parse_hash,
)
from .layout import (
    SIDECAR_KINDS,
    SIDECAR_PARQUET,
    SIDECAR_STATS,
    Layout,
    Sidecar,
    arrange,
    check_sidecar,
    folder_files,
    ignored,
    write_sidecars,
)

__all__ = [
    "IMAGE_ROLE",
    "SIDECAR_KINDS",
    "SIDECAR_PARQUET",
    "SIDECAR_STATS",
    "Layout",
    "Sidecar",
    "arrange",
    "check_sidecar",
    "folder_files",
    "ignored",
    "write_sidecars",
    "MAX_IMAGE_BYTES",
    "MAX_LINE_BYTES",
    "ColumnReport",
    "ManifestRejected",
    "column_report",
    "count_rows",
    "detect_columns",
    "found_columns",
    "no_url_warning",
    "nothing_to_check",
    "parse_hash",
    "plan_chunks",
    "read_chunk",
    "sniff",
    "write_filtered",
    "write_kept",
]

SNIFF_BYTES = 1 << 16
_CHUNK_KINDS = {
    ManifestFormat.PARQUET: "row_groups",
    ManifestFormat.WEBDATASET: "tar",
    ManifestFormat.CSV: "bytes",
    ManifestFormat.TSV: "bytes",
    ManifestFormat.JSONL: "bytes",
}
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\xfd7zXZ\x00", "an xz-compressed file"),
    (b"\x28\xb5\x2f\xfd", "a zstd-compressed file"),
    (b"BZh91AY&SY", "a bzip2-compressed file"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"RIFF", "a RIFF file (WebP, WAV, AVI)"),
    (b"%PDF", "a PDF document"),
    (b"\x7fELF", "an executable"),
    (b"ARROW1", "an Arrow/Feather file"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\xff\xfe", "UTF-16 text"),
    (b"\xfe\xff", "UTF-16 text"),
)
_WANTED = "upload CSV, TSV, JSON Lines, Parquet or uncompressed WebDataset .tar shards"


def sniff(path: Path, name: str) -> ManifestFormat:
    """The manifest's format, from its content first and its name as a hint.

    Raises ManifestRejected for an empty file or a format we do not read.
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(SNIFF_BYTES)
        f.seek(max(size - 4, 0))
        tail = f.read(4)
    lower = name.lower()
    if not head:
        raise ManifestRejected("the file is empty")
    if head[:4] == b"PAR1":
        if tail != b"PAR1" or size < 12:
            raise ManifestRejected(
                "the Parquet file is truncated (it does not end with PAR1)"
            )
        return ManifestFormat.PARQUET
    if len(head) >= 512 and head[257:262] == b"ustar":
        return ManifestFormat.WEBDATASET
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            hint = "save it as UTF-8" if "UTF-16" in kind else _WANTED
            raise ManifestRejected(f"the file is {kind}, not a manifest; {hint}")
    if lower.endswith(".parquet"):
        raise ManifestRejected("the file is named .parquet but is not Parquet")
    if lower.endswith(".tar"):
        raise ManifestRejected("the file is named .tar but is not a tar archive")
    if b"\x00" in head:
        raise ManifestRejected(f"the file holds binary data, not text; {_WANTED}")
    text = codecs.getincrementaldecoder("utf-8")("replace").decode(head, final=False)
    text = text.removeprefix("\ufeff")
    bad = text.count("\ufffd")
    if bad > 8 and bad * 100 > len(text):
        raise ManifestRejected("the file is not UTF-8 text; save it as UTF-8")
    first = next((line.strip() for line in text.split("\n") if line.strip()), "")
    if not first:
        raise ManifestRejected("the file holds no rows, only blank lines")
    if first.startswith("{"):
        return ManifestFormat.JSONL
    if first.startswith("["):
        raise ManifestRejected(
            "the file is a JSON array, not JSON Lines; write one JSON object per line"
        )
    tabs = first.count("\t")
    others = max(first.count(d) for d in ",;|")
    if lower.endswith((".tsv", ".tab")) and tabs:
        return ManifestFormat.TSV
    if lower.endswith(".csv") and others:
        return ManifestFormat.CSV
    if tabs > others or (not others and lower.endswith((".tsv", ".tab"))):
        return ManifestFormat.TSV
    return ManifestFormat.CSV


def detect_columns(
    path: Path | Sequence[Path],
    fmt: ManifestFormat,
    overrides: Mapping[str, str] | None = None,
    *,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> dict[str, str]:
    """{role: the file's column name} for the manifest, detected then overridden.

    Given several parts, detects on the first and checks the mapped columns are
    in every other part (tar shards: the first only). Raises ManifestRejected
    for an unknown role, an override naming a missing column, or no usable
    column.
    """
    paths = [Path(path)] if isinstance(path, str | Path) else [Path(p) for p in path]
    first = paths[0]
    if fmt == ManifestFormat.PARQUET:
        columns = _parquet.detect(first, overrides)
    elif fmt == ManifestFormat.WEBDATASET:
        columns = _tar.detect(first, overrides, max_line_bytes)
    else:
        columns = _text.detect(first, fmt, overrides, max_line_bytes)
    for part, other in enumerate(paths[1:], 1):
        where = _text_where(paths, part)
        if fmt == ManifestFormat.PARQUET:
            _parquet.check_columns(other, columns, where)
        elif fmt in (ManifestFormat.CSV, ManifestFormat.TSV):
            names, _ = _text.csv_header(
                other, _text.dialect_for(other, fmt), max_line_bytes
            )
            for role, actual in columns.items():
                if actual not in names:
                    raise ManifestRejected(
                        f"{where}column {actual!r} for {role} is missing", field=role
                    )
    return columns


def found_columns(
    path: Path, fmt: ManifestFormat, *, max_line_bytes: int = MAX_LINE_BYTES
) -> list[str]:
    """The columns a manifest file offers, in its own order.

    Parquet: its schema; CSV/TSV: its header; JSONL: the keys of the objects in
    its first 100 lines; tar shards: `__key__`, the members' `.ext` and the
    `.json` fields of the first samples, and `*` when they hold images. Raises
    ManifestRejected when the file cannot be read.
    """
    path = Path(path)
    if fmt == ManifestFormat.PARQUET:
        return list(_parquet.open_file(path).schema_arrow.names)
    if fmt == ManifestFormat.WEBDATASET:
        return _tar.found(path, max_line_bytes)
    if fmt == ManifestFormat.JSONL:
        return _text.jsonl_keys(path, max_line_bytes)
    names, _ = _text.csv_header(path, _text.dialect_for(path, fmt), max_line_bytes)
    return names


def plan_chunks(
    paths: Sequence[Path],
    fmt: ManifestFormat,
    *,
    target_rows: int = 100_000,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> list[ChunkSpec]:
    """Split the manifest into chunks of about `target_rows` rows, counted exactly.

    Parquet: runs of whole row groups; CSV/TSV/JSONL: byte ranges starting on
    rows; tar: one chunk per shard. Chunks never span parts; parts with no rows
    get none. Raises ManifestRejected for a file that cannot be read (see the
    module docstring).
    """
    if target_rows < 1:
        raise ValueError("target_rows must be at least 1")
    paths = [Path(p) for p in paths]
    specs: list[ChunkSpec] = []
    row = 0
    for part, path in enumerate(paths):
        where = _text_where(paths, part)
        if fmt == ManifestFormat.PARQUET:
            new = _parquet.plan(path, part, row, target_rows, where)
        elif fmt == ManifestFormat.WEBDATASET:
            new = _tar.plan(path, part, row, where)
        else:
            new = _text.plan(path, fmt, part, row, target_rows, max_line_bytes, where)
        specs += new
        row += sum(spec.rows for spec in new)
    return specs


def count_rows(
    paths: Sequence[Path], fmt: ManifestFormat, *, max_line_bytes: int = MAX_LINE_BYTES
) -> int:
    """How many rows the manifest holds (Parquet: from its footer, others: a scan)."""
    paths = [Path(p) for p in paths]
    total = 0
    for part, path in enumerate(paths):
        where = _text_where(paths, part)
        if fmt == ManifestFormat.PARQUET:
            total += sum(_parquet.row_group_sizes(path, where))
        elif fmt == ManifestFormat.WEBDATASET:
            total += _tar.count(path, where)
        else:
            if fmt != ManifestFormat.JSONL:
                names, _ = _text.csv_header(
                    path, _text.dialect_for(path, fmt), max_line_bytes
                )
                if not names:
                    continue
            total += _text.count(path, fmt, max_line_bytes, where)
    return total


def read_chunk(
    paths: Sequence[Path],
    fmt: ManifestFormat,
    spec: ChunkSpec,
    columns: Mapping[str, str],
    *,
    batch_rows: int = 50_000,
    max_line_bytes: int = MAX_LINE_BYTES,
    max_image_bytes: int = MAX_IMAGE_BYTES,
) -> Iterator[RowBatch]:
    """The chunk's rows as RowBatches of at most `batch_rows` rows, in order.

    Tar batches are also cut once their images pass 256 MB. Raises
    ManifestRejected when the file cannot be read or no longer matches the
    plan; what of a row could not be checked comes back in RowBatch.unchecked.
    """
    if batch_rows < 1:
        raise ValueError("batch_rows must be at least 1")
    if spec.kind != _CHUNK_KINDS[fmt]:
        raise ValueError(f"a {spec.kind!r} chunk is not a {fmt} chunk")
    paths = [Path(p) for p in paths]
    path = paths[spec.part]
    where = _text_where(paths, spec.part)
    if fmt == ManifestFormat.PARQUET:
        yield from _parquet.read(
            path, spec, columns, batch_rows, where, max_image_bytes
        )
    elif fmt == ManifestFormat.WEBDATASET:
        limits = (max_line_bytes, max_image_bytes)
        yield from _tar.read(path, spec, columns, batch_rows, limits, where)
    else:
        yield from _text.read(
            path, fmt, spec, columns, batch_rows, max_line_bytes, where
        )


def write_filtered(
    paths: Sequence[Path],
    fmt: ManifestFormat,
    removed_rows: Iterable[int] | np.ndarray,
    out_dir: Path,
    *,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> list[Path]:
    """Write the manifest minus `removed_rows` into `out_dir`, one file per part.

    Each output has its input's name and format: CSV/TSV and JSONL keep every
    other byte (header, dialect, BOM, line endings), Parquet keeps its schema,
    metadata, compression and row groups (one that decodes to more than
    MAX_BATCH_VALUE_BYTES is written as several), tar shards keep every member of the
    kept samples byte for byte. Raises ValueError if two parts share a name or
    `out_dir` holds the inputs, ManifestRejected if a file cannot be read.
    """
    paths = [Path(p) for p in paths]
    removed = _sorted_rows(removed_rows)
    names = [p.name for p in paths]
    if len(set(names)) != len(names):
        raise ValueError("manifest parts must have distinct file names")
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs: list[Path] = []
    row = 0
    for part, path in enumerate(paths):
        out = out_dir / path.name
        if out.exists() and out.resolve() == path.resolve():
            raise ValueError("out_dir must not be the folder holding the manifest")
        where = _text_where(paths, part)
        if not removed.size or removed[-1] < row:
            shutil.copyfile(path, out)  # nothing left to remove: same bytes
        elif fmt == ManifestFormat.PARQUET:
            row += _parquet.write(path, removed, row, out, where)
        elif fmt == ManifestFormat.WEBDATASET:
            row += _tar.write(path, removed, row, out, where)
        else:
            row += _text.write(path, fmt, removed, row, out, max_line_bytes, where)
        outputs.append(out)
    return outputs


def write_kept(
    paths: Sequence[Path],
    fmt: ManifestFormat,
    kept_rows: Iterable[int] | np.ndarray,
    part_rows: Sequence[int],
    out_dir: Path,
    *,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> list[Path]:
    """Write only the manifest rows in `kept_rows` into `out_dir`, one file
    per part, as write_filtered writes (same names, formats and bytes).
    `part_rows` is each part's row count; the rows left out are worked out
    a part at a time, so memory follows the largest part, not the manifest.
    """
    paths = [Path(p) for p in paths]
    kept = _sorted_rows(kept_rows)
    if len(part_rows) != len(paths):
        raise ValueError("part_rows must give one count per part")
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs: list[Path] = []
    row = 0
    for part, (path, rows) in enumerate(zip(paths, part_rows, strict=True)):
        out = out_dir / path.name
        if out.exists() and out.resolve() == path.resolve():
            raise ValueError("out_dir must not be the folder holding the manifest")
        lo, hi = np.searchsorted(kept, [row, row + rows])
        left_out = np.setdiff1d(
            np.arange(row, row + rows, dtype=np.int64), kept[lo:hi], assume_unique=True
        )
        where = _text_where(paths, part)
        if not left_out.size:
            shutil.copyfile(path, out)
        elif fmt == ManifestFormat.PARQUET:
            _parquet.write(path, left_out, row, out, where)
        elif fmt == ManifestFormat.WEBDATASET:
            _tar.write(path, left_out, row, out, where)
        else:
            _text.write(path, fmt, left_out, row, out, max_line_bytes, where)
        row += rows
        outputs.append(out)
    return outputs


def _sorted_rows(rows: Iterable[int] | np.ndarray) -> np.ndarray:
    if isinstance(rows, np.ndarray):
        array = rows.astype(np.int64, copy=False).ravel()
    else:
        array = np.fromiter(rows, dtype=np.int64)
    if array.size > 1 and not bool(np.all(array[1:] > array[:-1])):
        array = np.unique(array)
    return array


def _text_where(paths: Sequence[Path], part: int) -> str:
    """Name the file in messages only when the manifest has several."""
    return f"{paths[part].name}: " if len(paths) > 1 else ""
