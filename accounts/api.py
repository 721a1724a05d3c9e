"""The accounts API (/api/v1/me/, /api/v1/tokens/): the signed-in account and
its API tokens. Same conventions as every app's api.py: one class per URL, one
method per verb, its own serializers and schema.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import ApiToken, Scope, User
from accounts.permissions import ANY_SCOPE
from core.api import Pagination, errors, paginated_response, path_id
from registry.selectors import rights_holder_for_user

from . import selectors, services


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Documents accounts.authentication.ApiTokenAuthentication in the schema."""

    target_class = "accounts.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>` (or `Bearer <key>`), with a key from "
            "POST /api/v1/tokens/.",
        }


class TokenOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    key_prefix = serializers.CharField(help_text="The key's first characters.")
    created = serializers.DateTimeField()
    last_used = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)
    active = serializers.BooleanField(source="is_active")
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=Scope.values),
        help_text="What the token may do: "
        + "; ".join(label for _, label in Scope.choices),
    )

    class Meta:
        ref_name = "ApiToken"


# Examples for the schema, kept next to the serializers they must fit.
TOKEN_EXAMPLE = {
    "id": 12,
    "name": "laptop",
    "key_prefix": "dnt_Xq3v",
    "created": "2026-11-24T08:20:00Z",
    "last_used": "2026-11-30T17:05:12Z",
    "revoked_at": None,
    "active": True,
    "scopes": ["check", "register"],
}
TOKEN_REVOKED_EXAMPLE = {
    **TOKEN_EXAMPLE,
    "revoked_at": "2026-12-01T09:14:03Z",
    "active": False,
}
TOKEN_CREATE_EXAMPLE = {"name": "ci runner", "scopes": ["check"]}
TOKEN_CREATED_EXAMPLE = {
    "id": 13,
    "name": "ci runner",
    "key_prefix": "dnt_TApE",
    "created": "2026-12-01T09:12:44Z",
    "last_used": None,
    "revoked_at": None,
    "active": True,
    "scopes": ["check"],
    "key": "dnt_TApEegwFXiZicIRy2UVS7wFOubjs_PxpAQrRrm6XDNo",
}
ME_ARTIST_EXAMPLE = {
    "id": 7,
    "username": "alice",
    "email": "alice@example.com",
    "roles": ["artist"],
    "rights_holder": {
        "id": 3,
        "display_name": "Alice Moreau",
        "contact_email": "studio@alice-moreau.example",
        "website": "https://alice-moreau.example/",
        "verified": True,
    },
}
ME_CURATOR_EXAMPLE = {
    "id": 9,
    "username": "carol",
    "email": "carol@dataset-lab.example",
    "roles": ["curator"],
    "rights_holder": None,
}


class RightsHolderSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    display_name = serializers.CharField()
    contact_email = serializers.EmailField()
    website = serializers.CharField()
    verified = serializers.BooleanField(help_text="Set by admins.")

    class Meta:
        ref_name = "MeRightsHolder"


class MeApi(APIView):
    required_scopes = ANY_SCOPE

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        username = serializers.CharField()
        email = serializers.EmailField()
        roles = serializers.ListField(
            child=serializers.ChoiceField(choices=["artist", "curator", "admin"])
        )
        rights_holder = RightsHolderSerializer(allow_null=True)

        class Meta:
            ref_name = "Me"

    @extend_schema(
        tags=["account"],
        summary="The signed-in account",
        description="The account the token or session belongs to: its id, "
        "username, email and roles. `rights_holder` is the artist profile, or "
        "null for an account that is not an artist (create one with POST "
        "/api/v1/me/rights-holder/). Any signed-in account may call it.",
        responses={200: OutputSerializer, **errors(401)},
        examples=[
            OpenApiExample("An artist", value=ME_ARTIST_EXAMPLE, response_only=True),
            OpenApiExample(
                "A curator (no artist profile)",
                value=ME_CURATOR_EXAMPLE,
                response_only=True,
            ),
        ],
    )
    def get(self, request: Request) -> Response:
        user: User = request.user
        holder = rights_holder_for_user(user=user)
        data = self.OutputSerializer(
            {
                "id": user.pk,
                "username": user.username,
                "email": user.email,
                "roles": user.roles,
                "rights_holder": holder,
            }
        ).data
        return Response(data)


