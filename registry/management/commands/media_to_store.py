"""manage.py media_to_store: copy media from a folder into object storage.

For an install that moves its media from MEDIA_ROOT (a disk or the compose
media volume) to MEDIA_STORAGE_URL: every file under the folder is copied
into the store under the same name, so every original, thumbnail,
manifest, report and piece of evidence the database names is found again.
Nothing is deleted or overwritten; run it again to resume.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.storage import copy_folder_to_storage, has_local_path


class Command(BaseCommand):
    help = "Copy the files under MEDIA_ROOT (or FOLDER) into MEDIA_STORAGE_URL."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "folder",
            nargs="?",
            default=None,
            help="the folder to copy from (default: MEDIA_ROOT)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="say what would be copied"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.MEDIA_STORAGE_URL or has_local_path("probe"):
            raise CommandError(
                "MEDIA_STORAGE_URL is not set: media is already in MEDIA_ROOT"
            )
        folder = Path(options["folder"] or settings.MEDIA_ROOT)
        if not folder.is_dir():
            raise CommandError(f"{folder}: no such folder")
        outcome = copy_folder_to_storage(folder, dry_run=options["dry_run"])
        verb = "Would copy" if options["dry_run"] else "Copied"
        self.stdout.write(
            f"{verb} {len(outcome['copied'])} files from {folder} to "
            f"{settings.MEDIA_STORAGE_URL}; {len(outcome['present'])} already there."
        )
        for name in outcome["conflict"]:
            self.stderr.write(
                f"  not copied: {name} is in the store with other contents"
            )
        if outcome["conflict"]:
            raise CommandError(
                f"{len(outcome['conflict'])} files differ from the store's: "
                "compare them by hand"
            )
