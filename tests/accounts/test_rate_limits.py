"""Rate limits: log-in lock-out per account and per address (django-axes),
sign-ups per address, disputes, lookups and "Check now" per account (DRF
throttles), each a 429 saying when to try again."""

from __future__ import annotations

import pytest
from django.urls import reverse

from registry.services import claim_create
from tests.conftest import PASSWORD, client_for

pytestmark = pytest.mark.django_db

LOGIN = reverse("login")


def log_in(client, username: str, password: str, ip: str = "203.0.113.5"):
    return client.post(
        LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def test_many_wrong_passwords_lock_the_account_even_for_the_right_one(
    client, artist, settings
):
    """The reproduction: 200 wrong passwords, then the right one worked."""
    codes = [log_in(client, "alice", "wrong").status_code for _ in range(200)]
    limit = settings.AXES_FAILURE_LIMIT
    # Wrong, wrong, ...; the limit-th failure locks the account.
    assert codes == [200] * (limit - 1) + [429] * (200 - limit + 1)
    locked = log_in(client, "alice", PASSWORD)
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) == 15 * 60
    text = locked.content.decode()
    assert "Too many failed log-ins for this account or from your address" in text
    assert "_auth_user_id" not in client.session
    # Another address does not help: the account itself is locked.
    assert log_in(client, "alice", PASSWORD, ip="198.51.100.7").status_code == 429


def test_one_address_is_locked_across_accounts(client, artist, other_artist, settings):
    for i in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, f"nobody{i}", "wrong", ip="192.0.2.9")
    assert log_in(client, "bob", PASSWORD, ip="192.0.2.9").status_code == 429
    # From elsewhere bob logs in as usual.
    ok = log_in(client, "bob", PASSWORD, ip="192.0.2.10")
    assert ok.status_code == 302


def test_a_success_before_the_limit_starts_the_count_again(client, artist, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(client, "alice", "wrong")
    assert log_in(client, "alice", PASSWORD).status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(client, "alice", "wrong")
    assert log_in(client, "alice", PASSWORD).status_code == 302


def test_a_suspended_account_is_told_so_and_its_tries_count(client, artist, admin_user):
    from accounts.services import account_suspend

    account_suspend(admin=admin_user, user=artist, reason="spam")
    response = log_in(client, "alice", PASSWORD)
    assert response.status_code == 200
    assert "suspended" in response.content.decode()


def test_sign_ups_from_one_address_are_limited(client, db, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "signup": "2/hour"}
    for i in range(2):
        response = client.post(
            reverse("signup"),
            {
                "username": f"bot{i}",
                "email": f"bot{i}@example.com",
                "password1": PASSWORD,
                "password2": PASSWORD,
                "roles": ["artist"],
            },
            REMOTE_ADDR="203.0.113.77",
        )
        assert response.status_code == 302
        client.logout()
    third = client.post(reverse("signup"), {}, REMOTE_ADDR="203.0.113.77")
    assert third.status_code == 429
    assert "Too many sign-ups from your address" in third.content.decode()
    assert int(third["Retry-After"]) > 0


def test_lookups_are_limited_per_account(curator_client, curator, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "lookups": "3/minute"}
    body = {"urls": ["https://x.example/a.jpg"]}
    for _ in range(3):
        assert (
            curator_client.post("/api/v1/lookup/", body, format="json").status_code
            == 200
        )
    limited = curator_client.post("/api/v1/lookup/", body, format="json")
    assert limited.status_code == 429
    assert limited.json()["code"] == "throttled"
    assert int(limited["Retry-After"]) > 0
    # The Spawning endpoint shares the account's budget.
    spawning = curator_client.post(
        "/api/v2/query/urls/",
        data=b"https://x.example/a.jpg",
        content_type="text/plain",
    )
    assert spawning.status_code == 429
    # Another account is not slowed by this one.
    from tests.conftest import make_artist

    other = client_for(make_artist("erin", is_curator=True))
    assert other.post("/api/v1/lookup/", body, format="json").status_code == 200


def test_disputes_are_limited_per_account(holder, other_artist, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "disputes": "2/hour"}
    settings.DISPUTE_MAX_PER_DAY = 100
    claims = [
        claim_create(owner=holder, kind="url", value=f"https://alice.example/{i}.jpg")
        for i in range(3)
    ]
    client = client_for(other_artist)
    body = {
        "grounds": "not_owner",
        "statement": "These are my photographs; the RAW files are attached here.",
    }
    codes = [
        client.post(
            "/api/v1/disputes/", {**body, "target": f"claim:{c.pk}"}, format="json"
        ).status_code
        for c in claims
    ]
    assert codes == [201, 201, 429]
    # Reading disputes is not limited.
    assert client.get("/api/v1/disputes/").status_code == 200


def test_check_now_presses_are_limited(
    client, artist, holder, settings, monkeypatch, django_capture_on_commit_callbacks
):
    """The reproduction: 50 presses in 0.7 s queued 50 fetches."""
    from registry import tasks

    queued: list[tuple] = []
    monkeypatch.setattr(
        tasks.claim_domain_check,
        "apply_async",
        lambda args, kwargs=None, **options: queued.append(tuple(args)),
    )
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "check_now": "5/hour"}
    domain = claim_create(owner=holder, kind="domain", value="alice.example")
    client.force_login(artist)
    with django_capture_on_commit_callbacks(execute=True):
        codes = [
            client.post(reverse("claim_check", args=[domain.pk])).status_code
            for _ in range(50)
        ]
    assert codes.count(302) == 5
    assert codes.count(429) == 45
    assert len(queued) == 5
    api = client_for(artist).post(f"/api/v1/claims/{domain.pk}/check/")
    assert api.status_code == 429


def test_a_proxy_address_is_read_only_when_trusted(client, artist, settings):
    """Behind TRUSTED_PROXY_COUNT proxies the client's address is counted,
    not the proxy's; without it a forged header changes nothing."""
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(
            LOGIN,
            {"username": "x", "password": "wrong"},
            REMOTE_ADDR="10.0.0.1",
            HTTP_X_FORWARDED_FOR="198.51.100.1",
        )
    # Not trusted (0 proxies): the forged header did not spread the tries.
    assert (
        client.post(
            LOGIN,
            {"username": "alice", "password": PASSWORD},
            REMOTE_ADDR="10.0.0.1",
            HTTP_X_FORWARDED_FOR="198.51.100.2",
        ).status_code
        == 429
    )
