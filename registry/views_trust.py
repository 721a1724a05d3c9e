"""Pages for trust in the registry.

Staff (404 for everyone else, anonymous visitors included): style-claim review
(/review/styles/), domain-proof problems (/review/domains/), the audit log
(/review/audit/) and account suspension (/review/accounts/). Artists: "Check
now" on a domain claim, their own audit trail (/audit/). Everyone signed in:
notifications (/notifications/).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from . import selectors_trust, services, services_trust
from .audit import notification_mark_read
from .errors import DomainError, NotFound
from .forms import add_domain_error
from .forms_trust import AuditFilterForm, ReasonForm, StyleDecisionForm
from .models import AuditEvent, Claim, RightsHolder, User, Work
from .views import artist_required

AUDIT_PER_PAGE = 100
NOTIFICATIONS_PER_PAGE = 50
ACCOUNTS_PER_PAGE = 50


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Staff only; anyone else (anonymous included) gets a 404, so the review
    pages are not even known to exist."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not (user.is_authenticated and user.is_active and user.is_staff):
            raise Http404("page not found")
        return view(request, *args, **kwargs)

    return wrapper


# --- domain claims: check now -------------------------------------------------
@artist_required
@require_POST
def claim_check(
    request: HttpRequest, holder: RightsHolder, claim_id: int
) -> HttpResponse:
    try:
        claim = services_trust.claim_domain_check_request(
            claim_id=claim_id, owner=holder
        )
    except NotFound:
        raise Http404("claim not found") from None
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"Checking {claim.normalized} now: reload this page in a minute to see "
            "the result.",
        )
    return redirect("claims")


# --- staff: style claims ------------------------------------------------------
@staff_required
def review_styles(request: HttpRequest) -> HttpResponse:
    claims = list(selectors_trust.style_review_queue())
    return render(request, "registry/review_styles.html", {"claims": claims})


@staff_required
def review_style_detail(request: HttpRequest, claim_id: int) -> HttpResponse:
    claim = selectors_trust.style_claim_for_review(claim_id=claim_id)
    if claim is None:
        raise Http404("claim not found")
    form = StyleDecisionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        approve = form.cleaned_data["decision"] == "approve"
        try:
            claim = services.claim_review(
                claim_id=claim.pk,
                approve=approve,
                admin=request.user,  # type: ignore[arg-type]  # staff_required
                reason=form.cleaned_data["reason"],
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            verb = "approved" if approve else "rejected"
            messages.success(request, f"Style claim “{claim.value}” {verb}.")
            return redirect("review_styles")
    ctx = {"review": selectors_trust.style_review(claim=claim), "form": form}
    status = 400 if form.errors else 200
    return render(request, "registry/review_style.html", ctx, status=status)


# --- staff: domain proof problems ---------------------------------------------
@staff_required
def review_domains(request: HttpRequest) -> HttpResponse:
    claims = list(selectors_trust.domain_proof_problems()[:500])
    return render(request, "registry/review_domains.html", {"claims": claims})


@staff_required
@require_POST
def review_domain_check(request: HttpRequest, claim_id: int) -> HttpResponse:
    try:
        claim = services_trust.claim_domain_check_request(claim_id=claim_id)
    except NotFound:
        raise Http404("claim not found") from None
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Re-check of {claim.normalized} queued.")
    return redirect("review_domains")


# --- audit log ----------------------------------------------------------------
def _audit_page(
    request: HttpRequest,
    events: QuerySet[AuditEvent],
    form: AuditFilterForm,
    template: str,
    **extra: Any,
) -> HttpResponse:
    page = Paginator(events, AUDIT_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    ctx = {"form": form, "page": page, "query": query.urlencode(), **extra}
    return render(request, template, ctx, status=400 if form.errors else 200)


def _export(
    events: QuerySet[AuditEvent], fmt: str, name: str, *, show_actor: bool
) -> StreamingHttpResponse:
    if fmt == "csv":

        class Echo:
            def write(self, value: str) -> str:
                return value

        writer = csv.writer(Echo())
        body: Iterable[str] = (
            writer.writerow(row)
            for row in selectors_trust.audit_csv_rows(events, show_actor=show_actor)
        )
        content_type = "text/csv; charset=utf-8"
    else:
        body = _jsonl(events, show_actor=show_actor)
        content_type = "application/x-ndjson"
    response = StreamingHttpResponse(body, content_type=content_type)
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.{fmt}"'
    response["Cache-Control"] = "no-store"
    return response


def _jsonl(events: QuerySet[AuditEvent], *, show_actor: bool) -> Iterator[str]:
    for event in events.iterator(chunk_size=2000):
        row = selectors_trust.audit_event_row(event, show_actor=show_actor)
        yield json.dumps(row, ensure_ascii=False) + "\n"


def _export_format(request: HttpRequest) -> str | None:
    fmt = request.GET.get("format", "")
    return fmt if fmt in ("csv", "jsonl") else None


@staff_required
def review_audit(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    valid = form.is_valid() if request.GET else True
    filters = form.filters(staff=True) if request.GET and valid else None
    events = (
        selectors_trust.audit_event_list(filters=filters)
        if valid
        else AuditEvent.objects.none()
    )
    fmt = _export_format(request)
    if fmt and valid:
        return _export(events, fmt, "audit", show_actor=True)
    return _audit_page(
        request,
        events,
        form,
        "registry/review_audit.html",
        actions=selectors_trust.audit_actions(),
        target_types=selectors_trust.audit_target_types(),
    )


@artist_required
def audit(request: HttpRequest, holder: RightsHolder) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    valid = form.is_valid() if request.GET else True
    filters = form.filters(staff=False) if request.GET and valid else None
    events = (
        selectors_trust.audit_event_list(filters=filters, holder=holder)
        if valid
        else AuditEvent.objects.none()
    )
    fmt = _export_format(request)
    if fmt and valid:
        return _export(events, fmt, "my-audit", show_actor=False)
    return _audit_page(request, events, form, "registry/audit.html", holder=holder)


# --- staff: accounts ----------------------------------------------------------
@staff_required
def review_accounts(request: HttpRequest) -> HttpResponse:
    q = (request.GET.get("q") or "").strip()[:150]
    users = User.objects.order_by("username")
    if q:
        users = users.filter(username__icontains=q) | users.filter(email__icontains=q)
    if request.GET.get("suspended"):
        users = users.filter(suspended_at__isnull=False)
    page = Paginator(users, ACCOUNTS_PER_PAGE).get_page(request.GET.get("page"))
    ctx = {"page": page, "q": q, "form": ReasonForm()}
    return render(request, "registry/review_accounts.html", ctx)


@staff_required
@require_POST
def review_account_action(
    request: HttpRequest, user_id: int, action: str
) -> HttpResponse:
    target = User.objects.filter(pk=user_id).first()
    if target is None:
        raise Http404("account not found")
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, form.errors["reason"][0])
        return redirect("review_accounts")
    service = (
        services_trust.account_suspend
        if action == "suspend"
        else services_trust.account_reinstate
    )
    try:
        service(
            admin=request.user,  # type: ignore[arg-type]  # staff_required
            user=target,
            reason=form.cleaned_data["reason"],
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        verb = "suspended" if action == "suspend" else "reinstated"
        messages.success(request, f"Account {target.username} {verb}.")
    return redirect("review_accounts")


# --- notifications ------------------------------------------------------------
@login_required
def notifications(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]  # login_required
    page = Paginator(
        selectors_trust.notification_list_for_user(user=user), NOTIFICATIONS_PER_PAGE
    ).get_page(request.GET.get("page"))
    ctx = {
        "page": page,
        "unread": selectors_trust.notification_unread_count(user=user),
    }
    return render(request, "registry/notifications.html", ctx)


@login_required
@require_POST
def notifications_read(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]  # login_required
    raw = request.POST.get("id", "")
    if raw:
        if not raw.isdigit() or len(raw) > 18:
            raise Http404("notification not found")
        marked = notification_mark_read(user=user, notification_ids=[int(raw)])
    else:
        marked = notification_mark_read(user=user, notification_ids=None)
    messages.success(
        request, f"{marked} notification{'' if marked == 1 else 's'} marked read."
    )
    back = request.POST.get("next", "")
    return redirect(
        back if back in ("/dashboard/", "/notifications/") else "notifications"
    )


def dashboard_context(user: User, holder: RightsHolder | None) -> dict[str, Any]:
    """What the dashboard adds: notifications, and where works and claims were
    found (artists)."""
    ctx: dict[str, Any] = {
        "notifications": list(
            selectors_trust.notification_list_for_user(user=user)[:10]
        ),
        "unread": selectors_trust.notification_unread_count(user=user),
    }
    if holder is not None:
        works, claims = selectors_trust.found_counts(holder=holder)
        titles = dict(
            Work.objects.filter(owner=holder, pk__in=works).values_list("pk", "title")
        )
        claim_rows = {c.pk: c for c in Claim.objects.filter(pk__in=claims)}
        ctx["found_works"] = sorted(
            ((titles.get(pk, f"work {pk}"), pk, count) for pk, count in works.items()),
            key=lambda row: (-row[2].matches, row[1]),
        )
        ctx["found_claims"] = sorted(
            (
                (claim_rows[pk], count)
                for pk, count in claims.items()
                if pk in claim_rows
            ),
            key=lambda row: (-row[1].matches, row[0].pk),
        )
    return ctx
