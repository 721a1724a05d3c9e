"""The OpenAPI schema (/api/schema/), its docs page, and answers for unknown URLs."""

from __future__ import annotations

from pathlib import Path

from django.core.management import call_command
from drf_spectacular.drainage import GENERATOR_STATS

EXPECTED_OPERATIONS = {
    ("/api/v1/me/", "get"),
    ("/api/v1/me/rights-holder/", "post"),
    ("/api/v1/me/rights-holder/", "patch"),
    ("/api/v1/tokens/", "get"),
    ("/api/v1/tokens/", "post"),
    ("/api/v1/tokens/{token_id}/", "delete"),
    ("/api/v1/works/", "get"),
    ("/api/v1/works/", "post"),
    ("/api/v1/works/{work_id}/", "get"),
    ("/api/v1/works/{work_id}/", "patch"),
    ("/api/v1/works/{work_id}/withdraw/", "post"),
    ("/api/v1/images/", "get"),
    ("/api/v1/images/{image_id}/", "get"),
    ("/api/v1/images/hashes/", "post"),
    ("/api/v1/portfolio/", "post"),
    ("/api/v1/claims/", "get"),
    ("/api/v1/claims/", "post"),
    ("/api/v1/claims/{claim_id}/", "get"),
    ("/api/v1/claims/{claim_id}/withdraw/", "post"),
    ("/api/v1/registry/revision/", "get"),
    ("/api/v1/disputes/", "get"),
    ("/api/v1/disputes/", "post"),
    ("/api/v1/disputes/{dispute_id}/", "get"),
    ("/api/v1/disputes/{dispute_id}/respond/", "post"),
    ("/api/v1/disputes/{dispute_id}/withdraw/", "post"),
    ("/api/v1/disputes/{dispute_id}/resolve/", "post"),
    ("/api/v1/disputes/{dispute_id}/confirm/", "post"),
    ("/api/v1/matches/{match_id}/report/", "post"),
}


def test_the_schema_generates_and_validates_without_warnings(tmp_path: Path):
    GENERATOR_STATS.reset()
    out = tmp_path / "schema.yml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))

    assert out.read_text().startswith("openapi: 3.")


def test_the_schema_documents_every_operation(anon_client, db):
    response = anon_client.get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    paths = response.json()["paths"]
    operations = {
        (path, method)
        for path, item in paths.items()
        if path.startswith("/api/v1/")
        for method in item
    }
    assert EXPECTED_OPERATIONS <= operations


def test_the_schema_documents_pages_errors_and_multipart_uploads(anon_client, db):
    schema = anon_client.get("/api/schema/", {"format": "json"}).json()
    paths = schema["paths"]

    works = paths["/api/v1/works/"]["get"]["responses"]
    assert works["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PaginatedWorkList"
    }
    assert works["403"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    upload = paths["/api/v1/portfolio/"]["post"]["requestBody"]["content"]
    assert list(upload) == ["multipart/form-data", "application/x-www-form-urlencoded"]
    files = schema["components"]["schemas"]["PortfolioUploadRequest"]["properties"]
    assert files["files"]["items"] == {"type": "string", "format": "binary"}
    assert schema["components"]["securitySchemes"]["apiToken"]["name"] == (
        "Authorization"
    )


def test_the_docs_page_renders(anon_client, db):
    response = anon_client.get("/api/docs/")

    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


def test_an_unknown_api_path_is_a_json_404(anon_client, db):
    response = anon_client.get("/api/v1/nothing/here/")

    assert response.status_code == 404
    assert response.json() == {
        "message": "no API endpoint at /api/v1/nothing/here/",
        "code": "not_found",
        "extra": {},
    }


def test_a_missing_trailing_slash_gets_a_hint_even_on_post(artist_client):
    response = artist_client.post("/api/v1/works", {"title": "x"}, format="json")

    assert response.status_code == 404
    assert response.json()["message"] == (
        "no API endpoint at /api/v1/works; did you mean /api/v1/works/ (with a slash)?"
    )


def test_options_lists_every_method_of_a_shared_url(artist_client):
    response = artist_client.options("/api/v1/works/")

    assert response.status_code == 200
    assert response["Allow"] == "GET, POST, HEAD, OPTIONS"
