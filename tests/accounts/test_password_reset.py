"""Password change (signed in) and reset by email (signed out)."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_an_artist_changes_the_password(client, artist):
    client.force_login(artist)
    assert "Change your password" in client.get(reverse("account")).content.decode()
    response = client.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "a quite new passphrase",
            "new_password2": "a quite new passphrase",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("password_change_done")
    artist.refresh_from_db()
    assert artist.check_password("a quite new passphrase")


def test_a_wrong_old_password_is_refused(client, artist):
    client.force_login(artist)
    response = client.post(
        reverse("password_change"),
        {
            "old_password": "wrong",
            "new_password1": "a quite new passphrase",
            "new_password2": "a quite new passphrase",
        },
    )
    assert response.status_code == 200
    assert "Your old password was entered incorrectly" in response.content.decode()


def test_a_forgotten_password_is_reset_by_email(client, artist, settings):
    settings.SITE_URL = "https://registry.example"
    response = client.post(reverse("password_reset"), {"email": "alice@example.com"})
    assert response.status_code == 302
    (message,) = mail.outbox
    assert message.to == ["alice@example.com"]
    link = re.search(r"https://registry\.example(/password-reset/\S+/)", message.body)
    assert link, message.body
    # The link follows SITE_URL, not a Host header the client chose.
    assert "testserver" not in message.body

    form = client.get(link.group(1), follow=True)
    assert "Choose a new password" in form.content.decode()
    done = client.post(
        form.redirect_chain[-1][0],
        {
            "new_password1": "brand new passphrase",
            "new_password2": "brand new passphrase",
        },
    )
    assert done.status_code == 302
    artist.refresh_from_db()
    assert artist.check_password("brand new passphrase")
    # Used once: the same link is no good again.
    again = client.get(link.group(1), follow=True)
    assert "This link is not valid" in again.content.decode()


def test_an_unknown_address_looks_the_same_and_sends_nothing(client, db):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert response["Location"] == reverse("password_reset_done")
    assert mail.outbox == []
    assert User.objects.count() == 0
