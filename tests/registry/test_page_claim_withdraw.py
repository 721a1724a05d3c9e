from __future__ import annotations

from django.urls import reverse

from registry.models import Claim
from registry.selectors import registry_revision_current
from registry.services import claim_create
from tests.pages import assert_login_redirect


def url(claim):
    return reverse("claim_withdraw", args=[claim.pk])


def make_claim(holder):
    return claim_create(owner=holder, kind="url", value="https://alice.example/a.png")


def test_it_sends_anonymous_visitors_to_log_in(client, holder):
    claim = make_claim(holder)
    assert_login_redirect(client.post(url(claim)), url(claim))
    assert Claim.objects.get().state == Claim.State.ACTIVE


def test_the_owner_withdraws_a_claim(client, artist, holder):
    claim = make_claim(holder)
    revision = registry_revision_current()
    client.force_login(artist)
    text = client.get(reverse("claims")).content.decode()
    assert f'action="{url(claim)}"' in text

    response = client.post(url(claim))
    assert response.status_code == 302
    assert response["Location"] == reverse("claims")
    text = client.get(reverse("claims")).content.decode()
    assert "Claim withdrawn: exact URL: https://alice.example/a.png." in text
    assert '<span class="badge withdrawn">withdrawn</span>' in text
    assert f'action="{url(claim)}"' not in text

    claim.refresh_from_db()
    assert claim.state == Claim.State.WITHDRAWN
    assert claim.withdrawn_at is not None
    assert registry_revision_current() == revision + 1


def test_withdrawing_twice_says_so(client, artist, holder):
    claim = make_claim(holder)
    client.force_login(artist)
    client.post(url(claim))
    response = client.post(url(claim), follow=True)
    assert "the claim is already withdrawn" in response.content.decode()


def test_it_will_not_withdraw_someone_elses_claim(client, holder, other_artist):
    claim = make_claim(holder)
    client.force_login(other_artist)
    assert client.post(url(claim)).status_code == 404
    assert Claim.objects.get().state == Claim.State.ACTIVE


def test_it_takes_a_post(client, artist, holder):
    claim = make_claim(holder)
    client.force_login(artist)
    assert client.get(url(claim)).status_code == 405
    assert Claim.objects.get().state == Claim.State.ACTIVE
