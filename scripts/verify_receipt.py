"""Verify a registry receipt offline; needs only `pip install cryptography`.

Usage: python verify_receipt.py receipt.json dnt-registry-keys.json [FILE ...]
Exit status: 0 verified (and every FILE is one the receipt lists), 1 not
verified, 3 a FILE is not listed. The README's curator section explains it.
"""

import base64
import hashlib
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

receipt = json.load(open(sys.argv[1], encoding="utf-8"))
keys = json.load(open(sys.argv[2], encoding="utf-8"))["keys"]
key = next((k for k in keys if k["key_id"] == receipt["key_id"]), None)
if key is None or receipt["algorithm"] != "Ed25519":
    sys.exit(f"NOT VERIFIED: key {receipt['key_id']} is not in {sys.argv[2]}")
# What was signed: the payload as canonical JSON (sorted keys, no spaces, UTF-8).
signed = json.dumps(
    receipt["payload"], sort_keys=True, separators=(",", ":"), ensure_ascii=False
).encode("utf-8")
public = Ed25519PublicKey.from_public_bytes(base64.b64decode(key["public_key"]))
try:
    public.verify(base64.b64decode(receipt["signature"]), signed)
except InvalidSignature:
    sys.exit("NOT VERIFIED: the receipt was changed, or another key signed it")
print(f"Signature OK: key {key['key_id']} ({key['status']})")
listed = {out["sha256"]: out["name"] for out in receipt["payload"]["outputs"]}
unlisted = 0
for name in sys.argv[3:]:
    with open(name, "rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    print(f"{name}: {'is ' + listed[digest] if digest in listed else 'NOT LISTED'}")
    unlisted += digest not in listed
sys.exit(3 if unlisted else 0)
