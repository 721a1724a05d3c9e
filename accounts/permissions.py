"""Role checks for pages: staff only (a 404 for anyone else) and curators only."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
)
from django.shortcuts import redirect
from rest_framework.permissions import BasePermission

from accounts.models import ApiToken, Scope, User


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Staff only; anyone else (anonymous included) gets a 404, so the review
    pages are not even known to exist."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not (user.is_authenticated and user.is_active and user.is_staff):
            raise Http404("page not found")
        return view(request, *args, **kwargs)

    return wrapper


NOT_A_CURATOR = (
    "Those pages are for dataset curators. An admin can give your account the "
    "curator role."
)


CuratorView = Callable[..., HttpResponse]


def curator_required(view: CuratorView) -> Callable[..., HttpResponse]:
    """Log-in required, and the curator role; the user is passed as `user`."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user: User = request.user  # type: ignore[assignment]  # login_required
        if not user.is_curator:
            messages.info(request, NOT_A_CURATOR)
            return redirect("dashboard")
        return view(request, user, *args, **kwargs)

    return wrapper


# A view open to a token of any scope (the account itself, its notifications).
ANY_SCOPE = "*"


_SCOPE_ROLES = {
    Scope.REGISTER: "is_artist",
    Scope.CURATE: "is_curator",
    Scope.REVIEW: "is_staff",
}


def _role_allows(user: User, scope: str) -> bool:
    role = _SCOPE_ROLES.get(scope)
    return role is None or bool(getattr(user, role, False))


class TokenScopes(BasePermission):
    """An API token reaches a view only with the scope the view names.

    Views set `required_scopes`: a scope, a tuple of scopes (any one will do),
    ANY_SCOPE, or a dict of those by HTTP method. A view that names none is
    closed to tokens (fail closed); session log-ins (the pages' own fetches)
    are not scoped.
    """

    message = "This API token's scopes do not allow this."

    def has_permission(self, request: Any, view: Any) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken):
            return True
        wanted = getattr(view, "required_scopes", None)
        if isinstance(wanted, dict):
            wanted = wanted.get(request.method, wanted.get("*"))
        if wanted is None:
            self.message = "API tokens cannot use this operation."
            return False
        if wanted == ANY_SCOPE:
            return True
        options = (wanted,) if isinstance(wanted, str) else tuple(wanted)
        if any(token.has_scope(s) for s in options):
            return True
        if not any(_role_allows(request.user, s) for s in options):
            return True  # no scope gives a role: the view says which is missing

        self.message = (
            f"This API token lacks the {' or '.join(options)} scope; create a "
            "token with it on your account page."
        )
        return False
