"""One handler turns errors into `{"message": ..., "extra": {...}}` JSON."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import (
    PermissionDenied,
)
from django.http import (
    Http404,
)
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from core.errors import DomainError


def _first_message(detail: Any) -> str:
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    if isinstance(detail, dict) and detail:
        key, value = next(iter(detail.items()))
        inner = _first_message(value)
        return inner if key == "non_field_errors" else f"{key}: {inner}"
    return str(detail)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        extra: dict[str, Any] = dict(exc.extra)
        if exc.field:
            extra.setdefault("fields", {exc.field: [exc.message]})
        if exc.row is not None:
            extra.setdefault("row", exc.row)
        headers = {}
        if retry_after := getattr(exc, "retry_after", None):
            headers["Retry-After"] = str(retry_after)
        return Response(
            {"message": exc.message, "code": exc.code, "extra": extra},
            status=exc.status_code,
            headers=headers or None,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = exception_handler(exc, context)
    if response is None:
        return None  # unknown errors stay 500s
    if isinstance(exc, exceptions.ValidationError):
        fields = exc.detail if isinstance(exc.detail, dict) else {}
        response.data = {
            "message": _first_message(exc.detail),
            "code": "invalid",
            "extra": {"fields": fields},
        }
        response.status_code = status.HTTP_400_BAD_REQUEST
    elif isinstance(exc, exceptions.APIException):
        response.data = {
            "message": _first_message(exc.detail),
            "code": exc.get_codes() if isinstance(exc.get_codes(), str) else "error",
            "extra": {},
        }
    return response
