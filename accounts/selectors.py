"""Every read of accounts: tokens, and an account's data export."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import ApiToken, User
from audit.selectors import audit_export_for_account
from disputes.selectors import disputes_export_for_account
from optout.selectors import optout_export_for_account
from registry.selectors import registry_export_for_account


def api_token_list_for_user(*, user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user)


def account_export(*, user: User) -> dict[str, Any]:
    """Everything the registry holds about an account, for it to download
    (GDPR art. 15/20): the account, its profile, works with their images'
    hashes, claims, disputes, manifests and jobs, tokens (never their keys),
    notifications and the audit events it made or that touch its holdings."""
    registry = registry_export_for_account(user=user)
    audit = audit_export_for_account(user=user)
    return {
        "format": "dnt-registry-account-export/1",
        "exported": timezone.now().isoformat(),
        "account": {
            "id": user.pk,
            "username": user.username,
            "email": user.email,
            "email_verified": user.email_verified,
            "roles": user.roles,
            "joined": user.date_joined.isoformat(),
        },
        **registry,
        "disputes": disputes_export_for_account(user=user),
        "manifests": optout_export_for_account(user=user),
        "tokens": [
            {
                "name": t.name,
                "prefix": t.key_prefix,
                "scopes": t.scopes,
                "created": t.created.isoformat(),
                "last_used": t.last_used.isoformat() if t.last_used else None,
                "revoked": t.revoked_at.isoformat() if t.revoked_at else None,
            }
            for t in api_token_list_for_user(user=user)
        ],
        **audit,
    }
