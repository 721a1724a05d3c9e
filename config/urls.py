from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView

import accounts.urls
import audit.urls
import disputes.urls
import optout.urls
import registry.urls
from core.api import ApiNotFoundApi
from core.api_docs import RedocView, SwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", include("config.health")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "api/docs/",
        SwaggerView.as_view(url_name="api-schema"),
        name="api-docs",
    ),
    path(
        "api/redoc/",
        RedocView.as_view(url_name="api-schema", template_name="core/redoc.html"),
        name="api-redoc",
    ),
    # Each app's API under /api/v1/; anything else there is a JSON 404.
    path(
        "api/v1/",
        include(
            accounts.urls.api_urlpatterns
            + registry.urls.api_urlpatterns
            + disputes.urls.api_urlpatterns
            + audit.urls.api_urlpatterns
            + optout.urls.api_urlpatterns
            + [re_path(r"^.*$", ApiNotFoundApi.as_view(), name="api-not-found")]
        ),
    ),
    path("", include(accounts.urls.urlpatterns)),
    path("", include(registry.urls.urlpatterns)),
    path("", include(disputes.urls.urlpatterns)),
    path("", include(audit.urls.urlpatterns)),
    path("", include(optout.urls.urlpatterns)),
]

# Under /api/, errors that Django answers itself (request limits, unknown paths,
# crashes) come back as JSON in the API's error shape; see core/api_errors.py.
handler400 = "core.api_errors.bad_request"
handler403 = "core.api_errors.permission_denied"
handler404 = "core.api_errors.page_not_found"
handler500 = "core.api_errors.server_error"


def serve_media(request: HttpRequest, path: str) -> HttpResponse:
    """Every file under MEDIA_ROOT, to anyone: SERVE_MEDIA, a developer's switch.

    Unsafe: originals, thumbnails and evidence are private and are served by
    the views under /files/, which check who asks.
    """
    return serve(request, path, document_root=settings.MEDIA_ROOT)


if settings.SERVE_MEDIA:
    urlpatterns += [re_path(r"^media/(?P<path>.*)$", serve_media, name="media")]
