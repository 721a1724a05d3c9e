"""Accounts: users with their roles (artist, curator, admin) and API tokens."""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils import timezone


class AccountManager(UserManager):
    def create_superuser(self, username, email=None, password=None, **extra_fields):
        """An operator's admin (createsuperuser): its address needs no link."""
        extra_fields.setdefault("email_verified_at", timezone.now())
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser):
    """An account. Roles: artist (has a RightsHolder), curator, admin (is_staff)."""

    email = models.EmailField("email address", unique=True)
    is_artist = models.BooleanField(default=False)
    is_curator = models.BooleanField(default=False)
    # Set by an admin (services.account_suspend): the account cannot log
    # in or use the API, and its claims are suspended until reinstated.
    suspended_at = models.DateTimeField(null=True, blank=True)
    suspension_reason = models.TextField(blank=True)
    # Set when the owner follows the link emailed at sign-up (or a new one
    # from the account page). Until then the account's claims wait (pending
    # review) and it cannot open disputes.
    email_verified_at = models.DateTimeField(null=True, blank=True)

    objects = AccountManager()

    class Meta(AbstractUser.Meta):
        # The table keeps the name it had when users lived in the registry app
        # (accounts/migrations/0001_initial.py moves the model, not the data).
        db_table = "registry_user"

    @property
    def is_suspended(self) -> bool:
        return self.suspended_at is not None

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

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


class Scope(models.TextChoices):
    """What an API token may do. A data pipeline's key gets `check` alone and
    can then look URLs up but not upload, claim or dispute. `*` is everything
    the account's roles allow (tokens made before scopes, or without any)."""

    ALL = "*", "*: everything the account's roles allow"
    CHECK = "check", "check: look up URLs and images, the Spawning endpoint"
    REGISTER = "register", "register: works, images, claims, your profile"
    CURATE = "curate", "curate: upload manifests, jobs, outputs, match reports"
    DISPUTE = "dispute", "dispute: open, answer and withdraw disputes"
    SNAPSHOT_READ = "snapshot:read", "snapshot:read: download registry snapshots"
    REVIEW = "review", "review: admins' decisions and the audit log"


class ApiToken(models.Model):
    """A named API token with its scopes. Only a SHA-256 of the secret is stored."""

    PREFIX = "dnt_"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    key_prefix = models.CharField(max_length=12)
    key_hash = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    scopes = models.JSONField(default=list)

    class Meta:
        db_table = "registry_apitoken"
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def has_scope(self, scope: str) -> bool:
        scopes = self.scopes or []
        return Scope.ALL in scopes or scope in scopes

    @staticmethod
    def new_key() -> str:
        return ApiToken.PREFIX + secrets.token_urlsafe(32)

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()
