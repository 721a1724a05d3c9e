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
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Scope
from core.api import (
    Pagination,
    absolute_url,
    errors,
    id_field,
    paginated_response,
    path_id,
)
from core.errors import ValidationFailed
from core.parsers import JSONParser
from core.throttles import DisputeThrottle
from core.upload_limits import UploadTooLarge
from core.uploads import IncomingFile
from disputes import selectors, services
from disputes.api.examples import (
    DISPUTE_ANSWERED_EXAMPLE,
    DISPUTE_CONFIRM_EXAMPLE,
    DISPUTE_CREATE_EXAMPLE,
    DISPUTE_CREATE_MULTIPART_EXAMPLE,
    DISPUTE_DECLINE_EXAMPLE,
    DISPUTE_DECLINED_EXAMPLE,
    DISPUTE_NARROWED_EXAMPLE,
    DISPUTE_OPENED_EXAMPLE,
    DISPUTE_PROPOSED_EXAMPLE,
    DISPUTE_RESOLVE_NARROW_CLAIM_EXAMPLE,
    DISPUTE_RESOLVE_NARROW_WORK_EXAMPLE,
    DISPUTE_RESOLVE_UPHOLD_EXAMPLE,
    DISPUTE_RESPOND_EXAMPLE,
    DISPUTE_RESPOND_MULTIPART_EXAMPLE,
    DISPUTE_UPHELD_EXAMPLE,
    DISPUTE_WITHDRAWN_EXAMPLE,
)
from disputes.models import Dispute, DisputeEvidence

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
    except UploadTooLarge:
        raise  # a 413 naming the limit (core.api_errors.bad_request)
    except RequestDataTooBig as exc:
        raise ValidationFailed(f"the request is too large ({exc})") from None
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class EvidenceOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    party = serializers.ChoiceField(choices=DisputeEvidence.Party.choices)
    name = serializers.CharField(source="original_name")
    byte_size = serializers.IntegerField()
    status = serializers.ChoiceField(
        choices=DisputeEvidence.Status.choices,
        help_text="processing: the file is stored and is being fingerprinted; "
        "is_image, phash and pdq are known once it is done.",
    )
    is_image = serializers.BooleanField()
    sha256 = serializers.CharField()
    phash = serializers.CharField(help_text="Images only; empty otherwise.")
    pdq = serializers.CharField(help_text="Images only; empty otherwise.")
    url = serializers.SerializerMethodField(
        help_text="Private: opens for the dispute's parties and admins (send the "
        "same token)."
    )

    class Meta:
        ref_name = "DisputeEvidence"

    @extend_schema_field({"type": "string", "format": "uri"})
    def get_url(self, item: DisputeEvidence) -> str:
        return absolute_url(self.context.get("request"), item.file_url)


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
    disputer = serializers.SerializerMethodField(
        help_text="Who opened it: the username for the disputer and admins; for "
        "the claimant only if the disputer chose to be named, else “another user”."
    )
    created = serializers.DateTimeField()
    resolved_at = serializers.DateTimeField(allow_null=True)

    class Meta:
        ref_name = "Dispute"

    @extend_schema_field({"type": "string"})
    def get_disputer(self, dispute: Dispute) -> str:
        request = self.context.get("request")
        return services.disputer_label(dispute, getattr(request, "user", None))

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
    required_scopes = (Scope.DISPUTE, Scope.REVIEW)
    throttle_classes = [DisputeThrottle]

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
        statement = serializers.CharField(
            max_length=10_000,
            help_text="Why the registration is wrong and what shows it: at least "
            "DISPUTE_STATEMENT_MIN_CHARS characters (40 by default).",
        )
        named = serializers.BooleanField(
            required=False,
            default=False,
            help_text="Show your username to the claimant (else “another user”; "
            "admins always see it).",
        )
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
        description="The disputes you opened (`role=disputer`) and those about "
        "your works, images and claims (`role=claimant`); both when `role` is "
        "left out. `state` keeps one state only. Newest first, 50 a page. Admins "
        "see only their own disputes here too.",
        parameters=[
            OpenApiParameter(
                "role",
                enum=["disputer", "claimant"],
                description="disputer: the ones you opened; claimant: the ones "
                "about your registrations.",
            ),
            OpenApiParameter("state", enum=Dispute.State.values),
        ],
        responses={
            200: DisputeOutputSerializer(many=True),
            **errors(
                400,
                401,
                404,
                descriptions={
                    400: "An unknown role or state.",
                    404: "No such page (past the last one, or not a number).",
                },
            ),
        },
        examples=[
            OpenApiExample(
                "Awaiting the claimant",
                value=DISPUTE_OPENED_EXAMPLE,
                response_only=True,
            )
        ],
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
        description="Any signed-in account may dispute someone else's work, image "
        "or claim (disputing your own is a 400; `impersonation` is for style "
        "claims only). The claimant is notified and has DISPUTE_RESPONSE_DAYS "
        "days (14 by default) to respond, so the dispute starts in "
        "`awaiting_response`. Evidence: up to 20 URLs, and files (at most "
        "DISPUTE_EVIDENCE_MAX_FILES, 10 by default) sent as multipart/form-data. "
        "A 409 if you already have an unresolved dispute on the target, if one of "
        "yours with the same grounds and statement was already decided, or if "
        "the target is no longer enforced.",
        request={
            "multipart/form-data": CreateInputSerializer,
            "application/json": CreateInputSerializer,
        },
        responses={
            201: DisputeOutputSerializer,
            **errors(
                400,
                401,
                403,
                404,
                409,
                429,
                descriptions={
                    403: "Your email address is not confirmed yet "
                    "(`email_unverified`), or the token lacks the dispute scope.",
                    429: "You have DISPUTE_MAX_OPEN_PER_ACCOUNT disputes open or "
                    "opened DISPUTE_MAX_PER_DAY in 24 hours (`limit_reached`).",
                    404: "The target does not exist.",
                    409: "You already dispute this target, the same dispute was "
                    "already decided, or the target is not enforced.",
                },
            ),
        },
        examples=[
            OpenApiExample(
                "Dispute a claim with JSON",
                value=DISPUTE_CREATE_EXAMPLE,
                request_only=True,
            ),
            OpenApiExample(
                "Dispute a claim with files",
                value=DISPUTE_CREATE_MULTIPART_EXAMPLE,
                description="`files` stands for the file parts: repeat the field "
                "once per file.",
                request_only=True,
                media_type="multipart/form-data",
            ),
            OpenApiExample(
                "Awaiting the claimant",
                value=DISPUTE_OPENED_EXAMPLE,
                response_only=True,
                status_codes=["201"],
            ),
        ],
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
            named=data["named"],
        )
        return _detail(request, dispute.pk, status.HTTP_201_CREATED)


