"""The artist's profile, works, images (uploaded or registered by hashes), the
portfolio upload and the registry revision.
"""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
)
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Scope
from core.api import Pagination, errors, paginated_response, path_id
from core.errors import NotFound
from registry import selectors, services
from registry.api.examples import (
    RIGHTS_HOLDER_EXAMPLE,
    WORK_DETAIL_EXAMPLE,
    WORK_EXAMPLE,
)
from registry.api.shared import (
    RightsHolderOutputSerializer,
    WorkDetailOutputSerializer,
    WorkOutputSerializer,
)
from registry.models import Work
from registry.permissions import ArtistApi, artist_errors, artist_holder


class RightsHolderApi(APIView):
    required_scopes = Scope.REGISTER

    class CreateInputSerializer(serializers.Serializer):
        display_name = serializers.CharField(
            max_length=200, required=False, help_text="Defaults to the username."
        )
        website = serializers.URLField(required=False, allow_blank=True, default="")

        class Meta:
            ref_name = "RightsHolderCreate"

    class UpdateInputSerializer(serializers.Serializer):
        display_name = serializers.CharField(max_length=200, required=False)
        contact_email = serializers.EmailField(required=False)
        website = serializers.URLField(required=False, allow_blank=True)

        class Meta:
            ref_name = "RightsHolderUpdate"

    OutputSerializer = RightsHolderOutputSerializer

    @extend_schema(
        tags=["account"],
        summary="Register the signed-in account as an artist",
        description="Any signed-in account may call this to become an artist (a "
        "rights holder) and so use the works, images, portfolio and claims "
        "operations. display_name defaults to the username; contact_email is the "
        "account's email address. Idempotent: an account that is already an "
        "artist gets its profile back unchanged with 200 (the values sent are "
        "validated but not applied; use PATCH to change them).",
        request=CreateInputSerializer,
        responses={
            201: OutputSerializer,
            200: OutputSerializer,
            **errors(400, 401),
        },
        examples=[
            OpenApiExample(
                "Become an artist",
                value={
                    "display_name": "Alice Moreau",
                    "website": "https://alice.example",
                },
                request_only=True,
            ),
            OpenApiExample(
                "Registered",
                value=RIGHTS_HOLDER_EXAMPLE,
                response_only=True,
                status_codes=["201"],
            ),
            OpenApiExample(
                "Already an artist",
                value={**RIGHTS_HOLDER_EXAMPLE, "verified": True},
                response_only=True,
                status_codes=["200"],
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        serializer = self.CreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        existed = selectors.rights_holder_for_user(user=request.user) is not None
        holder = services.rights_holder_create(
            user=request.user,
            display_name=data.get("display_name") or request.user.username,
            website=data["website"],
        )
        return Response(
            self.OutputSerializer(holder).data,
            status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED,
        )

    @extend_schema(
        tags=["account"],
        summary="Change the artist's public details",
        description="Changes the signed-in artist's display_name, contact_email "
        "or website; fields left out keep their values. display_name may not be "
        'blank; website may be emptied with "". verified is set by admins only.',
        request=UpdateInputSerializer,
        responses={200: OutputSerializer, **artist_errors(400, 401, 403)},
        examples=[
            OpenApiExample(
                "New contact address",
                value={"contact_email": "studio@alice.example"},
                request_only=True,
            ),
            OpenApiExample(
                "Updated",
                value={
                    **RIGHTS_HOLDER_EXAMPLE,
                    "contact_email": "studio@alice.example",
                },
                response_only=True,
                status_codes=["200"],
            ),
        ],
    )
    def patch(self, request: Request) -> Response:
        holder = artist_holder(request.user)
        serializer = self.UpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        holder = services.rights_holder_update(
            holder=holder, **serializer.validated_data
        )
        return Response(self.OutputSerializer(holder).data)


class WorkListCreateApi(ArtistApi):
    required_scopes = Scope.REGISTER

    pagination_class = Pagination

    class ListFilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=Work.Status.choices, required=False)

    ListOutputSerializer = WorkOutputSerializer

    class CreateInputSerializer(serializers.Serializer):
        title = serializers.CharField(max_length=300)
        description = serializers.CharField(
            required=False, allow_blank=True, default=""
        )
        source_urls = serializers.ListField(
            child=serializers.CharField(max_length=2048),
            required=False,
            default=list,
            max_length=100,
            help_text="Where the work is published (http(s) URLs).",
        )

        class Meta:
            ref_name = "WorkCreate"

    CreateOutputSerializer = WorkDetailOutputSerializer

    @extend_schema(
        tags=["works"],
        summary="List the artist's works",
        description="The signed-in artist's works, newest first, 50 to a page "
        "(a page number past the last page is a 404). status keeps only active "
        "or only withdrawn works. image_count counts every image of a work, "
        "pending_count those not fingerprinted yet.",
        parameters=[
            OpenApiParameter("status", enum=Work.Status.values),
        ],
        responses={
            200: ListOutputSerializer(many=True),
            **artist_errors(400, 401, 403, 404),
        },
        examples=[
            OpenApiExample(
                "A page of works",
                value=WORK_EXAMPLE,
                response_only=True,
                status_codes=["200"],
            ),
        ],
    )
    def get(self, request: Request) -> Response:
        filters = self.ListFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        works = selectors.work_list_for_owner(
            owner=self.holder, status=filters.validated_data.get("status")
        )
        return paginated_response(
            queryset=works,
            serializer_class=self.ListOutputSerializer,
            request=request,
            view=self,
        )

    @extend_schema(
        tags=["works"],
        summary="Create a work",
        description="Creates an active work with no images; add them with POST "
        "/api/v1/portfolio/ or POST /api/v1/images/hashes/, giving the work's id. "
        "The title may not be blank. source_urls must be http(s) URLs and are "
        "stored normalized; they are for reference and are not matched (claim "
        "a URL for that).",
        request=CreateInputSerializer,
        responses={201: CreateOutputSerializer, **artist_errors(400, 401, 403)},
        examples=[
            OpenApiExample(
                "New work",
                value={
                    "title": "Harbour at dawn",
                    "description": "Oil on canvas, 2024.",
                    "source_urls": ["https://alice.example/art/harbour-at-dawn"],
                },
                request_only=True,
            ),
            OpenApiExample(
                "Created",
                value={
                    **WORK_DETAIL_EXAMPLE,
                    "image_count": 0,
                    "images": [],
                },
                response_only=True,
                status_codes=["201"],
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        serializer = self.CreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        work = services.work_create(owner=self.holder, **serializer.validated_data)
        work = selectors.work_get_for_owner(owner=self.holder, work_id=work.pk)
        return Response(
            self.CreateOutputSerializer(work, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class WorkDetailApi(ArtistApi):
    required_scopes = Scope.REGISTER

    class UpdateInputSerializer(serializers.Serializer):
        title = serializers.CharField(max_length=300, required=False)
        description = serializers.CharField(required=False, allow_blank=True)
        source_urls = serializers.ListField(
            child=serializers.CharField(max_length=2048),
            required=False,
            max_length=100,
        )

        class Meta:
            ref_name = "WorkUpdate"

    OutputSerializer = WorkDetailOutputSerializer

    @extend_schema(
        tags=["works"],
        summary="Get one work with its images",
        description="One of the signed-in artist's works, with every image in it "
        "(oldest first) and their fingerprints. Another artist's work is a 404.",
        parameters=[path_id("work_id")],
        responses={200: OutputSerializer, **artist_errors(401, 403, 404)},
        examples=[
            OpenApiExample(
                "A work with one image",
                value=WORK_DETAIL_EXAMPLE,
                response_only=True,
                status_codes=["200"],
            ),
        ],
    )
    def get(self, request: Request, work_id: int) -> Response:
        work = selectors.work_get_for_owner(owner=self.holder, work_id=work_id)
        if work is None:
            raise NotFound("work not found")
        return Response(self.OutputSerializer(work, context={"request": request}).data)

    @extend_schema(
        tags=["works"],
        summary="Change a work's title, description or source URLs",
        description="Fields left out keep their values; source_urls, when sent, "
        "replaces the whole list. The title may not be blank and source_urls must "
        "be http(s) URLs. Withdrawn works may be edited too; this changes nothing "
        "that is enforced.",
        parameters=[path_id("work_id")],
        request=UpdateInputSerializer,
        responses={200: OutputSerializer, **artist_errors(400, 401, 403, 404)},
        examples=[
            OpenApiExample(
                "New description",
                value={"description": "Oil on canvas, 2024. Private collection."},
                request_only=True,
            ),
            OpenApiExample(
                "Updated",
                value={
                    **WORK_DETAIL_EXAMPLE,
                    "description": "Oil on canvas, 2024. Private collection.",
                },
                response_only=True,
                status_codes=["200"],
            ),
        ],
    )
    def patch(self, request: Request, work_id: int) -> Response:
        serializer = self.UpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.work_update(
            owner=self.holder, work_id=work_id, **serializer.validated_data
        )
        work = selectors.work_get_for_owner(owner=self.holder, work_id=work_id)
        return Response(self.OutputSerializer(work, context={"request": request}).data)


class WorkWithdrawApi(ArtistApi):
    required_scopes = Scope.REGISTER

    @extend_schema(
        tags=["works"],
        summary="Withdraw a work",
        description="Stops enforcing the work and all its images: match jobs "
        "started afterwards no longer match them. There is no undo, and images "
        "cannot be added to a withdrawn work. Withdrawing a work that is already "
        "withdrawn is a 409.",
        parameters=[path_id("work_id")],
        request=None,
        responses={
            200: WorkDetailOutputSerializer,
            **artist_errors(401, 403, 404, 409),
        },
        examples=[
            OpenApiExample(
                "Withdrawn",
                value={
                    **WORK_DETAIL_EXAMPLE,
                    "status": "withdrawn",
                    "withdrawn_at": "2026-12-02T16:05:31Z",
                },
                response_only=True,
                status_codes=["200"],
            ),
        ],
    )
    def post(self, request: Request, work_id: int) -> Response:
        services.work_withdraw(owner=self.holder, work_id=work_id)
        work = selectors.work_get_for_owner(owner=self.holder, work_id=work_id)
        return Response(
            WorkDetailOutputSerializer(work, context={"request": request}).data
        )


# The receipt keys document's URL name (optout/urls.py serves it).
KEYS_URL_NAME = "receipt_keys"


class ApiRootApi(APIView):
    """GET /api/v1/: which registry this is, and where its API is described."""

    required_scopes = "*"  # accounts.permissions.ANY_SCOPE: any token, or none
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    class OutputSerializer(serializers.Serializer):
        registry = serializers.UUIDField(
            help_text="This registry's id, made once when it was installed: "
            "receipts and snapshots name it beside the revision, since every "
            "registry counts revisions from 0."
        )
        name = serializers.CharField()
        url = serializers.CharField(help_text="The site, as receipts name it.")
        api = serializers.CharField(help_text="The API version: v1.")
        docs = serializers.CharField(help_text="The API's documentation page.")
        schema = serializers.CharField(help_text="Its OpenAPI schema.")
        keys = serializers.CharField(
            help_text="The registry's receipt-signing keys "
            "(/.well-known/dnt-registry-keys.json)."
        )

        class Meta:
            ref_name = "ApiRoot"

    @extend_schema(
        tags=["registry"],
        summary="Which registry this is",
        description="Public: no account needed. The registry's id, name and "
        "site, and where the API's documentation, schema and receipt keys are. "
        "The current revision is at /api/v1/registry/revision/ (signed in).",
        responses={
            200: OutputSerializer,
            **errors(503, descriptions={503: "The database is away."}),
        },
        examples=[
            OpenApiExample(
                "This registry",
                value={
                    "registry": "5b0e7c1e-8a4f-4c3e-9d51-2f6a9b7c0d14",
                    "name": "Opt-out registry",
                    "url": "https://registry.example",
                    "api": "v1",
                    "docs": "https://registry.example/api/docs/",
                    "schema": "https://registry.example/api/schema/",
                    "keys": "https://registry.example/.well-known/"
                    "dnt-registry-keys.json",
                },
                response_only=True,
                status_codes=["200"],
            ),
        ],
    )
    def get(self, request: Request) -> Response:
        body = {
            "registry": selectors.registry_identity(),
            "name": settings.SITE_NAME,
            "url": settings.SITE_URL,
            "api": "v1",
            "docs": request.build_absolute_uri(reverse("api-docs")),
            "schema": request.build_absolute_uri(reverse("api-schema")),
            "keys": request.build_absolute_uri(reverse(KEYS_URL_NAME)),
        }
        return Response(self.OutputSerializer(body).data)


class RegistryRevisionApi(APIView):
    required_scopes = (Scope.CHECK, Scope.SNAPSHOT_READ)

    class OutputSerializer(serializers.Serializer):
        revision = serializers.IntegerField(
            help_text="Bumped by every change to what is enforced."
        )
        registry = serializers.UUIDField(
            help_text="This registry's id, made once when it was installed. "
            "Receipts name it beside the revision, since every registry counts "
            "revisions from 0."
        )

        class Meta:
            ref_name = "RegistryRevision"

    @extend_schema(
        tags=["registry"],
        summary="Get the registry's current revision",
        description="Any signed-in account may read it. The revision goes up "
        "with every change to what is enforced (an image hashed or withdrawn, a "
        "claim activated or withdrawn, a dispute decided), so a client can tell "
        "whether the registry changed since a match job ran at an earlier one. "
        "`registry` is the registry's own id, as signed receipts and "
        "/.well-known/dnt-registry-keys.json name it.",
        responses={200: OutputSerializer, **errors(401)},
        examples=[
            OpenApiExample(
                "Current revision",
                value={
                    "revision": 1842,
                    "registry": "5b0e7c1e-8a4f-4c3e-9d51-2f6a9b7c0d14",
                },
                response_only=True,
                status_codes=["200"],
            ),
        ],
    )
    def get(self, request: Request) -> Response:
        body = {
            "revision": selectors.registry_revision_current(),
            "registry": selectors.registry_identity(),
        }
        return Response(self.OutputSerializer(body).data)
