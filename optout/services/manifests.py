"""Manifest uploads: streamed to storage file by file with their SHA-256, the
layout, format and columns checked at once, so an unreadable file is a 400
naming it.

A manifest is one file or several: parts of one format (a LAION folder of
Parquet parts, img2dataset's shards, CSV/JSONL parts), uploaded as files or as
a ZIP of them, with img2dataset's sidecars (`NNNNN.parquet` beside
`NNNNN.tar`, `NNNNN_stats.json`) kept beside the parts they describe
(workers/engine/manifests/layout.py).
"""

from __future__ import annotations

import hashlib
import posixpath
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction

from accounts.models import User
from core.errors import ValidationFailed
from core.storage import local_copy, storage_save
from core.uploads import ZIP_MAGIC, archive_ratio, unsafe_member_path
from optout.models import Manifest, ManifestPart, ManifestSidecar
from workers.engine import manifests as engine_manifests
from workers.engine.manifests import ManifestRejected
from workers.engine.types import ManifestFormat

COPY_BLOCK = 1 << 20


class UploadedManifestFile(Protocol):
    name: str
    size: int

    def chunks(self, chunk_size: int | None = None) -> Iterator[bytes]: ...

    def seek(self, offset: int) -> Any: ...


@dataclass
class _Stored:
    name: str  # as the curator knows it: "part-0.parquet" (in a ZIP: its base name)
    path: str  # in default_storage
    size: int
    sha256: str = ""  # filled once the layout is known (_hash_stored)


def manifest_upload(
    *,
    owner: User,
    files: list[UploadedManifestFile],
    columns: dict[str, str] | None = None,
    name: str = "",
) -> Manifest:
    """Store a manifest (one file, several parts, or a ZIP of them), streamed.

    Checks its layout, format and columns now, so a file we cannot read, parts
    of different formats or columns, or a manifest with nothing to check (no
    url, caption, hash or image column) is refused with a 400 that names the
    file, and nothing is kept, instead of failing later in a worker.
    """
    if not files:
        raise ValidationFailed("no manifest file was uploaded", field="files")
    total = sum(f.size for f in files)
    if total > settings.MANIFEST_MAX_BYTES:
        raise ValidationFailed(
            f"the manifest is {total:,} bytes, over the limit of "
            f"{settings.MANIFEST_MAX_BYTES:,}",
            field="files",
        )
    overrides = _clean_columns(columns)
    stored: list[_Stored] = []
    try:
        for upload in files:
            if engine_manifests.ignored(upload.name):
                continue  # _SUCCESS, .crc checksums, hidden files
            if upload.size == 0:
                raise ValidationFailed(
                    f"{upload.name}: the file is empty", field="files"
                )
            head = next(upload.chunks(), b"")[:4]
            upload.seek(0)
            if head in ZIP_MAGIC:
                stored += _store_zip(upload)
            else:
                stored.append(_store(upload.name, upload))
        if not stored:
            raise ValidationFailed(
                "no manifest file was uploaded, only files that are no part of "
                "one (_SUCCESS, .crc, hidden files)",
                field="files",
            )
        try:
            layout = engine_manifests.arrange([s.name for s in stored])
        except ManifestRejected as exc:
            raise ValidationFailed(str(exc), field="files") from None
        parts = [stored[i] for i in layout.parts]
        sidecars = [(stored[i], sidecar) for i, sidecar in layout.sidecars]
        # On object storage: one download per file, read here and by the hash.
        paths = [local_copy(s.path) for s in parts]
        fmt = _sniff_all(paths, [s.name for s in parts])
        for item, sidecar in sidecars:
            _check_sidecar(item, sidecar, fmt)
        try:
            detected = engine_manifests.detect_columns(paths, fmt, overrides or None)
            found = engine_manifests.found_columns(paths[0], fmt)
        except ManifestRejected as exc:
            where = "" if len(parts) > 1 else f"{parts[0].name}: "
            raise ValidationFailed(f"{where}{exc}", field="columns") from None
        # One read of each stored file: its own digest and, for parts, the
        # manifest's (the parts' bytes in order).
        digest = hashlib.sha256()
        for part in parts:
            _hash_stored(part, digest)
        for item, _ in sidecars:
            _hash_stored(item)
        with transaction.atomic():
            manifest = Manifest.objects.create(
                owner=owner,
                name=(name or _default_name(files, parts))[:255],
                format=fmt.value,
                columns=detected,
                column_overrides=overrides,
                found_columns=found,
                size=sum(p.size for p in parts),
                sha256=digest.hexdigest(),
            )
            ManifestPart.objects.bulk_create(
                ManifestPart(
                    manifest=manifest,
                    index=i,
                    file=part.path,
                    original_name=part.name[:255],
                    size=part.size,
                    sha256=part.sha256,
                )
                for i, part in enumerate(parts)
            )
            ManifestSidecar.objects.bulk_create(
                ManifestSidecar(
                    manifest=manifest,
                    part=sidecar.part,
                    kind=sidecar.kind,
                    file=item.path,
                    original_name=item.name[:255],
                    size=item.size,
                    sha256=item.sha256,
                )
                for item, sidecar in sidecars
            )
    except BaseException:
        for item in stored:
            default_storage.delete(item.path)
        raise
    return manifest


