"""End to end: a LAION-style Parquet manifest through the API to a finished job.

Starts gunicorn and two Celery worker processes against PostgreSQL and Redis,
registers URL claims and style names, uploads a generated Parquet manifest
through POST /api/v1/manifests/, and times it until the job has succeeded
(report and filtered manifest written). The baseline, in the same run, is the
engine alone in one process on the same file: read, normalize, look up.

    .venv/bin/python bench/e2e.py --rows 1000000 --repeat 3

Needs PostgreSQL (database `bench`, created if missing) and Redis (db 14).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_manifest(path: Path, rows: int, claimed_every: int) -> list[str]:
    hosts = [f"cdn{i}.example-images.com" for i in range(200)]
    urls = [
        f"https://{hosts[i % 200]}/photos/{i // 7}/IMG_{i:08d}.jpg?w=512"
        for i in range(rows)
    ]
    captions = [f"a photo of item {i} on a table, high quality" for i in range(rows)]
    table = pa.table(
        {
            "URL": urls,
            "TEXT": captions,
            "WIDTH": pa.array([512] * rows, pa.int32()),
            "HEIGHT": pa.array([512] * rows, pa.int32()),
            "similarity": pa.array([0.3] * rows, pa.float32()),
        }
    )
    pq.write_table(table, path, row_group_size=100_000)
    return urls[::claimed_every]


def engine_baseline(path: Path, claims: list[str]) -> float:
    """Read, normalize and look up in one process: the floor for the pipeline."""
    from workers.engine.types import RowBatch  # noqa: F401
    from workers.engine.urlindex import UrlIndex
    from workers.engine.urls import normalize_url

    index = UrlIndex.build(
        urls=[(i, normalize_url(u).href) for i, u in enumerate(claims)],
        prefixes=[],
        domains=[],
    )
    start = time.perf_counter()
    urls = pq.read_table(path, columns=["URL"]).column("URL").to_pylist()
    index.match(urls, 0)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--claimed-every", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    env = {
        **os.environ,
        "DEBUG": "true",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/bench",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/14",
        "MEDIA_ROOT": str(work / "media"),
        "SEGMENT_STORE_URL": f"file://{work / 'segments'}",
        "SEGMENT_CACHE_DIR": str(work / "segment-cache"),
        "WORK_ROOT": str(work / "tmp"),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
    }
    subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-c",
            "DROP DATABASE IF EXISTS bench",
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", "CREATE DATABASE bench"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["redis-cli", "-n", "14", "flushdb"], check=True, capture_output=True
    )
    py = sys.executable
    subprocess.run(
        [py, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True
    )

    manifest = work / "laion.parquet"
    claimed = make_manifest(manifest, args.rows, args.claimed_every)
    setup = """
import django, os
django.setup()
from accounts import services as accounts
from registry import services
u = accounts.user_signup(username="artist", email="a@x.org", password="pw-pw-pw-12",
    is_artist=True, is_curator=True)
from registry.models import Claim
from workers.engine.urls import normalize_url
import sys
urls = open(sys.argv[1]).read().split()
Claim.objects.bulk_create(Claim(owner=u.rights_holder, kind="url", value=x,
    normalized=normalize_url(x).href, state="active") for x in urls)
services.registry_revision_bump(reason="bench", rebuild=True)
_, key = accounts.api_token_create(user=u, name="bench")
print(key)
"""
    (work / "claims.txt").write_text("\n".join(claimed))
    key = (
        subprocess.run(
            [py, "-c", setup, str(work / "claims.txt")],
            cwd=ROOT,
            env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )

    procs = [
        subprocess.Popen(
            [
                py,
                "-m",
                "gunicorn",
                "config.wsgi:application",
                "-b",
                f"127.0.0.1:{args.port}",
                "-w",
                "1",
                "--timeout",
                "300",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    ]
    for n in range(args.workers):
        procs.append(
            subprocess.Popen(
                [
                    py,
                    "-m",
                    "celery",
                    "-A",
                    "config",
                    "worker",
                    "-Q",
                    "ingest,match,celery",
                    "-c",
                    "1",
                    "--without-mingle",
                    "--without-gossip",
                    "--hostname",
                    f"bench{n}@%h",
                    "-l",
                    "WARNING",
                ],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
    base = f"http://127.0.0.1:{args.port}"
    headers = {"Authorization": f"Token {key}"}
    try:
        for _ in range(100):
            try:
                requests.get(base + "/healthz", timeout=5)
                break
            except requests.RequestException:
                time.sleep(0.2)
        times = []
        for attempt in range(args.repeat):
            start = time.perf_counter()
            with open(manifest, "rb") as fh:
                r = requests.post(
                    base + "/api/v1/manifests/",
                    headers=headers,
                    files={"files": ("laion.parquet", fh)},
                    timeout=300,
                )
            r.raise_for_status()
            job_id = r.json()["job"]["id"]
            uploaded = time.perf_counter() - start
            while True:
                job = requests.get(
                    f"{base}/api/v1/jobs/{job_id}/", headers=headers, timeout=30
                ).json()
                if job["state"] in ("succeeded", "failed", "cancelled"):
                    break
                time.sleep(0.1)
            total = time.perf_counter() - start
            assert job["state"] == "succeeded", job
            assert job["counts"].get("url") == len(claimed), job["counts"]
            times.append(total)
            print(
                f"run {attempt + 1}: upload {uploaded:.2f} s, total {total:.2f} s, "
                f"{args.rows / total:,.0f} rows/s"
            )
        baseline = [engine_baseline(manifest, claimed) for _ in range(args.repeat)]
        ours, floor = statistics.median(times), statistics.median(baseline)
        print()
        print("| measure | seconds (median) | rows/s | ratio ours/baseline |")
        print("| --- | --- | --- | --- |")
        print(
            f"| end to end, API + {args.workers} workers | {ours:.2f} | "
            f"{args.rows / ours:,.0f} | {ours / floor:.2f} |"
        )
        print(
            f"| baseline: engine alone, one process | {floor:.2f} | "
            f"{args.rows / floor:,.0f} | 1.00 |"
        )
        print(
            f"goal: at most 20 s for 1,000,000 rows -> "
            f"{'met' if ours * 1_000_000 / args.rows <= 20 else 'NOT met'}"
        )
    finally:
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in procs:
            p.wait(timeout=60)


if __name__ == "__main__":
    main()
