"""Load: the registry under many users, through gunicorn, with locust.

Three steps, each a subcommand, all on a PostgreSQL database of their own
(default h_load_bench, dropped and made again by `seed`) and Redis dbs 11
(broker) and 12 (rate-limit counters, as docker compose shares them):

    # 1,000,000 URL claims, 100,000 images with fingerprints, 1,000 artists,
    # 300 curators; builds the registry snapshot and the static files
    .venv/bin/python bench/load/run.py seed --claims 1000000 --images 100000

    # 50 users for 5 minutes
    .venv/bin/python bench/load/run.py steady --users 50 --duration 300

    # step load until the 100-URL check's p95 passes 100 ms, then a profile
    # of the server at that load
    .venv/bin/python bench/load/run.py saturate --profile

`steady` and `saturate` start gunicorn (DEBUG off, as in docker compose;
--web-workers, by default gunicorn's recommended 2 x cores + 1) and one Celery
worker for the manifests, warm every gunicorn worker up, run locust headless
(bench/load/locustfile.py says what the users do), and print a table of
requests, failures and p50/p95/p99 per endpoint, also written with the
machine, the settings and the CPU each process used to --out
(var/bench-load/ by default) as <mode>.json and <mode>.csv. `saturate` adds
the step table (users, requests/s, the check's p95 per step) and the
saturation point; with --profile, py-spy samples the gunicorn workers for
--profile-seconds at that load and the run prints where the 100-URL check
spends its time.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent.parent
HERE = Path(__file__).resolve().parent
PY = sys.executable
BIN = Path(PY).parent

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/h_load_bench"
CHECK_NAME = "POST /api/v2/query/urls (100 URLs)"


def bench_env(args: argparse.Namespace) -> dict[str, str]:
    """The settings of the server under load: production's (DEBUG off)."""
    out = Path(args.out).resolve()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "SECRET_KEY": "load-benchmark-only-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": args.database_url,
        "CELERY_BROKER_URL": args.broker_url,
        "CACHE_URL": args.cache_url,
        "MEDIA_ROOT": str(out / "media"),
        "SEGMENT_STORE_URL": f"file://{out / 'segments'}",
        "SEGMENT_CACHE_DIR": str(out / "segment-cache"),
        "WORK_ROOT": str(out / "work"),
        "FILE_UPLOAD_TEMP_DIR": str(out / "uploads"),
        "STATIC_ROOT": str(out / "static"),
        "RECEIPT_KEY_DIR": str(out / "keys"),
        "PYTHONPATH": str(ROOT),
    }
    return env


def _psql(url: str, sql: str) -> None:
    parts = urlsplit(url)
    subprocess.run(
        [
            "psql",
            "-h",
            parts.hostname or "127.0.0.1",
            "-p",
            str(parts.port or 5432),
            "-U",
            parts.username or "postgres",
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ],
        check=True,
        capture_output=True,
    )


