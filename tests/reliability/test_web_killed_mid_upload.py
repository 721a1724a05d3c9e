"""Drill: the web server killed (SIGKILL) in the middle of a manifest upload.

A real gunicorn, as production runs it, on the test database; the manifest
(larger than FILE_UPLOAD_MAX_MEMORY_SIZE, so Django spools it to a temporary
file) is sent slowly over a socket, and gunicorn, master and worker, is
killed once the temporary file exists. Nothing of the upload may be kept but
that temporary file, which the upload-temp sweep deletes once old enough; a
restarted server accepts the same upload.
"""

from __future__ import annotations

import http.client
import io
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from accounts.services import api_token_create
from optout.models import Manifest, MatchJob
from optout.tasks import upload_temp_sweep
from tests.reliability.processes import (
    ROOT,
    broker_env,
    shared_database_url,
    stop,
    wait_for,
)

pytestmark = pytest.mark.django_db(transaction=True)

BOUNDARY = "drill-boundary-7c1f"


def manifest_bytes() -> bytes:
    """A LAION-style Parquet file of about 5 MB: random URLs do not compress."""
    rng = random.Random(17)
    rows = 100_000
    urls = [
        f"https://img.example/{rng.randbytes(24).hex()}/{i}.jpg" for i in range(rows)
    ]
    out = io.BytesIO()
    pq.write_table(pa.table({"URL": urls, "TEXT": ["a photo"] * rows}), out)
    return out.getvalue()


def multipart(data: bytes) -> tuple[bytes, bytes]:
    head = (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="files"; filename="laion.parquet"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return head + data, f"\r\n--{BOUNDARY}--\r\n".encode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_web(tmp_path: Path, port: int, env: dict[str, str]):
    log = open(tmp_path / f"web-{port}.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            f"--bind=127.0.0.1:{port}",
            "--workers=1",
        ],
        cwd=ROOT,
        env={**os.environ, **broker_env(), **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def answers() -> bool:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            return conn.getresponse().status == 200
        except OSError:
            return False

    wait_for(answers, 30, "gunicorn to answer /healthz")
    return proc


def temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith("tmp")]


def test_a_web_process_killed_mid_upload_keeps_nothing_but_a_swept_temp_file(
    tmp_path, curator, settings
):
    _, token = api_token_create(user=curator, name="drill")
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    media = Path(settings.MEDIA_ROOT)
    env = {
        "DATABASE_URL": shared_database_url(),
        "MEDIA_ROOT": str(media),
        "WORK_ROOT": str(tmp_path / "work"),
        "FILE_UPLOAD_TEMP_DIR": str(uploads),
    }
    data = manifest_bytes()
    assert len(data) > settings.FILE_UPLOAD_MAX_MEMORY_SIZE + (1 << 20)
    body, tail = multipart(data)
    headers = (
        "POST /api/v1/manifests/ HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\n"
        f"Authorization: Token {token}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {len(body) + len(tail)}\r\n\r\n"
    ).encode()

    port = _free_port()
    web = start_web(tmp_path, port, env)
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(headers)
        sent = 0
        # Past the in-memory limit, then slowly, until Django spools to disk.
        while not temp_files(uploads):
            assert sent < len(body), "the whole body went without a temp file"
            piece = body[sent : sent + 256 * 1024]
            sock.sendall(piece)
            sent += len(piece)
            time.sleep(0.02 if sent > settings.FILE_UPLOAD_MAX_MEMORY_SIZE else 0)
        time.sleep(0.2)  # what was sent so far reaches the file
        stop(web, signal.SIGKILL)  # master and worker, as a host dying would
        sock.close()
    finally:
        stop(web, signal.SIGKILL)

    assert sent < len(body)  # killed mid-body
    left = temp_files(uploads)
    assert len(left) == 1
    size = left[0].stat().st_size
    print(f"\nkilled after {sent:,} of {len(body):,} bytes; temp file {size:,} bytes")
    assert 0 < size <= sent
    assert not Manifest.objects.exists() and not MatchJob.objects.exists()
    assert [p for p in media.rglob("*") if p.is_file()] == []

    # The sweep, as beat runs it: a fresh file stays, an old one goes.
    settings.FILE_UPLOAD_TEMP_DIR = str(uploads)
    assert upload_temp_sweep() == 0
    old = time.time() - settings.UPLOAD_TEMP_MAX_AGE_SECONDS - 60
    os.utime(left[0], (old, old))
    assert upload_temp_sweep() == 1
    assert temp_files(uploads) == []

    # A restarted server takes the same upload, and keeps no temp file of it.
    web = start_web(tmp_path, port, env)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request(
            "POST",
            "/api/v1/manifests/",
            body=body + tail,
            headers={
                "Authorization": f"Token {token}",
                "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            },
        )
        answer = conn.getresponse()
        assert answer.status == 201, answer.read()[:500]
    finally:
        stop(web)
    assert Manifest.objects.count() == 1 and MatchJob.objects.count() == 1
    assert temp_files(uploads) == []
