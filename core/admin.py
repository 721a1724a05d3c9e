"""What every app's admin shares: read-only model admins whose actions call
services, so the admin obeys the same rules as the pages and the API.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import (
    HttpRequest,
)

from core.errors import DomainError


class ReadOnlyAdmin(admin.ModelAdmin):
    """Viewable, never added, changed or deleted through a form."""

    # Counting every row of an 80-million-row table on each page is slow.
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(
        self, request: HttpRequest, obj: Any = None
    ) -> tuple[str, ...]:
        # Every shown field, computed ones (Fingerprint.hex) and non-editable ones
        # (created) included, so no model form is ever built from them.
        return tuple(self.fields or ()) + tuple(self.readonly_fields)

    def has_review_permission(self, request: HttpRequest) -> bool:
        """Who may run this admin's actions: staff holding the change permission."""
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def run_for_each(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    objects: QuerySet[Any],
    call: Callable[[Any], object],
    done: str,
) -> None:
    """Call a service for each selected object; report successes and DomainErrors.

    A DomainError (a claim no longer pending, say) becomes an error message on
    the changelist, never a 500; the other objects still go through.
    """
    succeeded = 0
    for obj in objects:
        try:
            call(obj)
        except DomainError as exc:
            modeladmin.message_user(request, f"{obj}: {exc.message}", messages.ERROR)
        else:
            succeeded += 1
    if succeeded:
        noun = "item" if succeeded == 1 else "items"
        modeladmin.message_user(
            request, f"{succeeded} {noun} {done}.", messages.SUCCESS
        )
