"""The audit log and notifications: the two records every decision leaves.

`audit_record` is called inside the transaction of the change it records, so a
change and its record commit together or not at all. `notify` stores the
notification at once and sends its email after commit (a failed email is logged,
never undoes the decision).
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audit.models import AuditEvent, Notification
from registry.models import RegistryRevision, RightsHolder

log = logging.getLogger(__name__)


def audit_record(
    *,
    actor: User | None,
    action: str,
    target: Any = None,
    target_type: str = "",
    target_id: int | None = None,
    target_label: str = "",
    holder: RightsHolder | None = None,
    before: dict | None = None,
    after: dict | None = None,
    reason: str = "",
) -> AuditEvent:
    """Append one event. `target` (a model instance) fills type, id and label."""
    if target is not None:
        target_type = target_type or target._meta.model_name
        target_id = target_id if target_id is not None else target.pk
        target_label = target_label or str(target)[:300]
    revision = RegistryRevision.objects.filter(pk=1).values_list("value", flat=True)
    return AuditEvent.objects.create(
        actor=actor if actor is not None and actor.pk else None,
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_label=target_label[:300],
        holder=holder,
        before=before or {},
        after=after or {},
        reason=reason,
        revision=revision.first(),
    )


def notify(
    *, user: User, kind: str, subject: str, body: str = "", url: str = ""
) -> Notification:
    """Store a notification for `user` and email it after commit."""
    notification = Notification.objects.create(
        user=user, kind=kind, subject=subject[:200], body=body, url=url
    )
    transaction.on_commit(partial(_send_email, notification.pk))
    return notification


def _send_email(notification_pk: int) -> None:
    notification = Notification.objects.select_related("user").get(pk=notification_pk)
    if not notification.user.email:
        return
    text = notification.body
    if notification.url:
        text = f"{text}\n\n{settings.SITE_URL.rstrip('/')}{notification.url}"
    try:
        send_mail(
            notification.subject,
            text,
            settings.DEFAULT_FROM_EMAIL,
            [notification.user.email],
        )
    except Exception:  # an email server down must not undo a decision
        log.exception("could not email notification %s", notification_pk)
        return
    Notification.objects.filter(pk=notification_pk).update(emailed_at=timezone.now())


def notification_mark_read(*, user: User, notification_ids: list[int] | None) -> int:
    """Mark the user's notifications read (all when ids is None); returns how many."""
    qs = Notification.objects.filter(user=user, read_at__isnull=True)
    if notification_ids is not None:
        qs = qs.filter(pk__in=notification_ids)
    return qs.update(read_at=timezone.now())


def notifications_delete_for_user(*, user: User) -> int:
    """Delete an account's notifications (account deletion)."""
    count, _ = Notification.objects.filter(user=user).delete()
    return count
