"""Hash values: parsing user-supplied hex, and the storage forms we keep.

Storage forms are chosen so a database can index them and an in-memory index can
pack them: SHA-256, MD5 and PDQ as raw bytes (32, 16, 32), pHash as a signed
64-bit integer (the bits of imagehash's 16-hex-digit string, two's complement).
PDQ's hex is Meta's: bit 0 of pdqhash's vector is the most significant bit.
"""

from __future__ import annotations

import string

HEX_DIGITS = frozenset(string.hexdigits)

# algorithm -> number of hex digits
HEX_LENGTHS = {"sha256": 64, "md5": 32, "phash": 16, "pdq": 64}


class HashRejected(ValueError):
    """A hash string that is not of its algorithm's form; `str(exc)` says why."""


def parse_hex(algorithm: str, value: str) -> bytes:
    """Validate a hex hash of `algorithm` and return its bytes.

    Raises HashRejected for an unknown algorithm, a wrong length or a non-hex
    character.
    """
    try:
        length = HEX_LENGTHS[algorithm]
    except KeyError:
        raise HashRejected(f"unknown hash algorithm {algorithm!r}") from None
    if not isinstance(value, str):
        raise HashRejected(f"{algorithm} must be a string of hex digits")
    text = value.strip().lower()
    if text.startswith("0x"):
        text = text[2:]
    if len(text) != length:
        raise HashRejected(f"{algorithm} must be {length} hex digits, got {len(text)}")
    if not set(text) <= HEX_DIGITS:
        raise HashRejected(f"{algorithm} must contain only hex digits 0-9 and a-f")
    return bytes.fromhex(text)


def phash_to_int(raw: bytes) -> int:
    """8 bytes of pHash -> the signed 64-bit integer we store."""
    if len(raw) != 8:
        raise HashRejected("phash must be 8 bytes")
    return int.from_bytes(raw, "big", signed=True)


def phash_from_int(value: int) -> str:
    """The signed 64-bit integer we store -> imagehash's 16 hex digits."""
    return (value & 0xFFFF_FFFF_FFFF_FFFF).to_bytes(8, "big").hex()


def hamming(a: bytes, b: bytes) -> int:
    """Bits that differ between two equal-length byte strings."""
    if len(a) != len(b):
        raise ValueError("hashes of different lengths")
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()
