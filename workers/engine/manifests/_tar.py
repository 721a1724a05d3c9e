"""WebDataset tar shards: a row is a sample, the run of consecutive members that
share a key, as webdataset groups them.

A member's key is its name up to the first dot of its last path component
(`dir/000001.jpg` -> `dir/000001`, extension `jpg`), like webdataset's
`base_plus_ext`; a name without such a dot is a sample of its own. Shards are
read member by member with tarfile (never extracted to disk, never loaded
whole), and only the members a role needs are read into memory.

Columns of a shard: `__key__` (the sample key), `.ext` (a member's text, e.g.
`.txt` for the caption), `*` for the image role (the first jpg/jpeg/png/webp
member), and any other name is a field of the sample's `.json` member
(img2dataset writes url, caption, key, status, sha256, width, height there).

Only regular files and directories with relative names are accepted: links,
devices, absolute paths and `..` fail the manifest naming the member, because
img2dataset never writes them and the filtered output would pass them on. The
filtered shard is the input's own bytes, member by member, minus the members of
removed samples, so headers, PAX records and order are kept exactly.
"""

from __future__ import annotations

import json
import re
import tarfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..types import LOGICAL_COLUMNS, WHOLE_ROW, ChunkSpec, RowBatch, RowProblem
from ._common import (
    IMAGE_ROLE,
    MAX_BATCH_IMAGE_BYTES,
    VALUE_ROLES,
    ManifestRejected,
    build_batch,
    loads_json,
    match_columns,
)

IMAGE_EXTS = frozenset({"jpg", "jpeg", "png", "webp"})
KNOWN_EXTS = IMAGE_EXTS | {"txt", "json"}
KEY_COLUMN = "__key__"
ANY_IMAGE = "*"
DETECT_SAMPLES = 64
DETECT_JSON = 16
BLOCK = tarfile.BLOCKSIZE
RECORD = tarfile.RECORDSIZE
COPY_BLOCK = 1 << 20

_DRIVE = re.compile(r"^[A-Za-z]:")
IGNORED_MEMBER = "member ignored: not an image, caption or metadata"
EXTRA_IMAGE = "member ignored: only the first image of a sample is matched"


def key_ext(name: str) -> tuple[str, str]:
    slash = name.rfind("/")
    dot = name.find(".", slash + 1)
    if dot <= slash + 1:  # no dot, or a leading one: webdataset finds no key
        return name, ""
    return name[:dot], name[dot + 1 :].lower()


def _is_image(ext: str) -> bool:
    return ext.rsplit(".", 1)[-1] in IMAGE_EXTS


def _check(info: tarfile.TarInfo, where: str) -> None:
    name = info.name
    parts = re.split(r"[/\\]", name)
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        reason = "has an absolute path"
    elif ".." in parts:
        reason = "points outside the shard (..)"
    elif info.issym() or info.islnk():
        reason = "is a link"
    elif info.ischr() or info.isblk() or info.isfifo():
        reason = "is a device or a pipe"
    elif not (info.isreg() or info.isdir()):
        reason = "is not a regular file"
    else:
        return
    raise ManifestRejected(
        f"{where}tar member {name!r} {reason}; a WebDataset shard holds only "
        "regular files with relative names",
        member=name,
    )


def members(
    path: Path, where: str
) -> Iterator[tuple[tarfile.TarFile, tarfile.TarInfo]]:
    """Every member, checked, in order; fails the manifest on a corrupt shard."""
    try:
        tf = tarfile.open(path, "r:")
    except (tarfile.TarError, OSError) as exc:
        raise ManifestRejected(f"{where}not a readable tar file ({exc})") from None
    last: tarfile.TarInfo | None = None
    with tf:
        while True:
            try:
                info = tf.next()
            except (tarfile.TarError, OSError) as exc:
                _check_truncated(path, last, where)
                raise ManifestRejected(
                    f"{where}the tar file is corrupt after {_after(last)} ({exc})"
                ) from None
            if info is None:
                break
            # tarfile keeps every header it reads; webdataset clears them the same way
            tf.members.clear()  # type: ignore[attr-defined]  # undocumented attribute
            _check(info, where)
            last = info
            yield tf, info
        # tarfile ends quietly at a bad header past the first one; only zeros
        # (the end-of-archive blocks and padding) may follow the last member.
        _check_truncated(path, last, where)
        with open(path, "rb") as f:
            f.seek(tf.offset)
            while block := f.read(COPY_BLOCK):
                if block.count(0) != len(block):
                    raise ManifestRejected(
                        f"{where}the tar file is corrupt after {_after(last)}"
                    )


