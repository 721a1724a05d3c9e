"""Claims: list, create, read, withdraw, and "check now" for a domain's proof."""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
)
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Scope
from core.api import Pagination, paginated_response, path_id
from core.errors import NotFound
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
                "A domain",
                value={"kind": "domain", "value": "alice.example"},
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
        responses={202: ClaimOutputSerializer, **artist_errors(401, 403, 404, 409)},
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
