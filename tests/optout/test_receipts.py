"""Signed receipts: every finished job's receipt is signed with the registry's
key, names what an auditor needs, and still verifies after the key is rotated."""

from __future__ import annotations

import hashlib
import io
import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from optout.selectors import receipt_keys
from optout.services import manifest_upload, match_job_start
from optout.signing import GENERATED_NAME, RETIRED_NAME
from registry.selectors import registry_identity, registry_revision_current
from tests.images import image_bytes
from workers.engine import verify
from workers.engine.fingerprint import ALGORITHM_VERSIONS
from workers.engine.receipts import (
    BadSignature,
    UnknownKey,
    generate_private_key,
    key_id,
    private_key_pem,
    public_key_base64,
    verify_receipt,
)

from .helpers import (
    KEPT_URLS,
    LAION_ROWS,
    laion_parquet,
    read_parquet,
    run_job,
    start_job,
    upload,
    webdataset_tar,
)


def filtered_bytes(job) -> dict[str, bytes]:
    return {o.name: o.file.read() for o in job.outputs.filter(kind="filtered")}


def test_a_finished_jobs_receipt_is_signed_with_the_registrys_key(curator, registry):
    job = run_job(start_job(curator))

    verified = verify_receipt(job.receipt, receipt_keys())

    assert job.receipt["algorithm"] == "Ed25519"
    assert verified.key.status == "active"
    assert verified.payload["type"] == "dnt-registry-receipt"
    assert verified.payload["job"] == job.pk
    # The file a curator downloads is the same signed document.
    stored = json.loads(job.outputs.get(kind="receipt").file.read())
    assert stored == job.receipt


