"""Every change to what is enforced leaves an audit event, in its own transaction."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from registry.selectors import registry_revision_current
from registry.services import (
    claim_create,
    claim_review,
    claim_withdraw,
    image_fingerprint,
    image_register_hashes,
    work_withdraw,
)
from tests.images import image_bytes
from tests.pages import fingerprint, upload

pytestmark = pytest.mark.django_db


def actions() -> list[str]:
    return list(AuditEvent.objects.order_by("id").values_list("action", flat=True))


def test_claims_leave_a_trail(artist, holder, admin_user):
    url = claim_create(owner=holder, kind="url", value="https://a.example/")
    style = claim_create(owner=holder, kind="style", value="Alice Art")
    claim_review(claim_id=style.pk, approve=True, admin=admin_user, reason="fine")
    claim_withdraw(owner=holder, claim_id=url.pk)
    assert actions() == [
        "claim.create",
        "claim.create",
        "claim.approve",
        "claim.withdraw",
    ]
    created, _, approved, withdrawn = AuditEvent.objects.order_by("id")
    assert (created.actor, created.holder, created.target_id) == (
        artist,
        holder,
        url.pk,
    )
    assert created.after == {"state": "active", "value": "https://a.example/"}
    assert created.revision == 1
    assert (approved.actor, approved.reason) == (admin_user, "fine")
    assert withdrawn.before == {"state": "active"}
    assert withdrawn.revision == registry_revision_current()


def test_works_and_hash_registrations_leave_a_trail(artist, holder):
    image = image_register_hashes(
        owner=holder, hashes={"phash": "d1c4f0e8b3a29587"}, title="Harbour"
    )
    work_withdraw(owner=holder, work_id=image.work_id)
    registered, withdrawn = AuditEvent.objects.order_by("id")
    assert registered.action == "image.register_hashes"
    assert registered.after == {"phash": "d1c4f0e8b3a29587"}
    assert registered.target_label == f"Harbour: image {image.pk}"
    assert (withdrawn.action, withdrawn.target_type) == ("work.withdraw", "work")
    assert withdrawn.after == {"status": "withdrawn"}


def test_fingerprinting_is_recorded_and_so_are_changed_hashes_only(holder):
    (image,) = upload(holder, 1)
    image = fingerprint(image)
    first = AuditEvent.objects.get()
    assert (first.action, first.actor, first.holder) == (
        "image.fingerprint",
        None,
        holder,
    )
    assert set(first.after) == {"sha256", "md5", "phash", "pdq"}

    image_fingerprint(image_id=image.pk, force=True)  # same bytes
    assert AuditEvent.objects.count() == 1

    with open(image.original.path, "wb") as fh:
        fh.write(image_bytes(2))
    image_fingerprint(image_id=image.pk, force=True)
    changed = AuditEvent.objects.latest("id")
    assert changed.action == "image.refingerprint"
    assert changed.before["sha256"] == first.after["sha256"]
    assert changed.after["sha256"] != first.after["sha256"]
