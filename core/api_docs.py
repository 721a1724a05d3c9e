"""The API docs pages, Swagger UI and ReDoc, under a policy of their own.

Both viewers come from drf-spectacular-sidecar (our static files). Swagger UI
is the split view: its start-up script is a second request to the same URL
(`?script=`), not an inline script, so scripts stay 'self' only. What the
viewers need beyond the site's CONTENT_SECURITY_POLICY is added for these pages
alone: inline styles (both viewers write style elements and attributes at run
time, ReDoc through styled-components; drf-spectacular's templates have a
<style> block too) and blob: workers (ReDoc's search runs in one). The pages
show only our own schema, no user content.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.request import Request
from rest_framework.response import Response

from core.middleware import policy_extend

DOCS_SOURCES = {
    "style-src": ["'unsafe-inline'"],
    "worker-src": ["'self'", "blob:"],
}


def docs_policy() -> str:
    """The site's policy plus DOCS_SOURCES; empty when the site sends none."""
    policy = settings.CONTENT_SECURITY_POLICY
    return policy_extend(policy, DOCS_SOURCES) if policy else ""


def _with_docs_policy(response: Response) -> Response:
    policy = docs_policy()
    if policy:
        response["Content-Security-Policy"] = policy
    return response


class SwaggerView(SpectacularSwaggerSplitView):
    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().get(request, *args, **kwargs)
        if request.GET.get("script") is not None:
            return response  # the start-up script, not a page
        return _with_docs_policy(response)


class RedocView(SpectacularRedocView):
    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return _with_docs_policy(super().get(request, *args, **kwargs))
