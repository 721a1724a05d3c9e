from django.urls import reverse

from tests.pages import assert_login_redirect, fingerprint, upload

URL = reverse("works_fragment")


def test_it_sends_anonymous_visitors_to_log_in(client, db):
    assert_login_redirect(client.get(URL), URL)


def test_it_is_the_list_alone_and_reflects_status(client, artist, holder):
    (image,) = upload(holder, 1)
    client.force_login(artist)

    response = client.get(URL)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    text = response.content.decode()
    assert text.startswith('<div class="works-list" data-pending="1">')
    assert "<html" not in text
    assert '<span class="badge pending">pending</span>' in text
    assert "Fingerprinting…" in text

    image = fingerprint(image)
    text = client.get(URL).content.decode()
    assert text.startswith('<div class="works-list" data-pending="0">')
    assert '<span class="badge hashed">hashed</span>' in text
    assert f'<img src="/files/image/{image.pk}/thumbnail"' in text
    phash = image.fingerprints.get(algorithm="phash").hex
    assert f'data-algorithm="phash">{phash}</code>' in text


def test_it_shows_only_the_owners_works(client, holder, other_artist):
    upload(holder, 1)
    client.force_login(other_artist)
    text = client.get(URL).content.decode()
    assert 'data-pending="0"' in text
    assert "art-1.png" not in text
