"""POST /api/v1/lookup/: check a small batch of URLs and hashes synchronously."""

from __future__ import annotations

from drf_spectacular.utils import (
    extend_schema,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import errors
from optout import selectors
from optout.api.jobs import MatchKindField


class LookupHitOutputSerializer(serializers.Serializer):
    kind = MatchKindField()
    claim = serializers.IntegerField(source="claim_id", allow_null=True)
    image = serializers.IntegerField(source="image_id", allow_null=True)
    work = serializers.IntegerField(source="work_id", allow_null=True)
    distance = serializers.IntegerField(allow_null=True)
    matched = serializers.CharField()
    level = serializers.CharField(
        help_text="Perceptual hits: verified, strong or possible; empty otherwise."
    )
    variant = serializers.CharField(
        help_text="Perceptual hits: the registry variant that came closest."
    )
    chance = serializers.FloatField(
        allow_null=True,
        help_text="Estimated probability that an unrelated image is this close.",
    )

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


class LookupApi(APIView):
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
        description="Answered at once from the current registry revision. Each "
        "list in the answer has one entry per item sent, in order, with its "
        "matches (none when the item is not in the registry).",
        request=InputSerializer,
        responses={200: OutputSerializer, **errors(400, 401)},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = selectors.registry_lookup(items=dict(serializer.validated_data))
        data = {"revision": result.revision, **result.items}
        return Response(self.OutputSerializer(data).data)
