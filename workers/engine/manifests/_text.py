"""CSV, TSV and JSON Lines: rows found by streaming lines from a byte offset.

A row is a JSONL line or a CSV record that is not blank. Planning, reading and
writing all walk rows with the same two generators below, so a row's number never
depends on which pass or which chunk saw it. Lines are read with a length cap,
so an oversized line costs at most `limit` bytes of memory.

CSV records may span lines (a quoted field with newlines). A line that starts a
record and holds no quote character is a whole record and is split directly;
any other goes through the csv module, which pulls exactly the lines its record
needs. Chunks therefore start on record boundaries even with quoted newlines,
and a record is never cut.

Dialect: TSV is tab-separated, quoted only when the first 64 KiB show quoted
fields (most TSV, img2dataset's included, is unquoted, and a caption starting
with a quote must not swallow the next rows); CSV takes the most frequent of
`,` `;` `|` in its header and RFC 4180 quoting. The csv module runs in strict
mode, so broken quoting is reported on its row instead of silently merged.
Text is UTF-8 (a BOM is allowed and kept in filtered output). A row with bytes
that are not UTF-8 is still read: the values that hold them are reported as
unchecked by build_batch, and the row's other values are matched.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ..types import ChunkSpec, ManifestFormat, RowBatch
from ._common import (
    VALUE_ROLES,
    ManifestRejected,
    RowCollector,
    loads_json,
    match_columns,
)

BOM = b"\xef\xbb\xbf"
SAMPLE_BYTES = 1 << 16
DETECT_ROWS = 100
COPY_BLOCK = 1 << 20

# csv refuses fields over its global limit (128 KiB by default) before our own,
# clearer, record limit can speak; raise it once for the process.
csv.field_size_limit(max(csv.field_size_limit(), 1 << 30))


NOT_UTF8 = "row is not valid UTF-8"


class _TooLong(Exception):
    """A CSV record or JSONL line went past the line limit (internal)."""


@dataclass(frozen=True)
class Dialect:
    delimiter: str
    quotechar: str | None  # None: quotes are plain characters

    def reader(self, lines: Iterator[str]) -> Any:
        if self.quotechar is None:
            return csv.reader(lines, delimiter=self.delimiter, quoting=csv.QUOTE_NONE)
        return csv.reader(
            lines,
            delimiter=self.delimiter,
            quotechar=self.quotechar,
            doublequote=True,
            quoting=csv.QUOTE_MINIMAL,
            strict=True,
        )


def data_start(path: Path) -> int:
    with open(path, "rb") as f:
        return len(BOM) if f.read(len(BOM)) == BOM else 0


def _header_line(sample: bytes) -> str:
    for line in sample.split(b"\n"):
        if line.strip():
            return line.decode("latin-1")
    return ""


def guess_delimiter(header: str, tsv: bool) -> str:
    if tsv:
        return "\t"
    counts = {d: header.count(d) for d in ",;|"}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


_QUOTED_TSV_FIELD = re.compile(r'(?:^|\t)"[^\t]*"(?:\t|\r?$)', re.MULTILINE)


@lru_cache(maxsize=64)
def _dialect_cached(path: str, mtime: float, size: int, fmt: str) -> Dialect:
    with open(path, "rb") as f:
        sample = f.read(SAMPLE_BYTES)
    sample = sample.removeprefix(BOM)
    tsv = fmt == ManifestFormat.TSV
    delimiter = guess_delimiter(_header_line(sample), tsv)
    quotechar: str | None = '"'
    if tsv and not _QUOTED_TSV_FIELD.search(sample.decode("latin-1")):
        quotechar = None
    return Dialect(delimiter, quotechar)


def dialect_for(path: Path, fmt: ManifestFormat) -> Dialect:
    st = path.stat()
    return _dialect_cached(str(path), st.st_mtime, st.st_size, str(fmt))


# --- rows ---------------------------------------------------------------------


def _lines(
    f: BinaryIO, pos: int, limit: int
) -> Iterator[tuple[int, bytes | None, int]]:
    """(start, line, end) from `pos`; line is None when longer than `limit`."""
    readline = f.readline
    cap = limit + 2  # room for \r\n
    while True:
        line = readline(cap)
        if not line:
            return
        end = pos + len(line)
        if line[-1:] == b"\n" and len(line) <= limit + 1:
            yield pos, line, end
        elif len(line) - line.endswith(b"\n") - line.endswith(b"\r\n") <= limit:
            yield pos, line, end  # the last line, or a \r\n line at the limit
        else:
            while line[-1:] != b"\n":
                line = readline(COPY_BLOCK)
                if not line:
                    break
                end += len(line)
            yield pos, None, end
        pos = end


def jsonl_rows(
    f: BinaryIO, start: int, stop: int, limit: int
) -> Iterator[tuple[int, int, bytes | None]]:
    """(start, end, line or None if oversized) for each row starting before stop."""
    f.seek(start)
    for s, line, e in _lines(f, start, limit):
        if s >= stop:
            return
        if line is not None and (line.isspace()):
            continue
        yield s, e, line


def _whole_record(dialect: Dialect) -> Any:
    """A matcher for lines that are a complete, well-formed record by themselves.

    Fields are either free of quotes or fully quoted with doubled inner quotes;
    such a line ends its record for the csv module too, so planning can skip
    it and reading can parse a run of them in one csv call.
    """
    if dialect.quotechar is None:
        return None
    d = re.escape(dialect.delimiter.encode())
    field = rb'(?:"[^"]*(?:""[^"]*)*"|[^"%s\r\n]*)' % d
    return re.compile(rb"%s(?:%s%s)*\r?\n?" % (field, d, field)).fullmatch


def csv_rows(
    f: BinaryIO, start: int, stop: int, dialect: Dialect, limit: int, *, parse: bool
) -> Iterator[tuple[int, int, list[str] | None, str | None]]:
    """(start, end, fields, problem) for each record starting before `stop`.

    With parse=False fields are not parsed (planning and writing only need
    boundaries) and text is not checked as UTF-8. Raises _TooLong for a record
    over `limit` bytes.
    """
    f.seek(start)
    quote = dialect.quotechar.encode() if dialect.quotechar else None
    whole = _whole_record(dialect)
    lines = _lines(f, start, limit)
    pending: list[str] = []
    run: list[tuple[int, int, str, bool]] = []
    state: list[Any] = [start, 0, False]  # record end, record bytes, bad UTF-8

    def decode(line: bytes) -> str:
        if not parse:
            # latin-1 maps bytes 1:1, and UTF-8 never hides an ASCII byte inside
            # a multi-byte sequence, so record boundaries come out the same.
            return line.decode("latin-1")
        try:
            return line.decode("utf-8")
        except UnicodeDecodeError:
            state[2] = True
            return line.decode("utf-8", "surrogateescape")

    def more() -> Iterator[str]:
        while True:
            if pending:
                yield pending.pop()
                continue
            item = next(lines, None)
            if item is None:
                return
            s, line, e = item
            state[0] = e
            state[1] += e - s
            if line is None or state[1] > limit:
                raise _TooLong
            yield decode(line)

    def flush() -> Iterator[tuple[int, int, list[str] | None, str | None]]:
        # Every line of the run is one record, so records pair with lines.
        bulk = dialect.reader(iter([text for _, _, text, _ in run]))
        for s, e, _, bad in run:
            try:
                record = next(bulk)
            except csv.Error as exc:
                yield s, e, None, f"malformed CSV row: {exc}"
                continue
            yield s, e, record, NOT_UTF8 if bad else None
        run.clear()

    reader = dialect.reader(more())
    for s, line, e in lines:
        if s >= stop:
            break
        if line is None:
            yield from flush()
            raise _TooLong
        if quote is None or quote not in line or whole(line):
            if not line.rstrip(b"\r\n"):
                continue  # blank: not a row
            if not parse:
                yield s, e, None, None
                continue
            try:
                run.append((s, e, line.decode("utf-8"), False))
            except UnicodeDecodeError:
                run.append((s, e, line.decode("utf-8", "surrogateescape"), True))
            if len(run) >= 1024:
                yield from flush()
            continue
        yield from flush()
        state[0], state[1], state[2] = e, e - s, False
        pending.append(decode(line))
        try:
            record = next(reader)
        except csv.Error as exc:
            yield s, state[0], None, f"malformed CSV row: {exc}"
            continue
        yield s, state[0], record, NOT_UTF8 if state[2] else None
    yield from flush()


def _too_long(row: int, limit: int, where: str) -> ManifestRejected:
    return ManifestRejected(
        f"{where}row {row} is longer than {limit} bytes; a CSV row this long is "
        "almost always an unclosed quote, which makes the rows after it "
        "untrustworthy",
        row=row,
    )


def csv_header(path: Path, dialect: Dialect, limit: int) -> tuple[list[str], int]:
    """The header's names and the offset of the first data record."""
    start = data_start(path)
    with open(path, "rb") as f:
        try:
            for _, end, fields, problem in csv_rows(
                f, start, 1 << 62, dialect, limit, parse=True
            ):
                if problem or fields is None:
                    raise ManifestRejected(f"the header row is unreadable: {problem}")
                return [name.strip() for name in fields], end
        except _TooLong:
            raise ManifestRejected(
                f"the header row is longer than {limit} bytes"
            ) from None
    return [], start


