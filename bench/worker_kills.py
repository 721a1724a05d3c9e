"""A 1,000-chunk job with workers SIGKILLed 20 times, against the same job
undisturbed (the baseline, in the same run).

A registry of 1,000,000 URL claims; a Parquet manifest of 1,000,000 rows in
1,000 row groups (one chunk each), every 50th row claimed (20,000 matches).
Two Celery workers (one pool process each, queues ingest,match,celery, one
with the embedded beat) on PostgreSQL and Redis, with the production
defaults for leases and sweeps (MATCH_LEASE_SECONDS 10, MATCH_SWEEP_SECONDS
5). The disturbed run kills, at even intervals while it matches, alternately
the pool process holding a chunk (as the OOM killer does: the worker replaces
it) and a whole worker (main process and pool: a lost machine; restarted at
once, as a supervisor would). For each kill it measures the time until the
killed chunk is leased again; at the end it checks every match is stored
once, and counts the messages Redis still holds unacknowledged, then again
after the visibility timeout.

    .venv/bin/python bench/worker_kills.py              # 1,000 chunks, 20 kills
    .venv/bin/python bench/worker_kills.py --rows 200000 --kills 6   # quicker

Needs PostgreSQL (database `bench_kills`, dropped and created) and Redis
(db 9, flushed).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pg import psql  # noqa: E402

DB = "bench_kills"
REDIS_DB = 9


class Workers:
    def __init__(self, n: int, work: Path, env: dict[str, str]) -> None:
        self.env = env
        self.work = work
        self.procs: list[subprocess.Popen[bytes]] = [self.start(i) for i in range(n)]

    def start(self, i: int) -> subprocess.Popen[bytes]:
        args = [
            sys.executable,
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
            f"kills{i}@%h",
            "-l",
            "INFO",
        ]
        if i == 0:
            args += ["--beat", "--schedule", str(self.work / "beat-0")]
        log = open(self.work / f"worker-{i}.log", "ab")  # noqa: SIM115
        return subprocess.Popen(
            args,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def pool_pids(self, i: int) -> set[str]:
        found = set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[1] == str(self.procs[i].pid):
                found.add(stat.parent.name)
        return found

    def kill_whole(self, i: int) -> None:
        os.killpg(self.procs[i].pid, signal.SIGKILL)
        self.procs[i].wait()
        self.procs[i] = self.start(i)

    def stop(self) -> None:
        for p in self.procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in self.procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)


def unacked() -> int:
    import redis

    return redis.Redis(db=REDIS_DB).hlen("unacked")


def run_job(manifest, owner, workers: Workers, kills: int, every: float) -> dict:
    """Start a job; kill `kills` times, `every` seconds apart once chunks run."""
    from optout.models import Chunk, MatchJob
    from optout.services import match_job_start

    rng = random.Random(17)
    job = match_job_start(manifest=manifest, owner=owner)
    start = time.perf_counter()
    watching: list[tuple[int, int, str, float, str]] = []
    recoveries: list[tuple[str, float]] = []
    next_kill = None
    done_kills = 0
    while True:
        now = time.perf_counter()
        state = MatchJob.objects.filter(pk=job.pk).values_list("state", flat=True)[0]
        if state in MatchJob.FINAL_STATES:
            break
        if next_kill is None and Chunk.objects.filter(job=job, state="done").exists():
            next_kill = now + every
        if next_kill is not None and done_kills < kills and now >= next_kill:
            kind = "pool process" if done_kills % 2 == 0 else "whole worker"
            i = rng.randrange(len(workers.procs))
            pids = workers.pool_pids(i)
            held = [
                c
                for c in Chunk.objects.filter(job=job, state="leased")
                if c.lease_holder.rpartition(":")[2] in pids
            ]
            if held:
                chunk = held[0]
                if kind == "pool process":
                    os.kill(int(chunk.lease_holder.rpartition(":")[2]), signal.SIGKILL)
                else:
                    workers.kill_whole(i)
                watching.append(
                    (
                        chunk.pk,
                        chunk.attempts,
                        chunk.lease_holder,
                        time.perf_counter(),
                        kind,
                    )
                )
                done_kills += 1
                next_kill = time.perf_counter() + every
        for item in list(watching):
            pk, attempts, holder, killed_at, kind = item
            c = Chunk.objects.get(pk=pk)
            if c.state == "done" or (
                c.attempts > attempts and c.lease_holder != holder
            ):
                recoveries.append((kind, time.perf_counter() - killed_at))
                watching.remove(item)
        time.sleep(0.05)
    total = time.perf_counter() - start
    job.refresh_from_db()
    return {"job": job, "seconds": total, "kills": done_kills, "recoveries": recoveries}


def check(job, expected: int) -> str:
    from django.db.models import Count

    from optout.models import Match

    assert job.state == "succeeded", (job.state, job.failure_reason)
    doubled = (
        Match.objects.filter(job=job)
        .values("row", "kind", "claim_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    stored = Match.objects.filter(job=job).count()
    assert doubled == 0, f"{doubled} rows matched twice"
    assert stored == expected, (stored, expected)
    return f"{stored:,} matches, each once"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk-rows", type=int, default=1_000)
    parser.add_argument("--claims", type=int, default=1_000_000)
    parser.add_argument("--claimed-every", type=int, default=50)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--visibility",
        type=int,
        default=60,
        help="Redis visibility timeout for the run (production: the task time "
        "limit + 120 s); only when the killed workers' leftover messages come "
        "back depends on it",
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-kills-"))
    env = {
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB}",
        "CELERY_BROKER_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "MEDIA_ROOT": str(work / "media"),
        "SEGMENT_STORE_URL": f"file://{work / 'segments'}",
        "SEGMENT_CACHE_DIR": str(work / "segment-cache"),
        "WORK_ROOT": str(work / "tmp"),
        "MATCH_CHUNK_ROWS": str(args.chunk_rows),
        "CELERY_VISIBILITY_TIMEOUT": str(args.visibility),
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    os.environ.update(env)
    psql(f"DROP DATABASE IF EXISTS {DB}")
    psql(f"CREATE DATABASE {DB}")
    subprocess.run(["redis-cli", "-n", str(REDIS_DB), "flushdb"], check=True)

    import django

    django.setup()
    from django.conf import settings
    from django.core.files import File
    from django.core.management import call_command

    from accounts import services as accounts
    from optout.services import manifest_upload
    from registry.models import Claim
    from registry.services import registry_revision_bump

    call_command("migrate", verbosity=0)
    t = time.perf_counter()
    user = accounts.user_signup(
        username="artist",
        email="a@example.org",
        password="pw-pw-pw-12",
        is_artist=True,
        is_curator=True,
    )
    urls = [f"https://img.example/{i}.jpg" for i in range(args.rows)]
    claimed = set(range(0, args.rows, args.claimed_every))
    others = max(0, args.claims - len(claimed))
    batch: list[Claim] = []

    def flush() -> None:
        Claim.objects.bulk_create(batch, batch_size=10_000)
        batch.clear()

    for value in [urls[i] for i in sorted(claimed)] + [
        f"https://elsewhere.example/{i}.jpg" for i in range(others)
    ]:
        batch.append(
            Claim(
                owner=user.rights_holder,
                kind="url",
                value=value,
                normalized=value,
                state="active",
            )
        )
        if len(batch) >= 50_000:
            flush()
    flush()
    registry_revision_bump(reason="bench", rebuild=True)
    path = work / "laion.parquet"
    pq.write_table(
        pa.table({"URL": urls, "TEXT": [f"photo {i}" for i in range(args.rows)]}),
        path,
        row_group_size=args.chunk_rows,
    )
    manifest = manifest_upload(
        owner=user, files=[File(open(path, "rb"), name=path.name)]
    )
    print(
        f"set-up: {args.claims:,} claims, {args.rows:,} rows in "
        f"{args.rows // args.chunk_rows:,} chunks, {time.perf_counter() - t:.0f} s"
    )
    print(
        f"leases {settings.MATCH_LEASE_SECONDS} s, sweep every "
        f"{settings.MATCH_SWEEP_SECONDS} s, visibility timeout {args.visibility} s"
    )

    workers = Workers(args.workers, work, {**os.environ, **env})
    try:
        time.sleep(8)  # the workers start
        calm = run_job(manifest, user, workers, 0, 0)
        print(
            f"undisturbed: {calm['seconds']:.1f} s, {check(calm['job'], len(claimed))}"
        )
        every = calm["seconds"] * 0.8 / max(1, args.kills)
        hit = run_job(manifest, user, workers, args.kills, every)
        print(
            f"{hit['kills']} kills, one every {every:.1f} s: {hit['seconds']:.1f} s, "
            f"{check(hit['job'], len(claimed))}"
        )
        left = unacked()
        for kind in ("pool process", "whole worker"):
            times = [s for k, s in hit["recoveries"] if k == kind]
            if times:
                print(
                    f"  {kind} killed x{len(times)}: chunk leased again after "
                    f"median {statistics.median(times):.1f} s, max {max(times):.1f} s"
                )
        print(f"  unacknowledged messages in Redis at the end: {left}")
        deadline = time.perf_counter() + args.visibility + 60
        while unacked() and time.perf_counter() < deadline:
            time.sleep(1)
        print(
            f"  unacknowledged after the visibility timeout ({args.visibility} s): "
            f"{unacked()}"
        )
        ratio = hit["seconds"] / calm["seconds"]
        print()
        print("| run | seconds | ratio |")
        print("| --- | --- | --- |")
        print(f"| undisturbed (baseline) | {calm['seconds']:.1f} | 1.00 |")
        print(f"| {hit['kills']} SIGKILLs | {hit['seconds']:.1f} | {ratio:.2f} |")
        print(f"goal: at most 1.5x -> {'met' if ratio <= 1.5 else 'NOT met'}")
    finally:
        workers.stop()


if __name__ == "__main__":
    main()
