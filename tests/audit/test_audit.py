"""The audit log is append-only; notifications are listed and emailed."""

from __future__ import annotations

import pytest
from django.core import mail

from audit.models import AuditEvent, Notification
from audit.services import audit_record, notification_mark_read, notify

pytestmark = pytest.mark.django_db


def test_an_audit_event_records_actor_target_and_change(artist, holder) -> None:
    event = audit_record(
        actor=artist,
        action="claim.withdraw",
        target=holder,
        holder=holder,
        before={"state": "active"},
        after={"state": "withdrawn"},
        reason="changed my mind",
    )
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.actor == artist
    assert stored.target_type == "rightsholder"
    assert stored.target_id == holder.pk
    assert stored.before == {"state": "active"}
    assert stored.reason == "changed my mind"


def test_audit_events_cannot_be_changed_or_deleted(artist) -> None:
    event = audit_record(actor=artist, action="x", target_type="claim", target_id=1)
    event.reason = "rewritten"
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    with pytest.raises(ValueError, match="append-only"):
        event.delete()
    assert AuditEvent.objects.get(pk=event.pk).reason == ""


def test_a_notification_is_stored_and_emailed_after_commit(
    artist, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        notify(
            user=artist,
            kind="dispute.opened",
            subject="A dispute was opened against your work",
            body="Answer by 2026-12-08.",
            url="/disputes/1/",
        )
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [artist.email]
    assert "Answer by 2026-12-08." in mail.outbox[0].body
    assert "/disputes/1/" in mail.outbox[0].body
    stored = Notification.objects.get(user=artist)
    assert stored.emailed_at is not None and stored.read_at is None
    assert notification_mark_read(user=artist, notification_ids=None) == 1
    assert Notification.objects.get(user=artist).read_at is not None