class TokenListCreateApi(APIView):
    required_scopes = ANY_SCOPE

    pagination_class = Pagination

    ListOutputSerializer = TokenOutputSerializer

    class CreateInputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=100)
        scopes = serializers.ListField(
            child=serializers.ChoiceField(choices=Scope.values),
            required=False,
            max_length=len(Scope.values),
            help_text="What the token may do. Left out: the scopes of the "
            "account's roles. A token made with a token gets none that one lacks.",
        )

        class Meta:
            ref_name = "ApiTokenCreate"

    class CreateOutputSerializer(TokenOutputSerializer):
        key = serializers.SerializerMethodField()

        class Meta:
            ref_name = "ApiTokenCreated"

        @extend_schema_field(
            {
                "type": "string",
                "description": "The secret key. Shown this once; only a hash "
                "is stored.",
            }
        )
        def get_key(self, token: ApiToken) -> str:
            return self.context["key"]

    @extend_schema(
        tags=["tokens"],
        summary="The signed-in account's API tokens",
        description="Every token of the signed-in account, revoked ones "
        "included, newest first, 50 to a page (`?page=`; a page past the last "
        "is a 404). The secret keys are never shown again: only their first "
        "characters (`key_prefix`).",
        responses={200: ListOutputSerializer(many=True), **errors(401, 404)},
        examples=[
            OpenApiExample("A token", value=TOKEN_EXAMPLE, response_only=True),
        ],
    )
    def get(self, request: Request) -> Response:
        tokens = selectors.api_token_list_for_user(user=request.user)
        return paginated_response(
            queryset=tokens,
            serializer_class=self.ListOutputSerializer,
            request=request,
            view=self,
        )

    @extend_schema(
        tags=["tokens"],
        summary="Create an API token",
        description="A new token for the signed-in account, named for your own "
        "reference (leading and trailing spaces are dropped; 1 to 100 "
        "characters; names need not be unique) with its `scopes` (left out: "
        "those of the account's roles). The answer holds the secret "
        "`key`, shown this once: send it as `Authorization: Token <key>`. Each "
        "call creates another token. The answer is not cached "
        "(`Cache-Control: no-store`).",
        request=CreateInputSerializer,
        responses={201: CreateOutputSerializer, **errors(400, 401)},
        examples=[
            OpenApiExample(
                "A token for a CI job", value=TOKEN_CREATE_EXAMPLE, request_only=True
            ),
            OpenApiExample(
                "The new token and its key",
                value=TOKEN_CREATED_EXAMPLE,
                response_only=True,
                status_codes=["201"],
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        serializer = self.CreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, key = services.api_token_create(
            user=request.user,
            name=serializer.validated_data["name"],
            scopes=serializer.validated_data.get("scopes"),
            creator_token=request.auth if isinstance(request.auth, ApiToken) else None,
        )
        return Response(
            self.CreateOutputSerializer(token, context={"key": key}).data,
            status=status.HTTP_201_CREATED,
            # The key is shown this once: no cache may keep a copy.
            headers={"Cache-Control": "no-store"},
        )


class TokenRevokeApi(APIView):
    required_scopes = ANY_SCOPE

    @extend_schema(
        tags=["tokens"],
        summary="Revoke an API token",
        description="Revokes one of the signed-in account's tokens (the one "
        "making the call included); it stops working at once and stays listed "
        "as revoked. Revoking a revoked token changes nothing and answers the "
        "same. Another account's token is a 404.",
        parameters=[path_id("token_id")],
        responses={200: TokenOutputSerializer, **errors(401, 403, 404)},
        examples=[
            OpenApiExample(
                "The revoked token", value=TOKEN_REVOKED_EXAMPLE, response_only=True
            ),
        ],
    )
    def delete(self, request: Request, token_id: int) -> Response:
        token: ApiToken = services.api_token_revoke(
            user=request.user,
            token_id=token_id,
            revoker_token=request.auth if isinstance(request.auth, ApiToken) else None,
        )
        return Response(TokenOutputSerializer(token).data)
