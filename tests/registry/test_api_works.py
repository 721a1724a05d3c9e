"""/api/v1/works/: an artist's works: list, create, read, change, withdraw."""

from __future__ import annotations

import pytest

from core.uploads import bytes_file
from registry.models import RegistryRevision, Work
from registry.permissions import NOT_AN_ARTIST
from registry.selectors import registry_revision_current
from registry.services import (
    image_register_hashes,
    portfolio_upload,
    work_create,
    work_withdraw,
)
from tests.images import image_bytes

URL = "/api/v1/works/"


@pytest.fixture
def work(holder) -> Work:
    return work_create(
        owner=holder, title="Harbour at dusk", source_urls=["https://alice.example/1"]
    )


@pytest.fixture
def others_work(other_holder) -> Work:
    return work_create(owner=other_holder, title="Bob's bridge")


# --- list ---------------------------------------------------------------------


def test_it_lists_only_the_artists_own_works(artist_client, work, others_work):
    response = artist_client.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    assert body["results"] == [
        {
            "id": work.pk,
            "title": "Harbour at dusk",
            "description": "",
            "source_urls": ["https://alice.example/1"],
            "status": "active",
            "image_count": 0,
            "pending_count": 0,
            "created": work.created.isoformat().replace("+00:00", "Z"),
            "withdrawn_at": None,
            "opt_in": None,
        }
    ]


def test_it_filters_works_by_status(artist_client, holder, work):
    gone = work_create(owner=holder, title="Old sketch")
    work_withdraw(owner=holder, work_id=gone.pk)

    active = artist_client.get(URL, {"status": "active"}).json()["results"]
    withdrawn = artist_client.get(URL, {"status": "withdrawn"}).json()["results"]

    assert [w["id"] for w in active] == [work.pk]
    assert [w["id"] for w in withdrawn] == [gone.pk]


def test_it_rejects_an_unknown_status_filter(artist_client):
    response = artist_client.get(URL, {"status": "deleted"})

    assert response.status_code == 400
    assert response.json()["message"] == 'status: "deleted" is not a valid choice.'


def test_it_pages_works_fifty_at_a_time_newest_first(artist_client, holder):
    for i in range(51):
        work_create(owner=holder, title=f"Work {i}")

    first = artist_client.get(URL).json()
    second = artist_client.get(URL, {"page": 2}).json()

    assert first["count"] == 51
    assert len(first["results"]) == 50
    assert first["results"][0]["title"] == "Work 50"
    assert first["next"].endswith("/api/v1/works/?page=2")
    assert [w["title"] for w in second["results"]] == ["Work 0"]


def test_it_answers_404_for_a_page_past_the_end(artist_client, work):
    response = artist_client.get(URL, {"page": 9})

    assert response.status_code == 404
    assert response.json()["message"] == "Invalid page."


def test_it_counts_images_and_pending_images(artist_client, holder, work):
    portfolio_upload(
        owner=holder,
        files=[bytes_file(f"{i}.png", image_bytes(i)) for i in range(2)],
        work_id=work.pk,
    )

    listed = artist_client.get(URL).json()["results"][0]

    assert (listed["image_count"], listed["pending_count"]) == (2, 2)


# --- create -------------------------------------------------------------------


