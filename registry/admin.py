"""Django admin for rights holders, works, images, fingerprints and claims:
read-only; state changes go through actions that call registry.services, so
they bump the same registry revision as the pages and the API.
"""

from __future__ import annotations

from typing import Literal

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import (
    HttpRequest,
)
from django.utils.html import format_html

from core.admin import ReadOnlyAdmin, ReadOnlyInline, run_for_each
from registry.models import (
    Claim,
    Fingerprint,
    Image,
    RegistryIdentity,
    RegistryRevision,
    RightsHolder,
    Work,
)
from workers.engine.fingerprint import unpack_variants

from . import services


def thumbnail_tag(image: Image, size: Literal[64, 256]) -> str:
    # Sized by a class in registry/admin.css, not a style attribute: the
    # Content-Security-Policy applies no inline style.
    if not image.thumbnail:
        return "—"
    return format_html(
        '<img src="{}" alt="{}" loading="lazy" class="thumbnail-{}">',
        image.thumbnail_url,
        str(image),
        size,
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
        run_for_each(
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
        run_for_each(
            self,
            request,
            queryset,
            lambda h: services.rights_holder_set_verified(holder=h, verified=False),
            "no longer verified",
        )


class ImageInline(ReadOnlyInline):
    model = Image
    fields = ("preview", "original_name", "status", "source", "format", "created")
    readonly_fields = fields

    class Media:
        css = {"all": ["registry/admin.css"]}

    @admin.display(description="thumbnail")
    def preview(self, image: Image) -> str:
        return thumbnail_tag(image, 64)


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
        "variants",
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

    class Media:
        css = {"all": ["registry/admin.css"]}

    @admin.display(description="thumbnail")
    def thumbnail_column(self, image: Image) -> str:
        return thumbnail_tag(image, 64)

    @admin.display(description="thumbnail")
    def preview(self, image: Image) -> str:
        return thumbnail_tag(image, 256)

    @admin.display(description="PDQ variants")
    def variants(self, image: Image) -> str:
        """The registry-side variants, packed on the image (not Fingerprint rows)."""
        try:
            names = sorted(unpack_variants(image.pdq_variants))
        except ValueError:
            return "damaged: refingerprint the image"
        if not names:
            return "none"
        return f"{len(names)} ({image.variants_version}): {', '.join(names)}"


@admin.register(Fingerprint)
class FingerprintAdmin(ReadOnlyAdmin):
    fields = ("image", "algorithm", "variant", "version", "hex", "quality", "created")
    list_display = ("image", "algorithm", "variant", "version", "hex", "quality")
    list_filter = ("algorithm", "variant")
    list_select_related = ("image",)


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
        run_for_each(
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
        run_for_each(
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


@admin.register(RegistryIdentity)
class RegistryIdentityAdmin(ReadOnlyAdmin):
    fields = ("uuid", "created")
    list_display = ("__str__", "created")