def _check_truncated(path: Path, last: tarfile.TarInfo | None, where: str) -> None:
    if last is not None and last.offset_data + last.size > path.stat().st_size:
        raise ManifestRejected(
            f"{where}the tar file is truncated in member {last.name!r}",
            member=last.name,
        )


def _after(info: tarfile.TarInfo | None) -> str:
    return f"member {info.name!r}" if info is not None else "its start"


@dataclass
class Sample:
    key: str
    names: list[str] = field(default_factory=list)
    exts: list[str] = field(default_factory=list)
    data: dict[str, bytes] = field(default_factory=dict)  # ext -> first member
    too_big: dict[str, str] = field(default_factory=dict)  # ext -> member name


def samples(
    path: Path,
    where: str,
    *,
    start: int = 0,
    stop: int | None = None,
    want: Any = None,
    limits: tuple[int, int] = (0, 0),
) -> Iterator[Sample]:
    """Samples [start, stop) of a shard; `want(ext)` says which members to read.

    limits: (text limit, image limit) in bytes; bigger members are not read
    and land in Sample.too_big.
    """
    current: Sample | None = None
    index = -1
    for tf, info in members(path, where):
        if info.isdir():
            continue
        key, ext = key_ext(info.name)
        if current is None or key != current.key:
            if current is not None and index >= start:
                yield current
            index += 1
            if stop is not None and index >= stop:
                return
            current = Sample(key)
        current.names.append(info.name)
        current.exts.append(ext)
        if index < start or want is None or not want(ext) or ext in current.data:
            continue
        limit = limits[1] if _is_image(ext) else limits[0]
        if info.size > limit:
            current.too_big.setdefault(ext, info.name)
            continue
        member = tf.extractfile(info)
        assert member is not None  # regular files always have data
        try:
            current.data[ext] = member.read()
        except (tarfile.TarError, OSError) as exc:
            raise ManifestRejected(
                f"{where}tar member {info.name!r} cannot be read ({exc})",
                member=info.name,
            ) from None
    if current is not None and index >= start:
        yield current


def count(path: Path, where: str) -> int:
    return sum(1 for _ in samples(path, where))


# --- detection ----------------------------------------------------------------


def detect(
    path: Path, overrides: Mapping[str, str] | None, limit: int
) -> dict[str, str]:
    available, lookup, detected = _inventory(path, limit)
    try:
        return match_columns(
            available,
            overrides,
            roles=[*LOGICAL_COLUMNS, IMAGE_ROLE],
            detected=detected,
            lookup=lookup,
        )
    except ManifestRejected as exc:
        if exc.field is None:
            raise ManifestRejected(
                "no usable column: the first samples hold no image, caption or "
                f"metadata members (found: {', '.join(available) or 'none'})"
            ) from None
        raise


def found(path: Path, limit: int) -> list[str]:
    """The shard's columns: `__key__`, `.ext` members, `.json` fields, `*`."""
    return _inventory(path, limit)[0]


