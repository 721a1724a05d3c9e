"""The load's users, for locust; bench/load/run.py starts it (read it first).

Three kinds of user, in the proportions a public registry sees:

- a curator's pipeline (most of the traffic): the Spawning-compatible check of
  100 URLs (5 % of them claimed, as in a LAION part), single-URL lookups;
- an artist: their claims and works through the API (list pages), and the
  claims page in a browser session;
- a visitor: the home page;

and one curator at a time uploading a CSV manifest of 1,000 rows and polling
its job until it has finished (a low rate: a job costs a worker seconds).

Every request sends `X-Forwarded-Proto: https`, as the TLS proxy in front of
gunicorn does in production (DEBUG is off: plain HTTP would be redirected).
Sessions are sent as a header: their cookie is Secure, which a client on
plain HTTP would not send back.

Environment: BENCH_LOAD_SEED (seed.json), BENCH_LOAD_OUT (folder for the
step table), BENCH_LOAD_MODE=saturate with BENCH_LOAD_STEP_USERS,
BENCH_LOAD_STEP_SECONDS, BENCH_LOAD_START_USERS, BENCH_LOAD_MAX_USERS,
BENCH_LOAD_P95_MS for the step load; BENCH_LOAD_ONLY_CHECK=1 for the
curators' 100-URL check alone (the profile).
"""

from __future__ import annotations

import io
import itertools
import json
import math
import os
import random
import threading
import time
from pathlib import Path
from typing import Any

from locust import FastHttpUser, LoadTestShape, between, events, task

SEED = json.loads(Path(os.environ["BENCH_LOAD_SEED"]).read_text())
OUT = Path(os.environ.get("BENCH_LOAD_OUT", "."))
CHECK_NAME = "POST /api/v2/query/urls (100 URLs)"
CLAIMED_SHARE = 0.05
PROXY = {"X-Forwarded-Proto": "https"}

_curators = itertools.cycle(SEED["curators"])
_artists = itertools.cycle(SEED["artists"])
_lock = threading.Lock()


def _next(accounts: Any) -> dict[str, str]:
    # One account per user, so each stays inside its own lookup rate limit
    # (RATE_LOOKUPS is per account), as separate pipelines would.
    with _lock:
        return next(accounts)


def _unclaimed(rng: random.Random) -> str:
    # Same hosts and folders as the claims, files nobody claimed.
    url = rng.choice(SEED["claimed_sample"])
    return url.replace("-piece.", f"-other{rng.randrange(10**6)}.")


def _urls(rng: random.Random, count: int) -> list[str]:
    claimed = SEED["claimed_sample"]
    return [
        rng.choice(claimed) if rng.random() < CLAIMED_SHARE else _unclaimed(rng)
        for _ in range(count)
    ]


class Curator(FastHttpUser):
    weight = 6
    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        self.account = _next(_curators)
        self.rng = random.Random()

    @task(10)
    def spawning_check(self) -> None:
        body = "\n".join(_urls(self.rng, 100)) + "\n"
        with self.client.post(
            "/api/v2/query/urls",
            data=body.encode(),
            headers={
                **PROXY,
                "Authorization": f"API {self.account['token']}",
                "Content-Type": "text/plain",
            },
            name=CHECK_NAME,
            catch_response=True,
        ) as response:
            if response.status_code == 200 and len(response.json()["urls"]) != 100:
                response.failure("the answer does not have one entry per URL")

    @task(5)
    def single_lookup(self) -> None:
        with self.client.post(
            "/api/v1/lookup/",
            json={"urls": _urls(self.rng, 1)},
            headers={**PROXY, "Authorization": f"Token {self.account['token']}"},
            name="POST /api/v1/lookup/ (1 URL)",
            catch_response=True,
        ) as response:
            if response.status_code == 200 and "urls" not in response.json():
                response.failure("no urls in the answer")


class Artist(FastHttpUser):
    weight = 3
    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        self.account = _next(_artists)
        self.api = {**PROXY, "Authorization": f"Token {self.account['token']}"}
        self.page = {**PROXY, "Cookie": f"sessionid={self.account['session']}"}

    @task(4)
    def claims_api(self) -> None:
        page = random.randint(1, SEED["claim_pages"])
        self.client.get(
            f"/api/v1/claims/?page={page}",
            headers=self.api,
            name="GET /api/v1/claims/?page=N",
        )

    @task(2)
    def works_api(self) -> None:
        self.client.get("/api/v1/works/", headers=self.api, name="GET /api/v1/works/")

    @task(2)
    def claims_page(self) -> None:
        with self.client.get(
            "/claims/",
            headers=self.page,
            name="GET /claims/ (page)",
            catch_response=True,
            allow_redirects=False,
        ) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}: not signed in?")


class Visitor(FastHttpUser):
    weight = 1
    wait_time = between(1, 3)

    @task
    def home(self) -> None:
        self.client.get("/", headers=PROXY, name="GET / (page)")


