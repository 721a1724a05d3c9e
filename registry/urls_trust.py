"""Pages for trust in the registry (registry/views_trust.py)."""

from django.urls import path

from . import views_trust as views

urlpatterns = [
    path("claims/<int:claim_id>/check/", views.claim_check, name="claim_check"),
    path("audit/", views.audit, name="audit"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/read/", views.notifications_read, name="notifications_read"),
    path("review/styles/", views.review_styles, name="review_styles"),
    path(
        "review/styles/<int:claim_id>/",
        views.review_style_detail,
        name="review_style",
    ),
    path("review/domains/", views.review_domains, name="review_domains"),
    path(
        "review/domains/<int:claim_id>/check/",
        views.review_domain_check,
        name="review_domain_check",
    ),
    path("review/audit/", views.review_audit, name="review_audit"),
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
