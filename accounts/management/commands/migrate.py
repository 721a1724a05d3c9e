"""`migrate`, plus the one step a database made before the apps were split needs.

Users moved from the registry app to accounts (accounts/migrations/0001_initial
only changes Django's state: the table is still registry_user). Migrations that
an old database has already applied (Django admin's, optout's) now depend on
that new migration, and Django refuses to run at all when an applied migration
depends on an unapplied one (InconsistentMigrationHistory). So, before Django's
own command checks the history, a database that still has the old layout is
brought to it: the registry app is migrated up to the last migration of the
old layout if it is behind, and accounts.0001 is recorded as applied, which is
exactly true since its tables already exist. Everything else then runs as
usual. A new, empty database is left to Django.
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands import migrate
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder

OLD_LAYOUT_LAST = ("registry", "0005_merge_20261124_1217")
ACCOUNTS_FIRST = ("accounts", "0001_initial")


def adopt_old_layout(database: str = DEFAULT_DB_ALIAS) -> bool:
    """Record accounts.0001 as applied on a database of the old layout.

    Returns True when it did. Idempotent; does nothing on a new database.
    """
    connection = connections[database]
    recorder = MigrationRecorder(connection)
    if not recorder.has_table():
        return False
    applied = recorder.applied_migrations()
    if ACCOUNTS_FIRST in applied or ("registry", "0001_initial") not in applied:
        return False
    if OLD_LAYOUT_LAST not in applied:
        # Finish the old layout first; the executor does not check the history.
        MigrationExecutor(connection).migrate([OLD_LAYOUT_LAST])
    recorder.record_applied(*ACCOUNTS_FIRST)
    return True


class Command(migrate.Command):
    help = migrate.Command.help + (
        " Databases made before accounts, audit and disputes had apps of their "
        "own are adopted first."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        if adopt_old_layout(options["database"]) and options["verbosity"] >= 1:
            self.stdout.write(
                "Adopted a database of the old layout: accounts.0001_initial "
                "recorded as applied (its tables already exist)."
            )
        super().handle(*args, **options)
