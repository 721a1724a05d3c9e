"""Notifications: on the dashboard and at /notifications/, unread first."""

from __future__ import annotations

from django.urls import reverse

from audit.models import Notification
from audit.services import notify
from tests.pages import assert_login_redirect
from tests.registry.trust import freeze

PAGE = reverse("notifications")
READ = reverse("notifications_read")


def three(user, monkeypatch) -> list[Notification]:
    clock = freeze(monkeypatch)
    notes = []
    for subject in ("First", "Second", "Third"):
        notes.append(notify(user=user, kind="test", subject=subject, url="/claims/"))
        clock.advance(minutes=1)
    return notes


def order(text: str) -> list[str]:
    """The three subjects in the order the page shows them."""
    return sorted(("First", "Second", "Third"), key=text.index)


def test_anonymous_visitors_are_sent_to_log_in(client, db):
    assert_login_redirect(client.get(PAGE), PAGE)
    assert_login_redirect(client.post(READ), READ)


def test_the_page_lists_unread_first_then_newest(client, artist, monkeypatch):
    first, second, third = three(artist, monkeypatch)
    Notification.objects.filter(pk=third.pk).update(read_at=third.created)
    client.force_login(artist)
    text = client.get(PAGE).content.decode()
    assert "2 unread." in text
    assert order(text) == ["Second", "First", "Third"]
    assert text.count("Mark read</button>") == 2


def test_marking_one_read(client, artist, monkeypatch):
    first, *_ = three(artist, monkeypatch)
    client.force_login(artist)
    response = client.post(READ, {"id": first.pk, "next": "/dashboard/"})
    assert response["Location"] == "/dashboard/"
    assert Notification.objects.get(pk=first.pk).read_at is not None
    assert "1 notification marked read." in client.get(PAGE).content.decode()


def test_marking_all_read_and_no_open_redirect(client, artist, monkeypatch):
    three(artist, monkeypatch)
    client.force_login(artist)
    response = client.post(READ, {"next": "https://evil.example/"})
    assert response["Location"] == PAGE
    assert not Notification.objects.filter(read_at__isnull=True).exists()
    assert "3 notifications marked read." in client.get(PAGE).content.decode()


def test_nobody_marks_or_sees_someone_elses(client, artist, other_artist, monkeypatch):
    first, *_ = three(artist, monkeypatch)
    client.force_login(other_artist)
    client.post(READ, {"id": first.pk})
    assert Notification.objects.get(pk=first.pk).read_at is None
    assert "No notifications." in client.get(PAGE).content.decode()
    assert client.post(READ, {"id": "abc"}).status_code == 404


def test_the_dashboard_shows_notifications_to_every_role(
    client, artist, curator, monkeypatch
):
    three(artist, monkeypatch)
    notify(user=curator, kind="test", subject="For the curator")
    client.force_login(artist)
    text = client.get(reverse("dashboard")).content.decode()
    assert '<span class="badge">3 unread</span>' in text
    assert order(text) == ["Third", "Second", "First"]
    assert "For the curator" not in text
    client.force_login(curator)
    text = client.get(reverse("dashboard")).content.decode()
    assert "For the curator" in text and "First" not in text
