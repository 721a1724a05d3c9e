"""The blocks an artist publishes say no to AI training in words the
registry's own readers understand, and XMP goes into files untouched."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from tests.images import image_bytes
from workers.engine.datasignals import read_embedded
from workers.engine.publishing import (
    AI_TXT,
    META,
    ROBOTS,
    RSL_DOCUMENT,
    TDMREP,
    blocks,
    live,
    with_xmp,
)
from workers.engine.websignals import (
    WEB_PROTOCOLS,
    HostSignals,
    parse_robots,
    parse_rsl,
    parse_tdmrep,
)


def published(domain: str = "alice.example", **kw) -> dict[str, str]:
    return {b.name: b.text for b in blocks(domain, **kw)}


def site(robots: str = "", tdmrep: bytes = b"", rsl: bytes = b"") -> HostSignals:
    rules, licences, access = parse_robots(robots, WEB_PROTOCOLS)
    if tdmrep:
        rules += parse_tdmrep(tdmrep)
    if rsl:
        rules += parse_rsl(rsl, "alice.example")
    return HostSignals(
        "alice.example", "t0", list(WEB_PROTOCOLS), rules=rules, access=access
    )


def test_every_block_reads_back_as_a_refusal_of_training():
    text = published(policy_url="https://registry.example/claims/7/")
    said = site(text[ROBOTS], text[TDMREP].encode(), text[RSL_DOCUMENT].encode())
    assert {(r.source, r.preference) for r in said.refusals("/any/work.jpg")} == {
        ("robots", "train-ai=n"),
        ("content-signal", "train-ai=n"),
        ("tdmrep", "train-ai=n"),
        ("rsl", "train-ai=n"),
    }
    _, licences, _ = parse_robots(text[ROBOTS], WEB_PROTOCOLS)
    assert licences == ["https://alice.example/rsl.xml"]
    assert json.loads(text[TDMREP]) == [
        {
            "location": "/",
            "tdm-reservation": 1,
            "tdm-policy": "https://registry.example/claims/7/",
        }
    ]
    assert '<meta name="tdm-reservation" content="1">' in text[META]
    assert live(said, text[AI_TXT]) == {
        ROBOTS: True,
        TDMREP: True,
        RSL_DOCUMENT: True,
        AI_TXT: True,
    }


def test_a_site_that_publishes_nothing_is_not_live():
    said = site("User-agent: *\nAllow: /\n")
    assert live(said, None) == {
        ROBOTS: False,
        TDMREP: False,
        RSL_DOCUMENT: False,
        AI_TXT: False,
    }
    assert live(said, "User-Agent: *\nAllow: /\n")[AI_TXT] is False


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF"])
def test_xmp_is_written_into_originals_without_touching_the_pixels(fmt):
    original = image_bytes(5, fmt)
    marked = with_xmp(original)
    said = read_embedded(marked)
    assert [(s.source, s.preference, s.value) for s in said.statements] == [
        ("iptc", "train-ai=n", "DMI-PROHIBITED-AIMLTRAINING")
    ]
    before, after = Image.open(io.BytesIO(original)), Image.open(io.BytesIO(marked))
    assert before.format == after.format == fmt
    assert before.tobytes() == after.tobytes()


def test_a_file_exiv2_cannot_write_is_refused_clearly():
    with pytest.raises(ValueError, match="this file cannot carry XMP"):
        with_xmp(b"not an image at all")


def test_the_blocks_say_what_the_claim_says_of_search_and_ai_use():
    text = published(preferences={"search": "y", "ai-use": "n"})
    assert "Content-Usage: / train-ai=n, ai-use=n, search=y" in text[ROBOTS]
    assert "Content-Signal: ai-train=no, search=yes, ai-input=no" in text[ROBOTS]
    said = site(text[ROBOTS], rsl=text[RSL_DOCUMENT].encode())
    decided = {
        (r.source, r.preference)
        for category in ("train-ai", "ai-use", "search")
        for r in said.applicable("/a.jpg", category)
    }
    assert decided == {
        ("robots", "train-ai=n"),
        ("robots", "ai-use=n"),
        ("robots", "search=y"),
        ("content-signal", "train-ai=n"),
        ("content-signal", "ai-use=n"),
        ("content-signal", "search=y"),
        ("rsl", "train-ai=n"),
        ("rsl", "ai-use=n"),  # ai-all prohibited
    }
    # A claim cannot say yes to training through the blocks.
    assert "train-ai=n" in published(preferences={"train-ai": "y"})[ROBOTS]


def test_an_offer_reads_back_as_training_allowed_on_its_terms():
    offer = {
        "licence": "https://alice.example/licence?a=1&b=2",
        "payment": "purchase",
        "contact": "mailto:licensing@alice.example",
    }
    text = published(preferences={"search": "y"}, offer=offer)
    said = site(text[ROBOTS], text[TDMREP].encode(), text[RSL_DOCUMENT].encode())
    allowed = {
        (r.source, r.preference)
        for r in said.applicable("/any/work.jpg", "train-ai")
        if r.allowed
    }
    assert allowed == {
        ("robots", "train-ai=y"),
        ("content-signal", "train-ai=y"),
        ("rsl", "train-ai=y"),
    }
    # TDMRep: the rights are reserved and the licence is the way to them.
    assert json.loads(text[TDMREP]) == [
        {"location": "/", "tdm-reservation": 1, "tdm-policy": offer["licence"]}
    ]
    assert "Content-Usage: / train-ai=y, search=y" in text[ROBOTS]
    assert "Content-Signal: ai-train=yes, search=yes" in text[ROBOTS]
    assert '<payment type="purchase">' in text[RSL_DOCUMENT]
    assert (
        "<custom>https://alice.example/licence?a=1&amp;b=2</custom>"
        in (text[RSL_DOCUMENT])
    )
    assert (
        '<legal type="contact">mailto:licensing@alice.example</legal>'
        in (text[RSL_DOCUMENT])
    )
    assert "noai" not in text[META]
    assert live(said, text[AI_TXT], offered=True) == {
        ROBOTS: True,
        TDMREP: True,
        RSL_DOCUMENT: True,
        AI_TXT: True,
    }
    # The refusal's blocks are not the offer's.
    refusal = published()
    assert not any(live(site(refusal[ROBOTS]), refusal[AI_TXT], offered=True).values())
