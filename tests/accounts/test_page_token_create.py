from __future__ import annotations

from django.urls import reverse

from accounts.authentication import authenticate_key
from accounts.models import ApiToken
from tests.pages import assert_login_redirect

URL = reverse("token_create")


def test_it_sends_anonymous_visitors_to_log_in(client, db):
    assert_login_redirect(client.post(URL, {"name": "cli"}), URL)
    assert not ApiToken.objects.exists()


def test_it_shows_the_new_key_once(client, artist):
    client.force_login(artist)
    response = client.post(URL, {"name": "laptop CLI", "scopes": ["check", "register"]})
    assert response.status_code == 200
    text = response.content.decode()
    key = response.context["new_key"]
    assert key.startswith("dnt_")
    assert f'value="{key}"' in text
    assert "Copy it now: this is the only time it is shown." in text
    # Focusing the field selects the key (a script file, not an attribute).
    assert '<script src="/static/accounts/account.js"></script>' in text

    token = ApiToken.objects.get()
    assert token.user == artist
    assert token.name == "laptop CLI"
    assert token.key_hash == ApiToken.hash_key(key)
    assert key.startswith(token.key_prefix)
    assert f"<code>{token.key_prefix}…</code>" in text

    # The next visit shows the token's prefix, never the key.
    text = client.get(reverse("account")).content.decode()
    assert key not in text
    assert f"<code>{token.key_prefix}…</code>" in text


def test_the_key_shown_authenticates(client, artist):
    client.force_login(artist)
    key = client.post(URL, {"name": "cli", "scopes": ["register"]}).context["new_key"]
    user, token = authenticate_key(key)
    assert user == artist
    assert token.name == "cli"


def test_a_curator_creates_a_token(client, curator):
    client.force_login(curator)
    response = client.post(URL, {"name": "dataset checks", "scopes": ["check"]})
    assert response.status_code == 200
    assert ApiToken.objects.get().user == curator


def test_it_asks_for_a_name(client, artist):
    client.force_login(artist)
    response = client.post(URL, {"name": "  "})
    assert response.status_code == 400
    assert "name may not be blank" in response.content.decode()
    assert response.context["token_form"].errors == {"name": ["name may not be blank"]}
    assert not ApiToken.objects.exists()


def test_it_takes_a_post(client, artist):
    client.force_login(artist)
    assert client.get(URL).status_code == 405