class DisputeDetailApi(APIView):
    required_scopes = (Scope.DISPUTE, Scope.REVIEW)

    @extend_schema(
        tags=["disputes"],
        summary="One dispute",
        description="A dispute with its evidence, the claimant's response and "
        "the decision once made. Only its disputer, its claimant and admins see "
        "it (anyone else gets a 404); `you_are` says which of them you are.",
        parameters=[path_id("dispute_id")],
        responses={200: DisputeOutputSerializer, **errors(401, 404)},
        examples=[
            OpenApiExample(
                "Answered and under review",
                value=DISPUTE_ANSWERED_EXAMPLE,
                response_only=True,
            )
        ],
    )
    def get(self, request: Request, dispute_id: int) -> Response:
        return _detail(request, dispute_id)


class DisputeRespondApi(APIView):
    required_scopes = Scope.DISPUTE

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
        description="The claimant answers once, with optional evidence files sent "
        "as multipart/form-data. Only while the dispute is `awaiting_response` "
        "(else 409), and only the claimant (the disputer or an admin gets a 403). "
        "The dispute then goes to `under_review` for an admin, and the disputer "
        "is notified.",
        parameters=[path_id("dispute_id")],
        request={
            "multipart/form-data": InputSerializer,
            "application/json": InputSerializer,
        },
        responses={
            200: DisputeOutputSerializer,
            **errors(
                400,
                401,
                403,
                404,
                409,
                descriptions={
                    403: "You can see the dispute but are not its claimant.",
                    409: "The dispute no longer awaits a response.",
                },
            ),
        },
        examples=[
            OpenApiExample(
                "An answer with JSON",
                value=DISPUTE_RESPOND_EXAMPLE,
                request_only=True,
            ),
            OpenApiExample(
                "An answer with files",
                value=DISPUTE_RESPOND_MULTIPART_EXAMPLE,
                description="`files` stands for the file parts: repeat the field "
                "once per file.",
                request_only=True,
                media_type="multipart/form-data",
            ),
            OpenApiExample(
                "Answered and under review",
                value=DISPUTE_ANSWERED_EXAMPLE,
                response_only=True,
            ),
        ],
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
    required_scopes = Scope.DISPUTE

    @extend_schema(
        tags=["disputes"],
        summary="Withdraw a dispute you opened",
        description="The disputer drops the dispute at any time before it is "
        "resolved; no request body. It becomes `withdrawn`, any enforcement "
        "suspended while it was open is restored, and the claimant is notified. "
        "Only the disputer may (403 for the claimant or an admin); a resolved or "
        "withdrawn dispute is a 409.",
        parameters=[path_id("dispute_id")],
        request=None,
        responses={
            200: DisputeOutputSerializer,
            **errors(
                401,
                403,
                404,
                409,
                descriptions={
                    403: "You can see the dispute but did not open it.",
                    409: "The dispute is already resolved or withdrawn.",
                },
            ),
        },
        examples=[
            OpenApiExample(
                "Withdrawn",
                value=DISPUTE_WITHDRAWN_EXAMPLE,
                response_only=True,
            )
        ],
    )
    def post(self, request: Request, dispute_id: int) -> Response:
        services.dispute_withdraw(user=request.user, dispute_id=dispute_id)
        return _detail(request, dispute_id)


