from __future__ import annotations

import pathlib

import pytest
from django.conf import settings

from core.errors import Conflict, NotFound, ValidationFailed
from core.uploads import bytes_file
from registry.models import Fingerprint, Image, Work
from registry.selectors import registry_revision_current
from registry.services import (
    image_fingerprint,
    image_needs_refingerprint,
    image_register_hashes,
    portfolio_upload,
    work_create,
    work_withdraw,
)
from tests.images import image_bytes, truncated_png, zip_bytes
from workers.engine.fingerprint import ALGORITHM_VERSIONS, fingerprint_bytes

pytestmark = pytest.mark.django_db


def media_files() -> set[str]:
    root = pathlib.Path(settings.MEDIA_ROOT)
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_each_uploaded_image_becomes_a_pending_work(
    holder, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        result = portfolio_upload(
            owner=holder,
            files=[
                bytes_file("sunset_over-sea.png", image_bytes(1)),
                bytes_file("b.jpg", image_bytes(2, "JPEG")),
            ],
        )
    assert [w.title for w in result.works] == ["sunset over sea", "b"]
    assert [i.status for i in result.images] == ["pending", "pending"]
    assert [i.original_name for i in result.images] == ["sunset_over-sea.png", "b.jpg"]
    assert result.rejected == []
    assert len(callbacks) == 2  # one fingerprint task queued per image, after commit
    # Originals are stored under random names, never the user's.
    stored = media_files()
    assert len(stored) == 2 and not any("sunset" in p for p in stored)


def test_images_can_be_added_to_one_work(holder):
    work = work_create(owner=holder, title="Triptych")
    result = portfolio_upload(
        owner=holder,
        work_id=work.pk,
        files=[bytes_file(f"{i}.png", image_bytes(i)) for i in range(3)],
    )
    assert result.works == [work]
    assert work.images.count() == 3


def test_it_refuses_to_add_images_to_someone_elses_work(holder, other_holder):
    work = work_create(owner=other_holder, title="Theirs")
    with pytest.raises(NotFound):
        portfolio_upload(
            owner=holder, work_id=work.pk, files=[bytes_file("a.png", image_bytes(1))]
        )
    assert media_files() == set()


def test_good_files_are_kept_when_others_are_rejected(holder):
    result = portfolio_upload(
        owner=holder,
        files=[
            bytes_file("good.png", image_bytes(1)),
            bytes_file("notes.txt", b"just text"),
            bytes_file("cut.png", truncated_png(2)),
            bytes_file("also-good.webp", image_bytes(3, "WEBP")),
        ],
    )
    assert [i.original_name for i in result.images] == ["good.png", "also-good.webp"]
    assert [r.as_dict() for r in result.rejected] == [
        {"file": "notes.txt", "message": "not an image (unrecognised file format)"},
        {"file": "cut.png", "message": "the image file is truncated"},
    ]
    assert Image.objects.count() == 2


def test_when_nothing_is_good_the_error_lists_every_file(holder):
    with pytest.raises(ValidationFailed) as exc:
        portfolio_upload(
            owner=holder, files=[bytes_file("a.txt", b"text"), bytes_file("b.png", b"")]
        )
    assert exc.value.field == "files"
    assert exc.value.message == (
        "none of the 2 files was accepted: a.txt: not an image (unrecognised file "
        "format); b.png: the file is empty"
    )
    assert exc.value.extra["rejected"][1] == {
        "file": "b.png",
        "message": "the file is empty",
    }
    assert not Work.objects.exists() and media_files() == set()


def test_an_upload_without_files_is_rejected(holder):
    with pytest.raises(ValidationFailed) as exc:
        portfolio_upload(owner=holder, files=[])
    assert (exc.value.field, exc.value.message) == ("files", "no files were uploaded")


def test_zip_members_are_registered_and_unsafe_paths_rejected(holder, tmp_path):
    archive = zip_bytes(
        {
            "portfolio/one.png": image_bytes(1),
            "__MACOSX/portfolio/._one.png": b"junk",
            "../evil.png": image_bytes(2),
            "/etc/evil.png": image_bytes(3),
            "portfolio/two.jpg": image_bytes(4, "JPEG"),
            "portfolio/inner.zip": zip_bytes({"x.png": image_bytes(5)}),
        }
    )
    result = portfolio_upload(owner=holder, files=[bytes_file("art.zip", archive)])
    assert [i.original_name for i in result.images] == [
        "art.zip: portfolio/one.png",
        "art.zip: portfolio/two.jpg",
    ]
    assert [r.as_dict() for r in result.rejected] == [
        {
            "file": "art.zip: ../evil.png",
            "message": "paths with '..' are not allowed in a ZIP",
        },
        {
            "file": "art.zip: /etc/evil.png",
            "message": "absolute paths are not allowed in a ZIP",
        },
        {
            "file": "art.zip: portfolio/inner.zip",
            "message": "nested ZIP archives are not accepted",
        },
    ]
    assert [w.title for w in result.works] == ["one", "two"]
    assert len(media_files()) == 2
    assert not (pathlib.Path(settings.MEDIA_ROOT).parent / "evil.png").exists()


def test_a_zip_that_expands_past_the_limit_is_refused(holder, settings):
    settings.ZIP_MAX_TOTAL_BYTES = 1000
    archive = zip_bytes({"a.png": image_bytes(1)})
    with pytest.raises(ValidationFailed) as exc:
        portfolio_upload(owner=holder, files=[bytes_file("big.zip", archive)])
    assert exc.value.message.startswith("big.zip: the ZIP expands to ")
    assert exc.value.message.endswith("(possible ZIP bomb)")


def test_a_zip_with_too_many_members_is_refused(holder, settings):
    settings.ZIP_MAX_MEMBERS = 2
    archive = zip_bytes({f"{i}.png": image_bytes(i) for i in range(3)})
    with pytest.raises(ValidationFailed) as exc:
        portfolio_upload(owner=holder, files=[bytes_file("many.zip", archive)])
    assert exc.value.message == "many.zip: the ZIP has 3 files, over the limit of 2"


def test_a_highly_compressed_member_is_refused(holder):
    archive = zip_bytes(
        {"bomb.png": b"\0" * (20 * 1024 * 1024), "ok.png": image_bytes(1)}
    )
    result = portfolio_upload(owner=holder, files=[bytes_file("b.zip", archive)])
    assert [i.original_name for i in result.images] == ["b.zip: ok.png"]
    (rejected,) = result.rejected
    assert rejected.file == "b.zip: bomb.png"
    assert rejected.message.endswith("over the 100:1 limit (possible ZIP bomb)")


def test_a_zip_whose_headers_understate_sizes_cannot_expand_past_the_limit(
    holder, settings
):
    import io
    import zipfile

    settings.UPLOAD_MAX_FILE_BYTES = 50_000
    settings.ZIP_MAX_RATIO = 10**9
    big = image_bytes(1, "BMP", size=(400, 400))  # ~480 kB, compresses well
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("big.bmp", big)
    data = bytearray(buf.getvalue())
    # Forge the declared sizes (local header at 22, central directory at +24).
    small = (1000).to_bytes(4, "little")
    data[22:26] = small
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 24 : cd + 28] = small
    result_or_error = None
    try:
        result_or_error = portfolio_upload(
            owner=holder, files=[bytes_file("lie.zip", bytes(data))]
        )
    except ValidationFailed as exc:
        result_or_error = exc
    assert isinstance(result_or_error, ValidationFailed)
    assert "lie.zip: big.bmp" in result_or_error.message
    assert not Image.objects.exists()


