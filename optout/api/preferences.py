"""Preferences for URLs: GET /api/v1/preferences/?url=... and POST (a batch).

For each URL, the combined AI-usage preferences (IETF aipref vocabulary, as
an RFC 9651 dictionary), and every declaration behind them: the registry's
claims that cover it (who declared: a rights holder; how verified: domain
proof, admin review or none) and what its publisher's site said at the last
fetch the registry holds (the publishers' signals cache; this endpoint
fetches nothing). These are the "registry-based preferences"
draft-ietf-aipref-attach leaves to registries. docs/SIGNALS.md.
"""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Scope
from core.api import ErrorSerializer, errors
from core.errors import ValidationFailed
from core.throttles import LookupThrottle
from optout import selectors
from optout.api.jobs import terms_field

GET_MAX_URLS = 100  # repeat ?url= up to this; POST for more

PREFERENCES_EXAMPLE = {
    "revision": 311,
    "urls": [
        {
            "url": "https://alice.example/gallery/harbour.jpg",
            "preferences": "train-ai=n",
            "categories": {"train-ai": "n", "ai-use": "unknown", "search": "y"},
            "declarations": [
                {
                    "declared_by": "rights holder",
                    "via": "registry",
                    "claim": 7,
                    "kind": "prefix",
                    "matched": "https://alice.example/gallery/",
                    "matched_as": "exact",
                    "preference": "train-ai=n",
                    "verified": "domain proof",
                    "fetched_at": None,
                    "terms": None,
                },
                {
                    "declared_by": "publisher",
                    "via": "content-signal",
                    "claim": None,
                    "kind": "",
                    "matched": "Content-Signal: search=yes, ai-train=no",
                    "matched_as": "",
                    "preference": "search=y",
                    "verified": "served by alice.example",
                    "fetched_at": "2026-12-07T04:00:00+00:00",
                    "terms": None,
                },
            ],
            "problem": "",
        }
    ],
}


class DeclarationOutputSerializer(serializers.Serializer):
    declared_by = serializers.CharField(
        help_text="Who stated it: `rights holder` (a registry claim) or "
        "`publisher` (the URL's site)."
    )
    via = serializers.CharField(
        help_text="`registry`, or the site's protocol: robots (Content-Usage), "
        "content-signal, tdmrep, rsl."
    )
    claim = serializers.IntegerField(allow_null=True)
    kind = serializers.CharField(help_text="The claim's kind: url, prefix, domain.")
    matched = serializers.CharField(
        help_text="The claim's value, or the site's rule as written."
    )
    matched_as = serializers.CharField(
        help_text="Claims: the equivalence the match took (exact, scheme, www, query)."
    )
    preference = serializers.CharField(help_text="As an aipref member: train-ai=n.")
    verified = serializers.CharField(
        help_text="How the declarer was verified: `domain proof` (the holder "
        "proved control of the host), `admin review`, `none` (an exact URL "
        "claimed without proof, within the per-host cap), or `served by HOST`."
    )
    fetched_at = serializers.CharField(
        allow_null=True, help_text="Publisher declarations: when the site was read."
    )
    terms = terms_field(
        "train-ai=y from the registry: the holder's terms; null otherwise."
    )

    class Meta:
        ref_name = "PreferenceDeclaration"


class UrlPreferencesOutputSerializer(serializers.Serializer):
    url = serializers.CharField()
    preferences = serializers.CharField(
        help_text="The combined preferences as an RFC 9651 dictionary "
        "(`train-ai=n, search=y`); a category any declaration refuses is "
        "refused; empty when nothing is known."
    )
    categories = serializers.DictField(
        child=serializers.CharField(),
        help_text="Each aipref category: y, n or unknown (never read as y).",
    )
    declarations = DeclarationOutputSerializer(many=True)
    problem = serializers.CharField(
        help_text="Why the URL could not be checked (it does not parse); empty "
        "otherwise."
    )

    class Meta:
        ref_name = "UrlPreferences"


class PreferencesOutputSerializer(serializers.Serializer):
    revision = serializers.IntegerField(
        help_text="The registry revision the claims come from."
    )
    urls = UrlPreferencesOutputSerializer(many=True)

    class Meta:
        ref_name = "PreferencesResult"


_RESPONSES = {
    200: PreferencesOutputSerializer,
    400: OpenApiResponse(
        ErrorSerializer,
        description="No URL, or more than the limit (the message says it).",
    ),
    **errors(
        401,
        403,
        429,
        descriptions={
            403: "The token lacks the `check` scope.",
            429: "More than RATE_LOOKUPS lookups (per account).",
        },
    ),
}
_DESCRIPTION = (
    "For each URL, one entry in order: the combined AI-usage preferences "
    "(IETF aipref vocabulary: train-ai, ai-use, search) and every declaration "
    "behind them, with who made it and how it was verified: the registry's "
    "URL, prefix and domain claims covering the URL (each refuses train-ai and "
    "may say search and ai-use), "
    "and what the URL's site said in robots.txt, tdmrep.json or an RSL "
    "licence at the registry's last fetch of it (a job's publishers' step; "
    "this endpoint fetches nothing). Unknown is never allowed."
)


class PreferencesApi(APIView):
    required_scopes = Scope.CHECK
    throttle_classes = [LookupThrottle]

    class InputSerializer(serializers.Serializer):
        urls = serializers.ListField(
            child=serializers.CharField(allow_blank=True, trim_whitespace=False),
            help_text=f"At most {selectors.LOOKUP_MAX_ITEMS:,} URLs.",
        )

        class Meta:
            ref_name = "PreferencesRequest"

    @extend_schema(
        tags=["lookup"],
        summary="AI-usage preferences for URLs",
        description=_DESCRIPTION,
        parameters=[
            OpenApiParameter(
                "url",
                str,
                many=True,
                required=True,
                description=f"A URL; repeat for up to {GET_MAX_URLS}.",
            )
        ],
        responses=_RESPONSES,
        examples=[
            OpenApiExample(
                "A claimed prefix and the site's Content Signal",
                value=PREFERENCES_EXAMPLE,
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> Response:
        urls = request.query_params.getlist("url")
        if not urls:
            raise ValidationFailed("url: give at least one URL", field="url")
        if len(urls) > GET_MAX_URLS:
            raise ValidationFailed(
                f"url: at most {GET_MAX_URLS} URLs in a GET; POST more "
                f"(up to {selectors.LOOKUP_MAX_ITEMS:,})",
                field="url",
            )
        return Response(self._answer(urls))

    @extend_schema(
        tags=["lookup"],
        summary="AI-usage preferences for a batch of URLs",
        description=_DESCRIPTION,
        request=InputSerializer,
        responses=_RESPONSES,
        examples=[
            OpenApiExample(
                "Two URLs",
                value={
                    "urls": [
                        "https://alice.example/gallery/harbour.jpg",
                        "https://free.example/1.jpg",
                    ]
                },
                request_only=True,
            ),
            OpenApiExample(
                "A claimed prefix and the site's Content Signal",
                value=PREFERENCES_EXAMPLE,
                response_only=True,
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(self._answer(serializer.validated_data["urls"]))

    def _answer(self, urls: list[str]) -> dict:
        revision, found = selectors.url_preferences(urls=urls)
        return PreferencesOutputSerializer({"revision": revision, "urls": found}).data
