"""Disputes, false-match reports and staff's review queue (pages); the same
under /api/v1/."""

from django.urls import path

from . import api, views

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
    # Private files: each view checks who asks (404 for anyone not allowed).
    path(
        "files/evidence/<int:evidence_id>",
        views.evidence_file,
        {"kind": "file"},
        name="evidence_file",
    ),
    path(
        "files/evidence/<int:evidence_id>/thumbnail",
        views.evidence_file,
        {"kind": "thumbnail"},
        name="evidence_thumbnail",
    ),
    path(
        "files/report/<int:report_id>/thumbnail",
        views.report_row_thumbnail,
        name="report_row_thumbnail",
    ),
]

api_urlpatterns = [
    path("disputes/", api.DisputeListCreateApi.as_view(), name="api-disputes"),
    path(
        "disputes/<dbid:dispute_id>/",
        api.DisputeDetailApi.as_view(),
        name="api-dispute",
    ),
    path(
        "disputes/<dbid:dispute_id>/respond/",
        api.DisputeRespondApi.as_view(),
        name="api-dispute-respond",
    ),
    path(
        "disputes/<dbid:dispute_id>/withdraw/",
        api.DisputeWithdrawApi.as_view(),
        name="api-dispute-withdraw",
    ),
    path(
        "disputes/<dbid:dispute_id>/resolve/",
        api.DisputeResolveApi.as_view(),
        name="api-dispute-resolve",
    ),
    path(
        "disputes/<dbid:dispute_id>/confirm/",
        api.DisputeConfirmApi.as_view(),
        name="api-dispute-confirm",
    ),
    path(
        "matches/<dbid:match_id>/report/",
        api.MatchReportApi.as_view(),
        name="api-match-report",
    ),
]
