"""workers/engine/receipts.py: canonical JSON, Ed25519 signing and its check."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from workers.engine.receipts import (
    BadSignature,
    KeysInvalid,
    PublishedKey,
    ReceiptMalformed,
    UnknownKey,
    canonical_json,
    check_files,
    generate_private_key,
    key_id,
    keys_document,
    keys_from_document,
    load_document,
    private_key_from_text,
    private_key_pem,
    public_key_base64,
    public_key_from_text,
    public_key_pem,
    sign_receipt,
    verify_receipt,
)

# RFC 8032, section 7.1, test 1: the secret key, its public key, and the
# signature of the empty message.
RFC_SECRET = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
RFC_PUBLIC = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
RFC_EMPTY_SIGNATURE = (
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555"
    "fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)

PAYLOAD = {
    "type": "dnt-registry-receipt",
    "version": 1,
    "registry": {"id": "5b0e7c1e-8a4f-4c3e-9d51-2f6a9b7c0d14", "revision": 311},
    "manifest": {
        "name": "café – part 0.parquet",
        "files": [{"name": "part-00000.parquet", "rows": 100000, "sha256": "ab" * 32}],
    },
    "levels": {"min_agreement": "0.5", "verify": True, "remove": ["verified"]},
    "rows": {"total": 100000, "removed": 49, "unchecked": 0},
    "outputs": [
        {"kind": "filtered", "name": "filtered-x.parquet", "sha256": "cd" * 32}
    ],
    "started": None,
}


def rfc_key() -> Ed25519PrivateKey:
    return private_key_from_text(base64.b64encode(bytes.fromhex(RFC_SECRET)))


def keys_for(*private: Ed25519PrivateKey) -> dict[str, PublishedKey]:
    return {key_id(k.public_key()): PublishedKey(k.public_key()) for k in private}


# --- canonical form ---------------------------------------------------------------


def test_the_canonical_form_sorts_keys_drops_spaces_and_keeps_text_as_utf8():
    value = {"b": [1, "é\n", None], "a": {"z": True, "y": '€/"\\'}}

    assert canonical_json(value) == (
        '{"a":{"y":"€/\\"\\\\","z":true},"b":[1,"é\\n",null]}'.encode()
    )


def test_the_canonical_form_is_what_the_stand_alone_check_computes():
    # scripts/verify_receipt.py and the README use this one line.
    assert canonical_json(PAYLOAD) == json.dumps(
        PAYLOAD, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def test_control_characters_are_escaped_as_rfc_8785_says():
    assert canonical_json(["\x00\x1f\b\t\x7f"]) == b'["\\u0000\\u001f\\b\\t\x7f"]'


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"min_agreement": 0.5}, "payload.min_agreement: 0.5 is a floating-point"),
        ({"a": [1, float("nan")]}, "payload.a[1]: nan is a floating-point"),
        ({1: "x"}, "key 1 is not an ASCII string"),
        ({"é": "x"}, "key 'é' is not an ASCII string"),
        ({"a": {1, 2}}, "payload.a: a set cannot be in a payload"),
        ({"a": "\ud800"}, "text that is not Unicode"),
    ],
)
def test_a_payload_without_one_canonical_form_is_refused(value, message):
    with pytest.raises(ValueError) as raised:
        canonical_json(value)

    assert message in str(raised.value)


# --- keys -------------------------------------------------------------------------


def test_the_rfc_8032_key_signs_as_the_rfc_says():
    key = rfc_key()

    assert key.public_key().public_bytes_raw().hex() == RFC_PUBLIC
    assert key.sign(b"").hex() == RFC_EMPTY_SIGNATURE


def test_the_key_id_is_the_start_of_the_public_keys_sha256():
    public = rfc_key().public_key()

    assert key_id(public) == hashlib.sha256(bytes.fromhex(RFC_PUBLIC)).hexdigest()[:16]


def test_keys_read_back_from_pem_and_from_base64():
    key = generate_private_key()
    public = key.public_key()

    assert key_id(private_key_from_text(private_key_pem(key)).public_key()) == key_id(
        public
    )
    assert key_id(public_key_from_text(public_key_pem(public))) == key_id(public)
    assert key_id(public_key_from_text(public_key_base64(public))) == key_id(public)
    assert len(public_key_base64(public)) == 44


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not a key", "neither PEM nor base64"),
        (base64.b64encode(b"short").decode(), "base64 of 5 bytes"),
        ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", "PEM"),
    ],
)
def test_a_private_key_that_is_not_ed25519_is_refused_saying_why(text, message):
    with pytest.raises(KeysInvalid) as raised:
        private_key_from_text(text)

    assert message in str(raised.value)


# --- signing and verifying --------------------------------------------------------


def test_a_signed_receipt_verifies_and_names_its_key():
    key = generate_private_key()
    document = sign_receipt(PAYLOAD, key)

    verified = verify_receipt(document, keys_for(key))

    assert document["algorithm"] == "Ed25519"
    assert document["key_id"] == key_id(key.public_key())
    assert len(base64.b64decode(document["signature"])) == 64
    assert verified.payload == PAYLOAD
    assert verified.key_id == document["key_id"]


def test_a_receipt_survives_any_json_formatting_of_the_document():
    key = generate_private_key()
    text = json.dumps(sign_receipt(PAYLOAD, key), indent=4, ensure_ascii=True)

    assert verify_receipt(load_document(text), keys_for(key)).payload == PAYLOAD


def test_every_changed_byte_of_the_payload_is_detected():
    key = generate_private_key()
    document = sign_receipt(PAYLOAD, key)
    canonical = canonical_json(PAYLOAD)
    keys = keys_for(key)
    changed = 0

    for i in range(len(canonical)):
        for flip in (0x01, 0x20):
            tampered = bytearray(canonical)
            tampered[i] ^= flip
            try:
                payload = json.loads(bytes(tampered))
            except ValueError:
                continue  # no longer JSON: a reader refuses it anyway
            if payload == PAYLOAD:
                continue
            changed += 1
            with pytest.raises((BadSignature, ReceiptMalformed)):
                verify_receipt({**document, "payload": payload}, keys)

    assert changed > len(canonical)  # most flips still parse: each one was caught


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p["rows"].update(removed=48),
        lambda p: p["outputs"][0].update(sha256="ce" * 32),
        lambda p: p["registry"].update(revision=312),
        lambda p: p["manifest"].update(name="cafe - part 0.parquet"),
        lambda p: p.update(extra="added"),
        lambda p: p.pop("started"),
        lambda p: p["levels"].update(min_agreement=0.5),
    ],
)
def test_a_changed_value_is_detected(change):
    key = generate_private_key()
    document = json.loads(json.dumps(sign_receipt(PAYLOAD, key)))
    change(document["payload"])

    with pytest.raises(BadSignature) as raised:
        verify_receipt(document, keys_for(key))

    assert "changed" in str(raised.value)


def test_a_receipt_signed_by_another_key_is_not_verified():
    ours, theirs = generate_private_key(), generate_private_key()
    document = sign_receipt(PAYLOAD, theirs)

    with pytest.raises(UnknownKey) as raised:
        verify_receipt(document, keys_for(ours))
    assert f"signed with key {document['key_id']}, which is not among" in str(
        raised.value
    )

    # Relabelled with our key's id, the signature still does not match.
    relabelled = {**document, "key_id": key_id(ours.public_key())}
    with pytest.raises(BadSignature):
        verify_receipt(relabelled, keys_for(ours))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"payload": "{}"}, "no payload object"),
        ({"algorithm": "RS256"}, "only Ed25519"),
        ({"key_id": None}, "names no key_id"),
        ({"signature": "***"}, "not base64"),
        ({"signature": base64.b64encode(b"x" * 10).decode()}, "10 bytes"),
    ],
)
def test_a_malformed_receipt_says_what_is_wrong(change, message):
    key = generate_private_key()
    document = {**sign_receipt(PAYLOAD, key), **change}

    with pytest.raises(ReceiptMalformed) as raised:
        verify_receipt(document, keys_for(key))

    assert message in str(raised.value)


def test_a_document_with_a_key_twice_is_refused():
    # A reader might see the first value, a parser the last.
    with pytest.raises(ReceiptMalformed, match="the key 'rows' twice"):
        load_document('{"rows": 1, "rows": 2}')
    with pytest.raises(ReceiptMalformed, match="not JSON"):
        load_document("{")
    with pytest.raises(ReceiptMalformed, match="not a JSON object"):
        load_document("[]")


# --- keys documents and files -----------------------------------------------------


def test_a_keys_document_reads_back_with_each_key_checked_against_its_id():
    active, old = generate_private_key(), generate_private_key()
    document = keys_document(
        [
            PublishedKey(active.public_key()),
            PublishedKey(old.public_key(), status="retired", retired="2026-01-01"),
        ],
        {"id": "r1"},
    )

    keys = keys_from_document(json.loads(json.dumps(document)))

    assert [(k, v.status, v.retired) for k, v in keys.items()] == [
        (key_id(active.public_key()), "active", None),
        (key_id(old.public_key()), "retired", "2026-01-01"),
    ]
    old_receipt = sign_receipt(PAYLOAD, old)
    assert verify_receipt(old_receipt, keys).key.status == "retired"

    document["keys"][1]["key_id"] = document["keys"][0]["key_id"]
    with pytest.raises(KeysInvalid, match=r"keys\[1\]: key_id .* is not this key's id"):
        keys_from_document(document)


def test_files_are_matched_to_the_receipt_by_content_not_name(tmp_path):
    kept = tmp_path / "renamed.parquet"
    kept.write_bytes(b"filtered rows")
    other = tmp_path / "filtered-x.parquet"
    other.write_bytes(b"something else")
    payload = {
        "outputs": [
            {
                "name": "filtered-x.parquet",
                "sha256": hashlib.sha256(b"filtered rows").hexdigest(),
            }
        ]
    }

    first, second = check_files(payload, [kept, other])

    assert (first.ok, first.listed_as, first.size) == (True, "filtered-x.parquet", 13)
    assert (second.ok, second.listed_as) == (False, None)
