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

from accounts.models import User


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
