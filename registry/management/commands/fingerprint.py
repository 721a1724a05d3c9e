"""manage.py fingerprint PATH [PATH ...]: hash images locally, upload nothing.

The StopNCII model: an artist computes an image's hashes on their own machine
and registers only the hashes (POST them to the API, or paste them in the
"register by hashes" form). Uses the engine alone, so no database is needed.

Each image's copy-detection descriptor (workers/engine/descriptor.py: one
vector per region, float16, base64) is printed too, with the model version
that made it: the registry takes it only from the same model, so run the
command from the registry's current release.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from workers.engine import descriptor
from workers.engine.fingerprint import fingerprint_bytes
from workers.engine.images import ImageRejected

# What a directory walk picks up; a file named on the command line is always tried.
IMAGE_SUFFIXES = frozenset(
    {
        ".jpg",
        ".jpeg",
        ".jpe",
        ".png",
        ".webp",
        ".gif",
        ".tif",
        ".tiff",
        ".bmp",
        ".heic",
        ".heif",
        ".avif",
        ".mpo",
    }
)


class Command(BaseCommand):
    help = (
        "Print the SHA-256, MD5, pHash, PDQ and copy-detection descriptor of "
        "image files (or of the images in directories) without uploading them "
        "or touching the database."
    )
    # Nothing here needs the database or the models: skip the system checks.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "paths", nargs="+", metavar="PATH", help="image files or directories"
        )
        parser.add_argument(
            "--json",
            action="store_true",
            help="print one JSON object per image, one per line",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        as_json: bool = options["json"]
        failed = done = 0
        for path in _expand(options["paths"]):
            try:
                record = _fingerprint_file(path)
            except (OSError, ImageRejected) as exc:
                failed += 1
                self.stderr.write(f"error: {path}: {_reason(exc)}")
                continue
            done += 1
            if as_json:
                self.stdout.write(json.dumps(record))
            else:
                self.stdout.write(self._as_text(record), ending="\n\n")
        if failed:
            raise CommandError(
                f"{failed} of {failed + done} files could not be fingerprinted"
            )
        if done == 0:
            raise CommandError("no image files found")

    def _as_text(self, record: dict[str, Any]) -> str:
        quality = f"{record['pdq_quality']}"
        if record["pdq_quality"] < settings.PDQ_LOW_QUALITY:
            quality += " (low: PDQ matches this image poorly)"
        size = (
            f"{record['width']}x{record['height']} {record['format']}, "
            f"{record['bytes']} bytes"
        )
        # Named as the API's and the page's fields, to copy from.
        fields = [
            ("sha256", record["sha256"]),
            ("md5", record["md5"]),
            ("phash", record["phash"]),
            ("pdq", record["pdq"]),
            ("pdq_quality", quality),
            ("descriptor_version", record["descriptor_version"]),
            ("descriptor", record["descriptor"]),
            ("size", size),
        ]
        return "\n".join(
            [record["file"]] + [f"  {name:<19} {value}" for name, value in fields]
        )


def _expand(paths: list[str]) -> Iterator[str]:
    """Each named path, and the image files under each named directory, sorted."""
    for name in paths:
        if not os.path.isdir(name):
            yield name
            continue
        for root, dirs, files in os.walk(name):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for file in sorted(files):
                if not file.startswith(".") and Path(file).suffix.lower() in (
                    IMAGE_SUFFIXES
                ):
                    yield os.path.join(root, file)


def _fingerprint_file(path: str) -> dict[str, Any]:
    """The hashes and descriptor of one file, named and written as the API's
    register-by-hashes call takes them (it ignores file, size and format).

    Raises OSError if the file cannot be read, ImageRejected if it is not an
    image the registry would accept.
    """
    data = Path(path).read_bytes()
    prints = fingerprint_bytes(
        data,
        max_pixels=settings.UPLOAD_MAX_IMAGE_PIXELS,
        thumbnail_size=None,
        descriptors=True,
    ).fingerprints
    return {
        "file": path,
        **prints.as_hex(),
        "bytes": len(data),
        "descriptor": descriptor.to_text(prints.descriptors),
        "descriptor_version": prints.descriptor_version,
    }


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)
