"""A new account confirms its email address before its claims are enforced and
before it can dispute: the link from the email, a new one on request."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.services import email_verification_token
from registry.models import Claim
from registry.selectors import registry_revision_current
from tests.conftest import PASSWORD, client_for
from tests.disputes.helpers import prefix_claim

# Emails leave once the sign-up commits: real transactions.
pytestmark = pytest.mark.django_db(transaction=True)

LINK = re.compile(r"https?://\S+/account/verify/\S+/")


def sign_up(client, username: str = "dora") -> User:
    response = client.post(
        reverse("signup"),
        {
            "username": username,
            "email": f"{username}@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "display_name": username.title(),
            "roles": ["artist", "curator"],
        },
    )
    assert response.status_code == 302
    return User.objects.get(username=username)


def link_in(message) -> str:
    found = LINK.search(message.body)
    assert found, message.body
    return found.group(0)


def test_sign_up_emails_a_link_to_confirm_the_address(client, settings):
    settings.SITE_URL = "https://registry.example"
    user = sign_up(client)
    assert not user.email_verified
    (message,) = mail.outbox
    assert message.to == ["dora@example.com"]
    assert message.subject == "Confirm your email address"
    assert link_in(message).startswith("https://registry.example/account/verify/")
    page = client.get(reverse("account")).content.decode()
    assert "dora@example.com is not confirmed yet." in page


def test_claims_wait_until_the_address_is_confirmed(client, settings):
    user = sign_up(client)
    claims = client.post(
        reverse("claims"), {"kind": "url", "value": "https://dora.example/a.jpg"}
    )
    assert claims.status_code == 302
    claim = Claim.objects.get(owner__user=user)
    assert claim.state == Claim.State.PENDING_REVIEW
    page = client.get(reverse("claims")).content.decode()
    assert "Confirm your email address first" in page
    revision = registry_revision_current()

    path = link_in(mail.outbox[0]).split("://", 1)[1].split("/", 1)[1]
    response = client.get("/" + path)

    assert response.status_code == 200
    assert "dora@example.com is confirmed." in response.content.decode()
    user.refresh_from_db()
    claim.refresh_from_db()
    assert user.email_verified
    assert claim.state == Claim.State.ACTIVE
    assert registry_revision_current() == revision + 1
    # The same link again changes nothing and still says so.
    assert client.get("/" + path).status_code == 200
    assert registry_revision_current() == revision + 1


def test_a_prefix_still_needs_its_host_after_the_address(client):
    user = sign_up(client)
    client.post(reverse("claims"), {"kind": "prefix", "value": "https://dora.example/"})
    token = email_verification_token(user=user)
    client.get(reverse("verify_email", args=[token]))
    claim = Claim.objects.get(owner__user=user)
    assert claim.state == Claim.State.PENDING_REVIEW
    assert "prove you control dora.example" in claim.pending_reason


def test_an_unconfirmed_account_cannot_dispute(client, holder):
    user = sign_up(client, "mallory")
    claim = prefix_claim(holder)
    response = client_for(user).post(
        "/api/v1/disputes/",
        {
            "target": f"claim:{claim.pk}",
            "grounds": "not_owner",
            "statement": "This is not her site, I run it since 2015 and can prove it.",
        },
        format="json",
    )
    assert response.status_code == 403
    assert response.json()["code"] == "email_unverified"
    assert response.json()["message"].startswith("confirm your email address")


def test_a_bad_or_expired_link_says_so(client, settings):
    user = sign_up(client)
    bad = client.get(reverse("verify_email", args=["not-a-token"]))
    assert bad.status_code == 400
    assert "This link is not valid" in bad.content.decode()

    token = email_verification_token(user=user)
    later = timezone.now() + timedelta(days=settings.EMAIL_VERIFY_DAYS, hours=1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("time.time", lambda: later.timestamp())
        expired = client.get(reverse("verify_email", args=[token]))
    assert expired.status_code == 400
    assert "This link has expired" in expired.content.decode()
    user.refresh_from_db()
    assert not user.email_verified


def test_a_link_for_an_old_address_does_not_confirm_the_new_one(client):
    user = sign_up(client)
    token = email_verification_token(user=user)
    User.objects.filter(pk=user.pk).update(email="new@example.com")
    response = client.get(reverse("verify_email", args=[token]))
    assert response.status_code == 400
    assert "an address the account no longer has" in response.content.decode()


def test_a_new_link_on_request(client):
    sign_up(client)
    response = client.post(reverse("verify_email_resend"), follow=True)
    assert "A new link is on its way to dora@example.com." in response.content.decode()
    assert len(mail.outbox) == 2
    token = link_in(mail.outbox[1]).rstrip("/").rsplit("/", 1)[1]
    client.get(reverse("verify_email", args=[token]))
    again = client.post(reverse("verify_email_resend"), follow=True)
    assert "Your email address is already confirmed." in again.content.decode()
    assert len(mail.outbox) == 2
