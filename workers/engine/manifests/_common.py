"""What every manifest reader shares: the error, the limits, column detection by
name, and turning raw column values into a RowBatch.

Readers hand `build_batch` the values exactly as their file holds them (str,
bytes, int or None); this module alone decides what a valid url, caption or hash
is, so every format reports a bad value in the same words. Reasons stay
categorical ("phash must be 16 hex digits, got 15", never the value itself)
because callers count unchecked rows by reason. A bad value makes only its own
signal unchecked; the row's other values are still matched.

Text that is not UTF-8 reaches here decoded with `surrogateescape` (CSV and
JSONL readers do so rather than lose the whole row), so a lone surrogate in a
url or caption marks that value as not UTF-8; keys are repaired with U+FFFD,
since they only name the row.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..hashes import HEX_LENGTHS, HashRejected, parse_hex, phash_to_int
from ..types import LOGICAL_COLUMNS, SIGNALS, WHOLE_ROW, RowBatch, RowProblem

MAX_LINE_BYTES = 1 << 20  # one CSV record / JSONL line / tar .json or .txt member
MAX_IMAGE_BYTES = 64 << 20  # one image member of a tar shard
MAX_BATCH_IMAGE_BYTES = 256 << 20  # a tar batch is cut early past this many bytes
# One url value, in every format: longer than any address a browser or server
# takes in practice; a longer one leaves its row's url unchecked.
MAX_URL_BYTES = 4096
# Any other value of a typed (Parquet) column: what a text row could hold.
MAX_VALUE_BYTES = MAX_LINE_BYTES
# Decoded values a Parquet batch turns into Python objects at once, and a
# rewritten row group holds: a compressed, dictionary-encoded column can expand
# a thousandfold, so batches are cut by what they decode to, not by rows.
MAX_BATCH_VALUE_BYTES = 64 << 20

IMAGE_ROLE = "image"  # tar shards only: "*" = the first image member of a sample
HASH_ROLES = ("sha256", "md5", "phash", "pdq")
TEXT_ROLES = ("url", "caption")
MATCHABLE_ROLES = (*TEXT_ROLES, *HASH_ROLES)
# The roles a reader fetches, in the order build_batch looks for problems.
VALUE_ROLES = ("key", *HASH_ROLES, *TEXT_ROLES)
SHOWN_COLUMNS = 40  # column names quoted in a message, at most

_SURROGATE = re.compile("[\ud800-\udfff]")


class ManifestRejected(ValueError):
    """The manifest cannot be used as a whole; `message` says why, in words for people.

    `row` is the 0-based manifest row when one row is to blame, `field` the
    column (or tar member) concerned; `member` repeats a tar member's name.
    """

    def __init__(
        self,
        message: str,
        *,
        row: int | None = None,
        field: str | None = None,
        member: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.row = row
        self.field = field if field is not None else member
        self.member = member

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "message": self.message}


def loads_json(text: str | bytes) -> Any:
    """json.loads, with nesting too deep for Python's parser (a hostile
    `[[[[...` 100,000 deep, which raises RecursionError) refused as JSON that
    does not parse: json.JSONDecodeError, so callers treat it like any bad
    line or member."""
    try:
        return json.loads(text)
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply", "", 0) from None


def match_columns(
    available: Sequence[str],
    overrides: Mapping[str, str] | None,
    *,
    roles: Iterable[str] = LOGICAL_COLUMNS,
    detected: Mapping[str, str] | None = None,
    lookup: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Map logical roles to the file's names: detected by name, then overridden.

    `available` are the file's column names; `detected` is a reader's own
    detection (tar shards), used instead of the name table when given. An
    override with an empty value drops that role. Raises ManifestRejected for an
    unknown role, an override naming a missing column, or no usable column.
    """
    folded: dict[str, str] = {}
    for name in available:
        folded.setdefault(name.strip().lower(), name)
    if lookup:
        for alias, name in lookup.items():
            folded.setdefault(alias, name)
    roles = list(roles)
    if detected is None:
        columns: dict[str, str] = {}
        for logical, candidates in LOGICAL_COLUMNS.items():
            for candidate in candidates:
                if candidate in folded:
                    columns[logical] = folded[candidate]
                    break
    else:
        columns = dict(detected)
    for logical, actual in (overrides or {}).items():
        if logical not in roles:
            raise ManifestRejected(
                f"unknown column {logical!r}; use one of {', '.join(sorted(roles))}",
                field=logical,
            )
        if not actual:
            columns.pop(logical, None)
            continue
        if actual in available:
            columns[logical] = actual
        elif actual.strip().lower() in folded:
            columns[logical] = folded[actual.strip().lower()]
        else:
            shown = ", ".join(repr(n) for n in available[:40])
            more = " ..." if len(available) > 40 else ""
            raise ManifestRejected(
                f"column {actual!r} given for {logical} is not in the manifest; "
                f"its columns are: {shown or 'none'}{more}",
                field=logical,
            )
    if not any(role in columns for role in (*MATCHABLE_ROLES, IMAGE_ROLE)):
        raise ManifestRejected(nothing_to_check(available))
    return columns


