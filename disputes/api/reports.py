"""POST /api/v1/matches/<id>/report/: a curator reports a wrong match."""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
)
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Scope
from core.api import (
    errors,
    path_id,
)
from disputes import services
from disputes.api.disputes import _valid
from disputes.api.examples import (
    MATCH_REPORT_EXAMPLE,
    MATCH_REPORT_PLAIN_EXAMPLE,
    MATCH_REPORTED_EXAMPLE,
)
from disputes.models import FalseMatchReport


class MatchReportApi(APIView):
    required_scopes = Scope.CURATE

    class InputSerializer(serializers.Serializer):
        reason = serializers.ChoiceField(choices=FalseMatchReport.Reason.choices)
        text = serializers.CharField(
            max_length=5_000,
            required=False,
            default="",
            help_text='Required for "other".',
        )

        class Meta:
            ref_name = "FalseMatchReportCreate"

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        match = serializers.IntegerField(source="match_id")
        reason = serializers.ChoiceField(choices=FalseMatchReport.Reason.choices)
        text = serializers.CharField()
        state = serializers.ChoiceField(choices=FalseMatchReport.State.choices)
        created = serializers.DateTimeField()

        class Meta:
            ref_name = "FalseMatchReport"

    @extend_schema(
        tags=["matches"],
        summary="Report a match of your job as wrong",
        description="The owner of a match job says one of its matches is wrong "
        "(`text` is required when `reason` is `other`); a match of someone "
        "else's job is a 404. The report stays `open` until an admin decides; if "
        "they agree, that manifest row (by its URL or hashes) no longer matches "
        "that claim or image in jobs matched from then on. One open report per "
        "match (409).",
        parameters=[path_id("match_id")],
        request=InputSerializer,
        responses={
            201: OutputSerializer,
            **errors(
                400,
                401,
                404,
                409,
                descriptions={
                    404: "No such match in your jobs.",
                    409: "You already have an open report on this match.",
                },
            ),
        },
        examples=[
            OpenApiExample(
                "A name used in another sense",
                value=MATCH_REPORT_EXAMPLE,
                request_only=True,
            ),
            OpenApiExample(
                "Not the same image",
                value=MATCH_REPORT_PLAIN_EXAMPLE,
                request_only=True,
            ),
            OpenApiExample(
                "The report awaiting review",
                value=MATCH_REPORTED_EXAMPLE,
                response_only=True,
                status_codes=["201"],
            ),
        ],
    )
    def post(self, request: Request, match_id: int) -> Response:
        data = _valid(self.InputSerializer, request)
        report = services.false_match_report_create(
            reporter=request.user, match_id=match_id, **data
        )
        return Response(
            self.OutputSerializer(report).data, status=status.HTTP_201_CREATED
        )
