"""Disputes, their evidence, images left out by a decision, false-match reports
and the match exceptions they end in.
"""

from __future__ import annotations

import secrets

from django.db import models
from django.db.models import Q
from django.urls import reverse

from accounts.models import User
from registry.models import Claim, Image, RightsHolder, Work


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
    # The claimant sees the disputer's username only when this is set;
    # otherwise "another user" (admins always see who it is).
    disputer_named = models.BooleanField(default=False)
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
        db_table = "registry_dispute"
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
    """A file given as evidence; images are fingerprinted to compare with the work.

    Stored in the request, fingerprinted by the images worker afterwards:
    processing -> done (an image with its hashes and thumbnail, or a document).
    """

    class Party(models.TextChoices):
        DISPUTER = "disputer"
        CLAIMANT = "claimant"

    class Status(models.TextChoices):
        PROCESSING = "processing", "being processed"
        DONE = "done"

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
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PROCESSING
    )
    # While processing: when its task was last queued, and how many times.
    queued_at = models.DateTimeField(null=True, blank=True)
    queue_attempts = models.PositiveSmallIntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "registry_disputeevidence"
        ordering = ["id"]

    def __str__(self) -> str:
        return self.original_name

    # Links to the views that check who asks (never MEDIA_URL).
    @property
    def file_url(self) -> str:
        return reverse("evidence_file", args=[self.pk]) if self.file else ""

    @property
    def thumbnail_url(self) -> str:
        return reverse("evidence_thumbnail", args=[self.pk]) if self.thumbnail else ""


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

    class Meta:
        db_table = "registry_imageexclusion"

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
        db_table = "registry_falsematchreport"
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

    @property
    def row_thumbnail_url(self) -> str:
        if not self.row_thumbnail:
            return ""
        return reverse("report_row_thumbnail", args=[self.pk])


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
        db_table = "registry_matchexception"
        constraints = [
            models.UniqueConstraint(
                fields=["target_key", "key_type", "key"], name="match_exception_unique"
            ),
        ]
        indexes = [models.Index(fields=["revision"], name="match_exception_rev")]

    def __str__(self) -> str:
        return f"{self.key_type}:{self.key[:60]} never matches {self.target_key}"
