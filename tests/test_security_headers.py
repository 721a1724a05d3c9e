"""Security headers and what the registry's pages and messages give away.

Every HTML page carries a Content-Security-Policy that runs no inline script,
every response a Permissions-Policy; a new API key is never cached; HSTS
preload is the operator's choice; a domain check does not name the private
address a domain resolves to.
"""

from __future__ import annotations

from dataclasses import replace

from django.urls import reverse

from registry.services import claim_create, claim_domain_check, domain_proof

# --- domain proof --------------------------------------------------------------


def test_a_domain_resolving_to_a_private_address_does_not_name_it(
    client, artist, holder, monkeypatch
):
    claim = claim_create(owner=holder, kind="domain", value="alice.example")
    original = domain_proof.proof_config
    monkeypatch.setattr(
        domain_proof,
        "proof_config",
        lambda: replace(original(), resolver=lambda host, port: ["10.1.2.3"]),
    )

    claim = claim_domain_check(claim_id=claim.pk)

    assert claim.proof_error == "refused: alice.example resolves to a private address"
    client.force_login(artist)
    page = client.get(reverse("claims")).content.decode()
    assert "refused: alice.example resolves to a private address" in page
    assert "10.1.2.3" not in page
