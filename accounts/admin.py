"""Django admin for accounts and API tokens.

Accounts are the one model edited directly (roles; suspension goes through an
action with a reason, which calls accounts.services like the review page does).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import (
    HttpRequest,
    HttpResponse,
)
from django.template.response import TemplateResponse

from accounts.models import ApiToken, User
from core.admin import ReadOnlyAdmin, run_for_each
from registry.selectors import rights_holder_for_user
from registry.services import rights_holder_create

from . import services


def _account_action(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet[User],
    *,
    suspend: bool,
) -> HttpResponse | None:
    """Ask for a reason on an intermediate page, then suspend or reinstate."""
    from .forms import ReasonForm

    verb = "suspend" if suspend else "reinstate"
    form = ReasonForm(request.POST if "apply" in request.POST else None)
    if form.is_bound and form.is_valid():
        service = services.account_suspend if suspend else services.account_reinstate
        reason = form.cleaned_data["reason"]
        run_for_each(
            modeladmin,
            request,
            queryset,
            lambda u: service(admin=request.user, user=u, reason=reason),
            "suspended" if suspend else "reinstated",
        )
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": f"{verb.capitalize()} accounts",
        "verb": verb,
        "action": "suspend_accounts" if suspend else "reinstate_accounts",
        "accounts": queryset,
        "form": form,
        "opts": modeladmin.model._meta,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/accounts/user/account_action.html", context)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        ("Roles", {"fields": ("is_artist", "is_curator")}),
        (
            "Suspension (use the actions to change it)",
            {"fields": ("suspended_at", "suspension_reason")},
        ),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "username",
                    "email",
                    "usable_password",
                    "password1",
                    "password2",
                    "is_artist",
                    "is_curator",
                ),
            },
        ),
    )
    list_display = (
        "username",
        "email",
        "is_artist",
        "is_curator",
        "is_staff",
        "is_active",
        "date_joined",
    )
    list_filter = ("is_artist", "is_curator", "is_staff", "is_active")
    readonly_fields = ("suspended_at", "suspension_reason")
    actions = ("suspend_accounts", "reinstate_accounts")

    @admin.action(description="Suspend selected accounts…")
    def suspend_accounts(
        self, request: HttpRequest, queryset: QuerySet[User]
    ) -> HttpResponse | None:
        return _account_action(self, request, queryset, suspend=True)

    @admin.action(description="Reinstate selected accounts…")
    def reinstate_accounts(
        self, request: HttpRequest, queryset: QuerySet[User]
    ) -> HttpResponse | None:
        return _account_action(self, request, queryset, suspend=False)

    def save_model(
        self, request: HttpRequest, obj: User, form: Any, change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        # An artist needs a RightsHolder, as services.user_signup makes one.
        if obj.is_artist and rights_holder_for_user(user=obj) is None:
            rights_holder_create(
                user=obj, display_name=obj.get_full_name() or obj.username
            )


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    # The hash is never shown: the prefix is enough to recognise a token.
    fields = ("user", "name", "key_prefix", "created", "last_used", "revoked_at")
    list_display = ("name", "key_prefix", "user", "created", "last_used", "active")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    list_select_related = ("user",)
    search_fields = ("name", "key_prefix", "user__username", "user__email")
    actions = ("revoke",)

    @admin.display(boolean=True, description="active")
    def active(self, token: ApiToken) -> bool:
        return token.is_active

    @admin.action(description="Revoke selected tokens", permissions=["review"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        run_for_each(
            self,
            request,
            queryset.select_related("user"),
            lambda t: services.api_token_revoke(user=t.user, token_id=t.pk),
            "revoked",
        )
