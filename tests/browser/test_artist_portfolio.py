"""An artist signs up, uploads a portfolio and watches it being fingerprinted."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.images import image_bytes
from workers.engine.fingerprint import fingerprint_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = "/tmp/works-page.png"


def test_an_artist_uploads_a_portfolio_and_sees_it_fingerprinted(
    request, live_server, celery_worker_app, page, tmp_path
):
    files = {f"art-{seed}.png": image_bytes(seed) for seed in range(3)}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)

    # Sign up through the form.
    page.goto(live_server.url + reverse("signup"))
    page.get_by_label("Username:").fill("frida")
    page.get_by_label("Email:").fill("frida@example.com")
    page.get_by_label("Password:", exact=True).fill("a garden of blue houses")
    page.get_by_label("Password again:").fill("a garden of blue houses")
    page.get_by_label("Display name:").fill("Frida K.")
    page.get_by_label("I am an artist / rights holder").check()
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(live_server.url + reverse("dashboard"))
    assert page.get_by_text("Welcome, frida: your account is ready.").is_visible()

    # Upload three drawings.
    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Upload"
    ).click()
    page.get_by_label("Images or ZIP archives").set_input_files(
        [tmp_path / name for name in files]
    )
    page.get_by_role("button", name="Upload", exact=True).click()
    page.get_by_role("heading", name="Added (3)").wait_for()
    for name in files:
        assert page.locator(".added").get_by_text(name).is_visible()

    # The works list shows them pending: no worker runs yet.
    page.get_by_role("link", name="See them in your works").click()
    page.wait_for_url(live_server.url + reverse("works"))
    assert page.locator(".works-list").get_attribute("data-pending") == "3"
    assert page.locator('li.image[data-status="pending"]').count() == 3
    # Marks this document: a reload or a navigation would lose it.
    page.evaluate("window.sameDocument = true")

    # Start the worker; the page polls and swaps the list in by itself.
    request.getfixturevalue("celery_worker")
    page.wait_for_function(
        """() => {
            const imgs = [...document.querySelectorAll("li.image .thumb img")];
            return imgs.length === 3
                && imgs.every((img) => img.complete && img.naturalWidth > 0)
                && document.querySelectorAll('li.image[data-status="hashed"]')
                    .length === 3;
        }""",
        timeout=60_000,
    )
    assert page.evaluate("window.sameDocument") is True
    assert page.locator(".works-list").get_attribute("data-pending") == "0"

    for name, data in files.items():
        expected = fingerprint_bytes(data).fingerprints
        card = page.locator(f'li.image[data-name="{name}"]')
        assert card.get_by_alt_text(f"Thumbnail of {name}").is_visible()
        phash = card.locator('code[data-algorithm="phash"]').inner_text()
        pdq = card.locator('code[data-algorithm="pdq"]').inner_text()
        assert phash == expected.phash.hex()
        assert pdq == expected.pdq.hex()

    page.screenshot(path=SCREENSHOT, full_page=True)
