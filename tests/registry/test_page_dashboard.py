from __future__ import annotations

from django.urls import reverse

from accounts.models import User
from registry.models import Claim, RightsHolder
from registry.selectors import registry_revision_current
from registry.services import claim_create, claim_withdraw
from tests.factories import approved_prefix
from tests.pages import assert_login_redirect, fail, fingerprint, upload

URL = reverse("dashboard")


def test_it_sends_anonymous_visitors_to_log_in(client, db):
    assert_login_redirect(client.get(URL), URL)


def test_it_shows_an_artists_roles_counts_and_revision(client, holder, artist):
    hashed, failed, _pending = upload(holder, 1, 2, 3)
    fingerprint(hashed)
    fail(failed)
    claim_create(owner=holder, kind="url", value="https://a.example/1.png")
    claim_create(owner=holder, kind="domain", value="alice.example")
    claim_create(owner=holder, kind="style", value="Alice Example")
    withdrawn = approved_prefix(holder, "https://a.example/old/")
    claim_withdraw(owner=holder, claim_id=withdrawn.pk)

    client.force_login(artist)
    response = client.get(URL)
    assert response.status_code == 200
    text = response.content.decode()
    assert '<span class="badge">artist</span>' in text
    assert "<dt>Works</dt><dd>3</dd>" in text
    assert "<dt>Images hashed</dt><dd>1</dd>" in text
    assert "<dt>Images pending</dt><dd>1</dd>" in text
    assert "<dt>Images failed</dt><dd>1</dd>" in text
    assert "<dt>Active</dt><dd>1</dd>" in text
    assert "<dt>Unverified</dt><dd>1</dd>" in text
    assert "<dt>Pending review</dt><dd>1</dd>" in text
    assert "<dt>Withdrawn</dt><dd>1</dd>" in text
    revision = registry_revision_current()
    assert revision == 4  # hashed image, URL claim, prefix claim and its withdrawal
    assert f'<strong class="mono" id="revision">{revision}</strong>' in text
    assert Claim.objects.filter(owner=holder).count() == 4


def test_it_shows_recent_works_with_thumbnails(client, holder, artist):
    (image,) = upload(holder, 5)
    image = fingerprint(image)
    client.force_login(artist)
    text = client.get(URL).content.decode()
    assert (
        f'<img src="/files/image/{image.pk}/thumbnail" alt="Thumbnail of art 5"' in text
    )
    assert f'href="{reverse("work_detail", args=[image.work_id])}"' in text


def test_it_does_not_show_someone_elses_works(client, holder, other_artist):
    upload(holder, 1)
    client.force_login(other_artist)
    text = client.get(URL).content.decode()
    assert "<dt>Works</dt><dd>0</dd>" in text
    assert "art 1" not in text


def test_a_curator_sees_the_curator_section_and_can_become_an_artist(client, curator):
    client.force_login(curator)
    text = client.get(URL).content.decode()
    assert '<span class="badge">curator</span>' in text
    assert "upload a manifest" in text
    assert "Images hashed" not in text
    assert f'action="{reverse("become_artist")}"' in text

    response = client.post(reverse("become_artist"), {"display_name": "Carol C."})
    assert response.status_code == 302
    assert response["Location"] == URL
    text = client.get(URL).content.decode()
    assert "You are now an artist: upload your portfolio next." in text
    assert '<span class="badge">artist</span>' in text
    curator = User.objects.get(pk=curator.pk)
    assert curator.is_artist and curator.is_curator
    assert RightsHolder.objects.get(user=curator).display_name == "Carol C."


def test_becoming_an_artist_needs_a_display_name(client, curator):
    client.force_login(curator)
    response = client.post(reverse("become_artist"), {"display_name": " "})
    assert response.status_code == 302
    text = client.get(URL).content.decode()
    assert "display name may not be blank" in text
    assert not RightsHolder.objects.filter(user=curator).exists()


def test_becoming_an_artist_takes_a_logged_in_post(client, curator):
    url = reverse("become_artist")
    assert_login_redirect(client.post(url, {"display_name": "x"}), url)
    client.force_login(curator)
    assert client.get(url).status_code == 405
