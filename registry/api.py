"""The artists' REST API (/api/v1/): accounts, tokens, works, images and claims.

One class per URL and one method per HTTP verb, each method with its own schema
and its own input and output serializers: parse, call one service or selector,
serialize. Services raise DomainError and the project's exception handler turns
it into `{"message", "code", "extra"}`. Someone else's object is "not found"
(404), never "forbidden", so ids leak nothing.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import (
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.db.models import QuerySet
from django.urls import Resolver404, resolve
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import selectors, services
from .errors import NotFound, ValidationFailed
from .models import ApiToken, Claim, Image, RightsHolder, User, Work
from .uploads import IncomingFile

# Ids are 64-bit signed integers in every database we run on; a bigger number
# in a URL, a filter or a body is "not found" or "invalid", never a crash.
ID_MAX = 2**63 - 1

NOT_AN_ARTIST = (
    "you are not registered as an artist: POST /api/v1/me/rights-holder/ first"
)


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Documents registry.authentication.ApiTokenAuthentication in the schema."""

    target_class = "registry.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>` (or `Bearer <key>`), with a key from "
            "POST /api/v1/tokens/.",
        }


# --- shared pieces --------------------------------------------------------------


class Pagination(PageNumberPagination):
    page_size = 50


def paginated_response(
    *,
    queryset: QuerySet[Any],
    serializer_class: type[serializers.Serializer],
    request: Request,
    view: APIView,
) -> Response:
    paginator = Pagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    data = serializer_class(page, many=True, context={"request": request}).data
    return paginator.get_paginated_response(data)


class ErrorSerializer(serializers.Serializer):
    message = serializers.CharField(help_text="For people; names the field.")
    code = serializers.CharField(help_text="For programs: invalid, not_found, …")
    extra = serializers.DictField(
        help_text='Details: "fields" (field -> messages), "rejected" (files).'
    )

    class Meta:
        ref_name = "Error"


_ERROR_DESCRIPTIONS = {
    400: "Invalid input; the message names the field.",
    401: "No credentials, or an invalid or revoked token.",
    403: "The account is not registered as an artist.",
    404: "Not found, or not yours.",
    409: "The object is not in a state that allows this.",
}


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {
        code: OpenApiResponse(ErrorSerializer, description=_ERROR_DESCRIPTIONS[code])
        for code in codes
    }


def path_id(name: str) -> OpenApiParameter:
    return OpenApiParameter(name, OpenApiTypes.INT, OpenApiParameter.PATH)


def id_field(**kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=ID_MAX, **kwargs)


def absolute_url(request: Request | None, url: str) -> str:
    return request.build_absolute_uri(url) if request is not None else url


def artist_holder(user: User) -> RightsHolder:
    """The user's RightsHolder, or a 403 that says how to become an artist."""
    holder = selectors.rights_holder_for_user(user=user)
    if holder is None:
        raise exceptions.PermissionDenied(NOT_AN_ARTIST, code="not_an_artist")
    return holder


class ArtistApi(APIView):
    # Operations on the signed-in artist's own registry entries. `self.holder`
    # is their RightsHolder; accounts without one get a 403 that says how to
    # become an artist. (A comment, not a docstring: the schema would show it.)

    holder: RightsHolder

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self.holder = artist_holder(request.user)


class ApiNotFoundApi(APIView):
    # Every other path under /api/v1/: a JSON 404 instead of Django's HTML page.

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        message = f"no API endpoint at {request.path}"
        if not request.path.endswith("/"):
            try:
                match = resolve(request.path_info + "/")
            except Resolver404:
                match = None
            if match is not None and getattr(match.func, "cls", None) is not type(self):
                message += f"; did you mean {request.path}/ (with a slash)?"
        raise exceptions.NotFound(message)


# --- output shapes shared by several operations -----------------------------------


class RightsHolderOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    display_name = serializers.CharField()
    contact_email = serializers.EmailField()
    website = serializers.CharField()
    verified = serializers.BooleanField(help_text="Set by admins.")

    class Meta:
        ref_name = "RightsHolder"


class TokenOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    key_prefix = serializers.CharField(help_text="The key's first characters.")
    created = serializers.DateTimeField()
    last_used = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)
    active = serializers.BooleanField(source="is_active")

    class Meta:
        ref_name = "ApiToken"


class FingerprintsOutputSerializer(serializers.Serializer):
    """An image's own fingerprints (variant "original") as lowercase hex."""

    sha256 = serializers.CharField(allow_null=True)
    md5 = serializers.CharField(allow_null=True)
    phash = serializers.CharField(allow_null=True, help_text="64-bit, 16 hex digits")
    pdq = serializers.CharField(allow_null=True, help_text="256-bit, 64 hex digits")
    pdq_quality = serializers.IntegerField(allow_null=True, help_text="0-100")
    pdq_low_quality = serializers.BooleanField(
        allow_null=True,
        help_text="True when pdq_quality is under the registry's threshold: "
        "the PDQ hash is kept but matches poorly.",
    )
    versions = serializers.DictField(
        child=serializers.CharField(),
        help_text="Algorithm version of each fingerprint, by algorithm.",
    )

    class Meta:
        ref_name = "Fingerprints"

    def to_representation(self, instance: Image) -> dict[str, Any]:
        prints = selectors.fingerprints_by_algorithm(instance)
        data: dict[str, Any] = {
            name: prints[name].hex if name in prints else None
            for name in services.HASH_FIELDS
        }
        quality = prints["pdq"].quality if "pdq" in prints else None
        data["pdq_quality"] = quality
        data["pdq_low_quality"] = (
            None if quality is None else quality < settings.PDQ_LOW_QUALITY
        )
        data["versions"] = {name: f.version for name, f in sorted(prints.items())}
        return data


class ImageOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    work = serializers.IntegerField(source="work_id")
    source = serializers.ChoiceField(choices=Image.Source.choices)
    original_name = serializers.CharField()
    status = serializers.ChoiceField(choices=Image.Status.choices)
    failure_reason = serializers.CharField()
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    format = serializers.CharField()
    byte_size = serializers.IntegerField(allow_null=True)
    thumbnail_url = serializers.SerializerMethodField()
    original_url = serializers.SerializerMethodField()
    fingerprints = FingerprintsOutputSerializer(source="*")
    created = serializers.DateTimeField()
    fingerprinted_at = serializers.DateTimeField(allow_null=True)

    class Meta:
        ref_name = "Image"

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_thumbnail_url(self, image: Image) -> str | None:
        if not image.thumbnail:
            return None
        return absolute_url(self.context.get("request"), image.thumbnail.url)

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_original_url(self, image: Image) -> str | None:
        if not image.original:
            return None  # registered by hashes alone
        return absolute_url(self.context.get("request"), image.original.url)


class WorkOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    description = serializers.CharField()
    source_urls = serializers.ListField(child=serializers.CharField())
    status = serializers.ChoiceField(choices=Work.Status.choices)
    image_count = serializers.IntegerField()
    pending_count = serializers.IntegerField(help_text="Images not hashed yet.")
    created = serializers.DateTimeField()
    withdrawn_at = serializers.DateTimeField(allow_null=True)

    class Meta:
        ref_name = "Work"


class WorkDetailOutputSerializer(WorkOutputSerializer):
    images = ImageOutputSerializer(many=True)

    class Meta:
        ref_name = "WorkDetail"


class ClaimOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Claim.Kind.choices)
    value = serializers.CharField(help_text="As entered.")
    normalized = serializers.CharField(help_text="As matched.")
    aliases = serializers.ListField(child=serializers.CharField())
    state = serializers.ChoiceField(choices=Claim.State.choices)
    verification_token = serializers.SerializerMethodField()
    created = serializers.DateTimeField()
    activated_at = serializers.DateTimeField(allow_null=True)
    withdrawn_at = serializers.DateTimeField(allow_null=True)
    proof_checked_at = serializers.DateTimeField(
        allow_null=True, help_text="Domain claims: the last check of the proof."
    )
    proof_method = serializers.CharField(
        help_text='Domain claims: how control was proven, "file" or "meta".'
    )
    proof_error = serializers.CharField(
        help_text="Domain claims: why the last check failed."
    )

    class Meta:
        ref_name = "Claim"

    @extend_schema_field(
        {
            "type": "string",
            "nullable": True,
            "description": "Domain claims: the token that proves control of "
            "the domain. Shown to the owner only.",
        }
    )
    def get_verification_token(self, claim: Claim) -> str | None:
        return claim.verification_token or None


# --- account ------------------------------------------------------------------


class MeApi(APIView):
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        username = serializers.CharField()
        email = serializers.EmailField()
        roles = serializers.ListField(
            child=serializers.ChoiceField(choices=["artist", "curator", "admin"])
        )
        rights_holder = RightsHolderOutputSerializer(allow_null=True)

        class Meta:
            ref_name = "Me"

    @extend_schema(
        tags=["account"],
        summary="The signed-in account",
        responses={200: OutputSerializer, **errors(401)},
    )
    def get(self, request: Request) -> Response:
        user: User = request.user
        holder = selectors.rights_holder_for_user(user=user)
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


class RightsHolderApi(APIView):
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
        description="Idempotent: an account that is already an artist gets its "
        "rights holder back unchanged (200).",
        request=CreateInputSerializer,
        responses={
            201: OutputSerializer,
            200: OutputSerializer,
            **errors(400, 401),
        },
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
        request=UpdateInputSerializer,
        responses={200: OutputSerializer, **errors(400, 401, 403)},
    )
    def patch(self, request: Request) -> Response:
        holder = artist_holder(request.user)
        serializer = self.UpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        holder = services.rights_holder_update(
            holder=holder, **serializer.validated_data
        )
        return Response(self.OutputSerializer(holder).data)


# --- tokens -------------------------------------------------------------------


class TokenListCreateApi(APIView):
    pagination_class = Pagination

    ListOutputSerializer = TokenOutputSerializer

    class CreateInputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=100)

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
        responses={200: ListOutputSerializer(many=True), **errors(401)},
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
        request=CreateInputSerializer,
        responses={201: CreateOutputSerializer, **errors(400, 401)},
    )
    def post(self, request: Request) -> Response:
        serializer = self.CreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, key = services.api_token_create(
            user=request.user, name=serializer.validated_data["name"]
        )
        return Response(
            self.CreateOutputSerializer(token, context={"key": key}).data,
            status=status.HTTP_201_CREATED,
        )


class TokenRevokeApi(APIView):
    @extend_schema(
        tags=["tokens"],
        summary="Revoke an API token",
        description="The token stops working at once. Revoking a revoked token "
        "changes nothing.",
        parameters=[path_id("token_id")],
        responses={200: TokenOutputSerializer, **errors(401, 404)},
    )
    def delete(self, request: Request, token_id: int) -> Response:
        token: ApiToken = services.api_token_revoke(
            user=request.user, token_id=token_id
        )
        return Response(TokenOutputSerializer(token).data)


# --- works --------------------------------------------------------------------