def seed(args: argparse.Namespace) -> None:
    env = bench_env(args)
    os.environ.update(env)
    name = urlsplit(args.database_url).path.lstrip("/")
    if not name.replace("_", "").isalnum():
        sys.exit(f"database name {name!r}: letters, digits and _ only")
    timings: dict[str, float] = {}
    start = time.perf_counter()
    _psql(args.database_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    _psql(args.database_url, f"CREATE DATABASE {name}")
    subprocess.run(
        [PY, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    subprocess.run(
        [PY, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    timings["create, migrate, collectstatic"] = time.perf_counter() - start

    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(HERE))
    import django

    django.setup()
    from django.db import connection
    from seed import seed_registry

    from optout.snapshots import snapshot_for_revision

    step = time.perf_counter()
    result = seed_registry(
        claims=args.claims,
        images=args.images,
        artists=args.artists,
        curators=args.curators,
        accounts=args.accounts,
    )
    timings["seed rows"] = time.perf_counter() - step
    step = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # the planner's statistics, as in service
    timings["vacuum analyze"] = time.perf_counter() - step
    step = time.perf_counter()
    snapshot_for_revision(result.revision)  # else the first request builds it
    timings["build snapshot"] = time.perf_counter() - step
    timings["total"] = time.perf_counter() - start

    data = {
        "claims": result.claims,
        "prefix_claims": result.prefix_claims,
        "domain_claims": result.domain_claims,
        "images": result.images,
        "fingerprints": result.fingerprints,
        "artists_total": args.artists,
        "claim_pages": max(1, min(5, args.claims // args.artists // 50)),
        "revision": result.revision,
        "artists": [vars(a) for a in result.artists],
        "curators": [vars(a) for a in result.curators],
        "claimed_sample": result.claimed_sample,
        "seconds": {k: round(v, 1) for k, v in timings.items()},
        "database_url": args.database_url,
    }
    out = Path(args.out)
    (out / "seed.json").write_text(json.dumps(data))
    print(
        f"seeded {result.claims:,} URL claims (+{result.prefix_claims:,} prefix, "
        f"{result.domain_claims:,} domain), {result.images:,} images with "
        f"{result.fingerprints:,} fingerprints, {args.artists:,} artists, "
        f"{args.curators:,} curators; revision {result.revision}"
    )
    for label, seconds in timings.items():
        print(f"  {label}: {seconds:.1f} s")


# --- the server under load ----------------------------------------------------


class Server:
    """gunicorn as docker compose runs it, and one Celery worker."""

    def __init__(self, args: argparse.Namespace, env: dict[str, str]) -> None:
        self.args, self.env = args, env
        self.out = Path(args.out)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def __enter__(self) -> Server:
        self.out.mkdir(parents=True, exist_ok=True)
        import socket

        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", self.args.port)) == 0:
                sys.exit(
                    f"something already listens on port {self.args.port} (a run "
                    "still going?); give another with --port"
                )
        subprocess.run(
            ["redis-cli", "-u", self.args.broker_url, "flushdb"], capture_output=True
        )
        subprocess.run(
            ["redis-cli", "-u", self.args.cache_url, "flushdb"], capture_output=True
        )
        log = open(self.out / "gunicorn.log", "wb")
        self.procs["gunicorn"] = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "config.wsgi:application",
                f"--bind=127.0.0.1:{self.args.port}",
                "--access-logfile=-",
                "--timeout=120",
                f"--workers={self.args.web_workers}",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log = open(self.out / "celery.log", "wb")
        self.procs["celery"] = subprocess.Popen(
            [
                str(BIN / "celery"),
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
                "load@%h",
                "-l",
                "WARNING",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self.wait_ready()
        except BaseException:
            self.__exit__()  # sys.exit included: leave no server behind
            raise
        return self

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.args.port}"

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.procs["gunicorn"].poll() is not None:
                sys.exit(f"gunicorn exited; see {self.out / 'gunicorn.log'}")
            try:
                request = urllib.request.Request(
                    self.base + "/healthz", headers={"X-Forwarded-Proto": "https"}
                )
                urllib.request.urlopen(request, timeout=2)
                return
            except urllib.error.HTTPError:
                return  # it answers; /healthz says what is missing
            except OSError:
                time.sleep(0.3)
        sys.exit("gunicorn did not answer within 60 s")

    def warm_up(self, seed: dict[str, Any]) -> None:
        """Every worker loads the snapshot (and compiles the matcher) before
        the clock starts: a first request takes seconds, later ones do not."""
        token = seed["curators"][0]["token"]
        body = "\n".join(seed["claimed_sample"][:100]).encode()
        errors: list[str] = []

        def one() -> None:
            request = urllib.request.Request(
                self.base + "/api/v2/query/urls",
                data=body,
                headers={
                    "Authorization": f"API {token}",
                    "Content-Type": "text/plain",
                    "X-Forwarded-Proto": "https",
                },
            )
            try:
                urllib.request.urlopen(request, timeout=300).read()
            except OSError as exc:
                errors.append(str(exc))

        start = time.perf_counter()
        for _ in range(3):
            threads = [
                threading.Thread(target=one) for _ in range(self.args.web_workers * 2)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        if errors:
            # A 401: the database was seeded again since this seed.json was
            # written (another --out), so its tokens are gone.
            sys.exit(f"warm-up failed: {errors[0]}; seed again if it is a 401")
        print(f"warm-up: {time.perf_counter() - start:.1f} s", flush=True)
        subprocess.run(
            ["redis-cli", "-u", self.args.cache_url, "flushdb"], capture_output=True
        )

    def pids(self) -> dict[str, list[int]]:
        import psutil

        groups: dict[str, list[int]] = {}
        for name, proc in self.procs.items():
            try:
                parent = psutil.Process(proc.pid)
                groups[name] = [parent.pid] + [
                    c.pid for c in parent.children(recursive=True)
                ]
            except psutil.NoSuchProcess:
                groups[name] = []
        return groups

    def __exit__(self, *exc: object) -> None:
        for proc in self.procs.values():
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


class CpuSampler(threading.Thread):
    """CPU seconds per process group (the server's, PostgreSQL's, Redis's,
    locust's) over a run, to see which part is busy."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        super().__init__(daemon=True)
        self.groups = groups
        self.stop_event = threading.Event()
        self.used: Counter[str] = Counter()
        self.seconds = 0.0

    def _times(self) -> dict[int, tuple[str, float]]:
        import psutil

        named = {pid: group for group, pids in self.groups.items() for pid in pids}
        out: dict[int, tuple[str, float]] = {}
        for proc in psutil.process_iter(["pid", "name", "cpu_times"]):
            name = proc.info["name"] or ""
            group = named.get(proc.info["pid"])
            if group is None and name.startswith("postgres"):
                group = "postgresql"
            elif group is None and name.startswith("redis-server"):
                group = "redis"
            elif group is None and "locust" in " ".join(_cmdline(proc)):
                group = "locust"
            if group is None or proc.info["cpu_times"] is None:
                continue
            times = proc.info["cpu_times"]
            out[proc.info["pid"]] = (group, times.user + times.system)
        return out

    def run(self) -> None:
        start = time.monotonic()
        before = self._times()
        while not self.stop_event.wait(1.0):
            now = self._times()
            for pid, (group, total) in now.items():
                self.used[group] += total - before.get(pid, (group, 0.0))[1]
            before = now
        self.seconds = time.monotonic() - start

    def stop(self) -> dict[str, float]:
        self.stop_event.set()
        self.join()
        seconds = self.seconds or 1.0
        return {g: round(100 * used / seconds) for g, used in self.used.most_common()}


def _cmdline(proc: Any) -> list[str]:
    try:
        return proc.cmdline()
    except Exception:  # noqa: BLE001 - a process that ended meanwhile
        return []


def locust(
    args: argparse.Namespace,
    server: Server,
    *,
    name: str,
    users: int,
    seconds: int,
    extra_env: dict[str, str] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    out = Path(args.out)
    env = {
        **os.environ,
        "BENCH_LOAD_SEED": str((out / "seed.json").resolve()),
        "BENCH_LOAD_OUT": str(out.resolve()),
        "BENCH_LOAD_NAME": name,
        **(extra_env or {}),
    }
    command = [
        str(BIN / "locust"),
        "-f",
        str(HERE / "locustfile.py"),
        "--headless",
        "--host",
        server.base,
        "--csv",
        str(out / name),
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]
    if "BENCH_LOAD_MODE" not in env:
        command += ["--users", str(users), "--spawn-rate", str(max(1, users // 5))]
        command += ["--run-time", f"{seconds}s"]
    sampler = CpuSampler(server.pids())
    sampler.start()
    subprocess.run(command, cwd=ROOT, env=env, check=False)
    cpu = sampler.stop()
    failures = out / f"{name}_failures.csv"
    if failures.exists():
        with open(failures, newline="") as fh:
            for row in csv.DictReader(fh):
                print(f"failed {row['Occurrences']}x: {row['Name']}: {row['Error']}")
    rows = read_stats(out / f"{name}_stats.csv")
    jobs_file = out / f"{name}_jobs.json"
    jobs = json.loads(jobs_file.read_text()) if jobs_file.exists() else []
    if jobs:
        ms = sorted(1000 * j["seconds"] for j in jobs)
        rows.insert(
            -1,
            {
                "endpoint": "manifest of 1,000 rows: upload to finished (job)",
                "method": "JOB",
                "requests": len(jobs),
                "failures": sum(j["state"] != "succeeded" for j in jobs),
                "requests_per_s": None,
                "p50_ms": round(_percentile(ms, 0.50)),
                "p95_ms": round(_percentile(ms, 0.95)),
                "p99_ms": round(_percentile(ms, 0.99)),
                "max_ms": round(ms[-1]),
            },
        )
    return rows, cpu


def _percentile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, max(0, math.ceil(q * len(values)) - 1))]


def read_stats(path: Path) -> list[dict[str, Any]]:
    rows = []
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            rows.append(
                {
                    "endpoint": row["Name"],
                    "method": row["Type"],
                    "requests": int(row["Request Count"]),
                    "failures": int(row["Failure Count"]),
                    "requests_per_s": round(float(row["Requests/s"]), 1),
                    "p50_ms": _ms(row["50%"]),
                    "p95_ms": _ms(row["95%"]),
                    "p99_ms": _ms(row["99%"]),
                    "max_ms": _ms(row["Max Response Time"]),
                }
            )
    return rows


def _ms(value: str) -> float | None:
    return None if value in ("", "N/A") else round(float(value), 1)


def print_table(rows: list[dict[str, Any]]) -> None:
    print(
        "| endpoint | requests | failures | req/s | p50 ms | p95 ms | p99 ms |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    )
    for r in rows:
        label = "**all**" if r["endpoint"] == "Aggregated" else r["endpoint"]
        print(
            f"| {label} | {r['requests']:,} | {r['failures']:,} | "
            f"{_rate(r['requests_per_s'])} | {r['p50_ms']} | {r['p95_ms']} | "
            f"{r['p99_ms']} |"
        )


def _rate(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def machine() -> dict[str, Any]:
    import psutil

    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model or platform.processor(),
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
    }


def write_results(args: argparse.Namespace, name: str, result: dict[str, Any]) -> None:
    out = Path(args.out)
    (out / f"{name}.json").write_text(json.dumps(result, indent=1))
    with open(out / f"{name}.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(result["endpoints"][0]))
        writer.writeheader()
        writer.writerows(result["endpoints"])
    print(f"written: {out / (name + '.json')}, {out / (name + '.csv')}")


def _load_seed(args: argparse.Namespace) -> dict[str, Any]:
    path = Path(args.out) / "seed.json"
    if not path.exists():
        sys.exit(f"{path} is missing: run `bench/load/run.py seed` first")
    data = json.loads(path.read_text())
    if data.get("database_url") != args.database_url:
        sys.exit(
            f"{path} was seeded into {data.get('database_url')}, not "
            f"{args.database_url}: give that --database-url, or seed again"
        )
    return data


def _context(args: argparse.Namespace, seed: dict[str, Any]) -> dict[str, Any]:
    return {
        "machine": machine(),
        "web_workers": args.web_workers,
        "registry": {
            k: seed[k]
            for k in (
                "claims",
                "prefix_claims",
                "domain_claims",
                "images",
                "fingerprints",
            )
        },
    }


def steady(args: argparse.Namespace) -> None:
    seed_data = _load_seed(args)
    context = _context(args, seed_data)
    with Server(args, bench_env(args)) as server:
        server.warm_up(seed_data)
        rows, cpu = locust(
            args, server, name="steady", users=args.users, seconds=args.duration
        )
    print(
        f"\n{args.users} users for {args.duration} s, gunicorn "
        f"{args.web_workers} workers; {context['machine']}"
    )
    print_table(rows)
    print(f"CPU % by process group (100 = one core): {cpu}")
    write_results(
        args,
        "steady",
        {
            **context,
            "users": args.users,
            "duration_s": args.duration,
            "endpoints": rows,
            "cpu_percent": cpu,
        },
    )


def saturate(args: argparse.Namespace) -> None:
    seed_data = _load_seed(args)
    context = _context(args, seed_data)
    out = Path(args.out)
    (out / "steps.json").unlink(missing_ok=True)
    with Server(args, bench_env(args)) as server:
        server.warm_up(seed_data)
        rows, cpu = locust(
            args,
            server,
            name="saturate",
            users=0,
            seconds=0,
            extra_env={
                "BENCH_LOAD_MODE": "saturate",
                "BENCH_LOAD_START_USERS": str(args.start_users),
                "BENCH_LOAD_STEP_USERS": str(args.step_users),
                "BENCH_LOAD_STEP_SECONDS": str(args.step_seconds),
                "BENCH_LOAD_MAX_USERS": str(args.max_users),
                "BENCH_LOAD_P95_MS": str(args.p95_ms),
            },
        )
        steps = json.loads((out / "steps.json").read_text())
        over = [s for s in steps if s["check_p95_ms"] > args.p95_ms]
        point = over[0] if over else None
        below = [s for s in steps if s["check_p95_ms"] <= args.p95_ms]
        profile: dict[str, Any] | None = None
        if args.profile and steps:
            at = (point or steps[-1])["users"]
            profile = profile_at(args, server, users=at)
    print(
        f"\nstep load: {args.start_users} users + {args.step_users} every "
        f"{args.step_seconds} s; gunicorn {args.web_workers} workers; "
        f"{context['machine']}"
    )
    print(
        "| users | requests/s | failures | check/s | check p50 ms | check p95 ms "
        "| check p99 ms |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    )
    for s in steps:
        print(
            f"| {s['users']} | {s['requests_per_s']} | {s['failures']} | "
            f"{s['check_per_s']} | {s['check_p50_ms']} | {s['check_p95_ms']} | "
            f"{s['check_p99_ms']} |"
        )
    if point:
        last = below[-1] if below else None
        print(
            f"saturation: the check's p95 passed {args.p95_ms:g} ms at "
            f"{point['users']} users, {point['requests_per_s']} requests/s in all "
            f"({point['check_per_s']} checks/s), p95 {point['check_p95_ms']} ms"
            + (
                f"; the last step under it: {last['users']} users, "
                f"{last['requests_per_s']} requests/s"
                if last
                else ""
            )
        )
    else:
        print(f"the check's p95 stayed under {args.p95_ms:g} ms up to the last step")
    print("\nwhole run, per endpoint:")
    print_table(rows)
    print(f"CPU % by process group (100 = one core): {cpu}")
    if profile:
        print_profile(profile)
    write_results(
        args,
        "saturate",
        {
            **context,
            "steps": steps,
            "saturation": point,
            "last_step_under": below[-1] if below else None,
            "p95_bound_ms": args.p95_ms,
            "endpoints": rows,
            "cpu_percent": cpu,
            "profile": profile,
        },
    )


# --- where the time goes --------------------------------------------------------


def profile_at(args: argparse.Namespace, server: Server, *, users: int) -> dict:
    """py-spy on every gunicorn worker for --profile-seconds at `users`."""
    out = Path(args.out)
    raw = out / "profile.txt"
    spy = subprocess.Popen(
        [
            str(BIN / "py-spy"),
            "record",
            "--pid",
            str(server.procs["gunicorn"].pid),
            "--subprocesses",
            "--idle",  # waits on PostgreSQL and Redis count too
            "--rate",
            "200",
            "--format",
            "raw",
            "--output",
            str(raw),
            "--duration",
            str(args.profile_seconds + 5),
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(out / "py-spy.log", "wb"),
    )
    time.sleep(2)
    # The check alone, so every request sampled is one: py-spy's stacks do
    # not say which endpoint a request was. As many users, so about the
    # same requests/s as the mix at saturation.
    rows, cpu = locust(
        args,
        server,
        name="profile",
        users=users,
        seconds=args.profile_seconds,
        extra_env={"BENCH_LOAD_ONLY_CHECK": "1"},
    )
    spy.wait(timeout=args.profile_seconds + 60)
    if not raw.exists():
        return {"error": f"py-spy wrote nothing; see {out / 'py-spy.log'}"}
    return {
        "users": users,
        "seconds": args.profile_seconds,
        "endpoints": rows,
        "cpu_percent": cpu,
        **summarize_profile(raw),
    }


# What a sample inside a request is doing: the innermost frame that names a
# part decides (so a query the authentication makes counts as database, and
# a middleware only for its own code); within a frame, the first part that
# matches.
PARTS = (
    ("matching: the snapshot's indexes (workers/engine)", ("workers/engine/",)),
    (
        "database: psycopg, queries and waiting for PostgreSQL",
        ("psycopg", "django/db/backends/"),
    ),
    ("ORM: building queries, making rows", ("django/db/models/",)),
    (
        "rate limit: DRF throttles, the cache in Redis",
        ("throttl", "redis/", "django/core/cache/"),
    ),
    ("authentication: the token", ("authentication.py",)),
    ("JSON answer", ("renderers.py", "json/")),
    ("middleware (own code)", ("middleware",)),
    ("DRF: request, negotiation, permissions", ("rest_framework/",)),
    (
        "the view and the lookup (Python: lines, slots, the answer)",
        (" (optout/", " (registry/", " (accounts/", " (disputes/", " (core/"),
    ),
    ("gunicorn: reading the request, writing the answer", ("gunicorn/",)),
    ("Django: request and response handling", ("django/",)),
)


def _part(frames: list[str]) -> str:
    for frame in reversed(frames):
        for label, needles in PARTS:
            if any(n in frame for n in needles):
                return label
    return "other"


def _frame(frame: str) -> str:
    name, _, where = frame.partition(" (")
    return f"{name} ({where.split(':')[0]})" if where else name


def summarize_profile(raw: Path) -> dict[str, Any]:
    """From py-spy's collapsed stacks of the gunicorn workers: how busy they
    were, and where the time of a request went, by part and by function."""
    idle = busy = 0
    parts: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit() or "gunicorn/workers/" not in stack:
            continue  # the arbiter, not a worker
        count = int(count_text)
        frames = stack.split(";")
        at = next((i for i, f in enumerate(frames) if "handle_request" in f), None)
        if at is None:
            idle += count  # waiting for a connection
            continue
        busy += count
        inside = frames[at + 1 :]
        parts[_part(inside)] += count
        for key in {_frame(f) for f in inside}:
            functions[key] += count
    return {
        "worker_samples": idle + busy,
        "busy_percent": round(100 * busy / max(idle + busy, 1), 1),
        "parts_percent": {
            label: round(100 * count / max(busy, 1), 1)
            for label, count in parts.most_common()
        },
        "functions_inclusive_percent": {
            key: round(100 * count / max(busy, 1), 1)
            for key, count in functions.most_common(30)
        },
    }


def print_profile(profile: dict[str, Any]) -> None:
    if "error" in profile:
        print(profile["error"])
        return
    print(
        f"\nprofile: the 100-URL check alone, {profile['users']} users for "
        f"{profile['seconds']} s (py-spy at 200 Hz, wall clock, waits included): "
        f"{profile['worker_samples']:,} samples of the gunicorn workers, "
        f"{profile['busy_percent']} % of them in a request"
    )
    print("| part of a request | % of request time |\n| --- | ---: |")
    for label, share in profile["parts_percent"].items():
        print(f"| {label} | {share} |")
    print("| function (inclusive) | % of request time |\n| --- | ---: |")
    for key, share in list(profile["functions_inclusive_percent"].items())[:20]:
        print(f"| {key} | {share} |")
    check = [r for r in profile["endpoints"] if r["endpoint"] == CHECK_NAME]
    if check:
        c = check[0]
        print(
            f"the check at that load: {c['requests_per_s']} requests/s, "
            f"p50 {c['p50_ms']} ms, p95 {c['p95_ms']} ms, {c['failures']} failures"
        )
    print(f"CPU % by process group at that load: {profile['cpu_percent']}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--cache-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--out", default=str(ROOT / "var" / "bench-load"))
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("seed", help="make the database and the registry in it")
    p.add_argument("--claims", type=int, default=1_000_000)
    p.add_argument("--images", type=int, default=100_000)
    p.add_argument("--artists", type=int, default=1_000)
    p.add_argument("--curators", type=int, default=300)
    p.add_argument(
        "--accounts",
        type=int,
        default=300,
        help="artists and curators given a token and a session (one per user)",
    )
    p.set_defaults(func=seed)

    for name, func in (("steady", steady), ("saturate", saturate)):
        p = sub.add_parser(name)
        p.add_argument(
            "--web-workers",
            type=int,
            default=2 * (os.cpu_count() or 1) + 1,
            help="gunicorn workers (default: its recommended 2 x cores + 1)",
        )
        p.add_argument("--port", type=int, default=8766)
        p.set_defaults(func=func)
        if name == "steady":
            p.add_argument("--users", type=int, default=50)
            p.add_argument("--duration", type=int, default=300, help="seconds")
        else:
            p.add_argument("--start-users", type=int, default=25)
            p.add_argument("--step-users", type=int, default=25)
            p.add_argument("--step-seconds", type=int, default=30)
            p.add_argument("--max-users", type=int, default=600)
            p.add_argument("--p95-ms", type=float, default=100.0)
            p.add_argument("--profile", action="store_true")
            p.add_argument("--profile-seconds", type=int, default=30)
    args = parser.parse_args()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    args.func(args)


if __name__ == "__main__":
    main()
