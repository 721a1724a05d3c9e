"""Accounts: users with their roles (artist, curator, admin) and API tokens."""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """An account. Roles: artist (has a RightsHolder), curator, admin (is_staff)."""

    email = models.EmailField("email address", unique=True)
    is_artist = models.BooleanField(default=False)
    is_curator = models.BooleanField(default=False)
    # Set by an admin (services.account_suspend): the account cannot log
    # in or use the API, and its claims are suspended until reinstated.
    suspended_at = models.DateTimeField(null=True, blank=True)
    suspension_reason = models.TextField(blank=True)

    class Meta(AbstractUser.Meta):
        # The table keeps the name it had when users lived in the registry app
        # (accounts/migrations/0001_initial.py moves the model, not the data).
        db_table = "registry_user"

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
        db_table = "registry_apitoken"
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