def _shown(names: Sequence[str]) -> str:
    more = " ..." if len(names) > SHOWN_COLUMNS else ""
    return ", ".join(names[:SHOWN_COLUMNS]) + more if names else "none"


def no_url_warning(found: Sequence[str]) -> str:
    """What a manifest without a url column is told, naming the columns it has."""
    return f"URLs were not checked: no URL column; found columns: {_shown(found)}"


def nothing_to_check(found: Sequence[str]) -> str:
    """Why a manifest with no url, caption, hash or image column is refused."""
    return (
        f"no usable column: {no_url_warning(found)}, and no caption, hash or image "
        'column either; name yours with a column mapping, e.g. {"url": "image_link"}'
    )


@dataclass(frozen=True)
class ColumnReport:
    """Which of the file's columns were used for each signal, and which not.

    used: {role: the file's column} for the signals and the key (tar shards:
    `*` for the image, `.txt` for a member). unused: the file's columns no
    role reads. not_checked: the signals no row is checked by (tar shards'
    hashes are computed from their images, so with an image they are checked).
    warnings: what a curator must be told (no URL column).
    """

    used: dict[str, str]
    unused: list[str]
    not_checked: list[str]
    warnings: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "used": dict(self.used),
            "unused": list(self.unused),
            "not_checked": list(self.not_checked),
        }


def column_report(columns: Mapping[str, str], found: Sequence[str]) -> ColumnReport:
    """Describe the mapping `columns` of a manifest whose columns are `found`."""
    roles = [*SIGNALS, "key"]
    used = {role: columns[role] for role in roles if columns.get(role)}
    taken = set(used.values())
    unused = [name for name in found if name not in taken]
    derived = set(HASH_ROLES) if IMAGE_ROLE in used else set()
    not_checked = [s for s in SIGNALS if s not in used and s not in derived]
    warnings = [] if "url" in used else [no_url_warning(found)]
    return ColumnReport(used, unused, not_checked, warnings)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def parse_hash(algorithm: str, value: object) -> bytes | int:
    """A hash cell -> bytes (sha256/md5/pdq) or a signed int (phash).

    Accepts hex text (any case, optional 0x), raw bytes of the right length
    (binary Parquet columns) and, for phash, a 64-bit integer. Raises
    HashRejected with parse_hex's words.
    """
    size = HEX_LENGTHS[algorithm] // 2
    if isinstance(value, str):
        raw = None
        if len(value) == 2 * size:
            # fromhex is the fast path; parse_hex explains whatever it refuses.
            try:
                raw = bytes.fromhex(value)
            except ValueError:
                raw = None
            if raw is not None and len(raw) != size:
                raw = None
        if raw is None:
            raw = parse_hex(algorithm, value)
    elif isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        if len(raw) != size:
            try:
                text = raw.decode("ascii")
            except UnicodeDecodeError:
                raise HashRejected(
                    f"{algorithm} must be {size} bytes or {2 * size} hex digits"
                ) from None
            raw = parse_hex(algorithm, text)
    elif (
        algorithm == "phash" and isinstance(value, int) and not isinstance(value, bool)
    ):
        if not -(1 << 63) <= value < (1 << 64):
            raise HashRejected("phash must fit in 64 bits")
        return value - (1 << 64) if value >= (1 << 63) else value
    else:
        raise HashRejected(f"{algorithm} must be a string of hex digits")
    return phash_to_int(raw) if algorithm == "phash" else raw


