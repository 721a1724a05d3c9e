"""Manifests, match jobs, their matches and output files (/api/v1/manifests/,
/api/v1/jobs/). Someone else's job or file is "not found" (404).
"""

from __future__ import annotations

import json
from typing import Any

from django.http import (
    FileResponse,
)
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Scope, User
from core.api import Pagination, paginated_response, path_id
from core.api import errors as core_errors
from core.errors import NotFound
from optout import selectors, services
from optout.api.examples import (
    CANCELLED_JOB_DETAIL_EXAMPLE,
    JOB_DETAIL_EXAMPLE,
    JOB_SUMMARY_EXAMPLE,
    PERCEPTUAL_MATCH_EXAMPLE,
    RETRIED_JOB_DETAIL_EXAMPLE,
    SIGNAL_MATCH_EXAMPLE,
    URL_MATCH_EXAMPLE,
)
from optout.models import Manifest, Match, MatchJob
from workers.engine.perceptual import removes_row

# What the shared error codes mean on the curators' side.
CURATOR_ERRORS = {
    400: "Invalid input; the message names the file or field.",
    403: "The account is not a dataset curator.",
    409: "The job is not in a state that allows this.",
}


def errors(
    *codes: int, descriptions: dict[int, str] | None = None
) -> dict[int, OpenApiResponse]:
    """core.api.errors with the curators' wording."""
    wording = {c: t for c, t in CURATOR_ERRORS.items() if c in codes}
    return core_errors(*codes, descriptions={**wording, **(descriptions or {})})


_PAGE_NOT_FOUND = "No such page: `page` is past the last page or not a number."


def _absolute(request: Request | None, url: str) -> str:
    return request.build_absolute_uri(url) if request is not None else url


# Named enum components: registry's Claim already has "kind" and "state" choice
# sets, and the schema would otherwise call these KindC12Enum and warn.
@extend_schema_field(
    {"type": "string", "enum": Match.Kind.values}, component_name="MatchKind"
)
class MatchKindField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=Match.Kind.choices, **kwargs)


@extend_schema_field(
    {"type": "string", "enum": MatchJob.State.values}, component_name="JobState"
)
class JobStateField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=MatchJob.State.choices, **kwargs)


class JsonObjectField(serializers.CharField):
    """A JSON object sent as a multipart form field, e.g. columns={"url": "URL"}."""

    def __init__(self, *, example: str, **kwargs: Any) -> None:
        self.example = example
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        text = super().to_internal_value(data)
        if not text.strip():
            return {}
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            raise serializers.ValidationError(
                f"must be a JSON object, e.g. {self.example}"
            ) from None
        if not isinstance(value, dict):
            raise serializers.ValidationError(
                f"must be a JSON object, e.g. {self.example}"
            )
        return value

    def run_validation(self, data: Any = serializers.empty) -> Any:
        # CharField answers a blank value with "" and never calls
        # to_internal_value: a blank field means no object.
        value = super().run_validation(data)
        return {} if value == "" else value


class ManifestPartOutputSerializer(serializers.Serializer):
    name = serializers.CharField(source="original_name")
    size = serializers.IntegerField()
    sha256 = serializers.CharField()

    class Meta:
        ref_name = "ManifestPart"


class ManifestOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    format = serializers.ChoiceField(choices=Manifest.Format.choices)
    columns = serializers.DictField(
        child=serializers.CharField(),
        help_text="Logical column -> the file's column, as detected or given.",
    )
    found_columns = serializers.ListField(
        child=serializers.CharField(),
        help_text="Every column the (first) file offers, in its order; a job "
        "names the ones it did not use.",
    )
    size = serializers.IntegerField(help_text="Bytes, all files together.")
    sha256 = serializers.CharField(help_text="Of all files' bytes, in order.")
    parts = ManifestPartOutputSerializer(many=True)
    created = serializers.DateTimeField()

    class Meta:
        ref_name = "Manifest"


class JobOutputFileSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField(
        help_text="report_csv, report_jsonl, report_parquet, filtered or receipt."
    )
    name = serializers.CharField()
    size = serializers.IntegerField()
    url = serializers.SerializerMethodField()

    class Meta:
        ref_name = "JobOutputFile"

    @extend_schema_field({"type": "string", "format": "uri"})
    def get_url(self, output: Any) -> str:
        url = reverse(
            "api-job-output", kwargs={"job_id": output.job_id, "output_id": output.pk}
        )
        return _absolute(self.context.get("request"), url)


class JobSummaryOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    manifest = serializers.IntegerField(source="manifest_id")
    manifest_name = serializers.CharField(source="manifest.name")
    state = JobStateField()
    phase = serializers.CharField(help_text="ingesting, matching or finalizing.")
    progress = serializers.FloatField(help_text="rows_done / rows_total, 0 to 1.")
    rows_total = serializers.IntegerField(allow_null=True)
    rows_done = serializers.IntegerField()
    counts = serializers.DictField(
        child=serializers.IntegerField(), help_text="Matches by kind (when done)."
    )
    created = serializers.DateTimeField()
    finished = serializers.DateTimeField(allow_null=True)
    url = serializers.SerializerMethodField()

    class Meta:
        ref_name = "JobSummary"

    @extend_schema_field({"type": "string", "format": "uri"})
    def get_url(self, job: MatchJob) -> str:
        url = reverse("api-job", kwargs={"job_id": job.pk})
        return _absolute(self.context.get("request"), url)


class UncheckedRowOutputSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="0-based row number in the manifest.")
    key = serializers.CharField()
    url = serializers.CharField(help_text="The row's URL, when it could be read.")
    signal = serializers.CharField(
        help_text="What was not checked: url, caption, sha256, md5, phash, pdq "
        "or image (the row's other values were checked), or row (the row could "
        "not be read at all)."
    )
    field = serializers.CharField(
        help_text="The column or tar member to blame; empty for a whole row."
    )
    reason = serializers.CharField()

    class Meta:
        ref_name = "UncheckedRow"


class JobColumnsOutputSerializer(serializers.Serializer):
    used = serializers.DictField(
        child=serializers.CharField(),
        help_text="Signal (url, caption, sha256, md5, phash, pdq, image) or key "
        "-> the file's column it was read from (tar shards: `*` for the image, "
        "`.txt` for a member).",
    )
    unused = serializers.ListField(
        child=serializers.CharField(),
        help_text="Columns found in the file that nothing reads.",
    )
    not_checked = serializers.ListField(
        child=serializers.CharField(),
        help_text="Signals no row was checked by, for want of a column (with an "
        "image, the hashes are computed from it).",
    )

    class Meta:
        ref_name = "JobColumns"


class JobDetailOutputSerializer(JobSummaryOutputSerializer):
    failure_reason = serializers.CharField()
    rows_unchecked = serializers.IntegerField(
        help_text="Rows that could not be checked in full (so far)."
    )
    keep_unchecked = serializers.BooleanField(
        help_text="Whether unchecked rows are passed on in the filtered manifest "
        "(otherwise they are left out)."
    )
    chunks_total = serializers.IntegerField()
    chunks_done = serializers.IntegerField()
    unchecked_reasons = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="How often each reason left a row unchecked.",
    )
    unchecked = serializers.SerializerMethodField(
        help_text="The first 20 unchecked rows; the reports list them all."
    )
    columns = serializers.SerializerMethodField()
    warnings = serializers.SerializerMethodField(
        help_text="What was not checked, in words: no URL column, rows passed "
        "on unchecked."
    )
    registry_revision = serializers.IntegerField(
        allow_null=True, help_text="The registry revision matched against."
    )
    manifest_sha256 = serializers.CharField()
    thresholds = serializers.DictField(
        help_text="Hamming radius per perceptual hash (phash, pdq), the "
        "levels' settings the job ran with and `signals`, the protocols read "
        "in its images' metadata.",
    )
    remove_levels = serializers.ListField(
        child=serializers.CharField(),
        help_text="Perceptual levels the filtered manifest removes; matches of "
        "other levels are listed for review only.",
    )
    receipt = serializers.DictField(
        help_text="Set when the job has succeeded: the signed receipt, as "
        "receipt.json holds it. `payload` names the manifest's files with their "
        "SHA-256 and row counts, the registry's id and revision, the checks and "
        "columns used, thresholds and levels, engine versions, the row counts "
        "and the SHA-256 of every file the job wrote; `signature` is the "
        "Ed25519 signature of its canonical JSON by the key `key_id`, published "
        "at /.well-known/dnt-registry-keys.json (README: Verifying a receipt)."
    )
    outputs = serializers.SerializerMethodField()
    matches_url = serializers.SerializerMethodField()
    started = serializers.DateTimeField(allow_null=True)

    class Meta:
        ref_name = "JobDetail"

    @extend_schema_field(UncheckedRowOutputSerializer(many=True))
    def get_unchecked(self, job: MatchJob) -> list[dict[str, Any]]:
        rows = selectors.job_unchecked_rows(job=job)
        return UncheckedRowOutputSerializer(rows, many=True).data

    @extend_schema_field(JobColumnsOutputSerializer)
    def get_columns(self, job: MatchJob) -> dict[str, Any]:
        return JobColumnsOutputSerializer(selectors.job_columns(job=job)).data

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_warnings(self, job: MatchJob) -> list[str]:
        return selectors.job_warnings(job=job)

    @extend_schema_field(JobOutputFileSerializer(many=True))
    def get_outputs(self, job: MatchJob) -> list[dict[str, Any]]:
        outputs = selectors.output_list_for_job(job=job)
        return JobOutputFileSerializer(outputs, many=True, context=self.context).data

    @extend_schema_field({"type": "string", "format": "uri"})
    def get_matches_url(self, job: MatchJob) -> str:
        url = reverse("api-job-matches", kwargs={"job_id": job.pk})
        return _absolute(self.context.get("request"), url)


