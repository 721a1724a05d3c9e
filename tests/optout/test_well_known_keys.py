"""/.well-known/dnt-registry-keys.json: the public keys that verify receipts."""

from __future__ import annotations

import base64
import hashlib

from cryptography.hazmat.primitives.serialization import load_pem_public_key

from registry.selectors import registry_identity
from workers.engine.receipts import (
    generate_private_key,
    key_id,
    private_key_pem,
    public_key_base64,
)

URL = "/.well-known/dnt-registry-keys.json"


def test_anyone_gets_the_keys_as_json_without_an_account(anon_client, settings, db):
    response = anon_client.get(URL)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "max-age=300" in response["Cache-Control"]
    body = response.json()
    assert body["type"] == "dnt-registry-keys"
    assert body["version"] == 1
    assert body["registry"] == {
        "id": registry_identity(),
        "name": settings.SITE_NAME,
        "url": settings.SITE_URL,
    }
    (key,) = body["keys"]
    assert set(key) == {
        "key_id",
        "algorithm",
        "public_key",
        "public_key_pem",
        "status",
        "retired",
    }
    assert (key["algorithm"], key["status"], key["retired"]) == (
        "Ed25519",
        "active",
        None,
    )
    raw = base64.b64decode(key["public_key"])
    assert len(raw) == 32
    assert key["key_id"] == hashlib.sha256(raw).hexdigest()[:16]
    pem = load_pem_public_key(key["public_key_pem"].encode())
    assert key_id(pem) == key["key_id"]


def test_signed_in_users_get_the_same_keys(curator_client, anon_client):
    assert curator_client.get(URL).json() == anon_client.get(URL).json()


def test_the_active_key_comes_first_then_the_retired_ones(anon_client, settings, db):
    active, old, older = (generate_private_key() for _ in range(3))
    settings.RECEIPT_SIGNING_KEY = private_key_pem(active).decode()
    settings.RECEIPT_RETIRED_KEYS = [
        public_key_base64(older.public_key()),
        public_key_base64(old.public_key()),
        public_key_base64(active.public_key()),  # listed by mistake: once only
    ]

    keys = anon_client.get(URL).json()["keys"]

    assert [(k["key_id"], k["status"]) for k in keys] == [
        (key_id(active.public_key()), "active"),
        (key_id(older.public_key()), "retired"),
        (key_id(old.public_key()), "retired"),
    ]


def test_head_works_and_other_methods_are_refused(anon_client, db):
    assert anon_client.head(URL).status_code == 200
    assert anon_client.post(URL).status_code == 405
