"""Django's body size limit for JSON and form bodies that DRF reads itself."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse

# The media types of DRF's JSONParser and FormParser. Multipart bodies are left
# to Django's MultiPartParser, which counts form fields; their files are counted
# by core.upload_limits.UploadLimitHandler.
LIMITED_TYPES = frozenset({"application/json", "application/x-www-form-urlencoded"})


class RequestBodyLimitMiddleware:
    """Refuses JSON and form bodies over DATA_UPLOAD_MAX_MEMORY_SIZE up front.

    Django enforces the limit in request.body and request.POST, but DRF's JSON
    and form parsers read the request stream directly, so without this an API
    view would read a body of any size into memory. The limit is checked on the
    declared Content-Length, before anything is read; the RequestDataTooBig it
    raises becomes a 413 under /api/ (core.api_errors.bad_request).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and (request.content_type or "").lower() in (
            LIMITED_TYPES
        ):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit:
                raise RequestDataTooBig(
                    "Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE."
                )
        return self.get_response(request)
