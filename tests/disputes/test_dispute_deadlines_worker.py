"""The worker path of the deadline check: queued like beat does, on "celery"."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from disputes.models import Dispute
from registry.models import Claim
from tests.disputes.helpers import (
    open_dispute,
    prefix_claim,
    seasoned,
)
from tests.registry.test_image_fingerprint_worker import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_real_worker_releases_an_unanswered_dispute(celery_worker, holder, curator):
    from disputes.tasks import dispute_deadlines

    claim = prefix_claim(holder)
    seasoned(curator)
    dispute = open_dispute(curator, f"claim:{claim.pk}")
    Dispute.objects.filter(pk=dispute.pk).update(
        response_due=timezone.now() - timedelta(minutes=1)
    )
    dispute_deadlines.apply_async()  # as beat sends it: routed to "celery"
    wait_for(lambda: Dispute.objects.get(pk=dispute.pk).state == "resolved")
    assert Claim.objects.get(pk=claim.pk).state == Claim.State.REVOKED
