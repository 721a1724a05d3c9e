"""scripts/verify_receipt.py: the stand-alone check an auditor runs with only
Python and `cryptography`, as the README prints it."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from optout.models import MatchJob
from optout.selectors import receipt_keys_document
from workers.engine.receipts import generate_private_key, sign_receipt

from .helpers import run_job, start_job

ROOT = Path(settings.BASE_DIR)
SCRIPT = ROOT / "scripts" / "verify_receipt.py"


@pytest.fixture
def job(curator, registry) -> MatchJob:
    return run_job(start_job(curator))


@pytest.fixture
def auditor(job, tmp_path: Path) -> dict[str, Path]:
    """What an auditor holds: the receipt, the saved keys, the filtered file."""
    files = {
        "receipt": tmp_path / "receipt.json",
        "keys": tmp_path / "dnt-registry-keys.json",
        "filtered": tmp_path / "filtered.parquet",
    }
    files["receipt"].write_bytes(job.outputs.get(kind="receipt").file.read())
    files["keys"].write_text(json.dumps(receipt_keys_document()))
    files["filtered"].write_bytes(job.outputs.get(kind="filtered").file.read())
    return files


def run(*args: Path) -> subprocess.CompletedProcess[str]:
    # -I: isolated, so nothing of this project is importable by accident.
    return subprocess.run(
        [sys.executable, "-I", str(SCRIPT), *map(str, args)],
        capture_output=True,
        text=True,
        cwd="/",
        timeout=60,
    )


def test_it_verifies_a_jobs_receipt_and_its_filtered_file(auditor, job):
    result = run(auditor["receipt"], auditor["keys"], auditor["filtered"])

    name = job.outputs.get(kind="filtered").name
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"Signature OK: key {job.receipt['key_id']} (active)",
        f"{auditor['filtered']}: is {name}",
    ]


def test_it_refuses_a_changed_receipt(auditor):
    document = json.loads(auditor["receipt"].read_text())
    document["payload"]["rows"]["removed"] -= 1
    auditor["receipt"].write_text(json.dumps(document, indent=2))

    result = run(auditor["receipt"], auditor["keys"])

    assert result.returncode == 1
    assert result.stderr.strip() == (
        "NOT VERIFIED: the receipt was changed, or another key signed it"
    )


def test_it_refuses_a_receipt_signed_by_a_key_not_in_the_keys_file(auditor):
    document = json.loads(auditor["receipt"].read_text())
    forged = sign_receipt(document["payload"], generate_private_key())
    auditor["receipt"].write_text(json.dumps(forged))

    result = run(auditor["receipt"], auditor["keys"])

    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"NOT VERIFIED: key {forged['key_id']} is not in {auditor['keys']}"
    )


def test_a_file_the_receipt_does_not_list_exits_3(auditor, tmp_path):
    other = tmp_path / "other.parquet"
    other.write_bytes(b"not the filtered file")

    result = run(auditor["receipt"], auditor["keys"], auditor["filtered"], other)

    assert result.returncode == 3
    assert result.stdout.splitlines()[-1] == f"{other}: NOT LISTED"


def test_it_imports_nothing_but_the_standard_library_and_cryptography():
    tree = ast.parse(SCRIPT.read_text())
    modules = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
    }

    assert modules - sys.stdlib_module_names == {"cryptography"}


def test_it_is_about_twenty_lines_and_the_readme_prints_it_whole():
    text = SCRIPT.read_text()
    code = text.split('"""', 2)[2].strip()
    lines = [line for line in code.splitlines() if line and not line.startswith("#")]

    assert len(lines) <= 30
    assert code in (ROOT / "README.md").read_text()
