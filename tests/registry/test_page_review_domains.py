"""Staff see failed and lost domain proofs at /review/domains/ and re-check them."""

from __future__ import annotations

import pytest
from django.urls import reverse

from registry.models import Claim
from registry.services import claim_create

LIST = reverse("review_domains")


@pytest.fixture
def failing(holder) -> Claim:
    claim = claim_create(owner=holder, kind="domain", value="alice.example")
    Claim.objects.filter(pk=claim.pk).update(
        proof_failures=1, proof_error="https://alice.example/: HTTP 500"
    )
    return claim


@pytest.fixture
def queued(monkeypatch) -> list[tuple]:
    from registry import tasks

    calls: list[tuple] = []
    monkeypatch.setattr(
        tasks.claim_domain_check,
        "apply_async",
        lambda args, kwargs=None, **options: calls.append(tuple(args)),
    )
    return calls


@pytest.mark.parametrize("who", ["anonymous", "curator", "artist"])
def test_non_staff_get_a_404(client, who, curator, artist, failing, queued):
    if who != "anonymous":
        client.force_login({"curator": curator, "artist": artist}[who])
    assert client.get(LIST).status_code == 404
    url = reverse("review_domain_check", args=[failing.pk])
    assert client.post(url).status_code == 404
    assert queued == []


def test_staff_see_failed_and_lost_proofs_with_the_last_error(
    client, admin_user, holder, failing
):
    lost = claim_create(owner=holder, kind="domain", value="lost.example")
    Claim.objects.filter(pk=lost.pk).update(state="suspended", proof_error="gone")
    fine = claim_create(owner=holder, kind="domain", value="fine.example")
    Claim.objects.filter(pk=fine.pk).update(state="active")
    client.force_login(admin_user)
    text = client.get(LIST).content.decode()
    assert '<td class="proof-error">https://alice.example/: HTTP 500</td>' in text
    assert '<span class="badge suspended">proof lost</span>' in text
    assert "fine.example" not in text


def test_staff_queue_a_re_check(
    client, admin_user, failing, queued, django_capture_on_commit_callbacks
):
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("review_domain_check", args=[failing.pk]))
    assert response["Location"] == LIST
    assert queued == [(failing.pk,)]
    assert "Re-check of alice.example queued." in client.get(LIST).content.decode()