def terms_field(help_text: str) -> serializers.DictField:
    """An opt-in's terms (licence, payment, contact, verified), or null."""
    return serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        allow_null=True,
        read_only=True,
        help_text=help_text
        + " Keys: licence (URL), payment (an RSL payment type), contact, "
        "verified (how the consent was checked).",
    )


MATCHED_AS_HELP = (
    "url, prefix and domain matches: which equivalence the match took: "
    '"exact", or "scheme" (http for https or back), "www" (a leading www. '
    'added or dropped) and "query" (a claim without a query string covers '
    'the URL with one) joined with "+", as in "scheme+www"; empty for other '
    "kinds."
)


class MatchOutputSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="0-based row number in the manifest.")
    key = serializers.CharField()
    url = serializers.CharField()
    kind = MatchKindField()
    claim = serializers.IntegerField(
        source="claim_id", allow_null=True, help_text="url, prefix, domain, style."
    )
    image = serializers.IntegerField(
        source="image_id", allow_null=True, help_text="Hash and descriptor matches."
    )  # signal matches have neither a claim nor an image
    work = serializers.IntegerField(source="work_id", allow_null=True)
    distance = serializers.IntegerField(
        allow_null=True, help_text="Hamming distance (phash, pdq)."
    )
    matched = serializers.CharField(
        help_text="What matched: the claimed URL, prefix, domain or style name; "
        "for a signal match, the preference (train-ai=n)."
    )
    matched_as = serializers.CharField(help_text=MATCHED_AS_HELP)
    level = serializers.CharField(
        help_text="Perceptual matches: verified (local features agree), strong "
        "(too close for chance) or possible (for review); `opt-in` for a "
        "match on a claim or work its holder offers for AI training on terms "
        "(never removes; see `terms`); empty otherwise."
    )
    variant = serializers.CharField(
        help_text="Perceptual matches: the registry variant that came closest "
        '("+mirror" when the row\'s mirror image did); descriptor matches: the '
        'registered region that came closest ("whole", "centre", "top-left"...; '
        '"trimmed:" in front when the row\'s image trimmed of its margins did).'
    )
    inliers = serializers.IntegerField(
        allow_null=True,
        help_text="Verification's inlier count; null when it could not run.",
    )
    agreement = serializers.FloatField(
        allow_null=True,
        help_text="Verified pairs: correlation (-1..1) of the row's image laid "
        "on the registered one by the transform found.",
    )
    coverage = serializers.FloatField(
        allow_null=True,
        help_text="How evenly the inliers cover the overlap of both images "
        "(0-1, the lower of the two sides); null when verification could not "
        "run.",
    )
    alignment = serializers.FloatField(
        allow_null=True,
        help_text="Pairs the keypoints did not verify: the two images' "
        "thumbnails aligned densely, the lower of their correlation and their "
        "cells' agreement (0-1); verified at or above the job's min_alignment. "
        "Null when it was not tried.",
    )
    chance = serializers.FloatField(
        allow_null=True,
        help_text="Estimated probability that an unrelated image is this close.",
    )
    similarity = serializers.FloatField(
        allow_null=True,
        help_text="Descriptor matches: cosine similarity (-1..1) of the row's "
        "copy-detection descriptor and the registered image's closest region; "
        "null for other kinds.",
    )
    source = serializers.CharField(
        help_text="Signal matches: the protocol that refused AI training "
        "(iptc, c2pa, cawg, rsl in the row's image; robots, content-signal, "
        "tdmrep, rsl on its URL's site); empty for other kinds."
    )
    evidence = serializers.CharField(
        help_text="Signal matches: what the file or site says, as written, "
        "with who signed it (C2PA) or the host and when it was fetched; "
        "opt-in matches: the terms as JSON."
    )
    terms = terms_field("Opt-in matches: the holder's terms; null otherwise.")
    removed = serializers.SerializerMethodField(
        help_text="Whether this match removes its row from the filtered manifest."
    )

    class Meta:
        ref_name = "Match"

    def get_removed(self, match: Match) -> bool:
        return removes_row(match.level, match.job.remove_levels)


