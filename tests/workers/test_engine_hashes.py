from __future__ import annotations

import pytest

from workers.engine.hashes import (
    HashRejected,
    hamming,
    parse_hex,
    phash_from_int,
    phash_to_int,
)


@pytest.mark.parametrize(
    ("algorithm", "value", "expected"),
    [
        ("phash", "8A74E64EE15B0557", "8a74e64ee15b0557"),
        ("phash", " 0x8a74e64ee15b0557 ", "8a74e64ee15b0557"),
        ("md5", "900150983cd24fb0d6963f7d28e17f72", "900150983cd24fb0d6963f7d28e17f72"),
        ("sha256", "ab" * 32, "ab" * 32),
        ("pdq", "0F" * 32, "0f" * 32),
    ],
)
def test_it_parses_hex_hashes(algorithm, value, expected):
    assert parse_hex(algorithm, value).hex() == expected


@pytest.mark.parametrize(
    ("algorithm", "value", "message"),
    [
        ("phash", "8a74e64ee15b055", "phash must be 16 hex digits, got 15"),
        ("pdq", "0f" * 31, "pdq must be 64 hex digits, got 62"),
        ("sha256", "zz" * 32, "sha256 must contain only hex digits 0-9 and a-f"),
        ("md5", "", "md5 must be 32 hex digits, got 0"),
        ("crc32", "00", "unknown hash algorithm 'crc32'"),
    ],
)
def test_it_rejects_malformed_hex_naming_the_hash(algorithm, value, message):
    with pytest.raises(HashRejected) as exc:
        parse_hex(algorithm, value)
    assert str(exc.value) == message


@pytest.mark.parametrize(
    "hex_value",
    ["0000000000000000", "7fffffffffffffff", "8000000000000000", "ffffffffffffffff"],
)
def test_phash_round_trips_through_a_signed_64_bit_integer(hex_value):
    value = phash_to_int(bytes.fromhex(hex_value))
    assert -(2**63) <= value < 2**63
    assert phash_from_int(value) == hex_value


def test_hamming_counts_differing_bits():
    assert hamming(b"\x00\xff", b"\x00\xff") == 0
    assert hamming(b"\x00\x00", b"\x01\x80") == 2
    assert hamming(bytes(32), b"\xff" * 32) == 256
    with pytest.raises(ValueError):
        hamming(b"\x00", b"\x00\x00")
