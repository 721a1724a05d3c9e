"""Every read of the registry: querysets scoped to their owner, and what staff
see when they review style claims and domain proofs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from optout.selectors import CaptionHits

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, F, Prefetch, Q, QuerySet

from accounts.models import User
from audit.models import AuditEvent
from core.errors import NotFound
from disputes.models import Dispute, FalseMatchReport
from optout.models import Match
from registry.models import (
    Claim,
    Fingerprint,
    Image,
    OptIn,
    RegistryIdentity,
    RegistryRevision,
    RightsHolder,
    Work,
    host_in_domains,
    prefix_host,
)
from workers.engine.consent import apply_opt_ins
from workers.engine.exceptions import target_of


def registry_revision_current() -> int:
    row = RegistryRevision.objects.filter(pk=1).first()
    return row.value if row else 0


def registry_identity() -> str:
    """This registry's id (a UUID), as receipts and the published keys name it.

    Migration 0007 makes the row; it is made here only for a database emptied
    since (a test's flush), and then once: the primary key is fixed.
    """
    row, _ = RegistryIdentity.objects.get_or_create(pk=1)
    return str(row.uuid)


def rights_holder_for_user(*, user: User) -> RightsHolder | None:
    if not user.is_authenticated:
        return None
    return RightsHolder.objects.filter(user=user).first()


def work_list_for_owner(
    *, owner: RightsHolder, status: str | None = None
) -> QuerySet[Work]:
    qs = (
        _with_offers(Work.objects.filter(owner=owner))
        .annotate(
            image_count=Count("images", distinct=True),
            pending_count=Count(
                "images", filter=Q(images__status=Image.Status.PENDING), distinct=True
            ),
        )
        .prefetch_related(
            Prefetch(
                "images",
                queryset=Image.objects.order_by("id").prefetch_related(
                    Prefetch(
                        "fingerprints",
                        queryset=Fingerprint.objects.filter(variant="original"),
                    )
                ),
            )
        )
        # Meta.ordering is dropped from GROUP BY queries (the counts above), and
        # pages of an unordered list may repeat or skip rows.
        .order_by("-created", "-id")
    )
    if status:
        qs = qs.filter(status=status)
    return qs


def work_get_for_owner(*, owner: RightsHolder, work_id: int) -> Work | None:
    return work_list_for_owner(owner=owner).filter(pk=work_id).first()


def image_list_for_owner(
    *, owner: RightsHolder, status: str | None = None, work_id: int | None = None
) -> QuerySet[Image]:
    qs = (
        Image.objects.filter(work__owner=owner)
        .select_related("work")
        .prefetch_related(
            Prefetch(
                "fingerprints", queryset=Fingerprint.objects.filter(variant="original")
            )
        )
        .order_by("-id")
    )
    if status:
        qs = qs.filter(status=status)
    if work_id:
        qs = qs.filter(work_id=work_id)
    return qs


def image_get_for_owner(*, owner: RightsHolder, image_id: int) -> Image | None:
    return image_list_for_owner(owner=owner).filter(pk=image_id).first()


@dataclass(frozen=True)
class HashOnlyDescriptors:
    """Enforced hash-only images that descriptor matching cannot use."""

    stale: int  # described by another model version
    missing: int  # registered without a descriptor


def hash_only_descriptors_not_current(*, version: str) -> HashOnlyDescriptors:
    """Count the enforced images registered by hashes alone whose descriptor
    is not of model `version`: the registry has no original to describe them
    again, so only their artists can (by submitting them again)."""
    counts = Image.objects.filter(
        source=Image.Source.HASHES,
        status=Image.Status.HASHED,
        work__status=Work.Status.ACTIVE,
    ).aggregate(
        missing=Count("pk", filter=Q(descriptors=None) | Q(descriptor_version="")),
        stale=Count(
            "pk",
            filter=~Q(descriptors=None)
            & ~Q(descriptor_version="")
            & ~Q(descriptor_version=version),
        ),
    )
    return HashOnlyDescriptors(stale=counts["stale"], missing=counts["missing"])


def image_ids_visible(
    *, user: User, images: Iterable[Image], original: bool = False
) -> set[int]:
    """The ids among `images` whose thumbnail (or, with `original`, original
    file) the user may see.

    Originals: the work's owner and staff. Thumbnails also: whoever disputed the
    image or its work, and curators with a match on the image in one of their
    jobs or a false-match report about it (the pages they see link to it).
    `images` need their `work` (select_related).
    """
    images = list(images)
    if not images or not (user.is_authenticated and user.is_active):
        return set()
    if user.is_staff:
        return {i.pk for i in images}
    visible = {i.pk for i in images if i.work.owner.user_id == user.pk}
    rest = [i for i in images if i.pk not in visible]
    if original or not rest:
        return visible
    ids = [i.pk for i in rest]
    work_of = {i.pk: i.work_id for i in rest}
    disputed = Dispute.objects.filter(disputer=user).filter(
        Q(image_id__in=ids) | Q(work_id__in=set(work_of.values()))
    )
    disputed_images = set(disputed.values_list("image_id", flat=True))
    disputed_works = set(disputed.values_list("work_id", flat=True))
    visible |= {
        pk for pk in ids if pk in disputed_images or work_of[pk] in disputed_works
    }
    visible |= set(
        Match.objects.filter(job__owner=user, image_id__in=ids).values_list(
            "image_id", flat=True
        )
    )
    visible |= set(
        FalseMatchReport.objects.filter(reporter=user, image_id__in=ids).values_list(
            "image_id", flat=True
        )
    )
    return visible


def image_get_for_viewer(*, user: User, image_id: int, original: bool) -> Image:
    """The image, if the user may see its original (or thumbnail); else NotFound."""
    image = Image.objects.select_related("work__owner").filter(pk=image_id).first()
    if image is None or image.pk not in image_ids_visible(
        user=user, images=[image], original=original
    ):
        raise NotFound("image not found")
    return image


def _with_offers(qs: QuerySet) -> QuerySet:
    """Claims or works with their standing opt-in prefetched (`open_opt_ins`)."""
    return qs.prefetch_related(
        Prefetch(
            "opt_ins",
            queryset=OptIn.objects.filter(until_revision=None),
            to_attr="open_opt_ins",
        )
    )


def claim_list_for_owner(
    *, owner: RightsHolder, state: str | None = None, kind: str | None = None
) -> QuerySet[Claim]:
    qs = _with_offers(Claim.objects.filter(owner=owner))
    if state:
        qs = qs.filter(state=state)
    if kind:
        qs = qs.filter(kind=kind)
    return qs


def claim_get_for_owner(*, owner: RightsHolder, claim_id: int) -> Claim | None:
    return _with_offers(Claim.objects.filter(owner=owner, pk=claim_id)).first()


def fingerprints_by_algorithm(image: Image) -> dict[str, Fingerprint]:
    """The original-variant fingerprints of an image (prefetched), by algorithm."""
    return {f.algorithm: f for f in image.fingerprints.all() if f.variant == "original"}


def style_review_queue() -> QuerySet[Claim]:
    return (
        Claim.objects.filter(kind=Claim.Kind.STYLE, state=Claim.State.PENDING_REVIEW)
        .select_related("owner__user")
        .order_by("created", "id")
    )


def prefix_review_queue() -> QuerySet[Claim]:
    """Prefix claims, exact URL claims past the per-host cap and claims under
    a revoked one, of confirmed accounts, oldest first."""
    return (
        Claim.objects.filter(
            kind__in=[Claim.Kind.PREFIX, Claim.Kind.URL],
            state=Claim.State.PENDING_REVIEW,
            # Those waiting for their claimant's email address wait for them.
            owner__user__email_verified_at__isnull=False,
        )
        .select_related("owner__user")
        .order_by("created", "id")
    )


def style_claim_for_review(*, claim_id: int) -> Claim | None:
    return (
        Claim.objects.filter(pk=claim_id, kind=Claim.Kind.STYLE)
        .select_related("owner__user")
        .first()
    )


@dataclass
class SimilarClaim:
    claim: Claim
    same: bool  # the same normalized name (or alias)
    score: float  # 0..1, similarity of the closest pair of names


@dataclass
class StyleReview:
    claim: Claim
    holder: RightsHolder
    works_count: int
    other_claims: list[Claim]
    verified_links: list[Claim]
    similar: list[SimilarClaim]
    hits: CaptionHits
    recent_jobs: int
    rows_per_job: int

    @property
    def same_name_claims(self) -> list[SimilarClaim]:
        return [s for s in self.similar if s.same]


def verified_links(*, holder: RightsHolder, claims: list[Claim]) -> list[Claim]:
    """The holder's claims that may be called verified: proved domains, and
    URL and prefix claims on a host the holder proved or that an admin
    approved. An exact URL anyone may claim at once is not among them."""
    active = [c for c in claims if c.state == Claim.State.ACTIVE]
    domains = [c.normalized for c in active if c.kind == Claim.Kind.DOMAIN]
    links = [c for c in active if c.kind in (Claim.Kind.URL, Claim.Kind.PREFIX)]
    approved = set(
        AuditEvent.objects.filter(
            action="claim.approve",
            target_type="claim",
            target_id__in=[c.pk for c in links],
        ).values_list("target_id", flat=True)
    )

    def proved(claim: Claim) -> bool:
        host = prefix_host(claim.normalized)
        return host_in_domains(host, domains)

    return [
        c
        for c in active
        if c.kind == Claim.Kind.DOMAIN
        or (c in links and (c.pk in approved or proved(c)))
    ]


NEAR_NAME_RATIO = 0.8


NEAR_NAMES_SCANNED = 5000


def style_review(*, claim: Claim, hits: CaptionHits) -> StyleReview:
    """What an admin weighs before approving a style claim; `hits` come from
    optout.selectors.style_caption_hits (captions of recent jobs)."""
    holder = claim.owner
    others = list(
        Claim.objects.filter(owner=holder).exclude(pk=claim.pk).order_by("kind", "id")
    )
    return StyleReview(
        claim=claim,
        holder=holder,
        works_count=Work.objects.filter(owner=holder).count(),
        other_claims=others,
        verified_links=verified_links(holder=holder, claims=others),
        similar=similar_style_claims(claim=claim),
        hits=hits,
        recent_jobs=settings.STYLE_REVIEW_RECENT_JOBS,
        rows_per_job=settings.STYLE_REVIEW_ROWS_PER_JOB,
    )


def similar_style_claims(*, claim: Claim) -> list[SimilarClaim]:
    """Other holders' live style claims with the same or a near name, the same
    first. Near: difflib's ratio >= 0.8 between any two of the names."""
    ours = {claim.normalized, *claim.aliases}
    live = (
        Claim.State.ACTIVE,
        Claim.State.PENDING_REVIEW,
        Claim.State.SUSPENDED,
        Claim.State.UNVERIFIED,
    )
    candidates = (
        Claim.objects.filter(kind=Claim.Kind.STYLE, state__in=live)
        .exclude(owner=claim.owner)
        .select_related("owner")
        .order_by("-id")[:NEAR_NAMES_SCANNED]
    )
    found: list[SimilarClaim] = []
    for other in candidates:
        theirs = {other.normalized, *other.aliases}
        if ours & theirs:
            found.append(SimilarClaim(claim=other, same=True, score=1.0))
            continue
        score = max(
            difflib.SequenceMatcher(None, a, b).ratio() for a in ours for b in theirs
        )
        if score >= NEAR_NAME_RATIO:
            found.append(SimilarClaim(claim=other, same=False, score=score))
    found.sort(key=lambda s: (not s.same, -s.score, s.claim.pk))
    return found


def domain_proof_problems() -> QuerySet[Claim]:
    """Domain claims whose last check failed, or whose proof was lost."""
    return (
        Claim.objects.filter(kind=Claim.Kind.DOMAIN)
        .filter(
            Q(
                state__in=[Claim.State.UNVERIFIED, Claim.State.ACTIVE],
                proof_failures__gt=0,
            )
            | Q(state=Claim.State.SUSPENDED, suspended_from="")
        )
        .select_related("owner__user")
        .order_by(F("proof_checked_at").desc(nulls_last=True), "-id")
    )


def registry_export_for_account(*, user: User) -> dict[str, Any]:
    """The account's profile, works (with their images' hashes) and claims,
    for its data export."""
    holder = rights_holder_for_user(user=user)
    if holder is None:
        return {"profile": None, "works": [], "claims": []}
    works = []
    for work in (
        Work.objects.filter(owner=holder)
        .prefetch_related("images__fingerprints")
        .order_by("id")
    ):
        works.append(
            {
                "id": work.pk,
                "title": work.title,
                "description": work.description,
                "source_urls": work.source_urls,
                "status": work.status,
                "created": work.created.isoformat(),
                "images": [
                    {
                        "id": image.pk,
                        "original_name": image.original_name,
                        "width": image.width,
                        "height": image.height,
                        "status": image.status,
                        "hashes": {
                            f.algorithm: f.hex
                            for f in image.fingerprints.all()
                            if f.variant == "original"
                        },
                    }
                    for image in work.images.all()
                ],
            }
        )
    claims = [
        {
            "id": c.pk,
            "kind": c.kind,
            "value": c.value,
            "normalized": c.normalized,
            "state": c.state,
            "aliases": c.aliases,
            "created": c.created.isoformat(),
        }
        for c in Claim.objects.filter(owner=holder).order_by("id")
    ]
    profile = {
        "display_name": holder.display_name,
        "contact_email": holder.contact_email,
        "website": holder.website,
        "verified": holder.verified,
    }
    return {"profile": profile, "works": works, "claims": claims}


@dataclass(frozen=True)
class ClaimStanding:
    """What a claim says per use, and how its holder was verified for it."""

    verified: str
    preferences: dict[str, str]


def claim_standings(*, claim_ids: Iterable[int]) -> dict[int, ClaimStanding]:
    """Each claim's preferences and how its holder was verified for it, in
    words: "domain proof" (an enforced domain claim, or a URL or prefix on a
    host its holder has proved), "admin review" (a prefix or style claim an
    admin approved) or "none" (an exact URL claimed without proof, within the
    per-host cap)."""
    claims = list(
        Claim.objects.filter(pk__in=set(claim_ids)).values_list(
            "pk", "owner_id", "kind", "normalized", "preferences"
        )
    )
    proved: dict[int, list[str]] = {}
    for owner_id, domain in Claim.objects.filter(
        owner_id__in={c[1] for c in claims},
        kind=Claim.Kind.DOMAIN,
        state=Claim.State.ACTIVE,
    ).values_list("owner_id", "normalized"):
        proved.setdefault(owner_id, []).append(domain)
    out = {}
    for pk, owner_id, kind, normalized, preferences in claims:
        if kind == Claim.Kind.DOMAIN:
            verified = "domain proof"
        elif kind == Claim.Kind.STYLE:
            verified = "admin review"
        else:
            host = prefix_host(normalized)
            if host_in_domains(host, proved.get(owner_id, [])):
                verified = "domain proof"
            else:
                verified = "admin review" if kind == Claim.Kind.PREFIX else "none"
        out[pk] = ClaimStanding(verified, dict(preferences or {"train-ai": "n"}))
    return out


def opt_ins_at(
    *, revision: int, targets: Iterable[str] | None = None
) -> dict[str, dict[str, str]]:
    """The consents in force at `revision`, by the targets matches name
    ("claim:12", "image:40": a work's consent covers each of its images)
    -> their terms; all of them, or those of the targets named."""
    rows = OptIn.objects.filter(
        Q(until_revision__isnull=True) | Q(until_revision__gt=revision),
        from_revision__lte=revision,
    )
    if targets is not None:
        claims, images = set(), set()
        for target in targets:
            space, _, ref = target.partition(":")
            (claims if space == "claim" else images).add(int(ref))
        if not claims and not images:
            return {}
        works = Image.objects.filter(pk__in=images).values("work_id")
        rows = rows.filter(Q(claim_id__in=claims) | Q(work_id__in=works))
    out: dict[str, dict[str, str]] = {}
    work_terms: dict[int, dict[str, str]] = {}
    for opt_in in rows:
        if opt_in.claim_id is not None:
            out[f"claim:{opt_in.claim_id}"] = opt_in.terms
        else:
            work_terms[opt_in.work_id] = opt_in.terms
    if work_terms:
        images_of = Image.objects.filter(work_id__in=work_terms)
        if targets is not None:
            images_of = images_of.filter(pk__in=images)
        for image_id, work_id in images_of.values_list("pk", "work_id"):
            out[f"image:{image_id}"] = work_terms[work_id]
    return out


def _bare(normalized: str) -> str:
    return normalized.split("://", 1)[-1].removeprefix("www.")


def opt_in_overrides(*, targets: Iterable[str]) -> dict[str, list[int]]:
    """For each opted-in claim named ("claim:12"), its holder's broader URL,
    prefix and domain claims, whatever their state: on the rows the offer
    covers, the holder's most specific word is the offer
    (workers/engine/consent.py). A broader claim not enforced at a job's
    revision has no match there to drop, so states need not be read."""
    ids = {int(t.split(":", 1)[1]) for t in targets if t.startswith("claim:")}
    if not ids:
        return {}
    offered = list(
        Claim.objects.filter(pk__in=ids).values_list(
            "pk", "owner_id", "kind", "normalized"
        )
    )
    theirs: dict[int, list[tuple[int, str, str]]] = {}
    for pk, owner_id, kind, normalized in Claim.objects.filter(
        owner_id__in={o[1] for o in offered},
        kind__in=[Claim.Kind.PREFIX, Claim.Kind.DOMAIN],
    ).values_list("pk", "owner_id", "kind", "normalized"):
        theirs.setdefault(owner_id, []).append((pk, kind, normalized))
    out: dict[str, list[int]] = {}
    for pk, owner_id, kind, normalized in offered:
        if kind == Claim.Kind.DOMAIN:
            host, bare = normalized, ""
        else:
            host, bare = prefix_host(normalized), _bare(normalized)
        broader = []
        for other, other_kind, other_value in theirs.get(owner_id, []):
            if other == pk:
                continue
            if other_kind == Claim.Kind.DOMAIN:
                covers = host_in_domains(host, [other_value]) and not (
                    kind == Claim.Kind.DOMAIN and other_value == host
                )
            else:
                covers = (
                    bool(bare)
                    and bare.startswith(_bare(other_value))
                    and (kind == Claim.Kind.URL or len(_bare(other_value)) < len(bare))
                )
            if covers:
                broader.append(other)
        if broader:
            out[f"claim:{pk}"] = sorted(broader)
    return out


def opt_ins_apply(*, revision: int | None, found: list[Any]) -> list[Any]:
    """The engine's matches with those on a target opted in at `revision`
    turned into opt-in matches, and those its holder's broader claims make
    on the same rows dropped (workers/engine/consent.py); two queries per
    batch, for the claims and images the batch hit."""
    if not found or revision is None:
        return found
    opted_in = opt_ins_at(revision=revision, targets={target_of(m) for m in found})
    if not opted_in:
        return found
    return apply_opt_ins(found, opted_in, opt_in_overrides(targets=opted_in))
