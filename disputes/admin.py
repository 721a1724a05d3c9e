"""Django admin for disputes, false-match reports and match exceptions:
read-only (decisions are made on the review pages).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import (
    HttpRequest,
)

from core.admin import ReadOnlyAdmin
from disputes.models import Dispute, DisputeEvidence, FalseMatchReport, MatchException


class DisputeEvidenceInline(admin.TabularInline):
    model = DisputeEvidence
    fields = ("party", "original_name", "sha256", "phash", "pdq", "created")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Dispute)
class DisputeAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "state", "grounds", "outcome", "disputer", "created")
    list_filter = ("state", "grounds", "outcome", "target_type")
    search_fields = ("statement", "response", "disputer__username")
    inlines = [DisputeEvidenceInline]
    fields = (
        "target_key",
        "holder",
        "disputer",
        "grounds",
        "statement",
        "evidence_urls",
        "state",
        "response_due",
        "response",
        "outcome",
        "narrowed_to",
        "decision_reason",
        "decided_by",
        "confirmed_by",
        "lapsed",
        "created",
    )


@admin.register(FalseMatchReport)
class FalseMatchReportAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "state", "reason", "reporter", "created")
    list_filter = ("state", "reason")


@admin.register(MatchException)
class MatchExceptionAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "revision", "created_by", "created")
    list_filter = ("key_type",)
    search_fields = ("key", "target_key")
    fields = ("target_key", "key_type", "key", "revision", "created_by", "report")