class WorkListCreateApi(ArtistApi):
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
        summary="The artist's works",
        parameters=[
            OpenApiParameter("status", enum=Work.Status.values),
        ],
        responses={200: ListOutputSerializer(many=True), **errors(400, 401, 403)},
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
        summary="Create a work (images are added by upload or by hashes)",
        request=CreateInputSerializer,
        responses={201: CreateOutputSerializer, **errors(400, 401, 403)},
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
        summary="One work with its images",
        parameters=[path_id("work_id")],
        responses={200: OutputSerializer, **errors(401, 403, 404)},
    )
    def get(self, request: Request, work_id: int) -> Response:
        work = selectors.work_get_for_owner(owner=self.holder, work_id=work_id)
        if work is None:
            raise NotFound("work not found")
        return Response(self.OutputSerializer(work, context={"request": request}).data)

    @extend_schema(
        tags=["works"],
        summary="Change a work's title, description or source URLs",
        parameters=[path_id("work_id")],
        request=UpdateInputSerializer,
        responses={200: OutputSerializer, **errors(400, 401, 403, 404)},
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
    @extend_schema(
        tags=["works"],
        summary="Withdraw a work: stop enforcing it and all its images",
        parameters=[path_id("work_id")],
        request=None,
        responses={200: WorkDetailOutputSerializer, **errors(401, 403, 404, 409)},
    )
    def post(self, request: Request, work_id: int) -> Response:
        services.work_withdraw(owner=self.holder, work_id=work_id)
        work = selectors.work_get_for_owner(owner=self.holder, work_id=work_id)
        return Response(
            WorkDetailOutputSerializer(work, context={"request": request}).data
        )


# --- images -------------------------------------------------------------------


class ImageListApi(ArtistApi):
    pagination_class = Pagination

    class FilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=Image.Status.choices, required=False)
        work = id_field(required=False)

    @extend_schema(
        tags=["images"],
        summary="The artist's images, newest first",
        parameters=[
            OpenApiParameter("status", enum=Image.Status.values),
            OpenApiParameter("work", OpenApiTypes.INT, description="A work's id."),
        ],
        responses={200: ImageOutputSerializer(many=True), **errors(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        images = selectors.image_list_for_owner(
            owner=self.holder,
            status=filters.validated_data.get("status"),
            work_id=filters.validated_data.get("work"),
        )
        return paginated_response(
            queryset=images,
            serializer_class=ImageOutputSerializer,
            request=request,
            view=self,
        )


class ImageDetailApi(ArtistApi):
    @extend_schema(
        tags=["images"],
        summary="One image with its fingerprints",
        parameters=[path_id("image_id")],
        responses={200: ImageOutputSerializer, **errors(401, 403, 404)},
    )
    def get(self, request: Request, image_id: int) -> Response:
        image = selectors.image_get_for_owner(owner=self.holder, image_id=image_id)
        if image is None:
            raise NotFound("image not found")
        return Response(ImageOutputSerializer(image, context={"request": request}).data)


class ImageRegisterHashesApi(ArtistApi):
    class InputSerializer(serializers.Serializer):
        title = serializers.CharField(
            max_length=300,
            required=False,
            allow_blank=True,
            default="",
            help_text="Title of the new work; required unless `work` is given.",
        )
        work = id_field(
            required=False, allow_null=True, help_text="Add to this work of yours."
        )
        sha256 = serializers.CharField(
            required=False, allow_blank=True, allow_null=True, help_text="64 hex"
        )
        md5 = serializers.CharField(
            required=False, allow_blank=True, allow_null=True, help_text="32 hex"
        )
        phash = serializers.CharField(
            required=False, allow_blank=True, allow_null=True, help_text="16 hex"
        )
        pdq = serializers.CharField(
            required=False, allow_blank=True, allow_null=True, help_text="64 hex"
        )
        pdq_quality = serializers.IntegerField(
            required=False, allow_null=True, help_text="0-100, as PDQ reports it."
        )

        class Meta:
            ref_name = "ImageHashes"

    @extend_schema(
        tags=["images"],
        summary="Register an image by its hashes alone (the image never leaves "
        "your computer)",
        request=InputSerializer,
        responses={201: ImageOutputSerializer, **errors(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        image = services.image_register_hashes(
            owner=self.holder,
            hashes={name: data.get(name) for name in services.HASH_FIELDS},
            title=data["title"],
            work_id=data.get("work"),
            pdq_quality=data.get("pdq_quality"),
        )
        image = selectors.image_get_for_owner(owner=self.holder, image_id=image.pk)
        return Response(
            ImageOutputSerializer(image, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class PortfolioUploadApi(ArtistApi):
    parser_classes = [MultiPartParser, FormParser]

    class InputSerializer(serializers.Serializer):
        files = serializers.ListField(
            child=serializers.FileField(allow_empty_file=True, use_url=False),
            allow_empty=False,
            error_messages={
                "required": "no file was uploaded; send images or ZIP archives "
                "in this multipart field",
                "empty": "no file was uploaded; send images or ZIP archives "
                "in this multipart field",
            },
            help_text="Images (JPEG, PNG, WebP, GIF, TIFF, BMP, HEIC, AVIF) and "
            "ZIP archives of images; repeat the field for more files.",
        )
        work = id_field(
            required=False,
            help_text="Add every image to this work of yours; without it each "
            "image becomes a work titled after its file name.",
        )

        class Meta:
            ref_name = "PortfolioUpload"

    class OutputSerializer(serializers.Serializer):
        class RejectedSerializer(serializers.Serializer):
            file = serializers.CharField(
                help_text='The file, or "archive.zip: member" for a ZIP member.'
            )
            message = serializers.CharField(help_text="Why it was not accepted.")

            class Meta:
                ref_name = "RejectedFile"

        works = WorkOutputSerializer(many=True)
        images = ImageOutputSerializer(many=True)
        rejected = RejectedSerializer(many=True)

        class Meta:
            ref_name = "PortfolioUploadResult"

    @extend_schema(
        tags=["images"],
        summary="Upload images and ZIP archives of images",
        description="Good files are kept even when others are rejected; the "
        "rejected ones are listed with their reasons. Images are fingerprinted "
        "in the background (status pending, then hashed or failed). If no file "
        "is good, the answer is 400 and extra.rejected lists every file.",
        request=InputSerializer,
        responses={201: OutputSerializer, **errors(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request) -> Response:
        try:
            serializer = self.InputSerializer(data=request.data)
        except TooManyFilesSent:
            raise ValidationFailed(
                "files: too many files in one request (the limit is "
                f"{settings.DATA_UPLOAD_MAX_NUMBER_FILES}); put them in a ZIP "
                "or send several requests",
                field="files",
            ) from None
        except (RequestDataTooBig, TooManyFieldsSent) as exc:
            raise ValidationFailed(f"the request is too large ({exc})") from None
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = services.portfolio_upload(
            owner=self.holder,
            files=[
                IncomingFile(name=f.name, size=f.size, stream=f) for f in data["files"]
            ],
            work_id=data.get("work"),
        )
        works = (
            selectors.work_list_for_owner(owner=self.holder)
            .filter(pk__in=[w.pk for w in result.works])
            .order_by("id")
        )
        images = (
            selectors.image_list_for_owner(owner=self.holder)
            .filter(pk__in=[i.pk for i in result.images])
            .order_by("id")
        )
        output = self.OutputSerializer(
            {"works": works, "images": images, "rejected": result.rejected},
            context={"request": request},
        )
        return Response(output.data, status=status.HTTP_201_CREATED)


# --- claims -------------------------------------------------------------------


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


# --- registry -----------------------------------------------------------------


class RegistryRevisionApi(APIView):
    class OutputSerializer(serializers.Serializer):
        revision = serializers.IntegerField(
            help_text="Bumped by every change to what is enforced."
        )

        class Meta:
            ref_name = "RegistryRevision"

    @extend_schema(
        tags=["registry"],
        summary="The registry's current revision",
        responses={200: OutputSerializer, **errors(401)},
    )
    def get(self, request: Request) -> Response:
        revision = selectors.registry_revision_current()
        return Response(self.OutputSerializer({"revision": revision}).data)
