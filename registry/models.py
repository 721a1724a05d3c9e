from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q


class User(AbstractUser):
    """An account. Roles: artist (has a RightsHolder), curator, admin (is_staff)."""

    email = models.EmailField("email address", unique=True)
    is_artist = models.BooleanField(default=False)
    is_curator = models.BooleanField(default=False)
    # Set by an admin (services_trust.account_suspend): the account cannot log
    # in or use the API, and its claims are suspended until reinstated.
    suspended_at = models.DateTimeField(null=True, blank=True)
    suspension_reason = models.TextField(blank=True)

    @property
    def is_suspended(self) -> bool:
        return self.suspended_at is not None

    @property
    def roles(self) -> list[str]:
        roles = []
        if self.is_artist:
            roles.append("artist")
        if self.is_curator:
            roles.append("curator")
        if self.is_staff:
            roles.append("admin")
        return roles


class ApiToken(models.Model):
    """A named API token. Only a SHA-256 of the secret is stored."""

    PREFIX = "dnt_"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    key_prefix = models.CharField(max_length=12)
    key_hash = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @staticmethod
    def new_key() -> str:
        return ApiToken.PREFIX + secrets.token_urlsafe(32)

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()


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
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    failure_reason = models.TextField(blank=True)
    fingerprinted_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.original_name or f"image {self.pk}"


class Fingerprint(models.Model):
    """One hash of one image, in an indexable column.

    pHash is a signed 64-bit integer in `value_int`; SHA-256, MD5 and PDQ are raw
    bytes in `value`. `variant` names a registry-side transform ("original" for
    the image itself; flips, rotations and crops come with the matching work).
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
        PENDING_REVIEW = "pending_review", "pending review"  # style claims
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
    state = models.CharField(max_length=16, choices=State.choices, db_index=True)
    verification_token = models.CharField(max_length=64, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    # Domain claims: the last check of the proof of control.
    proof_checked_at = models.DateTimeField(null=True, blank=True)
    proof_method = models.CharField(max_length=8, blank=True)  # file, meta
    proof_error = models.TextField(blank=True)
    proof_failures = models.PositiveIntegerField(
        default=0, help_text="Failed checks in a row."
    )
    # The state before an account suspension, restored on reinstatement;
    # empty for claims not suspended with their account.
    suspended_from = models.CharField(max_length=16, blank=True)

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


class RegistryRevision(models.Model):
    """A single row: the counter bumped by every change to what is enforced."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    value = models.BigIntegerField(default=0)
    changed = models.DateTimeField(auto_now=True)
    last_reason = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"revision {self.value}"


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
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_unread")]

    def __str__(self) -> str:
        return self.subject


# --- disputes, false-match reports and match exceptions ---------------------------


def _evidence_path(instance: DisputeEvidence, filename: str) -> str:
    return f"evidence/{secrets.token_hex(2)}/{secrets.token_hex(16)}"


def _evidence_thumb_path(instance: DisputeEvidence, filename: str) -> str:
    return f"evidence/{secrets.token_hex(2)}/{secrets.token_hex(16)}.jpg"


def _report_thumb_path(instance: FalseMatchReport, filename: str) -> str:
    return f"reports/{secrets.token_hex(2)}/{secrets.token_hex(16)}.jpg"


class Dispute(models.Model):
    """Someone contests a work, one image or a claim; an admin decides.

    open -> awaiting_response (at once; the claimant is notified) ->
    under_review (the claimant answered) -> resolved (upheld, revoked or
    narrowed), possibly through pending_confirmation when a second admin must
    agree. The disputer may withdraw it at any time before it is resolved.
    """

    class TargetType(models.TextChoices):
        WORK = "work"
        IMAGE = "image"
        CLAIM = "claim"

    class Grounds(models.TextChoices):
        NOT_OWNER = "not_owner", "the claimant is not the owner"
        PUBLIC_DOMAIN = "public_domain", "the work is in the public domain"
        LICENSED = "licensed", "the work is licensed for this use"
        TOO_BROAD = "too_broad", "the claim is too broad"
        IMPERSONATION = "impersonation", "impersonation (style claims)"
        OTHER = "other"

    class State(models.TextChoices):
        OPEN = "open"
        AWAITING_RESPONSE = "awaiting_response", "awaiting response"
        UNDER_REVIEW = "under_review", "under review"
        PENDING_CONFIRMATION = "pending_confirmation", "pending confirmation"
        RESOLVED = "resolved"
        WITHDRAWN = "withdrawn"

    FINAL_STATES = (State.RESOLVED, State.WITHDRAWN)

    class Outcome(models.TextChoices):
        UPHELD = "upheld"  # the claim stands as it is
        REVOKED = "revoked"  # no longer enforced
        NARROWED = "narrowed"  # enforced in part

    disputer = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="disputes_opened"
    )
    # The rights holder whose work, image or claim is disputed.
    holder = models.ForeignKey(
        RightsHolder, on_delete=models.CASCADE, related_name="disputes"
    )
    target_type = models.CharField(max_length=8, choices=TargetType.choices)
    # "claim:12", "work:3", "image:40": one column for the one-open-dispute rule.
    target_key = models.CharField(max_length=32, db_index=True)
    claim = models.ForeignKey(
        Claim, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    work = models.ForeignKey(
        Work, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    image = models.ForeignKey(
        Image, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    grounds = models.CharField(max_length=16, choices=Grounds.choices)
    statement = models.TextField(help_text="The disputer's evidence, in words.")
    evidence_urls = models.JSONField(default=list, blank=True)
    state = models.CharField(
        max_length=24, choices=State.choices, default=State.OPEN, db_index=True
    )
    response_due = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    response = models.TextField(blank=True)
    responded_at = models.DateTimeField(null=True, blank=True)
    # Set when DISPUTE_SUSPEND_WHILE_OPEN stopped enforcement at opening.
    suspended = models.BooleanField(default=False)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True)
    # A narrowed outcome: the narrower prefix, or the images left out.
    narrowed_to = models.CharField(max_length=2048, blank=True)
    excluded_images = models.JSONField(default=list, blank=True)
    decision_reason = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    confirmed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    lapsed = models.BooleanField(
        default=False, help_text="Resolved because the claimant did not answer."
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["disputer", "target_key"],
                condition=~Q(state__in=["resolved", "withdrawn"]),
                name="dispute_one_active",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "response_due"], name="dispute_due"),
        ]

    def __str__(self) -> str:
        return f"dispute #{self.pk} on {self.target_key}"

    @property
    def is_final(self) -> bool:
        return self.state in self.FINAL_STATES

    @property
    def target(self) -> Claim | Work | Image | None:
        return self.claim or self.work or self.image


