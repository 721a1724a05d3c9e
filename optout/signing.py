"""The registry's receipt-signing key, and the public keys it publishes.

The key comes from RECEIPT_SIGNING_KEY (or RECEIPT_SIGNING_KEY_FILE) when set.
Otherwise, the embedded default, it is generated on first use into
RECEIPT_KEY_DIR/receipt-signing-key.pem (mode 0600) and reused: every process
that needs it (web, workers, manage.py) reads the same file, so the folder
must be shared (docker compose mounts one volume there).

Rotation keeps old receipts verifiable: the public keys of replaced keys are
published as retired, from RECEIPT_RETIRED_KEYS and from
RECEIPT_KEY_DIR/retired-public-keys.txt (one "<base64 key> <ISO time>" a line,
appended by `receipt_key_rotate`). Private keys of retired keys are not kept.

Nothing is cached in memory: a rotation or a changed setting takes effect at
the next receipt, and the file is a few hundred bytes.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from workers.engine.receipts import (
    ACTIVE,
    RETIRED,
    KeysInvalid,
    PublishedKey,
    generate_private_key,
    key_id,
    private_key_from_text,
    private_key_pem,
    public_key_base64,
    public_key_from_text,
)

GENERATED_NAME = "receipt-signing-key.pem"
RETIRED_NAME = "retired-public-keys.txt"


def key_dir() -> Path:
    return Path(settings.RECEIPT_KEY_DIR)


def generated_key_path() -> Path:
    return key_dir() / GENERATED_NAME


def key_is_configured() -> bool:
    """Whether the key comes from RECEIPT_SIGNING_KEY (not generated here)."""
    return bool(settings.RECEIPT_SIGNING_KEY)


def signing_key() -> Ed25519PrivateKey:
    """The key that signs new receipts: configured, or generated once and kept.

    Raises ImproperlyConfigured for a configured or stored key that is not an
    Ed25519 private key.
    """
    if key_is_configured():
        try:
            return private_key_from_text(settings.RECEIPT_SIGNING_KEY)
        except KeysInvalid as exc:
            raise ImproperlyConfigured(f"RECEIPT_SIGNING_KEY: {exc}") from None
    path = generated_key_path()
    if not path.exists():
        _create_exclusively(path, private_key_pem(generate_private_key()))
    return _read_key(path)


def published_keys() -> list[PublishedKey]:
    """The active key first, then every retired one (each once, oldest first)."""
    active = signing_key().public_key()
    keys = [PublishedKey(public_key=active, status=ACTIVE)]
    seen = {key_id(active)}
    retired: list[tuple[str, str | None, str]] = [
        (text, None, "RECEIPT_RETIRED_KEYS") for text in settings.RECEIPT_RETIRED_KEYS
    ]
    retired_file = key_dir() / RETIRED_NAME
    if retired_file.exists():
        for number, line in enumerate(retired_file.read_text().splitlines(), 1):
            fields = line.split()
            if fields:
                when = fields[1] if len(fields) > 1 else None
                retired.append((fields[0], when, f"{retired_file}, line {number}"))
    for text, when, where in retired:
        try:
            public = public_key_from_text(text)
        except KeysInvalid as exc:
            raise ImproperlyConfigured(f"{where}: {exc}") from None
        if key_id(public) in seen:
            continue
        seen.add(key_id(public))
        keys.append(PublishedKey(public_key=public, status=RETIRED, retired=when))
    return keys


def rotate_generated_key(*, now: datetime | None = None) -> tuple[str | None, str]:
    """Replace the generated key with a new one; publish the old one as retired.

    Returns (the old key id or None when there was none, the new key id). The
    old public key is recorded before the key is swapped, so a receipt signed
    with the old key in between still verifies. Raises ImproperlyConfigured
    when the key is configured (RECEIPT_SIGNING_KEY): there the operator sets
    the new key and lists the old public key in RECEIPT_RETIRED_KEYS.
    """
    if key_is_configured():
        raise ImproperlyConfigured(
            "the signing key comes from RECEIPT_SIGNING_KEY: set the new key "
            "there and add the old public key to RECEIPT_RETIRED_KEYS"
        )
    when = (now or timezone.now()).isoformat(timespec="seconds")
    path = generated_key_path()
    old_id = None
    if path.exists():
        old = _read_key(path).public_key()
        old_id = key_id(old)
        key_dir().mkdir(parents=True, exist_ok=True)
        with open(key_dir() / RETIRED_NAME, "a") as fh:
            fh.write(f"{public_key_base64(old)} {when}\n")
            fh.flush()
            os.fsync(fh.fileno())
    new = generate_private_key()
    tmp = _write_private_temp(private_key_pem(new))
    os.replace(tmp, path)
    return old_id, key_id(new.public_key())


def _read_key(path: Path) -> Ed25519PrivateKey:
    try:
        return private_key_from_text(path.read_bytes())
    except KeysInvalid as exc:
        raise ImproperlyConfigured(f"{path}: {exc}") from None


def _write_private_temp(data: bytes) -> Path:
    """A new file beside the key with `data`, readable by its owner only."""
    folder = key_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, name = tempfile.mkstemp(dir=folder, prefix=".new-key-")  # mode 0600
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return Path(name)


def _create_exclusively(path: Path, data: bytes) -> None:
    """Create `path` whole, unless another process got there first.

    Web and workers may all want the key on their first receipt: a hard link
    to a finished temporary file appears atomically and fails if the name is
    taken, so exactly one key wins and nobody reads half a file.
    """
    tmp = _write_private_temp(data)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass  # another process made it: use theirs
    finally:
        tmp.unlink()
