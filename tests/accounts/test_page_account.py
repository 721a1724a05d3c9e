from __future__ import annotations

from django.urls import reverse

from accounts.models import ApiToken
from registry.models import RightsHolder
from tests.pages import assert_login_redirect

URL = reverse("account")


def test_it_sends_anonymous_visitors_to_log_in(client, db):
    assert_login_redirect(client.get(URL), URL)
    assert_login_redirect(client.post(URL, {"display_name": "x"}), URL)


def test_it_shows_the_profile_and_tokens(client, artist, holder):
    ApiToken.objects.create(
        user=artist, name="laptop", key_prefix="dnt_abcd", key_hash="0" * 64
    )
    client.force_login(artist)
    response = client.get(URL)
    assert response.status_code == 200
    text = response.content.decode()
    assert 'value="Alice"' in text
    assert 'value="alice@example.com"' in text
    assert "<td>laptop</td>" in text
    assert "<code>dnt_abcd…</code>" in text
    assert '<span class="muted">never</span>' in text


def test_the_owner_updates_the_profile(client, artist, holder):
    client.force_login(artist)
    response = client.post(
        URL,
        {
            "display_name": "  Alice A. ",
            "contact_email": "studio@alice.example",
            "website": "https://alice.example",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == URL
    assert "Profile saved." in client.get(URL).content.decode()
    holder = RightsHolder.objects.get(pk=holder.pk)
    assert holder.display_name == "Alice A."
    assert holder.contact_email == "studio@alice.example"
    assert holder.website == "https://alice.example"


def test_it_refuses_a_blank_display_name(client, artist, holder):
    client.force_login(artist)
    response = client.post(
        URL, {"display_name": "   ", "contact_email": "alice@example.com"}
    )
    assert response.status_code == 400
    assert "display_name may not be blank" in response.content.decode()
    assert response.context["profile_form"].errors == {
        "display_name": ["display_name may not be blank"]
    }
    assert RightsHolder.objects.get(pk=holder.pk).display_name == "Alice"


def test_it_refuses_a_bad_email(client, artist, holder):
    client.force_login(artist)
    response = client.post(URL, {"display_name": "A", "contact_email": "nope"})
    assert response.status_code == 400
    assert "Enter a valid email address." in response.content.decode()
    assert RightsHolder.objects.get(pk=holder.pk).contact_email == "alice@example.com"


def test_a_curator_has_tokens_but_no_profile(client, curator):
    client.force_login(curator)
    text = client.get(URL).content.decode()
    assert "You have no artist profile." in text
    assert 'name="display_name"' not in text
    assert f'action="{reverse("token_create")}"' in text
    assert client.post(URL, {"display_name": "Carol"}).status_code == 404
