"""Helpers shared by the page tests (tests/registry/test_page_*.py)."""

from __future__ import annotations

from django.http import HttpResponse
from django.urls import reverse

from core.uploads import bytes_file
from registry.models import Image, RightsHolder, Work
from registry.services import image_fingerprint, portfolio_upload
from tests.images import image_bytes, truncated_png


def upload(
    holder: RightsHolder, *seeds: int, work_id: int | None = None
) -> list[Image]:
    """Upload drawn PNGs (art-<seed>.png) through the service; they stay pending."""
    result = portfolio_upload(
        owner=holder,
        files=[bytes_file(f"art-{seed}.png", image_bytes(seed)) for seed in seeds],
        work_id=work_id,
    )
    return result.images


def fingerprint(image: Image) -> Image:
    """Run the worker's service in-process, as a worker would."""
    done = image_fingerprint(image_id=image.pk)
    assert done is not None
    return done


def work_of(image: Image) -> Work:
    return Work.objects.get(pk=image.work_id)


def assert_login_redirect(response: HttpResponse, url: str) -> None:
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


def fail(image: Image) -> Image:
    """Damage the stored original, then fingerprint: the image ends up failed."""
    with open(image.original.path, "wb") as fh:
        fh.write(truncated_png(0))
    return fingerprint(image)