class ManifestUploader(FastHttpUser):
    """One curator checking a small dataset at a time, then the next."""

    fixed_count = 1
    wait_time = between(5, 10)

    def on_start(self) -> None:
        self.account = _next(_curators)
        self.rng = random.Random()
        self.headers = {**PROXY, "Authorization": f"Token {self.account['token']}"}

    @task
    def upload_and_poll(self) -> None:
        rows = io.StringIO()
        rows.write("url,caption\n")
        for i, url in enumerate(_urls(self.rng, 1_000)):
            rows.write(f"{url},a picture number {i}\n")
        start = time.perf_counter()
        with self.client.post(
            "/api/v1/manifests/",
            files={"files": ("load.csv", rows.getvalue().encode(), "text/csv")},
            headers=self.headers,
            name="POST /api/v1/manifests/ (1,000 rows)",
            catch_response=True,
        ) as response:
            if response.status_code != 201:
                response.failure(f"{response.status_code}: {response.text[:200]}")
                return
            job = response.json()["job"]["id"]
        state = "queued"
        while time.perf_counter() - start < 120:
            time.sleep(1)
            response = self.client.get(
                f"/api/v1/jobs/{job}/",
                headers=self.headers,
                name="GET /api/v1/jobs/[id]/",
            )
            if response.status_code == 200:
                state = response.json()["state"]
                if state in ("succeeded", "failed", "cancelled"):
                    break
        # Kept apart from locust's requests: seconds of a worker's time would
        # swamp the percentiles of "all" requests.
        with _lock:
            _jobs.append(
                {"seconds": round(time.perf_counter() - start, 2), "state": state}
            )


_jobs: list[dict[str, Any]] = []


if os.environ.get("BENCH_LOAD_ONLY_CHECK") == "1":
    # The profile: every request sampled must be the check (py-spy's stacks do
    # not say which endpoint a request was), so curators make only checks and
    # nobody else comes.
    Curator.tasks = [Curator.spawning_check]
    for _other in (Artist, Visitor, ManifestUploader):
        _other.abstract = True


@events.test_stop.add_listener
def _write_jobs(**_: Any) -> None:
    name = os.environ.get("BENCH_LOAD_NAME", "run")
    (OUT / f"{name}_jobs.json").write_text(json.dumps(_jobs))


# --- step load: more users each step until the check's p95 passes the bound ---

_steps: list[dict[str, Any]] = []
_current: dict[str, Any] = {"times": [], "requests": 0, "failures": 0}


@events.request.add_listener
def _record(name: str, response_time: float, exception: Any, **_: Any) -> None:
    with _lock:
        _current["requests"] += 1
        _current["failures"] += exception is not None
        if name == CHECK_NAME:
            _current["times"].append(response_time)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


if os.environ.get("BENCH_LOAD_MODE") == "saturate":

    class StepLoad(LoadTestShape):
        """START users, then STEP more every SECONDS, up to MAX; stops at the
        end of the first step whose check p95 is over P95_MS."""

        start_users = int(os.environ.get("BENCH_LOAD_START_USERS", "25"))
        step_users = int(os.environ.get("BENCH_LOAD_STEP_USERS", "25"))
        seconds = float(os.environ.get("BENCH_LOAD_STEP_SECONDS", "30"))
        max_users = int(os.environ.get("BENCH_LOAD_MAX_USERS", "1000"))
        bound = float(os.environ.get("BENCH_LOAD_P95_MS", "100"))
        # The first seconds of a step are the users arriving, not its load.
        settle = 0.2

        def __init__(self) -> None:
            super().__init__()
            self.step = -1
            self.step_started = 0.0
            self.done = False

        def users(self, step: int) -> int:
            return self.start_users + step * self.step_users

        def tick(self) -> tuple[int, float] | None:
            if self.done:
                return None
            now = self.get_run_time()
            step = int(now // self.seconds)
            if step != self.step:
                if self.step >= 0:
                    self.close_step(now)
                    if self.done:
                        return None
                self.step = step
                self.step_started = now
                if self.users(step) > self.max_users:
                    self.done = True
                    return None
            elif now - self.step_started >= self.seconds * self.settle and not (
                _current.get("open")
            ):
                with _lock:  # from here on the step counts
                    _current.update(times=[], requests=0, failures=0, open=now)
            return self.users(self.step), float(self.step_users)

        def close_step(self, now: float) -> None:
            with _lock:
                times, requests, failures = (
                    _current["times"],
                    _current["requests"],
                    _current["failures"],
                )
                counted = now - _current.get("open", self.step_started)
                _current.update(times=[], requests=0, failures=0, open=None)
            if not times:
                return
            row = {
                "users": self.users(self.step),
                "seconds": round(counted, 1),
                "requests_per_s": round(requests / counted, 1),
                "failures": failures,
                "check_per_s": round(len(times) / counted, 1),
                "check_p50_ms": round(_percentile(times, 0.50), 1),
                "check_p95_ms": round(_percentile(times, 0.95), 1),
                "check_p99_ms": round(_percentile(times, 0.99), 1),
            }
            _steps.append(row)
            print("step", json.dumps(row), flush=True)
            (OUT / "steps.json").write_text(json.dumps(_steps, indent=1))
            if row["check_p95_ms"] > self.bound:
                self.done = True
