"""The registry: rights holders, their works and images, the images'
fingerprints, claims (URL, prefix, domain, style) and the registry revision.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable

from django.db import models
from django.db.models import Q
from django.urls import reverse

from accounts.models import User
from workers.engine.urls import normalize_url


class RightsHolder(models.Model):
    """The artist's public face in the registry; one per artist account."""

    user = models.OneToOneField(
        User, on_delete=models.CASCADE, related_name="rights_holder"
    )
    display_name = models.CharField(max_length=200)
    contact_email = models.EmailField()
    website = models.URLField(blank=True)
    verified = models.BooleanField(default=False, help_text="Set by admins.")
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.display_name


class Work(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active"
        WITHDRAWN = "withdrawn"

    owner = models.ForeignKey(
        RightsHolder, on_delete=models.CASCADE, related_name="works"
    )
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    source_urls = models.JSONField(default=list, blank=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.ACTIVE, db_index=True
    )
    created = models.DateTimeField(auto_now_add=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return self.title


def _original_path(instance: Image, filename: str) -> str:
    return f"originals/{secrets.token_hex(2)}/{secrets.token_hex(16)}"


def _thumbnail_path(instance: Image, filename: str) -> str:
    return f"thumbnails/{secrets.token_hex(2)}/{secrets.token_hex(16)}.jpg"


def _features_path(instance: Image, filename: str) -> str:
    return f"features/{secrets.token_hex(2)}/{secrets.token_hex(16)}.npz"


class Image(models.Model):
    """One registered image: an uploaded original, or hashes alone (StopNCII)."""

    class Status(models.TextChoices):
        PENDING = "pending"
        HASHED = "hashed"
        FAILED = "failed"

    class Source(models.TextChoices):
        UPLOAD = "upload"
        HASHES = "hashes", "hashes only"

    work = models.ForeignKey(Work, on_delete=models.CASCADE, related_name="images")
    source = models.CharField(
        max_length=16, choices=Source.choices, default=Source.UPLOAD
    )
    # Stored under a random name; the user's file name is kept only as text.
    original = models.FileField(upload_to=_original_path, blank=True, max_length=200)
    original_name = models.CharField(max_length=255, blank=True)
    byte_size = models.BigIntegerField(null=True, blank=True)
    format = models.CharField(max_length=16, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    thumbnail = models.FileField(upload_to=_thumbnail_path, blank=True, max_length=200)
    # Local features (workers/engine/verify.py) for verifying candidate matches.
    features = models.FileField(upload_to=_features_path, blank=True, max_length=200)
    # Copy-detection descriptors of the image's regions (float16, packed by
    # workers/engine/descriptor.pack) and the model version that made them.
    descriptors = models.BinaryField(null=True, blank=True, editable=False)
    descriptor_version = models.CharField(max_length=96, blank=True)
    # Registry-side PDQ variants of MATCH_VARIANT_SCHEME, packed into one value
    # (workers/engine/fingerprint.pack_variants: about 26 x 40 bytes) rather
    # than a Fingerprint row each; the index segments carry them as entries.
    pdq_variants = models.BinaryField(null=True, blank=True, editable=False)
    variants_version = models.CharField(max_length=64, blank=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    failure_reason = models.TextField(blank=True)
    fingerprinted_at = models.DateTimeField(null=True, blank=True)
    # When the original and thumbnail of a withdrawn work were deleted (after
    # WITHDRAWN_FILES_GRACE_DAYS); the fingerprints stay.
    files_deleted_at = models.DateTimeField(null=True, blank=True)
    # While pending: when its fingerprint task was last queued, and how many
    # times (the images sweep queues it again if the message was lost).
    queued_at = models.DateTimeField(null=True, blank=True)
    queue_attempts = models.PositiveSmallIntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.original_name or f"image {self.pk}"

    # Where pages and the API link to the files: views that check who asks
    # (never MEDIA_URL). Empty when there is no such file.
    @property
    def original_url(self) -> str:
        return reverse("image_original", args=[self.pk]) if self.original else ""

    @property
    def thumbnail_url(self) -> str:
        return reverse("image_thumbnail", args=[self.pk]) if self.thumbnail else ""


class Fingerprint(models.Model):
    """One hash of one image, in an indexable column.

    pHash is a signed 64-bit integer in `value_int`; SHA-256, MD5 and PDQ are raw
    bytes in `value`. Only the image's own hashes are rows (`variant`
    "original"); registry-side PDQ variants are packed on Image.pdq_variants
    (migration 0014 moved the variant rows there).
    """

    class Algorithm(models.TextChoices):
        SHA256 = "sha256", "SHA-256"
        MD5 = "md5", "MD5"
        PHASH = "phash", "pHash"
        PDQ = "pdq", "PDQ"

    image = models.ForeignKey(
        Image, on_delete=models.CASCADE, related_name="fingerprints"
    )
    algorithm = models.CharField(max_length=16, choices=Algorithm.choices)
    variant = models.CharField(max_length=32, default="original")
    version = models.CharField(max_length=64)
    value = models.BinaryField(max_length=32, null=True, blank=True)
    value_int = models.BigIntegerField(null=True, blank=True)
    quality = models.SmallIntegerField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["image", "algorithm", "variant"], name="fingerprint_unique"
            ),
            models.CheckConstraint(
                condition=(Q(algorithm="phash") & Q(value_int__isnull=False))
                | (~Q(algorithm="phash") & Q(value__isnull=False)),
                name="fingerprint_has_value",
            ),
        ]
        indexes = [
            models.Index(fields=["algorithm", "value_int"], name="fingerprint_int"),
            models.Index(fields=["algorithm", "value"], name="fingerprint_bytes"),
        ]

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    @property
    def hex(self) -> str:
        if self.algorithm == self.Algorithm.PHASH and self.value_int is not None:
            return (self.value_int & 0xFFFF_FFFF_FFFF_FFFF).to_bytes(8, "big").hex()
        return bytes(self.value or b"").hex()


# The IETF aipref categories a claim states a preference for
# (draft-ietf-aipref-vocab): a claim always refuses AI training; it may also
# allow or refuse search and AI use (retrieval, grounding).
CLAIM_CATEGORIES = ("train-ai", "ai-use", "search")


def no_training() -> dict[str, str]:
    """What every claim says, and what claims made before preferences meant."""
    return {"train-ai": "n"}


class Claim(models.Model):
    """Something a rights holder asks to be removed from training data."""

    class Kind(models.TextChoices):
        URL = "url", "exact URL"
        PREFIX = "prefix", "URL prefix"
        DOMAIN = "domain", "domain"
        STYLE = "style", "style name"

    class State(models.TextChoices):
        ACTIVE = "active"
        UNVERIFIED = "unverified"  # domain claims until control is proven
        # style claims, and prefixes on a host the claimant has not proved
        PENDING_REVIEW = "pending_review", "pending review"
        REJECTED = "rejected"
        WITHDRAWN = "withdrawn"
        # No longer enforced, reversibly: a domain whose proof disappeared, an
        # account suspended by an admin.
        SUSPENDED = "suspended"
        # Stopped by an admin's decision on a dispute.
        REVOKED = "revoked"

    owner = models.ForeignKey(
        RightsHolder, on_delete=models.CASCADE, related_name="claims"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    value = models.CharField(max_length=2048, help_text="As the artist entered it.")
    normalized = models.CharField(max_length=2048)
    aliases = models.JSONField(default=list, blank=True)
    # Per use (CLAIM_CATEGORIES -> "y" or "n"): "train-ai" is always "n";
    # "search" and "ai-use" are there when the holder said.
    preferences = models.JSONField(default=no_training, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, db_index=True)
    verification_token = models.CharField(max_length=64, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    # Domain claims: the last check of the proof of control.
    proof_checked_at = models.DateTimeField(null=True, blank=True)
    proof_method = models.CharField(max_length=8, blank=True)  # file, meta
    # Enforced domains: which of the publishing blocks the site serves, read
    # with each successful proof check (registry/services/publishing.py).
    published = models.JSONField(default=dict, blank=True)
    proof_error = models.TextField(blank=True)
    proof_failures = models.PositiveIntegerField(
        default=0, help_text="Failed checks in a row."
    )
    # The state before an account suspension, restored on reinstatement;
    # empty for claims not suspended with their account.
    suspended_from = models.CharField(max_length=16, blank=True)
    # The holder's claim an admin's decision revoked (or narrowed) that covers
    # this one: it waits for an admin until reviewed.
    blocked_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            # One live claim per (owner, kind, value); withdrawn ones may repeat.
            models.UniqueConstraint(
                fields=["owner", "kind", "normalized"],
                condition=~Q(state__in=["withdrawn", "rejected"]),
                name="claim_unique_live",
            ),
        ]
        indexes = [models.Index(fields=["kind", "state"], name="claim_kind_state")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.value}"

    @property
    def is_enforced(self) -> bool:
        return self.state == self.State.ACTIVE

    @property
    def preferences_text(self) -> str:
        """The preferences as an aipref dictionary: "train-ai=n, search=y"."""
        stated = self.preferences or no_training()
        return ", ".join(f"{c}={stated[c]}" for c in CLAIM_CATEGORIES if c in stated)

    @property
    def pending_reason(self) -> str:
        """Why a claim pending review waits, in words for its owner."""
        if self.state != self.State.PENDING_REVIEW:
            return ""
        if self.kind in (self.Kind.URL, self.Kind.PREFIX) and not (
            self.owner.user.email_verified
        ):
            return (
                "Confirm your email address first: open the link we emailed you "
                "(or ask for a new one on your account page). Your claims are "
                "enforced once it is confirmed."
            )
        if self.blocked_by_id is not None:
            return (
                f"An admin's decision revoked your claim #{self.blocked_by_id}, which "
                "covers this one, so new claims on it or under it wait for an admin "
                "to review them."
            )
        if self.kind == self.Kind.URL:
            host = prefix_host(self.normalized)
            return (
                f"You have many exact claims on {host}, which you have not "
                f"proved you control, so new ones wait: claim the domain {host} "
                "(or a parent domain) and verify it, or wait for an admin to "
                "approve them."
            )
        if self.kind == self.Kind.PREFIX:
            host = prefix_host(self.normalized)
            return (
                f"A prefix reaches every URL under it, so it is enforced once you "
                f"prove you control {host}: claim the domain {host} (or a parent "
                "domain) and verify it, or wait for an admin to approve it."
            )
        return "An admin reviews style claims before they are enforced."


# RSL 1.0's payment types (<payment type="...">): what a licensee owes.
PAYMENT_KINDS = (
    "free",
    "attribution",
    "purchase",
    "subscription",
    "training",
    "crawl",
    "use",
    "contribution",
)


class OptIn(models.Model):
    """A rights holder's consent to AI training on stated terms, for the URLs
    one of their URL, prefix or domain claims covers or the images of one
    of their works; in force from `from_revision` until `until_revision`
    (exclusive; None while it stands), so a job matched at revision N reads
    the consents of revision N, as it reads its claims and exceptions.
    Changing the terms ends one and starts another.
    """

    owner = models.ForeignKey(
        RightsHolder, on_delete=models.CASCADE, related_name="opt_ins"
    )
    claim = models.ForeignKey(
        Claim, null=True, blank=True, on_delete=models.CASCADE, related_name="opt_ins"
    )
    work = models.ForeignKey(
        Work, null=True, blank=True, on_delete=models.CASCADE, related_name="opt_ins"
    )
    licence = models.URLField(
        max_length=2048, help_text="The licence's terms, or an RSL licence document."
    )
    payment = models.CharField(max_length=16, choices=[(k, k) for k in PAYMENT_KINDS])
    contact = models.CharField(max_length=254, blank=True)
    # How the consent was checked: the holder proved control of the site
    # the URLs (or the work's source URL) are on.
    verified = models.CharField(max_length=64)
    from_revision = models.BigIntegerField()
    until_revision = models.BigIntegerField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    ended = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(claim__isnull=False, work__isnull=True)
                | Q(claim__isnull=True, work__isnull=False),
                name="optin_one_target",
            ),
            models.UniqueConstraint(
                fields=["claim"],
                condition=Q(until_revision__isnull=True, claim__isnull=False),
                name="optin_one_open_per_claim",
            ),
            models.UniqueConstraint(
                fields=["work"],
                condition=Q(until_revision__isnull=True, work__isnull=False),
                name="optin_one_open_per_work",
            ),
        ]
        indexes = [
            models.Index(fields=["from_revision", "until_revision"], name="optin_span")
        ]

    def __str__(self) -> str:
        return f"opt-in {self.target_key} ({self.payment})"

    @property
    def target_key(self) -> str:
        return f"claim:{self.claim_id}" if self.claim_id else f"work:{self.work_id}"

    @property
    def terms(self) -> dict[str, str]:
        """The terms as reports and snapshots carry them."""
        return {
            "licence": self.licence,
            "payment": self.payment,
            "contact": self.contact,
            "verified": self.verified,
        }


def prefix_host(normalized: str) -> str:
    """The host a normalized prefix claim lies on, without a leading www."""
    return normalize_url(normalized).host.removeprefix("www.")


def host_in_domains(host: str, domains: Iterable[str]) -> bool:
    """Whether `host` is one of `domains` or a subdomain of one."""
    return any(host == d or host.endswith("." + d) for d in domains)


class RegistryRevision(models.Model):
    """A single row: the counter bumped by every change to what is enforced."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    value = models.BigIntegerField(default=0)
    changed = models.DateTimeField(auto_now=True)
    last_reason = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"revision {self.value}"


class RegistryIdentity(models.Model):
    """A single row: this registry's random id, made once, never changed.

    Receipts and the published keys name it, so an auditor can tell which
    registry a revision number belongs to (every registry counts from 0).
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    uuid = models.UUIDField(default=uuid.uuid4, editable=False, unique=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "registry identity"

    def __str__(self) -> str:
        return str(self.uuid)


class IndexChange(models.Model):
    """The index's outbox: which claims and images changed at which revision.

    A save of a claim, image, work or image exclusion leaves a row with no
    revision ("touched"); the next revision bump, in its own transaction,
    turns the touched rows into one op each: add if the claim or image is
    enforced after the change, drop if not. Index segments are written from
    these ops (optout/segments.py), so revision N's segment holds what was
    enforced at N, whenever it is written. A REBUILD row asks for a new base
    segment from the database (after rows were written in bulk, bypassing
    the signals); the PRUNED row says up to which revision published ops
    were deleted.
    """

    class Space(models.IntegerChoices):
        CLAIM = 0
        IMAGE = 1
        PRUNED = 8  # one row: ops up to its revision were deleted
        REBUILD = 9

    space = models.SmallIntegerField(choices=Space.choices)
    ref = models.BigIntegerField(default=0)
    revision = models.BigIntegerField(null=True, blank=True)
    op = models.SmallIntegerField(null=True, blank=True, help_text="1 add, 0 drop")

    class Meta:
        indexes = [models.Index(fields=["revision"], name="indexchange_revision")]

    def __str__(self) -> str:
        return f"{self.get_space_display()} {self.ref} at {self.revision}"


class IndexSegment(models.Model):
    """The catalog of index segments in object storage (workers/engine/segments.py).

    A segment's files never change once written; merges write new segments
    and retire the old ones, which are deleted after SEGMENT_RETAIN_SECONDS.
    """

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=10)
    first = models.BigIntegerField()
    last = models.BigIntegerField()
    registry = models.CharField(max_length=64)
    identity = models.CharField(
        max_length=200,
        db_index=True,
        help_text="Format, descriptor model and radius the segment was built for.",
    )
    meta = models.JSONField()
    bytes = models.BigIntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["first", "last", "id"]

    def __str__(self) -> str:
        return self.name
