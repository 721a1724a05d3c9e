"""Match exceptions: a manifest item that must never again match one claim or
image (a false-match report an admin upheld), applied to a batch's matches.

Django-free: the registry's jobs read the exceptions from the database
(disputes/selectors.py), the offline client from its signed snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .urls import UrlRejected, normalize_url

CLAIM_KINDS = frozenset({"url", "prefix", "domain", "style"})


def target_of(match: Any) -> str:
    """The claim or image a match is on, as exceptions name it ("claim:12")."""
    return f"{'claim' if str(match.kind) in CLAIM_KINDS else 'image'}:{match.ref}"


def row_keys(batch: Any, i: int) -> dict[str, str]:
    """What identifies row `i` of the batch: its normalized URL, key and hashes."""
    keys: dict[str, str] = {}
    url = batch.urls[i]
    if url:
        try:
            keys["url"] = normalize_url(url).href
        except UrlRejected:
            pass
    if batch.keys[i]:
        keys["key"] = str(batch.keys[i])
    for name in ("sha256", "md5", "pdq"):
        value = getattr(batch, name)[i]
        if value:
            keys[name] = bytes(value).hex()
    if batch.phash[i] is not None:
        keys["phash"] = (
            (batch.phash[i] & 0xFFFF_FFFF_FFFF_FFFF).to_bytes(8, "big").hex()
        )
    return keys


def drop_excepted(
    batch: Any,
    found: Iterable[Any],
    excepted: Mapping[str, set[tuple[str, str]]],
) -> list[Any]:
    """The matches no exception rules out; `excepted` maps a target to the
    (key_type, key) pairs it must not match."""
    kept = []
    keys: dict[int, set[tuple[str, str]]] = {}
    for m in found:
        pairs = excepted.get(target_of(m))
        if pairs:
            if m.row not in keys:
                keys[m.row] = set(row_keys(batch, m.row - batch.first_row).items())
            if keys[m.row] & pairs:
                continue
        kept.append(m)
    return kept