def job_detail(job_id: int, user: User) -> MatchJob:
    job = selectors.job_get_for_owner(owner=user, job_id=job_id)
    if job is None:
        raise NotFound("job not found")
    return job


class JobListApi(APIView):
    required_scopes = Scope.CURATE

    pagination_class = Pagination

    @extend_schema(
        tags=["jobs"],
        summary="Your match jobs, newest first",
        description="Every match job the caller started, newest first, 50 a "
        "page, in their short form (state, progress, counts); an account that "
        "started none gets an empty page. The full job, with its receipt and "
        "files, is at each job's `url`.",
        responses={
            200: JobSummaryOutputSerializer(many=True),
            **errors(401, 404, descriptions={404: _PAGE_NOT_FOUND}),
        },
        examples=[
            OpenApiExample(
                "A finished job", value=JOB_SUMMARY_EXAMPLE, response_only=True
            ),
        ],
    )
    def get(self, request: Request) -> Response:
        return paginated_response(
            queryset=selectors.job_list_for_owner(owner=request.user),
            serializer_class=JobSummaryOutputSerializer,
            request=request,
            view=self,
        )


class JobDetailApi(APIView):
    required_scopes = Scope.CURATE

    @extend_schema(
        tags=["jobs"],
        summary="One match job: state, progress, counts, receipt and files",
        description="One of the caller's jobs; poll it until `state` is "
        "succeeded, failed or cancelled. `counts`, `receipt` and `outputs` (the "
        "reports, the filtered manifest and the receipt, each with a download "
        "`url`) are filled in when the job succeeds. `columns` names the "
        "column each signal was read from and those found but unused; "
        "`warnings` says in words what was not checked (no URL column, rows "
        "passed on unchecked). A row that could not be checked in full is "
        "counted in `rows_unchecked` and left out of the filtered manifest "
        "unless the job keeps them (`keep_unchecked`); `unchecked` lists the "
        "first 20, the reports all of them. Someone else's job is a 404.",
        parameters=[path_id("job_id")],
        responses={200: JobDetailOutputSerializer, **errors(401, 404)},
        examples=[
            OpenApiExample(
                "A job that has succeeded",
                value=JOB_DETAIL_EXAMPLE,
                response_only=True,
            ),
        ],
    )
    def get(self, request: Request, job_id: int) -> Response:
        job = job_detail(job_id, request.user)
        return Response(
            JobDetailOutputSerializer(job, context={"request": request}).data
        )


class JobCancelApi(APIView):
    required_scopes = Scope.CURATE

    @extend_schema(
        tags=["jobs"],
        summary="Cancel a queued or running job",
        description="Stops one of the caller's jobs that is queued or running: "
        "it becomes cancelled at once, its remaining chunks are not matched and "
        "it produces no reports, filtered manifest or receipt. No body. The "
        "answer is the job as it is now. A job that has already succeeded, "
        "failed or been cancelled is a 409, so cancelling twice is one too.",
        parameters=[path_id("job_id")],
        request=None,
        responses={
            200: JobDetailOutputSerializer,
            **errors(
                401,
                404,
                409,
                descriptions={
                    409: "The job has already succeeded, failed or been cancelled."
                },
            ),
        },
        examples=[
            OpenApiExample(
                "A queued job, cancelled",
                value=CANCELLED_JOB_DETAIL_EXAMPLE,
                response_only=True,
            ),
        ],
    )
    def post(self, request: Request, job_id: int) -> Response:
        services.match_job_cancel(owner=request.user, job_id=job_id)
        job = job_detail(job_id, request.user)
        return Response(
            JobDetailOutputSerializer(job, context={"request": request}).data
        )


