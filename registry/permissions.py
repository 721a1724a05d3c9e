"""Who may use the artists' pages and API: a signed-in account with an
artist profile (a RightsHolder). Pages redirect others to the dashboard; the
API answers 403 with how to become an artist."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import (
    HttpRequest,
    HttpResponse,
)
from django.shortcuts import redirect
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.models import User
from core.api import errors
from registry.models import RightsHolder

from . import selectors

ArtistView = Callable[..., HttpResponse]


def artist_required(view: ArtistView) -> Callable[..., HttpResponse]:
    """Log-in required, and an artist profile: passed to the view as `holder`."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        holder = selectors.rights_holder_for_user(user=request.user)
        if holder is None:
            messages.info(
                request,
                "That page is for artists. You can become one from your dashboard.",
            )
            return redirect("dashboard")
        return view(request, holder, *args, **kwargs)

    return wrapper


NOT_AN_ARTIST = (
    "you are not registered as an artist: POST /api/v1/me/rights-holder/ first"
)


def artist_holder(user: User) -> RightsHolder:
    """The user's RightsHolder, or a 403 that says how to become an artist."""
    holder = selectors.rights_holder_for_user(user=user)
    if holder is None:
        raise exceptions.PermissionDenied(NOT_AN_ARTIST, code="not_an_artist")
    return holder


class ArtistApi(APIView):
    # Operations on the signed-in artist's own registry entries. `self.holder`
    # is their RightsHolder; accounts without one get a 403 that says how to
    # become an artist. (A comment, not a docstring: the schema would show it.)

    holder: RightsHolder

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self.holder = artist_holder(request.user)


def artist_errors(*codes: int) -> dict[int, OpenApiResponse]:
    """core.api.errors for the artists' operations, where 403 means one thing."""
    wording = {403: f"The account is not an artist ({NOT_AN_ARTIST})."}
    return errors(*codes, descriptions={c: t for c, t in wording.items() if c in codes})
