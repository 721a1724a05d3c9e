"""The registry: the home page, the artist's dashboard, works, images and
claims, staff's style and domain review (pages); the same under /api/v1/."""

from django.urls import path

from . import api, views

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/become-artist/", views.become_artist, name="become_artist"),
    path("upload/", views.upload, name="upload"),
    path("works/", views.works, name="works"),
    path("works/fragment/", views.works_fragment, name="works_fragment"),
    path("works/hashes/", views.register_hashes, name="register_hashes"),
    path("works/<int:work_id>/", views.work_detail, name="work_detail"),
    path("works/<int:work_id>/withdraw/", views.work_withdraw, name="work_withdraw"),
    path("works/<int:work_id>/opt-in/", views.work_opt_in, name="work_opt_in"),
    path("claims/", views.claims, name="claims"),
    path("claims/bulk/", views.claims_bulk, name="claims_bulk"),
    path(
        "claims/<int:claim_id>/withdraw/",
        views.claim_withdraw,
        name="claim_withdraw",
    ),
    path("claims/<int:claim_id>/check/", views.claim_check, name="claim_check"),
    path("claims/<int:claim_id>/publish/", views.claim_publish, name="claim_publish"),
    path("claims/<int:claim_id>/opt-in/", views.claim_opt_in, name="claim_opt_in"),
    path(
        "claims/<int:claim_id>/publish/<str:name>",
        views.claim_publish_file,
        name="claim_publish_file",
    ),
    path("review/styles/", views.review_styles, name="review_styles"),
    path(
        "review/styles/<int:claim_id>/",
        views.review_style_detail,
        name="review_style",
    ),
    path("review/prefixes/", views.review_prefixes, name="review_prefixes"),
    path("review/domains/", views.review_domains, name="review_domains"),
    path(
        "review/domains/<int:claim_id>/check/",
        views.review_domain_check,
        name="review_domain_check",
    ),
    # Private files: each view checks who asks (404 for anyone not allowed).
    path(
        "files/image/<int:image_id>/original",
        views.image_file,
        {"kind": "original"},
        name="image_original",
    ),
    path(
        "files/image/<int:image_id>/thumbnail",
        views.image_file,
        {"kind": "thumbnail"},
        name="image_thumbnail",
    ),
]

api_urlpatterns = [
    path("", api.ApiRootApi.as_view(), name="api-root"),
    path("me/rights-holder/", api.RightsHolderApi.as_view(), name="api-rights-holder"),
    path("works/", api.WorkListCreateApi.as_view(), name="api-works"),
    path("works/<dbid:work_id>/", api.WorkDetailApi.as_view(), name="api-work"),
    path(
        "works/<dbid:work_id>/withdraw/",
        api.WorkWithdrawApi.as_view(),
        name="api-work-withdraw",
    ),
    path(
        "works/<dbid:work_id>/opt-in/",
        api.WorkOptInApi.as_view(),
        name="api-work-opt-in",
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
    path("claims/bulk/", api.ClaimBulkCreateApi.as_view(), name="api-claims-bulk"),
    path("claims/<dbid:claim_id>/", api.ClaimDetailApi.as_view(), name="api-claim"),
    path(
        "claims/<dbid:claim_id>/withdraw/",
        api.ClaimWithdrawApi.as_view(),
        name="api-claim-withdraw",
    ),
    path(
        "claims/<dbid:claim_id>/opt-in/",
        api.ClaimOptInApi.as_view(),
        name="api-claim-opt-in",
    ),
    path(
        "claims/<dbid:claim_id>/check/",
        api.ClaimCheckApi.as_view(),
        name="api-claim-check",
    ),
    path(
        "registry/revision/",
        api.RegistryRevisionApi.as_view(),
        name="api-registry-revision",
    ),
]
