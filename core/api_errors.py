"""JSON errors for /api/ paths when Django, not DRF, answers the request.

DRF's exception handler shapes errors raised inside API views. Some never get
there: Django's limits on request bodies (raised while DRF parses, and re-raised
by it as unknown exceptions), URLs that resolve to no view, CSRF failures and
crashes. Django sends those to the error views below (config/urls.py names
them); under /api/ they answer in the API's shape,
`{"message": ..., "code": ..., "extra": {}}`, and everywhere else with
Django's own HTML pages.

Django calls these views only when DEBUG is off; with DEBUG on it shows its
technical pages instead.
"""

from __future__ import annotations

import html
import logging
import sys

from django import db
from django.conf import settings
from django.core.exceptions import (
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404
from django.utils.encoding import escape_uri_path
from django.views import csrf, defaults

from core.storage import storage_fault

logger = logging.getLogger(__name__)


def is_api_request(request: HttpRequest) -> bool:
    return request.path_info == "/api" or request.path_info.startswith("/api/")


def api_error(
    message: str, *, code: str, status: int, extra: dict | None = None
) -> JsonResponse:
    return JsonResponse(
        {"message": message, "code": code, "extra": extra or {}}, status=status
    )


def byte_size(size: int) -> str:
    """10485760 -> "10 MB" (binary megabytes, as Django's settings count them)."""
    mb = 1024 * 1024
    if size >= mb and size % mb == 0:
        return f"{size // mb} MB"
    return f"{size:,} bytes"


def body_too_big_message(request: HttpRequest) -> str:
    limit = byte_size(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    if request.content_type == "multipart/form-data":
        # Django counts form fields only; files go to the upload handlers.
        return (
            f"form fields are larger than {limit} (DATA_UPLOAD_MAX_MEMORY_SIZE); "
            "send large data as files"
        )
    return f"request body is larger than {limit} (DATA_UPLOAD_MAX_MEMORY_SIZE)"


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler400: Django's request limits, bad hosts, other suspicious input."""
    if not is_api_request(request):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        from core.upload_limits import UploadTooLarge  # it imports this module

        message = (
            str(exception)
            if isinstance(exception, UploadTooLarge)
            else body_too_big_message(request)
        )
        return api_error(message, code="request_too_large", status=413)
    if isinstance(exception, TooManyFieldsSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        return api_error(
            f"too many form fields: at most {limit:,} (DATA_UPLOAD_MAX_NUMBER_FIELDS)",
            code="too_many_fields",
            status=400,
        )
    if isinstance(exception, TooManyFilesSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FILES
        return api_error(
            f"too many files: at most {limit:,} (DATA_UPLOAD_MAX_NUMBER_FILES)",
            code="too_many_files",
            status=400,
        )
    return api_error("bad request", code="bad_request", status=400)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler403."""
    if not is_api_request(request):
        return defaults.permission_denied(request, exception)
    return api_error(
        "you do not have permission to perform this action",
        code="permission_denied",
        status=403,
    )


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404: under /api/, a path that no URL pattern matches."""
    if not is_api_request(request):
        return defaults.page_not_found(request, exception)
    if isinstance(exception, Resolver404):
        # As the client sent it: a newline in the path shows as %0A.
        path = escape_uri_path(request.path)
        return api_error(f"no API endpoint at {path}", code="not_found", status=404)
    return api_error("not found", code="not_found", status=404)


def fault_response(request: HttpRequest, exc: BaseException) -> HttpResponse | None:
    """The answer to a fault of a service the registry depends on (503 or
    507, JSON under /api/, a page elsewhere), or None for anything else."""
    fault = service_fault(exc)
    if fault is None:
        return None
    status, code, message, retry_after = fault
    logger.error("%s on %s: %s", code, request.path, exc)
    if is_api_request(request):
        response: HttpResponse = api_error(message, code=code, status=status)
    else:
        text = html.escape(message[0].upper() + message[1:])
        response = HttpResponse(
            _FAULT_PAGE.format(message=text),
            status=status,
            content_type="text/html; charset=utf-8",
        )
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: the error is logged by Django; the client learns nothing of
    it. A fault of the database or storage (raised before a view ran, in a
    middleware) gets its 503/507 instead."""
    exc = sys.exc_info()[1]
    if exc is not None and (fault := fault_response(request, exc)) is not None:
        return fault
    if not is_api_request(request):
        return defaults.server_error(request)
    return api_error("internal server error", code="server_error", status=500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: API views take tokens; a session needs the CSRF header."""
    if not is_api_request(request):
        return csrf.csrf_failure(request, reason)
    return api_error(f"CSRF check failed: {reason}", code="csrf_failed", status=403)


def service_fault(exc: BaseException) -> tuple[int, str, str, int | None] | None:
    """(status, code, message, Retry-After) for a fault of a service the
    registry depends on, or None for anything else (a 500, as before)."""
    if isinstance(exc, (db.OperationalError, db.InterfaceError)):
        return (
            503,
            "database_unavailable",
            "the database is unavailable; nothing was changed, try again shortly",
            30,
        )
    fault = storage_fault(exc)
    if fault == "full":
        return (
            507,
            "storage_full",
            "the registry's storage is full; nothing was kept, try again once an "
            "admin has freed space",
            None,
        )
    if fault == "unwritable":
        return (
            507,
            "storage_unwritable",
            "the registry's storage cannot be written; nothing was kept, an admin "
            "must fix it",
            None,
        )
    return None


# No template: with the database down the template context (the user, the
# session) cannot be built.
_FAULT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Unavailable</title>
<link rel="stylesheet" href="/static/registry/site.css"></head>
<body><main><h1>Unavailable for a moment</h1><p role="alert">{message}.</p>
<p><a href="/">Back to the start page</a></p></main></body></html>
"""
