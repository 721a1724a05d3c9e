"""manage.py fingerprint: local hashes (the StopNCII model), no database."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from PIL import Image

from tests.images import image_bytes, truncated_png
from workers.engine import descriptor
from workers.engine.fingerprint import fingerprint_bytes

# No django_db mark: pytest-django fails any test here that touches the database.


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("fingerprint", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def expected(data: bytes) -> dict[str, str | int]:
    prints = fingerprint_bytes(data, descriptors=True).fingerprints
    return {
        **prints.as_hex(),
        "descriptor": descriptor.to_text(prints.descriptors),
        "descriptor_version": prints.descriptor_version,
    }


@pytest.fixture
def art(tmp_path: Path) -> Path:
    (tmp_path / "a.png").write_bytes(image_bytes(1))
    (tmp_path / "b.jpg").write_bytes(image_bytes(2, "JPEG"))
    return tmp_path


def test_it_prints_the_hashes_the_engine_computes(art):
    out, err = run(str(art / "a.png"))
    want = expected(image_bytes(1))
    assert out == (
        f"{art / 'a.png'}\n"
        f"  sha256              {want['sha256']}\n"
        f"  md5                 {want['md5']}\n"
        f"  phash               {want['phash']}\n"
        f"  pdq                 {want['pdq']}\n"
        f"  pdq_quality         {want['pdq_quality']}\n"
        f"  descriptor_version  {descriptor.version()}\n"
        f"  descriptor          {want['descriptor']}\n"
        f"  size                320x240 PNG, {len(image_bytes(1))} bytes\n"
        "\n"
    )
    assert err == ""
    assert len(want["phash"]) == 16 and len(want["pdq"]) == 64


def test_the_descriptor_is_every_region_of_the_engines_model_in_base64(art):
    out, _ = run("--json", str(art / "a.png"))
    record = json.loads(out)

    assert record["descriptor_version"] == descriptor.version()
    packed = base64.b64decode(record["descriptor"], validate=True)
    vectors = descriptor.unpack(packed, descriptor.model().info.dim)
    want = descriptor.model().regions(Image.open(art / "a.png").convert("RGB"))
    assert vectors.shape == (len(descriptor.REGIONS), 256)
    assert abs(vectors - want).max() < 2e-3  # float16


def test_json_prints_one_object_per_file_per_line(art):
    out, _ = run("--json", str(art / "a.png"), str(art / "b.jpg"))
    lines = out.splitlines()
    assert len(lines) == 2
    for line, (name, data) in zip(
        lines,
        [("a.png", image_bytes(1)), ("b.jpg", image_bytes(2, "JPEG"))],
        strict=True,
    ):
        record = json.loads(line)
        assert record == {
            "file": str(art / name),
            **expected(data),
            "bytes": len(data),
        }


def test_a_directory_is_walked_for_its_image_files(art):
    (art / "sketches").mkdir()
    (art / "sketches" / "c.webp").write_bytes(image_bytes(3, "WEBP"))
    (art / "notes.txt").write_text("not an image")
    (art / ".hidden.png").write_bytes(image_bytes(4))

    out, err = run("--json", str(art))

    files = [json.loads(line)["file"] for line in out.splitlines()]
    assert files == [
        str(art / "a.png"),
        str(art / "b.jpg"),
        str(art / "sketches" / "c.webp"),
    ]
    assert (
        json.loads(out.splitlines()[2])["sha256"]
        == expected(image_bytes(3, "WEBP"))["sha256"]
    )
    assert err == ""


def test_bad_files_are_named_on_stderr_after_the_good_ones_are_done(art):
    (art / "broken.png").write_bytes(truncated_png(5))
    (art / "notes.txt").write_text("not an image")
    out, err = io.StringIO(), io.StringIO()

    with pytest.raises(CommandError) as excinfo:
        call_command(
            "fingerprint",
            "--json",
            str(art / "broken.png"),
            str(art / "missing.png"),
            str(art / "notes.txt"),
            str(art / "a.png"),
            stdout=out,
            stderr=err,
        )

    assert str(excinfo.value) == "3 of 4 files could not be fingerprinted"
    assert [json.loads(line)["file"] for line in out.getvalue().splitlines()] == [
        str(art / "a.png")
    ]
    assert err.getvalue().splitlines() == [
        f"error: {art / 'broken.png'}: the image file is truncated",
        f"error: {art / 'missing.png'}: No such file or directory",
        f"error: {art / 'notes.txt'}: not an image (unrecognised file format)",
    ]


def test_a_directory_without_images_is_an_error(tmp_path):
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(CommandError, match="no image files found"):
        run(str(tmp_path))


def test_a_flat_image_is_flagged_as_low_pdq_quality(tmp_path):
    path = tmp_path / "flat.png"
    Image.new("RGB", (200, 200), (120, 30, 200)).save(path)
    want = expected(path.read_bytes())
    assert want["pdq_quality"] < settings.PDQ_LOW_QUALITY

    out, _ = run(str(path))

    assert (
        f"  pdq_quality         {want['pdq_quality']} "
        "(low: PDQ matches this image poorly)"
    ) in out.splitlines()


def test_it_runs_from_the_shell_without_a_database(art):
    (art / "broken.png").write_bytes(truncated_png(5))
    env = {
        **os.environ,
        # Nothing listens here: any query would fail the command.
        "DATABASE_URL": "postgres://nobody@127.0.0.1:9/nothing",
    }
    proc = subprocess.run(
        [sys.executable, "manage.py", "fingerprint", "--json", str(art)],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert [json.loads(line)["sha256"] for line in proc.stdout.splitlines()] == [
        expected(image_bytes(1))["sha256"],
        expected(image_bytes(2, "JPEG"))["sha256"],
    ]
    assert proc.stderr.splitlines() == [
        f"error: {art / 'broken.png'}: the image file is truncated",
        "CommandError: 1 of 3 files could not be fingerprinted",
    ]
