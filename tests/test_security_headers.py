"""Security headers and what the registry's pages and messages give away.

Every HTML page carries a Content-Security-Policy that runs no inline script,
every response a Permissions-Policy; a new API key is never cached; HSTS
preload is the operator's choice; a domain check does not name the private
address a domain resolves to.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, reverse

import accounts.urls
import audit.urls
import disputes.urls
import optout.urls
import registry.urls
from accounts.models import User
from registry.services import claim_create, claim_domain_check, domain_proof
from tests.disputes.helpers import open_dispute
from tests.factories import approved_prefix
from tests.optout.helpers import start_job
from tests.pages import upload, work_of
from tests.test_deploy_settings import manage, production_environ

POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'self'; "
    "frame-ancestors 'none'; form-action 'self'"
)


def directives(policy: str) -> dict[str, list[str]]:
    return {
        words[0]: words[1:]
        for words in (part.split() for part in policy.split(";"))
        if words
    }


class InlineCode(HTMLParser):
    """Finds what a policy without 'unsafe-inline' would block in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        # Data blocks (json_script) are not run, so the policy allows them.
        if tag == "script" and not values.get("src"):
            if values.get("type") != "application/json":
                self.found.append("<script> without src")
        if tag == "style":
            self.found.append("<style>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"{name}= on <{tag}>")
            if name == "style":
                self.found.append(f"style= on <{tag}>")
            if (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"{name}={value} on <{tag}>")


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    return parser.found


@pytest.mark.parametrize(
    ("html", "found"),
    [
        ('<script src="/static/a.js"></script>', []),
        ('<script id="d" type="application/json">{}</script>', []),
        ("<script>alert(1)</script>", ["<script> without src"]),
        ('<input onfocus="this.select()">', ["onfocus= on <input>"]),
        ('<a href=" JavaScript:alert(1)">x</a>', ["href= JavaScript:alert(1) on <a>"]),
        ('<progress style="width: 100%">', ["style= on <progress>"]),
        ("<style>body { margin: 0 }</style>", ["<style>"]),
    ],
)
def test_the_checker_finds_inline_code(html, found):
    assert inline_code(html) == found


# --- Content-Security-Policy -------------------------------------------------------


def test_the_default_policy_allows_this_site_only_and_no_inline_script():
    assert settings.CONTENT_SECURITY_POLICY == POLICY
    policy = directives(POLICY)
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]


@pytest.fixture
def cast(
    artist: User, other_artist: User, curator: User, admin_user: User
) -> dict[str, object]:
    """Something on every page: a pending image (the works page polls), claims of
    each kind, a dispute, a running job (its page polls)."""
    holder = artist.rights_holder
    (image,) = upload(holder, 1)
    claim_create(owner=holder, kind="domain", value="alice.example")
    claim_create(owner=holder, kind="url", value="https://alice.example/a.png")
    prefix = approved_prefix(holder, "https://alice.example/art/")
    dispute = open_dispute(other_artist, f"claim:{prefix.pk}")
    job = start_job(curator)
    job.state = "running"
    job.save(update_fields=["state"])
    return {"image": image, "work": work_of(image), "dispute": dispute, "job": job}


def logged_in(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.mark.parametrize(
    ("who", "url"),
    [
        ("anonymous", "/"),
        ("anonymous", "/login/"),
        ("artist", "/works/"),
        ("curator", "job"),
    ],
)
def test_pages_send_the_policy(cast, artist, curator, who, url):
    user = {"anonymous": None, "artist": artist, "curator": curator}[who]
    if url == "job":
        url = reverse("job_detail", args=[cast["job"].pk])

    response = logged_in(user).get(url)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert response["Content-Security-Policy"] == POLICY
    assert "'unsafe-inline'" not in directives(response["Content-Security-Policy"]).get(
        "script-src", ["'unsafe-inline'"]
    )


def page_urls() -> list[str]:
    """Every page of the apps that takes no argument in its URL."""
    urls = []
    for module in (
        accounts.urls,
        registry.urls,
        disputes.urls,
        audit.urls,
        optout.urls,
    ):
        for pattern in module.urlpatterns:
            if isinstance(pattern, URLPattern) and not pattern.pattern.converters:
                urls.append(reverse(pattern.name))
    return urls


def test_no_page_runs_inline_code_for_anyone_in_the_cast(
    cast, artist, other_artist, curator, admin_user
):
    image, work, dispute, job = (cast[k] for k in ("image", "work", "dispute", "job"))
    visits: list[tuple[User | None, str]] = [
        (user, url)
        for user in (None, artist, curator, admin_user)
        for url in page_urls()
    ] + [
        (None, "/no-such-page/"),
        (artist, reverse("work_detail", args=[work.pk])),
        (artist, reverse("dispute_detail", args=[dispute.pk])),
        (other_artist, reverse("dispute_new") + f"?target=image:{image.pk}"),
        (curator, reverse("job_detail", args=[job.pk])),
        (admin_user, reverse("review_dispute", args=[dispute.pk])),
        (admin_user, "/admin/"),
        (admin_user, "/admin/registry/image/"),
        (admin_user, f"/admin/registry/image/{image.pk}/change/"),
        (admin_user, f"/admin/registry/work/{work.pk}/change/"),
    ]
    checked = set()
    for user, url in visits:
        response = logged_in(user).get(url)
        if not response["Content-Type"].startswith("text/html"):
            continue
        name = user.username if user else "anonymous"
        assert response.get("Content-Security-Policy") == POLICY, (name, url)
        if response.status_code == 200 or url == "/no-such-page/":
            html = response.content.decode()
            assert inline_code(html) == [], (name, url)
            checked.add((name, url))

    # The pages the brief names were all rendered, not skipped.
    for page in [
        ("anonymous", "/"),
        ("anonymous", "/login/"),
        ("anonymous", "/no-such-page/"),
        ("alice", "/works/"),
        ("alice", "/claims/"),
        ("alice", "/account/"),
        ("carol", f"/datasets/jobs/{job.pk}/"),
        ("root", "/review/"),
        ("root", "/admin/registry/image/"),
    ]:
        assert page in checked, page
    assert len(checked) > 40


def test_the_new_key_page_runs_no_inline_code(client, artist):
    client.force_login(artist)

    response = client.post(
        reverse("token_create"), {"name": "cli", "scopes": ["check"]}
    )

    assert response.status_code == 200
    assert response.context["new_key"] in response.content.decode()
    assert response["Content-Security-Policy"] == POLICY
    assert inline_code(response.content.decode()) == []


def test_an_absolute_media_url_is_allowed_for_images():
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.CONTENT_SECURITY_POLICY)",
        ],
        cwd=settings.BASE_DIR,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "MEDIA_URL": "https://media.example.org/registry/",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    policy = directives(result.stdout.strip())
    assert policy["img-src"] == ["'self'", "data:", "https://media.example.org"]
    assert policy["script-src"] == ["'self'"]


