"""Domain claims are enforced only once their token is served on the domain."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core import mail

from audit.models import AuditEvent, Notification
from core.errors import Conflict, NotFound
from registry.models import Claim
from registry.selectors import registry_revision_current
from registry.services import (
    claim_create,
    claim_domain_check,
    claim_domain_check_request,
    claim_withdraw,
    domain_proof_sweep,
)
from tests.registry.trust import freeze, point_domains_at
from tests.webserver import Site, local_site
from workers.engine.webproof import WELL_KNOWN_PATH, meta_tag


@pytest.fixture
def site(monkeypatch, settings) -> Iterator[Site]:
    settings.DOMAIN_PROOF_SCHEME = "http"
    settings.DOMAIN_PROOF_FAILURES_TO_SUSPEND = 2
    with local_site() as s:
        point_domains_at(monkeypatch, s)
        yield s


@pytest.fixture
def clock(monkeypatch):
    return freeze(monkeypatch)


@pytest.fixture
def claim(holder) -> Claim:
    return claim_create(owner=holder, kind="domain", value="Alice.Example")


def check(claim: Claim, **kw) -> Claim:
    done = claim_domain_check(claim_id=claim.pk, **kw)
    assert done is not None
    return done


def test_serving_the_token_file_activates_the_claim(
    site, clock, claim, artist, django_capture_on_commit_callbacks
):
    site.serve(WELL_KNOWN_PATH, claim.verification_token)
    revision = registry_revision_current()
    with django_capture_on_commit_callbacks(execute=True):
        claim = check(claim)
    assert claim.state == Claim.State.ACTIVE
    assert claim.activated_at == clock.now
    assert (claim.proof_method, claim.proof_error, claim.proof_failures) == (
        "file",
        "",
        0,
    )
    assert claim.proof_checked_at == clock.now
    assert registry_revision_current() == revision + 1
    event = AuditEvent.objects.get(action="claim.domain_verified")
    assert (event.target_id, event.holder, event.actor) == (claim.pk, claim.owner, None)
    assert event.before == {"state": "unverified"}
    assert event.after == {"state": "active", "proof_method": "file"}
    assert event.revision == revision + 1
    note = Notification.objects.get(user=artist)
    assert note.subject == "Domain verified: alice.example is now enforced"
    assert mail.outbox[0].subject == note.subject


def test_a_meta_tag_on_the_home_page_activates_the_claim(site, claim):
    site.serve("/", f"<html><head>{meta_tag(claim.verification_token)}</head></html>")
    claim = check(claim)
    assert (claim.state, claim.proof_method) == (Claim.State.ACTIVE, "meta")


def test_a_wrong_token_leaves_the_claim_unverified_with_the_reason(site, claim):
    site.serve(WELL_KNOWN_PATH, "not-the-token")
    revision = registry_revision_current()
    claim = check(claim)
    origin = f"http://alice.example:{site.port}"
    assert claim.state == Claim.State.UNVERIFIED
    assert claim.proof_error == (
        f"{origin}{WELL_KNOWN_PATH}: the file does not contain this claim's token; "
        f"{origin}/: HTTP 404"
    )
    assert claim.proof_failures == 1
    assert registry_revision_current() == revision
    assert not AuditEvent.objects.filter(action__startswith="claim.domain").exists()


def test_a_lost_proof_suspends_the_claim_and_its_return_restores_it(
    site, clock, claim, artist
):
    site.serve(WELL_KNOWN_PATH, claim.verification_token)
    claim = check(claim)
    site.routes.clear()
    revision = registry_revision_current()

    clock.advance(days=1)
    claim = check(claim)  # one failure: a site down for a moment keeps its claim
    assert (claim.state, claim.proof_failures) == (Claim.State.ACTIVE, 1)
    clock.advance(days=1)
    claim = check(claim)
    assert (claim.state, claim.proof_failures) == (Claim.State.SUSPENDED, 2)
    assert claim.suspended_from == ""
    assert registry_revision_current() == revision + 1
    lost = AuditEvent.objects.get(action="claim.domain_proof_lost")
    assert lost.reason == claim.proof_error
    assert Notification.objects.filter(user=artist).first().subject == (
        "Domain proof lost: alice.example is no longer enforced"
    )

    clock.advance(days=1)
    site.serve("/", meta_tag(claim.verification_token))
    claim = check(claim)
    assert (claim.state, claim.proof_method, claim.proof_failures) == (
        Claim.State.ACTIVE,
        "meta",
        0,
    )
    assert registry_revision_current() == revision + 2
    assert AuditEvent.objects.filter(action="claim.domain_proof_restored").exists()
    assert Notification.objects.filter(user=artist).first().subject == (
        "Domain proof found again: alice.example is enforced again"
    )


def test_a_scheduled_check_skips_a_claim_checked_recently(site, clock, claim, settings):
    settings.DOMAIN_PROOF_RECHECK_SECONDS = 3600
    site.serve(WELL_KNOWN_PATH, claim.verification_token)
    claim = check(claim)
    fetched = len(site.requests)  # the proof, and what the site publishes
    site.routes.clear()
    clock.advance(minutes=30)
    assert check(claim, scheduled=True).proof_failures == 0
    assert len(site.requests) == fetched
    clock.advance(minutes=31)
    assert check(claim, scheduled=True).proof_failures == 1


def test_the_sweep_queues_due_enforced_domains_only(
    site, clock, holder, other_holder, settings, monkeypatch
):
    from registry import tasks

    queued: list[tuple] = []
    monkeypatch.setattr(
        tasks.claim_domain_check,
        "apply_async",
        lambda args, kwargs=None, **options: queued.append(tuple(args)),
    )
    settings.DOMAIN_PROOF_RECHECK_SECONDS = 3600
    due, fresh, unverified, lost = (
        claim_create(owner=holder, kind="domain", value=f"{n}.example")
        for n in ("due", "fresh", "unverified", "lost")
    )
    Claim.objects.filter(pk=due.pk).update(
        state="active", proof_checked_at=clock.now.replace(hour=7)
    )
    Claim.objects.filter(pk=fresh.pk).update(
        state="active", proof_checked_at=clock.now.replace(hour=8, minute=30)
    )
    Claim.objects.filter(pk=lost.pk).update(state="suspended", proof_checked_at=None)
    assert domain_proof_sweep() == 2
    assert queued == [(lost.pk, True), (due.pk, True)]


def test_check_now_queues_the_owners_domain_claim_only(
    claim, other_holder, holder, monkeypatch, django_capture_on_commit_callbacks
):
    from registry import tasks

    queued: list[tuple] = []
    monkeypatch.setattr(
        tasks.claim_domain_check,
        "apply_async",
        lambda args, kwargs=None, **options: queued.append(tuple(args)),
    )
    with django_capture_on_commit_callbacks(execute=True):
        claim_domain_check_request(claim_id=claim.pk, owner=holder)
    assert queued == [(claim.pk,)]
    with pytest.raises(NotFound, match="claim not found"):
        claim_domain_check_request(claim_id=claim.pk, owner=other_holder)
    url = claim_create(owner=holder, kind="url", value="https://a.example/")
    with pytest.raises(Conflict, match="only domain claims have a proof"):
        claim_domain_check_request(claim_id=url.pk, owner=holder)
    claim_withdraw(owner=holder, claim_id=claim.pk)
    with pytest.raises(Conflict) as exc:
        claim_domain_check_request(claim_id=claim.pk, owner=holder)
    assert exc.value.message == (
        "the claim is withdrawn: only unverified, active and suspended domain "
        "claims are checked"
    )


def test_beat_sweeps_domain_proofs_on_the_celery_queue(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["domain-proof-sweep"]
    assert entry == {
        "task": "registry.domain_proof_sweep",
        "schedule": float(settings.DOMAIN_PROOF_SWEEP_SECONDS),
    }
    routes = settings.CELERY_TASK_ROUTES
    assert routes["registry.claim_domain_check"] == {"queue": "celery"}
    from registry.tasks import claim_domain_check

    assert claim_domain_check.acks_late is True
    assert claim_domain_check.time_limit == 180
