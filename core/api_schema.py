"""Schema post-processing for what no single view declares."""

from __future__ import annotations

from typing import Any

PAGE_NOT_FOUND = {
    "description": "No such page: past the last one, or not a page number.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def document_page_not_found(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Every paginated list answers 404 for a page it does not have.

    DRF's PageNumberPagination raises NotFound ("Invalid page.") for ?page=0,
    a negative or non-numeric page and one past the end; drf-spectacular
    documents the paginated body but not that error. A POSTPROCESSING_HOOK.
    """
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict):
                continue
            parameters = operation.get("parameters", [])
            if any(p.get("in") == "query" and p["name"] == "page" for p in parameters):
                operation["responses"].setdefault("404", PAGE_NOT_FOUND)
    return result
