"""The audit log (the artist's own at /audit/, staff's at /review/audit/) and
notifications (pages); the same under /api/v1/."""

from django.urls import path

from . import api, views

urlpatterns = [
    path("audit/", views.audit, name="audit"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/read/", views.notifications_read, name="notifications_read"),
    path("review/audit/", views.review_audit, name="review_audit"),
]

api_urlpatterns = [
    path("audit/", api.AuditListApi.as_view(), name="api-audit"),
    path(
        "notifications/",
        api.NotificationListApi.as_view(),
        name="api-notifications",
    ),
    path(
        "notifications/read/",
        api.NotificationReadApi.as_view(),
        name="api-notifications-read",
    ),
]