class JobRetryApi(APIView):
    required_scopes = Scope.CURATE

    @extend_schema(
        tags=["jobs"],
        summary="Retry a job that failed writing its outputs",
        description="Resumes one of the caller's failed jobs whose matching had "
        "finished: it failed while writing its reports, filtered manifest and "
        'receipt (its `failure_reason` says why, e.g. "the outputs could not '
        "be written: the disk of the file storage (MEDIA_ROOT) is full (No "
        'space left on device); free space, then retry the job"). The job '
        "goes back to running, phase finalizing, and its outputs are written "
        "again from the matches it stored: nothing is matched again, so the "
        "matches and the registry revision are those of the first run. No "
        "body. The answer is the job as it is now; poll it as usual. A job "
        "that is not failed is a 409, and so is one that failed before its "
        "matching finished (its manifest could not be read, or a chunk kept "
        "failing): upload the manifest again for a new check.",
        parameters=[path_id("job_id")],
        request=None,
        responses={
            200: JobDetailOutputSerializer,
            **errors(
                401,
                404,
                409,
                descriptions={
                    409: "The job is not failed, or failed before its matching "
                    "finished, or is already being retried."
                },
            ),
        },
        examples=[
            OpenApiExample(
                "A job retried after a full disk",
                value=RETRIED_JOB_DETAIL_EXAMPLE,
                response_only=True,
            ),
        ],
    )
    def post(self, request: Request, job_id: int) -> Response:
        services.match_job_retry(owner=request.user, job_id=job_id)
        job = job_detail(job_id, request.user)
        return Response(
            JobDetailOutputSerializer(job, context={"request": request}).data
        )


class JobMatchListApi(APIView):
    required_scopes = Scope.CURATE

    pagination_class = Pagination

    class FilterSerializer(serializers.Serializer):
        kind = MatchKindField(required=False)
        level = serializers.ChoiceField(choices=Match.Level.values, required=False)

    @extend_schema(
        tags=["jobs"],
        summary="A job's matches in row order, 50 a page",
        description="The matches found so far in one of the caller's jobs, by "
        "manifest row (a row can have several), optionally only one `kind` or "
        "one perceptual `level`. `removed` says whether the match takes its row "
        "out of the filtered manifest.",
        parameters=[
            path_id("job_id"),
            OpenApiParameter(
                "kind",
                enum=Match.Kind.values,
                description="Only matches of this kind.",
            ),
            OpenApiParameter(
                "level",
                enum=Match.Level.values,
                description="Only perceptual matches of this level.",
            ),
        ],
        responses={
            200: MatchOutputSerializer(many=True),
            **errors(
                400,
                401,
                404,
                descriptions={
                    400: "An unknown `kind` or `level`.",
                    404: "Not found, or not yours; or no such page (`page` past "
                    "the last page or not a number).",
                },
            ),
        },
        examples=[
            OpenApiExample(
                "A URL prefix claim", value=URL_MATCH_EXAMPLE, response_only=True
            ),
            OpenApiExample(
                "A verified perceptual match",
                value=PERCEPTUAL_MATCH_EXAMPLE,
                response_only=True,
            ),
            OpenApiExample(
                "An image that refuses AI training in its own metadata",
                value=SIGNAL_MATCH_EXAMPLE,
                response_only=True,
            ),
        ],
    )
    def get(self, request: Request, job_id: int) -> Response:
        job = job_detail(job_id, request.user)
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        matches = selectors.match_list_for_job(
            job=job,
            kind=filters.validated_data.get("kind"),
            level=filters.validated_data.get("level"),
        )
        return paginated_response(
            queryset=matches,
            serializer_class=MatchOutputSerializer,
            request=request,
            view=self,
        )


class JobOutputDownloadApi(APIView):
    required_scopes = Scope.CURATE

    @extend_schema(
        tags=["jobs"],
        summary="Download one of a job's files (report, filtered manifest, receipt)",
        description="The file's bytes as an attachment under its name; take the "
        "`url` from the job's `outputs`. The Content-Type is guessed from the "
        "name (text/csv for matches.csv, application/json for receipt.json) and "
        "is application/octet-stream where there is no guess (Parquet, JSON "
        "lines). A file of someone else's job, or not of job `job_id`, is a 404.",
        parameters=[path_id("job_id"), path_id("output_id")],
        responses={
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            **errors(401, 404),
        },
    )
    def get(self, request: Request, job_id: int, output_id: int) -> FileResponse:
        output = selectors.output_get_for_owner(
            owner=request.user, job_id=job_id, output_id=output_id
        )
        if output is None:
            raise NotFound("file not found")
        return FileResponse(
            output.file.open("rb"), as_attachment=True, filename=output.name
        )
