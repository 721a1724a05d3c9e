"""What an artist publishes so that others read their refusal where they look:
ready blocks for their own site, a check of which are live, and XMP for the
files they hand out.

The blocks say what a registry claim means (the IETF aipref vocabulary's
`train-ai=n`: no AI training) in each protocol the registry itself reads
(docs/SIGNALS.md), so each one round-trips through workers/engine/websignals.py
or datasignals.py:

- robots.txt lines: `Content-Usage: / train-ai=n` (draft-ietf-aipref-attach;
  with the claim's `search` and `ai-use` when it says them),
  `Content-Signal: ai-train=no` (Cloudflare's Content Signals; `search`,
  `ai-input` likewise) and `License:` naming the RSL licence below;
- `/.well-known/tdmrep.json`: a TDM reservation for the whole site (W3C
  TDMRep), with the registry's page as `tdm-policy` when given;
- HTML `<meta>` tags: TDMRep's `tdm-reservation`, and the `noai, noimageai`
  robots values some platforms honour (a convention, not a standard);
- an RSL 1.0 licence document prohibiting AI training for the whole site
  (all AI use when the claim refuses `ai-use`; search when it refuses it);
- Spawning's `ai.txt`, disallowing everything to dataset builders.

When the holder offers the domain for training on terms (an opt-in), the
blocks say that instead: `train-ai=y` and `ai-train=yes`, a TDM reservation
whose policy is the licence (TDMRep: rights reserved, a licence offered),
an RSL licence that permits `ai-train` with the payment type, the licence
as its `<custom>` licensing process and the contact as `<legal
type="contact">`, and an ai.txt that allows.

`live` reads a site's answers (a websignals.HostSignals, plus its ai.txt)
and says which of them state the refusal (or the offer) for the site's
root. `with_xmp`
writes IPTC's plus:DataMining into an image without re-encoding it
(pyexiv2, the maintained binding of Exiv2).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from xml.sax.saxutils import escape

from protego import Protego

from .datasignals import AI_USE, PLUS_VOCAB, SEARCH, TRAIN_AI
from .websignals import HostSignals

ROBOTS, TDMREP, META, RSL_DOCUMENT, AI_TXT = (
    "robots.txt",
    "tdmrep.json",
    "meta",
    "rsl.xml",
    "ai.txt",
)
RSL_PATH = "/rsl.xml"  # where the blocks suggest serving the licence
DATA_MINING = PLUS_VOCAB + "DMI-PROHIBITED-AIMLTRAINING"


@dataclass(frozen=True)
class Block:
    """One thing to publish: `text` goes at `where` on the artist's site."""

    name: str  # ROBOTS, TDMREP, META, RSL_DOCUMENT or AI_TXT
    title: str
    where: str
    media_type: str
    text: str


