"""Signed receipts: a JSON payload in canonical form, signed with Ed25519.

A receipt says what a check of a manifest found (the registry's side builds
the payload). Signing makes it evidence: whoever holds the registry's public
key (published at /.well-known/dnt-registry-keys.json) can tell that the
registry issued this payload and that not one byte of it changed since.

The document:

    {"payload": {...}, "algorithm": "Ed25519", "key_id": "<16 hex>",
     "signature": "<base64 of the 64-byte signature>"}

What is signed is the payload's canonical form: JSON with the keys of every
object sorted, no insignificant whitespace (separators "," and ":"), strings
as themselves (no \\u escapes but the ones JSON requires: quote, backslash and
control characters, the latter as \\b \\f \\n \\r \\t or lower-case \\u00xx), encoded
as UTF-8. In Python that is

    json.dumps(payload, sort_keys=True, separators=(",", ":"),
               ensure_ascii=False).encode("utf-8")

A payload holds only objects with ASCII keys, arrays, strings, integers,
booleans and null: no floating-point number (a fraction is written as a
decimal string), so number formatting never differs between languages, and
for such payloads the form above is exactly RFC 8785 (JCS). `canonical_json`
refuses anything else. The document around the payload may be formatted in
any way (the stored receipt.json is indented for people).

The key id is the first 16 hex digits of the SHA-256 of the 32-byte raw
public key, so anyone can recompute it from a published key. Base64 is the
standard alphabet with padding (RFC 4648 section 4).

Limits: the signature proves who issued the payload, not that the payload is
true; `algorithm` and `key_id` sit outside it (a changed one makes the check
fail, never pass). Keys are Ed25519 only. Only `cryptography` and the standard
library are imported, so an offline verifier needs nothing else.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

ALGORITHM = "Ed25519"
RECEIPT_TYPE = "dnt-registry-receipt"
RECEIPT_VERSION = 1
KEYS_TYPE = "dnt-registry-keys"
KEYS_VERSION = 1
KEY_ID_DIGITS = 16
ACTIVE = "active"
RETIRED = "retired"


class ReceiptError(ValueError):
    """A receipt that does not verify; the message says why, for people."""


class ReceiptMalformed(ReceiptError):
    """Not a receipt at all: not JSON, a field missing or of the wrong type."""


class UnknownKey(ReceiptError):
    """Signed with a key id that is not among the keys given."""


class BadSignature(ReceiptError):
    """The signature does not match: the payload changed, or another key signed."""


class KeysInvalid(ValueError):
    """A keys document (or a key in a setting) that cannot be used."""


@dataclass(frozen=True)
class PublishedKey:
    """One of a registry's public keys, as the keys document lists it."""

    public_key: Ed25519PublicKey
    status: str = ACTIVE  # active (signs new receipts) or retired
    retired: str | None = None  # when, ISO 8601, if known

    @property
    def key_id(self) -> str:
        return key_id(self.public_key)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "algorithm": ALGORITHM,
            "public_key": public_key_base64(self.public_key),
            "public_key_pem": public_key_pem(self.public_key),
            "status": self.status,
            "retired": self.retired,
        }


@dataclass(frozen=True)
class VerifiedReceipt:
    """A receipt whose signature checked out: its payload and who signed it."""

    payload: dict[str, Any]
    key: PublishedKey

    @property
    def key_id(self) -> str:
        return self.key.key_id


@dataclass(frozen=True)
class FileCheck:
    """One file handed to `check_files`: its digest and what the receipt says."""

    path: Path
    sha256: str
    size: int
    listed_as: str | None  # the receipt's name for a file with this digest

    @property
    def ok(self) -> bool:
        return self.listed_as is not None


def canonical_json(value: Any) -> bytes:
    """The payload's canonical bytes (see the module docstring).

    Raises ValueError for a float, a non-string or non-ASCII object key, a
    value JSON cannot hold, or a string that is not valid Unicode.
    """
    _check_canonical(value, "payload")
    try:
        return json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"the payload holds text that is not Unicode: {exc}") from None


def _check_canonical(value: Any, where: str) -> None:
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, float):
        raise ValueError(
            f"{where}: {value!r} is a floating-point number; write it as a string"
        )
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str) or not key.isascii():
                raise ValueError(f"{where}: key {key!r} is not an ASCII string")
            _check_canonical(item, f"{where}.{key}")
        return
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_canonical(item, f"{where}[{i}]")
        return
    raise ValueError(f"{where}: a {type(value).__name__} cannot be in a payload")


