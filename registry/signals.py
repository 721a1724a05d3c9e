"""Saves and deletions that may change what is enforced note the claim or
image for the index (registry.services.revision.index_touch); the next
revision bump records them as ops."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save

from registry.models import Claim, Image, IndexChange, Work


def _claim_changed(sender: Any, instance: Claim, **kwargs: Any) -> None:
    IndexChange.objects.create(space=IndexChange.Space.CLAIM, ref=instance.pk)


def _image_changed(sender: Any, instance: Image, **kwargs: Any) -> None:
    IndexChange.objects.create(space=IndexChange.Space.IMAGE, ref=instance.pk)


def _work_changed(
    sender: Any, instance: Work, created: bool = False, **kwargs: Any
) -> None:
    if created:
        return
    from registry.services.revision import index_touch

    index_touch(
        IndexChange.Space.IMAGE,
        Image.objects.filter(work_id=instance.pk).values_list("pk", flat=True),
    )


def _exclusion_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    IndexChange.objects.create(space=IndexChange.Space.IMAGE, ref=instance.image_id)


def connect() -> None:
    for signal in (post_save, post_delete):
        signal.connect(
            _claim_changed, sender=Claim, dispatch_uid=f"index-claim-{signal}"
        )
        signal.connect(
            _image_changed, sender=Image, dispatch_uid=f"index-image-{signal}"
        )
        signal.connect(
            _exclusion_changed,
            sender="disputes.ImageExclusion",
            dispatch_uid=f"index-exclusion-{signal}",
        )
    post_save.connect(_work_changed, sender=Work, dispatch_uid="index-work")