def _default_name(files: list[UploadedManifestFile], parts: list[_Stored]) -> str:
    if len(files) == 1 and len(parts) > 1:
        return files[0].name  # a ZIP: its own name
    if len(parts) > 1:
        return f"{parts[0].name} and {len(parts) - 1} more"
    return parts[0].name


def _store(name: str, upload: UploadedManifestFile | IO[bytes]) -> _Stored:
    """Save one file to storage (hashed later, by _hash_stored)."""
    # storage_save: a write that fails part-way (a full disk) leaves nothing.
    path = storage_save(
        ManifestPart._meta.get_field("file").generate_filename(None, name),
        File(upload, name=name),
    )
    return _Stored(name=name, path=path, size=default_storage.size(path))


def _hash_stored(item: _Stored, *also: Any) -> None:
    """Set the stored file's SHA-256, feeding its bytes to `also` too."""
    digest = hashlib.sha256()
    with open(local_copy(item.path), "rb") as fh:
        while block := fh.read(COPY_BLOCK):
            digest.update(block)
            for other in also:
                other.update(block)
    item.sha256 = digest.hexdigest()


def _store_zip(upload: UploadedManifestFile) -> list[_Stored]:
    """The ZIP's files, each stored as an uploaded file under its base name.

    Taken in the order of their names. Bounded as portfolio ZIPs are
    (members, expansion ratio, no nesting), and by MANIFEST_MAX_BYTES in
    all, counted as bytes come out, so a ZIP whose headers lie cannot expand
    past it. Members are streamed through a
    temporary file, never held in memory.
    """
    zip_name = upload.name
    stored: list[_Stored] = []
    try:
        archive = zipfile.ZipFile(upload)  # type: ignore[arg-type]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError):
        raise ValidationFailed(
            f"{zip_name}: not a valid ZIP archive", field="files"
        ) from None
    budget = settings.MANIFEST_MAX_BYTES
    with archive:
        # A ZIP's order is the archiver's: parts are taken by name, as a folder's.
        members = sorted(
            (
                m
                for m in archive.infolist()
                if not m.is_dir() and not engine_manifests.ignored(m.filename)
            ),
            key=lambda m: posixpath.basename(m.filename),
        )
        if len(members) > settings.ZIP_MAX_MEMBERS:
            raise ValidationFailed(
                f"{zip_name}: the ZIP has {len(members):,} files, over the limit "
                f"of {settings.ZIP_MAX_MEMBERS:,}",
                field="files",
            )
        if not members:
            raise ValidationFailed(
                f"{zip_name}: the ZIP archive holds no manifest file", field="files"
            )
        ratio = archive_ratio(members)
        if ratio is not None:
            raise ValidationFailed(
                f"{zip_name}: the ZIP expands {ratio:.0f}:1 in all, over the "
                f"{settings.ZIP_MAX_RATIO}:1 limit (possible ZIP bomb)",
                field="files",
            )
        if sum(m.file_size for m in members) > budget:
            raise ValidationFailed(
                f"{zip_name}: the ZIP expands to over the manifest limit of "
                f"{budget:,} bytes",
                field="files",
            )
        try:
            for member in members:
                label = f"{zip_name}: {member.filename}"
                problem = unsafe_member_path(member.filename)
                if problem is None and member.flag_bits & 0x1:
                    problem = "encrypted ZIP members are not supported"
                if (
                    problem is None
                    and member.compress_size
                    and member.file_size > 1 << 20
                    and member.file_size / member.compress_size > settings.ZIP_MAX_RATIO
                ):
                    problem = (
                        f"compressed {member.file_size / member.compress_size:.0f}:1,"
                        f" over the {settings.ZIP_MAX_RATIO}:1 limit (possible ZIP "
                        "bomb)"
                    )
                if problem:
                    raise ValidationFailed(f"{label}: {problem}", field="files")
                with tempfile.TemporaryFile() as spool:
                    try:
                        with archive.open(member) as fh:
                            while block := fh.read(COPY_BLOCK):
                                budget -= len(block)
                                if budget < 0:
                                    raise ValidationFailed(
                                        f"{label}: expands past the manifest limit "
                                        "(possible ZIP bomb)",
                                        field="files",
                                    )
                                spool.write(block)
                    except (
                        zipfile.BadZipFile,
                        OSError,
                        RuntimeError,
                        NotImplementedError,
                        EOFError,
                    ) as exc:
                        raise ValidationFailed(
                            f"{label}: cannot be read from the ZIP ({exc})",
                            field="files",
                        ) from None
                    if not spool.tell():
                        raise ValidationFailed(
                            f"{label}: the file is empty", field="files"
                        )
                    spool.seek(0)
                    if spool.read(4) in ZIP_MAGIC:
                        raise ValidationFailed(
                            f"{label}: nested ZIP archives are not accepted",
                            field="files",
                        )
                    spool.seek(0)
                    stored.append(_store(posixpath.basename(member.filename), spool))
        except BaseException:
            for item in stored:
                default_storage.delete(item.path)
            raise
    return stored


