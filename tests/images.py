"""Test images, drawn with Pillow (never fetched)."""

from __future__ import annotations

import io
import random
import zipfile

from PIL import Image, ImageDraw


def drawing(seed: int = 0, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A distinct, detailed picture for each seed."""
    rng = random.Random(seed)
    img = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(img)
    for _ in range(25):
        x0, y0 = rng.randrange(size[0]), rng.randrange(size[1])
        x1, y1 = x0 + rng.randrange(20, 160), y0 + rng.randrange(20, 120)
        colour = tuple(rng.randrange(256) for _ in range(3))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        else:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
    return img


def image_bytes(
    seed: int = 0, fmt: str = "PNG", size: tuple[int, int] = (320, 240)
) -> bytes:
    img = drawing(seed, size)
    if fmt in ("GIF", "BMP"):
        img = img.convert("RGB")
    out = io.BytesIO()
    img.save(out, format=fmt)
    return out.getvalue()


def truncated_png(seed: int = 0) -> bytes:
    data = image_bytes(seed, "PNG")
    return data[: len(data) // 2]


def zip_bytes(
    members: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED
) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()
