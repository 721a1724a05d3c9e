"""The OpenAPI schema (/api/schema/), its docs page, and answers for unknown URLs."""

from __future__ import annotations

from pathlib import Path

import pytest
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


def api_operations(schema: dict) -> list[tuple[str, str, dict]]:
    return [
        (path, method, operation)
        for path, item in schema["paths"].items()
        if path.startswith("/api/")
        for method, operation in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]


@pytest.fixture
def schema(anon_client, db) -> dict:
    return anon_client.get("/api/schema/", {"format": "json"}).json()


def test_every_operation_has_a_summary_and_a_description(schema):
    missing = [
        f"{method.upper()} {path}"
        for path, method, operation in api_operations(schema)
        if not operation.get("summary") or not operation.get("description")
    ]
    assert missing == []


def test_every_request_body_and_json_answer_has_an_example(schema):
    missing = []
    for path, method, operation in api_operations(schema):
        body = operation.get("requestBody", {}).get("content", {})
        if body and not any(c.get("examples") for c in body.values()):
            missing.append(f"{method.upper()} {path}: request")
        for status_code, response in operation["responses"].items():
            content = response.get("content", {}).get("application/json")
            if status_code.startswith("2") and content and not content.get("examples"):
                missing.append(f"{method.upper()} {path}: {status_code}")
    assert missing == []


def test_every_operation_documents_its_errors_in_the_error_shape(schema):
    wrong = []
    for path, method, operation in api_operations(schema):
        errors = {c: r for c, r in operation["responses"].items() if c[0] in "45"}
        if not errors:
            wrong.append(f"{method.upper()} {path}: no error documented")
        if operation.get("security") != [{}] and "401" not in errors:
            wrong.append(f"{method.upper()} {path}: 401 not documented")
        for status_code, response in errors.items():
            body = response.get("content", {}).get("application/json", {})
            if path.startswith("/api/v1/") and body.get("schema") != {
                "$ref": "#/components/schemas/Error"
            }:
                wrong.append(f"{method.upper()} {path}: {status_code} not an Error")
    assert wrong == []


def test_list_operations_are_documented_as_the_pages_they_return(schema):
    bare_lists = [
        f"GET {path}"
        for path, method, operation in api_operations(schema)
        if method == "get"
        and operation["responses"]
        .get("200", {})
        .get("content", {})
        .get("application/json", {})
        .get("schema", {})
        .get("type")
        == "array"
    ]
    assert bare_lists == []


def _plain(node, components: dict, depth: int = 0):
    """An OpenAPI 3.0 schema as plain JSON Schema: refs inlined, nullable spelled."""
    if depth > 20:
        return {}
    if isinstance(node, list):
        return [_plain(n, components, depth + 1) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[1]
        return _plain(components[name], components, depth + 1)
    out = {
        key: _plain(value, components, depth + 1)
        for key, value in node.items()
        if key not in ("nullable", "readOnly", "writeOnly", "example", "examples")
    }
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


def test_every_example_fits_its_schema(schema):
    import jsonschema

    components = schema["components"]["schemas"]
    wrong = []
    for path, method, operation in api_operations(schema):
        places = [("request", operation.get("requestBody", {}).get("content", {}))]
        places += [
            (status_code, response.get("content", {}))
            for status_code, response in operation["responses"].items()
        ]
        for where, content in places:
            for media_type, body in content.items():
                if "json" not in media_type or "schema" not in body:
                    continue
                plain = _plain(body["schema"], components)
                for name, example in body.get("examples", {}).items():
                    try:
                        jsonschema.validate(example["value"], plain)
                    except jsonschema.ValidationError as exc:
                        wrong.append(
                            f"{method.upper()} {path} {where} {name!r}: {exc.message}"
                        )
    assert wrong == []


def test_the_example_check_refuses_an_example_that_does_not_fit():
    import jsonschema

    components = {
        "Work": {
            "type": "object",
            "properties": {"id": {"type": "integer"}, "note": {"nullable": True}},
            "required": ["id"],
        }
    }
    plain = _plain({"$ref": "#/components/schemas/Work"}, components)
    jsonschema.validate({"id": 1, "note": None}, plain)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"id": "one"}, plain)
