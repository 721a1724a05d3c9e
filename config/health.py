"""GET /healthz: each dependency, for a load balancer and for people.

The status is 503 only when the database cannot be reached (then this web
process can do nothing useful); a broker that is down, storage that cannot be
written or is nearly full, and work waiting too long are reported in the body
but keep the 200: uploads are still accepted (the database is the source of
truth) and queued by the sweeps once the broker is back, so taking every web
process out of a load balancer would only make it worse. Plain text, one
`name: state` line each (the first line `ok` or `database unavailable`);
`?format=json` gives the same as JSON. No template, session or login: cheap
enough to call every few seconds.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Min
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        logger.warning("health check: database unavailable: %s", exc)
        return f"unavailable ({type(exc).__name__})"
    return "ok"


def _reach_broker() -> str:
    try:
        with current_app.connection_for_write() as conn:
            conn.ensure_connection(
                max_retries=1, interval_start=0, interval_step=0, timeout=1
            )
    except Exception as exc:  # kombu, redis, OSError: all mean "down"
        return f"unavailable ({type(exc).__name__}); uploads wait in the database"
    return "ok"


BROKER_CHECK_SECONDS = 1.5


class _BoundedCheck:
    """A check run in a thread of its own, one at a time, answered within
    BROKER_CHECK_SECONDS: a broker or store host that does not resolve can
    hold a connection attempt for several seconds, longer than a load
    balancer waits for /healthz. A check still running when the next request
    comes is waited for again, not started twice."""

    def __init__(self, name: str, check: Callable[[], str], late: str) -> None:
        self._pool = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"healthz-{name}"
        )
        self._check = check
        self._late = late
        self._pending: Future[str] | None = None

    def __call__(self) -> str:
        if self._pending is None or self._pending.done():
            self._pending = self._pool.submit(self._check)
        try:
            return self._pending.result(timeout=BROKER_CHECK_SECONDS)
        except FutureTimeout:
            return self._late


_broker = _BoundedCheck(
    "broker",
    _reach_broker,
    f"no answer within {BROKER_CHECK_SECONDS} s; uploads wait in the database",
)


def _storage() -> tuple[str, int | None]:
    if settings.MEDIA_STORAGE_URL:
        return _object_storage(), None
    root = str(settings.MEDIA_ROOT)
    try:
        free = shutil.disk_usage(root).free
    except OSError as exc:
        return f"unavailable ({exc.strerror or exc})", None
    if not os.access(root, os.W_OK):
        return "not writable", free
    if free < settings.HEALTH_MIN_FREE_BYTES:
        return f"low on space ({free:,} bytes free)", free
    return "ok", free


def _reach_object_storage() -> str:
    """Whether the media store answers (one HEAD of an object that need not
    exist); its free space is the store's business."""
    from django.core.files.storage import default_storage

    try:
        default_storage.exists(".healthz")
    except Exception as exc:  # noqa: BLE001 - any failure is "unavailable"
        return f"object storage unavailable ({type(exc).__name__}: {exc})"[:300]
    return "ok"


_object_storage = _BoundedCheck(
    "store",
    _reach_object_storage,
    f"object storage: no answer within {BROKER_CHECK_SECONDS} s",
)


def _oldest_waiting_seconds() -> int | None:
    """Age of the oldest piece of queued work still waiting for a worker."""
    from disputes.models import DisputeEvidence
    from optout.models import Chunk, MatchJob
    from registry.models import Image

    times = [
        Image.objects.filter(status=Image.Status.PENDING).aggregate(t=Min("queued_at"))[
            "t"
        ],
        DisputeEvidence.objects.filter(
            status=DisputeEvidence.Status.PROCESSING
        ).aggregate(t=Min("queued_at"))["t"],
        Chunk.objects.filter(
            state=Chunk.State.PENDING, job__state=MatchJob.State.RUNNING
        ).aggregate(t=Min("queued_at"))["t"],
        MatchJob.objects.filter(state=MatchJob.State.QUEUED).aggregate(
            t=Min("created")
        )["t"],
    ]
    known = [t for t in times if t is not None]
    if not known:
        return None
    return max(0, int((timezone.now() - min(known)).total_seconds()))


@never_cache
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    database = _database()
    report: dict[str, Any] = {"database": database}
    if database == "ok":
        report["broker"] = _broker()
        report["storage"], report["free_bytes"] = _storage()
        try:
            report["oldest_waiting_seconds"] = _oldest_waiting_seconds()
        except DatabaseError as exc:  # tables not migrated yet, say
            report["oldest_waiting_seconds"] = f"unknown ({type(exc).__name__})"
    status = 200 if database == "ok" else 503
    if request.GET.get("format") == "json":
        return JsonResponse({"ok": status == 200, **report}, status=status)
    head = "ok" if status == 200 else "database unavailable"
    lines = [head] + [f"{k}: {v}" for k, v in report.items()]
    return HttpResponse(
        "\n".join(lines) + "\n", status=status, content_type="text/plain"
    )


# Included at /healthz by config/urls.py.
urlpatterns = [path("", healthz, name="healthz")]
