"""Admins are told what waits for them; /review/ leads to every queue, the
audit log and the accounts."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.models import Notification
from disputes.services import dispute_respond, review_digest_send
from registry.services import claim_create
from tests.disputes.helpers import (
    make_admin,
    open_dispute,
    prefix_claim,
)

pytestmark = pytest.mark.django_db


def test_nothing_waiting_tells_nobody(admin_user):
    assert review_digest_send() == 0
    assert not Notification.objects.filter(kind="review_waiting").exists()


def test_every_admin_is_told_what_waits(holder, artist, other_artist, admin_user):
    second = make_admin("root2")
    claim = prefix_claim(holder)
    dispute = open_dispute(other_artist, f"claim:{claim.pk}")
    dispute_respond(
        user=artist, dispute_id=dispute.pk, response="It is my own site, see the DNS."
    )
    claim_create(owner=holder, kind="style", value="Alice Moreau")
    claim_create(owner=holder, kind="prefix", value="https://upload.example/")

    assert review_digest_send() == 2

    for admin in (admin_user, second):
        notice = Notification.objects.get(user=admin, kind="review_waiting")
        assert notice.subject == "3 items wait for review"
        assert notice.body == (
            "Waiting for an admin:\n- 1 disputes to decide\n- 1 style claims\n"
            "- 1 URL claims"
        )
        assert notice.url == reverse("review")
    assert not Notification.objects.filter(
        user__in=[artist, other_artist], kind="review_waiting"
    ).exists()


def test_the_beat_runs_the_digest(settings):
    schedule = settings.CELERY_BEAT_SCHEDULE["review-digest"]
    assert schedule["task"] == "disputes.review_digest"
    assert schedule["schedule"] == float(settings.REVIEW_DIGEST_SECONDS)


def test_review_links_to_every_queue_the_audit_log_and_accounts(client, admin_user):
    client.force_login(admin_user)
    text = client.get(reverse("review")).content.decode()
    for name in (
        "review_styles",
        "review_prefixes",
        "review_domains",
        "review_audit",
        "review_accounts",
    ):
        assert f'href="{reverse(name)}"' in text, name
    assert 'data-count="url-claims"' in text