def blocks(
    domain: str,
    *,
    policy_url: str = "",
    preferences: Mapping[str, str] | None = None,
    offer: Mapping[str, str] | None = None,
) -> list[Block]:
    """The blocks for `domain`, in the order a page shows them. `preferences`
    (aipref category -> y/n) are what the claim says; training is refused
    unless `offer` (licence, payment, contact) gives the terms it is offered
    on."""
    stated = {**(preferences or {}), TRAIN_AI: "y" if offer else "n"}
    usage = ", ".join(
        f"{c}={stated[c]}" for c in (TRAIN_AI, AI_USE, SEARCH) if c in stated
    )
    signal = ["ai-train=yes" if offer else "ai-train=no"]
    if SEARCH in stated:
        signal.append(f"search={'yes' if stated[SEARCH] == 'y' else 'no'}")
    if AI_USE in stated:
        signal.append(f"ai-input={'yes' if stated[AI_USE] == 'y' else 'no'}")
    prohibited = ["ai-all" if stated.get(AI_USE) == "n" else "ai-train"]
    if stated.get(SEARCH) == "n":
        prohibited.append("search")
    if offer:
        # RSL 1.0 3.5: with a permits list, what it leaves out is not licensed.
        permitted = ["ai-train"]
        permitted += ["search"] if stated.get(SEARCH) != "n" else []
        permitted += ["ai-input"] if stated.get(AI_USE) == "y" else []
        terms = (
            f'      <permits type="usage">{" ".join(permitted)}</permits>\n'
            f'      <payment type="{escape(offer["payment"])}">\n'
            f"        <custom>{escape(offer['licence'])}</custom>\n"
            "      </payment>\n"
        )
        if offer.get("contact"):
            terms += f'      <legal type="contact">{escape(offer["contact"])}</legal>\n'
    else:
        terms = f'      <prohibits type="usage">{" ".join(prohibited)}</prohibits>\n'
    origin = f"https://{domain}"
    robots = (
        "# AI usage preferences for this site (IETF aipref, Content Signals).\n"
        "User-agent: *\n"
        f"Content-Usage: / {usage}\n"
        f"Content-Signal: {', '.join(signal)}\n"
        f"License: {origin}{RSL_PATH}\n"
    )
    reservation: dict[str, object] = {"location": "/", "tdm-reservation": 1}
    policy = offer["licence"] if offer else policy_url
    if policy:
        reservation["tdm-policy"] = policy
    tdmrep = json.dumps([reservation], indent=2) + "\n"
    if offer:
        meta = (
            '<meta name="tdm-reservation" content="1">\n'
            f'<meta name="tdm-policy" content="{escape(offer["licence"])}">\n'
        )
    else:
        meta = (
            '<meta name="tdm-reservation" content="1">\n'
            '<meta name="robots" content="noai, noimageai">\n'
        )
    rsl = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rsl xmlns="https://rslstandard.org/rsl">\n'
        '  <content url="/">\n'
        "    <license>\n"
        f"{terms}"
        "    </license>\n"
        "  </content>\n"
        "</rsl>\n"
    )
    if offer:
        ai_txt = (
            "# Spawning ai.txt: this site's media may be used for AI datasets\n"
            f"# on the terms of {offer['licence']}\n"
            "User-Agent: *\n"
            "Allow: /\n"
        )
    else:
        ai_txt = (
            "# Spawning ai.txt: no use of this site's media for AI datasets.\n"
            "User-Agent: *\n"
            "Disallow: /\n"
        )
    return [
        Block(
            ROBOTS,
            "robots.txt lines",
            f"{origin}/robots.txt (add to the file; keep your other lines)",
            "text/plain",
            robots,
        ),
        Block(
            TDMREP,
            "TDM reservation",
            f"{origin}/.well-known/tdmrep.json",
            "application/json",
            tdmrep,
        ),
        Block(
            META,
            "HTML meta tags",
            "in the <head> of every page",
            "text/html",
            meta,
        ),
        Block(
            RSL_DOCUMENT,
            "RSL licence",
            f"{origin}{RSL_PATH} (named by the robots.txt License: line)",
            "application/rsl+xml",
            rsl,
        ),
        Block(AI_TXT, "Spawning ai.txt", f"{origin}/ai.txt", "text/plain", ai_txt),
    ]


def live(
    said: HostSignals, ai_txt: str | None, *, offered: bool = False
) -> dict[str, bool]:
    """Which blocks the site serves, as far as its root goes: robots.txt
    refuses training by Content-Usage or Content-Signal; tdmrep.json
    reserves TDM; the RSL licence its robots.txt names prohibits training;
    ai.txt keeps every agent out. When the domain is `offered` on terms:
    robots.txt and the RSL licence allow training (and nothing refuses
    it), tdmrep.json reserves TDM with a policy, ai.txt lets agents in.
    (Meta tags live in pages, not read.)"""
    refusing = {rule.source for rule in said.refusals("/", TRAIN_AI)}
    fetchable = bool(ai_txt) and Protego.parse(ai_txt).can_fetch(
        f"https://{said.host}/a.jpg", "*"
    )
    if not offered:
        return {
            ROBOTS: bool(refusing & {"robots", "content-signal"}),
            TDMREP: "tdmrep" in refusing,
            RSL_DOCUMENT: "rsl" in refusing,
            AI_TXT: bool(ai_txt) and not fetchable,
        }
    allowing = {
        rule.source
        for rule in said.applicable("/", TRAIN_AI)
        if rule.allowed and rule.source not in refusing
    }
    return {
        ROBOTS: bool(allowing & {"robots", "content-signal"}),
        TDMREP: any(
            rule.source == "tdmrep" and "tdm-policy" in rule.value
            for rule in said.applicable("/", TRAIN_AI)
        ),
        RSL_DOCUMENT: "rsl" in allowing,
        AI_TXT: fetchable,
    }


def with_xmp(data: bytes) -> bytes:
    """`data` (JPEG, PNG, WebP, TIFF...) with plus:DataMining set to
    DMI-PROHIBITED-AIMLTRAINING in its XMP, the pixels untouched. Raises
    ValueError when Exiv2 cannot write this file's format."""
    import pyexiv2

    try:
        with pyexiv2.ImageData(data) as image:
            image.modify_xmp({"Xmp.plus.DataMining": DATA_MINING})
            return bytes(image.get_bytes())
    except Exception as exc:  # pyexiv2 raises RuntimeError for most failures
        raise ValueError(f"this file cannot carry XMP: {exc}") from None
