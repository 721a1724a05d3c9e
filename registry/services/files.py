"""Deleting the stored files of withdrawn works once their grace period is over.

A withdrawn work is no longer enforced, so the registry has no reason to keep
the artist's pictures: WITHDRAWN_FILES_GRACE_DAYS after withdrawal, each image's
original and thumbnail are deleted and the image records when. Rows and
fingerprints stay: they are the record of what was enforced, and the audit log
names them. The local features stay too (keypoints, not a picture).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from audit.services import audit_record
from registry.models import Image, Work

# Works handled per run; the periodic task picks up the rest next time.
SWEEP_BATCH = 200


def _images_with_files(work_id: int) -> list[Image]:
    return list(
        Image.objects.filter(work_id=work_id, files_deleted_at__isnull=True)
        .exclude(original="", thumbnail="")
        .only("pk", "original", "thumbnail")
    )


def work_files_delete(*, work_id: int, now: datetime | None = None) -> int:
    """Delete the original and thumbnail of every image of a withdrawn work.

    Idempotent: images already done are skipped, and a file already gone is
    no error. Returns how many images lost their files. The files go first
    and the rows are marked after, so a crash in between leaves a row that the
    next run finishes, never a file that nothing points at any more.
    """
    now = now or timezone.now()
    work = Work.objects.select_related("owner").filter(pk=work_id).first()
    if work is None or work.status != Work.Status.WITHDRAWN:
        return 0
    images = _images_with_files(work.pk)
    if not images:
        return 0
    for image in images:
        for name in (image.original.name, image.thumbnail.name):
            if name:
                default_storage.delete(name)
    with transaction.atomic():
        done = Image.objects.filter(
            pk__in=[i.pk for i in images], files_deleted_at__isnull=True
        ).update(original="", thumbnail="", files_deleted_at=now)
        if done:
            audit_record(
                actor=None,
                action="work.files_delete",
                target=work,
                holder=work.owner,
                before={"images_with_files": done},
                after={"images_with_files": 0},
                reason=(
                    f"withdrawn on {work.withdrawn_at:%Y-%m-%d}; files are kept "
                    f"{settings.WITHDRAWN_FILES_GRACE_DAYS} days after withdrawal"
                )
                if work.withdrawn_at
                else "",
            )
    return done


def withdrawn_files_sweep(*, now: datetime | None = None) -> int:
    """Delete the files of works withdrawn more than the grace period ago.

    Returns how many images lost their files in this run (at most the images of
    SWEEP_BATCH works).
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.WITHDRAWN_FILES_GRACE_DAYS)
    has_files = Image.objects.filter(
        work=OuterRef("pk"), files_deleted_at__isnull=True
    ).exclude(original="", thumbnail="")
    work_ids = list(
        Work.objects.filter(status=Work.Status.WITHDRAWN, withdrawn_at__lte=cutoff)
        .filter(Exists(has_files))
        .order_by("withdrawn_at", "pk")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    return sum(work_files_delete(work_id=pk, now=now) for pk in work_ids)
