"""Account pages: sign-up, the account page with API tokens, and staff's
account review (/review/accounts/: suspend and reinstate, with a reason).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
)
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.forms import ROLE_ARTIST, ROLE_CURATOR, ReasonForm, SignupForm, TokenForm
from accounts.models import User
from accounts.permissions import staff_required
from core.errors import DomainError, NotFound
from core.forms import add_domain_error
from registry.forms import ProfileForm
from registry.models import RightsHolder
from registry.selectors import rights_holder_for_user
from registry.services import rights_holder_update

from . import selectors, services

ACCOUNTS_PER_PAGE = 50


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("dashboard")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = services.user_signup(
                username=data["username"],
                email=data["email"],
                password=data["password1"],
                is_artist=ROLE_ARTIST in data["roles"],
                is_curator=ROLE_CURATOR in data["roles"],
                display_name=data["display_name"],
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(
                request, f"Welcome, {user.username}: your account is ready."
            )
            return redirect("dashboard")
    status = 400 if form.errors else 200
    return render(request, "accounts/signup.html", {"form": form}, status=status)


def _account_context(
    user: User,
    holder: RightsHolder | None,
    *,
    profile_form: ProfileForm | None = None,
    token_form: TokenForm | None = None,
    **extra: Any,
) -> dict[str, Any]:
    if profile_form is None and holder is not None:
        profile_form = ProfileForm(
            initial={
                "display_name": holder.display_name,
                "contact_email": holder.contact_email,
                "website": holder.website,
            }
        )
    return {
        "holder": holder,
        "profile_form": profile_form,
        "token_form": token_form or TokenForm(),
        "tokens": selectors.api_token_list_for_user(user=user),
        **extra,
    }


@login_required
def account(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]  # login_required
    holder = rights_holder_for_user(user=user)
    if request.method != "POST":
        return render(request, "accounts/account.html", _account_context(user, holder))
    if holder is None:
        raise Http404("no artist profile")
    form = ProfileForm(request.POST)
    if form.is_valid():
        try:
            rights_holder_update(holder=holder, **form.cleaned_data)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, "Profile saved.")
            return redirect("account")
    ctx = _account_context(user, holder, profile_form=form)
    return render(request, "accounts/account.html", ctx, status=400)


@login_required
@require_POST
def token_create(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]  # login_required
    holder = rights_holder_for_user(user=user)
    form = TokenForm(request.POST)
    if form.is_valid():
        try:
            token, key = services.api_token_create(
                user=user, name=form.cleaned_data["name"]
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            # Rendered, not redirected: the raw key must not sit in the session
            # store (the database) on its way to the next page. Nor in a cache:
            # the browser's, on disk, or a proxy's.
            ctx = _account_context(user, holder, new_token=token, new_key=key)
            response = render(request, "accounts/account.html", ctx)
            response["Cache-Control"] = "no-store"
            return response
    ctx = _account_context(user, holder, token_form=form)
    return render(request, "accounts/account.html", ctx, status=400)


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    try:
        token = services.api_token_revoke(
            user=request.user,  # type: ignore[arg-type]  # login_required
            token_id=token_id,
        )
    except NotFound:
        raise Http404("token not found") from None
    messages.success(request, f"Token “{token.name}” revoked.")
    return redirect("account")


@staff_required
def review_accounts(request: HttpRequest) -> HttpResponse:
    q = (request.GET.get("q") or "").strip()[:150]
    users = User.objects.order_by("username")
    if q:
        users = users.filter(username__icontains=q) | users.filter(email__icontains=q)
    if request.GET.get("suspended"):
        users = users.filter(suspended_at__isnull=False)
    page = Paginator(users, ACCOUNTS_PER_PAGE).get_page(request.GET.get("page"))
    ctx = {"page": page, "q": q, "form": ReasonForm()}
    return render(request, "accounts/review_accounts.html", ctx)


@staff_required
@require_POST
def review_account_action(
    request: HttpRequest, user_id: int, action: str
) -> HttpResponse:
    target = User.objects.filter(pk=user_id).first()
    if target is None:
        raise Http404("account not found")
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, form.errors["reason"][0])
        return redirect("review_accounts")
    service = (
        services.account_suspend if action == "suspend" else services.account_reinstate
    )
    try:
        service(
            admin=request.user,  # type: ignore[arg-type]  # staff_required
            user=target,
            reason=form.cleaned_data["reason"],
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        verb = "suspended" if action == "suspend" else "reinstated"
        messages.success(request, f"Account {target.username} {verb}.")
    return redirect("review_accounts")
