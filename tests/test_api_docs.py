"""The API docs pages (Swagger UI, ReDoc) load everything from the registry."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.test import Client

DOCS_PAGES = ["/api/docs/", "/api/redoc/"]
SIDECAR = "/static/drf_spectacular_sidecar/"


class AssetParser(HTMLParser):
    """Collects the URLs a page loads: scripts, stylesheets, icons, preconnects."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.links: list[tuple[str, str]] = []  # (rel, href)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script" and values.get("src"):
            self.scripts.append(values["src"] or "")
        if tag == "link" and values.get("href"):
            self.links.append((values.get("rel") or "", values["href"] or ""))


def assets(html: str) -> AssetParser:
    parser = AssetParser()
    parser.feed(html)
    return parser


@pytest.fixture
def static_client(settings) -> Client:
    # Tests run with DEBUG off, so WhiteNoise serves only what collectstatic
    # wrote; with finders it serves the apps' static folders, as in development.
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    return Client()


@pytest.mark.parametrize("url", DOCS_PAGES)
def test_the_docs_page_loads_nothing_from_other_hosts(client, db, url):
    response = client.get(url)

    assert response.status_code == 200
    html = response.content.decode()
    found = assets(html)
    assert found.scripts, "the page loads its viewer from a script"
    for src in found.scripts + [href for _, href in found.links]:
        # The viewers from the sidecar; Swagger UI's start-up script from its
        # own page (?script=), so that no script is inline.
        assert src.startswith(SIDECAR) or src.startswith(f"{url}?script="), src
    assert "http://" not in html
    assert "https://" not in html


@pytest.mark.parametrize("url", DOCS_PAGES)
def test_every_script_and_stylesheet_of_the_docs_page_is_served(static_client, db, url):
    found = assets(static_client.get(url).content.decode())
    stylesheets = [href for rel, href in found.links if rel == "stylesheet"]

    for src in found.scripts:
        response = static_client.get(src)
        assert response.status_code == 200, src
        assert response["Content-Type"].startswith(
            ("text/javascript", "application/javascript")
        ), src
    for href in stylesheets:
        response = static_client.get(href)
        assert response.status_code == 200, href
        assert response["Content-Type"].startswith("text/css"), href


def test_swagger_ui_loads_its_bundle_preset_stylesheet_and_icon(client, db):
    found = assets(client.get("/api/docs/").content.decode())

    assert [src.rsplit("/", 1)[1] for src in found.scripts] == [
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
        "?script=",
    ]
    assert sorted(found.links) == [
        ("icon", SIDECAR + "swagger-ui-dist/favicon-32x32.png"),
        ("stylesheet", SIDECAR + "swagger-ui-dist/swagger-ui.css"),
    ]


def test_redoc_loads_its_standalone_bundle_and_the_schema(client, db):
    response = client.get("/api/redoc/")

    found = assets(response.content.decode())
    assert found.scripts == [SIDECAR + "redoc/bundles/redoc.standalone.js"]
    assert found.links == []
    assert b'spec-url="/api/schema/"' in response.content


def test_swagger_ui_starts_from_a_script_of_its_own_without_a_validator(client, db):
    response = client.get("/api/docs/?script=")

    assert response.status_code == 200
    script = response.content.decode()
    assert "const ui = SwaggerUIBundle({" in script
    assert 'url: "/api/schema/"' in script
    # No validator badge, which would send the schema's URL to swagger.io.
    assert '"validatorUrl": null' in script