def test_files_over_the_size_limit_are_refused(holder, settings):
    settings.UPLOAD_MAX_FILE_BYTES = 1024 * 1024
    data = image_bytes(1, "BMP", size=(800, 600))  # 1.4 MB
    with pytest.raises(ValidationFailed) as exc:
        portfolio_upload(owner=holder, files=[bytes_file("huge.bmp", data)])
    assert exc.value.message == "huge.bmp: the file is 1.4 MB, over the 1 MB limit"


def test_fingerprinting_stores_every_hash_and_bumps_the_revision(holder):
    data = image_bytes(9)
    image = portfolio_upload(owner=holder, files=[bytes_file("a.png", data)]).images[0]
    before = registry_revision_current()
    image_fingerprint(image_id=image.pk)
    image.refresh_from_db()
    expected = fingerprint_bytes(data).fingerprints
    prints = {f.algorithm: f for f in image.fingerprints.filter(variant="original")}
    assert image.status == "hashed"
    assert prints["phash"].value_int == expected.phash_int
    assert bytes(prints["pdq"].value) == expected.pdq
    assert bytes(prints["sha256"].value) == expected.sha256
    assert {f.algorithm: f.version for f in prints.values()} == ALGORITHM_VERSIONS
    assert registry_revision_current() == before + 1


