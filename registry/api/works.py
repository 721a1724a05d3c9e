"""The artist's profile, works, images (uploaded or registered by hashes), the
portfolio upload and the registry revision.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import (
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
)
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import Pagination, errors, id_field, paginated_response, path_id
from core.errors import NotFound, ValidationFailed
from core.uploads import IncomingFile
from registry import selectors, services
from registry.api.shared import (
    ImageOutputSerializer,
    RightsHolderOutputSerializer,
    WorkDetailOutputSerializer,
    WorkOutputSerializer,
)
from registry.models import Image, Work
from registry.permissions import ArtistApi, artist_holder


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
