"""Synthetic artworks and the edits a dataset applies to them, for verify tests.

Everything is drawn from a seeded RNG, so each seed is one fixed picture: a
gradient ground, noise-textured patches, flat shapes with outlines and a few
words. `lookalike` keeps the palette, shapes and ground of an artwork but moves
every shape and redraws the texture and text: the same "style", none of the
same content.

Other kinds of picture: `texture` (detail everywhere, as a photograph of
foliage or stone), `grain` (a low-contrast texture: dark slate, marble, snow),
`dark_edge` (an artwork whose top is a dark, nearly flat sky) and pictures
that share a template with other contents (`card`, `backdrop`, `canton`);
`icon`, a small piece of clip art (flat shapes on white), too small for
keypoints once resized.
"""

from __future__ import annotations

import io
import random

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

WORDS = ("NORTH", "atelier", "Blue hour", "no. 7", "KESTREL", "quiet", "1987", "zinc")


def artwork(
    seed: int = 0, size: tuple[int, int] = (512, 384), *, layout_seed: int | None = None
) -> Image.Image:
    """A structured picture: gradient, textures, shapes and text.

    `layout_seed` (default: `seed`) places the shapes; the palette, shape sizes
    and ground always come from `seed`.
    """
    rng = random.Random(seed)
    layout = random.Random(seed if layout_seed is None else layout_seed)
    content_seed = seed if layout_seed is None else seed * 7919 + layout_seed
    content = random.Random(content_seed)
    width, height = size

    # Ground: a diagonal gradient between two colours.
    top = np.array([rng.randrange(256) for _ in range(3)], dtype=np.float32)
    bottom = np.array([rng.randrange(256) for _ in range(3)], dtype=np.float32)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    t = ((x / width + y / height) / 2)[..., None]
    ground = top * (1 - t) + bottom * t
    img = Image.fromarray(ground.astype(np.uint8), "RGB")

    # Textured patches: smoothed noise, a different grain for each patch.
    noise_rng = np.random.default_rng(content_seed)
    for _ in range(4):
        w, h = (
            layout.randrange(width // 6, width // 3),
            layout.randrange(height // 6, height // 3),
        )
        x0, y0 = layout.randrange(width - w), layout.randrange(height - h)
        grain = noise_rng.integers(0, 256, (h // 3 + 1, w // 3 + 1, 3), dtype=np.uint8)
        patch = Image.fromarray(grain, "RGB").resize((w, h), Image.Resampling.BICUBIC)
        patch = patch.filter(ImageFilter.GaussianBlur(content.uniform(0.5, 1.5)))
        mask = Image.new("L", (w, h), 0)
        ImageDraw.Draw(mask).ellipse((0, 0, w - 1, h - 1), fill=255)
        img.paste(patch, (x0, y0), mask)

    # Flat shapes: sizes and colours from `seed`, positions from `layout`.
    draw = ImageDraw.Draw(img)
    for _ in range(14):
        w, h = rng.randrange(20, width // 4), rng.randrange(20, height // 4)
        fill = tuple(rng.randrange(256) for _ in range(3))
        outline = tuple(rng.randrange(256) for _ in range(3))
        kind = rng.randrange(3)
        x0, y0 = layout.randrange(width - w), layout.randrange(height - h)
        box = (x0, y0, x0 + w, y0 + h)
        if kind == 0:
            draw.ellipse(box, fill=fill, outline=outline, width=3)
        elif kind == 1:
            draw.rectangle(box, fill=fill, outline=outline, width=3)
        else:
            points = [(x0 + w // 2, y0), (x0 + w, y0 + h), (x0, y0 + h)]
            draw.polygon(points, fill=fill, outline=outline, width=3)

    # A few words, as titles and captions do.
    for _ in range(3):
        font = ImageFont.load_default(size=content.randrange(18, 40))
        colour = tuple(content.randrange(256) for _ in range(3))
        where = (content.randrange(width - 120), content.randrange(height - 40))
        draw.text(where, content.choice(WORDS), fill=colour, font=font)
    return img


def icon(seed: int, size: int = 96) -> Image.Image:
    """Clip art `size` px square: six outlined flat shapes on white, softened
    as a rendered icon is. About 40 % of a real artwork registry is pictures
    of at most 200 px like this one."""
    rng = random.Random(seed)
    img = Image.new("RGB", (size, size), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    for _ in range(6):
        w, h = rng.randrange(size // 5, size // 2), rng.randrange(size // 5, size // 2)
        x, y = rng.randrange(size - w), rng.randrange(size - h)
        fill = tuple(rng.randrange(256) for _ in range(3))
        shape = (draw.ellipse, draw.rectangle)[rng.randrange(2)]
        shape((x, y, x + w, y + h), fill=fill, outline=(0, 0, 0), width=2)
    return img.filter(ImageFilter.GaussianBlur(0.6))


def jpeg_bytes(img: Image.Image, quality: int = 85) -> bytes:
    """`img` encoded as a JPEG file."""
    out = io.BytesIO()
    img.convert("RGB").save(out, format="JPEG", quality=quality)
    return out.getvalue()


def lookalike(seed: int, size: tuple[int, int] = (512, 384)) -> Image.Image:
    """The same palette, ground and shapes as `artwork(seed)`, moved and retextured."""
    return artwork(seed, size, layout_seed=seed + 10_000)


# Edits: each takes and returns an RGB image.


def rotate(img: Image.Image, degrees: float, *, expand: bool) -> Image.Image:
    return img.rotate(
        degrees, resample=Image.Resampling.BICUBIC, expand=expand, fillcolor=(0, 0, 0)
    )


def crop(
    img: Image.Image, left: float, top: float, right: float, bottom: float
) -> Image.Image:
    """Cut the given fraction off each side."""
    w, h = img.size
    return img.crop(
        (
            round(w * left),
            round(h * top),
            round(w * (1 - right)),
            round(h * (1 - bottom)),
        )
    )


def resize(img: Image.Image, factor: float) -> Image.Image:
    w, h = img.size
    return img.resize(
        (max(1, round(w * factor)), max(1, round(h * factor))),
        Image.Resampling.LANCZOS,
    )


def stretch(img: Image.Image, x: float, y: float = 1.0) -> Image.Image:
    w, h = img.size
    return img.resize((round(w * x), round(h * y)), Image.Resampling.BICUBIC)


def recompress(img: Image.Image, fmt: str = "JPEG", quality: int = 40) -> Image.Image:
    out = io.BytesIO()
    img.save(out, format=fmt, quality=quality)
    return Image.open(io.BytesIO(out.getvalue())).convert("RGB")


def tone(img: Image.Image, brightness: float, contrast: float) -> Image.Image:
    img = ImageEnhance.Brightness(img).enhance(brightness)
    return ImageEnhance.Contrast(img).enhance(contrast)


def grayscale(img: Image.Image) -> Image.Image:
    return ImageOps.grayscale(img).convert("RGB")


def mirror(img: Image.Image) -> Image.Image:
    return ImageOps.mirror(img)


def watermark(img: Image.Image, text: str = "© stock-site.example") -> Image.Image:
    out = img.copy()
    draw = ImageDraw.Draw(out, "RGBA")
    w, h = out.size
    font = ImageFont.load_default(size=max(12, h // 12))
    draw.text((w // 10, h // 2), text, fill=(255, 255, 255, 150), font=font)
    return out


def letterbox(
    img: Image.Image, pad: float = 0.12, colour: tuple[int, int, int] = (0, 0, 0)
) -> Image.Image:
    """Pad top and bottom to a wider-than-tall frame, as video stills are."""
    w, h = img.size
    extra = round(h * pad)
    out = Image.new("RGB", (w, h + 2 * extra), colour)
    out.paste(img, (0, extra))
    return out


def frame(
    img: Image.Image, pad: float = 0.08, colour: tuple[int, int, int] = (128, 128, 128)
) -> Image.Image:
    """A uniform border on every side, as a mount or a passe-partout."""
    return ImageOps.expand(img, border=round(min(img.size) * pad), fill=colour)


# Other kinds of picture.


def _noise(rng: np.random.Generator, size: tuple[int, int], cells: int) -> np.ndarray:
    """Smooth noise, mean 0 and deviation 1: `cells` random values across the
    width, interpolated (bicubic) to `size`."""
    width, height = size
    grid = rng.standard_normal((max(2, cells * height // width), cells))
    image = Image.fromarray(grid.astype(np.float32), "F")
    out = np.asarray(image.resize(size, Image.Resampling.BICUBIC), np.float64)
    return (out - out.mean()) / out.std()


def texture(seed: int, size: tuple[int, int] = (512, 384)) -> Image.Image:
    """Colour detail everywhere, at several scales (as foliage or stone)."""
    rng = np.random.default_rng(seed)
    channels = []
    for _ in range(3):
        value = sum(
            0.6**octave * _noise(rng, size, 16 * 2**octave) for octave in range(5)
        )
        channels.append(128 + 60 * value / value.std())
    return Image.fromarray(np.clip(np.stack(channels, -1), 0, 255).astype(np.uint8))


def grain(
    seed: int,
    size: tuple[int, int] = (512, 384),
    *,
    mean: float = 30,
    tint: tuple[float, float, float] = (1.0, 0.92, 0.85),
) -> Image.Image:
    """A low-contrast texture: fine grain (deviation 6) and faint veins.

    Reduced to a thumbnail, the grain averages out: nearly flat, as dark
    slate, marble or snow is.
    """
    rng = np.random.default_rng(seed)
    width, _ = size
    value = mean + 6 * _noise(rng, size, width // 2) + 2 * _noise(rng, size, 3)
    rgb = np.stack([value * t for t in tint], -1)
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))


def dark_edge(
    seed: int, size: tuple[int, int] = (640, 400), *, band: float = 0.18
) -> Image.Image:
    """An artwork whose top `band` is a dark sky: flat, close to black, and
    brightening slightly from left to right (every pixel within 24 of black)."""
    out = np.asarray(artwork(seed, size)).copy()
    width, height = size
    t = np.linspace(0, 1, width)[None, :, None]
    sky = np.array([2, 4, 8]) * (1 - t) + np.array([22, 22, 24]) * t
    out[: round(height * band)] = sky.astype(np.uint8)
    return Image.fromarray(out)


def card(
    content: int, size: tuple[int, int] = (640, 480), *, border: float = 0.12
) -> Image.Image:
    """One card design (a textured frame with a row of pips on each side)
    around the artwork `content`: cards of one deck share the frame only."""
    width, height = size
    edge = round(min(size) * border)
    out = texture(500, size)
    draw = ImageDraw.Draw(out)
    for x in range(0, width, 24):
        draw.ellipse(
            (x + 4, edge // 2 - 6, x + 16, edge // 2 + 6), (200, 40, 40), (20, 20, 20)
        )
        draw.ellipse(
            (x + 4, height - edge // 2 - 6, x + 16, height - edge // 2 + 6),
            (40, 40, 200),
            (20, 20, 20),
        )
    for y in range(0, height, 24):
        draw.rectangle(
            (edge // 2 - 5, y + 5, edge // 2 + 5, y + 15), (240, 220, 40), (0, 0, 0)
        )
        draw.rectangle(
            (width - edge // 2 - 5, y + 5, width - edge // 2 + 5, y + 15),
            (40, 200, 80),
            (0, 0, 0),
        )
    out.paste(artwork(content, (width - 2 * edge, height - 2 * edge)), (edge, edge))
    return out


def backdrop(subject: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """One studio backdrop (artwork 501) with the artwork `subject` in an oval
    in front of it (about 40 % of the picture), as portraits taken against the
    same backdrop are."""
    width, height = size
    out = artwork(501, size)
    person = artwork(subject, (round(width * 0.6), round(height * 0.9)))
    mask = Image.new("L", person.size, 0)
    ImageDraw.Draw(mask).ellipse((0, 0, *person.size), fill=255)
    out.paste(person, ((width - person.width) // 2, height - person.height), mask)
    return out


def canton(field: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """The artwork `field` with the same canton (artwork 502) in its top-left
    quarter, as flags sharing a canton are."""
    width, height = size
    out = artwork(field, size)
    out.paste(artwork(502, (width // 2, height // 2)), (0, 0))
    return out


def ensign(badge: int | None, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """One ensign (a dark blue field with artwork 502 as its canton) with the
    artwork `badge` in a disc on the fly, or with none: flags of one family
    differ by their badge only."""
    width, height = size
    out = Image.new("RGB", size, (20, 40, 140))
    out.paste(artwork(502, (width // 2, height // 2)), (0, 0))
    if badge is not None:
        disc = artwork(badge, (160, 160))
        mask = Image.new("L", disc.size, 0)
        ImageDraw.Draw(mask).ellipse((0, 0, 159, 159), fill=255)
        out.paste(disc, (width * 3 // 4 - 80, height // 2 - 80), mask)
    return out


def blank_card(
    size: tuple[int, int] = (640, 480), *, border: float = 0.12
) -> Image.Image:
    """`card`'s frame around an empty white middle: the deck's template alone."""
    width, height = size
    edge = round(min(size) * border)
    out = card(0, size, border=border)
    ImageDraw.Draw(out).rectangle(
        (edge, edge, width - edge - 1, height - edge - 1), fill=(255, 255, 255)
    )
    return out
