"""Manifest uploads: streamed to storage part by part with their SHA-256, the
format and columns detected at once, so an unreadable file is a 400 naming it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction

from accounts.models import User
from core.errors import ValidationFailed
from optout.models import Manifest, ManifestPart
from workers.engine import manifests as engine_manifests
from workers.engine.manifests import ManifestRejected
from workers.engine.types import ManifestFormat


class UploadedManifestFile(Protocol):
    name: str
    size: int

    def chunks(self, chunk_size: int | None = None) -> Iterator[bytes]: ...

    def seek(self, offset: int) -> Any: ...


def manifest_upload(
    *,
    owner: User,
    files: list[UploadedManifestFile],
    columns: dict[str, str] | None = None,
    name: str = "",
) -> Manifest:
    """Store a manifest (one file, or several tar shards), streamed to storage.

    Detects its format and columns now, so a file we cannot read, or one with
    nothing to check (no url, caption, hash or image column), is refused with
    a 400 that names it instead of failing later in a worker.
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
    digest = hashlib.sha256()
    stored: list[tuple[UploadedManifestFile, str, str]] = []
    try:
        for upload in files:
            if upload.size == 0:
                raise ValidationFailed(
                    f"{upload.name}: the file is empty", field="files"
                )
            part_digest = hashlib.sha256()
            for block in upload.chunks():
                digest.update(block)
                part_digest.update(block)
            upload.seek(0)
            path = default_storage.save(
                ManifestPart._meta.get_field("file").generate_filename(
                    None, upload.name
                ),
                File(upload, name=upload.name),
            )
            stored.append((upload, path, part_digest.hexdigest()))
        paths = [Path(default_storage.path(p)) for _, p, _ in stored]
        fmt = _sniff_all(paths, [u.name for u, _, _ in stored])
        try:
            detected = engine_manifests.detect_columns(paths[0], fmt, overrides or None)
            found = engine_manifests.found_columns(paths[0], fmt)
        except ManifestRejected as exc:
            raise ValidationFailed(
                f"{stored[0][0].name}: {exc}", field="columns"
            ) from None
        with transaction.atomic():
            manifest = Manifest.objects.create(
                owner=owner,
                name=(name or stored[0][0].name)[:255],
                format=fmt.value,
                columns=detected,
                column_overrides=overrides,
                found_columns=found,
                size=total,
                sha256=digest.hexdigest(),
            )
            ManifestPart.objects.bulk_create(
                ManifestPart(
                    manifest=manifest,
                    index=i,
                    file=path,
                    original_name=upload.name[:255],
                    size=upload.size,
                    sha256=part_sha,
                )
                for i, (upload, path, part_sha) in enumerate(stored)
            )
    except BaseException:
        for _, path, _ in stored:
            default_storage.delete(path)
        raise
    return manifest


def _clean_columns(columns: dict[str, str] | None) -> dict[str, str]:
    if not columns:
        return {}
    from workers.engine.types import LOGICAL_COLUMNS

    clean = {}
    for logical, actual in columns.items():
        if logical not in LOGICAL_COLUMNS:
            raise ValidationFailed(
                f"columns: unknown column {logical!r}; use one of "
                + ", ".join(sorted(LOGICAL_COLUMNS)),
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
    if len(paths) > 1 and any(f != ManifestFormat.WEBDATASET for f in formats):
        raise ValidationFailed(
            "several files make one manifest only as WebDataset tar shards",
            field="files",
        )
    return formats[0]
