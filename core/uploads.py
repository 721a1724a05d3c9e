"""Turning uploaded files (images and ZIP archives) into checked image payloads.

Every file is checked before anything is stored: its size, whether it decodes as
an accepted image, and (for ZIP archives) member count, total uncompressed size,
compression ratio and member paths. A bad file is reported by name with its
reason; the good ones go on. Members are read with a byte cap, so a ZIP whose
headers lie about sizes still cannot expand past the limits.
"""

from __future__ import annotations

import io
import posixpath
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO

from django.conf import settings

from workers.engine.images import ImageRejected, decode_image

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


# Junk that archivers add; skipped without a word.
_SKIPPED_PREFIXES = ("__MACOSX/",)


_SKIPPED_NAMES = (".DS_Store", "Thumbs.db", "desktop.ini")


@dataclass(frozen=True)
class IncomingFile:
    name: str
    size: int
    stream: IO[bytes]


@dataclass(frozen=True)
class CheckedImage:
    name: str  # as the user knows it: "a.png" or "portfolio.zip: art/a.png"
    data: bytes
    format: str
    width: int
    height: int


@dataclass(frozen=True)
class RejectedFile:
    file: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"file": self.file, "message": self.message}


def _mb(n: int) -> str:
    mb = n / (1024 * 1024)
    return f"{mb:.0f} MB" if mb == int(mb) else f"{mb:.1f} MB"


def check_files(
    files: Iterable[IncomingFile],
) -> Iterator[CheckedImage | RejectedFile]:
    """Yield a CheckedImage or a RejectedFile for every image in `files`."""
    for incoming in files:
        name = incoming.name or "(unnamed file)"
        if incoming.size == 0:
            yield RejectedFile(name, "the file is empty")
            continue
        if incoming.size > settings.UPLOAD_MAX_FILE_BYTES:
            yield RejectedFile(
                name,
                f"the file is {_mb(incoming.size)}, over the "
                f"{_mb(settings.UPLOAD_MAX_FILE_BYTES)} limit",
            )
            continue
        head = incoming.stream.read(4)
        incoming.stream.seek(0)
        if head in ZIP_MAGIC or name.lower().endswith(".zip"):
            yield from _check_zip(name, incoming.stream)
        else:
            yield _check_image(name, incoming.stream.read())


def _check_image(name: str, data: bytes) -> CheckedImage | RejectedFile:
    try:
        decoded = decode_image(data, max_pixels=settings.UPLOAD_MAX_IMAGE_PIXELS)
    except ImageRejected as exc:
        return RejectedFile(name, str(exc))
    return CheckedImage(
        name=name,
        data=data,
        format=decoded.format,
        width=decoded.width,
        height=decoded.height,
    )


def archive_ratio(members: list[zipfile.ZipInfo]) -> float | None:
    """The expansion ratio of the archive's small members together, when it
    is over ZIP_MAX_RATIO and they expand past 1 MB, else None. Members over
    1 MB are each held to the ratio on their own; the small ones escape that
    check one by one, but add up (a 463 KiB ZIP of 200 one-colour BMPs
    expanded to 199 MiB)."""
    small = [m for m in members if m.file_size <= 1 << 20]
    expanded = sum(m.file_size for m in small)
    packed = sum(m.compress_size for m in small)
    if expanded <= 1 << 20:
        return None
    ratio = expanded / max(packed, 1)
    return ratio if ratio > settings.ZIP_MAX_RATIO else None


def unsafe_member_path(path: str) -> str | None:
    if path.startswith(("/", "\\")) or (len(path) > 1 and path[1] == ":"):
        return "absolute paths are not allowed in a ZIP"
    parts = path.replace("\\", "/").split("/")
    if ".." in parts:
        return "paths with '..' are not allowed in a ZIP"
    return None


