from django.urls import reverse

from tests.pages import assert_login_redirect, fingerprint, upload


def url(image):
    return reverse("work_detail", args=[image.work_id])


def test_it_sends_anonymous_visitors_to_log_in(client, holder):
    (image,) = upload(holder, 1)
    assert_login_redirect(client.get(url(image)), url(image))


def test_it_shows_the_work_with_every_fingerprint(client, artist, holder):
    (image,) = upload(holder, 1)
    image = fingerprint(image)
    prints = {f.algorithm: f.hex for f in image.fingerprints.filter(variant="original")}
    client.force_login(artist)
    response = client.get(url(image))
    assert response.status_code == 200
    text = response.content.decode()
    assert "<h1>art 1</h1>" in text
    assert (
        f'<img src="/files/image/{image.pk}/thumbnail" alt="Thumbnail of art-1.png"'
        in text
    )
    for algorithm in ("sha256", "md5", "phash", "pdq"):
        assert f'data-algorithm="{algorithm}">{prints[algorithm]}</code>' in text
    assert "320×240" in text
    assert f'action="{reverse("work_withdraw", args=[image.work_id])}"' in text
    assert f'href="{reverse("upload")}?work={image.work_id}"' in text


def test_it_hides_someone_elses_work(client, holder, other_artist):
    (image,) = upload(holder, 1)
    client.force_login(other_artist)
    response = client.get(url(image))
    assert response.status_code == 404
    assert "art 1" not in response.content.decode()


def test_it_is_a_404_for_a_work_that_does_not_exist(client, artist):
    client.force_login(artist)
    assert client.get(reverse("work_detail", args=[999])).status_code == 404
