"""Server-rendered pages for dataset curators: upload a manifest, follow its job.

Views parse a form, call one service (writes) or selectors (reads) and render.
A DomainError becomes an error on the form field it names, or a message; a job
or file of someone else's is a 404. Accounts without the curator role are sent
to their dashboard with a message that says so.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from accounts.authentication import request_user
from accounts.models import User
from accounts.permissions import curator_required, staff_required
from core.api import ID_MAX
from core.errors import DomainError, NotFound, ValidationFailed
from core.forms import MultipleFileField, MultipleFileInput, add_domain_error
from core.upload_limits import upload_refused
from optout import selectors, services
from optout.models import MatchJob
from optout.snapshots import max_radius
from registry.selectors import rights_holder_for_user

JOBS_PER_PAGE = 30


MATCHES_SHOWN = 100


COLUMN_FIELDS = ("url", "caption", "key", "sha256", "md5", "phash", "pdq", "image")


class ManifestForm(forms.Form):
    files = MultipleFileField(
        label="Manifest",
        required=False,
        help_text="One file, or all the parts of one manifest (select them "
        "together): CSV, TSV, JSONL, Parquet or WebDataset .tar shards, or a ZIP "
        "of them. img2dataset's .parquet and _stats.json files beside its shards "
        "are filtered with them.",
        widget=MultipleFileInput(
            attrs={
                "accept": ".csv,.tsv,.txt,.jsonl,.json,.ndjson,.parquet,.tar,.zip",
                "required": True,
            }
        ),
    )
    name = forms.CharField(
        max_length=255,
        required=False,
        help_text="For your job list; defaults to the file's name.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for logical in COLUMN_FIELDS:
            self.fields[f"column_{logical}"] = forms.CharField(
                label=f"{logical} column",
                max_length=255,
                required=False,
                widget=forms.TextInput(attrs={"class": "mono"}),
            )
        limits = max_radius()
        for kind, default, limit in (
            ("phash", settings.MATCH_PHASH_THRESHOLD, limits.phash),
            ("pdq", settings.MATCH_PDQ_THRESHOLD, limits.pdq),
        ):
            self.fields[f"threshold_{kind}"] = forms.IntegerField(
                label=f"{'pHash' if kind == 'phash' else 'PDQ'} threshold",
                required=False,
                min_value=0,
                max_value=limit,
                help_text=f"Largest Hamming distance that counts as a match "
                f"(0 to {limit}; {default} when empty).",
                widget=forms.NumberInput(attrs={"placeholder": str(default)}),
            )

        self.fields["remove_levels"] = forms.MultipleChoiceField(
            label="Perceptual matches to remove",
            choices=[
                ("verified", "verified: local features agree"),
                ("strong", "strong: hashes too close for chance"),
                ("possible", "possible: candidates for review"),
            ],
            initial=list(settings.MATCH_REMOVE_LEVELS),
            required=False,
            widget=forms.CheckboxSelectMultiple,
            help_text="The filtered manifest drops rows with these; the others are "
            "listed in the report for review. Exact, URL and style matches are "
            "always removed.",
        )

        self.fields["signals"] = forms.MultipleChoiceField(
            label="Signals read in the images",
            choices=[
                ("iptc", "IPTC plus:DataMining in XMP"),
                ("c2pa", "C2PA training-and-data-mining assertion"),
                ("cawg", "CAWG training-and-data-mining assertion"),
                ("rsl", "RSL licence (in XMP, or named by robots.txt)"),
                ("robots", "robots.txt Content-Usage (IETF aipref)"),
                ("content-signal", "robots.txt Content-Signal"),
                ("tdmrep", "TDMRep (/.well-known/tdmrep.json)"),
            ],
            initial=list(settings.SIGNAL_PROTOCOLS),
            required=False,
            widget=forms.CheckboxSelectMultiple,
            help_text="Images in tar shards or Parquet files are read for what "
            "their own metadata says about AI training, and with the box below "
            "the sites their URLs are on; a refusal removes the row, and the "
            "report names the protocol and the value.",
        )

        self.fields["opt_in_manifest"] = forms.BooleanField(
            label="Also write the opt-in rows",
            required=False,
            help_text="A manifest of only the rows whose rights holders offer "
            "them for AI training on terms; the report lists the terms.",
        )
        self.fields["web_signals"] = forms.BooleanField(
            label="Check publishers' signals",
            required=False,
            initial=settings.SIGNAL_WEB,
            help_text="Fetch robots.txt, tdmrep.json and RSL licences of every "
            "host in the manifest (each at most once a day) and remove rows "
            "whose publisher refuses AI training.",
        )

        self.fields["keep_unchecked"] = forms.BooleanField(
            label="Keep rows that could not be checked",
            required=False,
            help_text="A row with a value that cannot be read (text that is not "
            "UTF-8, a broken quote, a malformed hash, an image that does not "
            "decode) is left out of the filtered manifest unless this is ticked; "
            "either way the reports list it as unchecked.",
        )

    def column_fields(self) -> list[forms.BoundField]:
        return [self[f"column_{logical}"] for logical in COLUMN_FIELDS]

    def threshold_fields(self) -> list[forms.BoundField]:
        return [self["threshold_phash"], self["threshold_pdq"]]

    def columns(self) -> dict[str, str]:
        return {
            logical: self.cleaned_data[f"column_{logical}"].strip()
            for logical in COLUMN_FIELDS
            if self.cleaned_data.get(f"column_{logical}", "").strip()
        }

    def thresholds(self) -> dict[str, int]:
        return {
            kind: self.cleaned_data[f"threshold_{kind}"]
            for kind in ("phash", "pdq")
            if self.cleaned_data.get(f"threshold_{kind}") is not None
        }


def _job_context(job: MatchJob) -> dict[str, Any]:
    matches = selectors.match_list_for_job(job=job)
    # A receipt stored before receipts were signed is the payload alone.
    signed = "payload" in job.receipt
    payload = job.receipt.get("payload", {}) if signed else job.receipt
    levels = payload.get("matches_by_level", payload.get("levels")) or {}
    rows = payload.get("rows")
    columns = selectors.job_columns(job=job)
    return {
        "job": job,
        "outputs": selectors.output_list_for_job(job=job),
        "unchecked": selectors.job_unchecked_rows(job=job),
        "columns": columns,
        "warnings": selectors.job_warnings(job=job),
        # The all-clear is said only when every row was checked, URLs included.
        "all_checked": not job.rows_unchecked and "url" in columns["used"],
        "matches": list(matches[:MATCHES_SHOWN]),
        "match_count": matches.count(),
        "matches_shown": MATCHES_SHOWN,
        "matches_api": reverse("api-job-matches", kwargs={"job_id": job.pk}),
        "shared": selectors.datasets_of_manifest(job.manifest_id),
        "counts": sorted(job.counts.items()),
        "levels": [
            (level, levels.get(level, 0))
            for level in ("verified", "strong", "possible")
        ],
        "rows_for_review": (
            rows.get("kept_for_review", 0)
            if isinstance(rows, dict)
            else payload.get("rows_listed_for_review", 0)
        ),
        "rows_opt_in": rows.get("opt_in", 0) if isinstance(rows, dict) else 0,
        "rows_passed_unchecked": (
            rows.get("unchecked_passed_on", 0) if isinstance(rows, dict) else 0
        ),
        "receipt_key_id": job.receipt.get("key_id", "") if signed else "",
        "keys_url": reverse("receipt_keys"),
        "unchecked_reasons": sorted(
            job.unchecked_reasons.items(), key=lambda kv: -kv[1]
        ),
        "receipt": json.dumps(job.receipt, indent=2) if job.receipt else "",
        "percent": round(job.progress * 100),
    }


def _job_for(user: User, job_id: int) -> MatchJob:
    job = selectors.job_get_for_owner(owner=user, job_id=job_id)
    if job is None:
        raise Http404("job not found")
    return job


@curator_required
def job_list(request: HttpRequest, user: User) -> HttpResponse:
    paginator = Paginator(selectors.job_list_for_owner(owner=user), JOBS_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    return render(request, "optout/jobs.html", {"page": page, "jobs": page.object_list})


@curator_required
def manifest_upload(request: HttpRequest, user: User) -> HttpResponse:
    if request.method != "POST":
        return render(request, "optout/upload.html", {"form": ManifestForm()})
    form = ManifestForm(request.POST, request.FILES)
    refused = upload_refused(request)
    if refused:
        form.add_error("files", refused)
        return render(request, "optout/upload.html", {"form": form}, status=413)
    files = request.FILES.getlist("files")
    if form.is_valid() and not files:
        form.add_error("files", "choose a manifest file to upload")
    if form.is_valid():
        try:
            manifest = services.manifest_upload(
                owner=user,
                files=files,
                columns=form.columns() or None,
                name=form.cleaned_data["name"],
            )
            job = services.match_job_start(
                manifest=manifest,
                owner=user,
                thresholds=form.thresholds(),
                remove_levels=form.cleaned_data["remove_levels"],
                keep_unchecked=form.cleaned_data["keep_unchecked"],
                signals=form.cleaned_data["signals"] or [services.NO_SIGNALS],
                web_signals=form.cleaned_data["web_signals"],
                opt_in_manifest=form.cleaned_data["opt_in_manifest"],
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(
                request, f"“{manifest.name}” was uploaded: matching has started."
            )
            return redirect("job_detail", job_id=job.pk)
    return render(request, "optout/upload.html", {"form": form}, status=400)


@curator_required
def job_detail(request: HttpRequest, user: User, job_id: int) -> HttpResponse:
    return render(request, "optout/job.html", _job_context(_job_for(user, job_id)))


@curator_required
def job_fragment(request: HttpRequest, user: User, job_id: int) -> HttpResponse:
    """The job's status alone, polled by the job page until the job is final."""
    job = _job_for(user, job_id)
    response = render(request, "optout/_job.html", _job_context(job))
    response["Cache-Control"] = "no-store"
    return response