class DisputeEvidence(models.Model):
    """A file given as evidence; images are fingerprinted to compare with the work."""

    class Party(models.TextChoices):
        DISPUTER = "disputer"
        CLAIMANT = "claimant"

    dispute = models.ForeignKey(
        Dispute, on_delete=models.CASCADE, related_name="evidence"
    )
    party = models.CharField(
        max_length=16, choices=Party.choices, default=Party.DISPUTER
    )
    file = models.FileField(upload_to=_evidence_path, max_length=200)
    original_name = models.CharField(max_length=255)
    byte_size = models.BigIntegerField()
    thumbnail = models.FileField(
        upload_to=_evidence_thumb_path, blank=True, max_length=200
    )
    is_image = models.BooleanField(default=False)
    sha256 = models.CharField(max_length=64)
    phash = models.CharField(max_length=16, blank=True)
    pdq = models.CharField(max_length=64, blank=True)
    pdq_quality = models.SmallIntegerField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.original_name


class ImageExclusion(models.Model):
    """An image left out of enforcement by a dispute's outcome (or while open)."""

    image = models.ForeignKey(
        Image, on_delete=models.CASCADE, related_name="exclusions"
    )
    dispute = models.ForeignKey(
        Dispute, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    temporary = models.BooleanField(
        default=False, help_text="Only while the dispute is open."
    )
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"image {self.image_id} excluded"


class FalseMatchReport(models.Model):
    """A curator says one match of their job is wrong; an admin decides."""

    class Reason(models.TextChoices):
        NOT_SAME_IMAGE = "not_same_image", "not the same image"
        NAME_OTHER_SENSE = "name_other_sense", "the name is used in another sense"
        OTHER = "other"

    class State(models.TextChoices):
        OPEN = "open"
        ACCEPTED = "accepted"  # a match exception was added
        REJECTED = "rejected"

    reporter = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="false_match_reports"
    )
    match = models.ForeignKey(
        "optout.Match",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # A copy of the match: the job's matches may be deleted, the report stays.
    job_id_copy = models.BigIntegerField(null=True, blank=True)
    row = models.BigIntegerField()
    kind = models.CharField(max_length=16)
    claim = models.ForeignKey(
        Claim, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    image = models.ForeignKey(
        Image, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    row_key = models.CharField(max_length=255, blank=True)
    row_url = models.TextField(blank=True)
    # The manifest row's own identifiers, read back from the manifest.
    row_hashes = models.JSONField(default=dict, blank=True)
    row_thumbnail = models.FileField(
        upload_to=_report_thumb_path, blank=True, max_length=200
    )
    reason = models.CharField(max_length=20, choices=Reason.choices)
    text = models.TextField(blank=True)
    state = models.CharField(
        max_length=16, choices=State.choices, default=State.OPEN, db_index=True
    )
    decided_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["reporter", "match"],
                condition=Q(state="open"),
                name="report_one_open",
            ),
        ]

    def __str__(self) -> str:
        return f"false-match report #{self.pk}"


class MatchException(models.Model):
    """A manifest item that must never again match one claim or image.

    `key_type` names what identifies the item: "url" (the normalized URL) for
    claim matches, or a hash algorithm (sha256, md5, phash, pdq; lowercase hex)
    for image matches. Applied to jobs matched at `revision` or later.
    """

    target_key = models.CharField(max_length=32)  # "claim:12" or "image:40"
    claim = models.ForeignKey(
        Claim, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    image = models.ForeignKey(
        Image, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    key_type = models.CharField(max_length=8)
    key = models.CharField(max_length=2048)
    report = models.ForeignKey(
        FalseMatchReport,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="exceptions",
    )
    revision = models.BigIntegerField()
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["target_key", "key_type", "key"], name="match_exception_unique"
            ),
        ]
        indexes = [models.Index(fields=["revision"], name="match_exception_rev")]

    def __str__(self) -> str:
        return f"{self.key_type}:{self.key[:60]} never matches {self.target_key}"
