from __future__ import annotations

import pytest

from core.errors import Conflict, NotFound, ValidationFailed
from registry.models import Claim
from registry.selectors import registry_revision_current
from registry.services import claim_create, claim_review, claim_withdraw
from tests.factories import approved_prefix

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("kind", "value", "normalized", "state"),
    [
        (
            "url",
            "HTTPS://Art.Example.com:443/a/../b.png#x",
            "https://art.example.com/b.png",
            "active",
        ),
        (
            "prefix",
            "https://art.example.com/gallery/",
            "https://art.example.com/gallery/",
            "pending_review",  # until the host is proved or an admin approves
        ),
        ("domain", "Art.Example.COM", "art.example.com", "unverified"),
        ("style", "  Greg   RUTKOWSKI ", "greg rutkowski", "pending_review"),
    ],
)
def test_claims_are_normalized_and_start_in_their_kinds_state(
    holder, kind, value, normalized, state
):
    claim = claim_create(owner=holder, kind=kind, value=value)
    assert claim.normalized == normalized
    assert claim.state == state
    assert claim.value == value.strip()


def test_only_claims_that_are_enforced_at_once_bump_the_revision(holder):
    start = registry_revision_current()
    claim_create(owner=holder, kind="url", value="https://a.example/1.png")
    assert registry_revision_current() == start + 1
    claim_create(owner=holder, kind="domain", value="a.example")
    claim_create(owner=holder, kind="style", value="Alice Example")
    assert registry_revision_current() == start + 1


def test_a_domain_claim_gets_a_verification_token(holder):
    claim = claim_create(owner=holder, kind="domain", value="a.example")
    assert len(claim.verification_token) >= 24
    url = claim_create(owner=holder, kind="url", value="https://a.example/x")
    assert url.verification_token == ""


def test_style_aliases_are_normalized_and_deduplicated(holder):
    claim = claim_create(
        owner=holder,
        kind="style",
        value="Greg Rutkowski",
        aliases=["G. RUTKOWSKI", "g. rutkowski", "greg rutkowski", "Грег Рутковски"],
    )
    assert claim.aliases == ["g. rutkowski", "грег рутковски"]


@pytest.mark.parametrize(
    ("kind", "value", "aliases", "field", "message"),
    [
        (
            "url",
            "ftp://a.example/x",
            [],
            "value",
            "value: 'ftp://a.example/x' is not an http(s) URL",
        ),
        ("url", "", [], "value", "value: the URL is empty"),
        ("domain", "localhost", [], "value", "value: 'localhost' is not a domain name"),
        ("style", "x", [], "value", "value: a style name needs at least 2 characters"),
        (
            "style",
            "Alice",
            ["y"],
            "aliases",
            "aliases: each alias needs at least 2 characters",
        ),
        (
            "url",
            "https://a.example/",
            ["a"],
            "aliases",
            "aliases: only style claims have aliases",
        ),
        ("poem", "x", [], "kind", "kind: unknown claim kind 'poem'"),
    ],
)
def test_bad_claims_are_rejected_naming_the_field(
    holder, kind, value, aliases, field, message
):
    with pytest.raises(ValidationFailed) as exc:
        claim_create(owner=holder, kind=kind, value=value, aliases=aliases)
    assert exc.value.field == field
    assert exc.value.message == message
    assert not Claim.objects.exists()


def test_the_same_claim_twice_is_rejected_but_may_follow_a_withdrawal(holder):
    first = claim_create(owner=holder, kind="url", value="https://a.example/x")
    with pytest.raises(ValidationFailed) as exc:
        claim_create(owner=holder, kind="url", value="HTTPS://A.EXAMPLE/x#frag")
    assert exc.value.message == "value: you already have this claim"
    claim_withdraw(owner=holder, claim_id=first.pk)
    again = claim_create(owner=holder, kind="url", value="https://a.example/x")
    assert again.state == "active"


def test_two_artists_may_claim_the_same_url(holder, other_holder):
    claim_create(owner=holder, kind="url", value="https://a.example/x")
    claim_create(owner=other_holder, kind="url", value="https://a.example/x")
    assert Claim.objects.filter(state="active").count() == 2


def test_withdrawing_an_active_claim_stops_enforcement_and_bumps_the_revision(holder):
    claim = approved_prefix(holder, "https://a.example/art/")
    before = registry_revision_current()
    claim_withdraw(owner=holder, claim_id=claim.pk)
    claim.refresh_from_db()
    assert claim.state == "withdrawn"
    assert claim.withdrawn_at is not None
    assert registry_revision_current() == before + 1


def test_withdrawing_a_pending_claim_does_not_bump_the_revision(holder):
    claim = claim_create(owner=holder, kind="style", value="Alice")
    before = registry_revision_current()
    claim_withdraw(owner=holder, claim_id=claim.pk)
    assert registry_revision_current() == before


def test_it_refuses_to_withdraw_someone_elses_claim(holder, other_holder):
    claim = claim_create(owner=holder, kind="url", value="https://a.example/x")
    with pytest.raises(NotFound):
        claim_withdraw(owner=other_holder, claim_id=claim.pk)
    claim.refresh_from_db()
    assert claim.state == "active"


def test_withdrawing_twice_is_a_conflict(holder):
    claim = claim_create(owner=holder, kind="url", value="https://a.example/x")
    claim_withdraw(owner=holder, claim_id=claim.pk)
    with pytest.raises(Conflict):
        claim_withdraw(owner=holder, claim_id=claim.pk)


def test_an_approved_style_claim_is_enforced(holder):
    claim = claim_create(owner=holder, kind="style", value="Alice Example")
    before = registry_revision_current()
    claim_review(claim_id=claim.pk, approve=True)
    claim.refresh_from_db()
    assert claim.state == "active" and claim.activated_at is not None
    assert registry_revision_current() == before + 1
    with pytest.raises(Conflict):
        claim_review(claim_id=claim.pk, approve=False)


def test_a_rejected_style_claim_is_not_enforced(holder):
    claim = claim_create(owner=holder, kind="style", value="Alice Example")
    before = registry_revision_current()
    claim_review(claim_id=claim.pk, approve=False)
    claim.refresh_from_db()
    assert claim.state == "rejected"
    assert registry_revision_current() == before
