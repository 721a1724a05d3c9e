"""manage.py index_dataset: add files already on the server to the dataset
search (the page and the API take uploads; a dataset of hundreds of
millions of rows is better copied to the server first).

    manage.py index_dataset --name "LAION-400M" --source-url https://... \\
        /data/laion400m/            # a folder: its files, sorted by name
    manage.py index_dataset --name "Sample" part-00000.parquet part-00001.parquet

The files are stored as a manifest of the admin named by --admin (the
first superuser by default), then indexed by the Celery workers: follow the
dataset's state on /search/datasets/.
"""

from __future__ import annotations

from pathlib import Path

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from core.errors import DomainError
from optout.services import dataset_add, manifest_upload


class Command(BaseCommand):
    help = "Add files on this server to the dataset search and index them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", help="Files, or one folder.")
        parser.add_argument("--name", required=True)
        parser.add_argument("--description", default="")
        parser.add_argument("--source-url", default="")
        parser.add_argument("--admin", default="", help="The admin's username.")

    def handle(self, *args: object, **options: object) -> None:
        paths = [Path(p) for p in options["paths"]]  # type: ignore[union-attr]
        files: list[Path] = []
        for path in paths:
            if path.is_dir():
                files += sorted(p for p in path.iterdir() if p.is_file())
            elif path.is_file():
                files.append(path)
            else:
                raise CommandError(f"{path}: no such file or folder")
        if not files:
            raise CommandError("no files to index")
        admins = User.objects.filter(is_staff=True, is_active=True)
        admin = (
            admins.filter(username=options["admin"]).first()
            if options["admin"]
            else admins.filter(is_superuser=True).order_by("pk").first()
        )
        if admin is None:
            raise CommandError("no such admin: name one with --admin")
        handles = [path.open("rb") for path in files]
        try:
            manifest = manifest_upload(
                owner=admin,
                files=[
                    File(h, name=p.name) for h, p in zip(handles, files, strict=True)
                ],
                name=str(options["name"]),
            )
            dataset = dataset_add(
                by=admin,
                manifest_id=manifest.pk,
                name=str(options["name"]),
                description=str(options["description"]),
                source_url=str(options["source_url"]),
            )
        except DomainError as exc:
            raise CommandError(str(exc)) from None
        finally:
            for h in handles:
                h.close()
        self.stdout.write(
            f"dataset {dataset.pk} ({dataset.name}): {len(files)} file(s) queued "
            "for indexing"
        )
