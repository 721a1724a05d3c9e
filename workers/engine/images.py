"""Safe image decoding and thumbnails.

Every image that reaches the registry is decoded here first, so one place decides
what counts as an image: the formats we accept, the pixel limit that stops a
decompression bomb before its pixels are allocated, and the errors a user sees.
Errors are `ImageRejected` with a message that says why, in words for people.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import pillow_heif
from PIL import Image, ImageOps, UnidentifiedImageError

pillow_heif.register_heif_opener()
# decode_image enforces its caller's pixel limit before any pixel is decoded;
# Pillow's own global check would fire first, without the image's size.
Image.MAX_IMAGE_PIXELS = None

# Pillow names, as Image.format reports them.
ACCEPTED_FORMATS = frozenset(
    {"JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP", "HEIF", "AVIF", "MPO"}
)
DEFAULT_MAX_PIXELS = 100_000_000


class ImageRejected(ValueError):
    """The bytes are not an image we can accept; `str(exc)` says why."""


@dataclass(frozen=True)
class DecodedImage:
    image: Image.Image  # RGB, first frame, EXIF orientation applied
    format: str  # Pillow's name: JPEG, PNG, ...
    width: int  # of the stored original, before orientation
    height: int


def decode_image(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> DecodedImage:
    """Decode `data` fully (first frame) and return it as upright RGB.

    Raises ImageRejected for empty input, unknown or unsupported formats,
    truncated or corrupt files and images over `max_pixels`.
    """
    if not data:
        raise ImageRejected("the file is empty")
    try:
        img = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ImageRejected("not an image (unrecognised file format)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected(f"not a readable image ({exc})") from None

    fmt = img.format or "unknown"
    if fmt not in ACCEPTED_FORMATS:
        raise ImageRejected(f"unsupported image format {fmt}")
    width, height = img.size
    if width <= 0 or height <= 0:
        raise ImageRejected("the image has no pixels")
    if width * height > max_pixels:
        raise ImageRejected(_too_large(width, height, max_pixels))
    try:
        img.seek(0)
        img.load()  # decodes every byte: a truncated file fails here
        upright = ImageOps.exif_transpose(img) or img
        rgb = _to_rgb(upright)
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        reason = str(exc) or exc.__class__.__name__
        if "truncated" in reason:
            raise ImageRejected("the image file is truncated") from None
        raise ImageRejected(f"the image data is corrupt ({reason})") from None
    return DecodedImage(image=rgb, format=fmt, width=width, height=height)


def make_thumbnail(image: Image.Image, *, size: int = 256) -> bytes:
    """A JPEG thumbnail that fits in size x size, from an upright RGB image."""
    thumb = image.copy()
    thumb.thumbnail((size, size), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    thumb.save(out, format="JPEG", quality=85, optimize=True)
    return out.getvalue()


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA", "PA") or (
        img.mode == "P" and "transparency" in img.info
    ):
        # Transparent pixels become white, as most viewers show them.
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return img.convert("RGB")


def _too_large(width: int, height: int, max_pixels: int) -> str:
    return (
        f"the image is too large ({width}x{height}): more than {max_pixels:,} pixels "
        "(possible decompression bomb)"
    )
