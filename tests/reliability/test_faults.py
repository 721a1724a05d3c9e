"""Drills: storage full and the database down. The answer says which part is
gone (507, 503 with Retry-After; JSON under /api/, a page elsewhere), never an
HTML 500, and nothing half-written stays.

Storage full is a real filesystem of 1 MB (tmpfs, mounted by the test: it
needs root, as CI and the development machine have; elsewhere, outside CI,
the test is skipped). The database down is the real driver failing to reach
a PostgreSQL port where nothing listens (on SQLite, whose test database lives
in memory and would be lost with its connection, it is skipped; CI runs on
PostgreSQL).
"""

from __future__ import annotations

import io
import os
import random
import socket
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from PIL import Image as PILImage

from registry.models import Image, Work
from tests.conftest import client_for

IN_CI = bool(os.environ.get("CI"))


def noise_png(seed: int, side: int = 260) -> bytes:
    rng = random.Random(seed)
    image = PILImage.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def small_disk(tmp_path: Path):
    mount = tmp_path / "media"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        if IN_CI:
            pytest.fail(f"cannot mount a small filesystem: {done.stderr}")
        pytest.skip(f"mounting a filesystem needs root: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


@pytest.mark.django_db
def test_a_full_disk_is_a_507_and_keeps_nothing_half_written(
    small_disk, settings, artist, holder
):
    settings.MEDIA_ROOT = str(small_disk)
    images = [noise_png(i) for i in range(3)]
    # Leave room for one image, not two.
    filler = small_disk / "filler"
    free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
    filler.write_bytes(b"\0" * (free - int(len(images[0]) * 1.5)))

    response = client_for(artist).post(
        "/api/v1/portfolio/",
        {"files": [SimpleUploadedFile(f"a{i}.png", d) for i, d in enumerate(images)]},
        format="multipart",
    )

    assert response.status_code == 507
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "storage_full"
    assert "storage is full" in response.json()["message"]
    assert not Image.objects.exists() and not Work.objects.exists()
    # The image that fitted was removed again.
    assert files_under(small_disk) == [filler]


@pytest.mark.django_db
def test_the_page_says_so_in_words(small_disk, settings, client, artist, holder):
    settings.MEDIA_ROOT = str(small_disk)
    (small_disk / "filler").write_bytes(b"\0" * (1024 * 1024 - 4096))
    client.force_login(artist)
    response = client.post(
        "/upload/", {"files": [SimpleUploadedFile("a.png", noise_png(1))]}
    )
    assert response.status_code == 507
    assert "The registry&#x27;s storage is full" in response.content.decode()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.django_db(transaction=True)
def test_the_database_down_is_a_503_with_retry_after(client, artist):
    if connection.vendor != "postgresql":
        if IN_CI:
            pytest.fail("CI runs this drill on PostgreSQL")
        pytest.skip("the SQLite test database lives in memory")
    api = client_for(artist)
    client.force_login(artist)
    # Django's test client re-raises what a request logged as an error; a
    # real client gets the answer, which is what this drill checks.
    api.raise_request_exception = client.raise_request_exception = False
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict["PORT"] = _closed_port()
    connection.settings_dict["HOST"] = "127.0.0.1"
    try:
        answer = api.get("/api/v1/works/")
        page = client.get("/works/")
    finally:
        connection.close()
        connection.settings_dict.update(saved)
    assert answer.status_code == 503
    assert answer["Content-Type"] == "application/json"
    assert answer["Retry-After"] == "30"
    assert answer.json()["code"] == "database_unavailable"
    assert page.status_code == 503
    assert "The database is unavailable" in page.content.decode()
    assert settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
