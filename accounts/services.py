"""Every write to accounts: sign-up, API tokens, suspension and reinstatement.

Suspending an account suspends its claims through registry.services, in the
same transaction, so the registry revision and the audit trail move together.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.models import ApiToken, User
from audit.services import audit_record, notify
from core.errors import Conflict, NotFound, ValidationFailed
from registry.selectors import rights_holder_for_user
from registry.services import (
    claims_reinstate_for_account,
    claims_suspend_for_account,
    rights_holder_create,
)


def user_signup(
    *,
    username: str,
    email: str,
    password: str,
    is_artist: bool,
    is_curator: bool,
    display_name: str = "",
) -> User:
    """Create an account with its roles; an artist gets a RightsHolder profile."""
    if not (is_artist or is_curator):
        raise ValidationFailed(
            "choose at least one role: artist or curator", field="roles"
        )
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationFailed("that username is taken", field="username")
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationFailed("an account with that email exists", field="email")
    with transaction.atomic():
        user = User.objects.create_user(
            username=username,
            email=email,
            password=password,
            is_artist=is_artist,
            is_curator=is_curator,
        )
        if is_artist:
            rights_holder_create(user=user, display_name=display_name or username)
    return user


def api_token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """A new token; the raw key is returned once and never stored."""
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("name may not be blank", field="name")
    key = ApiToken.new_key()
    token = ApiToken.objects.create(
        user=user,
        name=name[:100],
        key_prefix=key[: len(ApiToken.PREFIX) + 4],
        key_hash=ApiToken.hash_key(key),
    )
    return token, key


def api_token_revoke(*, user: User, token_id: int) -> ApiToken:
    token = ApiToken.objects.filter(pk=token_id, user=user).first()
    if token is None:
        raise NotFound("token not found")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def _clean_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("reason may not be blank", field="reason")
    return reason[:2000]


def account_suspend(*, admin: User, user: User, reason: str) -> User:
    """Suspend an account: no log-in, no API, its live claims suspended.

    Each claim remembers its state (Claim.suspended_from) for account_reinstate.
    Raises ValidationFailed (blank reason, oneself) or Conflict (already).
    """
    reason = _clean_reason(reason)
    if admin.pk == user.pk:
        raise ValidationFailed("you cannot suspend your own account", field="user")
    with transaction.atomic():
        locked = User.objects.select_for_update().filter(pk=user.pk).first()
        if locked is None:
            raise NotFound("account not found")
        if locked.is_suspended:
            raise Conflict(f"the account {locked.username} is already suspended")
        locked.suspended_at = timezone.now()
        locked.suspension_reason = reason
        locked.save(update_fields=["suspended_at", "suspension_reason"])
        holder = rights_holder_for_user(user=locked)
        claim_ids = claims_suspend_for_account(admin=admin, user=locked, reason=reason)
        audit_record(
            actor=admin,
            action="account.suspend",
            target=locked,
            target_label=locked.username,
            holder=holder,
            after={"suspended": True, "claims": claim_ids},
            reason=reason,
        )
        notify(
            user=locked,
            kind="account.suspended",
            subject="Your account was suspended",
            body=f"Reason: {reason}\n\nYour claims are not enforced while it is "
            "suspended. Reply to this email to appeal.",
        )
    return locked


def account_reinstate(*, admin: User, user: User, reason: str) -> User:
    """Undo account_suspend exactly: each claim it suspended gets its state back."""
    reason = _clean_reason(reason)
    with transaction.atomic():
        locked = User.objects.select_for_update().filter(pk=user.pk).first()
        if locked is None:
            raise NotFound("account not found")
        if not locked.is_suspended:
            raise Conflict(f"the account {locked.username} is not suspended")
        locked.suspended_at = None
        locked.suspension_reason = ""
        locked.save(update_fields=["suspended_at", "suspension_reason"])
        holder = rights_holder_for_user(user=locked)
        claim_ids = claims_reinstate_for_account(
            admin=admin, user=locked, reason=reason
        )
        audit_record(
            actor=admin,
            action="account.reinstate",
            target=locked,
            target_label=locked.username,
            holder=holder,
            before={"suspended": True},
            after={"suspended": False, "claims": claim_ids},
            reason=reason,
        )
        notify(
            user=locked,
            kind="account.reinstated",
            subject="Your account was reinstated",
            body=f"Reason: {reason}\n\nYour claims are back as they were.",
        )
    return locked