# --- detection ----------------------------------------------------------------


def detect(
    path: Path, fmt: ManifestFormat, overrides: Mapping[str, str] | None, limit: int
) -> dict[str, str]:
    if fmt == ManifestFormat.JSONL:
        return match_columns(jsonl_keys(path, limit), overrides)
    names, _ = csv_header(path, dialect_for(path, fmt), limit)
    if not names:
        raise ManifestRejected("the manifest has no header row")
    return match_columns(names, overrides)


def jsonl_keys(path: Path, limit: int) -> list[str]:
    keys: dict[str, None] = {}
    objects = 0
    start = data_start(path)
    with open(path, "rb") as f:
        for i, (_, _, line) in enumerate(jsonl_rows(f, start, 1 << 62, limit)):
            if i >= DETECT_ROWS:
                break
            try:
                obj = _parse_json(line) if line is not None else None
            except ValueError:
                continue
            if isinstance(obj, dict):
                objects += 1
                keys.update(dict.fromkeys(k for k in obj if isinstance(k, str)))
    if not objects:
        raise ManifestRejected("no usable column: the first lines hold no JSON objects")
    return list(keys)


# --- planning -----------------------------------------------------------------


def _row_bounds(
    path: Path, fmt: ManifestFormat, limit: int, first_row: int, where: str
) -> Iterator[tuple[int, int]]:
    """(start, end) of every row of one file, in order."""
    if fmt == ManifestFormat.JSONL:
        start = data_start(path)
        with open(path, "rb") as f:
            for s, e, _ in jsonl_rows(f, start, 1 << 62, limit):
                yield s, e
        return
    dialect = dialect_for(path, fmt)
    _, start = csv_header(path, dialect, limit)
    row = first_row
    with open(path, "rb") as f:
        try:
            for s, e, _, _ in csv_rows(f, start, 1 << 62, dialect, limit, parse=False):
                yield s, e
                row += 1
        except _TooLong:
            raise _too_long(row, limit, where) from None


