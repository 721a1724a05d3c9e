"""Django admin: mostly read-only. Admins change state through actions that call
services, so the admin obeys the same rules (and bumps the same registry
revision) as the pages and the API.

Only accounts are edited directly (roles, suspension through is_active). A
model admin that is read-only still lets staff with the model's change
permission run its actions; see ReadOnlyAdmin.has_review_permission.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.html import format_html

from . import services, services_trust
from .errors import DomainError
from .models import (
    ApiToken,
    AuditEvent,
    Claim,
    Dispute,
    DisputeEvidence,
    FalseMatchReport,
    Fingerprint,
    Image,
    MatchException,
    Notification,
    RegistryRevision,
    RightsHolder,
    User,
    Work,
)


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


def _run_for_each(
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


def _account_action(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet[User],
    *,
    suspend: bool,
) -> HttpResponse | None:
    """Ask for a reason on an intermediate page, then suspend or reinstate."""
    from .forms_trust import ReasonForm

    verb = "suspend" if suspend else "reinstate"
    form = ReasonForm(request.POST if "apply" in request.POST else None)
    if form.is_bound and form.is_valid():
        service = (
            services_trust.account_suspend
            if suspend
            else services_trust.account_reinstate
        )
        reason = form.cleaned_data["reason"]
        _run_for_each(
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
    return TemplateResponse(request, "admin/registry/user/account_action.html", context)


def _thumbnail(image: Image, size: int) -> str:
    if not image.thumbnail:
        return "—"
    return format_html(
        '<img src="{}" alt="{}" loading="lazy" style="max-width:{}px;max-height:{}px">',
        image.thumbnail.url,
        str(image),
        size,
        size,
    )


# --- accounts -----------------------------------------------------------------


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
        if obj.is_artist and not RightsHolder.objects.filter(user=obj).exists():
            services.rights_holder_create(
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
        _run_for_each(
            self,
            request,
            queryset.select_related("user"),
            lambda t: services.api_token_revoke(user=t.user, token_id=t.pk),
            "revoked",
        )


@admin.register(RightsHolder)
class RightsHolderAdmin(ReadOnlyAdmin):
    fields = ("user", "display_name", "contact_email", "website", "verified", "created")
    list_display = ("display_name", "user", "contact_email", "verified", "created")
    list_filter = ("verified",)
    list_select_related = ("user",)
    search_fields = ("display_name", "contact_email", "user__username")
    actions = ("mark_verified", "unmark_verified")

    @admin.action(description="Mark selected as verified", permissions=["review"])
    def mark_verified(
        self, request: HttpRequest, queryset: QuerySet[RightsHolder]
    ) -> None:
        _run_for_each(
            self,
            request,
            queryset,
            lambda h: services.rights_holder_set_verified(holder=h, verified=True),
            "marked verified",
        )

    @admin.action(description="Unmark selected as verified", permissions=["review"])
    def unmark_verified(
        self, request: HttpRequest, queryset: QuerySet[RightsHolder]
    ) -> None:
        _run_for_each(
            self,
            request,
            queryset,
            lambda h: services.rights_holder_set_verified(holder=h, verified=False),
            "no longer verified",
        )


# --- works, images, fingerprints ------------------------------------------------


class ImageInline(ReadOnlyInline):
    model = Image
    fields = ("preview", "original_name", "status", "source", "format", "created")
    readonly_fields = fields

    @admin.display(description="thumbnail")
    def preview(self, image: Image) -> str:
        return _thumbnail(image, 64)


@admin.register(Work)
class WorkAdmin(ReadOnlyAdmin):
    fields = (
        "owner",
        "title",
        "description",
        "source_urls",
        "status",
        "created",
        "withdrawn_at",
    )
    list_display = ("title", "owner", "status", "image_count", "created")
    list_filter = ("status",)
    list_select_related = ("owner",)
    search_fields = ("title", "owner__display_name")
    inlines = (ImageInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Work]:
        return super().get_queryset(request).annotate(_image_count=Count("images"))

    @admin.display(description="images", ordering="_image_count")
    def image_count(self, work: Work) -> int:
        return work._image_count  # type: ignore[attr-defined]  # annotated above


class FingerprintInline(ReadOnlyInline):
    model = Fingerprint
    fields = ("algorithm", "variant", "version", "hex", "quality", "created")
    readonly_fields = fields
    show_change_link = False


@admin.register(Image)
class ImageAdmin(ReadOnlyAdmin):
    fields = (
        "preview",
        "work",
        "source",
        "status",
        "failure_reason",
        "original",
        "original_name",
        "byte_size",
        "format",
        "width",
        "height",
        "fingerprinted_at",
        "created",
    )
    list_display = (
        "thumbnail_column",
        "__str__",
        "work",
        "status",
        "source",
        "format",
        "byte_size",
        "created",
    )
    list_display_links = ("thumbnail_column", "__str__")
    list_filter = ("status", "source")
    list_select_related = ("work",)
    search_fields = ("original_name", "work__title")
    inlines = (FingerprintInline,)

    @admin.display(description="thumbnail")
    def thumbnail_column(self, image: Image) -> str:
        return _thumbnail(image, 64)

    @admin.display(description="thumbnail")
    def preview(self, image: Image) -> str:
        return _thumbnail(image, 256)


@admin.register(Fingerprint)
class FingerprintAdmin(ReadOnlyAdmin):
    fields = ("image", "algorithm", "variant", "version", "hex", "quality", "created")
    list_display = ("image", "algorithm", "variant", "version", "hex", "quality")
    list_filter = ("algorithm", "variant")
    list_select_related = ("image",)


# --- claims and the registry revision ---------------------------------------------


@admin.register(Claim)
class ClaimAdmin(ReadOnlyAdmin):
    fields = (
        "owner",
        "kind",
        "value",
        "normalized",
        "aliases",
        "state",
        "verification_token",
        "created",
        "activated_at",
        "withdrawn_at",
        "proof_checked_at",
        "proof_method",
        "proof_error",
        "proof_failures",
        "suspended_from",
    )
    list_display = ("value", "kind", "state", "owner", "created")
    list_filter = ("state", "kind")
    list_select_related = ("owner",)
    search_fields = ("value", "normalized", "owner__display_name")
    actions = ("approve_style_claim", "reject_style_claim")

    @admin.action(description="Approve selected style claims", permissions=["review"])
    def approve_style_claim(
        self, request: HttpRequest, queryset: QuerySet[Claim]
    ) -> None:
        _run_for_each(
            self,
            request,
            queryset,
            lambda c: services.claim_review(
                claim_id=c.pk,
                approve=True,
                admin=request.user,
                reason="approved in the Django admin",
            ),
            "approved",
        )

    @admin.action(description="Reject selected style claims", permissions=["review"])
    def reject_style_claim(
        self, request: HttpRequest, queryset: QuerySet[Claim]
    ) -> None:
        _run_for_each(
            self,
            request,
            queryset,
            lambda c: services.claim_review(
                claim_id=c.pk,
                approve=False,
                admin=request.user,
                reason="rejected in the Django admin",
            ),
            "rejected",
        )


@admin.register(RegistryRevision)
class RegistryRevisionAdmin(ReadOnlyAdmin):
    fields = ("value", "last_reason", "changed")
    list_display = ("__str__", "value", "last_reason", "changed")


# --- trust: decisions are taken on the review pages (/review/), which need a
# reason; the admin only shows what was decided.


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
