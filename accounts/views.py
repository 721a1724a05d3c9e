"""Account pages: sign-up, the account page with API tokens, and staff's
account review (/review/accounts/: suspend and reinstate, with a reason).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
)
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.forms import (
    ROLE_ARTIST,
    ROLE_CURATOR,
    DeleteAccountForm,
    ReasonForm,
    SignupForm,
    SuspensionAwareLoginForm,
    TokenForm,
)
from accounts.models import User
from accounts.permissions import staff_required
from core.errors import DomainError, NotFound
from core.forms import add_domain_error
from core.throttles import SignupThrottle, page_throttled
from registry.forms import ProfileForm
from registry.models import RightsHolder
from registry.selectors import rights_holder_for_user
from registry.services import rights_holder_update

from . import selectors, services

ACCOUNTS_PER_PAGE = 50


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("dashboard")
    if request.method == "POST" and (
        limited := page_throttled(request, SignupThrottle)
    ):
        return limited
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
                request,
                f"Welcome, {user.username}: your account is ready. We emailed "
                f"{user.email} a link: open it to confirm the address, and your "
                "claims are enforced.",
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


def locked_out(
    request: HttpRequest, response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """django-axes' answer once an account or an address has failed too often:
    the log-in page again, with a 429 saying how long to wait."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    lockout = (
        f"Too many failed log-ins for this account or from your address: try "
        f"again in {minutes} minutes, or reset your password by email."
    )
    ctx = {"form": SuspensionAwareLoginForm(request), "lockout": lockout}
    page = render(request, "accounts/login.html", ctx, status=429)
    page["Retry-After"] = str(minutes * 60)
    return page


def verify_email(request: HttpRequest, token: str) -> HttpResponse:
    """The link from the email: no log-in needed (it may open in another browser)."""
    try:
        user = services.email_verify(token=token)
    except DomainError as exc:
        ctx = {"error": exc.message[0].upper() + exc.message[1:] + "."}
        return render(request, "accounts/verify_email.html", ctx, status=400)
    return render(request, "accounts/verify_email.html", {"user_verified": user})


@login_required
@require_POST
def verify_email_resend(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]  # login_required
    try:
        services.email_verification_send(user=user)
    except DomainError as exc:
        messages.info(request, exc.message[0].upper() + exc.message[1:] + ".")
    else:
        messages.success(request, f"A new link is on its way to {user.email}.")
    return redirect("account")


@login_required
def account_export(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]  # login_required
    data = selectors.account_export(user=user)
    response = JsonResponse(data, json_dumps_params={"indent": 1})
    name = f"registry-account-{user.username}.json"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
def account_delete(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]  # login_required
    form = DeleteAccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.account_delete(user=user, password=form.cleaned_data["password"])
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            logout(request)
            messages.success(
                request,
                "Your account is deleted: its claims and works are withdrawn and "
                "its data removed.",
            )
            return redirect("home")
    holder = rights_holder_for_user(user=user)
    counts = {
        "claims": holder.claims.count() if holder else 0,
        "works": holder.works.count() if holder else 0,
        "tokens": selectors.api_token_list_for_user(user=user)
        .filter(revoked_at__isnull=True)
        .count(),
        "manifests": user.manifests.count(),
        "disputes_open": user.disputes_opened.exclude(
            state__in=["resolved", "withdrawn"]
        ).count(),
    }
    status = 400 if form.errors else 200
    ctx = {"form": form, "counts": counts}
    return render(request, "accounts/delete.html", ctx, status=status)


def reset_timeout_days() -> int:
    return max(1, settings.PASSWORD_RESET_TIMEOUT // 86400)


class PasswordResetView(auth_views.PasswordResetView):
    """The reset email's link starts with SITE_URL, not the request's Host
    header (which a client chooses)."""

    template_name = "accounts/password/reset.html"
    email_template_name = "accounts/password/reset_email.txt"
    subject_template_name = "accounts/password/reset_subject.txt"

    def form_valid(self, form: Any) -> HttpResponse:
        site = urlsplit(settings.SITE_URL)
        self.extra_email_context = {"site_name": site.netloc}
        form.save(
            domain_override=site.netloc,
            use_https=site.scheme == "https",
            from_email=settings.DEFAULT_FROM_EMAIL,
            email_template_name=self.email_template_name,
            subject_template_name=self.subject_template_name,
            request=self.request,
            extra_email_context=self.extra_email_context,
        )
        return redirect(self.success_url)


@login_required
@require_POST
def token_create(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]  # login_required
    holder = rights_holder_for_user(user=user)
    form = TokenForm(request.POST)
    if form.is_valid():
        try:
            token, key = services.api_token_create(
                user=user,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
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
