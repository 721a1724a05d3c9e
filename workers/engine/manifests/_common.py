"""What every manifest reader shares: the error, the limits, column detection by
name, and turning raw column values into a RowBatch.

Readers hand `build_batch` the values exactly as their file holds them (str,
bytes, int or None); this module alone decides what a valid url, caption or hash
is, so every format reports a bad value in the same words. Reasons stay
categorical ("phash must be 16 hex digits, got 15", never the value itself)
because callers count skipped rows by reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..hashes import HEX_LENGTHS, HashRejected, parse_hex, phash_to_int
from ..types import LOGICAL_COLUMNS, RowBatch, RowProblem

MAX_LINE_BYTES = 1 << 20  # one CSV record / JSONL line / tar .json or .txt member
MAX_IMAGE_BYTES = 64 << 20  # one image member of a tar shard
MAX_BATCH_IMAGE_BYTES = 256 << 20  # a tar batch is cut early past this many bytes

IMAGE_ROLE = "image"  # tar shards only: "*" = the first image member of a sample
HASH_ROLES = ("sha256", "md5", "phash", "pdq")
TEXT_ROLES = ("url", "caption")
MATCHABLE_ROLES = (*TEXT_ROLES, *HASH_ROLES)
# The roles a reader fetches, in the order build_batch looks for problems.
VALUE_ROLES = ("key", "status", *HASH_ROLES, *TEXT_ROLES)


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
        shown = ", ".join(repr(n) for n in available[:40]) or "none"
        raise ManifestRejected(
            "no usable column: a manifest needs a url, caption, sha256, md5, phash "
            f"or pdq column (found: {shown}); name yours with a column mapping"
        )
    return columns


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
    notes: list[RowProblem] | None = None,
) -> RowBatch:
    """Validate and parse raw values into a RowBatch of `n` rows.

    `raw` maps a role to its n cells; `problems` maps a row's index in the batch
    to the reader's own problem (decode errors, ragged rows), which wins over any
    found here. Rows with a problem keep their key and lose every other value.
    `trusted_text` roles hold only str or None (typed Parquet columns), so they
    skip the per-cell type check.
    """
    trusted = set(trusted_text)

    def report(i: int, reason: str, role: str) -> None:
        if i not in problems:
            problems[i] = RowProblem(first_row + i, reason, columns.get(role, role))

    keys: list[str | None] = [None] * n
    if "key" in raw:
        keys = [
            None if v is None or v == "" else v if type(v) is str else str(v)
            for v in raw["key"]
        ]
    if "status" in raw:
        for i, status in enumerate(raw["status"]):
            if status != "success":
                reason = (
                    f"status is {_short(status)}, not 'success'"
                    if status not in (None, "")
                    else "status is empty"
                )
                report(i, reason, "status")
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
                elif isinstance(value, str):
                    texts.append(value)
                else:
                    texts.append(None)
                    report(i, f"{role} must be text", role)
            parsed[role] = texts
    for i in problems:
        for values in parsed.values():
            values[i] = None
        if images is not None:
            images[i] = None
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
        skipped=[problems[i] for i in sorted(problems)],
        notes=notes or [],
    )


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
