"""Suspended accounts are signed out on their next request (pages and API)."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth import logout
from django.http import (
    HttpRequest,
    HttpResponse,
)


class SuspendedAccountMiddleware:
    """After the auth and messages middleware: a session of a suspended account ends.

    Log-in itself is refused by SuspensionAwareLoginForm, API tokens by
    ApiTokenAuthentication; this covers sessions opened before the suspension.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_suspended:
            logout(request)
            messages.error(request, SUSPENDED_LOGIN_MESSAGE, fail_silently=True)
        return self.get_response(request)


SUSPENDED_LOGIN_MESSAGE = (
    "This account is suspended, so you cannot log in. Contact the registry's "
    "admins to appeal."
)