@curator_required
@require_POST
def job_cancel(request: HttpRequest, user: User, job_id: int) -> HttpResponse:
    try:
        services.match_job_cancel(owner=user, job_id=job_id)
    except NotFound:
        raise Http404("job not found") from None
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "The job was cancelled.")
    return redirect("job_detail", job_id=job_id)


@curator_required
@require_POST
def job_retry(request: HttpRequest, user: User, job_id: int) -> HttpResponse:
    try:
        services.match_job_retry(owner=user, job_id=job_id)
    except NotFound:
        raise Http404("job not found") from None
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            "The job is writing its outputs again, from the matches it found; "
            "nothing is matched again.",
        )
    return redirect("job_detail", job_id=job_id)


@curator_required
def job_output(
    request: HttpRequest, user: User, job_id: int, output_id: int
) -> FileResponse:
    output = selectors.output_get_for_owner(
        owner=user, job_id=job_id, output_id=output_id
    )
    if output is None:
        raise Http404("file not found")
    return FileResponse(
        output.file.open("rb"), as_attachment=True, filename=output.name
    )


@require_safe
def receipt_keys(request: HttpRequest) -> HttpResponse:
    """/.well-known/dnt-registry-keys.json: the keys that verify receipts.

    Public and cacheable for a few minutes; any origin may read it, so an
    auditor's page in a browser can fetch it too.
    """
    response = JsonResponse(
        selectors.receipt_keys_document(), json_dumps_params={"indent": 2}
    )
    response["Access-Control-Allow-Origin"] = "*"
    response["Cache-Control"] = "public, max-age=300"
    return response


