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


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: the error is logged by Django; the client learns nothing of it."""
    if not is_api_request(request):
        return defaults.server_error(request)
    return api_error("internal server error", code="server_error", status=500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: API views take tokens; a session needs the CSRF header."""
    if not is_api_request(request):
        return csrf.csrf_failure(request, reason)
    return api_error(f"CSRF check failed: {reason}", code="csrf_failed", status=403)
