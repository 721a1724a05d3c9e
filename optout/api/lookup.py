"""POST /api/v1/lookup/: check a small batch of URLs and hashes synchronously."""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Scope
from core.api import ErrorSerializer, errors, reject_unknown_keys
from core.throttles import LookupThrottle
from optout import selectors, services
from optout.api.jobs import MATCHED_AS_HELP, MatchKindField, terms_field


class LookupHitOutputSerializer(serializers.Serializer):
    kind = MatchKindField()
    claim = serializers.IntegerField(source="claim_id", allow_null=True)
    image = serializers.IntegerField(source="image_id", allow_null=True)
    work = serializers.IntegerField(source="work_id", allow_null=True)
    distance = serializers.IntegerField(allow_null=True)
    matched = serializers.CharField()
    matched_as = serializers.CharField(help_text=MATCHED_AS_HELP)
    level = serializers.CharField(
        help_text="Perceptual hits: verified, strong or possible; `opt-in` for "
        "a hit on a claim or work its holder offers for AI training (it "
        "removes nothing; see `terms`); empty otherwise."
    )
    variant = serializers.CharField(
        help_text="Perceptual hits: the registry variant that came closest."
    )
    chance = serializers.FloatField(
        allow_null=True,
        help_text="Estimated probability that an unrelated image is this close.",
    )
    terms = terms_field("Opt-in hits: the holder's terms; null otherwise.")

    class Meta:
        ref_name = "LookupHit"


class LookupItemOutputSerializer(serializers.Serializer):
    value = serializers.CharField(help_text="The item as sent.")
    matches = LookupHitOutputSerializer(many=True)
    problem = serializers.CharField(
        allow_null=True, help_text="Why the item could not be checked."
    )

    class Meta:
        ref_name = "LookupItem"


# Examples for the schema (/api/docs/); they must fit the serializers
# (tests/test_api_schema.py checks), so change them together.
LOOKUP_REQUEST_EXAMPLE = {
    "urls": [
        "https://alice.example/art/harbour.png",
        "https://free.example/5.jpg",
        "not a url",
    ],
    "captions": ["dusk over the harbour, in the style of Alice Moreau"],
    "phash": ["d1c4f0e8b3a29587"],
}
_NO_HIT = {
    "matched_as": "",
    "claim": None,
    "image": None,
    "work": None,
    "distance": None,
    "level": "",
    "variant": "",
    "chance": None,
    "terms": None,
}
LOOKUP_RESULT_EXAMPLE = {
    "revision": 311,
    "urls": [
        {
            "value": "https://alice.example/art/harbour.png",
            "matches": [
                {
                    **_NO_HIT,
                    "kind": "url",
                    "claim": 5,
                    "matched": "https://alice.example/art/harbour.png",
                    "matched_as": "exact",
                }
            ],
            "problem": None,
        },
        {"value": "https://free.example/5.jpg", "matches": [], "problem": None},
        {
            "value": "not a url",
            "matches": [],
            "problem": "'not a url' is not a valid URL",
        },
    ],
    "captions": [
        {
            "value": "dusk over the harbour, in the style of Alice Moreau",
            "matches": [
                {**_NO_HIT, "kind": "style", "claim": 8, "matched": "alice moreau"}
            ],
            "problem": None,
        }
    ],
    "sha256": [],
    "md5": [],
    "phash": [
        {
            "value": "d1c4f0e8b3a29587",
            "matches": [
                {
                    **_NO_HIT,
                    "kind": "phash",
                    "image": 2204,
                    "work": 318,
                    "distance": 0,
                    "matched": "",
                    "level": "possible",
                    "variant": "original",
                }
            ],
            "problem": None,
        }
    ],
    "pdq": [],
}


