from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import User
from registry.models import RightsHolder
from tests.conftest import PASSWORD

URL = reverse("signup")


def form(**overrides):
    data = {
        "username": "dora",
        "email": "dora@example.com",
        "password1": PASSWORD,
        "password2": PASSWORD,
        "display_name": "Dora Maar",
        "roles": ["artist"],
    }
    data.update(overrides)
    return data


def test_it_shows_the_form_with_both_roles(client, db):
    response = client.get(URL)
    assert response.status_code == 200
    text = response.content.decode()
    assert "I am an artist / rights holder" in text
    assert "I am a dataset curator" in text
    assert 'name="password2"' in text


def test_an_artist_signs_up_and_lands_on_the_dashboard(client, db):
    response = client.post(URL, form())
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")

    response = client.get(reverse("dashboard"))
    assert "Welcome, dora: your account is ready." in response.content.decode()
    user = User.objects.get(username="dora")
    assert user.is_artist and not user.is_curator
    assert user.check_password(PASSWORD)
    assert user.rights_holder.display_name == "Dora Maar"


def test_a_curator_signs_up_without_an_artist_profile(client, db):
    response = client.post(URL, form(roles=["curator"]))
    assert response.status_code == 302
    user = User.objects.get(username="dora")
    assert user.is_curator and not user.is_artist
    assert not RightsHolder.objects.filter(user=user).exists()


def test_it_asks_for_at_least_one_role(client, db):
    response = client.post(URL, form(roles=[]))
    assert response.status_code == 400
    assert "choose at least one role: artist or curator" in response.content.decode()
    assert not User.objects.filter(username="dora").exists()


def test_it_refuses_a_taken_username(client, artist):
    response = client.post(URL, form(username="ALICE"))
    assert response.status_code == 400
    assert "that username is taken" in response.content.decode()
    assert User.objects.filter(username__iexact="alice").count() == 1


def test_it_refuses_a_taken_email(client, artist):
    response = client.post(URL, form(email="alice@example.com"))
    assert response.status_code == 400
    assert "an account with that email exists" in response.content.decode()
    assert not User.objects.filter(username="dora").exists()


def test_it_refuses_passwords_that_differ(client, db):
    response = client.post(URL, form(password2=PASSWORD + "!"))
    assert response.status_code == 400
    assert "the two passwords do not match" in response.content.decode()
    assert not User.objects.exists()


@pytest.mark.parametrize(
    "password, message",
    [
        ("password", "This password is too common."),
        ("x7!", "This password is too short. It must contain at least 8 characters."),
        ("8273648172", "This password is entirely numeric."),
    ],
)
def test_it_applies_the_password_validators(client, db, password, message):
    response = client.post(URL, form(password1=password, password2=password))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not User.objects.exists()


def test_it_keeps_what_was_typed_after_an_error(client, db):
    response = client.post(URL, form(roles=[]))
    text = response.content.decode()
    assert 'value="dora@example.com"' in text
    assert PASSWORD not in text


def test_a_logged_in_user_is_sent_to_the_dashboard(client, artist):
    client.force_login(artist)
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
