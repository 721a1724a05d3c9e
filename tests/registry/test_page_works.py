from __future__ import annotations

from django.urls import reverse

from registry.models import Fingerprint
from registry.services import image_register_hashes, work_withdraw
from tests.pages import assert_login_redirect, fail, fingerprint, upload

URL = reverse("works")


def test_it_sends_anonymous_visitors_to_log_in(client, db):
    assert_login_redirect(client.get(URL), URL)


def test_it_sends_a_curator_to_the_dashboard(client, curator):
    client.force_login(curator)
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")


def test_it_shows_hashed_images_with_thumbnails_and_fingerprints(
    client, artist, holder
):
    (image,) = upload(holder, 1)
    image = fingerprint(image)
    prints = {f.algorithm: f for f in image.fingerprints.filter(variant="original")}
    client.force_login(artist)
    response = client.get(URL)
    assert response.status_code == 200
    text = response.content.decode()
    assert (
        f'<img src="/files/image/{image.pk}/thumbnail" alt="Thumbnail of art-1.png"'
        in text
    )
    sha = prints["sha256"].hex
    assert f'title="{sha}">{sha[:12]}…</code>' in text
    assert f'data-algorithm="phash">{prints["phash"].hex}</code>' in text
    assert f'data-algorithm="pdq">{prints["pdq"].hex}</code>' in text
    assert f"<dd>{prints['pdq'].quality}</dd>" in text
    assert '<span class="badge hashed">hashed</span>' in text
    assert "low quality" not in text
    # Nothing pending: the page does not poll.
    assert 'data-pending="0"' in text


def test_it_flags_a_low_quality_pdq(client, artist, holder, settings):
    (image,) = upload(holder, 1)
    fingerprint(image)
    pdq = Fingerprint.objects.get(image=image, algorithm="pdq", variant="original")
    settings.PDQ_LOW_QUALITY = pdq.quality + 1
    client.force_login(artist)
    text = client.get(URL).content.decode()
    assert f'{pdq.quality} <strong class="flag"' in text
    assert ">low quality</strong>" in text


def test_it_shows_pending_and_failed_images(client, artist, holder):
    pending, failed = upload(holder, 1, 2)
    fail(failed)
    client.force_login(artist)
    text = client.get(URL).content.decode()
    assert '<span class="badge pending">pending</span>' in text
    assert (
        '<span class="badge failed">failed</span> '
        '<span class="reason">the image file is truncated</span>'
    ) in text
    assert 'data-pending="1"' in text
    assert "1 image being fingerprinted; this list updates by itself." in text
    # The page polls the fragment endpoint while anything is pending.
    assert f'data-fragment-url="{reverse("works_fragment")}"' in text
    assert '<script src="/static/registry/works.js"></script>' in text


def test_it_shows_images_registered_by_hashes(client, artist, holder):
    image_register_hashes(
        owner=holder, title="Private sketch", hashes={"phash": "ff00ff00ff00ff00"}
    )
    client.force_login(artist)
    text = client.get(URL).content.decode()
    assert "Private sketch" in text
    assert "Hashes only" in text
    assert 'data-algorithm="phash">ff00ff00ff00ff00</code>' in text


def test_it_marks_withdrawn_works(client, artist, holder):
    (image,) = upload(holder, 1)
    work_withdraw(owner=holder, work_id=image.work_id)
    client.force_login(artist)
    text = client.get(URL).content.decode()
    assert '<span class="badge withdrawn">withdrawn</span>' in text


def test_it_shows_only_the_owners_works(client, holder, other_holder, other_artist):
    upload(holder, 1)
    upload(other_holder, 2)
    client.force_login(other_artist)
    text = client.get(URL).content.decode()
    assert "art-2.png" in text
    assert "art-1.png" not in text