def _inventory(
    path: Path, limit: int
) -> tuple[list[str], dict[str, str], dict[str, str]]:
    """(columns, {ext: ".ext"}, the roles detected), from the first samples."""
    exts: dict[str, None] = {}
    fields: dict[str, None] = {}
    parsed = 0

    def want(ext: str) -> bool:
        return ext == "json" and parsed < DETECT_JSON

    for i, sample in enumerate(samples(path, "", want=want, limits=(limit, 0))):
        if i >= DETECT_SAMPLES:
            break
        exts.update(dict.fromkeys(sample.exts))
        if "json" in sample.data:
            parsed += 1
            try:
                obj = loads_json(sample.data["json"])
            except ValueError:
                continue
            if isinstance(obj, dict):
                fields.update(dict.fromkeys(k for k in obj if isinstance(k, str)))
    available = [KEY_COLUMN, *(f".{e}" for e in exts if e), *fields]
    lookup = {e: f".{e}" for e in exts if e and e not in fields}
    detected: dict[str, str] = {"key": KEY_COLUMN}
    if any(_is_image(e) for e in exts):
        detected[IMAGE_ROLE] = ANY_IMAGE
        available.append(ANY_IMAGE)
    if "txt" in exts:
        detected["caption"] = ".txt"
    folded = {name.lower(): name for name in reversed(list(fields))}
    for role, candidates in LOGICAL_COLUMNS.items():
        if role in detected:
            continue
        for candidate in candidates:
            if candidate in folded:
                detected[role] = folded[candidate]
                break
    return available, lookup, detected


# --- planning and reading -----------------------------------------------------


def plan(path: Path, part: int, first_row: int, where: str) -> list[ChunkSpec]:
    n = count(path, where)
    return [ChunkSpec(part, "tar", 0, n, first_row, n)] if n else []


def read(
    path: Path,
    spec: ChunkSpec,
    columns: Mapping[str, str],
    batch_rows: int,
    limits: tuple[int, int],
    where: str,
) -> Iterator[RowBatch]:
    roles = [r for r in VALUE_ROLES if r in columns]
    image = columns.get(IMAGE_ROLE)
    # members a role reads as text (".txt"), plus the .json member if any role
    # names one of its fields
    used = {columns[r][1:].lower() for r in roles if columns[r].startswith(".")}
    if any(columns[r] != KEY_COLUMN and not columns[r].startswith(".") for r in roles):
        used.add("json")
    image_ext = image[1:].lower() if image and image != ANY_IMAGE else None

    def wants(ext: str) -> bool:
        if ext in used:
            return True
        if image == ANY_IMAGE:
            return _is_image(ext)
        return ext == image_ext

    first_row = spec.first_row
    rows: list[tuple[Any, ...]] = []
    images: list[bytes | None] = []
    names: list[str | None] = []
    problems: dict[int, RowProblem] = {}
    partial: dict[int, list[RowProblem]] = {}
    notes: list[RowProblem] = []
    held = 0

    def flush() -> RowBatch:
        nonlocal first_row, rows, images, names, problems, partial, notes, held
        n = len(rows)
        raw = {r: [row[i] for row in rows] for i, r in enumerate(roles)}
        batch = build_batch(
            first_row,
            n,
            raw,
            columns,
            problems,
            images=images if image else None,
            image_names=names if image else None,
            notes=notes,
            partial=partial,
        )
        first_row += n
        rows, images, names, problems, partial = [], [], [], {}, {}
        notes, held = [], 0
        return batch

    seen = 0
    for sample in samples(
        path, where, start=spec.start, stop=spec.stop, want=wants, limits=limits
    ):
        seen += 1
        row = first_row + len(rows)
        cells, picture, found = _sample_values(sample, roles, columns, image, limits)
        for reason, name, signal in found:
            problem = RowProblem(row, reason, name, signal)
            if signal == WHOLE_ROW:
                problems[len(rows)] = problem
            else:
                partial.setdefault(len(rows), []).append(problem)
        for name, ext in zip(sample.names, sample.exts, strict=True):
            if _is_image(ext):
                if picture is not None and name != picture[0]:
                    notes.append(RowProblem(row, EXTRA_IMAGE, name))
            elif ext not in used and ext not in KNOWN_EXTS:
                notes.append(RowProblem(row, IGNORED_MEMBER, name))
        rows.append(cells)
        images.append(picture[1] if picture else None)
        names.append(picture[0] if picture else None)
        held += len(picture[1]) if picture else 0
        if len(rows) >= batch_rows or held >= MAX_BATCH_IMAGE_BYTES:
            yield flush()
    if rows:
        yield flush()
    if seen != spec.rows:
        raise ManifestRejected(
            f"{where}the shard holds {seen} samples, not the {spec.rows} planned; "
            "was the file changed?"
        )


