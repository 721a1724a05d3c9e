"""Accounts: sign-up, log-in, the account page and tokens, staff's account
review (pages); the signed-in account and its tokens (API, under /api/v1/)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from . import api, views
from .forms import SuspensionAwareLoginForm

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="accounts/login.html",
            redirect_authenticated_user=True,
            authentication_form=SuspensionAwareLoginForm,
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/", views.account, name="account"),
    path("account/verify/<str:token>/", views.verify_email, name="verify_email"),
    path(
        "account/verify-again/",
        views.verify_email_resend,
        name="verify_email_resend",
    ),
    path("account/export/", views.account_export, name="account_export"),
    path("account/delete/", views.account_delete, name="account_delete"),
    path(
        "account/password/",
        auth_views.PasswordChangeView.as_view(
            template_name="accounts/password/change.html"
        ),
        name="password_change",
    ),
    path(
        "account/password/done/",
        auth_views.PasswordChangeDoneView.as_view(
            template_name="accounts/password/change_done.html"
        ),
        name="password_change_done",
    ),
    path(
        "password-reset/",
        views.PasswordResetView.as_view(),
        name="password_reset",
    ),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(
            template_name="accounts/password/reset_done.html",
            extra_context={"timeout_days": views.reset_timeout_days()},
        ),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="accounts/password/reset_confirm.html"
        ),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="accounts/password/reset_complete.html"
        ),
        name="password_reset_complete",
    ),
    path("account/tokens/", views.token_create, name="token_create"),
    path(
        "account/tokens/<int:token_id>/revoke/",
        views.token_revoke,
        name="token_revoke",
    ),
    path("review/accounts/", views.review_accounts, name="review_accounts"),
    path(
        "review/accounts/<int:user_id>/suspend/",
        views.review_account_action,
        {"action": "suspend"},
        name="review_account_suspend",
    ),
    path(
        "review/accounts/<int:user_id>/reinstate/",
        views.review_account_action,
        {"action": "reinstate"},
        name="review_account_reinstate",
    ),
]

api_urlpatterns = [
    path("me/", api.MeApi.as_view(), name="api-me"),
    path("tokens/", api.TokenListCreateApi.as_view(), name="api-tokens"),
    path("tokens/<dbid:token_id>/", api.TokenRevokeApi.as_view(), name="api-token"),
]
