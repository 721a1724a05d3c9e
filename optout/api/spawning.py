"""Spawning-compatible URL lookup: POST /api/v2/query/urls/ (and without the slash).

Clients written for Spawning's Do Not Train API (datadiligence's SpawningAPI
rule, Hugging Face's dataset-viewer) can point at a self-hosted registry
unchanged: the body is text/plain, one URL a line; the header is
`Authorization: API <token>` (one of our API tokens); the answer is
`{"urls": [{"url", "optOut", "optIn"}, ...]}` with exactly one entry per line,
in order, empty lines included, because clients pad batches with empty strings
and read the answer by position. Lines are counted as text files count them: a
newline ends a line, so a body that ends with one (a file sent with
`curl --data-binary @urls.txt`) has no empty line after it; a client whose
last URL is empty sends its newline too ("a\n\n" is "a" and "").

Both paths are routed to the same view: Hugging Face posts without the slash,
and a POST must not be redirected. Errors come in Spawning's (and DRF's) shape,
`{"detail": "..."}`, not the project's `{"message", ...}`: its clients only look
at the status code and, at most, `detail`.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import (
    RequestDataTooBig,
)
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import exceptions, serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView, exception_handler

from accounts.authentication import ApiTokenAuthentication
from accounts.models import Scope
from accounts.permissions import TokenScopes
from core.errors import DomainError
from core.throttles import LookupThrottle
from optout.selectors import LOOKUP_MAX_ITEMS, registry_lookup


class SpawningSchema(AutoSchema):
    """Both routes in the schema, each with an operationId of its own."""

    def get_operation_id(self) -> str:
        operation_id = super().get_operation_id()
        return operation_id if self.path.endswith("/") else operation_id + "_no_slash"


def spawning_exception_handler(
    exc: Exception, context: dict[str, Any]
) -> Response | None:
    if isinstance(exc, DomainError):
        exc = exceptions.ParseError(exc.message)
    return exception_handler(exc, context)  # {"detail": "..."}


_ERROR = inline_serializer(
    name="SpawningError", fields={"detail": serializers.CharField()}
)

# Examples for the schema (/api/docs/): what datadiligence sends and gets.
SPAWNING_REQUEST_EXAMPLE = "\n".join(
    [
        "https://alice.example/art/harbour.png",
        "https://free.example/1.jpg",
        "",
        "https://bob-art.example/works/bridge.jpg",
    ]
)
SPAWNING_ANSWER_EXAMPLE = {
    "urls": [
        {
            "url": "https://alice.example/art/harbour.png",
            "optOut": True,
            "optIn": False,
        },
        {"url": "https://free.example/1.jpg", "optOut": False, "optIn": False},
        {"url": "", "optOut": False, "optIn": False},
        {
            "url": "https://bob-art.example/works/bridge.jpg",
            "optOut": True,
            "optIn": False,
        },
    ]
}


class SpawningQueryUrlsApi(APIView):
    required_scopes = Scope.CHECK
    throttle_classes = [LookupThrottle]

    authentication_classes = [ApiTokenAuthentication]
    permission_classes = [IsAuthenticated, TokenScopes]
    schema = SpawningSchema()

    def get_exception_handler(self) -> Any:
        return spawning_exception_handler

    def get_authenticate_header(self, request: Request) -> str:
        return 'API realm="api"'

    @extend_schema(
        tags=["spawning"],
        summary="Spawning-compatible URL opt-out check",
        description="A drop-in for Spawning's Do Not Train API (datadiligence, "
        "Hugging Face's dataset-viewer); the paths with and without the final "
        "slash behave the same, and neither redirects. Body: text/plain, "
        f"UTF-8, one URL a line (LF or CRLF), at most {LOOKUP_MAX_ITEMS:,} "
        "lines; a newline at the end of the body ends the last line and adds "
        "no empty one (a 10,000-line file sent with `curl --data-binary @file` "
        "is 10,000 URLs), while empty lines before it count. Header: "
        "`Authorization: API <token>` with an API token of any "
        "signed-up account (`Token` and `Bearer` work too; a session does not). "
        "The answer has one entry per line, in order, empty lines included, "
        "checked against the current registry revision; `optOut` is true when "
        "an enforced url, prefix or domain claim refusing training covers the "
        "URL (style claims "
        "and images do not count; http and https, with or without a leading "
        "`www.`, are one URL, and a URL claim without a query string covers "
        "the URL with any query); `optIn` is true when a claim whose holder "
        "offers it for AI training on terms covers it and no refusal does "
        "(read the terms from /api/v1/preferences/). Errors come in "
        'Spawning\'s shape, `{"detail": "..."}`, not in this API\'s Error shape.',
        request={"text/plain": OpenApiTypes.STR},
        responses={
            200: inline_serializer(
                name="SpawningUrls",
                fields={
                    "urls": inline_serializer(
                        name="SpawningUrl",
                        fields={
                            "url": serializers.CharField(),
                            "optOut": serializers.BooleanField(),
                            "optIn": serializers.BooleanField(),
                        },
                        many=True,
                    )
                },
            ),
            400: OpenApiResponse(
                _ERROR,
                description="Too many lines, a body that is not UTF-8, or a body "
                "over the server's upload size limit.",
                examples=[
                    OpenApiExample(
                        "Too many lines",
                        value={
                            "detail": f"at most {LOOKUP_MAX_ITEMS:,} URLs per "
                            f"request, got {LOOKUP_MAX_ITEMS + 1:,}"
                        },
                    )
                ],
            ),
            401: OpenApiResponse(
                _ERROR,
                description="A missing, empty, wrong or revoked token, or a "
                "suspended account.",
                examples=[
                    OpenApiExample(
                        "A wrong token", value={"detail": "Invalid or revoked token."}
                    )
                ],
            ),
            403: OpenApiResponse(
                _ERROR,
                description="The token lacks the `check` scope.",
            ),
            429: OpenApiResponse(
                _ERROR,
                description="More than RATE_LOOKUPS requests (per account); "
                "Retry-After says when to try again.",
            ),
        },
        examples=[
            OpenApiExample(
                "Four lines with an empty one",
                value=SPAWNING_REQUEST_EXAMPLE,
                request_only=True,
                media_type="text/plain",
            ),
            OpenApiExample(
                "One entry per line",
                value=SPAWNING_ANSWER_EXAMPLE,
                response_only=True,
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        try:
            body = request.body
        except RequestDataTooBig:
            raise exceptions.ParseError(
                f"the body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} "
                f"bytes; send at most {LOOKUP_MAX_ITEMS:,} URLs a request"
            ) from None
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise exceptions.ParseError("the body must be UTF-8 text") from None
        # A newline ends a line, as in a text file: a final one adds no empty
        # line, and every other empty line is an entry of its own (clients pad
        # with ""). Not splitlines(): it also splits at \v, \f, U+2028, ...
        lines = [line.removesuffix("\r") for line in text.split("\n")] if text else []
        if text.endswith("\n"):
            lines.pop()
        if len(lines) > LOOKUP_MAX_ITEMS:
            raise exceptions.ParseError(
                f"at most {LOOKUP_MAX_ITEMS:,} URLs per request, got {len(lines):,}"
            )
        result = registry_lookup(items={"urls": lines})
        return Response(
            {
                "urls": [
                    {
                        "url": item.value,
                        "optOut": item.url_opted_out,
                        "optIn": item.url_opted_in,
                    }
                    for item in result.items["urls"]
                ]
            }
        )