def _sample_values(
    sample: Sample,
    roles: list[str],
    columns: Mapping[str, str],
    image: str | None,
    limits: tuple[int, int],
) -> tuple[
    tuple[Any, ...], tuple[str, bytes] | None, list[tuple[str, str | None, str]]
]:
    """(cells, (image member, bytes) or None, [(reason, field, signal)]).

    A member that cannot be read leaves unchecked only the signals it carries
    (the image, the caption in `.txt`, the fields of `.json`); a sample with
    nothing to read at all is a WHOLE_ROW problem.
    """
    found: list[tuple[str, str | None, str]] = []
    picture: tuple[str, bytes] | None = None
    if image:
        for name, ext in zip(sample.names, sample.exts, strict=True):
            if _is_image(ext) if image == ANY_IMAGE else ext == image[1:].lower():
                if ext in sample.too_big:
                    reason = f"image is larger than {limits[1]} bytes"
                    found.append((reason, name, IMAGE_ROLE))
                elif ext in sample.data:
                    picture = (name, sample.data[ext])
                break
    meta: dict[str, Any] | None = None
    meta_problem: str | None = None
    if "json" in sample.data:
        data = sample.data["json"]
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            # the values holding the bad bytes are reported by build_batch
            text = data.decode("utf-8", "surrogateescape")
        try:
            obj = loads_json(text.removeprefix("\ufeff"))
        except json.JSONDecodeError as exc:
            meta_problem = f"json member is not valid JSON: {exc.msg}"
        else:
            if isinstance(obj, dict):
                meta = obj
            else:
                meta_problem = "json member is not a JSON object"
    elif "json" in sample.too_big:
        meta_problem = f"json member is larger than {limits[0]} bytes"
    cells: list[Any] = []
    for role in roles:
        actual = columns[role]
        if actual == KEY_COLUMN:
            cells.append(sample.key)
        elif actual.startswith("."):
            ext = actual[1:].lower()
            data = sample.data.get(ext)
            if ext in sample.too_big and role != "key":
                reason = f"{ext} member is larger than {limits[0]} bytes"
                found.append((reason, actual, role))
            if data is None:
                cells.append(None)
                continue
            try:
                cells.append(data.decode("utf-8").strip())
            except UnicodeDecodeError:
                cells.append(None)
                if role != "key":
                    reason = f"{role} is not valid UTF-8 ({ext} member)"
                    found.append((reason, actual, role))
        else:
            if meta_problem is not None and role != "key":
                found.append((meta_problem, ".json", role))
            cells.append(meta.get(actual) if meta is not None else None)
    if (
        not found
        and picture is None
        and all(c is None for r, c in zip(roles, cells, strict=True) if r != "key")
    ):
        found.append(("sample has no image, caption or metadata", None, WHOLE_ROW))
    return tuple(cells), picture, found


# --- writing ------------------------------------------------------------------


def write(
    path: Path, removed: np.ndarray, first_row: int, out: Path, where: str
) -> int:
    """Copy the shard's bytes to `out` without the members of removed samples."""
    todo = removed.tolist()
    j = 0
    row = first_row - 1
    key: str | None = None
    drop = False
    run: list[int] = [0, 0]  # [start, end) of bytes waiting to be copied
    with open(path, "rb") as src, open(out, "wb") as dst:
        for _tf, info in members(path, where):
            if not info.isdir():
                k, _ = key_ext(info.name)
                if k != key:
                    key, row = k, row + 1
                    while j < len(todo) and todo[j] < row:
                        j += 1
                    drop = j < len(todo) and todo[j] == row
            start = info.offset
            end = info.offset_data + -(-info.size // BLOCK) * BLOCK
            if info.isdir() or not drop:
                if start != run[1]:
                    _copy(src, dst, run[0], run[1])
                    run[0] = start
                run[1] = end
        _copy(src, dst, run[0], run[1])
        written = dst.tell() + 2 * BLOCK
        dst.write(b"\0" * (2 * BLOCK + (-written) % RECORD))
    return row + 1 - first_row


def _copy(src: Any, dst: Any, start: int, stop: int) -> None:
    src.seek(start)
    left = stop - start
    while left > 0:
        block = src.read(min(COPY_BLOCK, left))
        if not block:
            return
        dst.write(block)
        left -= len(block)
