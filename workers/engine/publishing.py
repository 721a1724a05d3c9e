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

`live` reads a site's answers (a websignals.HostSignals, plus its ai.txt)
and says which of them state the refusal for the site's root. `with_xmp`
writes IPTC's plus:DataMining into an image without re-encoding it
(pyexiv2, the maintained binding of Exiv2).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

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
) -> list[Block]:
    """The blocks for `domain`, in the order a page shows them. `preferences`
    (aipref category -> y/n; train-ai is always n) are what the claim says."""
    stated = {**(preferences or {}), TRAIN_AI: "n"}
    usage = ", ".join(
        f"{c}={stated[c]}" for c in (TRAIN_AI, AI_USE, SEARCH) if c in stated
    )
    signal = ["ai-train=no"]
    if SEARCH in stated:
        signal.append(f"search={'yes' if stated[SEARCH] == 'y' else 'no'}")
    if AI_USE in stated:
        signal.append(f"ai-input={'yes' if stated[AI_USE] == 'y' else 'no'}")
    prohibited = ["ai-all" if stated.get(AI_USE) == "n" else "ai-train"]
    if stated.get(SEARCH) == "n":
        prohibited.append("search")
    origin = f"https://{domain}"
    robots = (
        "# AI usage preferences for this site (IETF aipref, Content Signals).\n"
        "User-agent: *\n"
        f"Content-Usage: / {usage}\n"
        f"Content-Signal: {', '.join(signal)}\n"
        f"License: {origin}{RSL_PATH}\n"
    )
    reservation: dict[str, object] = {"location": "/", "tdm-reservation": 1}
    if policy_url:
        reservation["tdm-policy"] = policy_url
    tdmrep = json.dumps([reservation], indent=2) + "\n"
    meta = (
        '<meta name="tdm-reservation" content="1">\n'
        '<meta name="robots" content="noai, noimageai">\n'
    )
    rsl = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rsl xmlns="https://rslstandard.org/rsl">\n'
        '  <content url="/">\n'
        "    <license>\n"
        f'      <prohibits type="usage">{" ".join(prohibited)}</prohibits>\n'
        "    </license>\n"
        "  </content>\n"
        "</rsl>\n"
    )
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


def live(said: HostSignals, ai_txt: str | None) -> dict[str, bool]:
    """Which blocks the site serves, as far as its root goes: robots.txt
    refuses training by Content-Usage or Content-Signal; tdmrep.json
    reserves TDM; the RSL licence its robots.txt names prohibits training;
    ai.txt keeps every agent out. (Meta tags live in pages, not read.)"""
    refusing = {rule.source for rule in said.refusals("/", TRAIN_AI)}
    return {
        ROBOTS: bool(refusing & {"robots", "content-signal"}),
        TDMREP: "tdmrep" in refusing,
        RSL_DOCUMENT: "rsl" in refusing,
        AI_TXT: bool(ai_txt)
        and not Protego.parse(ai_txt).can_fetch(f"https://{said.host}/a.jpg", "*"),
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