def key_id(public_key: Ed25519PublicKey) -> str:
    """First 16 hex digits of the SHA-256 of the raw 32-byte public key."""
    raw = public_key.public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return hashlib.sha256(raw).hexdigest()[:KEY_ID_DIGITS]


def generate_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    """PKCS#8 PEM, unencrypted (file permissions protect it)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_key_base64(key: Ed25519PublicKey) -> str:
    """The raw 32-byte public key in standard base64 (44 characters)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def public_key_pem(key: Ed25519PublicKey) -> str:
    """SubjectPublicKeyInfo PEM, as `openssl pkey -pubout` writes it."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def private_key_from_text(text: str | bytes) -> Ed25519PrivateKey:
    """An Ed25519 private key from PKCS#8 PEM or base64 of its 32 raw bytes.

    Raises KeysInvalid saying which form was expected.
    """
    data = text.encode("ascii", "replace") if isinstance(text, str) else text
    data = data.strip()
    if data.startswith(b"-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise KeysInvalid(
                f"not a readable unencrypted PEM private key ({exc})"
            ) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise KeysInvalid(f"the PEM key is {type(key).__name__}, not Ed25519")
        return key
    raw = _base64(data, "the private key")
    if len(raw) != 32:
        raise KeysInvalid(
            f"base64 of {len(raw)} bytes; an Ed25519 private key is 32 bytes "
            "(or give it as PEM)"
        )
    return Ed25519PrivateKey.from_private_bytes(raw)


def public_key_from_text(text: str | bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from SubjectPublicKeyInfo PEM or base64 of 32 bytes.

    Raises KeysInvalid.
    """
    data = text.encode("ascii", "replace") if isinstance(text, str) else text
    data = data.strip()
    if data.startswith(b"-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(data)
        except (ValueError, TypeError) as exc:
            raise KeysInvalid(f"not a readable PEM public key ({exc})") from None
        if not isinstance(key, Ed25519PublicKey):
            raise KeysInvalid(f"the PEM key is {type(key).__name__}, not Ed25519")
        return key
    raw = _base64(data, "the public key")
    if len(raw) != 32:
        raise KeysInvalid(
            f"base64 of {len(raw)} bytes; an Ed25519 public key is 32 bytes"
        )
    return Ed25519PublicKey.from_public_bytes(raw)


def _base64(data: bytes, what: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise KeysInvalid(f"{what} is neither PEM nor base64") from None


def sign_receipt(payload: Mapping[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """The signed document for `payload`. Raises ValueError (canonical_json)."""
    signature = key.sign(canonical_json(payload))
    return {
        "payload": dict(payload),
        "algorithm": ALGORITHM,
        "key_id": key_id(key.public_key()),
        "signature": base64.b64encode(signature).decode("ascii"),
    }


def load_document(data: str | bytes, what: str = "receipt") -> dict[str, Any]:
    """Parse a JSON document, refusing duplicate keys (a reader and a parser
    could each see a different value). Raises ReceiptMalformed."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in pairs:
            if key in seen:
                raise ReceiptMalformed(f"the {what} has the key {key!r} twice")
            seen[key] = value
        return seen

    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ReceiptMalformed(f"the {what} is not UTF-8 text") from None
    try:
        value = json.loads(data, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as exc:
        raise ReceiptMalformed(f"the {what} is not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ReceiptMalformed(f"the {what} is not a JSON object")
    return value


def verify_receipt(
    document: Mapping[str, Any],
    keys: Mapping[str, PublishedKey],
    *,
    expect_type: str = RECEIPT_TYPE,
) -> VerifiedReceipt:
    """Check the signature of a receipt against `keys` (key id -> key).

    `expect_type`: the payload's type (other signed documents, such as the
    offline snapshot, are checked the same way).

    Raises ReceiptMalformed, UnknownKey or BadSignature, each with a message
    for people.
    """
    payload = document.get("payload")
    if not isinstance(payload, dict):
        raise ReceiptMalformed("the receipt has no payload object")
    algorithm = document.get("algorithm")
    if algorithm != ALGORITHM:
        raise ReceiptMalformed(f"algorithm is {algorithm!r}; only {ALGORITHM} is used")
    kid = document.get("key_id")
    if not isinstance(kid, str) or not kid:
        raise ReceiptMalformed("the receipt names no key_id")
    signature_text = document.get("signature")
    if not isinstance(signature_text, str):
        raise ReceiptMalformed("the receipt has no signature")
    try:
        signature = base64.b64decode(signature_text, validate=True)
    except (binascii.Error, ValueError):
        raise ReceiptMalformed("the signature is not base64") from None
    if len(signature) != 64:
        raise ReceiptMalformed(
            f"the signature is {len(signature)} bytes; Ed25519 signatures are 64"
        )
    key = keys.get(kid)
    if key is None:
        known = ", ".join(sorted(keys)) or "none"
        raise UnknownKey(
            f"signed with key {kid}, which is not among the keys given ({known})"
        )
    try:
        message = canonical_json(payload)
    except ValueError as exc:
        raise BadSignature(f"the payload was changed: {exc}") from None
    try:
        key.public_key.verify(signature, message)
    except InvalidSignature:
        raise BadSignature(
            f"the signature does not match the payload for key {kid}: the "
            "receipt was changed after it was signed, or another key signed it"
        ) from None
    if payload.get("type") != expect_type:
        raise ReceiptMalformed(
            f"signed, but not a {expect_type}: type {payload.get('type')!r}"
        )
    return VerifiedReceipt(payload=payload, key=key)


def keys_document(
    keys: Iterable[PublishedKey], registry: Mapping[str, Any]
) -> dict[str, Any]:
    """The document served at /.well-known/dnt-registry-keys.json."""
    return {
        "type": KEYS_TYPE,
        "version": KEYS_VERSION,
        "registry": dict(registry),
        "keys": [key.as_dict() for key in keys],
    }


def keys_from_document(document: Mapping[str, Any]) -> dict[str, PublishedKey]:
    """Key id -> key, from a keys document; each id is checked against its key.

    Raises KeysInvalid naming the key that cannot be used.
    """
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise KeysInvalid("the keys document has no list of keys")
    found: dict[str, PublishedKey] = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise KeysInvalid(f"keys[{i}] is not an object")
        if entry.get("algorithm", ALGORITHM) != ALGORITHM:
            continue  # a later algorithm: not ours to check
        text = entry.get("public_key") or entry.get("public_key_pem")
        if not isinstance(text, str):
            raise KeysInvalid(f"keys[{i}] has no public_key")
        try:
            public = public_key_from_text(text)
        except KeysInvalid as exc:
            raise KeysInvalid(f"keys[{i}]: {exc}") from None
        key = PublishedKey(
            public_key=public,
            status=str(entry.get("status") or ACTIVE),
            retired=entry.get("retired")
            if isinstance(entry.get("retired"), str)
            else None,
        )
        claimed = entry.get("key_id")
        if claimed is not None and claimed != key.key_id:
            raise KeysInvalid(
                f"keys[{i}]: key_id {claimed!r} is not this key's id ({key.key_id})"
            )
        found[key.key_id] = key
    return found


def file_sha256(path: Path) -> tuple[str, int]:
    """SHA-256 (hex) and size of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def manifest_sha256(paths: Iterable[Path]) -> tuple[str, int, list[tuple[str, int]]]:
    """A manifest's SHA-256 (of its files' bytes concatenated in order, as an
    upload computes it) and size, and each file's own SHA-256 and size, all in
    one pass."""
    digest = hashlib.sha256()
    size = 0
    each = []
    for path in paths:
        one = hashlib.sha256()
        one_size = 0
        with open(path, "rb") as fh:
            while block := fh.read(1 << 20):
                digest.update(block)
                one.update(block)
                one_size += len(block)
        each.append((one.hexdigest(), one_size))
        size += one_size
    return digest.hexdigest(), size, each


def check_files(payload: Mapping[str, Any], paths: Iterable[Path]) -> list[FileCheck]:
    """Each file's digest, and the name of the receipt's output with that digest.

    Files are matched by content, not by name: an auditor may have renamed
    them. A file whose digest the receipt does not list has `listed_as` None.
    """
    listed = {
        entry.get("sha256"): entry.get("name")
        for entry in payload.get("outputs") or []
        if isinstance(entry, dict)
    }
    results = []
    for path in paths:
        digest, size = file_sha256(Path(path))
        name = listed.get(digest)
        results.append(
            FileCheck(path=Path(path), sha256=digest, size=size, listed_as=name)
        )
    return results
