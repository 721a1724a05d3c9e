"""Edits a dataset row may have undergone, each with parameters from a seeded rng.

Every transform is a pure function `(image, rng) -> (image, params)`: the same
RGB image and an rng in the same state give the same output, and `params` says
what was drawn (for the results file). Encodings (jpeg, webp) return the
decoded image of the encoded bytes; `row_bytes` turns any output into the bytes
a dataset row would carry (JPEG quality 90, or the transform's own encoding).

`TRANSFORMS` maps names to functions, in the order the tables show them.
"""

from __future__ import annotations

import io
import string
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

Params = dict[str, Any]
Transform = Callable[[Image.Image, np.random.Generator], tuple[Image.Image, Params]]
ROW_QUALITY = 90


def _uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return round(float(rng.uniform(lo, hi)), 4)


def _encode(image: Image.Image, fmt: str, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, quality=quality)
    return out.getvalue()


def _decode(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as im:
        return im.convert("RGB")


def resize(image: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, Params]:
    """Downscale to 25-75% of each side (aspect kept), Lanczos or bilinear."""
    scale = _uniform(rng, 0.25, 0.75)
    method = ["lanczos", "bilinear", "bicubic"][int(rng.integers(0, 3))]
    size = (
        max(1, round(image.width * scale)),
        max(1, round(image.height * scale)),
    )
    resample = {
        "lanczos": Image.Resampling.LANCZOS,
        "bilinear": Image.Resampling.BILINEAR,
        "bicubic": Image.Resampling.BICUBIC,
    }[method]
    return image.resize(size, resample), {"scale": scale, "method": method}


def jpeg(image: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, Params]:
    """Re-encode as JPEG at quality 30-60 (4:2:0)."""
    quality = int(rng.integers(30, 61))
    return _decode(_encode(image, "JPEG", quality)), {"quality": quality}


def webp(image: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, Params]:
    """Re-encode as lossy WebP at quality 30-80."""
    quality = int(rng.integers(30, 81))
    return _decode(_encode(image, "WEBP", quality)), {"quality": quality}


def brightness_contrast(
    image: Image.Image, rng: np.random.Generator
) -> tuple[Image.Image, Params]:
    """Brightness and contrast each scaled by a factor in 0.75-1.25."""
    b = _uniform(rng, 0.75, 1.25)
    c = _uniform(rng, 0.75, 1.25)
    out = ImageEnhance.Contrast(ImageEnhance.Brightness(image).enhance(b)).enhance(c)
    return out, {"brightness": b, "contrast": c}


def grayscale(
    image: Image.Image, rng: np.random.Generator
) -> tuple[Image.Image, Params]:
    """Luma only (ITU-R 601), back in RGB."""
    return image.convert("L").convert("RGB"), {}


_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype(_FONT, size)
    except OSError:
        return ImageFont.load_default(size=size)


def watermark(
    image: Image.Image, rng: np.random.Generator
) -> tuple[Image.Image, Params]:
    """A semi-transparent text line (6-12 characters, 6-14% of the height tall).

    Placed at a random position, white or black, 40-80% opaque, like a stock
    photo or a social network's credit line.
    """
    letters = string.ascii_letters + string.digits
    text = "@" + "".join(rng.choice(list(letters), int(rng.integers(5, 12))))
    size = max(8, round(image.height * _uniform(rng, 0.06, 0.14)))
    font = _font(size)
    base = image.convert("RGBA")
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    tw, th = right - left, bottom - top
    x = int(rng.integers(0, max(1, image.width - tw)))
    y = int(rng.integers(0, max(1, image.height - th)))
    shade = 255 if rng.random() < 0.5 else 0
    alpha = int(rng.integers(102, 205))
    draw.text((x - left, y - top), text, font=font, fill=(shade, shade, shade, alpha))
    out = Image.alpha_composite(base, layer).convert("RGB")
    return out, {"text": text, "size": size, "x": x, "y": y, "alpha": alpha}


def crop(image: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, Params]:
    """Off-centre crop: 5-20% cut from each side independently."""
    cuts = [_uniform(rng, 0.05, 0.20) for _ in range(4)]  # left, top, right, bottom
    w, h = image.size
    box = (
        round(w * cuts[0]),
        round(h * cuts[1]),
        w - round(w * cuts[2]),
        h - round(h * cuts[3]),
    )
    return image.crop(box), {
        "left": cuts[0],
        "top": cuts[1],
        "right": cuts[2],
        "bottom": cuts[3],
    }


def _angle(rng: np.random.Generator) -> float:
    return round(float(rng.uniform(2, 10)) * (1 if rng.random() < 0.5 else -1), 3)


def _fill(rng: np.random.Generator) -> tuple[int, int, int]:
    return (0, 0, 0) if rng.random() < 0.5 else (255, 255, 255)


def rotate(image: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, Params]:
    """Rotate 2-10 degrees either way, same canvas (corners cut, gaps filled)."""
    angle, fill = _angle(rng), _fill(rng)
    out = image.rotate(angle, Image.Resampling.BICUBIC, expand=False, fillcolor=fill)
    return out, {"angle": angle, "fill": fill}


def rotate_expand(
    image: Image.Image, rng: np.random.Generator
) -> tuple[Image.Image, Params]:
    """Rotate 2-10 degrees either way on an expanded canvas (nothing cut)."""
    angle, fill = _angle(rng), _fill(rng)
    out = image.rotate(angle, Image.Resampling.BICUBIC, expand=True, fillcolor=fill)
    return out, {"angle": angle, "fill": fill}


def mirror(image: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, Params]:
    """Left-right mirror."""
    return ImageOps.mirror(image), {}


def stretch(image: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, Params]:
    """Change the aspect ratio by up to 10%: one axis scaled by 0.9-1.1."""
    factor = _uniform(rng, 0.9, 1.1)
    while abs(factor - 1) < 0.02:
        factor = _uniform(rng, 0.9, 1.1)
    axis = "x" if rng.random() < 0.5 else "y"
    w, h = image.size
    size = (round(w * factor), h) if axis == "x" else (w, round(h * factor))
    return image.resize(size, Image.Resampling.BICUBIC), {
        "factor": factor,
        "axis": axis,
    }


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    kind = int(rng.integers(0, 3))
    if kind == 0:
        return (0, 0, 0)
    if kind == 1:
        return (255, 255, 255)
    return tuple(int(v) for v in rng.integers(0, 256, 3))  # type: ignore[return-value]


def border(image: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, Params]:
    """A uniform frame 3-15% of the shorter side wide, on every side."""
    width = max(1, round(min(image.size) * _uniform(rng, 0.03, 0.15)))
    colour = _colour(rng)
    return ImageOps.expand(image, border=width, fill=colour), {
        "width": width,
        "colour": colour,
    }


def letterbox(
    image: Image.Image, rng: np.random.Generator
) -> tuple[Image.Image, Params]:
    """Pad to 16:9, 4:3, 1:1 or 9:16 (bars on two sides), as a video frame or post."""
    w, h = image.size
    choices = [a for a in (16 / 9, 4 / 3, 1.0, 9 / 16) if abs(a - w / h) > 0.08]
    target = choices[int(rng.integers(0, len(choices)))]
    if target > w / h:
        size = (round(h * target), h)
    else:
        size = (w, round(w / target))
    colour = _colour(rng)
    canvas = Image.new("RGB", size, colour)
    canvas.paste(image, ((size[0] - w) // 2, (size[1] - h) // 2))
    return canvas, {"aspect": round(target, 4), "colour": colour}


def chain3(image: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, Params]:
    """Three different transforms drawn from the others, applied in order."""
    names = [n for n in TRANSFORMS if n != "chain3"]
    picked = [names[i] for i in rng.choice(len(names), 3, replace=False)]
    steps = []
    for name in picked:
        image, params = TRANSFORMS[name](image, rng)
        steps.append({"transform": name, **params})
    return image, {"steps": steps}


TRANSFORMS: dict[str, Transform] = {
    "resize": resize,
    "jpeg": jpeg,
    "webp": webp,
    "brightness_contrast": brightness_contrast,
    "grayscale": grayscale,
    "watermark": watermark,
    "crop": crop,
    "rotate": rotate,
    "rotate_expand": rotate_expand,
    "mirror": mirror,
    "stretch": stretch,
    "border": border,
    "letterbox": letterbox,
    "chain3": chain3,
}


def row_bytes(image: Image.Image, name: str, params: Params) -> bytes:
    """The bytes a dataset row carries: JPEG q90, unless the last step encoded it.

    (jpeg/webp outputs are re-encoded at their own quality, which reproduces
    those codecs' artefacts; everything else goes out as a JPEG like a shard.)
    """
    last = params["steps"][-1] if name == "chain3" else {"transform": name, **params}
    if last["transform"] == "webp":
        return _encode(image, "WEBP", last["quality"])
    if last["transform"] == "jpeg":
        return _encode(image, "JPEG", last["quality"])
    return _encode(image, "JPEG", ROW_QUALITY)


def apply(
    name: str, image: Image.Image, seed: int | tuple[int, ...]
) -> tuple[bytes, Params]:
    """Row bytes and params of transform `name` on `image` with its own rng."""
    rng = np.random.default_rng(seed)
    out, params = TRANSFORMS[name](image.convert("RGB"), rng)
    return row_bytes(out, name, params), params
