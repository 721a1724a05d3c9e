"""The load benchmark's seed (bench/load/seed.py) writes a registry the
application reads as its own: the Spawning check and the lookup find what it
claimed and registered, and its accounts get in with their token and session.
A field added to a model without a default, or a change to what the snapshot
reads, fails here rather than in a load run.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from registry.models import Claim, Fingerprint, Image, RightsHolder
from workers.engine.fingerprint import unpack_variants
from workers.engine.perceptual import SCHEMES

pytestmark = pytest.mark.django_db

SEED_FILE = Path(__file__).resolve().parents[2] / "bench" / "load" / "seed.py"


def seed_module():
    spec = importlib.util.spec_from_file_location("bench_load_seed", SEED_FILE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def seeded():
    return seed_module().seed_registry(
        claims=600, images=20, artists=6, curators=2, accounts=2
    )


def test_the_spawning_check_opts_out_what_the_seed_claimed(seeded):
    client = APIClient()
    lines = [
        seeded.claimed_sample[0],
        seeded.claimed_sample[0].replace("-piece.", "-other1."),
        "https://art0.example.com/private/a.png",  # artist 0's prefix claim
        "http://www.studio0.example.org/b.jpg",  # artist 0's domain claim
    ]
    response = client.post(
        "/api/v2/query/urls",
        data="\n".join(lines),
        content_type="text/plain",
        HTTP_AUTHORIZATION=f"API {seeded.curators[0].token}",
    )
    assert response.status_code == 200, response.content
    assert [u["optOut"] for u in response.json()["urls"]] == [True, False, True, True]
    assert (seeded.claims, seeded.prefix_claims, seeded.domain_claims) == (600, 1, 1)


def test_a_lookup_finds_a_seeded_image_by_its_hash(seeded, settings):
    sha = Fingerprint.objects.filter(algorithm="sha256").order_by("pk").first()
    response = APIClient().post(
        "/api/v1/lookup/",
        {"sha256": [bytes(sha.value).hex()]},
        format="json",
        HTTP_AUTHORIZATION=f"Token {seeded.curators[0].token}",
    )
    assert response.status_code == 200, response.content
    [item] = response.json()["sha256"]
    assert [(m["kind"], m["image"]) for m in item["matches"]] == [
        ("sha256", sha.image_id)
    ]
    # Every print the index reads: 4 originals a row each, and the scheme's
    # variants packed on the image.
    assert seeded.fingerprints == Fingerprint.objects.count() == seeded.images * 4
    variants = set(SCHEMES[settings.MATCH_VARIANT_SCHEME])
    packed = Image.objects.values_list("pdq_variants", flat=True)
    assert all(set(unpack_variants(p)) == variants for p in packed)


def test_seeded_artists_get_in_with_their_token_and_their_session(seeded):
    artist = seeded.artists[0]
    response = APIClient().get(
        "/api/v1/claims/", HTTP_AUTHORIZATION=f"Token {artist.token}"
    )
    assert response.status_code == 200, response.content
    # 600 URL claims over 6 artists, and artist 0's prefix and domain.
    assert response.json()["count"] == 102

    page = APIClient()
    page.cookies["sessionid"] = artist.session
    response = page.get("/claims/")
    assert response.status_code == 200
    assert seeded.claimed_sample[0].split("/")[2].encode() in response.content


def test_rows_made_after_the_seed_get_new_ids(seeded):
    holder = RightsHolder.objects.first()
    claim = Claim.objects.create(
        owner=holder,
        kind=Claim.Kind.URL,
        value="https://new.example/x.png",
        normalized="https://new.example/x.png",
        state=Claim.State.ACTIVE,
    )
    assert claim.pk > Claim.objects.exclude(pk=claim.pk).order_by("-pk")[0].pk
