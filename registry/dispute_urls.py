"""Pages for disputes, false-match reports and the admins' review queue.

Included at the site root by config/urls.py, before registry.urls.
"""

from __future__ import annotations

from django.urls import path

from . import dispute_views as views

urlpatterns = [
    path("disputes/", views.dispute_list, name="disputes"),
    path("disputes/new/", views.dispute_new, name="dispute_new"),
    path("disputes/<int:dispute_id>/", views.dispute_detail, name="dispute_detail"),
    path(
        "disputes/<int:dispute_id>/respond/",
        views.dispute_respond,
        name="dispute_respond",
    ),
    path(
        "disputes/<int:dispute_id>/withdraw/",
        views.dispute_withdraw,
        name="dispute_withdraw",
    ),
    path("matches/<int:match_id>/report/", views.match_report, name="match_report"),
    path("review/", views.review_queue, name="review"),
    path(
        "review/disputes/<int:dispute_id>/",
        views.review_dispute,
        name="review_dispute",
    ),
    path(
        "review/disputes/<int:dispute_id>/confirm/",
        views.review_dispute_confirm,
        name="review_dispute_confirm",
    ),
    path(
        "review/reports/<int:report_id>/",
        views.review_report,
        name="review_report",
    ),
]
