"""The admins' review queue and dispute review page (staff only)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from core.uploads import bytes_file
from disputes.models import Dispute
from disputes.services import dispute_resolve
from registry.models import Claim
from registry.services import claim_create
from tests.disputes.helpers import (
    fingerprint_evidence,
    make_admin,
    open_dispute,
    prefix_claim,
)
from tests.images import image_bytes
from tests.pages import fingerprint, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def claim(holder):
    return prefix_claim(holder)


@pytest.fixture
def dispute(claim, other_artist):
    return open_dispute(other_artist, f"claim:{claim.pk}")


def review_urls(dispute):
    return [
        ("get", reverse("review")),
        ("get", reverse("review") + "?tab=reports"),
        ("get", reverse("review_dispute", args=[dispute.pk])),
        ("post", reverse("review_dispute", args=[dispute.pk])),
        ("post", reverse("review_dispute_confirm", args=[dispute.pk])),
        ("get", reverse("review_report", args=[1])),
    ]


@pytest.mark.parametrize("who", ["anonymous", "artist", "other_artist", "curator"])
def test_only_staff_reach_the_review_pages(request, client, dispute, who):
    if who != "anonymous":
        client.force_login(request.getfixturevalue(who))
    for method, url in review_urls(dispute):
        data = {"outcome": "revoked", "reason": "x", "approve": "yes"}
        response = getattr(client, method)(url, data if method == "post" else None)
        assert response.status_code == 404, (who, url)
    assert Dispute.objects.get().state == Dispute.State.AWAITING_RESPONSE


def test_the_queue_counts_what_waits(client, holder, dispute, admin_user):
    claim_create(owner=holder, kind="style", value="Alice Moreau")
    claim_create(owner=holder, kind="domain", value="alice.example")
    client.force_login(admin_user)
    text = client.get(reverse("review")).content.decode()
    assert '<dd data-count="disputes">1</dd>' in text
    assert '<dd data-count="reports">0</dd>' in text
    assert '<dd data-count="styles">1</dd>' in text
    assert '<dd data-count="domains">1</dd>' in text
    assert 'href="/review/styles/"' in text
    assert 'href="/review/domains/"' in text
    assert f'href="/review/disputes/{dispute.pk}/"' in text
    assert "awaiting response (1)" in text


def test_the_queue_filters_disputes_by_state(client, dispute, admin_user):
    client.force_login(admin_user)
    url = reverse("review")
    text = client.get(url + "?tab=disputes&state=resolved").content.decode()
    assert f'data-dispute="{dispute.pk}"' not in text
    assert "Nothing to review." in text
    text = client.get(url + "?tab=disputes&state=awaiting_response").content.decode()
    assert f'data-dispute="{dispute.pk}"' in text
    # A state that does not exist shows every unresolved dispute.
    text = client.get(url + "?tab=disputes&state=bogus").content.decode()
    assert f'data-dispute="{dispute.pk}"' in text


def test_the_review_page_shows_the_registered_image_beside_the_evidence(
    client, holder, other_artist, admin_user
):
    (image,) = upload(holder, 5)
    fingerprint(image)
    dispute = open_dispute(
        other_artist,
        f"image:{image.pk}",
        files=[bytes_file("found-online.png", image_bytes(5))],
    )
    client.force_login(admin_user)
    text = client.get(reverse("review_dispute", args=[dispute.pk])).content.decode()
    assert "found-online.png" in text
    assert 'data-evidence-status="processing">being processed' in text

    fingerprint_evidence(dispute)

    text = client.get(reverse("review_dispute", args=[dispute.pk])).content.decode()
    assert "being processed" not in text
    assert f'alt="Registered image {image.pk}"' in text
    assert 'alt="Evidence found-online.png"' in text
    assert '<td data-distance="phash">0</td>' in text
    assert '<td data-distance="pdq">0</td>' in text
    assert "Record decision" in text


def test_a_decision_needs_a_reason(client, dispute, admin_user):
    client.force_login(admin_user)
    url = reverse("review_dispute", args=[dispute.pk])
    response = client.post(url, {"outcome": "revoked", "reason": ""})
    assert response.status_code == 400
    assert "Give a reason for the decision." in response.content.decode()
    assert Dispute.objects.get().state == Dispute.State.AWAITING_RESPONSE


def test_an_admin_resolves_a_dispute(client, claim, dispute, admin_user):
    client.force_login(admin_user)
    url = reverse("review_dispute", args=[dispute.pk])
    response = client.post(url, {"outcome": "revoked", "reason": "the scan is older"})
    assert response.status_code == 302
    text = client.get(url).content.decode()
    assert f"Dispute #{dispute.pk} is resolved: revoked." in text
    assert 'data-state="resolved"' in text
    assert "Record decision" not in text
    claim.refresh_from_db()
    assert claim.state == Claim.State.REVOKED


def test_a_bad_narrowing_shows_on_its_field(client, dispute, admin_user):
    client.force_login(admin_user)
    response = client.post(
        reverse("review_dispute", args=[dispute.pk]),
        {
            "outcome": "narrowed",
            "reason": "too broad",
            "narrowed_to": "https://other.example/",
        },
    )
    assert response.status_code == 400
    assert "is not inside the claim https://alice.example/" in (
        response.content.decode()
    )


def test_a_second_admin_confirms_through_the_page(
    client, holder, claim, dispute, admin_user
):
    holder.verified = True
    holder.save()
    second = make_admin("root2")
    client.force_login(admin_user)
    url = reverse("review_dispute", args=[dispute.pk])
    text = client.post(
        url, {"outcome": "revoked", "reason": "forged"}, follow=True
    ).content.decode()
    assert "a second admin must confirm it before" in text
    assert "Confirm decision" in text

    confirm = reverse("review_dispute_confirm", args=[dispute.pk])
    response = client.post(confirm, {"approve": "yes"})
    assert response.status_code == 400
    assert "a second, different admin must confirm" in response.content.decode()
    claim.refresh_from_db()
    assert claim.state == Claim.State.ACTIVE

    client.force_login(second)
    text = client.post(confirm, {"approve": "yes"}, follow=True).content.decode()
    assert f"Dispute #{dispute.pk} is resolved: revoked." in text
    assert "confirmed by root2" in text
    claim.refresh_from_db()
    assert claim.state == Claim.State.REVOKED


def test_declining_needs_a_reason(client, holder, dispute, admin_user):
    holder.verified = True
    holder.save()
    dispute_resolve(
        admin=admin_user, dispute_id=dispute.pk, outcome="revoked", reason="forged"
    )
    client.force_login(make_admin("root2"))
    confirm = reverse("review_dispute_confirm", args=[dispute.pk])
    response = client.post(confirm, {"approve": "no", "reason": ""})
    assert response.status_code == 400
    assert "reason: say why you decline the decision" in response.content.decode()
    text = client.post(
        confirm, {"approve": "no", "reason": "not proven"}, follow=True
    ).content.decode()
    assert "Decision declined" in text
    assert 'data-state="under_review"' in text


def test_an_unknown_dispute_is_a_404_for_staff_too(client, admin_user):
    client.force_login(admin_user)
    assert client.get(reverse("review_dispute", args=[999])).status_code == 404
    assert client.get(reverse("review_report", args=[999])).status_code == 404
