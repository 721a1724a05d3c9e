"""Drill: PostgreSQL restarted while a match job runs.

A throw-away cluster of its own (Debian's initdb and pg_ctl, on a spare port,
in a temporary folder): the shared server is never touched. Everything that
talks to it is another process, as in production: `manage.py migrate` and
`manage.py shell` set it up and start the job, a real Celery worker runs it,
and this test reads the tables with psycopg. The cluster is stopped mid-job
(fast shutdown: every connection cut), kept down 3 s, and started again; the
job must finish with every match once and no chunk stuck.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.reliability.processes import (
    IN_CI,
    ROOT,
    broker_env,
    start_worker,
    stop,
    wait_for,
)

pytestmark = pytest.mark.worker

BIN = Path("/usr/lib/postgresql/15/bin")
ROWS = 160_000
CHUNK_ROWS = 5_000  # 32 chunks, a fraction of a second each
CLAIM_EVERY = 97
DOWN_SECONDS = 3
# A chunk cut off mid-way keeps its lease (its put-back cannot reach the
# database); its task's retry, in the same process, takes it back at once.
# Long here, so a finish that waited for the lease to run out would show.
LEASE_SECONDS = 30


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cluster:
    folder: Path
    port: int
    as_user: list[str]

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/drill"

    def pg_ctl(self, *args: str) -> None:
        subprocess.run(
            [
                *self.as_user,
                str(BIN / "pg_ctl"),
                "-D",
                str(self.folder / "data"),
                "-l",
                str(self.folder / "log"),
                "-w",
                "-o",
                f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
                "-c fsync=off",
                *args,
            ],
            check=True,
            capture_output=True,
        )

    def query(self, sql: str, *params: object) -> list[tuple]:
        with psycopg.connect(self.url, connect_timeout=3) as conn:
            return conn.execute(sql, params).fetchall()


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    if not (BIN / "initdb").exists():
        if IN_CI:
            pytest.fail(f"{BIN}/initdb is missing (postgresql-15)")
        pytest.skip(f"needs PostgreSQL 15's binaries in {BIN}")
    # initdb refuses root: run the cluster as the postgres user, in a folder
    # it can reach (pytest's tmp_path is private to root).
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    folder = Path(tempfile.mkdtemp(prefix="pgdrill-"))
    if as_user:
        shutil.chown(folder, "postgres")
    subprocess.run(
        [
            *as_user,
            str(BIN / "initdb"),
            "-D",
            str(folder / "data"),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
    )
    pg = Cluster(folder=folder, port=_free_port(), as_user=as_user)
    pg.pg_ctl("start")
    try:
        with psycopg.connect(
            f"postgres://postgres@127.0.0.1:{pg.port}/postgres", autocommit=True
        ) as conn:
            conn.execute("CREATE DATABASE drill")
        yield pg
    finally:
        try:
            pg.pg_ctl("-m", "immediate", "stop")
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def make_job(folder: str) -> int:
    """Claims, a manifest and a started match job; run by `manage.py shell`
    against the throw-away cluster. Returns the job's id."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from django.core.files.uploadedfile import SimpleUploadedFile

    from accounts.services import user_signup
    from optout.services import manifest_upload, match_job_start
    from registry.models import Claim
    from registry.services import registry_revision_bump
    from tests.conftest import make_artist

    holder = make_artist("alice").rights_holder
    curator = user_signup(
        username="carol",
        email="carol@example.com",
        password="correct horse battery",
        is_artist=False,
        is_curator=True,
    )
    Claim.objects.bulk_create(
        Claim(
            owner=holder,
            kind="url",
            value=f"https://img.example/{i}.jpg",
            normalized=f"https://img.example/{i}.jpg",
            state="active",
        )
        for i in range(0, ROWS, CLAIM_EVERY)
    )
    registry_revision_bump(reason="drill claims", rebuild=True)  # bulk: no signals
    table = pa.table(
        {
            "URL": [f"https://img.example/{i}.jpg" for i in range(ROWS)],
            "TEXT": [f"photo {i}" for i in range(ROWS)],
        }
    )
    path = Path(folder) / "laion.parquet"
    pq.write_table(table, path, row_group_size=CHUNK_ROWS)
    upload = SimpleUploadedFile("laion.parquet", path.read_bytes())
    manifest = manifest_upload(owner=curator, files=[upload])
    return match_job_start(manifest=manifest, owner=curator).pk


