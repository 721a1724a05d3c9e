"""The disputes REST API (/api/v1/disputes/ and /api/v1/matches/<id>/report/).

Anyone signed in opens disputes and follows the ones they opened or must answer;
the claimant responds, the disputer withdraws, admins decide. A dispute that is
not yours is "not found" (404); one you can see but whose action is someone
else's (responding to your own dispute) is 403 with a message.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import (
    RequestDataTooBig,
    TooManyFilesSent,
)
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import (
    Pagination,
    absolute_url,
    errors,
    id_field,
    paginated_response,
    path_id,
)
from core.errors import ValidationFailed
from core.uploads import IncomingFile
from disputes.models import Dispute, DisputeEvidence, FalseMatchReport

from . import selectors, services

FILES_HELP = (
    "Evidence files; repeat the field for more. Images are fingerprinted and "
    "compared with the disputed images."
)


def _files(data: dict[str, Any]) -> list[IncomingFile]:
    return [
        IncomingFile(name=f.name, size=f.size, stream=f) for f in data.get("files", [])
    ]


def _valid(serializer_class: type[serializers.Serializer], request: Request) -> Any:
    try:
        serializer = serializer_class(data=request.data)
    except TooManyFilesSent:
        raise ValidationFailed(
            "files: too many files in one request", field="files"
        ) from None
    except RequestDataTooBig as exc:
        raise ValidationFailed(f"the request is too large ({exc})") from None
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class EvidenceOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    party = serializers.ChoiceField(choices=DisputeEvidence.Party.choices)
    name = serializers.CharField(source="original_name")
    byte_size = serializers.IntegerField()
    is_image = serializers.BooleanField()
    sha256 = serializers.CharField()
    phash = serializers.CharField(help_text="Images only; empty otherwise.")
    pdq = serializers.CharField(help_text="Images only; empty otherwise.")
    url = serializers.SerializerMethodField()

    class Meta:
        ref_name = "DisputeEvidence"

    @extend_schema_field({"type": "string", "format": "uri"})
    def get_url(self, item: DisputeEvidence) -> str:
        return absolute_url(self.context.get("request"), item.file.url)


class DisputeOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    target = serializers.CharField(
        source="target_key", help_text="work:<id>, image:<id> or claim:<id>"
    )
    target_type = serializers.ChoiceField(choices=Dispute.TargetType.choices)
    grounds = serializers.ChoiceField(choices=Dispute.Grounds.choices)
    statement = serializers.CharField()
    evidence_urls = serializers.ListField(child=serializers.CharField())
    evidence = EvidenceOutputSerializer(many=True)
    state = serializers.ChoiceField(choices=Dispute.State.choices)
    response_due = serializers.DateTimeField(allow_null=True)
    response = serializers.CharField()
    responded_at = serializers.DateTimeField(allow_null=True)
    outcome = serializers.CharField(help_text="upheld, revoked, narrowed or empty.")
    narrowed_to = serializers.CharField()
    excluded_images = serializers.ListField(child=serializers.IntegerField())
    decision_reason = serializers.CharField()
    lapsed = serializers.BooleanField(
        help_text="Resolved because the claimant did not respond in time."
    )
    you_are = serializers.SerializerMethodField()
    created = serializers.DateTimeField()
    resolved_at = serializers.DateTimeField(allow_null=True)

    class Meta:
        ref_name = "Dispute"

    @extend_schema_field(
        {
            "type": "array",
            "items": {"type": "string", "enum": ["disputer", "claimant", "admin"]},
        }
    )
    def get_you_are(self, dispute: Dispute) -> list[str]:
        request = self.context.get("request")
        user = getattr(request, "user", None)
        roles = []
        if user is None:
            return roles
        if dispute.disputer_id == user.pk:
            roles.append("disputer")
        if dispute.holder.user_id == user.pk:
            roles.append("claimant")
        if user.is_staff:
            roles.append("admin")
        return roles


def _detail(request: Request, dispute_id: int, code: int = 200) -> Response:
    dispute = selectors.dispute_get_for_user(user=request.user, dispute_id=dispute_id)
    data = DisputeOutputSerializer(dispute, context={"request": request}).data
    return Response(data, status=code)


class DisputeListCreateApi(APIView):
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    pagination_class = Pagination

    class ListFilterSerializer(serializers.Serializer):
        role = serializers.ChoiceField(choices=["disputer", "claimant"], required=False)
        state = serializers.ChoiceField(choices=Dispute.State.choices, required=False)

    class CreateInputSerializer(serializers.Serializer):
        target = serializers.CharField(
            max_length=40, help_text="work:<id>, image:<id> or claim:<id>"
        )
        grounds = serializers.ChoiceField(choices=Dispute.Grounds.choices)
        statement = serializers.CharField(max_length=10_000)
        evidence_urls = serializers.ListField(
            child=serializers.CharField(max_length=2048),
            required=False,
            default=list,
            max_length=services.MAX_EVIDENCE_URLS,
        )
        files = serializers.ListField(
            child=serializers.FileField(allow_empty_file=True, use_url=False),
            required=False,
            default=list,
            help_text=FILES_HELP,
        )

        class Meta:
            ref_name = "DisputeCreate"

    @extend_schema(
        tags=["disputes"],
        summary="Disputes you opened or must answer",
        parameters=[
            OpenApiParameter("role", enum=["disputer", "claimant"]),
            OpenApiParameter("state", enum=Dispute.State.values),
        ],
        responses={200: DisputeOutputSerializer(many=True), **errors(400, 401)},
    )
    def get(self, request: Request) -> Response:
        filters = self.ListFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        qs = selectors.dispute_list_for_user(
            user=request.user, role=filters.validated_data.get("role")
        ).prefetch_related("evidence")
        if filters.validated_data.get("state"):
            qs = qs.filter(state=filters.validated_data["state"])
        return paginated_response(
            queryset=qs,
            serializer_class=DisputeOutputSerializer,
            request=request,
            view=self,
        )

    @extend_schema(
        tags=["disputes"],
        summary="Dispute a work, an image or a claim",
        description="The claimant is notified and has DISPUTE_RESPONSE_DAYS days "
        "to respond (state awaiting_response). One unresolved dispute per person "
        "and target (409); after a decision, a new one needs other grounds or new "
        "evidence (409).",
        request={
            "multipart/form-data": CreateInputSerializer,
            "application/json": CreateInputSerializer,
        },
        responses={201: DisputeOutputSerializer, **errors(400, 401, 404, 409)},
    )
    def post(self, request: Request) -> Response:
        data = _valid(self.CreateInputSerializer, request)
        dispute = services.dispute_create(
            disputer=request.user,
            target=data["target"],
            grounds=data["grounds"],
            statement=data["statement"],
            evidence_urls=data["evidence_urls"],
            files=_files(data),
        )
        return _detail(request, dispute.pk, status.HTTP_201_CREATED)


class DisputeDetailApi(APIView):
    @extend_schema(
        tags=["disputes"],
        summary="One dispute",
        parameters=[path_id("dispute_id")],
        responses={200: DisputeOutputSerializer, **errors(401, 404)},
    )
    def get(self, request: Request, dispute_id: int) -> Response:
        return _detail(request, dispute_id)


class DisputeRespondApi(APIView):
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    class InputSerializer(serializers.Serializer):
        response = serializers.CharField(max_length=10_000)
        files = serializers.ListField(
            child=serializers.FileField(allow_empty_file=True, use_url=False),
            required=False,
            default=list,
            help_text=FILES_HELP,
        )

        class Meta:
            ref_name = "DisputeRespond"

    @extend_schema(
        tags=["disputes"],
        summary="Respond to a dispute about your work or claim",
        description="Only while it awaits your response (else 409); the dispute "
        "then goes to an admin (under_review).",
        parameters=[path_id("dispute_id")],
        request={
            "multipart/form-data": InputSerializer,
            "application/json": InputSerializer,
        },
        responses={200: DisputeOutputSerializer, **errors(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request, dispute_id: int) -> Response:
        data = _valid(self.InputSerializer, request)
        services.dispute_respond(
            user=request.user,
            dispute_id=dispute_id,
            response=data["response"],
            files=_files(data),
        )
        return _detail(request, dispute_id)


class DisputeWithdrawApi(APIView):
    @extend_schema(
        tags=["disputes"],
        summary="Withdraw a dispute you opened",
        description="Any time before it is resolved (else 409).",
        parameters=[path_id("dispute_id")],
        request=None,
        responses={200: DisputeOutputSerializer, **errors(401, 403, 404, 409)},
    )
    def post(self, request: Request, dispute_id: int) -> Response:
        services.dispute_withdraw(user=request.user, dispute_id=dispute_id)
        return _detail(request, dispute_id)


class DisputeResolveApi(APIView):
    class InputSerializer(serializers.Serializer):
        outcome = serializers.ChoiceField(choices=Dispute.Outcome.choices)
        reason = serializers.CharField(max_length=10_000)
        narrowed_to = serializers.CharField(
            max_length=2048,
            required=False,
            default="",
            help_text="Narrowed prefix or domain claims: the narrower URL prefix.",
        )
        excluded_images = serializers.ListField(
            child=id_field(),
            required=False,
            default=list,
            help_text="Narrowed works: the images no longer enforced.",
        )

        class Meta:
            ref_name = "DisputeResolve"

    @extend_schema(
        tags=["disputes"],
        summary="Decide a dispute (admins)",
        description="Takes effect at once, or (state pending_confirmation) when "
        "a second admin confirms it.",
        parameters=[path_id("dispute_id")],
        request=InputSerializer,
        responses={200: DisputeOutputSerializer, **errors(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request, dispute_id: int) -> Response:
        data = _valid(self.InputSerializer, request)
        services.dispute_resolve(admin=request.user, dispute_id=dispute_id, **data)
        return _detail(request, dispute_id)


class DisputeConfirmApi(APIView):
    class InputSerializer(serializers.Serializer):
        approve = serializers.BooleanField()
        reason = serializers.CharField(
            max_length=10_000,
            required=False,
            default="",
            help_text="Required to decline.",
        )

        class Meta:
            ref_name = "DisputeConfirm"

    @extend_schema(
        tags=["disputes"],
        summary="Confirm or decline another admin's decision (admins)",
        parameters=[path_id("dispute_id")],
        request=InputSerializer,
        responses={200: DisputeOutputSerializer, **errors(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request, dispute_id: int) -> Response:
        data = _valid(self.InputSerializer, request)
        services.dispute_confirm(admin=request.user, dispute_id=dispute_id, **data)
        return _detail(request, dispute_id)


class MatchReportApi(APIView):
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
        description="An admin reviews it; if they agree, that row never matches "
        "that claim or image again in later jobs.",
        parameters=[path_id("match_id")],
        request=InputSerializer,
        responses={201: OutputSerializer, **errors(400, 401, 404, 409)},
    )
    def post(self, request: Request, match_id: int) -> Response:
        data = _valid(self.InputSerializer, request)
        report = services.false_match_report_create(
            reporter=request.user, match_id=match_id, **data
        )
        return Response(
            self.OutputSerializer(report).data, status=status.HTTP_201_CREATED
        )
