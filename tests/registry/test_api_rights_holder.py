"""POST and PATCH /api/v1/me/rights-holder/: becoming an artist, editing the profile."""

from __future__ import annotations

from registry.models import RightsHolder
from registry.permissions import NOT_AN_ARTIST

URL = "/api/v1/me/rights-holder/"


def test_it_makes_a_curator_an_artist(curator_client, curator):
    response = curator_client.post(
        URL,
        {"display_name": "Carol C.", "website": "https://carol.example.com/"},
        format="json",
    )

    assert response.status_code == 201
    holder = RightsHolder.objects.get(user=curator)
    assert response.json() == {
        "id": holder.pk,
        "display_name": "Carol C.",
        "contact_email": "carol@example.com",
        "website": "https://carol.example.com/",
        "verified": False,
    }
    curator.refresh_from_db()
    assert curator.is_artist
    assert curator_client.get("/api/v1/me/").json()["roles"] == ["artist", "curator"]
    assert curator_client.get("/api/v1/works/").status_code == 200


def test_it_names_the_new_artist_after_the_username_by_default(curator_client):
    response = curator_client.post(URL, {}, format="json")

    assert response.status_code == 201
    assert response.json()["display_name"] == "carol"


def test_it_is_idempotent(curator_client, curator):
    curator_client.post(URL, {"display_name": "First"}, format="json")

    response = curator_client.post(URL, {"display_name": "Second"}, format="json")

    assert response.status_code == 200
    assert response.json()["display_name"] == "First"
    assert RightsHolder.objects.filter(user=curator).count() == 1


def test_it_leaves_an_existing_artist_unchanged(artist_client, holder):
    response = artist_client.post(URL, {"display_name": "Other"}, format="json")

    assert response.status_code == 200
    assert response.json()["id"] == holder.pk
    assert response.json()["display_name"] == "Alice"


def test_it_rejects_a_website_that_is_not_a_url(curator_client, curator):
    response = curator_client.post(URL, {"website": "my site"}, format="json")

    assert response.status_code == 400
    assert response.json()["message"] == "website: Enter a valid URL."
    assert not RightsHolder.objects.filter(user=curator).exists()


def test_it_updates_the_artists_details(artist_client, holder):
    response = artist_client.patch(
        URL,
        {
            "display_name": "  Alice A.  ",
            "contact_email": "press@alice.example.com",
            "website": "https://alice.example.com/",
        },
        format="json",
    )

    assert response.status_code == 200
    assert response.json() == {
        "id": holder.pk,
        "display_name": "Alice A.",
        "contact_email": "press@alice.example.com",
        "website": "https://alice.example.com/",
        "verified": False,
    }
    holder.refresh_from_db()
    assert holder.display_name == "Alice A."
    assert holder.contact_email == "press@alice.example.com"


def test_it_updates_only_the_fields_given(artist_client, holder):
    response = artist_client.patch(
        URL, {"website": "https://a.example/"}, format="json"
    )

    assert response.status_code == 200
    holder.refresh_from_db()
    assert (holder.display_name, holder.website) == ("Alice", "https://a.example/")


def test_it_rejects_a_blank_display_name(artist_client, holder):
    response = artist_client.patch(URL, {"display_name": " "}, format="json")

    assert response.status_code == 400
    assert response.json()["message"] == "display_name: This field may not be blank."
    holder.refresh_from_db()
    assert holder.display_name == "Alice"


def test_it_rejects_a_bad_contact_email(artist_client, holder):
    response = artist_client.patch(URL, {"contact_email": "nope"}, format="json")

    assert response.status_code == 400
    assert response.json()["message"] == "contact_email: Enter a valid email address."
    holder.refresh_from_db()
    assert holder.contact_email == "alice@example.com"


def test_it_updates_only_the_callers_own_rights_holder(other_client, holder):
    other_client.patch(URL, {"display_name": "Bob B."}, format="json")

    holder.refresh_from_db()
    assert holder.display_name == "Alice"


def test_it_tells_a_curator_to_become_an_artist_before_editing(curator_client):
    response = curator_client.patch(URL, {"display_name": "C"}, format="json")

    assert response.status_code == 403
    assert response.json() == {
        "message": NOT_AN_ARTIST,
        "code": "not_an_artist",
        "extra": {},
    }


def test_it_answers_anonymous_users_401(anon_client):
    assert anon_client.post(URL, {}, format="json").status_code == 401
    assert anon_client.patch(URL, {}, format="json").status_code == 401
