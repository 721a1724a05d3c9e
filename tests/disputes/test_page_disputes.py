"""Dispute pages: open one, list mine, follow it, answer it, withdraw it."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from disputes.models import Dispute
from disputes.services import dispute_resolve
from tests.disputes.helpers import (
    fingerprint_evidence,
    open_dispute,
    prefix_claim,
    shown_by_lookup,
)
from tests.images import image_bytes
from tests.pages import assert_login_redirect, fingerprint, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def claim(holder):
    return prefix_claim(holder)


def new_url(target: str) -> str:
    return reverse("dispute_new") + f"?target={target}"


# --- opening ----------


def test_it_sends_anonymous_visitors_to_log_in(client, claim):
    url = new_url(f"claim:{claim.pk}")
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_form_shows_what_is_disputed(client, claim, curator):
    client.force_login(curator)
    text = client.get(new_url(f"claim:{claim.pk}")).content.decode()
    assert "URL prefix claim" in text
    assert "https://alice.example/" in text
    assert "registered by Alice" in text
    # Impersonation is for style claims only.
    assert 'value="impersonation"' not in text


def test_an_unknown_target_is_a_404(client, curator):
    client.force_login(curator)
    assert client.get(new_url("claim:999999")).status_code == 404
    assert client.get(new_url("bogus")).status_code == 404


def test_a_curator_opens_a_dispute_with_evidence(client, holder, curator, artist):
    (image,) = upload(holder, 3)
    fingerprint(image)
    shown_by_lookup(curator, f"work:{image.work_id}")
    client.force_login(curator)
    response = client.post(
        new_url(f"work:{image.work_id}"),
        {
            "target": f"work:{image.work_id}",
            "grounds": "public_domain",
            "statement": "Published in 1890; the painter died in 1921.",
            "evidence_urls": "https://archive.example/1890\n\n",
            "files": [SimpleUploadedFile("scan.png", image_bytes(3))],
        },
    )
    dispute = Dispute.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("dispute_detail", args=[dispute.pk])
    text = client.get(response["Location"]).content.decode()
    assert f"Dispute #{dispute.pk} is open: the claimant has until" in text
    assert "Published in 1890; the painter died in 1921." in text
    assert "https://archive.example/1890" in text
    assert "scan.png" in text
    assert 'data-state="awaiting_response"' in text
    assert "Withdraw this dispute" in text
    assert "being processed" in text
    fingerprint_evidence(dispute)
    assert dispute.evidence.get().is_image
    text = client.get(response["Location"]).content.decode()
    assert 'alt="Evidence scan.png"' in text
    assert "being processed" not in text


def test_the_form_shows_the_services_words(client, claim, artist):
    client.force_login(artist)
    response = client.post(
        new_url(f"claim:{claim.pk}"),
        {
            "target": f"claim:{claim.pk}",
            "grounds": "other",
            "statement": "mine? I think I painted this one in 2019.",
        },
    )
    assert response.status_code == 400
    assert "you cannot dispute your own registration" in response.content.decode()


def test_an_empty_statement_is_a_form_error(client, claim, curator):
    client.force_login(curator)
    response = client.post(
        new_url(f"claim:{claim.pk}"),
        {"target": f"claim:{claim.pk}", "grounds": "other", "statement": ""},
    )
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not Dispute.objects.exists()


def test_a_second_dispute_on_the_same_thing_says_so(client, claim, curator):
    first = open_dispute(curator, f"claim:{claim.pk}")
    client.force_login(curator)
    response = client.post(
        new_url(f"claim:{claim.pk}"),
        {"target": f"claim:{claim.pk}", "grounds": "licensed", "statement": "x" * 40},
    )
    assert response.status_code == 400
    assert f"you already have a dispute about this (#{first.pk}" in (
        response.content.decode()
    )


# --- list and detail ----------


def test_the_list_shows_disputes_opened_and_received(
    client, claim, artist, other_artist
):
    dispute = open_dispute(other_artist, f"claim:{claim.pk}")
    for user, heading in ((artist, "About your registrations"), (other_artist, "")):
        client.force_login(user)
        text = client.get(reverse("disputes")).content.decode()
        assert f'data-dispute="{dispute.pk}"' in text
        assert heading in text


def test_the_list_needs_a_login(client):
    assert_login_redirect(client.get(reverse("disputes")), reverse("disputes"))


def test_a_stranger_cannot_see_a_dispute(client, claim, other_artist, curator):
    dispute = open_dispute(other_artist, f"claim:{claim.pk}")
    url = reverse("dispute_detail", args=[dispute.pk])
    client.force_login(curator)
    assert client.get(url).status_code == 404
    client.logout()
    assert_login_redirect(client.get(url), url)


def test_the_claimant_sees_the_response_form_and_a_timeline(
    client, claim, artist, other_artist
):
    dispute = open_dispute(other_artist, f"claim:{claim.pk}")
    client.force_login(artist)
    text = client.get(reverse("dispute_detail", args=[dispute.pk])).content.decode()
    assert "Send response" in text
    assert "Withdraw this dispute" not in text
    assert 'data-action="dispute.opened"' in text
    assert 'data-action="dispute.awaiting_response"' in text


def test_the_disputer_does_not_see_the_response_form(client, claim, other_artist):
    dispute = open_dispute(other_artist, f"claim:{claim.pk}")
    client.force_login(other_artist)
    text = client.get(reverse("dispute_detail", args=[dispute.pk])).content.decode()
    assert "Send response" not in text


# --- responding and withdrawing ----------


def test_the_claimant_responds(client, claim, artist, other_artist):
    dispute = open_dispute(other_artist, f"claim:{claim.pk}")
    client.force_login(artist)
    url = reverse("dispute_respond", args=[dispute.pk])
    response = client.post(url, {"response": "I took it in 2015."}, follow=True)
    text = response.content.decode()
    assert "Your response was sent; an admin will decide." in text
    assert "I took it in 2015." in text
    assert 'data-state="under_review"' in text


def test_an_empty_response_is_a_form_error(client, claim, artist, other_artist):
    dispute = open_dispute(other_artist, f"claim:{claim.pk}")
    client.force_login(artist)
    response = client.post(
        reverse("dispute_respond", args=[dispute.pk]), {"response": ""}
    )
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()


def test_the_disputer_cannot_respond(client, claim, other_artist):
    dispute = open_dispute(other_artist, f"claim:{claim.pk}")
    client.force_login(other_artist)
    response = client.post(
        reverse("dispute_respond", args=[dispute.pk]), {"response": "x"}, follow=True
    )
    assert "only the claimant can respond to a dispute" in response.content.decode()
    assert Dispute.objects.get().state == Dispute.State.AWAITING_RESPONSE


def test_a_stranger_cannot_respond_or_withdraw(client, claim, other_artist, curator):
    dispute = open_dispute(other_artist, f"claim:{claim.pk}")
    client.force_login(curator)
    for name in ("dispute_respond", "dispute_withdraw"):
        url = reverse(name, args=[dispute.pk])
        assert client.post(url, {"response": "x"}).status_code == 404


def test_the_disputer_withdraws(client, claim, other_artist):
    dispute = open_dispute(other_artist, f"claim:{claim.pk}")
    client.force_login(other_artist)
    url = reverse("dispute_withdraw", args=[dispute.pk])
    text = client.post(url, follow=True).content.decode()
    assert f"Dispute #{dispute.pk} was withdrawn." in text
    assert 'data-state="withdrawn"' in text
    text = client.post(url, follow=True).content.decode()
    assert "the dispute is already withdrawn; it cannot be withdrawn" in text


def test_the_claimant_cannot_withdraw(client, claim, artist, other_artist):
    dispute = open_dispute(other_artist, f"claim:{claim.pk}")
    client.force_login(artist)
    url = reverse("dispute_withdraw", args=[dispute.pk])
    text = client.post(url, follow=True).content.decode()
    assert "only the person who opened a dispute can withdraw it" in text


def test_a_resolved_dispute_shows_the_decision(client, claim, other_artist, admin_user):
    dispute = open_dispute(other_artist, f"claim:{claim.pk}")
    dispute_resolve(
        admin=admin_user, dispute_id=dispute.pk, outcome="revoked", reason="forged"
    )
    client.force_login(other_artist)
    text = client.get(reverse("dispute_detail", args=[dispute.pk])).content.decode()
    assert "Decision: revoked" in text
    assert "forged" in text
    assert "Withdraw this dispute" not in text
