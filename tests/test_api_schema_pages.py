"""Paginated lists document the 404 they answer for a page they do not have."""

from __future__ import annotations

import pytest

from core.api_schema import document_page_not_found


@pytest.fixture
def schema(anon_client, db) -> dict:
    return anon_client.get("/api/schema/", {"format": "json"}).json()


def paginated_operations(schema: dict) -> list[tuple[str, str, dict]]:
    return [
        (path, method, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if any(
            p["in"] == "query" and p["name"] == "page"
            for p in operation.get("parameters", [])
        )
    ]


def test_every_paginated_list_documents_a_404_in_the_error_shape(schema):
    operations = paginated_operations(schema)

    assert ("/api/v1/works/", "get") in [(p, m) for p, m, _ in operations]
    for path, method, operation in operations:
        response = operation["responses"].get("404")
        assert response is not None, f"{method.upper()} {path}"
        assert response["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"
        }


def test_a_page_past_the_end_is_the_documented_404(artist_client):
    response = artist_client.get("/api/v1/works/", {"page": 2})

    assert response.status_code == 404
    assert response.json() == {
        "message": "Invalid page.",
        "code": "not_found",
        "extra": {},
    }


def test_a_list_that_documents_its_own_404_keeps_it():
    own = {"description": "Not found, or not yours."}
    schema = {
        "paths": {
            "/api/v1/jobs/{job_id}/matches/": {
                "get": {
                    "parameters": [{"in": "query", "name": "page"}],
                    "responses": {"200": {}, "404": own},
                }
            }
        }
    }

    result = document_page_not_found(schema)

    operation = result["paths"]["/api/v1/jobs/{job_id}/matches/"]["get"]
    assert operation["responses"]["404"] is own
