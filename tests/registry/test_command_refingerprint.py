"""manage.py refingerprint: stored fingerprints follow an algorithm upgrade."""

from __future__ import annotations

import io
import time

import pytest
from django.core.management import call_command

from core.uploads import bytes_file
from registry.models import Fingerprint, Image, RightsHolder
from registry.services import (
    image_fingerprint,
    image_register_hashes,
    portfolio_upload,
    work_withdraw,
)
from tests.images import image_bytes
from workers.engine import descriptor
from workers.engine.fingerprint import (
    ALGORITHM_VERSIONS,
    fingerprint_bytes,
    unpack_variants,
    variants_version,
)
from workers.engine.perceptual import SCHEMES

OLD_PHASH = "imagehash-0.1:8x8"


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("refingerprint", *args, stdout=out)
    return out.getvalue()


def hashed_images(holder: RightsHolder, seeds: list[int]) -> list[Image]:
    result = portfolio_upload(
        owner=holder,
        files=[bytes_file(f"art-{s}.png", image_bytes(s)) for s in seeds],
    )
    # No worker here: fingerprint each image in-process, as the worker would.
    return [image_fingerprint(image_id=i.pk) for i in result.images]


def versions(image: Image) -> dict[str, str]:
    return dict(
        image.fingerprints.filter(variant="original").values_list(
            "algorithm", "version"
        )
    )


def variants(image: Image) -> dict[str, str]:
    """Registry-side PDQ variants: name -> version."""
    image.refresh_from_db()
    return dict.fromkeys(unpack_variants(image.pdq_variants), image.variants_version)


def age(image: Image, algorithm: str = "phash", version: str = OLD_PHASH) -> None:
    """Pretend the image was hashed before an upgrade of `algorithm`."""
    Fingerprint.objects.filter(image=image, algorithm=algorithm).update(version=version)


@pytest.mark.django_db
def test_sync_brings_outdated_images_up_to_the_current_versions(holder):
    old, other_old, current = hashed_images(holder, [1, 2, 3])
    age(old)
    age(other_old, "pdq", "pdqhash-0.1:1")
    Fingerprint.objects.filter(image=other_old, algorithm="md5").delete()
    current_thumbnail = current.thumbnail.name
    current_time = current.fingerprinted_at

    out = run("--sync")

    assert out == "Re-fingerprinted 2 images.\n"
    for image, seed in ((old, 1), (other_old, 2)):
        image.refresh_from_db()
        assert versions(image) == ALGORITHM_VERSIONS
        assert image.status == Image.Status.HASHED
        want = fingerprint_bytes(image_bytes(seed)).fingerprints
        assert image.fingerprints.get(algorithm="phash").hex == want.phash.hex()
        assert image.fingerprints.get(algorithm="md5").hex == want.md5.hex()
    current.refresh_from_db()
    assert current.fingerprinted_at == current_time
    assert current.thumbnail.name == current_thumbnail


@pytest.mark.django_db
def test_images_get_the_variants_of_the_configured_scheme(holder, settings):
    (image,) = hashed_images(holder, [4])
    scheme = settings.MATCH_VARIANT_SCHEME
    assert variants(image) == dict.fromkeys(SCHEMES[scheme], variants_version(scheme))
    want = fingerprint_bytes(image_bytes(4), variants=SCHEMES[scheme]).fingerprints
    stored = unpack_variants(image.pdq_variants)
    assert stored["rot+3"] == want.pdq_variants["rot+3"]
    # Only the image's own hashes are rows; the variants are one packed value.
    assert set(image.fingerprints.values_list("variant", flat=True)) == {"original"}


@pytest.mark.django_db
def test_a_new_variant_scheme_refingerprints_every_image(holder, settings):
    images = hashed_images(holder, [1, 2])
    settings.MATCH_VARIANT_SCHEME = "dihedral"

    assert run("--sync") == "Re-fingerprinted 2 images.\n"

    for image in images:
        assert variants(image) == dict.fromkeys(
            SCHEMES["dihedral"], variants_version("dihedral")
        )
    assert run("--sync") == "Re-fingerprinted 0 images.\n"
    settings.MATCH_VARIANT_SCHEME = "plain"
    assert run("--sync") == "Re-fingerprinted 2 images.\n"
    assert all(variants(image) == {} for image in images)