class DisputeResolveApi(APIView):
    required_scopes = Scope.REVIEW

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
        description="An admin decides a dispute that is `awaiting_response` or "
        "`under_review` (else 409): `upheld` keeps the registration, `revoked` "
        "stops enforcing it, `narrowed` keeps part of it (`narrowed_to` for a URL "
        "prefix or domain claim, `excluded_images` for a work; one image cannot "
        "be narrowed). A revoke or narrowing of a verified rights holder's claim, "
        "or one touching more than DISPUTE_SECOND_ADMIN_IMAGES images (1000 by "
        "default), waits in `pending_confirmation` for a second admin. Otherwise "
        "it takes effect at once (`resolved`; both parties are notified).",
        parameters=[path_id("dispute_id")],
        request=InputSerializer,
        responses={
            200: DisputeOutputSerializer,
            **errors(
                400,
                401,
                403,
                404,
                409,
                descriptions={
                    403: "The account is not an admin.",
                    404: "No such dispute.",
                    409: "The dispute awaits no decision (it is pending "
                    "confirmation, resolved or withdrawn).",
                },
            ),
        },
        examples=[
            OpenApiExample(
                "Narrow a claim to a narrower prefix",
                value=DISPUTE_RESOLVE_NARROW_CLAIM_EXAMPLE,
                request_only=True,
            ),
            OpenApiExample(
                "Leave some images of a work out",
                value=DISPUTE_RESOLVE_NARROW_WORK_EXAMPLE,
                request_only=True,
            ),
            OpenApiExample(
                "Uphold",
                value=DISPUTE_RESOLVE_UPHOLD_EXAMPLE,
                request_only=True,
            ),
            OpenApiExample(
                "Waits for a second admin",
                value=DISPUTE_PROPOSED_EXAMPLE,
                response_only=True,
            ),
            OpenApiExample(
                "Upheld at once",
                value=DISPUTE_UPHELD_EXAMPLE,
                response_only=True,
            ),
        ],
    )
    def post(self, request: Request, dispute_id: int) -> Response:
        data = _valid(self.InputSerializer, request)
        services.dispute_resolve(admin=request.user, dispute_id=dispute_id, **data)
        return _detail(request, dispute_id)


class DisputeConfirmApi(APIView):
    required_scopes = Scope.REVIEW

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
        description="For a dispute in `pending_confirmation`, an admin other than "
        "the one who proposed the decision confirms it (`approve: true`: it takes "
        "effect and the dispute is `resolved`) or declines it (`approve: false` "
        "with a `reason`: the proposal is cleared and the dispute goes back to "
        "`under_review`). Any other state, or the proposing admin, is a 409.",
        parameters=[path_id("dispute_id")],
        request=InputSerializer,
        responses={
            200: DisputeOutputSerializer,
            **errors(
                400,
                401,
                403,
                404,
                409,
                descriptions={
                    403: "The account is not an admin.",
                    404: "No such dispute.",
                    409: "No decision awaits confirmation, or you proposed it.",
                },
            ),
        },
        examples=[
            OpenApiExample("Confirm", value=DISPUTE_CONFIRM_EXAMPLE, request_only=True),
            OpenApiExample("Decline", value=DISPUTE_DECLINE_EXAMPLE, request_only=True),
            OpenApiExample(
                "Confirmed and narrowed",
                value=DISPUTE_NARROWED_EXAMPLE,
                response_only=True,
            ),
            OpenApiExample(
                "Declined and back under review",
                value=DISPUTE_DECLINED_EXAMPLE,
                response_only=True,
            ),
        ],
    )
    def post(self, request: Request, dispute_id: int) -> Response:
        data = _valid(self.InputSerializer, request)
        services.dispute_confirm(admin=request.user, dispute_id=dispute_id, **data)
        return _detail(request, dispute_id)