# --- The dataset search ("have I been trained?") ---------------------------


class SearchForm(forms.Form):
    q = forms.CharField(
        label="Search for",
        max_length=2048,
        help_text="Your name or a title (found as whole words in captions), or "
        "your site (bob-art.example) or gallery (a URL: everything under it).",
    )
    by = forms.ChoiceField(
        label="In",
        choices=[("text", "captions"), ("site", "URLs (a site or a gallery)")],
        initial="text",
    )
    dataset = forms.TypedChoiceField(
        label="Dataset", required=False, coerce=int, empty_value=None
    )

    def __init__(self, *args: Any, datasets: list[Any] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["dataset"].choices = [("", "all datasets")] + [
            (d.pk, d.name) for d in datasets
        ]


class DatasetAddForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    source_url = forms.CharField(
        label="Source",
        required=False,
        max_length=2048,
        help_text="Where it is published.",
    )
    files = MultipleFileField(
        label="Files",
        required=False,
        widget=MultipleFileInput(
            attrs={
                "accept": ".csv,.tsv,.txt,.jsonl,.json,.ndjson,.parquet,.tar,.zip",
                "required": True,
            }
        ),
    )


def _search_page(request: HttpRequest) -> int:
    try:
        return max(1, int(request.GET.get("page", "1")))
    except ValueError:
        return 1


@login_required
@require_safe
def search(request: HttpRequest) -> HttpResponse:
    datasets = list(selectors.datasets_listed())
    holder = rights_holder_for_user(user=request.user)
    form = SearchForm(request.GET or None, datasets=datasets)
    ctx: dict[str, Any] = {
        "form": form,
        "image_form": _image_form(request, holder),
        "datasets": datasets,
        "rows_indexed": sum(d.rows_done for d in datasets),
        "can_opt_out": holder is not None,
    }
    if request.GET and form.is_valid():
        page = _search_page(request)
        per_page = selectors.SEARCH_PER_PAGE
        try:
            results = selectors.dataset_search(
                by=form.cleaned_data["by"],
                q=form.cleaned_data["q"],
                offset=(page - 1) * per_page,
                limit=per_page,
                dataset_id=form.cleaned_data["dataset"],
                holder_id=holder.pk if holder else None,
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            query = request.GET.copy()
            query.pop("page", None)
            ctx.update(
                results=results,
                query=query.urlencode(),
                first=results.offset + 1 if results.hits else 0,
                last=results.offset + len(results.hits),
                previous=page - 1 if page > 1 else None,
                next=page + 1
                if results.offset + len(results.hits) < results.total
                else None,
            )
    return render(request, "optout/search.html", ctx)


@login_required
@require_safe
def search_export(request: HttpRequest) -> HttpResponse:
    """Every matching row (up to SEARCH_EXPORT_MAX) as CSV, streamed a page
    of the index at a time."""
    form = SearchForm(request.GET, datasets=list(selectors.datasets_listed()))
    if not form.is_valid():
        return redirect("search")
    by, q = form.cleaned_data["by"], form.cleaned_data["q"]
    dataset_id = form.cleaned_data["dataset"]
    try:
        selectors.search_parse(by, q)
    except DomainError:
        return redirect("search")

    def pages() -> Iterator[selectors.SearchResults]:
        offset = 0
        while offset < selectors.SEARCH_EXPORT_MAX:
            results = selectors.dataset_search(
                by=by, q=q, offset=offset, limit=1000, dataset_id=dataset_id
            )
            yield results
            offset += len(results.hits)
            if not results.hits or offset >= results.total:
                break

    return _search_csv(pages())


@login_required
@require_POST
def search_opt_out(request: HttpRequest) -> HttpResponse:
    back = request.POST.get("next", "")
    if not back.startswith("/search/"):
        back = reverse("search")
    holder = rights_holder_for_user(user=request.user)
    if holder is None:
        messages.error(request, "Create your artist profile first.")
        return redirect("dashboard")
    picked: dict[int, list[int]] = {}
    for value in request.POST.getlist("pick"):
        dataset, _, row = value.partition(":")
        if (
            dataset.isdigit()
            and row.isdigit()
            and max(int(dataset), int(row)) <= ID_MAX
        ):
            picked.setdefault(int(dataset), []).append(int(row))
    if not picked:
        messages.error(request, "Select the rows to opt out first.")
        return redirect(back)
    prefix = request.POST.get("as_prefix", "")
    work = request.POST.get("work", "")
    work_id = int(work) if work.isdigit() else None
    made = rows = 0
    problems: list[str] = []
    for dataset_id, picks in sorted(picked.items()):
        try:
            result = services.search_opt_out(
                owner=holder,
                dataset_id=dataset_id,
                rows=picks,
                prefix=prefix,
                work_id=work_id,
            )
        except DomainError as exc:
            problems.append(str(exc))
            continue
        made += len(result["created"])
        rows += result["rows"]
        if result["unusable"]:
            n = len(result["unusable"])
            problems.append(
                f"{n} row{'s' if n != 1 else ''} had no http(s) URL to claim "
                f"(row {', '.join(map(str, result['unusable'][:10]))})"
            )
        problems += [f"{e['value']}: {e['message']}" for e in result["errors"]]
    if rows:
        messages.success(
            request,
            f"{rows} row{'s' if rows != 1 else ''} opted out; "
            f"{made} new claim{'s' if made != 1 else ''}.",
        )
    for problem in problems[:10]:
        messages.warning(request, problem)
    return redirect(back)


@login_required
def search_datasets(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]  # login_required
    form = DatasetAddForm() if user.is_staff else None
    if request.method == "POST":
        if not user.is_staff:
            raise Http404
        form = DatasetAddForm(request.POST, request.FILES)
        files = request.FILES.getlist("files")
        if form.is_valid():
            try:
                manifest = services.manifest_upload(
                    owner=user, files=files, name=form.cleaned_data["name"]
                )
                dataset = services.dataset_add(
                    by=user,
                    manifest_id=manifest.pk,
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                    source_url=form.cleaned_data["source_url"],
                )
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, f"{dataset.name} is queued for indexing.")
                return redirect("search_datasets")
    datasets = selectors.datasets_listed(staff=user.is_staff)
    return render(request, "optout/datasets.html", {"datasets": datasets, "form": form})


@staff_required
@require_POST
def search_dataset_remove(request: HttpRequest, dataset_id: int) -> HttpResponse:
    try:
        services.dataset_remove(by=request.user, dataset_id=dataset_id)
    except NotFound:
        raise Http404("dataset not found") from None
    messages.success(
        request, "The dataset is no longer searched; its index is deleted."
    )
    return redirect("search_datasets")


@curator_required
@require_POST
def job_share(request: HttpRequest, user: User, job_id: int) -> HttpResponse:
    """The curator opts in: the job's manifest joins the artists' search."""
    job = _job_for(user, job_id)
    try:
        dataset = services.dataset_add(
            by=user,
            manifest_id=job.manifest_id,
            name=request.POST.get("name", "") or job.manifest.name,
            description=request.POST.get("description", ""),
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"{dataset.name} is queued for indexing; artists can search it once "
            "it is ready.",
        )
    return redirect("job_detail", job_id=job.pk)


class ImageSearchForm(forms.Form):
    image = forms.ImageField(
        label="Your image",
        required=False,
        help_text="Found by the copy-detection descriptor in datasets whose rows "
        "carry their images, crops and recolourings included.",
    )
    work = forms.TypedChoiceField(
        label="Or one of your works", required=False, coerce=int, empty_value=None
    )
    # The next pages and the export search the first page's image again,
    # carried by the page (PNG, at most IMAGE_QUERY_SIDE a side): nothing
    # of it is kept on the server.
    query = forms.CharField(required=False, widget=forms.HiddenInput)
    page = forms.IntegerField(
        required=False, min_value=1, max_value=1000, widget=forms.HiddenInput
    )

    def __init__(self, *args: Any, works: list[Any] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["work"].choices = [("", "—")] + [(w.pk, w.title) for w in works]


def _image_form(request: HttpRequest, holder: Any) -> ImageSearchForm:
    from registry.selectors import work_list_for_owner

    works = list(work_list_for_owner(owner=holder)[:200]) if holder else []
    if request.method == "POST":
        return ImageSearchForm(request.POST, request.FILES, works=works)
    return ImageSearchForm(works=works)


@login_required
def search_image(request: HttpRequest) -> HttpResponse:
    holder = rights_holder_for_user(user=request.user)
    if request.method != "POST":
        return redirect("search")
    form = _image_form(request, holder)
    datasets = list(selectors.datasets_listed())
    ctx: dict[str, Any] = {
        "form": SearchForm(datasets=datasets),
        "image_form": form,
        "datasets": datasets,
        "rows_indexed": sum(d.rows_done for d in datasets),
        "can_opt_out": holder is not None,
    }
    if form.is_valid():
        upload = form.cleaned_data["image"]
        work_id = form.cleaned_data["work"]
        page = form.cleaned_data["page"] or 1
        per_page = selectors.IMAGE_PER_PAGE
        try:
            data = upload.read() if upload else None
            if data is None and work_id is None and form.cleaned_data["query"]:
                data = _carried_image(form.cleaned_data["query"])
            image = selectors.image_query(
                selectors.search_query_image(
                    data=data,
                    work_id=work_id,
                    holder_id=holder.pk if holder else None,
                )
            )
            export = "export" in request.POST
            results = selectors.dataset_image_search(
                image=image,
                offset=0 if export else (page - 1) * per_page,
                limit=selectors.IMAGE_EXPORT_MAX if export else per_page,
                holder_id=holder.pk if holder else None,
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            if export:
                return _search_csv([results])
            ctx.update(
                results=results,
                first=results.offset + 1 if results.hits else 0,
                last=results.offset + len(results.hits),
                previous=page - 1 if page > 1 else None,
                next=page + 1 if results.offset + per_page < results.total else None,
                searched_work=work_id,
                carried="" if work_id else _carry_image(image),
            )
    return render(request, "optout/search.html", ctx)


def _carry_image(image: Any) -> str:
    out = io.BytesIO()
    image.save(out, "PNG", optimize=False, compress_level=6)
    return base64.b64encode(out.getvalue()).decode("ascii")


def _carried_image(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationFailed(
            "image: the search expired; upload the image again", field="image"
        ) from None


def _search_csv(pages: Iterable[selectors.SearchResults]) -> StreamingHttpResponse:
    def rows() -> Iterator[str]:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(
            ["dataset", "row", "url", "caption", "why", "level", "similarity"]
        )
        for results in pages:
            for hit in results.hits:
                writer.writerow(
                    [
                        hit.dataset,
                        hit.row,
                        hit.url,
                        hit.caption,
                        hit.why,
                        hit.level,
                        "" if hit.similarity is None else f"{hit.similarity:.4f}",
                    ]
                )
            yield out.getvalue()
            out.seek(0)
            out.truncate()

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="search.csv"'
    return response


@require_safe
def search_thumb(request: HttpRequest, dataset_id: int, row: int) -> HttpResponse:
    """A row's thumbnail, for anyone signed in (a session, or the API token
    that got the URL from the search API)."""
    if not request_user(request).is_authenticated or max(dataset_id, row) > ID_MAX:
        raise Http404("no thumbnail")
    dataset = selectors.datasets_listed().filter(pk=dataset_id).first()
    hits = selectors.dataset_rows(dataset, [row]) if dataset else []
    if not hits or not hits[0].thumb:
        raise Http404("no thumbnail")
    response = HttpResponse(hits[0].thumb, content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=86400"
    return response