def _check_zip(name: str, stream: IO[bytes]) -> Iterator[CheckedImage | RejectedFile]:
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError):
        yield RejectedFile(name, "not a valid ZIP archive")
        return
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) > settings.ZIP_MAX_MEMBERS:
            yield RejectedFile(
                name,
                f"the ZIP has {len(members)} files, over the limit of "
                f"{settings.ZIP_MAX_MEMBERS}",
            )
            return
        declared = sum(m.file_size for m in members)
        if declared > settings.ZIP_MAX_TOTAL_BYTES:
            yield RejectedFile(
                name,
                f"the ZIP expands to {_mb(declared)}, over the "
                f"{_mb(settings.ZIP_MAX_TOTAL_BYTES)} limit (possible ZIP bomb)",
            )
            return
        if not members:
            yield RejectedFile(name, "the ZIP archive contains no files")
            return
        ratio = archive_ratio(members)
        if ratio is not None:
            yield RejectedFile(
                name,
                f"the ZIP expands {ratio:.0f}:1 in all, over the "
                f"{settings.ZIP_MAX_RATIO}:1 limit (possible ZIP bomb)",
            )
            return
        budget = settings.ZIP_MAX_TOTAL_BYTES
        for member in members:
            path = member.filename
            label = f"{name}: {path}"
            if path.startswith(_SKIPPED_PREFIXES) or posixpath.basename(path) in (
                _SKIPPED_NAMES
            ):
                continue
            unsafe = unsafe_member_path(path)
            if unsafe:
                yield RejectedFile(label, unsafe)
                continue
            if member.flag_bits & 0x1:
                yield RejectedFile(label, "encrypted ZIP members are not supported")
                continue
            if member.file_size > settings.UPLOAD_MAX_FILE_BYTES:
                yield RejectedFile(
                    label,
                    f"the file is {_mb(member.file_size)}, over the "
                    f"{_mb(settings.UPLOAD_MAX_FILE_BYTES)} limit",
                )
                continue
            if (
                member.compress_size
                and member.file_size > 1024 * 1024
                and member.file_size / member.compress_size > settings.ZIP_MAX_RATIO
            ):
                yield RejectedFile(
                    label,
                    f"compressed {member.file_size / member.compress_size:.0f}:1, "
                    f"over the {settings.ZIP_MAX_RATIO}:1 limit (possible ZIP bomb)",
                )
                continue
            cap = min(settings.UPLOAD_MAX_FILE_BYTES, budget)
            try:
                with archive.open(member) as fh:
                    data = fh.read(cap + 1)
            except (
                zipfile.BadZipFile,
                OSError,
                RuntimeError,
                NotImplementedError,
            ) as exc:
                yield RejectedFile(label, f"cannot be read from the ZIP ({exc})")
                continue
            except EOFError:
                yield RejectedFile(label, "the ZIP member is truncated")
                continue
            if len(data) > cap:
                yield RejectedFile(
                    label,
                    "expands past its declared size or the ZIP's limit "
                    "(possible ZIP bomb)",
                )
                return
            budget -= len(data)
            if data[:4] in ZIP_MAGIC:
                yield RejectedFile(label, "nested ZIP archives are not accepted")
                continue
            yield _check_image(label, data)


def bytes_file(name: str, data: bytes) -> IncomingFile:
    """An IncomingFile from bytes (tests, management commands)."""
    return IncomingFile(name=name, size=len(data), stream=io.BytesIO(data))


def upload_temp_sweep(*, folder: str, max_age_seconds: int) -> int:
    """Delete Django's temporary upload files (`tmp*.upload*`) older than
    `max_age_seconds` in `folder`: what a web process killed mid-upload left.
    A request in progress keeps writing its file, so its age stays small.
    Returns how many were deleted."""
    import os
    import time

    cutoff = time.time() - max_age_seconds
    deleted = 0
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return 0
    for entry in entries:
        name = entry.name
        if not (name.startswith("tmp") and ".upload" in name) or not entry.is_file():
            continue
        try:
            if entry.stat().st_mtime < cutoff:
                os.unlink(entry.path)
                deleted += 1
        except FileNotFoundError:
            continue  # its request finished meanwhile
    return deleted