def _check_sidecar(
    item: _Stored, sidecar: engine_manifests.Sidecar, fmt: ManifestFormat
) -> None:
    if fmt not in (ManifestFormat.WEBDATASET, ManifestFormat.PARQUET):
        raise ValidationFailed(
            f"{item.name}: img2dataset statistics go with .tar or .parquet shards, "
            f"not {fmt.value} parts",
            field="files",
        )
    try:
        engine_manifests.check_sidecar(local_copy(item.path), sidecar)
    except ManifestRejected as exc:
        raise ValidationFailed(str(exc), field="files") from None


def _clean_columns(columns: dict[str, str] | None) -> dict[str, str]:
    if not columns:
        return {}
    from workers.engine.types import LOGICAL_COLUMNS

    clean = {}
    for logical, actual in columns.items():
        if logical not in (*LOGICAL_COLUMNS, "image"):
            raise ValidationFailed(
                f"columns: unknown column {logical!r}; use one of "
                + ", ".join(sorted((*LOGICAL_COLUMNS, "image"))),
                field="columns",
            )
        if not isinstance(actual, str) or not actual:
            raise ValidationFailed(
                f"columns: {logical} must name a column of the file", field="columns"
            )
        clean[logical] = actual
    return clean


def _sniff_all(paths: list[Path], names: list[str]) -> ManifestFormat:
    formats = []
    for path, name in zip(paths, names, strict=True):
        try:
            formats.append(engine_manifests.sniff(path, name))
        except ManifestRejected as exc:
            raise ValidationFailed(f"{name}: {exc}", field="files") from None
    for name, fmt in zip(names, formats, strict=True):
        if fmt != formats[0]:
            raise ValidationFailed(
                f"{name}: a {_FORMAT_WORDS[fmt]} part among {_FORMAT_WORDS[formats[0]]}"
                f" parts ({names[0]}); the parts of one manifest share one format",
                field="files",
            )
    return formats[0]


_FORMAT_WORDS = {
    ManifestFormat.CSV: "CSV",
    ManifestFormat.TSV: "TSV",
    ManifestFormat.JSONL: "JSON Lines",
    ManifestFormat.PARQUET: "Parquet",
    ManifestFormat.WEBDATASET: "tar shard",
}
