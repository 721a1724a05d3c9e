"""POST /api/v1/manifests/: upload a manifest (one file or several parts) and
start its match job."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.conf import settings
from django.core.exceptions import (
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Scope
from accounts.permissions import NOT_A_CURATOR
from core.errors import ValidationFailed
from core.upload_limits import UploadTooLarge
from optout import services
from optout.api.examples import (
    MANIFEST_UPLOAD_REQUEST_EXAMPLE,
    MANIFEST_UPLOADED_EXAMPLE,
)
from optout.api.jobs import (
    JobSummaryOutputSerializer,
    JsonObjectField,
    ManifestOutputSerializer,
    errors,
)
from optout.models import Match
from optout.services import NO_SIGNALS
from optout.snapshots import max_radius
from workers.engine.websignals import PROTOCOLS


class ManifestUploadApi(APIView):
    required_scopes = Scope.CURATE

    # Multipart only: a url-encoded form cannot carry the manifest's files.
    parser_classes = [MultiPartParser]

    class InputSerializer(serializers.Serializer):
        files = serializers.ListField(
            child=serializers.FileField(allow_empty_file=True, use_url=False),
            allow_empty=False,
            error_messages={
                "required": "no manifest file was uploaded; send it in this "
                "multipart field",
                "empty": "no manifest file was uploaded; send it in this "
                "multipart field",
            },
            help_text="The manifest: one file, or its parts in order (repeat the "
            "field): CSV, TSV, JSONL, Parquet (a LAION folder of parts, "
            "img2dataset's Parquet output) or WebDataset .tar shards, all of one "
            "format, or one ZIP of them. img2dataset's sidecars (NNNNN.parquet "
            "beside NNNNN.tar, NNNNN_stats.json) may come along: they are not "
            "matched but rewritten to fit the filtered parts.",
        )
        name = serializers.CharField(
            max_length=255, required=False, allow_blank=True, default=""
        )
        columns = JsonObjectField(
            example='{"url": "URL", "caption": "TEXT"}',
            required=False,
            allow_blank=True,
            help_text="JSON object: logical column (url, caption, key, sha256, "
            "md5, phash, pdq; image for Parquet with embedded images) -> the "
            "file's column. Detected when absent; an empty name drops one.",
        )
        thresholds = JsonObjectField(
            example='{"phash": 8, "pdq": 31}',
            required=False,
            allow_blank=True,
            help_text="JSON object: largest Hamming distance that counts as a "
            "match, per perceptual hash (phash, pdq).",
        )
        remove_levels = serializers.ListField(
            child=serializers.ChoiceField(choices=Match.Level.values),
            required=False,
            help_text="Perceptual levels to remove from the filtered manifest "
            "(repeat the field; default verified and strong). Exact, URL and "
            "style matches are always removed.",
        )
        signals = serializers.ListField(
            child=serializers.ChoiceField(choices=[*PROTOCOLS, NO_SIGNALS]),
            required=False,
            help_text="Protocols read for the rows' signals: in their images "
            "(tar shards, Parquet with images) iptc (plus:DataMining in XMP), "
            "c2pa and cawg (training-and-data-mining assertions), rsl (licences "
            "in XMP); on their URLs' sites, with `web_signals`, robots "
            "(Content-Usage), content-signal, tdmrep and rsl (License: lines). "
            "Repeat the field; `none` alone reads none. Default: the "
            "registry's profile (SIGNAL_PROTOCOLS). A refusal of AI training "
            "removes its row (a `signal` match).",
        )
        opt_in_manifest = serializers.BooleanField(
            required=False,
            default=False,
            help_text="Also write the manifest of the opt-in rows only: those a "
            "rights holder offers for AI training on terms (an `opt-in` match; "
            "no removing match; checked in full), as `opt_in` outputs named "
            "opt-in-<part>. The matches report lists each with its terms.",
        )
        web_signals = serializers.BooleanField(
            required=False,
            allow_null=True,
            default=None,
            help_text="Read the sites of the manifest's hosts (robots.txt, "
            "/.well-known/tdmrep.json, RSL licences; each host once a day, "
            "cached) and remove rows under a refusal of AI training. Default: "
            "the registry's SIGNAL_WEB. The job's publishers.jsonl lists what "
            "was fetched when and how it went.",
        )

        keep_unchecked = serializers.BooleanField(
            required=False,
            default=False,
            help_text="Pass rows that could not be checked in full (text that is "
            "not UTF-8, a broken quote, a line that is not JSON, a malformed "
            "hash, an image that does not decode) on in the filtered manifest. "
            "By default (false) they are left out; either way the reports list "
            "them as unchecked, and the job and its receipt say how many were "
            "passed on.",
        )

        class Meta:
            ref_name = "ManifestUpload"

        def validate_thresholds(self, value: dict[str, Any]) -> dict[str, int]:
            # Checked here too, before the upload is stored, so a typo in a
            # threshold does not leave a manifest without a job behind.
            limits = asdict(max_radius())
            for kind, radius in value.items():
                if kind not in limits:
                    raise serializers.ValidationError(
                        f"unknown hash {kind!r}; use phash or pdq"
                    )
                if (
                    not isinstance(radius, int)
                    or isinstance(radius, bool)
                    or not 0 <= radius <= limits[kind]
                ):
                    raise serializers.ValidationError(
                        f"{kind} must be a whole number from 0 to {limits[kind]}"
                    )
            return value

        def validate_signals(self, value: list[str]) -> list[str]:
            # "none" alone; checked before the upload is stored, as above.
            if NO_SIGNALS in value and len(set(value)) > 1:
                raise serializers.ValidationError(
                    f"{NO_SIGNALS!r} reads no protocol; send it alone"
                )
            return value

    class OutputSerializer(ManifestOutputSerializer):
        job = JobSummaryOutputSerializer()

        class Meta:
            ref_name = "ManifestUploaded"

    @extend_schema(
        tags=["manifests"],
        summary="Upload a manifest and start matching it",
        description="For dataset curators only (others get 403). Send "
        "multipart/form-data: one file, or the parts of one manifest in order "
        "(repeat the `files` field), all of one format: CSV, TSV, JSONL, Parquet "
        "(a LAION folder of parts, img2dataset's Parquet output with its images) "
        "or WebDataset .tar shards, or a ZIP of them; img2dataset's `.parquet` "
        "and `_stats.json` sidecars beside its shards are kept beside them and "
        "filtered with them. Reports name each row by file, row in that file, "
        "and index across the manifest. The files are "
        "stored and checked (format, columns, thresholds) at once, so an "
        "unreadable file is a 400 that names it and nothing is kept; then a "
        "match job is queued and matching runs in the background against the "
        "registry revision current when the job starts: follow it at the job's "
        "`url`. A row that cannot be checked in full is reported as unchecked "
        "and left out of the filtered manifest unless `keep_unchecked` is true. "
        "Every call stores a new manifest and starts a new job.",
        request=InputSerializer,
        responses={
            201: OpenApiResponse(
                OutputSerializer, description="The manifest and its queued job."
            ),
            **errors(
                400,
                401,
                403,
                415,
                descriptions={
                    400: "No file, an empty, unreadable or too large file, a bad "
                    "ZIP, parts of different formats or without the mapped "
                    "columns, two files of one name, statistics without their "
                    "shard, nothing to check (no url, "
                    "caption, hash or image column: the message names the "
                    "columns found), a bad `columns`, `thresholds`, "
                    "`remove_levels`, `signals` or `keep_unchecked`, or a request "
                    "over the "
                    "server's limits; the message names the file or field.",
                    415: "Not multipart/form-data: only a multipart form carries "
                    "the manifest's files.",
                },
            ),
        },
        examples=[
            OpenApiExample(
                "A LAION part with its columns named",
                value=MANIFEST_UPLOAD_REQUEST_EXAMPLE,
                description="`files` is the file itself (repeat the field for "
                "tar shards); `columns` and `thresholds` are JSON objects sent as "
                "text; every field but `files` may be left out.",
                request_only=True,
                media_type="multipart/form-data",
            ),
            OpenApiExample(
                "Stored, and its job queued",
                value=MANIFEST_UPLOADED_EXAMPLE,
                response_only=True,
                status_codes=["201"],
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        if not request.user.is_curator:
            raise exceptions.PermissionDenied(NOT_A_CURATOR, code="not_a_curator")
        try:
            serializer = self.InputSerializer(data=request.data)
        except TooManyFilesSent:
            raise ValidationFailed(
                "files: too many files in one request (the limit is "
                f"{settings.DATA_UPLOAD_MAX_NUMBER_FILES})",
                field="files",
            ) from None
        except UploadTooLarge:
            raise  # a 413 naming the limit (core.api_errors.bad_request)
        except (RequestDataTooBig, TooManyFieldsSent) as exc:
            raise ValidationFailed(f"the request is too large ({exc})") from None
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        manifest = services.manifest_upload(
            owner=request.user,
            files=data["files"],
            columns=data.get("columns") or None,
            name=data["name"],
        )
        job = services.match_job_start(
            manifest=manifest,
            owner=request.user,
            thresholds=data.get("thresholds"),
            remove_levels=data.get("remove_levels"),
            keep_unchecked=data["keep_unchecked"],
            signals=data.get("signals"),
            web_signals=data.get("web_signals"),
            opt_in_manifest=data["opt_in_manifest"],
        )
        manifest.job = job  # type: ignore[attr-defined]  # for the serializer
        return Response(
            self.OutputSerializer(manifest, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )
