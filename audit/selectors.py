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


# What each action did, as the words after who did it. {target} is "the
# <type> “<label>”". An action not listed reads from its name.
_VERBS = {
    "account.suspend": "suspended the account {label}",
    "account.reinstate": "reinstated the account {label}",
    "account.email_verified": "confirmed the email address of {label}",
    "account.delete": "deleted the account",
    "claim.create": "made {target}",
    "claim.withdraw": "withdrew {target}",
    "claim.approve": "approved {target}",
    "claim.reject": "rejected {target}",
    "claim.suspend": "suspended {target}",
    "claim.reinstate": "reinstated {target}",
    "claim.revoked": "revoked {target}",
    "claim.narrowed": "narrowed {target}",
    "claim.upheld": "upheld {target}",
    "claim.suspended": "suspended {target} while it is disputed",
    "claim.restored": "restored {target} after its dispute",
    "claim.domain_verified": "verified the domain of {target}",
    "claim.domain_proof_lost": "found the proof of {target} gone",
    "claim.domain_proof_restored": "found the proof of {target} again",
    "work.withdraw": "withdrew {target}",
    "work.revoked": "revoked {target}",
    "work.narrowed": "left images out of {target}",
    "work.files_delete": "deleted the files of {target}",
    "image.revoked": "revoked {target}",
    "image.fingerprint": "fingerprinted {target}",
    "image.refingerprint": "fingerprinted {target} again",
    "image.register_hashes": "registered the hashes of {target}",
    "dispute.opened": "opened {target}",
    "dispute.awaiting_response": "asked the claimant to respond to {target}",
    "dispute.responded": "answered {target}",
    "dispute.withdrawn": "withdrew {target}",
    "dispute.proposed": "proposed a decision on {target}",
    "dispute.declined": "declined the proposed decision on {target}",
    "dispute.resolved": "decided {target}",
    "dispute.unanswered": "sent {target} to an admin",
    "false_match.reported": "reported {target} as a false match",
    "receipt_key.rotate": "rotated the receipt signing key",
}


def _words(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_words(v) for v in value) or "none"
    return str(value).replace("_", " ")


def audit_change_words(event: AuditEvent) -> str:
    """`before`/`after` as words: "state: active → revoked; dispute: 12"."""
    parts = []
    for key in list(dict.fromkeys([*event.before, *event.after])):
        label = key.replace("_", " ")
        if key in event.before and key in event.after:
            old, new = event.before[key], event.after[key]
            if old != new:
                parts.append(f"{label}: {_words(old)} → {_words(new)}")
        elif key in event.after:
            parts.append(f"{label}: {_words(event.after[key])}")
        else:
            parts.append(f"{label} was {_words(event.before[key])}")
    return "; ".join(parts)


def audit_sentence(event: AuditEvent, *, who: str) -> str:
    """One event as a sentence: "Alice withdrew the claim “…”."."""
    label = event.target_label or (
        f"#{event.target_id}" if event.target_id is not None else ""
    )
    target = f"the {event.target_type.replace('_', ' ')}"
    if label:
        target += f" “{label}”"
    verb = _VERBS.get(event.action)
    if verb is None:
        noun, _, did = event.action.partition(".")
        verb = f"{did.replace('_', ' ')} {{target}}" if did else f"{noun} {{target}}"
    text = verb.format(target=target, label=label)
    sentence = f"{who} {text}".strip()
    return sentence[0].upper() + sentence[1:] + "."


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
        "sentence": audit_sentence(event, who=actor_words(event, show_actor)),
        "change": audit_change_words(event),
    }


def actor_words(event: AuditEvent, show_actor: bool) -> str:
    """Who acted, for a sentence: a username for staff; you / an admin /
    another user otherwise; the system."""
    if event.actor_id is None:
        return "the system"
    if show_actor:
        return event.actor.username
    role = _role(event)
    return {"admin": "an admin"}.get(role, role)


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
