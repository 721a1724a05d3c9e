"""Django admin for the audit log and notifications: read-only."""

from __future__ import annotations

from django.contrib import admin

from audit.models import AuditEvent, Notification
from core.admin import ReadOnlyAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "target_type", "actor", "revision")
    list_filter = ("action", "target_type")
    search_fields = ("target_label", "reason", "actor__username")
    fields = (
        "created",
        "actor",
        "action",
        "target_type",
        "target_id",
        "target_label",
        "holder",
        "before",
        "after",
        "reason",
        "revision",
    )


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ("subject", "user", "kind", "created", "read_at", "emailed_at")
    list_filter = ("kind",)
    fields = list_display + ("body", "url")