def test_the_receipt_names_what_was_checked_against_what_and_the_result(
    curator, registry, settings
):
    job = run_job(start_job(curator))
    receipt = job.receipt["payload"]
    data = laion_parquet()

    assert receipt["registry"] == {
        "id": registry_identity(),
        "name": settings.SITE_NAME,
        "url": settings.SITE_URL,
        "keys_url": settings.SITE_URL + "/.well-known/dnt-registry-keys.json",
        "revision": registry_revision_current(),
    }
    assert receipt["manifest"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert receipt["manifest"]["files"] == [
        {
            "name": "laion-part.parquet",
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "rows": len(LAION_ROWS),
        }
    ]
    assert receipt["columns"] == {"url": "URL", "caption": "TEXT", "phash": "phash"}
    assert receipt["checks"] == [
        {"signal": "url", "columns": ["URL"], "kinds": ["url", "prefix", "domain"]},
        {"signal": "caption", "columns": ["TEXT"], "kinds": ["style"]},
        {"signal": "phash", "columns": ["phash"], "kinds": ["phash"]},
    ]
    assert receipt["thresholds"] == {
        "phash": settings.MATCH_PHASH_THRESHOLD,
        "pdq": settings.MATCH_PDQ_THRESHOLD,
    }
    assert receipt["levels"] == {
        "pdq_strong": settings.MATCH_PDQ_STRONG,
        "phash_strong": settings.MATCH_PHASH_STRONG,
        "min_inliers": settings.MATCH_MIN_INLIERS,
        "min_agreement": str(settings.MATCH_MIN_AGREEMENT),
        "max_candidates": settings.MATCH_MAX_CANDIDATES,
        "min_coverage": str(settings.MATCH_MIN_COVERAGE),
        "min_alignment": None,  # off unless the registry turns it on
        "verify": settings.MATCH_VERIFY,
        "variant_scheme": settings.MATCH_VARIANT_SCHEME,
        "descriptor_k": settings.MATCH_DESCRIPTOR_K,
        "descriptor_min": str(settings.MATCH_DESCRIPTOR_MIN),
        "descriptor_possible": str(settings.MATCH_DESCRIPTOR_POSSIBLE),
        "descriptor_strong": None,
        "descriptor_model": "",
        "remove": ["verified", "strong"],
    }
    assert receipt["rows"] == {
        "total": 7,
        "checked": 7,
        "removed": 4,
        "kept_for_review": 1,
        "opt_in": 0,
        "unchecked": 0,
        "unchecked_passed_on": 0,
        "unchecked_removed": 0,
        "in_filtered": 3,
    }
    assert receipt["keep_unchecked"] is False
    assert receipt["unchecked_reasons"] == {}
    assert receipt["columns_unused"] == ["WIDTH", "HEIGHT", "similarity"]
    assert receipt["signals_not_checked"] == ["sha256", "md5", "pdq", "image"]
    assert receipt["warnings"] == []
    assert receipt["matches"] == job.counts
    assert receipt["matches_by_level"] == {"possible": 1}
    engine = receipt["software"]["engine"]
    assert engine["fingerprint.phash"] == ALGORITHM_VERSIONS["phash"]
    assert engine["pdq_variants"].startswith(f"v2:{settings.MATCH_VARIANT_SCHEME}:")
    # A change in how verification decides is told apart from one in its format.
    assert engine["verify_rule"] == str(verify.RULE_VERSION)
    assert receipt["software"]["version"] == settings.VERSION
    assert receipt["started"] == job.started.isoformat()
    assert receipt["finished"] == job.finished.isoformat()


def test_an_auditor_with_only_the_filtered_file_finds_it_in_the_receipt(
    curator, registry
):
    job = run_job(start_job(curator))
    ((name, data),) = filtered_bytes(job).items()

    outputs = {o["name"]: o for o in job.receipt["payload"]["outputs"]}

    assert read_parquet(data).column("URL").to_pylist() == KEPT_URLS
    assert outputs[name] == {
        "kind": "filtered",
        "name": name,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    reports = {o.name: o.file.read() for o in job.outputs.exclude(kind="receipt")}
    assert {n: hashlib.sha256(d).hexdigest() for n, d in reports.items()} == {
        n: o["sha256"] for n, o in outputs.items()
    }


def test_a_manifest_of_several_files_lists_each_with_its_digest_and_rows(
    curator, registry
):
    shards = [
        webdataset_tar(
            [
                (f"{s}{i:04d}", image_bytes(10 * s + i), {"caption": "a photo"})
                for i in range(rows)
            ]
        )
        for s, rows in ((1, 3), (2, 2))
    ]
    manifest = manifest_upload(
        owner=curator,
        files=[upload(f"{i:05d}.tar", data) for i, data in enumerate(shards)],
    )

    job = run_job(match_job_start(manifest=manifest, owner=curator))
    receipt = verify_receipt(job.receipt, receipt_keys()).payload

    assert receipt["manifest"]["files"] == [
        {
            "name": f"{i:05d}.tar",
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "rows": rows,
        }
        for i, (data, rows) in enumerate(zip(shards, (3, 2), strict=True))
    ]
    # The manifest's digest is the files' bytes one after the other.
    assert receipt["manifest"]["sha256"] == hashlib.sha256(b"".join(shards)).hexdigest()
    image = next(c for c in receipt["checks"] if c["signal"] == "image")
    assert image["kinds"] == ["sha256", "md5", "phash", "pdq"]
    assert image["verified_geometrically"] is True
    listed = {o["sha256"] for o in receipt["outputs"] if o["kind"] == "filtered"}
    assert listed == {
        hashlib.sha256(d).hexdigest() for d in filtered_bytes(job).values()
    }


def test_names_outside_ascii_are_signed_as_they_are(curator, registry, curator_client):
    data = "url,caption\nhttps://alice.example/art/harbour.png,le port à l’aube\n"
    job = run_job(start_job(curator, data.encode(), name="données-été.csv"))

    response = curator_client.get(
        f"/api/v1/jobs/{job.pk}/outputs/{job.outputs.get(kind='receipt').pk}/"
    )
    downloaded = b"".join(response.streaming_content)

    assert "données-été.csv".encode() in downloaded  # as text, not \u escapes
    receipt = verify_receipt(json.loads(downloaded), receipt_keys()).payload
    assert receipt["manifest"]["files"][0]["name"] == "données-été.csv"
    assert receipt["rows"]["removed"] == 1


def test_a_changed_stored_receipt_no_longer_verifies(curator, registry):
    job = run_job(start_job(curator))
    forged = json.loads(json.dumps(job.receipt))
    forged["payload"]["rows"]["removed"] = 0

    with pytest.raises(BadSignature):
        verify_receipt(forged, receipt_keys())


# --- the key -------------------------------------------------------------------------


def test_the_generated_key_is_made_once_readable_by_its_owner_only_and_reused(
    curator, registry, settings
):
    first = run_job(start_job(curator))
    path = Path(settings.RECEIPT_KEY_DIR) / GENERATED_NAME
    made = path.read_bytes()

    second = run_job(start_job(curator))

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() == made
    assert first.receipt["key_id"] == second.receipt["key_id"]
    assert list(receipt_keys()) == [first.receipt["key_id"]]


def test_a_configured_key_signs_and_nothing_is_generated(curator, registry, settings):
    key = generate_private_key()
    settings.RECEIPT_SIGNING_KEY = private_key_pem(key).decode()

    job = run_job(start_job(curator))

    assert job.receipt["key_id"] == key_id(key.public_key())
    assert verify_receipt(job.receipt, receipt_keys()).key.status == "active"
    assert not (Path(settings.RECEIPT_KEY_DIR) / GENERATED_NAME).exists()


def test_a_key_rotated_in_the_settings_still_verifies_old_receipts(
    curator, registry, settings
):
    old, new = generate_private_key(), generate_private_key()
    settings.RECEIPT_SIGNING_KEY = private_key_pem(old).decode()
    before = run_job(start_job(curator))

    settings.RECEIPT_SIGNING_KEY = private_key_pem(new).decode()
    settings.RECEIPT_RETIRED_KEYS = [public_key_base64(old.public_key())]
    after = run_job(start_job(curator))

    keys = receipt_keys()
    assert after.receipt["key_id"] == key_id(new.public_key())
    assert verify_receipt(after.receipt, keys).key.status == "active"
    assert verify_receipt(before.receipt, keys).key.status == "retired"
    # Forgotten from the settings, the old key no longer vouches for anything.
    settings.RECEIPT_RETIRED_KEYS = []
    with pytest.raises(UnknownKey):
        verify_receipt(before.receipt, receipt_keys())


def test_rotating_the_generated_key_keeps_the_old_one_published_as_retired(
    curator, registry, settings
):
    before = run_job(start_job(curator))
    out = io.StringIO()

    call_command("receipt_key_rotate", stdout=out)
    after = run_job(start_job(curator))

    old_id, new_id = before.receipt["key_id"], after.receipt["key_id"]
    assert old_id != new_id
    assert out.getvalue().strip() == (
        f"Key {old_id} retired (still published); new key {new_id}."
    )
    keys = receipt_keys()
    assert list(keys) == [new_id, old_id]
    assert verify_receipt(before.receipt, keys).key.status == "retired"
    assert keys[old_id].retired is not None
    assert verify_receipt(after.receipt, keys).key.status == "active"
    retired = (Path(settings.RECEIPT_KEY_DIR) / RETIRED_NAME).read_text()
    assert retired.split()[0] == public_key_base64(keys[old_id].public_key)
    event = AuditEvent.objects.get(action="receipt_key.rotate")
    assert (event.before, event.after) == ({"key_id": old_id}, {"key_id": new_id})


def test_a_configured_key_is_not_rotated_by_the_command(settings, db):
    settings.RECEIPT_SIGNING_KEY = private_key_pem(generate_private_key()).decode()

    with pytest.raises(CommandError) as raised:
        call_command("receipt_key_rotate")

    assert "set the new key there and add the old public key to " in str(raised.value)
    assert "RECEIPT_RETIRED_KEYS" in str(raised.value)


def test_a_bad_key_in_the_settings_stops_the_server_at_start(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        env={
            "PATH": "/usr/bin:/bin",
            "RECEIPT_SIGNING_KEY": "not-a-key",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "CELERY_BROKER_DIR": str(tmp_path / "broker"),
        },
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )

    assert result.returncode != 0
    assert (
        "RECEIPT_SIGNING_KEY: the private key is neither PEM nor base64"
        in result.stderr
    )


def test_keys_are_made_when_first_published_too(anon_client, settings, db):
    # The web server may be asked for the keys before any job has finished.
    body = anon_client.get("/.well-known/dnt-registry-keys.json").json()

    made = (Path(settings.RECEIPT_KEY_DIR) / GENERATED_NAME).read_bytes()
    assert body["keys"][0]["key_id"] == list(receipt_keys())[0]
    assert made.startswith(b"-----BEGIN PRIVATE KEY-----")


# Maps whose keys depend on the data (columns found, reasons, kinds, levels).
OPEN_MAPS = {"columns", "unchecked_reasons", "matches", "matches_by_level", "models"}


def shape(value, name=""):
    """Keys and types, recursively; lists by their first item."""
    if isinstance(value, dict) and name in OPEN_MAPS:
        assert all(isinstance(item, int | str) for item in value.values()), name
        return "map"
    if isinstance(value, dict):
        return {key: shape(item, key) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def test_the_api_docs_example_receipt_has_the_shape_of_a_real_one(curator, registry):
    from optout.api.examples import JOB_DETAIL_EXAMPLE

    job = run_job(start_job(curator))
    example = JOB_DETAIL_EXAMPLE["receipt"]

    assert set(example) == set(job.receipt)
    real, documented = shape(job.receipt["payload"]), shape(example["payload"])
    assert documented == real
