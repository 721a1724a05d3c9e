"""An admin opens the review queue, decides a dispute, and sees it resolved."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import User
from disputes.models import Dispute
from registry.models import Claim
from tests.conftest import PASSWORD, make_artist
from tests.disputes.helpers import open_dispute
from tests.factories import approved_prefix

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_resolves_a_dispute_from_the_review_page(live_server, page):
    alice = make_artist("alice")
    bob = make_artist("bob")
    claim = approved_prefix(alice.rights_holder, "https://alice.example/")
    dispute = open_dispute(bob, f"claim:{claim.pk}", grounds="too_broad")
    User.objects.create_superuser("root", "root@example.com", PASSWORD)

    page.goto(live_server.url + reverse("login"))
    page.get_by_label("Username:").fill("root")
    page.get_by_label("Password:").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(live_server.url + reverse("dashboard"))

    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Review"
    ).click()
    page.wait_for_url(live_server.url + reverse("review"))
    assert page.locator('dd[data-count="disputes"]').inner_text() == "1"
    page.get_by_role("link", name=f"#{dispute.pk}").click()
    page.wait_for_url(live_server.url + reverse("review_dispute", args=[dispute.pk]))
    assert page.locator(".dispute-state").get_attribute("data-state") == (
        "awaiting_response"
    )

    page.get_by_label("revoked").check()
    page.get_by_label("Reason").fill("The prefix covers other artists' pages.")
    page.get_by_role("button", name="Record decision").click()
    page.get_by_text(f"Dispute #{dispute.pk} is resolved: revoked.").wait_for()
    assert page.locator(".dispute-state").get_attribute("data-state") == "resolved"
    assert page.get_by_role("heading", name="Decision: revoked").is_visible()
    assert page.get_by_role("button", name="Record decision").count() == 0

    assert Dispute.objects.get().state == Dispute.State.RESOLVED
    assert Claim.objects.get(pk=claim.pk).state == Claim.State.REVOKED