def test_it_creates_a_work(artist_client, holder):
    response = artist_client.post(
        URL,
        {
            "title": " Night ferry ",
            "description": "Oil on canvas",
            "source_urls": ["HTTPS://Alice.Example:443/art/ferry.png#top"],
        },
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    work = Work.objects.get(pk=body["id"])
    assert work.owner == holder
    assert body["title"] == work.title == "Night ferry"
    assert body["description"] == "Oil on canvas"
    assert body["source_urls"] == ["https://alice.example/art/ferry.png"]
    assert body["images"] == []
    assert body["status"] == "active"


def test_it_rejects_a_work_without_a_title(artist_client):
    response = artist_client.post(URL, {"description": "x"}, format="json")

    assert response.status_code == 400
    assert response.json()["message"] == "title: This field is required."
    assert not Work.objects.exists()


def test_it_rejects_a_source_url_that_is_not_http(artist_client):
    response = artist_client.post(
        URL,
        {"title": "T", "source_urls": ["https://ok.example/", "ftp://x.example/a"]},
        format="json",
    )

    assert response.status_code == 400
    message = "source_urls[1]: 'ftp://x.example/a' is not an http(s) URL"
    assert response.json() == {
        "message": message,
        "code": "invalid",
        "extra": {"fields": {"source_urls": [message]}},
    }
    assert not Work.objects.exists()


def test_it_rejects_source_urls_that_are_not_a_list(artist_client):
    response = artist_client.post(
        URL, {"title": "T", "source_urls": "https://ok.example/"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["message"] == (
        'source_urls: Expected a list of items but got type "str".'
    )


# --- detail -------------------------------------------------------------------


def test_it_shows_a_work_with_its_images(artist_client, holder, work):
    result = portfolio_upload(
        owner=holder, files=[bytes_file("ferry.png", image_bytes(1))], work_id=work.pk
    )

    response = artist_client.get(f"{URL}{work.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == work.pk
    assert body["title"] == "Harbour at dusk"
    assert [i["id"] for i in body["images"]] == [result.images[0].pk]
    assert body["images"][0]["original_name"] == "ferry.png"
    assert body["images"][0]["status"] == "pending"


def test_it_hides_another_artists_work(artist_client, others_work):
    response = artist_client.get(f"{URL}{others_work.pk}/")

    assert response.status_code == 404
    assert response.json() == {
        "message": "work not found",
        "code": "not_found",
        "extra": {},
    }


def test_it_answers_404_for_a_work_that_does_not_exist(artist_client, db):
    assert artist_client.get(f"{URL}424242/").status_code == 404
    assert artist_client.get(f"{URL}{2**63}/").status_code == 404
    assert artist_client.get(f"{URL}abc/").status_code == 404


# --- update -------------------------------------------------------------------


def test_it_updates_a_work(artist_client, work):
    response = artist_client.patch(
        f"{URL}{work.pk}/",
        {"title": "Harbour at night", "source_urls": []},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["title"] == "Harbour at night"
    assert response.json()["source_urls"] == []
    work.refresh_from_db()
    assert work.title == "Harbour at night"
    assert work.source_urls == []


def test_it_keeps_fields_that_are_not_given(artist_client, work):
    response = artist_client.patch(
        f"{URL}{work.pk}/", {"description": "Ink"}, format="json"
    )

    assert response.status_code == 200
    work.refresh_from_db()
    assert (work.title, work.description) == ("Harbour at dusk", "Ink")
    assert work.source_urls == ["https://alice.example/1"]


def test_it_rejects_a_blank_title(artist_client, work):
    response = artist_client.patch(f"{URL}{work.pk}/", {"title": ""}, format="json")

    assert response.status_code == 400
    assert response.json()["message"] == "title: This field may not be blank."
    work.refresh_from_db()
    assert work.title == "Harbour at dusk"


def test_it_does_not_update_another_artists_work(artist_client, others_work):
    response = artist_client.patch(
        f"{URL}{others_work.pk}/", {"title": "Mine now"}, format="json"
    )

    assert response.status_code == 404
    assert response.json()["message"] == "work not found"
    others_work.refresh_from_db()
    assert others_work.title == "Bob's bridge"


# --- withdraw -----------------------------------------------------------------


def test_it_withdraws_a_work(artist_client, work):
    response = artist_client.post(f"{URL}{work.pk}/withdraw/")

    assert response.status_code == 200
    assert response.json()["status"] == "withdrawn"
    assert response.json()["withdrawn_at"] is not None
    work.refresh_from_db()
    assert work.status == Work.Status.WITHDRAWN


def test_withdrawing_a_hashed_work_bumps_the_registry_revision(
    artist_client, holder, work
):
    image_register_hashes(owner=holder, hashes={"md5": "0" * 32}, work_id=work.pk)
    before = registry_revision_current()

    artist_client.post(f"{URL}{work.pk}/withdraw/")

    assert registry_revision_current() == before + 1
    assert RegistryRevision.objects.get().last_reason == f"work {work.pk} withdrawn"


def test_it_answers_409_when_the_work_is_already_withdrawn(artist_client, work):
    artist_client.post(f"{URL}{work.pk}/withdraw/")

    response = artist_client.post(f"{URL}{work.pk}/withdraw/")

    assert response.status_code == 409
    assert response.json() == {
        "message": "the work is already withdrawn",
        "code": "conflict",
        "extra": {},
    }


def test_it_does_not_withdraw_another_artists_work(artist_client, others_work):
    response = artist_client.post(f"{URL}{others_work.pk}/withdraw/")

    assert response.status_code == 404
    others_work.refresh_from_db()
    assert others_work.status == Work.Status.ACTIVE


# --- who may call -------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", ""),
        ("post", ""),
        ("get", "{id}/"),
        ("patch", "{id}/"),
        ("post", "{id}/withdraw/"),
    ],
)
def test_it_tells_a_curator_to_become_an_artist(curator_client, work, method, path):
    response = getattr(curator_client, method)(
        URL + path.format(id=work.pk), {"title": "x"}, format="json"
    )

    assert response.status_code == 403
    assert response.json() == {
        "message": NOT_AN_ARTIST,
        "code": "not_an_artist",
        "extra": {},
    }
    work.refresh_from_db()
    assert (work.title, work.status) == ("Harbour at dusk", "active")


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", ""),
        ("post", ""),
        ("get", "{id}/"),
        ("patch", "{id}/"),
        ("post", "{id}/withdraw/"),
    ],
)
def test_it_answers_anonymous_users_401(anon_client, work, method, path):
    response = getattr(anon_client, method)(
        URL + path.format(id=work.pk), {"title": "x"}, format="json"
    )

    assert response.status_code == 401
    assert response.json()["message"] == (
        "Authentication credentials were not provided."
    )
    assert Work.objects.count() == 1


def test_it_answers_405_in_json_for_a_method_the_url_lacks(artist_client, work):
    response = artist_client.delete(f"{URL}{work.pk}/")

    assert response.status_code == 405
    assert response.json()["message"] == 'Method "DELETE" not allowed.'
    assert response["Allow"] == "GET, PATCH, HEAD, OPTIONS"
    assert Work.objects.filter(pk=work.pk).exists()
