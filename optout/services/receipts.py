"""Signing receipts with the registry's key, and replacing that key.

The payload is built by finalize.receipt_build; the canonical form, the
signature and its check are the engine's (workers/engine/receipts.py), the
key's storage optout/signing.py's.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured

from audit.services import audit_record
from core.errors import Conflict
from optout import signing
from workers.engine.receipts import sign_receipt


def receipt_sign(payload: dict[str, Any]) -> dict[str, Any]:
    """The signed receipt document for `payload`, with the active key.

    Raises ValueError for a payload that has no canonical form (a float).
    """
    return sign_receipt(payload, signing.signing_key())


def receipt_key_rotate() -> tuple[str | None, str]:
    """Replace the generated signing key; its public key stays published.

    Returns (old key id or None, new key id). Raises Conflict when the key is
    configured (RECEIPT_SIGNING_KEY): rotate it there.
    """
    try:
        old, new = signing.rotate_generated_key()
    except ImproperlyConfigured as exc:
        raise Conflict(str(exc)) from None
    audit_record(
        actor=None,
        action="receipt_key.rotate",
        target_type="receipt_key",
        target_label=new,
        before={"key_id": old},
        after={"key_id": new},
    )
    return old, new
