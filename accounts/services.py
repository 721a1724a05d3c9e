"""Every write to accounts: sign-up, email verification, API tokens, deletion,
suspension and reinstatement.

Suspending an account suspends its claims through registry.services, in the
same transaction, so the registry revision and the audit trail move together.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import partial

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import ApiToken, Scope, User
from audit.services import audit_record, notifications_delete_for_user, notify
from core.errors import Conflict, NotAllowed, NotFound, ValidationFailed
from disputes.services import disputes_withdraw_for_account
from optout.services import manifests_delete_for_account
from registry.selectors import rights_holder_for_user
from registry.services import (
    claims_activate_for_verified_email,
    claims_reinstate_for_account,
    claims_suspend_for_account,
    holdings_withdraw_for_account,
    rights_holder_create,
)

log = logging.getLogger(__name__)

VERIFY_SALT = "accounts.email-verify"


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
        email_verification_send(user=user)
    return user


def email_verification_token(*, user: User) -> str:
    """A signed, timestamped token naming the account and the address it was
    sent to: a changed address makes the old link useless."""
    return signing.dumps({"u": user.pk, "e": user.email.lower()}, salt=VERIFY_SALT)


def email_verification_send(*, user: User) -> None:
    """Email the account a link that confirms its address (after commit)."""
    if user.email_verified:
        raise Conflict("your email address is already confirmed")
    path = reverse("verify_email", args=[email_verification_token(user=user)])
    link = settings.SITE_URL.rstrip("/") + path
    days = settings.EMAIL_VERIFY_DAYS
    body = (
        f"Hello {user.username},\n\nconfirm that {user.email} is yours by opening "
        f"this link within {days} days:\n\n{link}\n\nUntil then your claims are "
        "not enforced and you cannot open disputes. If you did not sign up, "
        "ignore this email."
    )
    transaction.on_commit(
        partial(_send, user.email, "Confirm your email address", body)
    )


def _send(to: str, subject: str, body: str) -> None:
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [to])
    except Exception:  # the account exists; a new link can be asked for
        log.exception("could not send the verification email")


def email_verify(*, token: str) -> User:
    """Confirm the address a token was sent to; the account's claims that
    waited for it are enforced (those that wait for other reasons stay).

    Raises ValidationFailed (a bad or expired link, or one for an address the
    account no longer has).
    """
    try:
        data = signing.loads(
            token, salt=VERIFY_SALT, max_age=settings.EMAIL_VERIFY_DAYS * 86400
        )
    except signing.SignatureExpired:
        raise ValidationFailed(
            "this link has expired; ask for a new one on your account page",
            field="token",
        ) from None
    except signing.BadSignature:
        raise ValidationFailed(
            "this link is not valid; ask for a new one on your account page",
            field="token",
        ) from None
    with transaction.atomic():
        user = User.objects.select_for_update().filter(pk=data.get("u")).first()
        if user is None or user.email.lower() != data.get("e"):
            raise ValidationFailed(
                "this link was sent to an address the account no longer has",
                field="token",
            )
        if user.email_verified:
            return user
        user.email_verified_at = timezone.now()
        user.save(update_fields=["email_verified_at"])
        claims = claims_activate_for_verified_email(user=user)
        audit_record(
            actor=user,
            action="account.email_verified",
            target=user,
            target_label=user.username,
            holder=rights_holder_for_user(user=user),
            after={"email_verified": True, "claims": claims},
        )
    return user


def api_token_create(
    *,
    user: User,
    name: str,
    scopes: Iterable[str] | None = None,
    creator_token: ApiToken | None = None,
) -> tuple[ApiToken, str]:
    """A new token; the raw key is returned once and never stored.

    `scopes` None gives `*` (everything the account's roles allow), or, made
    with another token (`creator_token`), that token's scopes: a token never
    gives a scope it lacks.
    """
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("name may not be blank", field="name")
    if scopes is None:
        chosen = list(creator_token.scopes) if creator_token else [Scope.ALL.value]
    else:
        chosen = list(dict.fromkeys(scopes))
        unknown = [s for s in chosen if s not in Scope.values]
        if unknown:
            raise ValidationFailed(
                f"scopes: unknown scope {unknown[0]!r}; choose from "
                + ", ".join(Scope.values),
                field="scopes",
            )
        if not chosen:
            raise ValidationFailed("scopes: choose at least one scope", field="scopes")
    if creator_token is not None:
        beyond = [s for s in chosen if not creator_token.has_scope(s)]
        if beyond:
            raise ValidationFailed(
                f"scopes: the token you use lacks {beyond[0]!r}, so it cannot "
                "give it to a new token",
                field="scopes",
            )
    if Scope.ALL in chosen and len(chosen) > 1:
        chosen = [Scope.ALL.value]
    if Scope.REVIEW in chosen and not user.is_staff:
        raise ValidationFailed("scopes: review is for admins", field="scopes")
    key = ApiToken.new_key()
    token = ApiToken.objects.create(
        user=user,
        name=name[:100],
        key_prefix=key[: len(ApiToken.PREFIX) + 4],
        key_hash=ApiToken.hash_key(key),
        scopes=[s for s in Scope.values if s in chosen],
    )
    return token, key


def api_token_revoke(
    *, user: User, token_id: int, revoker_token: ApiToken | None = None
) -> ApiToken:
    """Revoke one of the account's tokens. With a token (`revoker_token`),
    only itself or tokens whose scopes it holds all of: a leaked lookup key
    cannot switch off the account's other keys."""
    token = ApiToken.objects.filter(pk=token_id, user=user).first()
    if token is None:
        raise NotFound("token not found")
    if (
        revoker_token is not None
        and revoker_token.pk != token.pk
        and not all(revoker_token.has_scope(s) for s in token.scopes)
    ):
        raise NotAllowed(
            "the token you use lacks some of that token's scopes, so it cannot "
            "revoke it; use the account page"
        )
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


def account_delete(*, user: User, password: str) -> dict[str, int]:
    """Delete an account, as its owner asks (the password again).

    Its claims and works are withdrawn (no longer enforced; the revision
    moves), its unresolved disputes withdrawn, its tokens revoked, its
    manifests, jobs and outputs deleted with their files. The row stays,
    anonymised, so the audit log and the other party's disputes keep their
    history: username and email are replaced, the password made unusable, the
    account inactive. Raises ValidationFailed (wrong password).
    """
    if not user.check_password(password or ""):
        raise ValidationFailed("password: that is not your password", field="password")
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        holdings = holdings_withdraw_for_account(user=locked)
        disputes = disputes_withdraw_for_account(user=locked)
        manifests = manifests_delete_for_account(user=locked)
        tokens = ApiToken.objects.filter(user=locked, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        holder = rights_holder_for_user(user=locked)
        if holder is not None:
            holder.display_name = "deleted account"
            holder.contact_email = f"deleted-{locked.pk}@invalid"
            holder.website = ""
            holder.save(update_fields=["display_name", "contact_email", "website"])
        audit_record(
            actor=locked,
            action="account.delete",
            target=locked,
            target_label=f"account {locked.pk}",
            holder=holder,
            after={**holdings, "disputes": disputes, "manifests": manifests},
        )
        locked.username = f"deleted-{locked.pk}"
        locked.email = f"deleted-{locked.pk}@invalid"
        locked.first_name = locked.last_name = ""
        locked.set_unusable_password()
        locked.is_active = False
        locked.email_verified_at = None
        locked.save()
        notifications_delete_for_user(user=locked)
    return {
        **holdings,
        "disputes": disputes,
        "manifests": manifests,
        "tokens": tokens,
    }