class LookupApi(APIView):
    required_scopes = Scope.CHECK
    throttle_classes = [LookupThrottle]

    class InputSerializer(serializers.Serializer):
        urls = serializers.ListField(
            child=serializers.CharField(allow_blank=True, trim_whitespace=False),
            required=False,
            default=list,
            help_text="Image URLs: exact, prefix and domain claims.",
        )
        captions = serializers.ListField(
            child=serializers.CharField(allow_blank=True, trim_whitespace=False),
            required=False,
            default=list,
            help_text="Captions: style names.",
        )
        sha256 = serializers.ListField(
            child=serializers.CharField(allow_blank=True),
            required=False,
            default=list,
            help_text="64 hex digits each.",
        )
        md5 = serializers.ListField(
            child=serializers.CharField(allow_blank=True),
            required=False,
            default=list,
            help_text="32 hex digits each.",
        )
        phash = serializers.ListField(
            child=serializers.CharField(allow_blank=True),
            required=False,
            default=list,
            help_text="16 hex digits each (imagehash's pHash).",
        )
        pdq = serializers.ListField(
            child=serializers.CharField(allow_blank=True),
            required=False,
            default=list,
            help_text="64 hex digits each.",
        )

        class Meta:
            ref_name = "LookupRequest"

    class OutputSerializer(serializers.Serializer):
        revision = serializers.IntegerField(
            help_text="The registry revision the answer comes from."
        )
        urls = LookupItemOutputSerializer(many=True)
        captions = LookupItemOutputSerializer(many=True)
        sha256 = LookupItemOutputSerializer(many=True)
        md5 = LookupItemOutputSerializer(many=True)
        phash = LookupItemOutputSerializer(many=True)
        pdq = LookupItemOutputSerializer(many=True)

        class Meta:
            ref_name = "LookupResult"

    @extend_schema(
        tags=["lookup"],
        summary=f"Check up to {selectors.LOOKUP_MAX_ITEMS:,} items at once",
        description="For any signed-up account (artist or curator). Send image "
        "URLs, captions and hex hashes in their lists (every list may be left "
        "out; any other key is a 400 that names it), at most "
        f"{selectors.LOOKUP_MAX_ITEMS:,} values in all; a bigger batch is a 400: "
        "upload it as a manifest instead. It is answered at once from the "
        "current registry revision, reads only and stores nothing. Each list in "
        "the answer has one entry per value sent, in order, with its matches "
        "(none when the value is not in the registry, or is empty) and, when "
        "the value could not be checked, the `problem`. A URL matches a claim "
        "whatever its scheme (http or https) and with or without a leading "
        "`www.`; a URL claim without a query string also covers the URL with "
        "one. Each match's `matched_as` says which of these it took.",
        request=InputSerializer,
        responses={
            200: OutputSerializer,
            400: OpenApiResponse(
                ErrorSerializer,
                description=f"More than {selectors.LOOKUP_MAX_ITEMS:,} values, a "
                "body that is not a JSON object of lists of strings, a key other "
                "than the six lists (the message names each), or a "
                "malformed hash (the message names the list and the index, also "
                'in `extra["index"]`).',
            ),
            **errors(
                401,
                403,
                429,
                descriptions={
                    403: "The token lacks the `check` scope.",
                    429: "More than RATE_LOOKUPS lookups (per account); "
                    "Retry-After says when to try again.",
                },
            ),
        },
        examples=[
            OpenApiExample(
                "URLs, a caption and a pHash",
                value=LOOKUP_REQUEST_EXAMPLE,
                request_only=True,
            ),
            OpenApiExample(
                "One entry per value sent",
                value=LOOKUP_RESULT_EXAMPLE,
                response_only=True,
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        reject_unknown_keys(
            request.data, known=selectors.LOOKUP_FIELDS, what="a lookup"
        )
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = selectors.registry_lookup(items=dict(serializer.validated_data))
        services.lookup_seen_record(
            user=request.user,
            image_ids=(
                hit.image_id
                for found in result.items.values()
                for item in found
                for hit in item.matches
            ),
        )
        data = {"revision": result.revision, **result.items}
        return Response(self.OutputSerializer(data).data)
