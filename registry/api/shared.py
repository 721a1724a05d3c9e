"""What the registry's API operations share: the artist check and the output
shapes of rights holders, works, images, fingerprints and claims.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import (
    extend_schema_field,
)
from rest_framework import serializers

from core.api import absolute_url
from registry import selectors, services
from registry.models import PAYMENT_KINDS, Claim, Image, Work


class RightsHolderOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    display_name = serializers.CharField()
    contact_email = serializers.EmailField()
    website = serializers.CharField()
    verified = serializers.BooleanField(help_text="Set by admins.")

    class Meta:
        ref_name = "RightsHolder"


class FingerprintsOutputSerializer(serializers.Serializer):
    """An image's own fingerprints (variant "original") as lowercase hex."""

    sha256 = serializers.CharField(allow_null=True)
    md5 = serializers.CharField(allow_null=True)
    phash = serializers.CharField(allow_null=True, help_text="64-bit, 16 hex digits")
    pdq = serializers.CharField(allow_null=True, help_text="256-bit, 64 hex digits")
    pdq_quality = serializers.IntegerField(allow_null=True, help_text="0-100")
    pdq_low_quality = serializers.BooleanField(
        allow_null=True,
        help_text="True when pdq_quality is under the registry's threshold: "
        "the PDQ hash is kept but matches poorly.",
    )
    versions = serializers.DictField(
        child=serializers.CharField(),
        help_text="Algorithm version of each fingerprint, by algorithm.",
    )

    class Meta:
        ref_name = "Fingerprints"

    def to_representation(self, instance: Image) -> dict[str, Any]:
        prints = selectors.fingerprints_by_algorithm(instance)
        data: dict[str, Any] = {
            name: prints[name].hex if name in prints else None
            for name in services.HASH_FIELDS
        }
        quality = prints["pdq"].quality if "pdq" in prints else None
        data["pdq_quality"] = quality
        data["pdq_low_quality"] = (
            None if quality is None else quality < settings.PDQ_LOW_QUALITY
        )
        data["versions"] = {name: f.version for name, f in sorted(prints.items())}
        return data


class ImageOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    work = serializers.IntegerField(source="work_id")
    source = serializers.ChoiceField(choices=Image.Source.choices)
    original_name = serializers.CharField()
    status = serializers.ChoiceField(choices=Image.Status.choices)
    failure_reason = serializers.CharField()
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    format = serializers.CharField()
    byte_size = serializers.IntegerField(allow_null=True)
    thumbnail_url = serializers.SerializerMethodField(
        help_text="Private: opens for the owner and admins (send the same token); "
        "null until fingerprinted, and after a withdrawn work's files are deleted."
    )
    original_url = serializers.SerializerMethodField(
        help_text="Private: opens for the owner and admins (send the same token); "
        "null for hashes-only images and after a withdrawn work's files are deleted."
    )
    fingerprints = FingerprintsOutputSerializer(source="*")
    created = serializers.DateTimeField()
    fingerprinted_at = serializers.DateTimeField(allow_null=True)

    class Meta:
        ref_name = "Image"

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_thumbnail_url(self, image: Image) -> str | None:
        if not image.thumbnail:
            return None
        return absolute_url(self.context.get("request"), image.thumbnail_url)

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_original_url(self, image: Image) -> str | None:
        if not image.original:
            return None  # registered by hashes alone
        return absolute_url(self.context.get("request"), image.original_url)


class OptInTermsSerializer(serializers.Serializer):
    licence = serializers.URLField(
        help_text="The licence's terms, or an RSL licence document."
    )
    payment = serializers.ChoiceField(
        choices=PAYMENT_KINDS,
        help_text="What a licensee owes, as RSL 1.0's payment types name it.",
    )
    contact = serializers.CharField(help_text="An email address or URL; may be empty.")
    verified = serializers.CharField(
        help_text="How the consent was checked: `domain proof (DOMAIN)`, the "
        "holder's verified domain the URLs (or the work's source URL) are on."
    )

    class Meta:
        ref_name = "OptInTerms"


@extend_schema_field(OptInTermsSerializer(allow_null=True))
class StandingOfferField(serializers.Field):
    """A claim's or work's standing opt-in, as terms; null when none."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("source", "*")
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> dict[str, str] | None:
        offers = getattr(value, "open_opt_ins", None)
        if offers is None:
            offer = value.opt_ins.filter(until_revision=None).first()
        else:
            offer = offers[0] if offers else None
        return offer.terms if offer else None


class WorkOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    description = serializers.CharField()
    source_urls = serializers.ListField(child=serializers.CharField())
    status = serializers.ChoiceField(choices=Work.Status.choices)
    image_count = serializers.IntegerField()
    pending_count = serializers.IntegerField(help_text="Images not hashed yet.")
    created = serializers.DateTimeField()
    withdrawn_at = serializers.DateTimeField(allow_null=True)
    opt_in = StandingOfferField(
        help_text="Offered for AI training on these terms (train-ai=y); null: "
        "refused (train-ai=n)."
    )

    class Meta:
        ref_name = "Work"


class WorkDetailOutputSerializer(WorkOutputSerializer):
    images = ImageOutputSerializer(many=True)

    class Meta:
        ref_name = "WorkDetail"


class ClaimOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Claim.Kind.choices)
    value = serializers.CharField(help_text="As entered.")
    normalized = serializers.CharField(help_text="As matched.")
    aliases = serializers.ListField(child=serializers.CharField())
    preferences = serializers.DictField(
        child=serializers.CharField(),
        help_text='Per use, y or n (IETF aipref): {"train-ai": "n", "search": '
        '"y"}; train-ai is y only while the claim is offered for training '
        "(`opt_in`).",
    )
    opt_in = StandingOfferField(
        help_text="URL, prefix and domain claims offered for AI training: the "
        "terms; null otherwise."
    )
    state = serializers.ChoiceField(choices=Claim.State.choices)
    verification_token = serializers.SerializerMethodField()
    created = serializers.DateTimeField()
    activated_at = serializers.DateTimeField(allow_null=True)
    withdrawn_at = serializers.DateTimeField(allow_null=True)
    proof_checked_at = serializers.DateTimeField(
        allow_null=True, help_text="Domain claims: the last check of the proof."
    )
    proof_method = serializers.CharField(
        help_text='Domain claims: how control was proven, "file" or "meta".'
    )
    proof_error = serializers.CharField(
        help_text="Domain claims: why the last check failed."
    )
    pending_reason = serializers.CharField(
        help_text="Why a claim pending review is not enforced yet (a style name "
        "waits for an admin; a prefix for proof of its host or an admin); empty "
        "otherwise."
    )

    blocked_by = serializers.IntegerField(
        source="blocked_by_id",
        allow_null=True,
        help_text="The id of your claim an admin's decision revoked that covers "
        "this one (it then waits for an admin); null otherwise.",
    )

    class Meta:
        ref_name = "Claim"

    @extend_schema_field(
        {
            "type": "string",
            "nullable": True,
            "description": "Domain claims: the token that proves control of "
            "the domain. Shown to the owner only.",
        }
    )
    def get_verification_token(self, claim: Claim) -> str | None:
        return claim.verification_token or None


# --- Example values for the schema (/api/docs/) ---------------------------------
# Each one fits the serializer above it exactly; tests/test_api_schema.py checks
# them against the generated schema.
