"""Staff suspend an account: its live claims stop, and come back exactly."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.services import account_reinstate, account_suspend
from audit.models import AuditEvent, Notification
from core.errors import Conflict, ValidationFailed
from registry.models import Claim
from registry.selectors import registry_revision_current
from registry.services import (
    claim_create,
    claim_domain_check_request,
    claim_withdraw,
    domain_proof_sweep,
)
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def claims(holder) -> dict[str, Claim]:
    url = claim_create(owner=holder, kind="url", value="https://a.example/")
    domain = claim_create(owner=holder, kind="domain", value="a.example")
    style = claim_create(owner=holder, kind="style", value="Alice Art")
    gone = claim_create(owner=holder, kind="url", value="https://a.example/g")
    claim_withdraw(owner=holder, claim_id=gone.pk)
    return {"url": url, "domain": domain, "style": style, "gone": gone}


def states(claims: dict[str, Claim]) -> dict[str, tuple[str, str]]:
    return {
        name: tuple(Claim.objects.values_list("state", "suspended_from").get(pk=c.pk))
        for name, c in claims.items()
    }


def test_suspension_suspends_live_claims_and_reinstatement_restores_them(
    admin_user, artist, claims
):
    revision = registry_revision_current()
    account_suspend(admin=admin_user, user=artist, reason="Spam")
    artist.refresh_from_db()
    assert artist.is_suspended and artist.suspension_reason == "Spam"
    assert states(claims) == {
        "url": ("suspended", "active"),
        "domain": ("suspended", "unverified"),
        "style": ("suspended", "pending_review"),
        "gone": ("withdrawn", ""),
    }
    assert registry_revision_current() == revision + 1
    assert AuditEvent.objects.filter(action="claim.suspend").count() == 3
    event = AuditEvent.objects.get(action="account.suspend")
    assert (event.actor, event.reason, event.holder) == (
        admin_user,
        "Spam",
        artist.rights_holder,
    )
    assert Notification.objects.get(user=artist).subject == (
        "Your account was suspended"
    )

    account_reinstate(admin=admin_user, user=artist, reason="Appeal")
    assert states(claims) == {
        "url": ("active", ""),
        "domain": ("unverified", ""),
        "style": ("pending_review", ""),
        "gone": ("withdrawn", ""),
    }
    assert registry_revision_current() == revision + 2
    assert AuditEvent.objects.filter(action="claim.reinstate").count() == 3
    artist.refresh_from_db()
    assert not artist.is_suspended


def test_suspension_needs_a_reason_and_is_not_repeated(admin_user, artist):
    with pytest.raises(ValidationFailed, match="reason may not be blank"):
        account_suspend(admin=admin_user, user=artist, reason="  ")
    with pytest.raises(ValidationFailed, match="you cannot suspend your own account"):
        account_suspend(admin=admin_user, user=admin_user, reason="x")
    account_suspend(admin=admin_user, user=artist, reason="x")
    with pytest.raises(Conflict, match="the account alice is already suspended"):
        account_suspend(admin=admin_user, user=artist, reason="x")
    account_reinstate(admin=admin_user, user=artist, reason="y")
    with pytest.raises(Conflict, match="the account alice is not suspended"):
        account_reinstate(admin=admin_user, user=artist, reason="y")


def test_a_suspended_account_cannot_log_in_and_is_told_why(client, admin_user, artist):
    account_suspend(admin=admin_user, user=artist, reason="Spam")
    response = client.post(
        reverse("login"), {"username": "alice", "password": PASSWORD}
    )
    assert response.status_code == 200
    assert (
        "This account is suspended, so you cannot log in. Contact the registry&#x27;s "
        "admins to appeal." in response.content.decode()
    )
    assert "_auth_user_id" not in client.session


def test_an_open_session_ends_at_suspension(client, admin_user, artist):
    client.force_login(artist)
    account_suspend(admin=admin_user, user=artist, reason="Spam")
    response = client.get(reverse("claims"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_a_suspended_accounts_api_tokens_get_a_401_that_says_why(
    admin_user, artist, artist_client
):
    account_suspend(admin=admin_user, user=artist, reason="Spam")
    response = artist_client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["message"] == (
        "This account is suspended; its API tokens do not work. Contact the "
        "registry's admins to appeal."
    )


def test_a_suspended_accounts_domains_are_not_checked(admin_user, artist, claims):
    account_suspend(admin=admin_user, user=artist, reason="Spam")
    with pytest.raises(Conflict, match="the account is suspended"):
        claim_domain_check_request(claim_id=claims["domain"].pk)
    assert domain_proof_sweep() == 0
