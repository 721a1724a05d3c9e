"""A prefix claim reaches every URL under it, so it is enforced only once its
claimant has proved control of the host (a verified domain claim on it or a
parent domain) or an admin has approved it (issue: claims need proof in
proportion to their reach)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from registry.models import Claim
from registry.selectors import registry_revision_current
from registry.services import claim_create, claim_domain_check
from tests.factories import approved_prefix
from tests.registry.trust import point_domains_at
from tests.webserver import Site, local_site
from workers.engine.webproof import WELL_KNOWN_PATH

pytestmark = pytest.mark.django_db


@pytest.fixture
def site(monkeypatch, settings) -> Iterator[Site]:
    settings.DOMAIN_PROOF_SCHEME = "http"
    with local_site() as s:
        point_domains_at(monkeypatch, s)
        yield s


def test_a_stranger_cannot_opt_out_a_whole_shared_host(holder):
    before = registry_revision_current()

    claim = claim_create(
        owner=holder, kind="prefix", value="https://upload.wikimedia.org/"
    )

    assert claim.state == Claim.State.PENDING_REVIEW
    assert not claim.is_enforced
    assert registry_revision_current() == before
    assert "prove you control upload.wikimedia.org" in claim.pending_reason


def test_proving_the_domain_enforces_the_pending_prefixes_on_it(
    site, holder, django_capture_on_commit_callbacks
):
    gallery = claim_create(
        owner=holder, kind="prefix", value="https://alice.example/gallery/"
    )
    sub = claim_create(
        owner=holder, kind="prefix", value="https://www.img.alice.example/a/"
    )
    elsewhere = claim_create(
        owner=holder, kind="prefix", value="https://other.example/a/"
    )
    domain = claim_create(owner=holder, kind="domain", value="alice.example")
    site.serve(WELL_KNOWN_PATH, domain.verification_token)
    before = registry_revision_current()

    with django_capture_on_commit_callbacks(execute=True):
        assert claim_domain_check(claim_id=domain.pk).state == Claim.State.ACTIVE

    states = dict(
        Claim.objects.filter(pk__in=[gallery.pk, sub.pk, elsewhere.pk]).values_list(
            "pk", "state"
        )
    )
    assert states == {
        gallery.pk: "active",
        sub.pk: "active",
        elsewhere.pk: "pending_review",
    }
    assert registry_revision_current() == before + 1
    # Once proved, new prefixes on the host are enforced at once.
    later = claim_create(owner=holder, kind="prefix", value="https://alice.example/b/")
    assert later.state == Claim.State.ACTIVE


def test_another_holders_proof_does_not_count(holder, other_holder):
    domain = claim_create(owner=other_holder, kind="domain", value="alice.example")
    Claim.objects.filter(pk=domain.pk).update(state=Claim.State.ACTIVE)

    claim = claim_create(owner=holder, kind="prefix", value="https://alice.example/x/")

    assert claim.state == Claim.State.PENDING_REVIEW


def test_the_claims_page_says_why_a_prefix_waits(client, artist, holder):
    claim_create(owner=holder, kind="prefix", value="https://upload.wikimedia.org/")
    client.force_login(artist)

    text = client.get("/claims/").content.decode()

    assert "Pending: A prefix reaches every URL under it" in text


def test_an_admin_approves_or_rejects_prefixes_on_the_review_page(
    client, admin_user, holder
):
    good = claim_create(owner=holder, kind="prefix", value="https://cdn.example/alice/")
    bad = claim_create(
        owner=holder, kind="prefix", value="https://upload.wikimedia.org/"
    )
    client.force_login(admin_user)
    page = client.get("/review/prefixes/").content.decode()
    assert f'data-claim="{good.pk}"' in page and f'data-claim="{bad.pk}"' in page
    before = registry_revision_current()

    client.post(
        "/review/prefixes/",
        {"claim": good.pk, "decision": "approve", "reason": "her own folder"},
    )
    client.post(
        "/review/prefixes/",
        {"claim": bad.pk, "decision": "reject", "reason": "a shared host"},
    )
    missing_reason = client.post(
        "/review/prefixes/", {"claim": bad.pk, "decision": "approve"}
    )

    good.refresh_from_db()
    bad.refresh_from_db()
    assert (good.state, bad.state) == ("active", "rejected")
    assert registry_revision_current() == before + 1
    assert missing_reason.status_code == 404  # no longer waiting


def test_only_staff_see_the_prefix_review_page(client, artist):
    client.force_login(artist)
    # as every review page answers those who are not staff
    assert client.get("/review/prefixes/").status_code == 404
    assert client.get("/review/styles/").status_code == 404


def test_exact_claims_past_the_cap_on_an_unproved_host_wait(holder, settings):
    settings.CLAIM_UNPROVED_URLS_PER_HOST = 2
    first, second, third = (
        claim_create(owner=holder, kind="url", value=f"https://cdn.example/{i}.png")
        for i in range(3)
    )
    elsewhere = claim_create(owner=holder, kind="url", value="https://a.example/1.png")

    assert [c.state for c in (first, second, third, elsewhere)] == [
        "active",
        "active",
        "pending_review",
        "active",
    ]
    assert "many exact claims on cdn.example" in third.pending_reason
    # www. and http are the same host
    www = claim_create(owner=holder, kind="url", value="http://www.cdn.example/x.png")
    assert www.state == "pending_review"


def test_a_proved_host_has_no_cap(holder, settings):
    settings.CLAIM_UNPROVED_URLS_PER_HOST = 1
    domain = claim_create(owner=holder, kind="domain", value="cdn.example")
    Claim.objects.filter(pk=domain.pk).update(state=Claim.State.ACTIVE)

    claims = [
        claim_create(owner=holder, kind="url", value=f"https://cdn.example/{i}.png")
        for i in range(3)
    ]

    assert {c.state for c in claims} == {"active"}


def revoke(claim: Claim) -> Claim:
    """As an admin's decision on a dispute leaves a claim (disputes.services)."""
    Claim.objects.filter(pk=claim.pk).update(state=Claim.State.REVOKED)
    claim.refresh_from_db()
    return claim


