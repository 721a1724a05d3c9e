"""Django's body size limit for JSON and form bodies that DRF reads itself, and
the security headers Django does not send (Content-Security-Policy,
Permissions-Policy).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse

from core.api_errors import fault_response

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


class SecurityHeadersMiddleware:
    """Sends CONTENT_SECURITY_POLICY with every HTML response and
    PERMISSIONS_POLICY with every response.

    A view that needs another policy (the API docs pages, core/api_docs.py)
    sets its own Content-Security-Policy header, which is left as it is. An
    empty setting sends no header.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if settings.PERMISSIONS_POLICY:
            response.headers.setdefault(
                "Permissions-Policy", settings.PERMISSIONS_POLICY
            )
        content_type = response.headers.get("Content-Type", "")
        # With DEBUG on, Django's own 404 and 500 pages (the technical ones)
        # are styled and scripted inline; they are left readable.
        debug_page = settings.DEBUG and response.status_code in (404, 500)
        if (
            settings.CONTENT_SECURITY_POLICY
            and content_type.startswith("text/html")
            and not debug_page
        ):
            response.headers.setdefault(
                "Content-Security-Policy", settings.CONTENT_SECURITY_POLICY
            )
        return response


def policy_extend(policy: str, sources: Mapping[str, Sequence[str]]) -> str:
    """`policy` with `sources` added to its directives (a directive it lacks is
    added with those sources alone)."""
    directives: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            directives.setdefault(words[0].lower(), []).extend(words[1:])
    for name, extra in sources.items():
        values = directives.setdefault(name, [])
        values.extend(source for source in extra if source not in values)
    return "; ".join(" ".join([name, *values]) for name, values in directives.items())


class ServiceFaultMiddleware:
    """A database that is down or storage that is full is not a crash: the
    API answers 503 (with Retry-After) or 507 in its JSON error shape, never
    an HTML 500; pages say the same in words, with the same status. Other
    exceptions stay 500s."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponse | None:
        return fault_response(request, exception)
