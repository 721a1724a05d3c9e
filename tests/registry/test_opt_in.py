"""An artist offers a claim's URLs or a work for AI training on terms: only
with a proof of control of the site, with terms checked field by field, and
the offer ends by itself when that proof goes."""

from __future__ import annotations

import pytest

from registry.models import Claim, OptIn
from registry.selectors import opt_ins_at, registry_revision_current
from registry.services import claim_create, claim_withdraw
from registry.services.works import work_create
from tests.optout.helpers import activate_domain

pytestmark = pytest.mark.django_db

TERMS = {
    "licence": "https://alice.example/licence.html",
    "payment": "attribution",
    "contact": "licensing@alice.example",
}


def proved_domain(holder, domain="alice.example") -> Claim:
    return activate_domain(claim_create(owner=holder, kind="domain", value=domain))


def test_a_claim_on_a_proved_site_is_offered_and_withdrawn(artist_client, holder):
    proved_domain(holder)
    prefix = claim_create(
        owner=holder, kind="prefix", value="https://www.alice.example/free/"
    )
    assert prefix.state == Claim.State.ACTIVE
    before = registry_revision_current()

    response = artist_client.put(
        f"/api/v1/claims/{prefix.pk}/opt-in/", TERMS, format="json"
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["opt_in"] == {**TERMS, "verified": "domain proof (alice.example)"}
    assert body["preferences"]["train-ai"] == "y"
    offered_at = registry_revision_current()
    assert offered_at == before + 1
    assert opt_ins_at(revision=offered_at) == {f"claim:{prefix.pk}": body["opt_in"]}
    assert opt_ins_at(revision=before) == {}
    listed = artist_client.get("/api/v1/claims/").json()["results"]
    assert next(c for c in listed if c["id"] == prefix.pk)["opt_in"]["payment"] == (
        "attribution"
    )

    ended = artist_client.delete(f"/api/v1/claims/{prefix.pk}/opt-in/")

    assert ended.status_code == 200, ended.json()
    assert ended.json()["opt_in"] is None
    assert ended.json()["preferences"]["train-ai"] == "n"
    # The past stays as it was: a job at the offer's revision still reads it.
    assert f"claim:{prefix.pk}" in opt_ins_at(revision=offered_at)
    assert opt_ins_at(revision=registry_revision_current()) == {}
    again = artist_client.delete(f"/api/v1/claims/{prefix.pk}/opt-in/")
    assert again.status_code == 409


def test_new_terms_end_the_old_offer_at_the_new_revision(artist_client, holder):
    domain = proved_domain(holder)
    artist_client.put(f"/api/v1/claims/{domain.pk}/opt-in/", TERMS, format="json")
    first = registry_revision_current()
    changed = artist_client.put(
        f"/api/v1/claims/{domain.pk}/opt-in/",
        {**TERMS, "payment": "purchase"},
        format="json",
    )
    assert changed.status_code == 200
    assert opt_ins_at(revision=first)[f"claim:{domain.pk}"]["payment"] == "attribution"
    now = registry_revision_current()
    assert opt_ins_at(revision=now)[f"claim:{domain.pk}"]["payment"] == "purchase"
    assert OptIn.objects.filter(claim=domain).count() == 2
    # The same terms again change nothing and bump nothing.
    artist_client.put(
        f"/api/v1/claims/{domain.pk}/opt-in/",
        {**TERMS, "payment": "purchase"},
        format="json",
    )
    assert registry_revision_current() == now


def test_consent_needs_control_of_the_site(artist_client, holder):
    url = claim_create(owner=holder, kind="url", value="https://carol.example/a.jpg")
    assert url.state == Claim.State.ACTIVE  # enforced as a refusal...

    response = artist_client.put(f"/api/v1/claims/{url.pk}/opt-in/", TERMS)

    # ...but a stranger cannot consent for carol.example.
    assert response.status_code == 400
    assert list(response.json()["extra"]["fields"]) == ["claim"]
    assert "claim the domain carol.example" in response.json()["message"]
    assert not OptIn.objects.exists()


@pytest.mark.parametrize(
    ("terms", "field", "words"),
    [
        ({**TERMS, "licence": ""}, "licence", "give the URL of your licence"),
        ({**TERMS, "licence": "ftp://a.example/l"}, "licence", "an http(s) URL"),
        ({**TERMS, "payment": "beer"}, "payment", "'beer' is not an RSL payment"),
        ({**TERMS, "contact": "call me"}, "contact", "an email address or"),
    ],
)
def test_bad_terms_are_refused_naming_the_field(
    artist_client, holder, terms, field, words
):
    domain = proved_domain(holder)
    response = artist_client.put(
        f"/api/v1/claims/{domain.pk}/opt-in/", terms, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["extra"]["fields"]) == [field]
    assert response.json()["message"].startswith(f"{field}: ")
    assert words in response.json()["message"]


def test_style_claims_and_other_holders_claims_cannot_be_offered(
    artist_client, other_client, holder, other_holder
):
    style = claim_create(owner=holder, kind="style", value="Alice Moreau")
    response = artist_client.put(f"/api/v1/claims/{style.pk}/opt-in/", TERMS)
    assert response.status_code == 400
    assert "a style is not a work" in response.json()["message"]
    domain = proved_domain(holder)
    stranger = other_client.put(f"/api/v1/claims/{domain.pk}/opt-in/", TERMS)
    assert stranger.status_code == 404


def test_a_work_is_offered_when_its_source_is_on_a_proved_site(artist_client, holder):
    work = work_create(
        owner=holder,
        title="Harbour",
        source_urls=["https://alice.example/art/harbour"],
    )
    refused = artist_client.put(f"/api/v1/works/{work.pk}/opt-in/", TERMS)
    assert refused.status_code == 400
    assert list(refused.json()["extra"]["fields"]) == ["source_urls"]
    assert "alice.example" in refused.json()["message"]

    proved_domain(holder)
    response = artist_client.put(f"/api/v1/works/{work.pk}/opt-in/", TERMS)

    assert response.status_code == 200, response.json()
    assert response.json()["opt_in"]["verified"] == "domain proof (alice.example)"
    assert (
        artist_client.get(f"/api/v1/works/{work.pk}/").json()["opt_in"]
        == (response.json()["opt_in"])
    )


def test_the_offer_ends_by_itself_when_the_proof_goes(artist_client, holder):
    domain = proved_domain(holder)
    url = claim_create(owner=holder, kind="url", value="https://alice.example/a.jpg")
    work = work_create(
        owner=holder, title="Harbour", source_urls=["https://alice.example/h"]
    )
    artist_client.put(f"/api/v1/claims/{url.pk}/opt-in/", TERMS)
    artist_client.put(f"/api/v1/works/{work.pk}/opt-in/", TERMS)
    offered = registry_revision_current()

    claim_withdraw(owner=holder, claim_id=domain.pk)

    now = registry_revision_current()
    assert opt_ins_at(revision=now) == {}
    assert len(opt_ins_at(revision=offered)) == 1  # the work has no image yet
    url.refresh_from_db()
    assert url.state == Claim.State.ACTIVE  # still refused...
    assert url.preferences["train-ai"] == "n"  # ...and no longer offered
    assert artist_client.get(f"/api/v1/works/{work.pk}/").json()["opt_in"] is None


def test_an_offer_overrides_only_its_holders_broader_claims(holder, other_holder):
    from registry.selectors import opt_in_overrides
    from registry.services.optins import opt_in_set

    domain = proved_domain(holder)
    root = claim_create(owner=holder, kind="prefix", value="https://alice.example/")
    free = claim_create(
        owner=holder, kind="prefix", value="http://www.alice.example/free/"
    )
    deeper = claim_create(
        owner=holder, kind="prefix", value="https://alice.example/free/old/"
    )
    claim_create(owner=other_holder, kind="prefix", value="https://alice.example/")
    opt_in_set(owner=holder, claim_id=free.pk, **TERMS)

    assert opt_in_overrides(targets=[f"claim:{free.pk}"]) == {
        f"claim:{free.pk}": sorted([domain.pk, root.pk])
    }
    assert (
        deeper.pk
        not in opt_in_overrides(targets=[f"claim:{free.pk}"])[f"claim:{free.pk}"]
    )


def test_the_pages_offer_change_and_withdraw(client, artist, holder):
    client.force_login(artist)
    stranger = claim_create(
        owner=holder, kind="url", value="https://carol.example/a.jpg"
    )
    refused = client.post(f"/claims/{stranger.pk}/opt-in/", TERMS)
    assert refused.status_code == 200
    assert "claim the domain carol.example" in refused.content.decode()

    domain = proved_domain(holder)
    claims = client.get("/claims/").content.decode()
    assert f'href="/claims/{domain.pk}/opt-in/"' in claims
    done = client.post(f"/claims/{domain.pk}/opt-in/", TERMS, follow=True)
    page = done.content.decode()
    assert "Offered for AI training on your terms" in page
    assert "domain proof (alice.example)" in page
    assert "Withdraw the offer" in page
    assert "on terms: payment attribution" in client.get("/claims/").content.decode()

    bad = client.post(f"/claims/{domain.pk}/opt-in/", {**TERMS, "payment": "beer"})
    assert "beer is not one of the available choices" in bad.content.decode()

    ended = client.post(f"/claims/{domain.pk}/opt-in/", {"action": "end"}, follow=True)
    assert "it refuses AI training again" in ended.content.decode()
    assert opt_ins_at(revision=registry_revision_current()) == {}

    work = work_create(
        owner=holder, title="Harbour", source_urls=["https://alice.example/h"]
    )
    detail = client.get(f"/works/{work.pk}/").content.decode()
    assert "Refuses AI training" in detail
    client.post(f"/works/{work.pk}/opt-in/", TERMS)
    assert "Offered for AI training on your terms" in (
        client.get(f"/works/{work.pk}/").content.decode()
    )


def test_the_publish_page_gives_the_offers_blocks(client, artist, holder):
    from registry.services.optins import opt_in_set

    client.force_login(artist)
    domain = proved_domain(holder)
    assert "Publish your refusal" in (
        client.get(f"/claims/{domain.pk}/publish/").content.decode()
    )
    opt_in_set(owner=holder, claim_id=domain.pk, **TERMS)
    page = client.get(f"/claims/{domain.pk}/publish/").content.decode()
    assert "Publish your offer" in page
    robots = client.get(f"/claims/{domain.pk}/publish/robots.txt").content.decode()
    assert "Content-Usage: / train-ai=y" in robots
    rsl = client.get(f"/claims/{domain.pk}/publish/rsl.xml").content.decode()
    assert '<payment type="attribution">' in rsl
