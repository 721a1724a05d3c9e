"""The worker path: "Check now" commits, a real Celery worker activates the claim."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from registry.models import Claim
from registry.services import claim_create, claim_domain_check_request
from tests.registry.test_image_fingerprint_worker import wait_for
from tests.registry.trust import point_domains_at
from tests.webserver import local_site
from workers.engine.webproof import WELL_KNOWN_PATH

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_real_worker_activates_a_domain_claim_whose_token_is_served(
    celery_worker, holder, settings, monkeypatch
):
    settings.DOMAIN_PROOF_SCHEME = "http"
    settings.DOMAIN_PROOF_ALLOW_PRIVATE = True
    claim = claim_create(owner=holder, kind="domain", value="alice.example")
    with local_site() as site:
        point_domains_at(monkeypatch, site)
        site.serve(WELL_KNOWN_PATH, claim.verification_token + "\n")
        claim_domain_check_request(claim_id=claim.pk, owner=holder)
        wait_for(lambda: Claim.objects.get(pk=claim.pk).state == "active")
    claim.refresh_from_db()
    assert claim.proof_method == "file"
    assert AuditEvent.objects.filter(
        action="claim.domain_verified", target_id=claim.pk
    ).exists()
