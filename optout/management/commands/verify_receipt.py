"""manage.py verify_receipt RECEIPT [--keys KEYS.json] [--files FILE ...]

Checks a receipt's signature and, given the filtered files, that they are the
files the receipt lists. By default against this registry's own keys (active
and retired); with --keys, against a keys document saved from another
registry's /.well-known/dnt-registry-keys.json, fully offline.

Exit status: 0 the signature is good (and every file given is listed);
1 it is not: the receipt was changed, or a key it does not name signed it,
or the keys are another registry's; 2 a file could not be read or is not a
receipt / keys document; 3 the signature is good but a file given is not one
the receipt lists.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from optout.selectors import receipt_keys
from workers.engine.receipts import (
    KeysInvalid,
    PublishedKey,
    ReceiptError,
    ReceiptMalformed,
    check_files,
    keys_from_document,
    load_document,
    verify_receipt,
)

NOT_VERIFIED = 1
UNREADABLE = 2
FILES_DIFFER = 3


class Command(BaseCommand):
    help = (
        "Verify a receipt's Ed25519 signature against this registry's public keys "
        "(or a saved keys document: --keys), and that the given filtered files "
        "are the ones it lists. Exit status: 0 verified, 1 not verified (changed "
        "or signed by another key), 2 unreadable input, 3 a file is not listed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "receipt", metavar="RECEIPT", help="receipt.json, or - for stdin"
        )
        parser.add_argument(
            "--keys",
            metavar="KEYS.json",
            help="a saved /.well-known/dnt-registry-keys.json (default: this "
            "registry's own keys)",
        )
        parser.add_argument(
            "--files",
            nargs="+",
            metavar="FILE",
            default=[],
            help="files to check against the digests the receipt lists (the "
            "filtered manifest; reports too); matched by content, not name",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        keys, issuer = self._keys(options["keys"])
        try:
            document = load_document(self._read(options["receipt"], "receipt"))
            verified = verify_receipt(document, keys)
        except ReceiptMalformed as exc:
            raise CommandError(f"not verified: {exc}", returncode=UNREADABLE) from None
        except ReceiptError as exc:
            raise CommandError(
                f"NOT VERIFIED: {exc}", returncode=NOT_VERIFIED
            ) from None
        payload = verified.payload
        registry = payload.get("registry") or {}
        if issuer and registry.get("id") and registry["id"] != issuer:
            raise CommandError(
                f"NOT VERIFIED: the receipt names registry {registry['id']}, but "
                f"the keys are registry {issuer}'s",
                returncode=NOT_VERIFIED,
            )
        key = verified.key
        self.stdout.write(
            f"Signature OK: signed with key {key.key_id} ({_status(key)}) of "
            f"registry {registry.get('id')} ({registry.get('name')}, "
            f"{registry.get('url')})."
        )
        self.stdout.write(_summary(payload))

        paths = [Path(p) for p in options["files"]]
        for path in paths:
            if not path.is_file():
                raise CommandError(f"{path}: no such file", returncode=UNREADABLE)
        missing = 0
        for check in check_files(payload, paths):
            if check.ok:
                self.stdout.write(
                    f"  listed      {check.path} (sha256 {check.sha256[:16]}…): "
                    f"the receipt's {check.listed_as}"
                )
            else:
                missing += 1
                self.stdout.write(
                    f"  NOT LISTED  {check.path} (sha256 {check.sha256[:16]}…): "
                    "no file of the receipt has this content"
                )
        if missing:
            raise CommandError(
                f"{missing} of {len(paths)} file{'s' if len(paths) != 1 else ''} "
                "not listed in the receipt: not the files this check wrote",
                returncode=FILES_DIFFER,
            )

    def _read(self, name: str, what: str) -> bytes:
        try:
            if name == "-":
                return sys.stdin.buffer.read()
            return Path(name).read_bytes()
        except OSError as exc:
            raise CommandError(
                f"cannot read the {what} {name}: {exc.strerror}", returncode=UNREADABLE
            ) from None

    def _keys(self, name: str | None) -> tuple[dict[str, PublishedKey], str | None]:
        if name is None:
            return receipt_keys(), None
        try:
            document = load_document(self._read(name, "keys"), what="keys document")
            keys = keys_from_document(document)
        except (ReceiptMalformed, KeysInvalid) as exc:
            raise CommandError(f"{name}: {exc}", returncode=UNREADABLE) from None
        registry = document.get("registry")
        issuer = registry.get("id") if isinstance(registry, dict) else None
        return keys, issuer if isinstance(issuer, str) else None


def _status(key: PublishedKey) -> str:
    if key.status == "retired":
        return f"retired {key.retired}" if key.retired else "retired"
    return key.status


def _summary(payload: dict[str, Any]) -> str:
    manifest = payload.get("manifest") or {}
    rows = payload.get("rows") or {}
    files = manifest.get("files") or []
    return (
        f"Manifest {manifest.get('name')} ({manifest.get('format')}, "
        f"{len(files)} file{'s' if len(files) != 1 else ''}, sha256 "
        f"{manifest.get('sha256')}) checked at registry revision "
        f"{(payload.get('registry') or {}).get('revision')}, finished "
        f"{payload.get('finished')}.\n"
        f"Rows: {rows.get('total')} in all, {rows.get('checked')} checked, "
        f"{rows.get('removed')} removed, {rows.get('kept_for_review')} kept for "
        f"review, {rows.get('unchecked')} unchecked"
        + (
            f" ({rows['unchecked_passed_on']} passed on unchecked)"
            if rows.get("unchecked_passed_on")
            else ""
        )
        + "."
        + "".join(f"\nWarning: {w}." for w in payload.get("warnings") or [])
    )
