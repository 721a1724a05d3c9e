"""Publishing a refusal where others read it: the blocks an artist puts on a
domain they have proved, which of them their site serves, and their
originals with the refusal in XMP (workers/engine/publishing.py).

The domain check (registry/services/domain_proof.py) reads what the site
publishes each time it checks the proof, with the same fetcher; the result
is kept on the claim (`Claim.published`) and shown on its publish page.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.errors import NotFound, ValidationFailed
from registry.models import Claim, Image, RightsHolder
from registry.services.optins import opt_in_for
from workers.engine import publishing, webproof
from workers.engine.websignals import WEB_PROTOCOLS, check_host

PUBLISH_PATH = "/claims/{id}/publish/"


@dataclass(frozen=True)
class Publication:
    """An active domain claim's blocks and what its site serves of them."""

    claim: Claim
    blocks: list[publishing.Block]
    live: dict[str, bool]  # block name -> served; empty before a check
    checked_at: datetime | None
    problems: list[str]
    offered: bool = False  # offered for training on terms (an opt-in)


def _policy_url(claim: Claim) -> str:
    return settings.SITE_URL.rstrip("/") + PUBLISH_PATH.format(id=claim.pk)


def _active_domain(*, claim_id: int, owner: RightsHolder) -> Claim:
    claim = Claim.objects.filter(
        pk=claim_id, owner=owner, kind=Claim.Kind.DOMAIN
    ).first()
    if claim is None:
        raise NotFound("claim not found")
    if claim.state != Claim.State.ACTIVE:
        raise ValidationFailed(
            "prove that you control the domain first: blocks are for domains "
            "the registry enforces"
        )
    return claim


def claim_publication(*, claim_id: int, owner: RightsHolder) -> Publication:
    """The publish page of one of `owner`'s enforced domain claims."""
    claim = _active_domain(claim_id=claim_id, owner=owner)
    published = claim.published or {}
    checked = published.get("checked_at")
    offer = opt_in_for(claim)
    return Publication(
        claim=claim,
        blocks=publishing.blocks(
            claim.normalized,
            policy_url=_policy_url(claim),
            preferences=claim.preferences,
            offer=offer.terms if offer else None,
        ),
        live=dict(published.get("live") or {}),
        checked_at=parse_datetime(checked) if checked else None,
        problems=list(published.get("problems") or []),
        offered=offer is not None,
    )


def claim_publication_block(
    *, claim_id: int, owner: RightsHolder, name: str
) -> publishing.Block:
    """One block, to download as the file it is."""
    for block in claim_publication(claim_id=claim_id, owner=owner).blocks:
        if block.name == name:
            return block
    raise NotFound("no such block")


def published_read(
    domain: str, config: webproof.ProofConfig, *, offered: bool = False
) -> dict[str, Any]:
    """What `domain`'s site publishes of the refusal (or, `offered`, of the
    offer on terms), as Claim.published keeps it. Network; the caller holds
    no transaction."""
    config = replace(
        config,
        user_agent=f"{webproof.SLUG}-signals/1 (+{settings.SITE_URL.rstrip('/')}/)",
    )
    now = timezone.now()
    said = check_host(domain, config, WEB_PROTOCOLS, now.isoformat())
    port = f":{config.port}" if config.port else ""
    ai_txt: str | None = None
    problems = list(said.problems)
    try:
        response = webproof.fetch(f"{config.scheme}://{domain}{port}/ai.txt", config)
    except webproof.FetchFailed as exc:
        problems.append(f"ai.txt could not be fetched: {exc}")
    else:
        if response.status == 200:
            ai_txt = response.body.decode("utf-8", "replace")
    return {
        "checked_at": now.isoformat(),
        "live": publishing.live(said, ai_txt, offered=offered),
        "problems": problems,
    }


def image_original_with_xmp(*, image: Image) -> bytes:
    """The owner's original with the refusal in its XMP (pixels untouched).
    Raises ValidationFailed naming the format when it cannot carry XMP."""
    with image.original.open("rb") as fh:
        data = fh.read()
    try:
        return publishing.with_xmp(data)
    except ValueError as exc:
        raise ValidationFailed(f"{image.format or 'this'} file: {exc}") from None