@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_the_api_docs_add_inline_styles_and_workers_but_no_inline_script(
    client, db, url
):
    response = client.get(url)

    assert response.status_code == 200
    policy = directives(response["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]
    assert policy["worker-src"] == ["'self'", "blob:"]
    assert policy["frame-ancestors"] == ["'none'"]
    scripts = [f for f in inline_code(response.content.decode()) if "script" in f]
    assert scripts == []


def test_an_empty_setting_sends_no_policy(client, db, settings):
    settings.CONTENT_SECURITY_POLICY = ""

    assert "Content-Security-Policy" not in client.get("/")
    assert "Content-Security-Policy" not in client.get("/api/redoc/")


def test_with_debug_on_djangos_error_pages_are_left_readable(client, db, settings):
    settings.DEBUG = True

    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert "Page not found" in response.content.decode()
    assert "Content-Security-Policy" not in response
    assert client.get("/")["Content-Security-Policy"] == POLICY


def test_json_answers_carry_no_page_policy(artist_client):
    response = artist_client.get("/api/v1/me/")

    assert response.status_code == 200
    assert "Content-Security-Policy" not in response


# --- Permissions-Policy ----------------------------------------------------------


@pytest.fixture
def static_client(settings) -> Client:
    # As in tests/test_api_docs.py: WhiteNoise serves the static folders.
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    return Client()


def test_every_kind_of_response_turns_off_browser_features(
    static_client, artist_client
):
    answers = {
        "page": static_client.get("/"),
        "not found": static_client.get("/no-such-page/"),
        "api": artist_client.get("/api/v1/me/"),
        "static file": static_client.get("/static/registry/works.js"),
    }
    for kind, response in answers.items():
        assert response.status_code in (200, 404), kind
        policy = response["Permissions-Policy"]
        for feature in ("camera", "microphone", "geolocation", "interest-cohort"):
            assert f"{feature}=()" in policy.split(", "), (kind, feature)


# --- domain proof --------------------------------------------------------------


def test_a_domain_resolving_to_a_private_address_does_not_name_it(
    client, artist, holder, monkeypatch
):
    claim = claim_create(owner=holder, kind="domain", value="alice.example")
    original = domain_proof.proof_config
    monkeypatch.setattr(
        domain_proof,
        "proof_config",
        lambda: replace(original(), resolver=lambda host, port: ["10.1.2.3"]),
    )

    claim = claim_domain_check(claim_id=claim.pk)

    assert claim.proof_error == "refused: alice.example resolves to a private address"
    client.force_login(artist)
    page = client.get(reverse("claims")).content.decode()
    assert "refused: alice.example resolves to a private address" in page
    assert "10.1.2.3" not in page


# --- a new API key is never cached ---------------------------------------------------


def test_the_page_showing_a_new_key_is_not_stored(client, artist):
    client.force_login(artist)

    response = client.post(
        reverse("token_create"), {"name": "cli", "scopes": ["check"]}
    )

    assert response.status_code == 200
    assert "Copy it now: this is the only time it is shown." in (
        response.content.decode()
    )
    assert response["Cache-Control"] == "no-store"


def test_the_api_answer_with_a_new_key_is_not_stored(artist_client):
    response = artist_client.post("/api/v1/tokens/", {"name": "ci"}, format="json")

    assert response.status_code == 201
    assert response.json()["key"].startswith("dnt_")
    assert response["Cache-Control"] == "no-store"


# --- HSTS preload is the operator's choice ----------------------------------------

# Asks a production-configured process for an answer over HTTPS (an API one:
# pages need collectstatic's manifest) and prints the Strict-Transport-Security
# header the browser gets.
HSTS_SCRIPT = """
from django.test import Client
response = Client().get("/api/v1/me/", secure=True, HTTP_HOST="registry.example.org")
print("HSTS:", response["Strict-Transport-Security"])
"""


def hsts_header(env: dict[str, str]) -> str:
    result = manage("shell", "-c", HSTS_SCRIPT, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    (line,) = [s for s in result.stdout.splitlines() if s.startswith("HSTS: ")]
    return line.removeprefix("HSTS: ")


def test_production_sends_hsts_without_preload_by_default(tmp_path):
    assert hsts_header(production_environ(tmp_path)) == (
        "max-age=31536000; includeSubDomains"
    )


def test_the_operator_opts_in_to_hsts_preload(tmp_path):
    env = production_environ(tmp_path) | {"SECURE_HSTS_PRELOAD": "true"}
    assert hsts_header(env) == "max-age=31536000; includeSubDomains; preload"
