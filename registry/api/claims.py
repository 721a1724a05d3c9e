"""Claims: list, create, read, withdraw, and "check now" for a domain's proof."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
)
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Scope
from core.api import Pagination, paginated_response, path_id
from core.errors import NotFound, ValidationFailed
from core.throttles import CheckNowThrottle
from registry import selectors, services
from registry.api.examples import (
    CLAIM_DOMAIN_EXAMPLE,
    CLAIM_STYLE_EXAMPLE,
    CLAIM_URL_EXAMPLE,
)
from registry.api.shared import (
    ClaimOutputSerializer,
)
from registry.models import Claim
from registry.permissions import ArtistApi, artist_errors


class ClaimListCreateApi(ArtistApi):
    required_scopes = Scope.REGISTER

    pagination_class = Pagination

    class ListFilterSerializer(serializers.Serializer):
        state = serializers.ChoiceField(choices=Claim.State.choices, required=False)
        kind = serializers.ChoiceField(choices=Claim.Kind.choices, required=False)

    class CreateInputSerializer(serializers.Serializer):
        kind = serializers.ChoiceField(choices=Claim.Kind.choices)
        value = serializers.CharField(
            max_length=2048,
            help_text="A URL (url, prefix), a domain name (domain) or your name "
            "as a style (style).",
        )
        aliases = serializers.ListField(
            child=serializers.CharField(max_length=200),
            required=False,
            default=list,
            max_length=50,
            help_text="Style claims only: other spellings of the name.",
        )
        preferences = serializers.DictField(
            child=serializers.CharField(),
            required=False,
            default=dict,
            help_text="What the claim says per use (IETF aipref categories, y "
            "or n): train-ai is always n; URL, prefix and domain claims may say "
            'search and ai-use too, e.g. {"search": "y", "ai-use": "n"}.',
        )

        class Meta:
            ref_name = "ClaimCreate"

    OutputSerializer = ClaimOutputSerializer

    @extend_schema(
        tags=["claims"],
        summary="List the artist's claims",
        description="The signed-in artist's claims in every state, newest first, "
        "50 to a page (a page number past the last page is a 404). state and "
        "kind keep only claims in that state or of that kind.",
        parameters=[
            OpenApiParameter("state", enum=Claim.State.values),
            OpenApiParameter("kind", enum=Claim.Kind.values),
        ],
        responses={
            200: OutputSerializer(many=True),
            **artist_errors(400, 401, 403, 404),
        },
        examples=[
            OpenApiExample(
                "A page of claims",
                value=CLAIM_URL_EXAMPLE,
                response_only=True,
                status_codes=["200"],
            ),
        ],
    )
    def get(self, request: Request) -> Response:
        filters = self.ListFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        claims = selectors.claim_list_for_owner(
            owner=self.holder, **filters.validated_data
        )
        return paginated_response(
            queryset=claims,
            serializer_class=self.OutputSerializer,
            request=request,
            view=self,
        )

    @extend_schema(
        tags=["claims"],
        summary="Claim a URL, a URL prefix, a domain or a style name",
        description="url claims are enforced at once; a prefix claim at once "
        "only on a host you have proved (an active domain claim on it or a parent "
        "domain), else it is pending_review (see pending_reason) until you prove "
        "the host or an admin approves it; a domain claim "
        "is unverified until you serve its verification_token on the domain and "
        "ask for a check (POST /api/v1/claims/{claim_id}/check/); a style claim "
        "waits for an admin (pending_review). Only style claims take aliases. "
        "Claiming again what you already claim is a 400, unless the earlier "
        "claim was withdrawn or rejected.",
        request=CreateInputSerializer,
        responses={201: OutputSerializer, **artist_errors(400, 401, 403)},
        examples=[
            OpenApiExample(
                "A URL",
                value={
                    "kind": "url",
                    "value": "https://Alice.example/art/harbour-at-dawn.jpg",
                },
                request_only=True,
            ),
            OpenApiExample(
                "A domain, open to search engines",
                value={
                    "kind": "domain",
                    "value": "alice.example",
                    "preferences": {"search": "y"},
                },
                request_only=True,
            ),
            OpenApiExample(
                "A style name",
                value={
                    "kind": "style",
                    "value": "Alice Moreau",
                    "aliases": ["A. Moreau"],
                },
                request_only=True,
            ),
            OpenApiExample(
                "URL claim",
                summary="A URL claim, enforced at once",
                value=CLAIM_URL_EXAMPLE,
                response_only=True,
                status_codes=["201"],
            ),
            OpenApiExample(
                "Domain claim",
                summary="A domain claim, waiting for its proof",
                value=CLAIM_DOMAIN_EXAMPLE,
                response_only=True,
                status_codes=["201"],
            ),
            OpenApiExample(
                "Style claim",
                summary="A style claim, waiting for review",
                value=CLAIM_STYLE_EXAMPLE,
                response_only=True,
                status_codes=["201"],
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        serializer = self.CreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        claim = services.claim_create(owner=self.holder, **serializer.validated_data)
        return Response(
            self.OutputSerializer(claim).data, status=status.HTTP_201_CREATED
        )


class BulkLineErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField(help_text="1 is the first line.")
    value = serializers.CharField()
    message = serializers.CharField()

    class Meta:
        ref_name = "ClaimBulkLineError"


class ClaimBulkCreateApi(ArtistApi):
    required_scopes = Scope.REGISTER

    parser_classes = [JSONParser, MultiPartParser, FormParser]

    class InputSerializer(serializers.Serializer):
        kind = serializers.ChoiceField(
            choices=[Claim.Kind.URL, Claim.Kind.PREFIX, Claim.Kind.DOMAIN],
            default=Claim.Kind.URL,
            help_text="The kind of a line that does not say its own "
            "(`prefix,https://…`, `domain,example.com`).",
        )
        lines = serializers.CharField(
            required=False,
            allow_blank=True,
            trim_whitespace=False,
            max_length=8 * 1024 * 1024,
            help_text="One claim per line (or CSV with the columns kind,value).",
        )
        file = serializers.FileField(
            required=False, help_text="The same as a UTF-8 text or CSV file."
        )

        class Meta:
            ref_name = "ClaimBulkCreate"

    class OutputSerializer(serializers.Serializer):
        created = ClaimOutputSerializer(many=True)
        errors = BulkLineErrorSerializer(many=True)

        class Meta:
            ref_name = "ClaimBulkResult"

    @extend_schema(
        tags=["claims"],
        summary="Claim many URLs, prefixes or domains at once",
        description="Each line is one claim and follows the rules of POST "
        "/api/v1/claims/ (proof for prefixes and domains, the cap on exact URLs "
        "on an unproved host, revoked claims). Up to CLAIM_BULK_MAX_LINES lines "
        "(10,000 by default), as `lines` (JSON or a form) or a `file` "
        "(multipart, UTF-8, at most CLAIM_BULK_MAX_BYTES). Blank lines and "
        "lines starting with # are skipped. Good lines are kept; the others "
        "come back in `errors` with their line number and message: 201 when at "
        "least one claim was made, else 400 with the same `errors` under "
        "`extra`.",
        request={
            "application/json": InputSerializer,
            "multipart/form-data": InputSerializer,
        },
        responses={201: OutputSerializer, **artist_errors(400, 401, 403)},
        examples=[
            OpenApiExample(
                "URLs, one a prefix",
                value={
                    "kind": "url",
                    "lines": "https://alice.example/art/a.jpg\n"
                    "https://alice.example/art/b.jpg\n"
                    "prefix,https://alice.example/sketches/\n",
                },
                request_only=True,
            ),
            OpenApiExample(
                "Two made, one refused",
                value={
                    "created": [CLAIM_URL_EXAMPLE, CLAIM_URL_EXAMPLE],
                    "errors": [
                        {
                            "line": 3,
                            "value": "alice.example/sketches",
                            "message": "'alice.example/sketches' is not a valid URL",
                        }
                    ],
                },
                response_only=True,
                status_codes=["201"],
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        upload = data.get("file")
        if upload is not None:
            raw = upload.read(settings.CLAIM_BULK_MAX_BYTES + 1)
            text = services.claims_text_from_file(name=upload.name, data=raw)
        else:
            text = data.get("lines") or ""
        result = services.claim_create_bulk(
            owner=self.holder, text=text, default_kind=data["kind"]
        )
        errors_out = [
            {"line": e.line, "value": e.value, "message": e.message}
            for e in result.errors
        ]
        if not result.created:
            raise ValidationFailed(
                f"lines: no claim was made; {len(errors_out)} lines refused",
                field="lines",
                extra={"errors": errors_out},
            )
        body = {
            "created": ClaimOutputSerializer(result.created, many=True).data,
            "errors": errors_out,
        }
        return Response(body, status=status.HTTP_201_CREATED)


class ClaimDetailApi(ArtistApi):
    required_scopes = Scope.REGISTER

    @extend_schema(
        tags=["claims"],
        summary="Get one claim",
        description="One of the signed-in artist's claims, with its state and, "
        "for a domain, its verification_token and the result of the last proof "
        "check. Another artist's claim is a 404.",
        parameters=[path_id("claim_id")],
        responses={200: ClaimOutputSerializer, **artist_errors(401, 403, 404)},
        examples=[
            OpenApiExample(
                "A verified domain",
                value={
                    **CLAIM_DOMAIN_EXAMPLE,
                    "state": "active",
                    "activated_at": "2026-11-24T09:10:02Z",
                    "proof_checked_at": "2026-11-24T09:10:02Z",
                    "proof_method": "file",
                },
                response_only=True,
                status_codes=["200"],
            ),
        ],
    )
    def get(self, request: Request, claim_id: int) -> Response:
        claim = selectors.claim_get_for_owner(owner=self.holder, claim_id=claim_id)
        if claim is None:
            raise NotFound("claim not found")
        return Response(ClaimOutputSerializer(claim).data)


class ClaimWithdrawApi(ArtistApi):
    required_scopes = Scope.REGISTER

    @extend_schema(
        tags=["claims"],
        summary="Withdraw a claim",
        description="Stops the claim for good, whatever its state: an enforced "
        "claim is no longer matched by match jobs started afterwards. There is no "
        "undo, but the same value may be claimed again. A claim that is already "
        "withdrawn is a 409.",
        parameters=[path_id("claim_id")],
        request=None,
        responses={200: ClaimOutputSerializer, **artist_errors(401, 403, 404, 409)},
        examples=[
            OpenApiExample(
                "Withdrawn",
                value={
                    **CLAIM_URL_EXAMPLE,
                    "state": "withdrawn",
                    "withdrawn_at": "2026-12-02T16:05:31Z",
                },
                response_only=True,
                status_codes=["200"],
            ),
        ],
    )
    def post(self, request: Request, claim_id: int) -> Response:
        claim = services.claim_withdraw(owner=self.holder, claim_id=claim_id)
        return Response(ClaimOutputSerializer(claim).data)


class ClaimCheckApi(ArtistApi):
    required_scopes = Scope.REGISTER
    throttle_classes = [CheckNowThrottle]

    @extend_schema(
        tags=["claims"],
        summary="Check a domain claim's proof of control now",
        description="Queues a check of the token at "
        "https://DOMAIN/.well-known/dnt-registry-verification.txt or in "
        '<meta name="dnt-registry-verification"> on the home page and answers '
        "at once with the claim as it is; read the claim later for the result "
        "(state, proof_checked_at, proof_method, proof_error). Only unverified, "
        "active and proof-lost (suspended) domain claims are checked; any other "
        "claim is a 409.",
        parameters=[path_id("claim_id")],
        request=None,
        responses={
            202: ClaimOutputSerializer,
            **artist_errors(401, 403, 404, 409, 429, 503),
        },
        examples=[
            OpenApiExample(
                "Check queued after a failed one",
                value={
                    **CLAIM_DOMAIN_EXAMPLE,
                    "proof_checked_at": "2026-11-24T08:52:40Z",
                    "proof_error": "https://alice.example/.well-known/"
                    "dnt-registry-verification.txt: HTTP 404; "
                    'no <meta name="dnt-registry-verification"> tag in '
                    "https://alice.example/",
                },
                response_only=True,
                status_codes=["202"],
            ),
        ],
    )
    def post(self, request: Request, claim_id: int) -> Response:
        claim = services.claim_domain_check_request(
            claim_id=claim_id, owner=self.holder
        )
        return Response(
            ClaimOutputSerializer(claim).data, status=status.HTTP_202_ACCEPTED
        )
