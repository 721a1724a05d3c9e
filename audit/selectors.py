"""Reads of the audit log (filtered, exported as CSV or JSONL) and of a user's
notifications.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import F, QuerySet
from django.utils import timezone

from accounts.models import User
from audit.models import AuditEvent, Notification
from registry.models import RightsHolder
from workers.engine.reports import csv_safe

AUDIT_COLUMNS = (
    "id",
    "created",
    "action",
    "actor",
    "target_type",
    "target_id",
    "target_label",
    "holder_id",
    "holder",
    "before",
    "after",
    "reason",
    "revision",
)


@dataclass(frozen=True)
class AuditFilters:
    action: str = ""
    target_type: str = ""
    actor: str = ""  # a username
    holder: int | None = None
    since: date | None = None
    until: date | None = None  # inclusive


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def audit_event_list(
    *, filters: AuditFilters | None = None, holder: RightsHolder | None = None
) -> QuerySet[AuditEvent]:
    """Events, newest first; `holder` limits them to one artist's own trail."""
    qs = AuditEvent.objects.select_related("actor", "holder").order_by(
        "-created", "-id"
    )
    if holder is not None:
        qs = qs.filter(holder=holder)
    f = filters or AuditFilters()
    if f.action:
        qs = qs.filter(action=f.action)
    if f.target_type:
        qs = qs.filter(target_type=f.target_type)
    if f.actor:
        qs = qs.filter(actor__username__iexact=f.actor)
    if f.holder is not None:
        qs = qs.filter(holder_id=f.holder)
    if f.since:
        qs = qs.filter(created__gte=_day_start(f.since))
    if f.until:
        qs = qs.filter(created__lt=_day_start(f.until) + timedelta(days=1))
    return qs


def audit_actions() -> list[str]:
    return list(
        AuditEvent.objects.order_by("action")
        .values_list("action", flat=True)
        .distinct()
    )


def audit_target_types() -> list[str]:
    return list(
        AuditEvent.objects.order_by("target_type")
        .values_list("target_type", flat=True)
        .distinct()
    )


def audit_event_row(event: AuditEvent, *, show_actor: bool = True) -> dict[str, Any]:
    """One event as a flat dict (exports, API). Artists see no actor names."""
    actor = ""
    if event.actor_id is not None:
        actor = event.actor.username if show_actor else _role(event)
    return {
        "id": event.pk,
        "created": event.created.isoformat(),
        "action": event.action,
        "actor": actor or ("system" if event.actor_id is None else ""),
        "target_type": event.target_type,
        "target_id": event.target_id,
        "target_label": event.target_label,
        "holder_id": event.holder_id,
        "holder": event.holder.display_name if event.holder_id else "",
        "before": event.before,
        "after": event.after,
        "reason": event.reason,
        "revision": event.revision,
    }


def _role(event: AuditEvent) -> str:
    """Who acted, as the artist may see it: never another person's name."""
    if event.holder_id is not None and event.actor_id == event.holder.user_id:
        return "you"
    return "admin" if event.actor.is_staff else "another user"


def audit_csv_rows(
    events: QuerySet[AuditEvent], *, show_actor: bool = True
) -> Iterator[list[Any]]:
    """Header, then one row per event, spreadsheet-formula-safe (see reports)."""
    import json

    yield list(AUDIT_COLUMNS)
    for event in events.iterator(chunk_size=2000):
        row = audit_event_row(event, show_actor=show_actor)
        for key in ("before", "after"):
            row[key] = json.dumps(row[key], ensure_ascii=False, sort_keys=True)
        yield [csv_safe(row[c]) if row[c] is not None else "" for c in AUDIT_COLUMNS]


def notification_list_for_user(
    *, user: User, unread_only: bool = False
) -> QuerySet[Notification]:
    """Unread first, then newest first."""
    qs = Notification.objects.filter(user=user)
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    return qs.order_by(F("read_at").asc(nulls_first=True), "-created", "-id")


def notification_unread_count(*, user: User) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def audit_export_for_account(*, user: User) -> dict[str, list[dict[str, Any]]]:
    """The account's notifications and the audit events it made or that touch
    its holdings, as sentences, for its export."""
    events = AuditEvent.objects.filter(actor=user) | AuditEvent.objects.filter(
        holder__user=user
    )
    return {
        "notifications": [
            {
                "subject": n.subject,
                "body": n.body,
                "created": n.created.isoformat(),
            }
            for n in Notification.objects.filter(user=user).order_by("id")
        ],
        "audit": [
            {
                "created": e.created.isoformat(),
                "action": e.action,
                "target": e.target_label,
                "reason": e.reason,
            }
            for e in events.order_by("id")
        ],
    }
