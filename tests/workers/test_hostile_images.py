"""Hostile but valid images: the largest accepted image costs a bounded amount
of memory to fingerprint, and a large image decoded reduced is still the same
picture (upright, transparency on white, truncation refused).

The memory tests run the fingerprint in a fresh subprocess and read its peak
RSS: a 10000x10000 PNG (100 million pixels, the default limit) cost about
3,000 MB when it was decoded, converted and copied at full resolution; now the
decoded frame (400 MB) is the largest thing held.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from tests.images import drawing
from tests.peak_memory import PRELUDE
from workers.engine import fingerprint
from workers.engine.fingerprint import fingerprint_bytes
from workers.engine.images import (
    WORKING_MAX_SIDE,
    ImageRejected,
    decode_image,
)

ROOT = Path(__file__).resolve().parents[2]
SIDE = 10_000  # 100 million pixels: settings.UPLOAD_MAX_IMAGE_PIXELS's default

# The decoded frame (4 bytes a pixel: 400 MB) plus the interpreter (about
# 45 MB) and slack; the full-resolution path peaked at about 3,000 MB.
PNG_PEAK_MB = 600
# A JPEG is decoded at 1/4 scale: the PDQ of a 2500 px image is the peak.
JPEG_PEAK_MB = 350

_CHILD = (
    PRELUDE
    + """
from workers.engine import perceptual
from workers.engine import fingerprint
from workers.engine.fingerprint import fingerprint_bytes
data = open({path!r}, "rb").read()
result = fingerprint_bytes(
    data,
    thumbnail_size=256,
    variants=perceptual.SCHEMES[perceptual.DEFAULT_SCHEME],
    features=True,
)
print(json.dumps({{
    "peak_mb": peak_mb(),
    "size": [result.fingerprints.width, result.fingerprints.height],
    "thumbnail": len(result.thumbnail or b""),
}}))
"""
)


def _write(path: Path, fmt: str, side: int) -> None:
    # In a child: a forked child starts with its parent's peak RSS, so the
    # test process must never hold the big image itself.
    script = (
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from PIL import Image\n"
        "from tests.images import drawing\n"
        f"drawing(3, (100, 100)).resize(({side}, {side}), Image.Resampling.NEAREST)"
        f".save({str(path)!r}, format={fmt!r})\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)


def _fingerprint_in_child(path: Path) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD.format(root=str(ROOT), path=str(path))],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("fmt", "bound"), [("PNG", PNG_PEAK_MB), ("JPEG", JPEG_PEAK_MB)]
)
def test_the_largest_accepted_image_is_fingerprinted_in_bounded_memory(
    tmp_path, fmt, bound
):
    path = tmp_path / f"big.{fmt.lower()}"
    _write(path, fmt, SIDE)

    result = _fingerprint_in_child(path)

    assert result["size"] == [SIDE, SIDE]  # the original's size is reported
    assert result["thumbnail"] > 0
    assert result["peak_mb"] < bound, (
        f"fingerprinting a {SIDE}x{SIDE} {fmt} peaked at "
        f"{result['peak_mb']:.0f} MB, over {bound} MB"
    )


def _saved(img: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    img.save(out, format=fmt, **params)
    return out.getvalue()


def test_a_large_image_is_decoded_reduced_with_its_original_size_reported():
    data = _saved(drawing(1, (5000, 2500)), "PNG")

    decoded = decode_image(data)

    assert decoded.reduced
    assert (decoded.width, decoded.height) == (5000, 2500)
    assert WORKING_MAX_SIDE <= max(decoded.image.size) < 2 * WORKING_MAX_SIDE
    assert decoded.image.mode == "RGB"


def test_a_small_image_is_decoded_at_full_resolution():
    decoded = decode_image(_saved(drawing(1, (2000, 1000)), "PNG"))

    assert not decoded.reduced
    assert decoded.image.size == (2000, 1000)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_a_reduced_image_is_turned_upright_by_its_exif_orientation(fmt):
    img = drawing(2, (6000, 3000))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned: rotate 270 to show it upright
    data = _saved(img, fmt, exif=exif.tobytes())

    decoded = decode_image(data)

    assert decoded.reduced
    width, height = decoded.image.size
    assert height > width  # upright: portrait
    assert (decoded.width, decoded.height) == (6000, 3000)


def test_a_reduced_transparent_image_is_laid_on_white():
    img = Image.new("RGBA", (5000, 5000), (0, 0, 0, 0))
    ImageDraw.Draw(img).rectangle((0, 0, 2499, 4999), fill=(200, 0, 0, 255))

    decoded = decode_image(_saved(img, "PNG"))

    assert decoded.reduced
    w, h = decoded.image.size
    assert decoded.image.getpixel((w - 1, h // 2)) == (255, 255, 255)
    assert decoded.image.getpixel((0, h // 2)) == (200, 0, 0)


def test_a_truncated_large_image_is_still_refused():
    data = _saved(drawing(4, (5000, 5000)), "PNG")

    with pytest.raises(ImageRejected, match="truncated"):
        decode_image(data[: len(data) // 2])


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_a_large_image_hashes_as_its_full_resolution_decode_does(fmt):
    data = _saved(drawing(5, (6000, 4000)), fmt)

    reduced = fingerprint_bytes(data).fingerprints
    full_image = decode_image(data, max_side=None).image
    full_pdq, _ = fingerprint.pdq(full_image)
    # Reducing first moves PDQ by rounding only: far inside any match threshold.
    distance = (
        int.from_bytes(reduced.pdq, "big") ^ int.from_bytes(full_pdq, "big")
    ).bit_count()
    assert distance <= 8