def test_fingerprinting_twice_changes_nothing(holder):
    image = portfolio_upload(
        owner=holder, files=[bytes_file("a.png", image_bytes(9))]
    ).images[0]
    image_fingerprint(image_id=image.pk)
    revision = registry_revision_current()
    ids = set(Fingerprint.objects.values_list("id", flat=True))
    image_fingerprint(image_id=image.pk)
    assert registry_revision_current() == revision
    assert set(Fingerprint.objects.values_list("id", flat=True)) == ids


def test_an_out_of_date_fingerprint_is_recomputed(holder):
    image = portfolio_upload(
        owner=holder, files=[bytes_file("a.png", image_bytes(9))]
    ).images[0]
    image_fingerprint(image_id=image.pk)
    Fingerprint.objects.filter(image=image, algorithm="pdq").update(
        version="pdqhash-0.1:old"
    )
    assert image_needs_refingerprint(image=image)
    image_fingerprint(image_id=image.pk)
    assert not image_needs_refingerprint(image=image)
    assert Fingerprint.objects.filter(image=image, variant="original").count() == 4


def test_low_quality_pdq_is_kept_with_its_quality(holder):
    from io import BytesIO

    from PIL import Image as PILImage

    out = BytesIO()
    PILImage.new("RGB", (120, 90), (40, 40, 40)).save(out, format="PNG")
    image = portfolio_upload(
        owner=holder, files=[bytes_file("flat.png", out.getvalue())]
    ).images[0]
    image_fingerprint(image_id=image.pk)
    pdq = Fingerprint.objects.get(image=image, algorithm="pdq", variant="original")
    assert pdq.quality < settings.PDQ_LOW_QUALITY


def test_hash_only_registration_is_enforced_at_once(holder):
    before = registry_revision_current()
    image = image_register_hashes(
        owner=holder,
        title="Private piece",
        hashes={
            "phash": "8A74E64EE15B0557",
            "pdq": "0f" * 32,
            "sha256": "",
            "md5": None,
        },
        pdq_quality=88,
    )
    assert image.source == "hashes" and image.status == "hashed" and not image.original
    prints = {f.algorithm: f for f in image.fingerprints.all()}
    assert set(prints) == {"phash", "pdq"}
    assert prints["phash"].hex == "8a74e64ee15b0557"
    assert prints["pdq"].quality == 88
    assert registry_revision_current() == before + 1


@pytest.mark.parametrize(
    ("hashes", "field", "message"),
    [
        ({"phash": "8a74"}, "phash", "phash must be 16 hex digits, got 4"),
        (
            {"sha256": "g" * 64},
            "sha256",
            "sha256 must contain only hex digits 0-9 and a-f",
        ),
        ({}, "hashes", "give at least one hash: sha256, md5, phash or pdq"),
    ],
)
def test_hash_only_registration_rejects_malformed_hashes(
    holder, hashes, field, message
):
    with pytest.raises(ValidationFailed) as exc:
        image_register_hashes(owner=holder, title="x", hashes=hashes)
    assert (exc.value.field, exc.value.message) == (field, message)
    assert not Work.objects.exists()


def test_withdrawing_a_work_with_hashed_images_bumps_the_revision(holder):
    image = image_register_hashes(owner=holder, title="x", hashes={"md5": "0" * 32})
    before = registry_revision_current()
    work_withdraw(owner=holder, work_id=image.work_id)
    assert Work.objects.get(pk=image.work_id).status == "withdrawn"
    assert registry_revision_current() == before + 1
    with pytest.raises(Conflict):
        work_withdraw(owner=holder, work_id=image.work_id)


def test_nobody_else_can_withdraw_a_work(holder, other_holder):
    work = work_create(owner=holder, title="Mine")
    with pytest.raises(NotFound):
        work_withdraw(owner=other_holder, work_id=work.pk)


def test_work_source_urls_are_normalized_and_checked(holder):
    work = work_create(owner=holder, title="x", source_urls=["HTTPS://A.example/x#y"])
    assert work.source_urls == ["https://a.example/x"]
    with pytest.raises(ValidationFailed) as exc:
        work_create(owner=holder, title="x", source_urls=["https://a.example/", "nope"])
    assert exc.value.message == "source_urls[1]: 'nope' is not a valid URL"
