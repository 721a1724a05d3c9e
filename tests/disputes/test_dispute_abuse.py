"""One account cannot switch off others' opt-outs: a confirmed email, a real
statement, limits on disputes open and opened a day, unanswered disputes of
young or busy accounts go to an admin, at most one lapse a day per disputer,
targets only where the account has a path to them, the disputer unnamed."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import User
from audit.models import Notification
from core.errors import LimitReached, NotAllowed, NotFound, ValidationFailed
from disputes.models import Dispute
from disputes.services import dispute_deadlines_run
from registry.models import Claim
from registry.services import claim_create
from tests.conftest import client_for
from tests.disputes.helpers import (
    Clock,
    open_dispute,
    prefix_claim,
    seasoned,
)
from tests.images import image_bytes
from tests.pages import fingerprint, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(monkeypatch) -> Clock:
    return Clock(monkeypatch)


def url_claims(holder, n: int) -> list[Claim]:
    return [
        claim_create(owner=holder, kind="url", value=f"https://alice.example/{i}.jpg")
        for i in range(n)
    ]


def test_a_fresh_account_cannot_walk_ids_with_one_word(holder, settings, db):
    """The reproduction: a new account disputing ids 1-40 with "x"."""
    claims = url_claims(holder, 3)
    mallory = User.objects.create_user("mallory", "m@example.com", "pw")
    with pytest.raises(NotAllowed, match="confirm your email address"):
        open_dispute(mallory, f"claim:{claims[0].pk}", statement="x")
    mallory.email_verified_at = mallory.date_joined
    mallory.save()
    with pytest.raises(ValidationFailed, match="at least 40 characters"):
        open_dispute(mallory, f"claim:{claims[0].pk}", statement="x")
    for kind in ("work", "image"):
        for pk in range(1, 41):
            with pytest.raises(NotFound):
                open_dispute(mallory, f"{kind}:{pk}")
    assert not Dispute.objects.exists()


def test_disputes_a_day_are_limited(holder, other_artist, settings):
    settings.DISPUTE_MAX_PER_DAY = 3
    settings.DISPUTE_MAX_OPEN_PER_ACCOUNT = 100
    claims = url_claims(holder, 4)
    for claim in claims[:3]:
        open_dispute(other_artist, f"claim:{claim.pk}")
    with pytest.raises(LimitReached, match="opened 3 disputes in the last 24 hours"):
        open_dispute(other_artist, f"claim:{claims[3].pk}")


def test_disputes_open_at_once_are_limited(holder, other_artist, settings, clock):
    settings.DISPUTE_MAX_PER_DAY = 100
    settings.DISPUTE_MAX_OPEN_PER_ACCOUNT = 2
    claims = url_claims(holder, 3)
    first = open_dispute(other_artist, f"claim:{claims[0].pk}")
    open_dispute(other_artist, f"claim:{claims[1].pk}")
    clock.advance(days=2)
    with pytest.raises(LimitReached, match="you have 2 disputes open"):
        open_dispute(other_artist, f"claim:{claims[2].pk}")
    from disputes.services import dispute_withdraw

    dispute_withdraw(user=other_artist, dispute_id=first.pk)
    open_dispute(other_artist, f"claim:{claims[2].pk}")


def test_the_api_answers_429_at_the_limit(holder, other_artist, settings):
    settings.DISPUTE_MAX_PER_DAY = 1
    claims = url_claims(holder, 2)
    client = client_for(other_artist)
    body = {
        "grounds": "not_owner",
        "statement": "These pictures are mine, published on my site in 2016.",
    }
    ok = client.post(
        "/api/v1/disputes/", {**body, "target": f"claim:{claims[0].pk}"}, format="json"
    )
    assert ok.status_code == 201
    refused = client.post(
        "/api/v1/disputes/", {**body, "target": f"claim:{claims[1].pk}"}, format="json"
    )
    assert refused.status_code == 429
    assert refused.json()["code"] == "limit_reached"


def test_a_young_accounts_unanswered_dispute_goes_to_an_admin(
    holder, other_artist, clock
):
    (claim,) = url_claims(holder, 1)
    dispute = open_dispute(other_artist, f"claim:{claim.pk}")  # joined just now
    clock.advance(days=15)
    assert dispute_deadlines_run() == {"to_review": 1}
    dispute.refresh_from_db()
    claim.refresh_from_db()
    assert dispute.state == Dispute.State.UNDER_REVIEW
    assert claim.state == Claim.State.ACTIVE
    event = dispute_events(dispute)[-1]
    assert "younger than 30 days" in event.reason


def test_a_busy_accounts_unanswered_dispute_goes_to_an_admin(
    holder, other_artist, clock, settings
):
    settings.DISPUTE_TRUSTED_MAX_OPEN = 1
    seasoned(other_artist)
    claims = url_claims(holder, 2)
    for claim in claims:
        open_dispute(other_artist, f"claim:{claim.pk}")
    clock.advance(days=15)
    assert dispute_deadlines_run() == {"to_review": 2}
    assert not Claim.objects.filter(state=Claim.State.REVOKED).exists()


def test_a_lapse_revokes_one_target_per_disputer_a_day(
    holder, other_artist, clock, settings
):
    settings.DISPUTE_TRUSTED_MAX_OPEN = 10
    seasoned(other_artist)
    claims = url_claims(holder, 3)
    for claim in claims:
        open_dispute(other_artist, f"claim:{claim.pk}")
    clock.advance(days=15)
    assert dispute_deadlines_run() == {"released": 1, "to_review": 2}
    states = sorted(
        c.state for c in Claim.objects.filter(pk__in=[c.pk for c in claims])
    )
    assert states == ["active", "active", "revoked"]
    waiting = Dispute.objects.filter(state=Dispute.State.UNDER_REVIEW)
    assert "already released 1 target(s)" in dispute_events(waiting.first())[-1].reason


def dispute_events(dispute):
    from disputes.selectors import dispute_timeline

    return list(dispute_timeline(dispute=dispute).order_by("id"))


def test_the_new_dispute_page_hides_what_the_account_cannot_reach(
    client, holder, other_artist
):
    (image,) = upload(holder, 3)
    fingerprint(image)
    style = claim_create(owner=holder, kind="style", value="Alice Moreau")
    client.force_login(other_artist)
    for target in (f"work:{image.work_id}", f"image:{image.pk}", f"claim:{style.pk}"):
        response = client.get(reverse("dispute_new") + f"?target={target}")
        assert response.status_code == 404, target
        assert "Alice" not in response.content.decode()

    # A lookup of the image's hash is a path to it (through the real API).
    sha = image.fingerprints.get(algorithm="sha256", variant="original").hex
    found = client_for(other_artist).post(
        "/api/v1/lookup/", {"sha256": [sha]}, format="json"
    )
    assert found.json()["sha256"][0]["matches"][0]["work"] == image.work_id
    for target in (f"work:{image.work_id}", f"image:{image.pk}"):
        assert (
            client.get(reverse("dispute_new") + f"?target={target}").status_code == 200
        )
    # An enforced claim is public (lookups show it).
    url = prefix_claim(holder)
    assert (
        client.get(reverse("dispute_new") + f"?target=claim:{url.pk}").status_code
        == 200
    )


def test_the_claimant_sees_another_user_unless_named(client, holder, artist, curator):
    claims = url_claims(holder, 2)
    anonymous = open_dispute(curator, f"claim:{claims[0].pk}")
    named = open_dispute(curator, f"claim:{claims[1].pk}", named=True)
    client.force_login(artist)
    page = client.get(reverse("dispute_detail", args=[anonymous.pk])).content.decode()
    assert "Opened by another user" in page
    assert "carol" not in page
    page = client.get(reverse("dispute_detail", args=[named.pk])).content.decode()
    assert "Opened by carol" in page
    api = client_for(artist).get(f"/api/v1/disputes/{anonymous.pk}/").json()
    assert api["disputer"] == "another user"
    notice = (
        Notification.objects.filter(user=artist, kind="dispute_opened")
        .order_by("id")
        .first()
    )
    assert notice.body.startswith("Another user disputes your claim")
    # The disputer sees their own name.
    assert (
        client_for(curator).get(f"/api/v1/disputes/{anonymous.pk}/").json()["disputer"]
        == "carol"
    )


def test_an_image_evidence_upload_still_works_with_a_path(holder, other_artist):
    (image,) = upload(holder, 5)
    fingerprint(image)
    from core.uploads import bytes_file

    dispute = open_dispute(
        other_artist,
        f"image:{image.pk}",
        files=[bytes_file("mine.png", image_bytes(5))],
    )
    assert dispute.evidence.count() == 1
