"""What counts as an image: accepted formats, and each rejection's reason."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from tests.images import drawing, image_bytes, truncated_png
from workers.engine.images import ImageRejected, decode_image


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF", "TIFF", "BMP", "AVIF"])
def test_it_accepts_common_formats(fmt):
    decoded = decode_image(image_bytes(1, fmt))
    assert decoded.format == fmt
    assert decoded.image.mode == "RGB"
    assert decoded.image.size == (320, 240)


def test_it_accepts_heic():
    import pillow_heif

    out = io.BytesIO()
    heif = pillow_heif.from_pillow(drawing(2))
    heif.save(out, quality=90)
    assert decode_image(out.getvalue()).format == "HEIF"


def test_it_takes_the_first_frame_of_an_animated_gif():
    frames = [Image.new("RGB", (40, 30), c) for c in ("red", "blue", "green")]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:])
    decoded = decode_image(out.getvalue())
    assert decoded.image.getpixel((5, 5)) == (255, 0, 0)


def png_with_size(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height (the pixel data is a stub)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0"))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        (b"hello, I am text\n" * 10, "not an image (unrecognised file format)"),
        (truncated_png(), "the image file is truncated"),
        (
            png_with_size(50_000, 50_000),
            "the image is too large (50000x50000): more than 100,000,000 pixels "
            "(possible decompression bomb)",
        ),
    ],
)
def test_it_rejects_bad_files_with_a_reason(data, message):
    with pytest.raises(ImageRejected) as exc:
        decode_image(data, max_pixels=100_000_000)
    assert str(exc.value) == message


def test_a_bomb_beyond_pillows_own_limit_is_rejected_as_too_large():
    with pytest.raises(ImageRejected) as exc:
        decode_image(png_with_size(200_000, 200_000), max_pixels=100_000_000)
    assert "too large" in str(exc.value)


def test_the_pixel_limit_is_the_callers():
    with pytest.raises(ImageRejected) as exc:
        decode_image(image_bytes(1), max_pixels=320 * 240 - 1)
    assert str(exc.value).startswith("the image is too large (320x240)")
    assert decode_image(image_bytes(1), max_pixels=320 * 240).width == 320


def test_unsupported_formats_are_named():
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, format="PCX")
    with pytest.raises(ImageRejected) as exc:
        decode_image(out.getvalue())
    assert str(exc.value) == "unsupported image format PCX"
