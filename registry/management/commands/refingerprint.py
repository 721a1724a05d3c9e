"""manage.py refingerprint: bring stored fingerprints up to the current algorithms.

Run after an upgrade that changes workers.engine.fingerprint.ALGORITHM_VERSIONS:
every uploaded image whose stored fingerprints are missing, failed or from an
older version is fingerprinted again from its original, so no one re-uploads.

Images registered by their hashes alone have no original: with
MATCH_DESCRIPTOR on, the command says how many of them lack a descriptor of
the current model (descriptor matching skips those; their hashes still
match), since only their artists can submit one.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from registry import selectors, services


class Command(BaseCommand):
    help = (
        "Queue re-fingerprinting of uploaded images whose fingerprints are out of "
        "date (or of every uploaded image with --all)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--all",
            action="store_true",
            help="re-fingerprint every uploaded image, even those already current",
        )
        parser.add_argument(
            "--sync",
            action="store_true",
            help="fingerprint in this process instead of queueing the work for "
            "the images workers (small installs, tests)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        sync: bool = options["sync"]
        count = services.images_refingerprint(force=options["all"], sync=sync)
        images = "image" if count == 1 else "images"
        if sync:
            self.stdout.write(f"Re-fingerprinted {count} {images}.")
        else:
            self.stdout.write(f"Queued {count} {images} for re-fingerprinting.")
        if settings.MATCH_DESCRIPTOR:
            self._report_hash_only()

    def _report_hash_only(self) -> None:
        from workers.engine import descriptor  # onnxruntime: only when it is on

        version = descriptor.version()
        found = selectors.hash_only_descriptors_not_current(version=version)
        if not found.stale and not found.missing:
            return
        total = found.stale + found.missing
        images = "image" if total == 1 else "images"
        self.stdout.write(
            f"{total} {images} registered by hashes alone cannot be matched by "
            f"descriptor ({found.stale} with a descriptor of an older model, "
            f"{found.missing} without one). There is no original to describe "
            f"them with {version}: their artists must run manage.py fingerprint "
            "with this release and register those images by hashes again. "
            "Their hashes still match."
        )
