"""An artist publishes their refusal on a domain they proved: ready blocks,
the proof check reading which of them the site serves, and originals that
carry the refusal in XMP."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from django.urls import reverse
from PIL import Image as PILImage

from core.uploads import bytes_file
from registry.models import Claim
from registry.services import claim_create, claim_domain_check, portfolio_upload
from registry.services.images import image_fingerprint
from tests.images import image_bytes
from tests.registry.trust import point_domains_at
from tests.webserver import Site, local_site
from workers.engine.datasignals import read_embedded
from workers.engine.publishing import blocks
from workers.engine.webproof import WELL_KNOWN_PATH

pytestmark = pytest.mark.django_db


@pytest.fixture
def site(monkeypatch, settings) -> Iterator[Site]:
    settings.DOMAIN_PROOF_SCHEME = "http"
    with local_site() as s:
        point_domains_at(monkeypatch, s)
        yield s


@pytest.fixture
def claim(holder) -> Claim:
    return claim_create(owner=holder, kind="domain", value="alice.example")


def proved(claim: Claim, site: Site) -> Claim:
    site.serve(WELL_KNOWN_PATH, claim.verification_token)
    done = claim_domain_check(claim_id=claim.pk)
    assert done is not None and done.state == Claim.State.ACTIVE
    return done


def page(client, claim: Claim) -> str:
    response = client.get(reverse("claim_publish", args=[claim.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_a_proved_domain_gets_ready_blocks_to_download(
    client, artist, claim, site, settings
):
    settings.SITE_URL = "https://registry.example"
    claim = proved(claim, site)
    client.force_login(artist)
    claims_page = client.get(reverse("claims")).content.decode()
    assert reverse("claim_publish", args=[claim.pk]) in claims_page
    text = page(client, claim)
    for title in (
        "robots.txt lines",
        "TDM reservation",
        "HTML meta tags",
        "RSL licence",
        "Spawning ai.txt",
    ):
        assert title in text
    assert "Content-Usage: / train-ai=n" in text
    # The first check found none of them on the site.
    assert text.count('class="not-live">not found') == 4

    response = client.get(reverse("claim_publish_file", args=[claim.pk, "tdmrep.json"]))
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="tdmrep.json"'
    assert b'"tdm-reservation": 1' in response.content
    # The tdm-policy: this page, on the registry's SITE_URL.
    policy = f"https://registry.example/claims/{claim.pk}/publish/"
    assert f'"tdm-policy": "{policy}"'.encode() in response.content


def test_the_proof_check_reads_which_blocks_the_site_serves(
    client, artist, claim, site
):
    mine = {b.name: b.text for b in blocks("alice.example")}
    # The licence is named by its whole URL: here the local server's.
    site.serve(
        "/robots.txt",
        mine["robots.txt"].replace(
            "https://alice.example/rsl.xml", f"http://alice.example:{site.port}/rsl.xml"
        ),
    )
    site.serve("/rsl.xml", mine["rsl.xml"])
    site.serve("/.well-known/tdmrep.json", mine["tdmrep.json"])
    claim = proved(claim, site)
    assert claim.published["live"] == {
        "robots.txt": True,
        "tdmrep.json": True,
        "rsl.xml": True,
        "ai.txt": False,
    }
    assert claim.published["problems"] == []
    client.force_login(artist)
    text = page(client, claim)
    assert text.count('class="live">served') == 3
    assert text.count('class="not-live">not found') == 1


def test_only_the_owner_of_an_enforced_domain_publishes(
    client, artist, other_artist, claim, site
):
    client.force_login(artist)
    response = client.get(reverse("claim_publish", args=[claim.pk]), follow=True)
    assert "prove that you control the domain first" in response.content.decode()
    claim = proved(claim, site)
    client.force_login(other_artist)
    assert client.get(reverse("claim_publish", args=[claim.pk])).status_code == 404
    url = reverse("claim_publish_file", args=[claim.pk, "ai.txt"])
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_an_artist_downloads_their_original_with_the_refusal_in_xmp(
    client, artist, other_artist, holder, fmt
):
    original = image_bytes(9, fmt)
    (image,) = portfolio_upload(
        owner=holder, files=[bytes_file(f"sea.{fmt.lower()}", original)]
    ).images
    image = image_fingerprint(image_id=image.pk)
    client.force_login(artist)
    work_page = client.get(reverse("work_detail", args=[image.work_id])).content
    assert f"{image.original_url}?xmp=1".encode() in work_page
    response = client.get(image.original_url + "?xmp=1")
    assert response.status_code == 200
    assert (
        response["Content-Disposition"] == f'attachment; filename="sea.{fmt.lower()}"'
    )
    marked = response.content
    said = read_embedded(marked)
    assert [(s.source, s.preference) for s in said.statements] == [
        ("iptc", "train-ai=n")
    ]
    before = PILImage.open(io.BytesIO(original))
    after = PILImage.open(io.BytesIO(marked))
    assert before.tobytes() == after.tobytes()
    client.force_login(other_artist)
    assert client.get(image.original_url + "?xmp=1").status_code == 404


def test_an_original_that_cannot_carry_xmp_is_refused_clearly(client, artist, holder):
    (image,) = portfolio_upload(
        owner=holder, files=[bytes_file("loop.gif", image_bytes(3, "GIF"))]
    ).images
    image = image_fingerprint(image_id=image.pk)
    client.force_login(artist)
    response = client.get(image.original_url + "?xmp=1")
    assert response.status_code == 400
    assert response.content.decode() == (
        "GIF file: this file cannot carry XMP: Writing to GIF images is not supported"
    )
