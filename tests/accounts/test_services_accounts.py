from __future__ import annotations

import pytest

from accounts.models import ApiToken
from accounts.services import api_token_create, api_token_revoke, user_signup
from core.errors import NotFound, ValidationFailed
from registry.models import RightsHolder
from registry.services import rights_holder_create

pytestmark = pytest.mark.django_db


def test_an_artist_signup_creates_a_rights_holder():
    user = user_signup(
        username="dora",
        email="dora@example.com",
        password="x-long-password-1",
        is_artist=True,
        is_curator=True,
        display_name="Dora Maar",
    )
    assert user.roles == ["artist", "curator"]
    holder = RightsHolder.objects.get(user=user)
    assert (holder.display_name, holder.contact_email, holder.verified) == (
        "Dora Maar",
        "dora@example.com",
        False,
    )


def test_a_curator_signup_has_no_rights_holder():
    user = user_signup(
        username="cur",
        email="cur@example.com",
        password="x-long-password-1",
        is_artist=False,
        is_curator=True,
    )
    assert user.roles == ["curator"]
    assert not RightsHolder.objects.filter(user=user).exists()


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        (
            {"is_artist": False, "is_curator": False},
            "roles",
            "choose at least one role: artist or curator",
        ),
        ({"username": "ALICE"}, "username", "that username is taken"),
        ({"email": "Alice@Example.com"}, "email", "an account with that email exists"),
    ],
)
def test_signup_rejects(artist, kwargs, field, message):
    args = {
        "username": "zed",
        "email": "zed@example.com",
        "password": "x-long-password-1",
        "is_artist": True,
        "is_curator": False,
    } | kwargs
    with pytest.raises(ValidationFailed) as exc:
        user_signup(**args)
    assert (exc.value.field, exc.value.message) == (field, message)


def test_a_curator_can_become_an_artist(curator):
    holder = rights_holder_create(user=curator, display_name="Carol")
    curator.refresh_from_db()
    assert curator.is_artist and holder.user == curator
    assert rights_holder_create(user=curator, display_name="Other") == holder


def test_tokens_store_only_a_hash_of_the_key(artist):
    token, key = api_token_create(user=artist, name="laptop")
    assert key.startswith("dnt_") and len(key) > 40
    assert token.key_hash == ApiToken.hash_key(key) and key not in token.key_hash
    assert key.startswith(token.key_prefix)


def test_a_token_needs_a_name(artist):
    with pytest.raises(ValidationFailed) as exc:
        api_token_create(user=artist, name="  ")
    assert exc.value.field == "name"


def test_only_the_owner_can_revoke_a_token(artist, other_artist):
    token, _ = api_token_create(user=artist, name="laptop")
    with pytest.raises(NotFound):
        api_token_revoke(user=other_artist, token_id=token.pk)
    api_token_revoke(user=artist, token_id=token.pk)
    token.refresh_from_db()
    assert token.revoked_at is not None
