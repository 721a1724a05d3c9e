"""The worker path: "Check now" commits, a real Celery worker activates the claim."""

from __future__ import annotations

import pytest

from registry import services, services_trust
from registry.models import AuditEvent, Claim
from tests.registry.trust import point_domains_at
from tests.webserver import local_site
from workers.engine.webproof import WELL_KNOWN_PATH

from .test_image_fingerprint_worker import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_real_worker_activates_a_domain_claim_whose_token_is_served(
    celery_worker, holder, settings, monkeypatch
):
    settings.DOMAIN_PROOF_SCHEME = "http"
    settings.DOMAIN_PROOF_ALLOW_PRIVATE = True
    claim = services.claim_create(owner=holder, kind="domain", value="alice.example")
    with local_site() as site:
        point_domains_at(monkeypatch, site)
        site.serve(WELL_KNOWN_PATH, claim.verification_token + "\n")
        services_trust.claim_domain_check_request(claim_id=claim.pk, owner=holder)
        wait_for(lambda: Claim.objects.get(pk=claim.pk).state == "active")
    claim.refresh_from_db()
    assert claim.proof_method == "file"
    assert AuditEvent.objects.filter(
        action="claim.domain_verified", target_id=claim.pk
    ).exists()
