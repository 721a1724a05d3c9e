"""Curators' pages (/datasets/), their API under /api/v1/, and the
Spawning-compatible URL check at /api/v2/query/urls."""

from __future__ import annotations

from django.urls import path

from . import api, views

urlpatterns = [
    # The public keys that verify receipts: JSON, no account needed.
    path(
        ".well-known/dnt-registry-keys.json",
        views.receipt_keys,
        name="receipt_keys",
    ),
    path("datasets/", views.job_list, name="jobs"),
    path("search/", views.search, name="search"),
    path("search/export.csv", views.search_export, name="search_export"),
    path("search/image/", views.search_image, name="search_image"),
    path(
        "search/thumb/<int:dataset_id>/<int:row>.jpg",
        views.search_thumb,
        name="search_thumb",
    ),
    path("search/opt-out/", views.search_opt_out, name="search_opt_out"),
    path("search/datasets/", views.search_datasets, name="search_datasets"),
    path(
        "search/datasets/<int:dataset_id>/remove/",
        views.search_dataset_remove,
        name="search_dataset_remove",
    ),
    path("datasets/upload/", views.manifest_upload, name="manifest_upload"),
    path("datasets/jobs/<int:job_id>/", views.job_detail, name="job_detail"),
    path(
        "datasets/jobs/<int:job_id>/fragment/",
        views.job_fragment,
        name="job_fragment",
    ),
    path("datasets/jobs/<int:job_id>/cancel/", views.job_cancel, name="job_cancel"),
    path("datasets/jobs/<int:job_id>/retry/", views.job_retry, name="job_retry"),
    path("datasets/jobs/<int:job_id>/share/", views.job_share, name="job_share"),
    path(
        "datasets/jobs/<int:job_id>/outputs/<int:output_id>/",
        views.job_output,
        name="job_output",
    ),
    path(
        "api/v2/query/urls/",
        api.SpawningQueryUrlsApi.as_view(),
        name="spawning-query-urls",
    ),
    # The same view, not a redirect: a redirected POST loses its body.
    path(
        "api/v2/query/urls",
        api.SpawningQueryUrlsApi.as_view(),
        name="spawning-query-urls-no-slash",
    ),
]

api_urlpatterns = [
    path("manifests/", api.ManifestUploadApi.as_view(), name="api-manifests"),
    path("jobs/", api.JobListApi.as_view(), name="api-jobs"),
    path("jobs/<dbid:job_id>/", api.JobDetailApi.as_view(), name="api-job"),
    path(
        "jobs/<dbid:job_id>/cancel/", api.JobCancelApi.as_view(), name="api-job-cancel"
    ),
    path("jobs/<dbid:job_id>/retry/", api.JobRetryApi.as_view(), name="api-job-retry"),
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
    path("preferences/", api.PreferencesApi.as_view(), name="api-preferences"),
    path("datasets/", api.DatasetListApi.as_view(), name="api-datasets"),
    path("search/", api.SearchApi.as_view(), name="api-search"),
    path("search/image/", api.SearchImageApi.as_view(), name="api-search-image"),
    path("search/opt-out/", api.SearchOptOutApi.as_view(), name="api-search-opt-out"),
    path("snapshot/", api.SnapshotApi.as_view(), name="api-snapshot"),
    path(
        "snapshot/segments/<str:name>/<path:file>",
        api.SnapshotFileApi.as_view(),
        name="api-snapshot-file",
    ),
]
