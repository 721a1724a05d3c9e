"""Pages for disputes, false-match reports and the admins' review queue.

Anyone signed in may open a dispute and follow their own; the claimant answers
on the dispute's page. The review pages are for staff only: everyone else gets
a 404, so they do not even learn the pages exist.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from accounts.authentication import request_user
from accounts.models import User
from accounts.permissions import staff_required
from core.errors import DomainError, NotAllowed, NotFound
from core.files import content_type_for, stored_file_response
from core.forms import add_domain_error
from core.throttles import DisputeThrottle, page_throttled
from core.upload_limits import upload_refused
from core.uploads import IncomingFile
from disputes.forms import (
    ConfirmForm,
    DecisionForm,
    DisputeForm,
    ReportDecisionForm,
    ReportForm,
    ResponseForm,
)
from disputes.models import Dispute, FalseMatchReport
from registry.models import Claim, Image
from registry.selectors import image_ids_visible

from . import selectors, services

REVIEW_LIST_SIZE = 100


def _files(request: HttpRequest) -> list[IncomingFile]:
    return [
        IncomingFile(name=f.name, size=f.size, stream=f)
        for f in request.FILES.getlist("files")
    ]


def _field(form: Any, exc: DomainError) -> str | None:
    return exc.field if exc.field in form.fields else None


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]  # login_required


def _target_images(dispute: Dispute) -> list[Image]:
    return list(
        selectors.dispute_target_images(dispute)
        .prefetch_related("fingerprints")
        .order_by("id")[: selectors.MAX_COMPARED_IMAGES]
    )


def _image_cards(images: list[Image]) -> list[dict[str, Any]]:
    return [{"image": i, "hashes": selectors.image_hashes(i)} for i in images]


@login_required
def dispute_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    ctx = {
        "opened": selectors.dispute_list_for_user(user=user, role="disputer"),
        "against": selectors.dispute_list_for_user(user=user, role="claimant"),
    }
    return render(request, "disputes/list.html", ctx)


@login_required
def dispute_new(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    raw_target = request.POST.get("target") or request.GET.get("target", "")
    try:
        target = services.dispute_target_for(user=user, target=raw_target)
    except DomainError:
        raise Http404("nothing to dispute there") from None
    if request.method == "POST" and (
        limited := page_throttled(request, DisputeThrottle)
    ):
        return limited
    is_style = isinstance(target.obj, Claim) and target.obj.kind == Claim.Kind.STYLE
    form = DisputeForm(
        request.POST or None,
        request.FILES or None,
        initial={"target": target.key},
        style=is_style,
    )
    refused = upload_refused(request)
    if refused:
        form.add_error("files", refused)
    elif request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            dispute = services.dispute_create(
                disputer=user,
                target=data["target"],
                grounds=data["grounds"],
                statement=data["statement"],
                evidence_urls=form.url_list(),
                files=_files(request),
                named=data["named"],
            )
        except DomainError as exc:
            # The target is a hidden field: its errors go above the form.
            form.add_error(
                None if exc.field == "target" else _field(form, exc), exc.message
            )
        else:
            messages.success(
                request,
                f"Dispute #{dispute.pk} is open: the claimant has until "
                f"{dispute.response_due:%Y-%m-%d} to respond.",
            )
            return redirect("dispute_detail", dispute_id=dispute.pk)
    images = []
    if isinstance(target.obj, Image):
        images = [target.obj]
    elif not isinstance(target.obj, Claim):
        images = list(target.obj.images.select_related("work__owner")[:12])
    # Anyone signed in may open this page for any target: it shows only the
    # thumbnails the user may see anyway (the owner, staff, a curator whose job
    # matched the image, someone who disputed it before).
    visible = image_ids_visible(user=user, images=images)
    ctx = {"form": form, "target": target, "images": images, "visible": visible}
    return render(
        request,
        "disputes/new.html",
        ctx,
        status=413 if refused else 400 if form.errors else 200,
    )


def _dispute_for(request: HttpRequest, dispute_id: int) -> Dispute:
    try:
        return selectors.dispute_get_for_user(
            user=_user(request), dispute_id=dispute_id
        )
    except NotFound:
        raise Http404("dispute not found") from None


def _detail_context(dispute: Dispute, user: User, **extra: Any) -> dict[str, Any]:
    is_claimant = dispute.holder.user_id == user.pk
    awaiting = dispute.state == Dispute.State.AWAITING_RESPONSE
    return {
        "dispute": dispute,
        "timeline": selectors.dispute_timeline_rows(dispute=dispute, viewer=user),
        "evidence": list(dispute.evidence.all()),
        "is_disputer": dispute.disputer_id == user.pk,
        "disputer_label": services.disputer_label(dispute, user),
        "is_claimant": is_claimant,
        "response_form": extra.pop("response_form", None)
        or (ResponseForm() if is_claimant and awaiting else None),
        **extra,
    }


@login_required
def dispute_detail(request: HttpRequest, dispute_id: int) -> HttpResponse:
    dispute = _dispute_for(request, dispute_id)
    ctx = _detail_context(dispute, _user(request))
    return render(request, "disputes/detail.html", ctx)


@login_required
@require_POST
def dispute_respond(request: HttpRequest, dispute_id: int) -> HttpResponse:
    user = _user(request)
    dispute = _dispute_for(request, dispute_id)
    form = ResponseForm(request.POST, request.FILES)
    refused = upload_refused(request)
    if refused:
        form.add_error("files", refused)
    elif form.is_valid():
        try:
            services.dispute_respond(
                user=user,
                dispute_id=dispute.pk,
                response=form.cleaned_data["response"],
                files=_files(request),
            )
        except NotAllowed as exc:
            messages.error(request, exc.message)
            return redirect("dispute_detail", dispute_id=dispute.pk)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, "Your response was sent; an admin will decide.")
            return redirect("dispute_detail", dispute_id=dispute.pk)
    ctx = _detail_context(dispute, user, response_form=form)
    return render(request, "disputes/detail.html", ctx, status=413 if refused else 400)


@login_required
@require_POST
def dispute_withdraw(request: HttpRequest, dispute_id: int) -> HttpResponse:
    dispute = _dispute_for(request, dispute_id)
    try:
        services.dispute_withdraw(user=_user(request), dispute_id=dispute.pk)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Dispute #{dispute.pk} was withdrawn.")
    return redirect("dispute_detail", dispute_id=dispute.pk)


@login_required
def match_report(request: HttpRequest, match_id: int) -> HttpResponse:
    from optout.models import Match

    user = _user(request)
    match = (
        Match.objects.select_related("job__manifest", "claim", "image__work")
        .filter(pk=match_id, job__owner=user)
        .first()
    )
    if match is None:
        raise Http404("match not found")
    form = ReportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            report = services.false_match_report_create(
                reporter=user,
                match_id=match.pk,
                reason=form.cleaned_data["reason"],
                text=form.cleaned_data["text"],
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(
                request,
                f"Thank you: report #{report.pk} is with the admins. You will be "
                "told their decision.",
            )
            return redirect("job_detail", job_id=match.job_id)
    ctx = {"form": form, "match": match}
    return render(
        request,
        "disputes/report_new.html",
        ctx,
        status=400 if form.errors else 200,
    )


@staff_required
def review_queue(request: HttpRequest) -> HttpResponse:
    tab = request.GET.get("tab", "disputes")
    if tab not in ("disputes", "reports"):
        tab = "disputes"
    state = request.GET.get("state", "")
    dispute_counts = selectors.dispute_counts_by_state()
    report_counts = dict(
        FalseMatchReport.objects.values_list("state").annotate(n=Count("id")).order_by()
    )
    if tab == "disputes":
        if state not in Dispute.State.values:
            state = ""
        items: Any = selectors.dispute_list_for_review(state=state or None)
        if not state:
            items = items.exclude(state__in=Dispute.FINAL_STATES)
    else:
        if state not in FalseMatchReport.State.values:
            state = FalseMatchReport.State.OPEN
        items = selectors.false_match_report_list_for_review(state=state)
    ctx = {
        "tab": tab,
        "state": state,
        "items": list(items[:REVIEW_LIST_SIZE]),
        "dispute_states": [
            (value, label, dispute_counts[value])
            for value, label in Dispute.State.choices
        ],
        "dispute_active": sum(
            n for s, n in dispute_counts.items() if s not in Dispute.FINAL_STATES
        ),
        "report_states": [
            (value, label, report_counts.get(value, 0))
            for value, label in FalseMatchReport.State.choices
        ],
        "styles_pending": Claim.objects.filter(
            kind=Claim.Kind.STYLE, state=Claim.State.PENDING_REVIEW
        ).count(),
        "url_claims_pending": services.review_waiting_counts()["URL claims"],
        "domains_failed": Claim.objects.filter(
            kind=Claim.Kind.DOMAIN,
            state__in=[Claim.State.UNVERIFIED, Claim.State.SUSPENDED],
        ).count(),
    }
    return render(request, "disputes/review_queue.html", ctx)


def _review_dispute_context(dispute: Dispute, **extra: Any) -> dict[str, Any]:
    images = _target_images(dispute)
    return {
        "dispute": dispute,
        "images": _image_cards(images),
        "evidence": list(dispute.evidence.all()),
        "comparisons": selectors.dispute_comparisons(dispute=dispute),
        "timeline": selectors.dispute_timeline_rows(dispute=dispute, viewer=None),
        "can_decide": dispute.state
        in (Dispute.State.AWAITING_RESPONSE, Dispute.State.UNDER_REVIEW),
        "confirm_form": ConfirmForm()
        if dispute.state == Dispute.State.PENDING_CONFIRMATION
        else None,
        **extra,
    }


def _decision_form(dispute: Dispute, data: Any = None) -> DecisionForm:
    images = []
    if dispute.work_id:
        images = [
            (i.pk, f"image {i.pk}: {i}")
            for i in selectors.dispute_target_images(dispute).order_by("id")[:200]
        ]
    return DecisionForm(data, images=images)


def _review_dispute_get(dispute_id: int) -> Dispute:
    dispute = (
        Dispute.objects.select_related(
            "holder__user",
            "disputer",
            "claim",
            "work",
            "image",
            "decided_by",
            "confirmed_by",
        )
        .filter(pk=dispute_id)
        .first()
    )
    if dispute is None:
        raise Http404("dispute not found")
    return dispute


@staff_required
def review_dispute(request: HttpRequest, dispute_id: int) -> HttpResponse:
    dispute = _review_dispute_get(dispute_id)
    form = _decision_form(dispute, request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            dispute = services.dispute_resolve(
                admin=_user(request),
                dispute_id=dispute.pk,
                outcome=data["outcome"],
                reason=data["reason"],
                narrowed_to=data["narrowed_to"],
                excluded_images=data.get("excluded_images") or [],
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            if dispute.state == Dispute.State.PENDING_CONFIRMATION:
                messages.info(
                    request,
                    f"Decision recorded: a second admin must confirm it before "
                    f"dispute #{dispute.pk} is {dispute.outcome}.",
                )
            else:
                messages.success(
                    request, f"Dispute #{dispute.pk} is resolved: {dispute.outcome}."
                )
            return redirect("review_dispute", dispute_id=dispute.pk)
    ctx = _review_dispute_context(dispute, form=form)
    return render(
        request,
        "disputes/review_dispute.html",
        ctx,
        status=400 if form.errors else 200,
    )


@staff_required
@require_POST
def review_dispute_confirm(request: HttpRequest, dispute_id: int) -> HttpResponse:
    dispute = _review_dispute_get(dispute_id)
    form = ConfirmForm(request.POST)
    approve = request.POST.get("approve") == "yes"
    if form.is_valid():
        try:
            dispute = services.dispute_confirm(
                admin=_user(request),
                dispute_id=dispute.pk,
                approve=approve,
                reason=form.cleaned_data["reason"],
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(
                request,
                f"Dispute #{dispute.pk} is resolved: {dispute.outcome}."
                if approve
                else f"Decision declined: dispute #{dispute.pk} is under review again.",
            )
            return redirect("review_dispute", dispute_id=dispute.pk)
    ctx = _review_dispute_context(
        dispute, form=_decision_form(dispute), confirm_form=form
    )
    return render(request, "disputes/review_dispute.html", ctx, status=400)


@staff_required
def review_report(request: HttpRequest, report_id: int) -> HttpResponse:
    try:
        report = selectors.false_match_report_get(report_id=report_id)
    except NotFound:
        raise Http404("report not found") from None
    form = ReportDecisionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            report = services.false_match_report_decide(
                admin=_user(request),
                report_id=report.pk,
                accept=form.cleaned_data["decision"] == "accept",
                reason=form.cleaned_data["reason"],
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"Report #{report.pk} was {report.state}.")
            return redirect("review_report", report_id=report.pk)
    image_card = None
    if report.image is not None:
        image_card = {
            "image": report.image,
            "hashes": selectors.image_hashes(report.image),
        }
    ctx = {
        "report": report,
        "match": report.match,
        "image_card": image_card,
        "distances": selectors.report_distances(report=report),
        "exceptions": list(report.exceptions.all()),
        "form": form,
        "job_url": reverse("job_detail", args=[report.job_id_copy])
        if report.job_id_copy
        else "",
    }
    return render(
        request,
        "disputes/review_report.html",
        ctx,
        status=400 if form.errors else 200,
    )


@require_safe
def evidence_file(request: HttpRequest, evidence_id: int, kind: str) -> HttpResponse:
    """A dispute's evidence file or its thumbnail: for the dispute's parties and
    staff, 404 for anyone else."""
    try:
        evidence = selectors.evidence_get_for_user(
            user=request_user(request), evidence_id=evidence_id
        )
    except NotFound:
        raise Http404("file not found") from None
    if kind == "thumbnail":
        return stored_file_response(
            evidence.thumbnail,
            filename=f"evidence-{evidence.pk}-thumbnail.jpg",
            content_type="image/jpeg",
        )
    return stored_file_response(
        evidence.file,
        filename=evidence.original_name,
        content_type=content_type_for(name=evidence.original_name),
    )


@require_safe
def report_row_thumbnail(request: HttpRequest, report_id: int) -> HttpResponse:
    """The reported manifest row's thumbnail: for staff and the reporter."""
    try:
        report = selectors.false_match_report_get_for_user(
            user=request_user(request), report_id=report_id
        )
    except NotFound:
        raise Http404("file not found") from None
    return stored_file_response(
        report.row_thumbnail,
        filename=f"report-{report.pk}-row.jpg",
        content_type="image/jpeg",
    )
