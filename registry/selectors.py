"""Every read of the registry: querysets scoped to their owner."""

from __future__ import annotations

from django.db.models import Count, Prefetch, Q, QuerySet

from .models import (
    ApiToken,
    Claim,
    Fingerprint,
    Image,
    RegistryRevision,
    RightsHolder,
    User,
    Work,
)


def registry_revision_current() -> int:
    row = RegistryRevision.objects.filter(pk=1).first()
    return row.value if row else 0


def rights_holder_for_user(*, user: User) -> RightsHolder | None:
    if not user.is_authenticated:
        return None
    return RightsHolder.objects.filter(user=user).first()


def work_list_for_owner(
    *, owner: RightsHolder, status: str | None = None
) -> QuerySet[Work]:
    qs = (
        Work.objects.filter(owner=owner)
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


def claim_list_for_owner(
    *, owner: RightsHolder, state: str | None = None, kind: str | None = None
) -> QuerySet[Claim]:
    qs = Claim.objects.filter(owner=owner)
    if state:
        qs = qs.filter(state=state)
    if kind:
        qs = qs.filter(kind=kind)
    return qs


def claim_get_for_owner(*, owner: RightsHolder, claim_id: int) -> Claim | None:
    return Claim.objects.filter(owner=owner, pk=claim_id).first()


def api_token_list_for_user(*, user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user)


def fingerprints_by_algorithm(image: Image) -> dict[str, Fingerprint]:
    """The original-variant fingerprints of an image (prefetched), by algorithm."""
    return {f.algorithm: f for f in image.fingerprints.all() if f.variant == "original"}
