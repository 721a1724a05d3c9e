"""manage.py receipt_key_rotate: a new receipt-signing key; the old one retired.

For the generated key (RECEIPT_SIGNING_KEY unset): the old public key is
published as retired at /.well-known/dnt-registry-keys.json, so receipts it
signed still verify, and new receipts are signed with the new key. A
configured key is rotated where it is configured (see .env.example).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from optout.services import receipt_key_rotate


class Command(BaseCommand):
    help = (
        "Replace the generated receipt-signing key with a new one; the old public "
        "key stays published as retired, so receipts it signed still verify."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            old, new = receipt_key_rotate()
        except DomainError as exc:
            raise CommandError(exc.message) from None
        if old:
            self.stdout.write(f"Key {old} retired (still published); new key {new}.")
        else:
            self.stdout.write(f"No key yet; made key {new}.")
