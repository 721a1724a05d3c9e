"""Known answers for every fingerprint the engine computes."""

from __future__ import annotations

import ast
import hashlib
import io
import pathlib

import numpy as np
import pytest
from PIL import Image

from tests.images import image_bytes
from workers.engine import fingerprint as fp
from workers.engine.hashes import hamming, phash_from_int


def gradient() -> Image.Image:
    y, x = np.mgrid[0:256, 0:384]
    arr = np.stack([x * 255 // 383, y, ((x + y) * 7) % 256], axis=-1).astype(np.uint8)
    return Image.fromarray(arr, "RGB")


def waves() -> Image.Image:
    y, x = np.mgrid[0:256, 0:384]
    grey = ((np.sin(x / 17.0) * np.cos(y / 11.0) + 1) * 127).astype(np.uint8)
    return Image.fromarray(np.stack([grey] * 3, -1), "RGB")


def flat() -> Image.Image:
    return Image.new("RGB", (100, 100), (128, 128, 128))


# Computed once with imagehash 4.3.2 and pdqhash 0.2.8 (Meta's C++ PDQ), hex in
# Meta's bit order (bit 0 of the vector is the most significant).
KNOWN = [
    (
        gradient,
        "8a74e64ee15b0557",
        "5d5511510101bbeb0a00f7fb2ba973eb0555ef7baa01eceb5f40ecb90103ec97",
        100,
    ),
    (
        waves,
        "80bf00ff00ff00ff",
        "407fff80407fff80007fff80007fff80007f007fff80007fff80007fff80007f",
        100,
    ),
    (
        flat,
        "8000000000000000",
        "000000002c4b11342c4b2c4b0000554b00002c4b113411342c4b585e2c4b017e",
        0,
    ),
]


@pytest.mark.parametrize(("make", "phash_hex", "pdq_hex", "quality"), KNOWN)
def test_perceptual_hashes_match_known_answers(make, phash_hex, pdq_hex, quality):
    img = make()
    assert fp.phash(img).hex() == phash_hex
    pdq_hash, pdq_quality = fp.pdq(img)
    assert pdq_hash.hex() == pdq_hex
    assert pdq_quality == quality


def test_digests_are_of_the_original_bytes():
    sha256, md5 = fp.digests(b"abc")
    assert sha256.hex() == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    assert md5.hex() == "900150983cd24fb0d6963f7d28e17f72"


def test_fingerprint_bytes_combines_every_hash_and_a_thumbnail():
    data = image_bytes(3, "PNG", size=(800, 400))
    result = fp.fingerprint_bytes(data, thumbnail_size=256)
    prints = result.fingerprints
    assert prints.sha256 == hashlib.sha256(data).digest()
    assert prints.md5 == hashlib.md5(data).digest()
    decoded = Image.open(io.BytesIO(data)).convert("RGB")
    assert prints.phash == fp.phash(decoded)
    assert prints.pdq == fp.pdq(decoded)[0]
    assert (prints.width, prints.height, prints.format) == (800, 400, "PNG")
    thumb = Image.open(io.BytesIO(result.thumbnail))
    assert thumb.format == "JPEG"
    assert thumb.size == (256, 128)
    assert prints.as_hex()["phash"] == phash_from_int(prints.phash_int)


def test_the_same_picture_in_other_formats_hashes_alike():
    png = fp.fingerprint_bytes(image_bytes(5, "PNG")).fingerprints
    jpeg = fp.fingerprint_bytes(image_bytes(5, "JPEG")).fingerprints
    assert png.sha256 != jpeg.sha256
    assert hamming(png.pdq, jpeg.pdq) <= 31
    assert hamming(png.phash, jpeg.phash) <= 8


def test_exif_orientation_is_applied_before_hashing():
    upright = Image.open(io.BytesIO(image_bytes(7, "JPEG")))
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # as a camera stores it
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    out = io.BytesIO()
    stored.save(out, format="JPEG", exif=exif.tobytes(), quality=95)
    rotated = fp.fingerprint_bytes(out.getvalue()).fingerprints
    plain = fp.fingerprint_bytes(image_bytes(7, "JPEG")).fingerprints
    assert hamming(rotated.pdq, plain.pdq) <= 31
    assert (rotated.width, rotated.height) == (240, 320)  # as stored


def test_transparent_pixels_are_hashed_as_white():
    rgba = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    out = io.BytesIO()
    rgba.save(out, format="PNG")
    white = io.BytesIO()
    Image.new("RGB", (64, 64), "white").save(white, format="PNG")
    a = fp.fingerprint_bytes(out.getvalue()).fingerprints
    b = fp.fingerprint_bytes(white.getvalue()).fingerprints
    assert (a.phash, a.pdq) == (b.phash, b.pdq)


def test_every_algorithm_has_a_version():
    assert set(fp.ALGORITHM_VERSIONS) == {"sha256", "md5", "phash", "pdq"}
    assert all(fp.ALGORITHM_VERSIONS.values())


def test_the_engine_imports_nothing_from_django():
    root = pathlib.Path(fp.__file__).parent
    for path in root.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith(("django", "registry", "optout")), path


def test_fingerprint_bytes_adds_local_features_from_the_same_decode():
    from workers.engine import verify

    data = image_bytes(3, "PNG")
    result = fp.fingerprint_bytes(data, thumbnail_size=None, features=True)
    features = verify.Features.from_bytes(result.features)
    assert len(features) > 0
    assert fp.fingerprint_bytes(data, thumbnail_size=None).features is None


@pytest.mark.parametrize("size", [(200, 150), (1600, 1200)])
def test_a_row_is_trimmed_once_for_pdq_and_the_descriptor(size):
    # A letterboxed picture: the descriptor's "trimmed" form is the picture
    # without its bars, at the row's own resolution, also when the trim was
    # found on the 256 px copy the hashes use.
    picture = waves().resize(size)
    bar = size[1] // 4
    canvas = Image.new("RGB", (size[0], size[1] + 2 * bar), (0, 0, 0))
    canvas.paste(picture, (0, bar))
    out = io.BytesIO()
    canvas.save(out, "PNG")

    prints = fp.query_fingerprints(out.getvalue(), descriptor=True)

    # the mirror's hash only without the descriptor, which finds mirrors
    assert set(prints.pdq) == {"canonical", "trimmed"}
    plain = fp.query_fingerprints(out.getvalue())
    assert set(plain.pdq) == {"canonical", "trimmed", "flipx"}
    assert plain.pdq["trimmed"] == prints.pdq["trimmed"]
    whole, trimmed = (
        prints.descriptor_images["whole"],
        prints.descriptor_images["trimmed"],
    )
    assert whole.size == canvas.size
    # no bar left in (rounded inwards), at most a few lines of picture lost
    assert trimmed.width <= size[0] and trimmed.height <= size[1]
    assert trimmed.width >= size[0] * 0.98 and trimmed.height >= size[1] * 0.97
    assert np.asarray(trimmed.convert("L"))[[0, -1]].mean() > 20  # picture, not bar
    # the same as trimming the full image directly
    direct = fp.descriptor_queries(canvas)["trimmed"]
    assert abs(direct.height - trimmed.height) <= size[1] * 0.03


def test_a_row_without_margins_has_only_the_whole_form():
    out = io.BytesIO()
    waves().save(out, "PNG")
    prints = fp.query_fingerprints(out.getvalue(), descriptor=True)
    assert set(prints.descriptor_images) == {"whole"}
    assert "trimmed" not in prints.pdq


def test_packed_variants_read_back_as_written_and_damage_is_refused():
    from workers.engine.fingerprint import pack_variants, unpack_variants

    variants = {"rot+1": (bytes(range(32)), 100), "flip-h": (b"\xff" * 32, 0)}
    packed = pack_variants(variants)
    assert len(packed) == sum(1 + len(n) + 33 for n in variants)
    assert unpack_variants(packed) == variants
    assert unpack_variants(None) == {} == unpack_variants(pack_variants({}))
    with pytest.raises(ValueError, match="cut short"):
        unpack_variants(packed[:-1])
    with pytest.raises(ValueError, match="cannot be packed"):
        pack_variants({"x": (b"short", 50)})
