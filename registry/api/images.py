"""Images: list and read them, register one by its hashes alone, and the
portfolio upload (many files or ZIPs, each image a work)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import (
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
)
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Scope
from core.api import Pagination, id_field, paginated_response, path_id
from core.errors import NotFound, ValidationFailed
from core.upload_limits import UploadTooLarge
from core.uploads import IncomingFile
from registry import selectors, services
from registry.api.examples import (
    IMAGE_HASHES_DESCRIPTOR_REQUEST,
    IMAGE_HASHES_EXAMPLE,
    IMAGE_PENDING_EXAMPLE,
    IMAGE_UPLOADED_EXAMPLE,
    WORK_EXAMPLE,
)
from registry.api.shared import (
    ImageOutputSerializer,
    WorkOutputSerializer,
)
from registry.models import Image
from registry.permissions import ArtistApi, artist_errors
from workers.engine.descriptor import TEXT_MAX_CHARS as DESCRIPTOR_MAX_CHARS


class ImageListApi(ArtistApi):
    required_scopes = Scope.REGISTER

    pagination_class = Pagination

    class FilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=Image.Status.choices, required=False)
        work = id_field(required=False)

    @extend_schema(
        tags=["images"],
        summary="List the artist's images",
        description="The signed-in artist's images across all works, newest "
        "first, 50 to a page (a page number past the last page is a 404). status "
        "keeps images pending fingerprinting, hashed or failed; work keeps one "
        "work's images (another artist's work gives an empty list).",
        parameters=[
            OpenApiParameter("status", enum=Image.Status.values),
            OpenApiParameter("work", OpenApiTypes.INT, description="A work's id."),
        ],
        responses={
            200: ImageOutputSerializer(many=True),
            **artist_errors(400, 401, 403, 404),
        },
        examples=[
            OpenApiExample(
                "A page of images",
                value=IMAGE_UPLOADED_EXAMPLE,
                response_only=True,
                status_codes=["200"],
            ),
        ],
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
    required_scopes = Scope.REGISTER

    @extend_schema(
        tags=["images"],
        summary="Get one image with its fingerprints",
        description="One of the signed-in artist's images. Its fingerprints are "
        "null until the image is hashed; an image registered by hashes has only "
        "the ones submitted, and no file, size or thumbnail. Another artist's "
        "image is a 404.",
        parameters=[path_id("image_id")],
        responses={200: ImageOutputSerializer, **artist_errors(401, 403, 404)},
        examples=[
            OpenApiExample(
                "An uploaded image",
                value=IMAGE_UPLOADED_EXAMPLE,
                response_only=True,
                status_codes=["200"],
            ),
            OpenApiExample(
                "An image registered by hashes",
                value=IMAGE_HASHES_EXAMPLE,
                response_only=True,
                status_codes=["200"],
            ),
        ],
    )
    def get(self, request: Request, image_id: int) -> Response:
        image = selectors.image_get_for_owner(owner=self.holder, image_id=image_id)
        if image is None:
            raise NotFound("image not found")
        return Response(ImageOutputSerializer(image, context={"request": request}).data)


class ImageRegisterHashesApi(ArtistApi):
    required_scopes = Scope.REGISTER

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
        descriptor = serializers.CharField(
            required=False,
            allow_blank=True,
            allow_null=True,
            max_length=DESCRIPTOR_MAX_CHARS,
            help_text="The copy-detection descriptor as manage.py fingerprint "
            "prints it: base64 of one unit vector per region, float16 (for "
            "descriptor-v3, 2 x 256 values: 1368 characters). Needs "
            "descriptor_version.",
        )
        descriptor_version = serializers.CharField(
            required=False,
            allow_blank=True,
            allow_null=True,
            max_length=96,
            help_text="The model that made the descriptor, as manage.py "
            "fingerprint prints it; must be this registry's current model.",
        )

        class Meta:
            ref_name = "ImageHashes"

    @extend_schema(
        tags=["images"],
        summary="Register an image by its hashes alone",
        description="The image never leaves your computer: send at least one of "
        "sha256, md5, phash and pdq as hex of the right length, and the image is "
        "stored as hashed and enforced at once (the registry revision goes up). "
        "With work it joins that active work of yours (404 if not yours, 409 if "
        "withdrawn); without it a new work is created, named by title (then "
        "required). Optionally send the copy-detection descriptor with its "
        "descriptor_version, both as manage.py fingerprint --json prints them "
        "(its other keys, file, width, height, format and bytes, are ignored): "
        "a copy the descriptor finds is listed as a possible match, since there "
        "is no original to verify it against. A descriptor that is not base64, "
        "has the wrong size, non-finite values or vectors not of unit length, "
        "or a descriptor_version other than this registry's model, is a 400 "
        "naming the field.",
        request=InputSerializer,
        responses={
            201: ImageOutputSerializer,
            **artist_errors(400, 401, 403, 404, 409),
        },
        examples=[
            OpenApiExample(
                "Hashes for a new work",
                value={
                    "title": "Night market",
                    "sha256": IMAGE_HASHES_EXAMPLE["fingerprints"]["sha256"],
                    "phash": IMAGE_HASHES_EXAMPLE["fingerprints"]["phash"],
                    "pdq": IMAGE_HASHES_EXAMPLE["fingerprints"]["pdq"],
                    "pdq_quality": 88,
                },
                request_only=True,
            ),
            OpenApiExample(
                "Hashes and descriptor",
                summary="With the descriptor (shortened here: 1368 characters)",
                value=IMAGE_HASHES_DESCRIPTOR_REQUEST,
                request_only=True,
            ),
            OpenApiExample(
                "Registered",
                value=IMAGE_HASHES_EXAMPLE,
                response_only=True,
                status_codes=["201"],
            ),
        ],
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
            descriptor=data.get("descriptor") or "",
            descriptor_version=data.get("descriptor_version") or "",
        )
        image = selectors.image_get_for_owner(owner=self.holder, image_id=image.pk)
        return Response(
            ImageOutputSerializer(image, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class PortfolioUploadApi(ArtistApi):
    required_scopes = Scope.REGISTER

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
        description="A multipart upload: good files are kept even when others "
        "are rejected, and the rejected ones are listed with their reasons. "
        "Images are fingerprinted in the background (status pending, then "
        "hashed or failed); each becomes its own work unless work names an "
        "active work of yours (404 if not yours, 409 if withdrawn). If no file is "
        "good the answer is 400, with every rejected file in extra.rejected; too "
        "many files or too large a request is a 400 too.",
        request=InputSerializer,
        responses={201: OutputSerializer, **artist_errors(400, 401, 403, 404, 409)},
        examples=[
            OpenApiExample(
                "Two files",
                summary="Two files, sent as two parts named files",
                value={"files": ["harbour-at-dawn.jpg", "portfolio.zip"]},
                request_only=True,
                media_type="multipart/form-data",
            ),
            OpenApiExample(
                "Partly rejected",
                summary="Some files kept, two rejected",
                value={
                    "works": [
                        {
                            **WORK_EXAMPLE,
                            "id": 88,
                            "title": "night market",
                            "description": "",
                            "source_urls": [],
                            "pending_count": 1,
                            "created": IMAGE_PENDING_EXAMPLE["created"],
                        }
                    ],
                    "images": [IMAGE_PENDING_EXAMPLE],
                    "rejected": [
                        {
                            "file": "portfolio.zip: notes.txt",
                            "message": "not an image (unrecognised file format)",
                        },
                        {
                            "file": "harbour-at-dawn.jpg",
                            "message": "the image file is truncated",
                        },
                    ],
                },
                response_only=True,
                status_codes=["201"],
            ),
        ],
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
        except UploadTooLarge:
            raise  # a 413 naming the limit (core.api_errors.bad_request)
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
