"""Audit and notification pages: the artist's own trail (/audit/), staff's
whole log (/review/audit/), both exportable, and notifications.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.models import User
from accounts.permissions import staff_required
from audit.forms import AuditFilterForm
from audit.models import AuditEvent
from audit.services import notification_mark_read
from registry.models import RightsHolder
from registry.permissions import artist_required

from . import selectors

AUDIT_PER_PAGE = 100


NOTIFICATIONS_PER_PAGE = 50


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
            for row in selectors.audit_csv_rows(events, show_actor=show_actor)
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
        row = selectors.audit_event_row(event, show_actor=show_actor)
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
        selectors.audit_event_list(filters=filters)
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
        "audit/review_audit.html",
        actions=selectors.audit_actions(),
        target_types=selectors.audit_target_types(),
    )


@artist_required
def audit(request: HttpRequest, holder: RightsHolder) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    valid = form.is_valid() if request.GET else True
    filters = form.filters(staff=False) if request.GET and valid else None
    events = (
        selectors.audit_event_list(filters=filters, holder=holder)
        if valid
        else AuditEvent.objects.none()
    )
    fmt = _export_format(request)
    if fmt and valid:
        return _export(events, fmt, "my-audit", show_actor=False)
    return _audit_page(request, events, form, "audit/audit.html", holder=holder)


@login_required
def notifications(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]  # login_required
    page = Paginator(
        selectors.notification_list_for_user(user=user), NOTIFICATIONS_PER_PAGE
    ).get_page(request.GET.get("page"))
    ctx = {
        "page": page,
        "unread": selectors.notification_unread_count(user=user),
    }
    return render(request, "audit/notifications.html", ctx)


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
