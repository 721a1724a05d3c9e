"""Errors that Django answers before (or instead of) DRF are JSON under /api/.

Request limits, unknown paths, CSRF failures and crashes go to Django's error
views; core/api_errors.py answers them in the API's error shape under /api/
and leaves Django's HTML pages everywhere else.
"""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path

from accounts.services import api_token_create
from config import urls as project_urls

MB = 1024 * 1024


# A URLconf for the cases the project's own URLs cannot reach: plain Django
# views under /api/ that crash, refuse or check CSRF, and the same outside it.
def crash(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug")


def forbidden(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied


def form(request: HttpRequest) -> HttpResponse:
    return HttpResponse("posted")


urlpatterns = [
    *(path(f"{prefix}test/crash/", crash) for prefix in ("api/", "")),
    *(path(f"{prefix}test/forbidden/", forbidden) for prefix in ("api/", "")),
    *(path(f"{prefix}test/form/", form) for prefix in ("api/", "")),
    *project_urls.urlpatterns,
]
handler400 = project_urls.handler400
handler403 = project_urls.handler403
handler404 = project_urls.handler404
handler500 = project_urls.handler500


@pytest.fixture
def api(artist) -> Client:
    """A plain Django client with an artist's token, reporting crashes as 500s."""
    _, key = api_token_create(user=artist, name="tests")
    return Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Token {key}")


def assert_api_error(response, status: int, message: str, code: str) -> None:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {
        "message": message,
        "code": code,
        "extra": {},
    }


def assert_html(response, status: int) -> None:
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")


# --- request limits -----------------------------------------------------------


def test_a_json_body_over_the_limit_is_a_413_before_it_is_read(api):
    body = json.dumps({"title": "x" * (10 * MB)})

    response = api.post("/api/v1/works/", body, content_type="application/json")

    assert_api_error(
        response,
        413,
        "request body is larger than 10 MB (DATA_UPLOAD_MAX_MEMORY_SIZE)",
        "request_too_large",
    )


def test_a_form_body_over_the_limit_is_a_413(api):
    body = "title=" + "x" * (10 * MB)

    response = api.post(
        "/api/v1/works/", body, content_type="application/x-www-form-urlencoded"
    )

    assert_api_error(
        response,
        413,
        "request body is larger than 10 MB (DATA_UPLOAD_MAX_MEMORY_SIZE)",
        "request_too_large",
    )


def test_a_json_body_at_the_limit_goes_through_to_the_view(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    body = json.dumps({"title": "x" * 50})
    assert len(body) < 100

    response = api.post("/api/v1/works/", body, content_type="application/json")

    assert response.status_code == 201


def test_multipart_form_fields_over_the_limit_are_a_413(api):
    response = api.post("/api/v1/works/", {"title": "x" * (10 * MB + 1)})

    assert_api_error(
        response,
        413,
        "form fields are larger than 10 MB (DATA_UPLOAD_MAX_MEMORY_SIZE); "
        "send large data as files",
        "request_too_large",
    )


def test_too_many_form_fields_are_a_400(api):
    body = "&".join(f"field{i}=1" for i in range(1001))

    response = api.post(
        "/api/v1/works/", body, content_type="application/x-www-form-urlencoded"
    )

    assert_api_error(
        response,
        400,
        "too many form fields: at most 1,000 (DATA_UPLOAD_MAX_NUMBER_FIELDS)",
        "too_many_fields",
    )


def test_too_many_multipart_fields_are_a_400(api):
    response = api.post("/api/v1/works/", {f"field{i}": "1" for i in range(1001)})

    assert_api_error(
        response,
        400,
        "too many form fields: at most 1,000 (DATA_UPLOAD_MAX_NUMBER_FIELDS)",
        "too_many_fields",
    )


def test_too_many_files_are_a_400(api, settings):
    files = [SimpleUploadedFile(f"f{i}.txt", b"x") for i in range(501)]

    response = api.post("/api/v1/works/", {"title": "x", "file": files})

    assert settings.DATA_UPLOAD_MAX_NUMBER_FILES == 500
    assert_api_error(
        response,
        400,
        "too many files: at most 500 (DATA_UPLOAD_MAX_NUMBER_FILES)",
        "too_many_files",
    )


def test_too_many_form_fields_on_a_page_keep_the_html_error_page(db):
    body = "&".join(f"field{i}=1" for i in range(1001))

    response = Client().post(
        "/login/", body, content_type="application/x-www-form-urlencoded"
    )

    assert_html(response, 400)


# --- paths that match nothing ---------------------------------------------------


@pytest.mark.parametrize(
    "url, shown",
    [
        ("/api/v1/works/%0A", "/api/v1/works/%0A"),
        ("/api/v1/works/1%0A/", "/api/v1/works/1%0A/"),
        ("/api/v1/%0A", "/api/v1/%0A"),
        ("/api/", "/api/"),
        ("/api", "/api"),
        ("/api/v3/works/", "/api/v3/works/"),
    ],
)
def test_a_path_no_url_matches_is_a_json_404(api, url, shown):
    response = api.get(url)

    assert_api_error(response, 404, f"no API endpoint at {shown}", "not_found")


def test_a_page_that_does_not_exist_keeps_the_html_404(client, db):
    assert_html(client.get("/no-such-page/"), 404)


# --- Django's own 403, CSRF failure and 500 -------------------------------------


@pytest.mark.urls(__name__)
def test_a_crash_under_api_is_a_json_500(api):
    response = api.get("/api/test/crash/")

    assert_api_error(response, 500, "internal server error", "server_error")


@pytest.mark.urls(__name__)
def test_a_crash_on_a_page_keeps_the_html_500(db):
    response = Client(raise_request_exception=False).get("/test/crash/")

    assert_html(response, 500)


@pytest.mark.urls(__name__)
def test_permission_denied_under_api_is_a_json_403(api):
    response = api.get("/api/test/forbidden/")

    assert_api_error(
        response,
        403,
        "you do not have permission to perform this action",
        "permission_denied",
    )


@pytest.mark.urls(__name__)
def test_permission_denied_on_a_page_keeps_the_html_403(client, db):
    assert_html(client.get("/test/forbidden/"), 403)


@pytest.mark.urls(__name__)
def test_a_csrf_failure_under_api_is_a_json_403(db):
    response = Client(enforce_csrf_checks=True).post("/api/test/form/")

    assert_api_error(
        response,
        403,
        "CSRF check failed: CSRF cookie not set.",
        "csrf_failed",
    )


@pytest.mark.urls(__name__)
def test_a_csrf_failure_on_a_page_keeps_the_html_403(db):
    response = Client(enforce_csrf_checks=True).post("/test/form/")

    assert_html(response, 403)
    assert b"CSRF" in response.content