def plan(
    path: Path,
    fmt: ManifestFormat,
    part: int,
    first_row: int,
    target_rows: int,
    limit: int,
    where: str,
) -> list[ChunkSpec]:
    if fmt == ManifestFormat.JSONL:
        begin = data_start(path)
    else:
        names, begin = csv_header(path, dialect_for(path, fmt), limit)
        if not names:
            return []
    size = path.stat().st_size
    specs: list[ChunkSpec] = []
    chunk_start, rows, row = begin, 0, first_row
    for _, end in _row_bounds(path, fmt, limit, first_row, where):
        rows += 1
        if rows >= target_rows:
            specs.append(ChunkSpec(part, "bytes", chunk_start, end, row, rows))
            chunk_start, row, rows = end, row + rows, 0
    if rows:
        specs.append(ChunkSpec(part, "bytes", chunk_start, size, row, rows))
    return specs


# --- reading ------------------------------------------------------------------


def read(
    path: Path,
    fmt: ManifestFormat,
    spec: ChunkSpec,
    columns: Mapping[str, str],
    batch_rows: int,
    limit: int,
    where: str,
) -> Iterator[RowBatch]:
    roles = [r for r in VALUE_ROLES if r in columns]
    out = RowCollector(spec.first_row, roles, columns)
    if fmt == ManifestFormat.JSONL:
        batches = _read_jsonl(path, spec, roles, columns, out, batch_rows, limit)
    else:
        batches = _read_csv(path, fmt, spec, roles, columns, out, batch_rows, limit)
    count = 0
    try:
        for batch in batches:
            count += len(batch)
            yield batch
    except _TooLong:
        raise _too_long(spec.first_row + count + len(out), limit, where) from None
    if count != spec.rows:
        raise ManifestRejected(
            f"{where}the chunk at byte {spec.start} holds {count} rows, not the "
            f"{spec.rows} planned; was the file changed?"
        )