@pytest.mark.django_db
def test_nothing_is_done_when_every_image_is_current(holder):
    hashed_images(holder, [1])
    assert run("--sync") == "Re-fingerprinted 0 images.\n"


@pytest.mark.django_db
def test_all_redoes_current_images_too(holder):
    images = hashed_images(holder, [1, 2])
    before = {i.pk: i.fingerprinted_at for i in images}

    assert run("--all", "--sync") == "Re-fingerprinted 2 images.\n"

    for image in images:
        image.refresh_from_db()
        assert image.fingerprinted_at > before[image.pk]
        assert versions(image) == ALGORITHM_VERSIONS


@pytest.mark.django_db
def test_images_registered_by_hashes_alone_are_left_alone(holder):
    image_register_hashes(
        owner=holder, title="Hashes only", hashes={"phash": "879c69552c54cbe6"}
    )
    (image,) = hashed_images(holder, [1])
    age(image)

    assert run("--all", "--sync") == "Re-fingerprinted 1 image.\n"
    assert Fingerprint.objects.get(version="submitted").hex == "879c69552c54cbe6"


def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting for the worker"
        time.sleep(0.1)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_without_sync_the_work_is_queued_for_a_real_worker(celery_worker, holder):
    # The upload commits and queues the first fingerprinting; the worker does it.
    result = portfolio_upload(
        owner=holder, files=[bytes_file(f"art-{s}.png", image_bytes(s)) for s in (1, 2)]
    )
    ids = [image.pk for image in result.images]
    wait_for(lambda: Image.objects.filter(pk__in=ids, status="hashed").count() == 2)
    old, current = Image.objects.filter(pk__in=ids).order_by("pk")
    age(old)

    assert run() == "Queued 1 image for re-fingerprinting.\n"

    wait_for(lambda: versions(old) == ALGORITHM_VERSIONS)
    assert Image.objects.get(pk=current.pk).fingerprinted_at == current.fingerprinted_at


def hash_only(holder: RightsHolder, seed: int, *, described: bool) -> Image:
    prints = fingerprint_bytes(image_bytes(seed), descriptors=described).fingerprints
    return image_register_hashes(
        owner=holder,
        title=f"Hashes only {seed}",
        hashes={"pdq": prints.pdq.hex()},
        descriptor=descriptor.to_text(prints.descriptors) if described else "",
        descriptor_version=prints.descriptor_version,
    )


@pytest.mark.django_db
def test_it_counts_hash_only_images_it_cannot_describe_again(holder, settings):
    settings.MATCH_DESCRIPTOR = True
    current = hash_only(holder, 1, described=True)
    stale = hash_only(holder, 2, described=True)
    hash_only(holder, 3, described=False)
    withdrawn = hash_only(holder, 4, described=False)
    work_withdraw(owner=holder, work_id=withdrawn.work_id)
    Image.objects.filter(pk=stale.pk).update(descriptor_version="descriptor-v0:old:r6")

    out = run("--sync")

    assert out == (
        "Re-fingerprinted 0 images.\n"
        "2 images registered by hashes alone cannot be matched by descriptor "
        "(1 with a descriptor of an older model, 1 without one). There is no "
        f"original to describe them with {descriptor.version()}: their artists "
        "must run manage.py fingerprint with this release and register those "
        "images by hashes again. Their hashes still match.\n"
    )
    # nothing was changed
    current.refresh_from_db()
    assert current.descriptor_version == descriptor.version()
    assert Image.objects.get(pk=stale.pk).descriptor_version == "descriptor-v0:old:r6"


@pytest.mark.django_db
def test_it_says_nothing_of_hash_only_images_when_they_are_described(holder, settings):
    settings.MATCH_DESCRIPTOR = True
    hash_only(holder, 1, described=True)
    assert run("--sync") == "Re-fingerprinted 0 images.\n"


@pytest.mark.django_db
def test_it_says_nothing_of_descriptors_when_they_are_off(holder, settings):
    settings.MATCH_DESCRIPTOR = False
    hash_only(holder, 1, described=False)
    assert run() == "Queued 0 images for re-fingerprinting.\n"