def test_after_a_revoke_new_claims_under_it_wait_for_an_admin(
    holder, other_holder, artist_client
):
    gallery = revoke(approved_prefix(holder, "https://alice.example/gallery/"))

    exact = claim_create(
        owner=holder, kind="url", value="https://alice.example/gallery/boats.jpg"
    )
    narrower = claim_create(
        owner=holder, kind="prefix", value="http://www.alice.example/gallery/b"
    )
    outside = claim_create(
        owner=holder, kind="url", value="https://alice.example/shop/1.jpg"
    )
    someone_else = claim_create(
        owner=other_holder, kind="url", value="https://alice.example/gallery/boats.jpg"
    )

    assert (exact.state, exact.blocked_by_id) == ("pending_review", gallery.pk)
    assert (narrower.state, narrower.blocked_by_id) == ("pending_review", gallery.pk)
    assert outside.state == someone_else.state == "active"
    assert f"revoked your claim #{gallery.pk}" in exact.pending_reason
    body = artist_client.get(f"/api/v1/claims/{exact.pk}/").json()
    assert body["blocked_by"] == gallery.pk
    response = artist_client.post(
        "/api/v1/claims/",
        {"kind": "prefix", "value": "https://alice.example/gallery/"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["message"] == (
        f"value: an admin's decision revoked this claim of yours (claim "
        f"#{gallery.pk}); it cannot be claimed again, but you can ask for the "
        "decision to be reviewed"
    )


def test_a_revoked_domain_blocks_claims_on_its_hosts(holder):
    domain = claim_create(owner=holder, kind="domain", value="alice.example")
    revoke(domain)

    claim = claim_create(
        owner=holder, kind="url", value="https://img.alice.example/1.png"
    )

    assert (claim.state, claim.blocked_by_id) == ("pending_review", domain.pk)
