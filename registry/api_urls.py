"""URLs of the REST API, included at /api/v1/ by config/urls.py."""

from __future__ import annotations

from django.urls import path, re_path, register_converter

from . import api, api_disputes, api_trust
from .api import ID_MAX


class IdConverter:
    """A database id: digits that fit a 64-bit integer (bigger ones are a 404)."""

    regex = "[0-9]+"

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 1 <= number <= ID_MAX:
            raise ValueError("not a database id")
        return number

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "dbid")


urlpatterns = [
    path("me/", api.MeApi.as_view(), name="api-me"),
    path("me/rights-holder/", api.RightsHolderApi.as_view(), name="api-rights-holder"),
    path("tokens/", api.TokenListCreateApi.as_view(), name="api-tokens"),
    path("tokens/<dbid:token_id>/", api.TokenRevokeApi.as_view(), name="api-token"),
    path("works/", api.WorkListCreateApi.as_view(), name="api-works"),
    path("works/<dbid:work_id>/", api.WorkDetailApi.as_view(), name="api-work"),
    path(
        "works/<dbid:work_id>/withdraw/",
        api.WorkWithdrawApi.as_view(),
        name="api-work-withdraw",
    ),
    path("images/", api.ImageListApi.as_view(), name="api-images"),
    path(
        "images/hashes/",
        api.ImageRegisterHashesApi.as_view(),
        name="api-image-hashes",
    ),
    path("images/<dbid:image_id>/", api.ImageDetailApi.as_view(), name="api-image"),
    path("portfolio/", api.PortfolioUploadApi.as_view(), name="api-portfolio"),
    path("claims/", api.ClaimListCreateApi.as_view(), name="api-claims"),
    path("claims/<dbid:claim_id>/", api.ClaimDetailApi.as_view(), name="api-claim"),
    path(
        "claims/<dbid:claim_id>/withdraw/",
        api.ClaimWithdrawApi.as_view(),
        name="api-claim-withdraw",
    ),
    path(
        "claims/<dbid:claim_id>/check/",
        api_trust.ClaimCheckApi.as_view(),
        name="api-claim-check",
    ),
    path("audit/", api_trust.AuditListApi.as_view(), name="api-audit"),
    path(
        "notifications/",
        api_trust.NotificationListApi.as_view(),
        name="api-notifications",
    ),
    path(
        "notifications/read/",
        api_trust.NotificationReadApi.as_view(),
        name="api-notifications-read",
    ),
    path(
        "registry/revision/",
        api.RegistryRevisionApi.as_view(),
        name="api-registry-revision",
    ),
    path(
        "disputes/",
        api_disputes.DisputeListCreateApi.as_view(),
        name="api-disputes",
    ),
    path(
        "disputes/<dbid:dispute_id>/",
        api_disputes.DisputeDetailApi.as_view(),
        name="api-dispute",
    ),
    path(
        "disputes/<dbid:dispute_id>/respond/",
        api_disputes.DisputeRespondApi.as_view(),
        name="api-dispute-respond",
    ),
    path(
        "disputes/<dbid:dispute_id>/withdraw/",
        api_disputes.DisputeWithdrawApi.as_view(),
        name="api-dispute-withdraw",
    ),
    path(
        "disputes/<dbid:dispute_id>/resolve/",
        api_disputes.DisputeResolveApi.as_view(),
        name="api-dispute-resolve",
    ),
    path(
        "disputes/<dbid:dispute_id>/confirm/",
        api_disputes.DisputeConfirmApi.as_view(),
        name="api-dispute-confirm",
    ),
    path(
        "matches/<dbid:match_id>/report/",
        api_disputes.MatchReportApi.as_view(),
        name="api-match-report",
    ),
    # Last: any other path under /api/v1/ is a JSON 404.
    re_path(r"^.*$", api.ApiNotFoundApi.as_view(), name="api-not-found"),
]