def _read_jsonl(
    path: Path,
    spec: ChunkSpec,
    roles: Sequence[str],
    columns: Mapping[str, str],
    out: RowCollector,
    batch_rows: int,
    limit: int,
) -> Iterator[RowBatch]:
    actual = [columns[r] for r in roles]
    add, skip = out.add, out.skip
    with open(path, "rb") as f:
        for _, _, line in jsonl_rows(f, spec.start, spec.stop, limit):
            if line is None:
                skip(f"line is longer than {limit} bytes")
                continue
            try:
                obj = _parse_json(line)
            except json.JSONDecodeError as exc:
                skip(f"line is not valid JSON: {exc.msg}")
            else:
                if isinstance(obj, dict):
                    get = obj.get
                    add(tuple([get(name) for name in actual]))
                else:
                    skip("line is not a JSON object")
            if len(out.rows) >= batch_rows:
                yield out.flush()
    if out.rows:
        yield out.flush()


# scan_once is set in JSONDecoder.__init__ but missing from typeshed.
_scan = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
_JSON_SPACE = " \t\r\n"


def _parse_json(line: bytes) -> Any:
    """json.loads for one line, minus its Python-level wrappers (a third faster).

    Bytes that are not UTF-8 come out as lone surrogates (surrogateescape), for
    build_batch to report on the values that hold them. Raises
    json.JSONDecodeError, worded by json.loads.
    """
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        text = line.decode("utf-8", "surrogateescape")
    text = text.strip(_JSON_SPACE)
    try:
        obj, end = _scan(text, 0)
    except (StopIteration, ValueError, RecursionError):
        end = -1
    if end != len(text):
        obj = loads_json(text)  # it raises, and says why
    return obj


def _read_csv(
    path: Path,
    fmt: ManifestFormat,
    spec: ChunkSpec,
    roles: Sequence[str],
    columns: Mapping[str, str],
    out: RowCollector,
    batch_rows: int,
    limit: int,
) -> Iterator[RowBatch]:
    dialect = dialect_for(path, fmt)
    names, _ = csv_header(path, dialect, limit)
    index = []
    for role in roles:
        if columns[role] not in names:
            raise ManifestRejected(
                f"column {columns[role]!r} for {role} is not in the header",
                field=role,
            )
        index.append(names.index(columns[role]))
    width = len(names)
    add, skip, rows = out.add, out.skip, out.rows
    with open(path, "rb") as f:
        for _, _, fields, problem in csv_rows(
            f, spec.start, spec.stop, dialect, limit, parse=True
        ):
            if fields is None or (problem is not None and problem != NOT_UTF8):
                skip(problem or "row is unreadable")
            elif len(fields) != width:
                skip(f"row has {len(fields)} fields, the header has {width}")
            else:
                add(tuple([fields[j] for j in index]))
            if len(rows) >= batch_rows:
                yield out.flush()
                rows = out.rows
    if out.rows:
        yield out.flush()


# --- writing ------------------------------------------------------------------


def write(
    path: Path,
    fmt: ManifestFormat,
    removed: np.ndarray,
    first_row: int,
    out: Path,
    limit: int,
    where: str,
) -> int:
    """Copy `path` to `out` without the rows in `removed` (sorted manifest rows).

    Everything else, header, blank lines and line endings included, is copied
    byte for byte. Returns the number of rows the file holds.
    """
    todo = removed.tolist()
    j = 0
    row = first_row
    with open(path, "rb") as src, open(out, "wb") as dst:
        copied = 0
        for s, e in _row_bounds(path, fmt, limit, first_row, where):
            while j < len(todo) and todo[j] < row:
                j += 1
            if j < len(todo) and todo[j] == row:
                _copy(src, dst, copied, s)
                copied = e
            row += 1
        _copy(src, dst, copied, None)
    return row - first_row


def count(path: Path, fmt: ManifestFormat, limit: int, where: str) -> int:
    return sum(1 for _ in _row_bounds(path, fmt, limit, 0, where))


def _copy(src: BinaryIO, dst: BinaryIO, start: int, stop: int | None) -> None:
    src.seek(start)
    left = None if stop is None else stop - start
    while left is None or left > 0:
        block = src.read(COPY_BLOCK if left is None else min(COPY_BLOCK, left))
        if not block:
            return
        dst.write(block)
        if left is not None:
            left -= len(block)
