"""Safe image decoding and thumbnails.

Every image that reaches the registry is decoded here first, so one place decides
what counts as an image: the formats we accept, the pixel limit that stops a
decompression bomb before its pixels are allocated, and the errors a user sees.
Errors are `ImageRejected` with a message that says why, in words for people.

Memory: nothing downstream needs a large image at full resolution (thumbnails
are 256 px, PDQ box-filters to 64x64, pHash to 32x32, verification works at
512 px), so an image whose longer side is over `WORKING_MAX_SIDE` is decoded
reduced: a JPEG by its decoder's DCT scaling (`Image.draft`: 1/2 to 1/8, never
decoded whole), any other format decoded once and box-reduced stripe by stripe
(`Image.reduce`), with no full-size copy or conversion. The budget is then one
decoded frame in Pillow's own mode (at most 4 bytes a pixel: 400 MB at the
default 100-megapixel limit, for PNG, WebP, TIFF, HEIF...) plus a working image
of at most about 4096 x 4096; a JPEG of any accepted size costs a few tens of MB
(bench/image_memory.py measures it).
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
# Four times the largest side any consumer works at (verification, 512 px), so
# reducing changes its results by rounding only (PDQ 0-2 bits of 256, pHash
# 0-4 of 64 on a 6000 px image). Images under twice this side are decoded to
# the same pixels as at full resolution.
WORKING_MAX_SIDE = 2048
# Pixels per stripe when reducing a decoded frame: the stripe's converted copy
# (4 bytes a pixel) stays near 16 MB.
_STRIPE_PIXELS = 4 << 20
# EXIF orientation -> the transpose that makes the image upright (as
# ImageOps.exif_transpose).
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class ImageRejected(ValueError):
    """The bytes are not an image we can accept; `str(exc)` says why."""


@dataclass(frozen=True)
class DecodedImage:
    image: Image.Image  # RGB, first frame, EXIF orientation applied
    format: str  # Pillow's name: JPEG, PNG, ...
    width: int  # of the stored original, before orientation (and reduction)
    height: int
    reduced: bool = False  # `image` is smaller than the original


def decode_image(
    data: bytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_side: int | None = WORKING_MAX_SIDE,
) -> DecodedImage:
    """Decode `data` (first frame) and return it as upright RGB.

    An image whose longer side is over `max_side` comes back reduced, its
    longer side between `max_side` and twice that (see the module docstring);
    `max_side=None` decodes at full resolution whatever the cost. Every byte
    is decoded either way, so a truncated file is still refused.

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
    reduce = max_side is not None and max(width, height) > max_side
    try:
        img.seek(0)
        if reduce:
            assert max_side is not None
            rgb = _decode_reduced(img, max_side)
        else:
            img.load()  # decodes every byte: a truncated file fails here
            upright = ImageOps.exif_transpose(img) or img
            rgb = _to_rgb(upright)
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        reason = str(exc) or exc.__class__.__name__
        if "truncated" in reason:
            raise ImageRejected("the image file is truncated") from None
        raise ImageRejected(f"the image data is corrupt ({reason})") from None
    return DecodedImage(
        image=rgb, format=fmt, width=width, height=height, reduced=reduce
    )


def _decode_reduced(img: Image.Image, max_side: int) -> Image.Image:
    """Upright RGB, longer side in [max_side, 2 * max_side), without holding
    more than the decoded frame and small stripes at once."""
    width, height = img.size
    longer = max(width, height)
    if img.format in ("JPEG", "MPO"):
        # The decoder scales by 1/2, 1/4 or 1/8 while decoding, keeping the
        # longer side at or above what is asked.
        img.draft(
            None,
            (
                max(1, -(-width * max_side // longer)),
                max(1, -(-height * max_side // longer)),
            ),
        )
    img.load()  # decodes every byte: a truncated file fails here
    orientation = img.getexif().get(0x0112)  # PNG's eXIf is read by load()
    mode = "RGBA" if _has_alpha(img) else "RGB"
    factor = max(img.size) // max_side
    if factor >= 2:
        small = _reduce_in_stripes(img, factor, mode)
    else:
        small = img if img.mode == mode else img.convert(mode)
    if orientation in _ORIENTATION:
        small = small.transpose(_ORIENTATION[orientation])
    return _to_rgb(small)


def _reduce_in_stripes(img: Image.Image, factor: int, mode: str) -> Image.Image:
    """`img` box-reduced by `factor` in `mode`, converted a stripe at a time."""
    width, height = img.size
    out = Image.new(mode, (-(-width // factor), -(-height // factor)))
    rows = max(factor, _STRIPE_PIXELS // width // factor * factor)
    for top in range(0, height, rows):
        stripe = img.crop((0, top, width, min(height, top + rows)))
        if stripe.mode != mode:
            stripe = stripe.convert(mode)
        out.paste(stripe.reduce(factor), (0, top // factor))
    return out


def _has_alpha(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA") or (
        img.mode == "P" and "transparency" in img.info
    )


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
    if _has_alpha(img):
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
