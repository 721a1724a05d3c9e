"""The dataset search's API: GET /api/v1/datasets/ (what the search covers),
POST /api/v1/datasets/ (add a manifest as a dataset: admins, or a curator
their own checked manifest), GET /api/v1/search/ (rows by caption text or
site) and POST /api/v1/search/opt-out/ (rows found become claims)."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
)
from rest_framework import serializers
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Scope
from core.api import ID_MAX, errors, id_field, reject_unknown_keys
from core.errors import ValidationFailed
from core.throttles import LookupThrottle
from optout import selectors, services
from registry.selectors import rights_holder_for_user

DATASET_EXAMPLE = {
    "id": 3,
    "name": "LAION-400M part 17",
    "description": "Rows 0-9,999,999 of LAION-400M's metadata.",
    "source_url": "https://laion.ai/blog/laion-400-open-dataset/",
    "state": "ready",
    "rows_total": 10_000_000,
    "rows_done": 10_000_000,
    "failure_reason": "",
    "created": "2026-12-07T10:00:00Z",
    "finished": "2026-12-07T10:41:00Z",
}

SEARCH_EXAMPLE = {
    "by": "text",
    "q": "Alice Example",
    "why": 'caption has "alice example" as whole words',
    "count": 2,
    "offset": 0,
    "limit": 50,
    "per_dataset": [{"dataset": 3, "name": "LAION-400M part 17", "rows": 2}],
    "proposed_prefix": "https://alice.example/gallery/",
    "results": [
        {
            "dataset": 3,
            "dataset_name": "LAION-400M part 17",
            "row": 120_044,
            "url": "https://alice.example/gallery/harbour.jpg",
            "caption": "Harbour at dusk by Alice Example",
            "why": 'caption has "alice example" as whole words',
            "opted_out": False,
            "thumbnail": None,
            "similarity": None,
            "level": "",
        },
        {
            "dataset": 3,
            "dataset_name": "LAION-400M part 17",
            "row": 871_003,
            "url": "https://alice.example/gallery/fog.jpg",
            "caption": "alice example - fog",
            "why": 'caption has "alice example" as whole words',
            "opted_out": True,
            "thumbnail": None,
            "similarity": None,
            "level": "",
        },
    ],
}

OPT_OUT_EXAMPLE = {
    "created": [41, 42],
    "errors": [],
    "rows": 2,
    "unusable": [],
}


class DatasetOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    source_url = serializers.CharField()
    state = serializers.CharField(
        help_text="queued, indexing, ready (searchable), failed (see "
        "failure_reason) or removed."
    )
    rows_total = serializers.IntegerField(allow_null=True)
    rows_done = serializers.IntegerField(help_text="Rows indexed so far.")
    failure_reason = serializers.CharField()
    created = serializers.DateTimeField()
    finished = serializers.DateTimeField(allow_null=True)

    class Meta:
        ref_name = "Dataset"


class DatasetListOutputSerializer(serializers.Serializer):
    results = DatasetOutputSerializer(many=True)

    class Meta:
        ref_name = "DatasetList"


class DatasetInputSerializer(serializers.Serializer):
    manifest = id_field(help_text="An uploaded manifest (POST /api/v1/manifests/).")
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    source_url = serializers.CharField(required=False, allow_blank=True, default="")

    class Meta:
        ref_name = "DatasetRequest"


class DatasetListApi(APIView):
    required_scopes = Scope.CHECK

    @extend_schema(
        tags=["search"],
        summary="The datasets the search covers",
        description="Every dataset whose rows the search covers (state ready); "
        "an admin also sees those being indexed and those that failed.",
        responses={200: DatasetListOutputSerializer, **errors(401, 403)},
        examples=[
            OpenApiExample(
                "One dataset", value={"results": [DATASET_EXAMPLE]}, response_only=True
            )
        ],
    )
    def get(self, request: Request) -> Response:
        rows = selectors.datasets_listed(staff=request.user.is_staff)
        return Response({"results": DatasetOutputSerializer(rows, many=True).data})

    @extend_schema(
        tags=["search"],
        summary="Add a manifest to the search as a dataset",
        description="Index an uploaded manifest's rows (URL, host, caption) for "
        "the artists' search, in the background: follow `state` and "
        "`rows_done`. An admin may add any manifest; a curator only their own "
        "and only after a job checked it (the curator opts in).",
        request=DatasetInputSerializer,
        responses={
            201: DatasetOutputSerializer,
            **errors(400, 401, 403, 404, 409),
        },
        examples=[
            OpenApiExample(
                "LAION parts uploaded as manifest 12",
                value={
                    "manifest": 12,
                    "name": "LAION-400M part 17",
                    "description": "Rows 0-9,999,999 of LAION-400M's metadata.",
                    "source_url": "https://laion.ai/blog/laion-400-open-dataset/",
                },
                request_only=True,
            ),
            OpenApiExample(
                "Queued",
                value={**DATASET_EXAMPLE, "state": "queued", "rows_done": 0},
                response_only=True,
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        reject_unknown_keys(
            request.data,
            known=("manifest", "name", "description", "source_url"),
            what="a dataset",
        )
        data = DatasetInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        dataset = services.dataset_add(
            by=request.user,
            manifest_id=data.validated_data["manifest"],
            name=data.validated_data["name"],
            description=data.validated_data["description"],
            source_url=data.validated_data["source_url"],
        )
        return Response(DatasetOutputSerializer(dataset).data, status=201)


class SearchHitOutputSerializer(serializers.Serializer):
    dataset = serializers.IntegerField(source="dataset_id")
    dataset_name = serializers.CharField(source="dataset")
    row = serializers.IntegerField(help_text="The row's number in the dataset.")
    url = serializers.CharField(help_text="The URL as the dataset has it.")
    caption = serializers.CharField(help_text="Its first 1,000 characters.")
    why = serializers.CharField(help_text="Why the row matched.")
    opted_out = serializers.BooleanField(
        help_text="You opted this row out from the search already."
    )
    thumbnail = serializers.SerializerMethodField(
        help_text="The row's thumbnail (rows that carried their image), or null."
    )
    similarity = serializers.FloatField(
        allow_null=True,
        help_text="Image searches: the descriptor's cosine similarity; null otherwise.",
    )
    level = serializers.CharField(
        help_text="Image searches: `verified` (local features agree with the "
        "row's thumbnail) or `possible`; empty otherwise."
    )

    class Meta:
        ref_name = "SearchHit"

    def get_thumbnail(self, hit: selectors.SearchHit) -> str | None:
        if not hit.thumb:
            return None
        url = reverse("search_thumb", args=[hit.dataset_id, hit.row])
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url


class PerDatasetOutputSerializer(serializers.Serializer):
    dataset = serializers.IntegerField()
    name = serializers.CharField()
    rows = serializers.IntegerField()

    class Meta:
        ref_name = "SearchPerDataset"


class SearchOutputSerializer(serializers.Serializer):
    by = serializers.CharField()
    q = serializers.CharField()
    why = serializers.CharField()
    count = serializers.IntegerField(help_text="Matching rows in all datasets.")
    offset = serializers.IntegerField()
    limit = serializers.IntegerField()
    per_dataset = PerDatasetOutputSerializer(many=True)
    proposed_prefix = serializers.CharField(
        help_text="The URL prefix the page's rows share, to opt them out as "
        "one prefix claim; empty when they share no more than a host."
    )
    results = SearchHitOutputSerializer(many=True)

    class Meta:
        ref_name = "SearchResults"


def search_response(
    results: selectors.SearchResults, limit: int, request: Request | None = None
) -> dict:
    return {
        "by": results.by,
        "q": results.q,
        "why": results.why,
        "count": results.total,
        "offset": results.offset,
        "limit": limit,
        "per_dataset": [
            {"dataset": d.pk, "name": d.name, "rows": n} for d, n in results.per_dataset
        ],
        "proposed_prefix": results.proposed_prefix,
        "results": SearchHitOutputSerializer(
            results.hits, many=True, context={"request": request}
        ).data,
    }


_SEARCH_ERRORS = errors(
    400,
    401,
    403,
    429,
    descriptions={429: "More than RATE_LOOKUPS searches and lookups."},
)


class SearchApi(APIView):
    required_scopes = Scope.CHECK
    throttle_classes = [LookupThrottle]

    class QuerySerializer(serializers.Serializer):
        q = serializers.CharField(max_length=2048, trim_whitespace=True)
        by = serializers.ChoiceField(choices=selectors.SEARCH_BY, default="text")
        dataset = serializers.IntegerField(
            required=False, min_value=1, max_value=ID_MAX
        )
        offset = serializers.IntegerField(default=0, min_value=0, max_value=10**9)
        limit = serializers.IntegerField(
            default=selectors.SEARCH_PER_PAGE, min_value=1, max_value=500
        )

        class Meta:
            ref_name = "SearchQuery"

    @extend_schema(
        tags=["search"],
        summary="Search the indexed datasets for your work",
        description="Rows of the indexed datasets whose caption holds `q` as "
        "whole words (`by=text`: Unicode-normalized and case-folded, as style "
        "claims are matched), or whose URL is on a host (`by=site` with a "
        "domain: the host and its subdomains) or under a URL prefix (`by=site` "
        "with a URL, with the rules of prefix claims). Dataset by dataset, in "
        "row order, `limit` from `offset`. Results show the dataset's rows "
        "only, never anyone's claims.",
        parameters=[
            OpenApiParameter("q", str, required=True),
            OpenApiParameter("by", str, enum=list(selectors.SEARCH_BY)),
            OpenApiParameter("dataset", int, description="Only this dataset."),
            OpenApiParameter("offset", int),
            OpenApiParameter("limit", int, description="1 to 500; 50 by default."),
        ],
        responses={
            200: SearchOutputSerializer,
            **_SEARCH_ERRORS,
        },
        examples=[OpenApiExample("A name", value=SEARCH_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request) -> Response:
        data = self.QuerySerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        holder = rights_holder_for_user(user=request.user)
        limit = data.validated_data["limit"]
        results = selectors.dataset_search(
            by=data.validated_data["by"],
            q=data.validated_data["q"],
            offset=data.validated_data["offset"],
            limit=limit,
            dataset_id=data.validated_data.get("dataset"),
            holder_id=holder.pk if holder else None,
        )
        return Response(search_response(results, limit, request))


class SearchOptOutApi(APIView):
    required_scopes = Scope.REGISTER

    class InputSerializer(serializers.Serializer):
        dataset = id_field()
        rows = serializers.ListField(
            child=serializers.IntegerField(min_value=0, max_value=ID_MAX),
            allow_empty=False,
        )
        prefix = serializers.CharField(
            required=False,
            allow_blank=True,
            default="",
            help_text="Opt the rows out as one prefix claim on this URL prefix "
            "(it must cover every row) instead of one URL claim each.",
        )
        work = serializers.IntegerField(
            required=False,
            allow_null=True,
            min_value=1,
            max_value=ID_MAX,
            help_text="One of your works the rows are copies of (found by "
            "searching with its image): each row is linked to it.",
        )

        class Meta:
            ref_name = "SearchOptOutRequest"

    class OutputSerializer(serializers.Serializer):
        created = serializers.ListField(
            child=serializers.IntegerField(), help_text="The claims made."
        )
        errors = serializers.ListField(
            child=serializers.DictField(),
            help_text="Lines the claims refused (already claimed, a cap), each "
            "with line, value and message.",
        )
        rows = serializers.IntegerField(help_text="Rows now opted out.")
        unusable = serializers.ListField(
            child=serializers.IntegerField(),
            help_text="Rows whose URL is not an http(s) URL: nothing to claim.",
        )

        class Meta:
            ref_name = "SearchOptOutResult"

    @extend_schema(
        tags=["search"],
        summary="Opt out rows you found",
        description="The rows' URLs become URL claims of yours (enforced at "
        "once, within the per-host cap), or one prefix claim (enforced at once "
        "on a host whose domain you proved, else waiting for review); the rows "
        "count as opted out from that dataset on your dashboard.",
        request=InputSerializer,
        responses={200: OutputSerializer, **errors(400, 401, 403, 404)},
        examples=[
            OpenApiExample(
                "Two rows",
                value={"dataset": 3, "rows": [120044, 871003]},
                request_only=True,
            ),
            OpenApiExample("Claimed", value=OPT_OUT_EXAMPLE, response_only=True),
        ],
    )
    def post(self, request: Request) -> Response:
        reject_unknown_keys(
            request.data,
            known=("dataset", "rows", "prefix", "work"),
            what="an opt-out",
        )
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        holder = rights_holder_for_user(user=request.user)
        if holder is None:
            raise ValidationFailed(
                "create your rights-holder profile first", field="dataset"
            )
        result = services.search_opt_out(
            owner=holder,
            dataset_id=data.validated_data["dataset"],
            rows=data.validated_data["rows"],
            prefix=data.validated_data["prefix"],
            work_id=data.validated_data.get("work"),
        )
        return Response(result)


IMAGE_SEARCH_EXAMPLE = {
    "by": "image",
    "q": "",
    "why": "the nearest images by the copy-detection descriptor and by PDQ",
    "count": 1,
    "offset": 0,
    "limit": 20,
    "per_dataset": [{"dataset": 5, "name": "Art shards", "rows": 1}],
    "proposed_prefix": "",
    "results": [
        {
            "dataset": 5,
            "dataset_name": "Art shards",
            "row": 4410,
            "url": "https://img.example/p/9.jpg",
            "caption": "harbour, oil on canvas",
            "why": "image 0.93 similar by the descriptor, PDQ 12 bits from the "
            "image, verified by local features",
            "opted_out": False,
            "thumbnail": "https://registry.example/search/thumb/5/4410.jpg",
            "similarity": 0.93,
            "level": "verified",
        }
    ],
}


class SearchImageApi(APIView):
    required_scopes = Scope.CHECK
    throttle_classes = [LookupThrottle]
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    class InputSerializer(serializers.Serializer):
        image = serializers.FileField(
            required=False, help_text="The image to look for (multipart)."
        )
        work = serializers.IntegerField(
            required=False,
            min_value=1,
            max_value=ID_MAX,
            help_text="Or one of your registered works: its first image.",
        )
        dataset = serializers.IntegerField(
            required=False, min_value=1, max_value=ID_MAX
        )
        offset = serializers.IntegerField(
            default=0, min_value=0, max_value=10**6, help_text="Rows to skip."
        )
        limit = serializers.IntegerField(
            default=20,
            min_value=1,
            max_value=100,
            help_text="Rows to return (each is verified against your image).",
        )

        class Meta:
            ref_name = "SearchImageRequest"

    @extend_schema(
        tags=["search"],
        summary="Search the indexed datasets by image",
        description="The rows whose image (datasets whose rows carry their "
        "images: WebDataset shards, Parquet with images) is near yours, "
        "nearest first across the datasets: up to 200 per dataset by the "
        "copy-detection descriptor (the whole image and its regions, so a "
        "crop is found) and every row whose PDQ hash is within "
        "MATCH_PDQ_THRESHOLD bits; `limit` from `offset`. Each row returned "
        "is verified with local features against the row's thumbnail "
        "(`level` verified, else possible). Upload an `image`, or name one "
        "of your `work`s.",
        request={"multipart/form-data": InputSerializer},
        responses={
            200: SearchOutputSerializer,
            **_SEARCH_ERRORS,
        },
        examples=[
            OpenApiExample(
                "One of your works",
                value={"work": 12, "offset": 0, "limit": 20},
                description="Or `image`: the file itself.",
                request_only=True,
                media_type="multipart/form-data",
            ),
            OpenApiExample(
                "A verified copy", value=IMAGE_SEARCH_EXAMPLE, response_only=True
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        reject_unknown_keys(
            request.data,
            known=("image", "work", "dataset", "offset", "limit"),
            what="a search",
        )
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        holder = rights_holder_for_user(user=request.user)
        upload = data.validated_data.get("image")
        image = selectors.search_query_image(
            data=upload.read() if upload else None,
            work_id=data.validated_data.get("work"),
            holder_id=holder.pk if holder else None,
        )
        limit = data.validated_data["limit"]
        results = selectors.dataset_image_search(
            image=image,
            offset=data.validated_data["offset"],
            limit=limit,
            dataset_id=data.validated_data.get("dataset"),
            holder_id=holder.pk if holder else None,
        )
        return Response(search_response(results, limit, request))
