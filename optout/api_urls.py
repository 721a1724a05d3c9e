"""URLs of the curators' REST API, included at /api/v1/ before registry's."""

from __future__ import annotations

from django.urls import path

# Registers the "dbid" path converter, whichever URL module Django loads first.
import registry.api_urls  # noqa: F401

from . import api

urlpatterns = [
    path("manifests/", api.ManifestUploadApi.as_view(), name="api-manifests"),
    path("jobs/", api.JobListApi.as_view(), name="api-jobs"),
    path("jobs/<dbid:job_id>/", api.JobDetailApi.as_view(), name="api-job"),
    path(
        "jobs/<dbid:job_id>/cancel/", api.JobCancelApi.as_view(), name="api-job-cancel"
    ),
    path(
        "jobs/<dbid:job_id>/matches/",
        api.JobMatchListApi.as_view(),
        name="api-job-matches",
    ),
    path(
        "jobs/<dbid:job_id>/outputs/<dbid:output_id>/",
        api.JobOutputDownloadApi.as_view(),
        name="api-job-output",
    ),
    path("lookup/", api.LookupApi.as_view(), name="api-lookup"),
]
