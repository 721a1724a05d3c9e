"""API token authentication: `Authorization: Token <key>` (or `Bearer`, or `API`).

`API <key>` is the form Spawning's clients send (optout/api/spawning.py).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.models import ApiToken

KEYWORDS = ("token", "bearer", "api")


SUSPENDED_MESSAGE = (
    "This account is suspended; its API tokens do not work. Contact the registry's "
    "admins to appeal."
)


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keywords = KEYWORDS

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        header = authentication.get_authorization_header(request).split()
        if (
            not header
            or header[0].decode(errors="replace").lower() not in self.keywords
        ):
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Authorization header must be '<keyword> <token>'."
            )
        try:
            key = header[1].decode()
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        return authenticate_key(key)

    def authenticate_header(self, request: Request) -> str:
        return 'Token realm="api"'


def authenticate_key(key: str) -> tuple[Any, ApiToken]:
    """The (user, token) for a raw key, or AuthenticationFailed."""
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=ApiToken.hash_key(key), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.user.is_active:
        raise exceptions.AuthenticationFailed("Invalid or revoked token.")
    if token.user.is_suspended:
        raise exceptions.AuthenticationFailed(SUSPENDED_MESSAGE)
    now = timezone.now()
    # One write a minute at most per token, not one per request.
    if token.last_used is None or now - token.last_used > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used=now)
    return token.user, token


def request_user(request: HttpRequest) -> Any:
    """Who asks a plain Django view: the session's user, or the user of a valid
    API token in the Authorization header (so API clients can follow the file
    URLs the API returns). Anonymous when neither holds."""
    if request.user.is_authenticated:
        return request.user
    # DRF's authenticator reads only request.META, which a Django request has.
    try:
        found = ApiTokenAuthentication().authenticate(request)  # type: ignore[arg-type]
    except exceptions.AuthenticationFailed:
        return AnonymousUser()
    return found[0] if found else AnonymousUser()
