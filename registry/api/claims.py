"""Claims: list, create, read, withdraw, and "check now" for a domain's proof."""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
)
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import Pagination, errors, paginated_response, path_id
from core.errors import NotFound
from registry import selectors, services
from registry.api.shared import ClaimOutputSerializer
from registry.models import Claim
from registry.permissions import ArtistApi


class ClaimListCreateApi(ArtistApi):
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
        summary="The artist's claims",
        parameters=[
            OpenApiParameter("state", enum=Claim.State.values),
            OpenApiParameter("kind", enum=Claim.Kind.values),
        ],
        responses={200: OutputSerializer(many=True), **errors(400, 401, 403)},
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
        description="url and prefix claims are enforced at once; a domain claim "
        "is unverified until you prove control with its verification_token; a "
        "style claim waits for an admin (pending_review).",
        request=CreateInputSerializer,
        responses={201: OutputSerializer, **errors(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        serializer = self.CreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        claim = services.claim_create(owner=self.holder, **serializer.validated_data)
        return Response(
            self.OutputSerializer(claim).data, status=status.HTTP_201_CREATED
        )


class ClaimDetailApi(ArtistApi):
    @extend_schema(
        tags=["claims"],
        summary="One claim",
        parameters=[path_id("claim_id")],
        responses={200: ClaimOutputSerializer, **errors(401, 403, 404)},
    )
    def get(self, request: Request, claim_id: int) -> Response:
        claim = selectors.claim_get_for_owner(owner=self.holder, claim_id=claim_id)
        if claim is None:
            raise NotFound("claim not found")
        return Response(ClaimOutputSerializer(claim).data)


class ClaimWithdrawApi(ArtistApi):
    @extend_schema(
        tags=["claims"],
        summary="Withdraw a claim",
        parameters=[path_id("claim_id")],
        request=None,
        responses={200: ClaimOutputSerializer, **errors(401, 403, 404, 409)},
    )
    def post(self, request: Request, claim_id: int) -> Response:
        claim = services.claim_withdraw(owner=self.holder, claim_id=claim_id)
        return Response(ClaimOutputSerializer(claim).data)


class ClaimCheckApi(ArtistApi):
    @extend_schema(
        tags=["claims"],
        summary="Check a domain claim's proof of control now",
        description="Queues a check of the token at "
        "https://DOMAIN/.well-known/dnt-registry-verification.txt or in "
        '<meta name="dnt-registry-verification"> on the home page; the claim '
        "shows the result (proof_checked_at, proof_error) once it has run.",
        parameters=[path_id("claim_id")],
        request=None,
        responses={202: ClaimOutputSerializer, **errors(401, 403, 404, 409)},
    )
    def post(self, request: Request, claim_id: int) -> Response:
        claim = services.claim_domain_check_request(
            claim_id=claim_id, owner=self.holder
        )
        return Response(
            ClaimOutputSerializer(claim).data, status=status.HTTP_202_ACCEPTED
        )
