"""Staff suspend and reinstate accounts: /review/accounts/ and the admin action."""

from __future__ import annotations

import pytest
from django.contrib.admin import helpers
from django.urls import reverse

from accounts.models import User
from registry.models import Claim
from registry.services import claim_create

LIST = reverse("review_accounts")


def suspend_url(user: User) -> str:
    return reverse("review_account_suspend", args=[user.pk])


@pytest.mark.parametrize("who", ["anonymous", "curator", "artist"])
def test_non_staff_get_a_404(client, who, curator, artist, other_artist):
    if who != "anonymous":
        client.force_login({"curator": curator, "artist": artist}[who])
    assert client.get(LIST).status_code == 404
    response = client.post(suspend_url(other_artist), {"reason": "x"})
    assert response.status_code == 404
    assert not User.objects.get(pk=other_artist.pk).is_suspended


def test_staff_suspend_with_a_reason_then_reinstate(client, admin_user, artist, holder):
    claim = claim_create(owner=holder, kind="url", value="https://a.b/")
    client.force_login(admin_user)
    text = client.get(LIST, {"q": "ali"}).content.decode()
    assert f'action="{suspend_url(artist)}"' in text
    assert "carol" not in text

    response = client.post(suspend_url(artist), {"reason": "Impersonation"})
    assert response["Location"] == LIST
    text = client.get(LIST).content.decode()
    assert "Account alice suspended." in text
    assert "Impersonation" in text
    assert Claim.objects.get(pk=claim.pk).state == "suspended"

    client.post(
        reverse("review_account_reinstate", args=[artist.pk]), {"reason": "Appeal"}
    )
    assert "Account alice reinstated." in client.get(LIST).content.decode()
    assert Claim.objects.get(pk=claim.pk).state == "active"


def test_staff_must_give_a_reason(client, admin_user, artist):
    client.force_login(admin_user)
    client.post(suspend_url(artist), {"reason": ""})
    assert "reason: give a reason for the decision" in client.get(LIST).content.decode()
    assert not User.objects.get(pk=artist.pk).is_suspended


def test_the_admin_bulk_action_asks_for_a_reason_first(
    client, admin_user, artist, other_artist
):
    client.force_login(admin_user)
    url = reverse("admin:accounts_user_changelist")
    picked = {
        "action": "suspend_accounts",
        helpers.ACTION_CHECKBOX_NAME: [artist.pk, other_artist.pk],
    }
    response = client.post(url, picked)
    assert response.status_code == 200
    text = response.content.decode()
    assert "Suspend these accounts?" in text
    assert "<li>alice (alice@example.com)</li>" in text
    assert not User.objects.filter(suspended_at__isnull=False).exists()

    response = client.post(url, {**picked, "apply": "1", "reason": ""})
    assert "reason: give a reason for the decision" in response.content.decode()
    assert not User.objects.filter(suspended_at__isnull=False).exists()

    response = client.post(url, {**picked, "apply": "1", "reason": "Bots"}, follow=True)
    assert "2 items suspended." in response.content.decode()
    assert set(
        User.objects.filter(suspension_reason="Bots").values_list("username", flat=True)
    ) == {"alice", "bob"}
