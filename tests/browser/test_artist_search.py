"""An artist searches the indexed datasets for their name, selects the rows
found and opts them out (issue 16)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse
from PIL import Image

from registry.models import Claim
from tests.conftest import PASSWORD, make_artist
from tests.optout.test_dataset_search import ROWS, add_dataset, index_now, laion_parts

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = Path("/tmp/search-page.png")


def test_an_artist_finds_their_rows_and_opts_them_out(
    live_server, page, admin_user, settings
):
    settings.MATCH_CHUNK_ROWS = 3
    index_now(add_dataset(admin_user, laion_parts(ROWS), name="LAION sample"))
    alice = make_artist("alice")

    page.goto(live_server.url + reverse("login"))
    page.get_by_label("Username:").fill("alice")
    page.get_by_label("Password:").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(live_server.url + reverse("dashboard"))

    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Search"
    ).click()
    page.wait_for_url(live_server.url + reverse("search"))
    page.get_by_label("Search for").fill("Bob ARTIST")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("heading", name="3 rows found").wait_for()
    urls = page.locator("table .url").all_inner_texts()
    assert urls == [ROWS[0][0], ROWS[1][0], ROWS[6][0]]  # not "Bob Artiste"

    page.get_by_label("Select every row on this page").check()
    assert page.locator('input[name="pick"]:checked').count() == 3
    page.get_by_role("button", name="Opt these out").click()
    page.get_by_text("2 rows opted out; 2 new claims.").wait_for()
    assert page.get_by_text("1 row had no http(s) URL to claim (row 6)").is_visible()
    # The two rows are now shown as opted out, the third can still be picked.
    assert page.locator("table tbody tr", has_text="opted out").count() == 2
    assert page.locator('input[name="pick"]').count() == 1
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    shot = Image.open(SCREENSHOT)
    assert shot.width == 1280 and shot.height > 400
    # Not a blank page: the results table drew dark text on the light page.
    assert len(shot.convert("L").getcolors(maxcolors=256 * 256) or []) > 16

    claims = Claim.objects.filter(owner=alice.rights_holder, kind="url")
    assert sorted(c.normalized for c in claims) == sorted([ROWS[0][0], ROWS[1][0]])
    page.goto(live_server.url + reverse("dashboard"))
    section = page.locator("#searched")
    assert section.get_by_role("cell", name="LAION sample").is_visible()
    assert section.get_by_role("cell", name="2", exact=True).is_visible()
