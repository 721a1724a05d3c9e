from __future__ import annotations

from django.urls import reverse

from accounts.models import ApiToken
from accounts.services import api_token_create
from tests.pages import assert_login_redirect


def url(token):
    return reverse("token_revoke", args=[token.pk])


def test_it_sends_anonymous_visitors_to_log_in(client, artist):
    token, _ = api_token_create(user=artist, name="cli")
    assert_login_redirect(client.post(url(token)), url(token))
    assert ApiToken.objects.get().is_active


def test_the_owner_revokes_a_token(client, artist):
    token, _ = api_token_create(user=artist, name="cli")
    client.force_login(artist)
    assert f'action="{url(token)}"' in client.get(reverse("account")).content.decode()

    response = client.post(url(token))
    assert response.status_code == 302
    assert response["Location"] == reverse("account")
    text = client.get(reverse("account")).content.decode()
    assert "Token “cli” revoked." in text
    assert '<span class="badge withdrawn">revoked' in text
    assert f'action="{url(token)}"' not in text
    assert not ApiToken.objects.get().is_active


def test_it_will_not_revoke_someone_elses_token(client, artist, other_artist):
    token, _ = api_token_create(user=artist, name="cli")
    client.force_login(other_artist)
    assert client.post(url(token)).status_code == 404
    assert ApiToken.objects.get().is_active


def test_it_takes_a_post(client, artist):
    token, _ = api_token_create(user=artist, name="cli")
    client.force_login(artist)
    assert client.get(url(token)).status_code == 405
    assert ApiToken.objects.get().is_active
