"""manage.py refingerprint: bring stored fingerprints up to the current algorithms.

Run after an upgrade that changes workers.engine.fingerprint.ALGORITHM_VERSIONS:
every uploaded image whose stored fingerprints are missing, failed or from an
older version is fingerprinted again from its original, so no one re-uploads.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from registry import services


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