def test_a_job_survives_postgresql_restarted_mid_job(cluster, tmp_path):
    env = {
        "DATABASE_URL": cluster.url,
        "MEDIA_ROOT": str(tmp_path / "media"),
        "WORK_ROOT": str(tmp_path / "work"),
        "RECEIPT_KEY_DIR": str(tmp_path / "keys"),
        "MATCH_CHUNK_ROWS": str(CHUNK_ROWS),
        "MATCH_LEASE_SECONDS": str(LEASE_SECONDS),
        "MATCH_REQUEUE_SECONDS": "4",
        "MATCH_SWEEP_SECONDS": "1",
    }
    child_env = {**os.environ, **broker_env(), **env}
    manage = [sys.executable, "manage.py"]
    subprocess.run(
        [*manage, "migrate", "--noinput"],
        cwd=ROOT,
        env=child_env,
        check=True,
        capture_output=True,
    )
    started = subprocess.run(
        [
            *manage,
            "shell",
            "-c",
            "from tests.reliability.test_postgres_restart import make_job; "
            f"print(make_job({str(tmp_path)!r}))",
        ],
        cwd=ROOT,
        env=child_env,
        capture_output=True,
        text=True,
    )
    assert started.returncode == 0, started.stderr
    job_id = int(started.stdout.split()[-1])
    expected = len(range(0, ROWS, CLAIM_EVERY))

    def chunks_done() -> int:
        return cluster.query(
            "SELECT count(*) FROM optout_chunk WHERE job_id = %s AND state = 'done'",
            job_id,
        )[0][0]

    worker = start_worker(tmp_path, "worker", queues="ingest,match,celery", env=env)
    try:
        wait_for(
            lambda: (
                chunks_done() >= 5
                and cluster.query(
                    "SELECT 1 FROM optout_chunk WHERE job_id = %s AND state = 'leased'",
                    job_id,
                )
            ),
            120,
            "the job to be under way, a chunk leased",
            0.05,
        )
        cluster.pg_ctl("-m", "fast", "stop")  # every connection cut mid-chunk
        time.sleep(DOWN_SECONDS)
        cluster.pg_ctl("start")
        back = time.monotonic()
        # Nothing was written while it was down: the first count is the base.
        before = chunks_done()
        total = cluster.query(
            "SELECT chunks_total FROM optout_matchjob WHERE id = %s", job_id
        )[0][0]
        assert before < total, "the job ended before the restart; make it longer"

        wait_for(lambda: chunks_done() > before, 60, "a chunk done after the restart")
        recovery = time.monotonic() - back
        print(f"\nPostgreSQL back -> the job progressing again: {recovery:.1f} s")
        wait_for(
            lambda: (
                cluster.query(
                    "SELECT state FROM optout_matchjob WHERE id = %s", job_id
                )[0][0]
                in ("succeeded", "failed", "cancelled")
            ),
            120,
            "the job to finish after the restart",
        )
        finished = time.monotonic() - back
        print(f"PostgreSQL back -> the job finished: {finished:.1f} s")
    finally:
        stop(worker)

    state, reason, rows_done, counts = cluster.query(
        "SELECT state, failure_reason, rows_done, counts FROM optout_matchjob "
        "WHERE id = %s",
        job_id,
    )[0]
    assert state == "succeeded", (state, reason)
    assert rows_done == ROWS
    assert counts == {"url": expected}
    assert cluster.query(
        "SELECT state, count(*) FROM optout_chunk WHERE job_id = %s GROUP BY state",
        job_id,
    ) == [("done", total)]
    doubled = cluster.query(
        "SELECT row, count(*) FROM optout_match WHERE job_id = %s "
        "GROUP BY row, kind, claim_id HAVING count(*) > 1",
        job_id,
    )
    assert doubled == []
    assert cluster.query(
        "SELECT count(*) FROM optout_match WHERE job_id = %s", job_id
    ) == [(expected,)]
    retried = cluster.query(
        "SELECT count(*) FROM optout_chunk WHERE job_id = %s AND attempts > 1", job_id
    )[0][0]
    print(f"chunks leased again after the restart: {retried}")
    # The premise: the restart cut a chunk's task off, which retried.
    log = (tmp_path / "worker.log").read_text()
    assert re.search(r"optout\.match_chunk\[.*\] retry: .*OperationalError", log)
    assert recovery < 20
    # A chunk cut off mid-way cannot be put back while the database is down;
    # the retry takes its own lease back instead of waiting LEASE_SECONDS.
    assert finished < 20
