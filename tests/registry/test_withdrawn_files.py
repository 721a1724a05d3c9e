"""A withdrawn work's original and thumbnail are deleted after the grace period.

The periodic sweep (registry.withdrawn_files_sweep, on Celery beat) deletes the
files of works withdrawn more than WITHDRAWN_FILES_GRACE_DAYS ago and records
it; the image rows and their fingerprints stay, and pages say "Files deleted"
instead of showing a broken image.
"""

from __future__ import annotations

import os

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from audit.models import AuditEvent
from registry.models import Fingerprint, Image, Work
from registry.services import (
    images_refingerprint,
    withdrawn_files_sweep,
    work_withdraw,
)
from registry.tasks import withdrawn_files_sweep as sweep_task
from tests.disputes.helpers import Clock
from tests.pages import fingerprint, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(monkeypatch) -> Clock:
    return Clock(monkeypatch)


@pytest.fixture
def image(holder) -> Image:
    (uploaded,) = upload(holder, 1)
    return fingerprint(uploaded)


def withdrawn(image: Image) -> Image:
    work_withdraw(owner=image.work.owner, work_id=image.work_id)
    return image


def paths(image: Image) -> list[str]:
    return [image.original.path, image.thumbnail.path]


def test_files_stay_until_the_grace_period_is_over(client, artist, clock, image):
    withdrawn(image)
    clock.advance(days=29, hours=23)
    assert withdrawn_files_sweep() == 0
    assert all(os.path.exists(p) for p in paths(image))
    client.force_login(artist)
    assert client.get(f"/files/image/{image.pk}/original").status_code == 200
    text = client.get(reverse("work_detail", args=[image.work_id])).content.decode()
    assert f'src="/files/image/{image.pk}/thumbnail"' in text


def test_after_the_grace_period_the_files_are_deleted_and_pages_say_so(
    client, artist, artist_client, clock, image
):
    files = paths(image)
    prints = set(Fingerprint.objects.filter(image=image).values_list("pk", "value"))
    withdrawn(image)
    clock.advance(days=30, minutes=1)

    assert withdrawn_files_sweep() == 1

    assert not any(os.path.exists(p) for p in files)
    image.refresh_from_db()
    assert (image.original.name, image.thumbnail.name) == ("", "")
    assert image.files_deleted_at == clock.now
    assert image.original_name == "art-1.png"
    assert image.status == Image.Status.HASHED
    # The fingerprints stay.
    assert (
        set(Fingerprint.objects.filter(image=image).values_list("pk", "value"))
        == prints
    )
    client.force_login(artist)
    assert client.get(f"/files/image/{image.pk}/original").status_code == 404
    assert client.get(f"/files/image/{image.pk}/thumbnail").status_code == 404
    text = client.get(reverse("work_detail", args=[image.work_id])).content.decode()
    assert "Files deleted" in text
    assert "<img" not in text
    data = artist_client.get(f"/api/v1/images/{image.pk}/").json()
    assert (data["original_url"], data["thumbnail_url"]) == (None, None)
    assert data["fingerprints"]["phash"] is not None


def test_the_deletion_is_audited_once(clock, holder, image):
    withdrawn(image)
    clock.advance(days=31)
    withdrawn_files_sweep()
    assert withdrawn_files_sweep() == 0
    events = AuditEvent.objects.filter(action="work.files_delete")
    assert [(e.target_type, e.target_id, e.holder_id) for e in events] == [
        ("work", image.work_id, holder.pk)
    ]
    assert events[0].actor is None
    assert events[0].after == {"images_with_files": 0}


def test_active_works_keep_their_files(clock, holder, image):
    (other,) = upload(holder, 2)
    other = fingerprint(other)
    withdrawn(other)
    clock.advance(days=365)
    assert withdrawn_files_sweep() == 1
    image.refresh_from_db()
    assert image.files_deleted_at is None
    assert all(os.path.exists(p) for p in paths(image))


def test_the_grace_period_is_a_setting(settings, clock, image):
    settings.WITHDRAWN_FILES_GRACE_DAYS = 0
    withdrawn(image)
    files = paths(image)
    assert withdrawn_files_sweep() == 1
    assert not any(os.path.exists(p) for p in files)


def test_a_file_already_gone_is_no_error(clock, image):
    withdrawn(image)
    os.remove(image.original.path)
    clock.advance(days=31)
    assert withdrawn_files_sweep() == 1
    image.refresh_from_db()
    assert image.files_deleted_at is not None


def test_refingerprinting_leaves_images_without_files_alone(clock, image):
    withdrawn(image)
    clock.advance(days=31)
    withdrawn_files_sweep()
    assert images_refingerprint(force=True, sync=True) == 0
    image.refresh_from_db()
    assert image.status == Image.Status.HASHED


def test_the_task_is_on_the_beat_schedule_and_runs_the_sweep(clock, image):
    schedule = django_settings.CELERY_BEAT_SCHEDULE["withdrawn-files-sweep"]
    assert schedule["task"] == sweep_task.name == "registry.withdrawn_files_sweep"
    assert django_settings.CELERY_TASK_ROUTES[sweep_task.name] == {"queue": "celery"}
    withdrawn(image)
    clock.advance(days=31)
    assert sweep_task.apply().get() == 1
    assert Work.objects.get(pk=image.work_id).status == Work.Status.WITHDRAWN