def build_batch(
    first_row: int,
    n: int,
    raw: Mapping[str, Sequence[Any]],
    columns: Mapping[str, str],
    problems: dict[int, RowProblem],
    *,
    trusted_text: Iterable[str] = (),
    images: list[bytes | None] | None = None,
    image_names: list[str | None] | None = None,
    notes: list[RowProblem] | None = None,
    partial: Mapping[int, list[RowProblem]] | None = None,
) -> RowBatch:
    """Validate and parse raw values into a RowBatch of `n` rows.

    `raw` maps a role to its n cells. `problems` maps a row's index in the
    batch to the reader's WHOLE_ROW problem (decode errors, ragged rows): that
    row keeps its key and loses every other value. `partial` maps an index to
    the reader's problems of single signals (a tar caption that is not UTF-8,
    an image over its size limit), whose values the reader left out. A value
    found malformed here (a hash that does not parse, a url or caption that is
    not text or not UTF-8) is dropped and reported as its signal's problem;
    the row's other values stay. `trusted_text` roles hold only str or None
    (typed Parquet columns), so they skip the per-cell checks.
    """
    trusted = set(trusted_text)
    found: dict[int, list[RowProblem]] = {
        i: list(p) for i, p in (partial or {}).items()
    }

    def report(i: int, reason: str, role: str) -> None:
        if i not in problems:
            problem = RowProblem(first_row + i, reason, columns.get(role, role), role)
            found.setdefault(i, []).append(problem)

    keys: list[str | None] = [None] * n
    if "key" in raw:
        keys = [
            None if v is None or v == "" else _repaired(v) if type(v) is str else str(v)
            for v in raw["key"]
        ]
    parsed: dict[str, list[Any]] = {}
    for algorithm in HASH_ROLES:
        out: list[Any] = [None] * n
        if algorithm in raw:
            for i, value in enumerate(raw[algorithm]):
                if value is None or value == "":
                    continue
                try:
                    out[i] = parse_hash(algorithm, value)
                except HashRejected as exc:
                    report(i, str(exc), algorithm)
        parsed[algorithm] = out
    for role in TEXT_ROLES:
        values = raw.get(role)
        if values is None:
            parsed[role] = [None] * n
        elif role in trusted:
            parsed[role] = [v or None for v in values]
        else:
            texts: list[str | None] = []
            for i, value in enumerate(values):
                if value is None or value == "":
                    texts.append(None)
                elif not isinstance(value, str):
                    texts.append(None)
                    report(i, f"{role} must be text", role)
                elif not value.isascii() and _SURROGATE.search(value):
                    texts.append(None)
                    report(i, f"{role} is not valid UTF-8", role)
                elif (
                    role == "url"
                    and len(value) > MAX_URL_BYTES // 4
                    and (utf8_length(value) > MAX_URL_BYTES)
                ):
                    texts.append(None)
                    report(i, too_long("url", MAX_URL_BYTES), role)
                else:
                    texts.append(value)
            parsed[role] = texts
    for i in problems:
        for values in parsed.values():
            values[i] = None
        if images is not None:
            images[i] = None
        found.pop(i, None)
    unchecked = [problems[i] for i in problems]
    for row_problems in found.values():
        unchecked += row_problems
    order = {signal: k for k, signal in enumerate((WHOLE_ROW, *SIGNALS))}
    unchecked.sort(key=lambda p: (p.row, order.get(p.signal, len(order))))
    return RowBatch(
        first_row=first_row,
        keys=keys,
        urls=parsed["url"],
        captions=parsed["caption"],
        sha256=parsed["sha256"],
        md5=parsed["md5"],
        phash=parsed["phash"],
        pdq=parsed["pdq"],
        images=images,
        image_names=image_names,
        unchecked=unchecked,
        notes=notes or [],
    )


def utf8_length(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def too_long(role: str, limit: int) -> str:
    """The reason a value over its cap is unchecked."""
    return f"{role} is longer than {limit:,} bytes"


def _repaired(text: str) -> str:
    """`text` with lone surrogates (undecodable bytes) replaced by U+FFFD."""
    if text.isascii() or not _SURROGATE.search(text):
        return text
    return _SURROGATE.sub("\ufffd", text)


class RowCollector:
    """Rows as tuples of raw cells (one per role), transposed per batch."""

    def __init__(
        self, first_row: int, roles: Sequence[str], columns: Mapping[str, str]
    ):
        self.first_row = first_row
        self.roles = list(roles)
        self.columns = columns
        self.rows: list[tuple[Any, ...]] = []
        self.problems: dict[int, RowProblem] = {}
        self._empty = (None,) * len(self.roles)

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, cells: tuple[Any, ...]) -> None:
        self.rows.append(cells)

    def skip(self, reason: str, field: str | None = None) -> None:
        """Add a row that could not be read at all (a WHOLE_ROW problem)."""
        i = len(self.rows)
        self.problems[i] = RowProblem(self.first_row + i, reason, field)
        self.rows.append(self._empty)

    def flush(self) -> RowBatch:
        n = len(self.rows)
        if self.roles and n:
            raw = dict(
                zip(
                    self.roles,
                    (list(c) for c in zip(*self.rows, strict=True)),
                    strict=True,
                )
            )
        else:
            raw = {role: [None] * n for role in self.roles}
        batch = build_batch(self.first_row, n, raw, self.columns, self.problems)
        self.first_row += n
        self.rows = []
        self.problems = {}
        return batch
