"""Staff review style claims: /review/styles/ and /review/styles/<id>/."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from audit.models import AuditEvent, Notification
from registry.models import Claim
from registry.selectors import registry_revision_current
from registry.services import claim_create, claim_review, rights_holder_update
from tests.factories import approved_prefix
from tests.optout.helpers import csv_manifest, run_job, start_job

LIST = reverse("review_styles")


def detail(claim: Claim) -> str:
    return reverse("review_style", args=[claim.pk])


@pytest.fixture
def claim(holder) -> Claim:
    return claim_create(
        owner=holder, kind="style", value="Alice Moreau", aliases=["A. Moreau"]
    )


@pytest.fixture
def staff_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.mark.parametrize("who", ["anonymous", "curator", "artist"])
def test_non_staff_get_a_404_on_every_style_review_url(
    client, who, claim, curator, artist
):
    if who != "anonymous":
        client.force_login({"curator": curator, "artist": artist}[who])
    assert client.get(LIST).status_code == 404
    assert client.get(detail(claim)).status_code == 404
    response = client.post(detail(claim), {"decision": "approve", "reason": "ok"})
    assert response.status_code == 404
    assert Claim.objects.get(pk=claim.pk).state == Claim.State.PENDING_REVIEW


def test_staff_see_the_pending_style_claims(staff_client, claim, holder):
    claim_create(owner=holder, kind="url", value="https://a.example/x.png")
    text = staff_client.get(LIST).content.decode()
    assert f'<a href="{detail(claim)}">Alice Moreau</a>' in text
    assert "a. moreau" in text
    assert "a.example" not in text


def test_the_detail_shows_the_claimant_and_their_verified_links(
    staff_client, claim, holder
):
    rights_holder_update(holder=holder, website="https://alice.example/")
    approved_prefix(holder, "https://alice.example/art/")
    text = staff_client.get(detail(claim)).content.decode()
    assert "<div><dt>Display name</dt><dd>Alice</dd></div>" in text
    assert '<span class="mono">https://alice.example/</span>' in text
    assert "<div><dt>Verified</dt><dd>no</dd></div>" in text
    assert "<div><dt>Works</dt><dd>0</dd></div>" in text
    assert (
        '<ul class="verified-links"><li>URL prefix: '
        '<span class="mono">https://alice.example/art/</span></li></ul>'
    ) in text


def test_claims_anyone_could_make_are_not_called_verified(staff_client, claim, holder):
    claim_create(owner=holder, kind="url", value="https://famous.example/a.png")
    domain = claim_create(owner=holder, kind="domain", value="alice.example")
    Claim.objects.filter(pk=domain.pk).update(state=Claim.State.ACTIVE)
    claim_create(owner=holder, kind="url", value="https://img.alice.example/1.png")

    text = staff_client.get(detail(claim)).content.decode()

    links = text.split('<ul class="verified-links">', 1)[1].split("</ul>", 1)[0]
    assert "https://famous.example/a.png" not in links  # exact, anyone may claim
    assert 'domain: <span class="mono">alice.example</span>' in links
    assert "https://img.alice.example/1.png" in links  # on the proved domain


def test_the_same_name_claimed_by_another_holder_is_flagged(
    staff_client, claim, other_holder
):
    claim_create(owner=other_holder, kind="style", value="a. MOREAU")
    claim_create(owner=other_holder, kind="style", value="Alice Moreu")
    claim_create(owner=other_holder, kind="style", value="Bob Smith")
    text = staff_client.get(detail(claim)).content.decode()
    assert "<strong>Warning:</strong> the same name is already claimed by Bob" in text
    assert '<tr class="same"><td>a. MOREAU</td>' in text
    assert '<tr class="near"><td>Alice Moreu</td>' in text
    assert "Bob Smith" not in text


def test_the_detail_counts_captions_in_recent_jobs_naming_the_style(
    staff_client, claim, curator, settings, tmp_path
):
    settings.STYLE_REVIEW_ROWS_PER_JOB = 3
    rows = [
        ("https://x.example/0.jpg", "a boat in the style of alice moreau"),
        ("https://x.example/1.jpg", "a cat"),
        ("https://x.example/2.jpg", "by A. Moreau!"),
        ("https://x.example/3.jpg", "alice moreau again, past the bound"),
    ]
    run_job(start_job(curator, csv_manifest(rows), name="m.csv"))
    text = staff_client.get(detail(claim)).content.decode()
    assert (
        '<p class="caption-hits">2 of 3 caption rows\n      in 1 recent dataset check\n'
        "      name it (1 check with a hit).</p>"
    ) in text
    assert "the 20 most recent finished checks with a caption column" in text
    assert "at most the first 3 rows of each" in text
    assert "<li>a boat in the style of alice moreau</li>" in text


def test_staff_approve_with_a_reason(
    staff_client, claim, admin_user, artist, django_capture_on_commit_callbacks
):
    revision = registry_revision_current()
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            detail(claim), {"decision": "approve", "reason": "Known artist"}
        )
    assert response.status_code == 302
    assert response["Location"] == LIST
    assert (
        "Style claim “Alice Moreau” approved."
        in staff_client.get(LIST).content.decode()
    )
    claim.refresh_from_db()
    assert claim.state == Claim.State.ACTIVE
    assert registry_revision_current() == revision + 1
    event = AuditEvent.objects.get(action="claim.approve")
    assert (event.actor, event.reason, event.target_id) == (
        admin_user,
        "Known artist",
        claim.pk,
    )
    note = Notification.objects.get(user=artist)
    assert note.subject == "Your style claim “Alice Moreau” was approved"
    assert "Reason: Known artist" in mail.outbox[0].body


def test_staff_reject_without_changing_the_revision(staff_client, claim):
    revision = registry_revision_current()
    staff_client.post(detail(claim), {"decision": "reject", "reason": "Not theirs"})
    assert Claim.objects.get(pk=claim.pk).state == Claim.State.REJECTED
    assert registry_revision_current() == revision
    assert AuditEvent.objects.get(action="claim.reject").reason == "Not theirs"


def test_a_decision_needs_a_reason(staff_client, claim):
    response = staff_client.post(detail(claim), {"decision": "approve", "reason": ""})
    assert response.status_code == 400
    assert "reason: give a reason for the decision" in response.content.decode()
    assert Claim.objects.get(pk=claim.pk).state == Claim.State.PENDING_REVIEW


def test_a_claim_decided_meanwhile_shows_the_conflict(staff_client, claim):
    claim_review(claim_id=claim.pk, approve=False)
    response = staff_client.post(detail(claim), {"decision": "approve", "reason": "x"})
    assert response.status_code == 400
    assert "the claim is rejected, not pending review" in response.content.decode()


def test_an_unknown_claim_is_a_404(staff_client, holder):
    url_claim = claim_create(owner=holder, kind="url", value="https://a.b/")
    assert staff_client.get(reverse("review_style", args=[999999])).status_code == 404
    assert staff_client.get(detail(url_claim)).status_code == 404
