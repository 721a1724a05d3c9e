"""Swagger UI and ReDoc render the API with every request off this host refused."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OPERATION = "The signed-in account"


def offline(page) -> list[str]:
    """Aborts every request that leaves the live server; returns their URLs."""
    refused: list[str] = []

    def handle(route) -> None:
        url = route.request.url
        if urlsplit(url).hostname in ("localhost", "127.0.0.1"):
            route.continue_()
        else:
            refused.append(url)
            route.abort()

    page.route("**/*", handle)
    return refused


def test_swagger_ui_renders_the_operations_offline(live_server, page):
    refused = offline(page)

    page.goto(live_server.url + "/api/docs/")

    page.get_by_text(OPERATION, exact=True).first.wait_for()
    assert page.locator(".opblock-summary-path", has_text="/api/v1/me/").count() >= 1
    title = page.locator(".swagger-ui .info .title").inner_text()
    assert title.startswith("Opt-out registry API")
    assert refused == []


def test_redoc_renders_the_operations_offline(live_server, page):
    refused = offline(page)

    page.goto(live_server.url + "/api/redoc/")

    # ReDoc puts a link labelled with the operation's anchor in each heading.
    heading = page.locator("h2").filter(has_text=re.compile(f"^{OPERATION}\\s*$"))
    heading.wait_for()
    assert page.get_by_role("heading", name="Opt-out registry API").is_visible()
    assert refused == []
