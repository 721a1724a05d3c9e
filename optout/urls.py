"""Curators' pages, included at the site root before registry's."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("datasets/", views.job_list, name="jobs"),
    path("datasets/upload/", views.manifest_upload, name="manifest_upload"),
    path("datasets/jobs/<int:job_id>/", views.job_detail, name="job_detail"),
    path(
        "datasets/jobs/<int:job_id>/fragment/",
        views.job_fragment,
        name="job_fragment",
    ),
    path("datasets/jobs/<int:job_id>/cancel/", views.job_cancel, name="job_cancel"),
    path(
        "datasets/jobs/<int:job_id>/outputs/<int:output_id>/",
        views.job_output,
        name="job_output",
    ),
]
