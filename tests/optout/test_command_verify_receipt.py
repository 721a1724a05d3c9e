"""manage.py verify_receipt: a receipt's signature and the files it lists,
checked with this registry's keys or, offline, a saved keys document."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from optout.models import MatchJob
from optout.selectors import receipt_keys_document
from workers.engine.receipts import generate_private_key, sign_receipt

from .helpers import run_job, start_job


@pytest.fixture
def job(curator, registry) -> MatchJob:
    return run_job(start_job(curator))


@pytest.fixture
def receipt(job, tmp_path: Path) -> Path:
    path = tmp_path / "receipt.json"
    path.write_bytes(job.outputs.get(kind="receipt").file.read())
    return path


@pytest.fixture
def filtered(job, tmp_path: Path) -> Path:
    output = job.outputs.get(kind="filtered")
    path = tmp_path / "renamed-by-the-auditor.parquet"
    path.write_bytes(output.file.read())
    return path


@pytest.fixture
def keys(tmp_path: Path, db) -> Path:
    """The keys document as an auditor saves it from the registry's site."""
    path = tmp_path / "dnt-registry-keys.json"
    path.write_text(json.dumps(receipt_keys_document()))
    return path


def verify(*args: str) -> str:
    out = io.StringIO()
    call_command("verify_receipt", *args, stdout=out)
    return out.getvalue()


def refused(*args: str) -> CommandError:
    with pytest.raises(CommandError) as raised:
        verify(*args)
    return raised.value


def test_a_receipt_verifies_with_the_registrys_own_keys(receipt, job):
    out = verify(str(receipt))

    payload = job.receipt["payload"]
    assert out.splitlines()[0] == (
        f"Signature OK: signed with key {job.receipt['key_id']} (active) of registry "
        f"{payload['registry']['id']} ({payload['registry']['name']}, "
        f"{payload['registry']['url']})."
    )
    assert "Rows: 7 in all, 7 checked, 4 removed, 1 kept for review, 0 unchecked." in (
        out
    )


def test_it_says_what_the_receipt_says_was_not_checked(curator, registry, tmp_path):
    data = b"image_link,caption\nhttps://free.example/0.jpg,caf\xe9\n"
    job = run_job(start_job(curator, data, name="m.csv", keep_unchecked=True))
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(job.receipt))

    out = verify(str(path))

    assert "1 unchecked (1 passed on unchecked)." in out
    assert (
        "Warning: URLs were not checked: no URL column; found columns: "
        "image_link, caption." in out
    )
    assert "Warning: 1 row was passed on unchecked: " in out


def test_it_verifies_offline_with_a_saved_keys_file_and_the_filtered_file(
    receipt, keys, filtered, job
):
    out = verify(str(receipt), "--keys", str(keys), "--files", str(filtered))

    name = job.outputs.get(kind="filtered").name
    assert out.startswith("Signature OK")
    assert f"listed      {filtered} " in out
    assert out.rstrip().endswith(f"the receipt's {name}")


def test_a_changed_receipt_is_not_verified(receipt, keys):
    document = json.loads(receipt.read_text())
    document["payload"]["rows"]["removed"] = 0
    receipt.write_text(json.dumps(document, indent=2))

    error = refused(str(receipt), "--keys", str(keys))

    assert error.returncode == 1
    assert str(error).startswith("NOT VERIFIED: the signature does not match")
    assert "changed after it was signed" in str(error)


def test_a_receipt_signed_by_another_key_is_not_verified(receipt, keys):
    document = json.loads(receipt.read_text())
    forged = sign_receipt(document["payload"], generate_private_key())
    receipt.write_text(json.dumps(forged))

    error = refused(str(receipt), "--keys", str(keys))

    assert error.returncode == 1
    assert f"signed with key {forged['key_id']}, which is not among" in str(error)


def test_keys_of_another_registry_do_not_vouch_for_this_one(receipt, keys):
    document = json.loads(keys.read_text())
    document["registry"]["id"] = "00000000-0000-4000-8000-000000000000"
    keys.write_text(json.dumps(document))

    error = refused(str(receipt), "--keys", str(keys))

    assert error.returncode == 1
    assert "but the keys are registry 00000000-0000-4000-8000-000000000000's" in str(
        error
    )


def test_a_file_the_receipt_does_not_list_exits_3(receipt, filtered, tmp_path):
    other = tmp_path / "other.parquet"
    other.write_bytes(filtered.read_bytes() + b"\n")

    out = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command(
            "verify_receipt",
            str(receipt),
            "--files",
            str(filtered),
            str(other),
            stdout=out,
        )

    assert raised.value.returncode == 3
    assert str(raised.value) == (
        "1 of 2 files not listed in the receipt: not the files this check wrote"
    )
    assert f"NOT LISTED  {other} " in out.getvalue()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{", "not verified: the receipt is not JSON"),
        (b"\xff\xfe", "not verified: the receipt is not UTF-8 text"),
        (b'{"payload": {}}', "not verified: algorithm is None; only Ed25519 is used"),
    ],
)
def test_what_is_not_a_receipt_exits_2(tmp_path, db, content, message):
    path = tmp_path / "receipt.json"
    path.write_bytes(content)

    error = refused(str(path))

    assert error.returncode == 2
    assert str(error).startswith(message)


def test_missing_files_and_bad_keys_files_exit_2(receipt, tmp_path):
    error = refused(str(tmp_path / "nope.json"))
    assert error.returncode == 2
    assert "cannot read the receipt" in str(error)

    error = refused(str(receipt), "--files", str(tmp_path / "nope.parquet"))
    assert (error.returncode, str(error)) == (
        2,
        f"{tmp_path / 'nope.parquet'}: no such file",
    )

    bad = tmp_path / "keys.json"
    bad.write_text('{"keys": [{"public_key": "AAAA"}]}')
    error = refused(str(receipt), "--keys", str(bad))
    assert error.returncode == 2
    assert (
        str(error)
        == f"{bad}: keys[0]: base64 of 3 bytes; an Ed25519 public key is 32 bytes"
    )
