"""The audit log (append-only) and notifications: what every decision leaves."""

from __future__ import annotations

from django.db import models

from accounts.models import User
from registry.models import RightsHolder


class AuditEvent(models.Model):
    """One change to what is enforced, or one decision: append-only.

    `holder` is the rights holder whose works or claims the event concerns, so
    an artist can read their own trail. `before`/`after` are small JSON dicts of
    the fields that changed.
    """

    created = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=32, db_index=True)
    target_id = models.BigIntegerField(null=True, blank=True)
    target_label = models.CharField(max_length=300, blank=True)
    holder = models.ForeignKey(
        RightsHolder,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_events",
    )
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    reason = models.TextField(blank=True)
    revision = models.BigIntegerField(
        null=True, blank=True, help_text="Registry revision after the change."
    )

    class Meta:
        db_table = "registry_auditevent"
        ordering = ["-created", "-id"]
        indexes = [
            models.Index(fields=["target_type", "target_id"], name="audit_target"),
        ]

    def __str__(self) -> str:
        return f"{self.created:%Y-%m-%d %H:%M} {self.action} {self.target_label}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValueError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("audit events are append-only")


class Notification(models.Model):
    """A message to one user: listed on the dashboard and sent by email."""

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=48)
    subject = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "registry_notification"
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_unread")]

    def __str__(self) -> str:
        return self.subject
