from __future__ import annotations

from django.urls import reverse

from registry.models import Work
from registry.selectors import registry_revision_current
from tests.pages import assert_login_redirect, fingerprint, upload


def url(image):
    return reverse("work_withdraw", args=[image.work_id])


def test_it_sends_anonymous_visitors_to_log_in(client, holder):
    (image,) = upload(holder, 1)
    assert_login_redirect(client.post(url(image)), url(image))
    assert Work.objects.get().status == Work.Status.ACTIVE


def test_the_owner_withdraws_a_work(client, artist, holder):
    (image,) = upload(holder, 1)
    fingerprint(image)
    revision = registry_revision_current()
    client.force_login(artist)

    response = client.post(url(image))
    assert response.status_code == 302
    assert response["Location"] == reverse("work_detail", args=[image.work_id])
    text = client.get(response["Location"]).content.decode()
    assert "“art 1” was withdrawn: it is no longer enforced." in text
    assert '<span class="badge withdrawn">withdrawn' in text
    assert "Withdraw “art 1”" not in text

    work = Work.objects.get()
    assert work.status == Work.Status.WITHDRAWN
    assert work.withdrawn_at is not None
    assert registry_revision_current() == revision + 1


def test_withdrawing_twice_says_so(client, artist, holder):
    (image,) = upload(holder, 1)
    client.force_login(artist)
    client.post(url(image))
    response = client.post(url(image), follow=True)
    assert "the work is already withdrawn" in response.content.decode()


def test_it_will_not_withdraw_someone_elses_work(client, holder, other_artist):
    (image,) = upload(holder, 1)
    client.force_login(other_artist)
    assert client.post(url(image)).status_code == 404
    assert Work.objects.get().status == Work.Status.ACTIVE


def test_it_takes_a_post(client, artist, holder):
    (image,) = upload(holder, 1)
    client.force_login(artist)
    assert client.get(url(image)).status_code == 405
    assert Work.objects.get().status == Work.Status.ACTIVE
