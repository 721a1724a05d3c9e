from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", include("config.health")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "api/docs/",
        SpectacularSwaggerView.as_view(url_name="api-schema"),
        name="api-docs",
    ),
    path("api/v1/", include("optout.api_urls")),
    # Last under /api/v1/: registry's patterns end with a JSON 404 catch-all.
    path("api/v1/", include("registry.api_urls")),
    path("", include("optout.spawning")),
    path("", include("optout.urls")),
    path("", include("registry.dispute_urls")),
    path("", include("registry.urls")),
]


def serve_media(request: HttpRequest, path: str) -> HttpResponse:
    """Originals and thumbnails, from MEDIA_ROOT as it is now (tests change it)."""
    return serve(request, path, document_root=settings.MEDIA_ROOT)


if settings.SERVE_MEDIA:
    urlpatterns += [re_path(r"^media/(?P<path>.*)$", serve_media, name="media")]
