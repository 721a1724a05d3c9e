"""An account downloads its data and deletes itself; what it held stops being
enforced, the audit log keeps the history without its name."""

from __future__ import annotations

import json
import os

import pytest
from django.urls import reverse

from accounts.models import ApiToken, User
from audit.models import AuditEvent
from disputes.models import Dispute
from optout.models import Manifest, MatchJob
from registry.models import Claim, Work
from registry.selectors import registry_revision_current
from registry.services import claim_create
from tests.conftest import PASSWORD, client_for
from tests.disputes.helpers import open_dispute, prefix_claim
from tests.optout.helpers import run_job, start_job
from tests.pages import fingerprint, upload

pytestmark = pytest.mark.django_db


def test_the_export_holds_what_the_account_has(client, artist, holder, other_holder):
    (image,) = upload(holder, 3)
    fingerprint(image)
    claim_create(owner=holder, kind="url", value="https://alice.example/a.jpg")
    other = prefix_claim(other_holder, "https://bob.example/")
    open_dispute(artist, f"claim:{other.pk}")
    client_for(artist)  # a token
    client.force_login(artist)

    response = client.get(reverse("account_export"))

    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        'attachment; filename="registry-account-alice.json"'
    )
    assert response["Cache-Control"] == "no-store"
    data = json.loads(response.content)
    assert data["account"]["email"] == "alice@example.com"
    assert data["account"]["email_verified"] is True
    (work,) = data["works"]
    (exported_image,) = work["images"]
    assert exported_image["hashes"]["sha256"] == (
        image.fingerprints.get(algorithm="sha256", variant="original").hex
    )
    assert [c["normalized"] for c in data["claims"]] == ["https://alice.example/a.jpg"]
    assert data["disputes"][0]["you_are"] == "disputer"
    (token,) = data["tokens"]
    assert token["name"] == "tests" and "key" not in token
    assert any(e["action"] == "claim.create" for e in data["audit"])


def test_deleting_withdraws_everything_and_forgets_the_name(
    client, artist, holder, other_holder
):
    (image,) = upload(holder, 3)
    fingerprint(image)
    url = claim_create(owner=holder, kind="url", value="https://alice.example/a.jpg")
    other = prefix_claim(other_holder, "https://bob.example/")
    mine = open_dispute(artist, f"claim:{other.pk}")
    client_for(artist)
    revision = registry_revision_current()
    client.force_login(artist)

    page = client.get(reverse("account_delete")).content.decode()
    assert "Your claims (1) and works (1) are withdrawn" in page
    wrong = client.post(reverse("account_delete"), {"password": "nope"})
    assert wrong.status_code == 400
    assert "that is not your password" in wrong.content.decode()

    response = client.post(reverse("account_delete"), {"password": PASSWORD})

    assert response.status_code == 302
    url.refresh_from_db()
    mine.refresh_from_db()
    assert url.state == Claim.State.WITHDRAWN
    assert Work.objects.get().status == Work.Status.WITHDRAWN
    assert mine.state == Dispute.State.WITHDRAWN
    assert registry_revision_current() > revision
    assert not ApiToken.objects.filter(user=artist, revoked_at__isnull=True).exists()
    user = User.objects.get(pk=artist.pk)
    assert (user.username, user.email, user.is_active) == (
        f"deleted-{artist.pk}",
        f"deleted-{artist.pk}@invalid",
        False,
    )
    assert not user.has_usable_password()
    assert not User.objects.filter(username="alice").exists()
    assert AuditEvent.objects.filter(action="account.delete", actor=user).exists()
    # Signed out, and the old password no longer logs in.
    assert client.get(reverse("account")).status_code == 302
    login = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert login.status_code == 200
    assert "Please enter a correct username and password" in login.content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_curators_manifests_go_with_the_account(client, curator):
    job = run_job(start_job(curator))
    manifest = job.manifest
    paths = [manifest.parts.get().file.path] + [o.file.path for o in job.outputs.all()]
    assert all(os.path.exists(p) for p in paths)
    client.force_login(curator)
    client.post(reverse("account_delete"), {"password": PASSWORD})
    assert not Manifest.objects.filter(pk=manifest.pk).exists()
    assert not MatchJob.objects.filter(pk=job.pk).exists()
    assert not any(os.path.exists(p) for p in paths)
