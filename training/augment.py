"""Strong augmentations that make two views of one image, batched, on any device.

Each view is what a dataset might hold instead of the registered work: an
off-centre crop (biased toward large ones, the hard case for global hashes),
a rotation with or without an expanded canvas, a mirror, a stretch, a uniform
border or a letterbox to another aspect, colour and contrast changes,
grayscale, a blur by rescaling, a rendered text overlay and JPEG compression.
Geometry is one affine grid per sample (`F.affine_grid` + `grid_sample`), so a
whole batch costs one resampling; JPEG is an 8 x 8 DCT quantisation of Y, Cb
and Cr with the standard tables scaled to a drawn quality (no chroma
subsampling), so it runs on the GPU too.

Probabilities are in `Policy`; `Policy()` is what training uses, and
train.py's CPU configuration uses the same policy.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from torch.nn import functional as F


@dataclass(frozen=True)
class Policy:
    crop: float = 0.85  # probability of a crop; area drawn from crop_area
    crop_area: tuple[float, float] = (0.3, 1.0)
    rotate: float = 0.35
    rotate_degrees: float = 15.0
    rotate_expand: float = 0.5  # of the rotations, with an expanded canvas
    quarter_turn: float = 0.05
    mirror: float = 0.3
    stretch: float = 0.3
    stretch_range: float = 0.15
    border: float = 0.2  # uniform frame 3-15 % of the side
    letterbox: float = 0.2  # pad one axis to another aspect
    colour: float = 0.8
    grayscale: float = 0.2
    blur: float = 0.25
    text: float = 0.3
    jpeg: float = 0.5
    jpeg_quality: tuple[int, int] = (25, 90)


def _affine(b: int, policy: Policy, rng: random.Random) -> tuple[np.ndarray, float]:
    """One sample's output->source matrix (2 x 3, normalised coords) and the
    fraction of the output that shows the picture (for the border fill)."""
    m = np.eye(3)

    def then(t: np.ndarray) -> None:
        nonlocal m
        m = m @ t  # output coords go through the last-added transform first

    # crop: a window of the source (sx, sy scales, centre cx, cy)
    if rng.random() < policy.crop:
        area = rng.uniform(*policy.crop_area)
        aspect = math.exp(rng.uniform(math.log(0.75), math.log(1.333)))
        sx = min(1.0, math.sqrt(area * aspect))
        sy = min(1.0, math.sqrt(area / aspect))
        cx = rng.uniform(-(1 - sx), 1 - sx)
        cy = rng.uniform(-(1 - sy), 1 - sy)
        then(np.array([[sx, 0, cx], [0, sy, cy], [0, 0, 1]]))
    if rng.random() < policy.mirror:
        then(np.diag([-1.0, 1.0, 1.0]))
    if rng.random() < policy.quarter_turn:
        k = rng.choice((1, 2, 3))
        c, s = round(math.cos(k * math.pi / 2)), round(math.sin(k * math.pi / 2))
        then(np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]]))
    if rng.random() < policy.rotate:
        a = math.radians(rng.uniform(-policy.rotate_degrees, policy.rotate_degrees))
        c, s = math.cos(a), math.sin(a)
        grow = abs(c) + abs(s) if rng.random() < policy.rotate_expand else 1.0
        then(np.array([[c * grow, -s * grow, 0], [s * grow, c * grow, 0], [0, 0, 1]]))
    if rng.random() < policy.stretch:
        f = 1 + rng.uniform(-policy.stretch_range, policy.stretch_range)
        then(np.diag([f, 1.0, 1.0]) if rng.random() < 0.5 else np.diag([1.0, f, 1.0]))
    if rng.random() < policy.letterbox:
        pad = rng.uniform(1.15, 1.8)  # output axis shows 1/pad picture
        then(
            np.diag([pad, 1.0, 1.0]) if rng.random() < 0.5 else np.diag([1.0, pad, 1.0])
        )
    elif rng.random() < policy.border:
        f = 1 + 2 * rng.uniform(0.03, 0.15)
        then(np.diag([f, f, 1.0]))
    return m[:2].astype(np.float32), 0.0


class TextBank:
    """Rendered text masks (watermarks, captions, handles), drawn once on the CPU."""

    def __init__(self, size: int, count: int = 256, seed: int = 0) -> None:
        rng = random.Random(seed)
        alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@©_. "
        masks = np.zeros((count, 1, size, size), np.float32)
        for i in range(count):
            canvas = Image.new("L", (size, size), 0)
            draw = ImageDraw.Draw(canvas)
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(4, 14)))
            font = ImageFont.load_default(size=rng.randint(size // 14, size // 5))
            x = rng.randint(-size // 8, size // 2)
            y = rng.randint(0, size - size // 6)
            draw.text((x, y), text, fill=255, font=font)
            masks[i, 0] = np.asarray(canvas, np.float32) / 255.0
        self.masks = torch.from_numpy(masks)

    def to(self, device: torch.device) -> TextBank:
        self.masks = self.masks.to(device)
        return self


# JPEG (ITU T.81 Annex K) quantisation tables, row by row.
_LUMA = [
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
]  # fmt: skip
_CHROMA = [
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
]  # fmt: skip


def _dct_matrix(device: torch.device) -> torch.Tensor:
    n = torch.arange(8, dtype=torch.float32, device=device)
    k = n[:, None]
    d = torch.cos(math.pi * (2 * n[None, :] + 1) * k / 16) * math.sqrt(2 / 8)
    d[0] = d[0] / math.sqrt(2)
    return d


def jpeg(x: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
    """JPEG-like quantisation of (B, 3, H, W) in [0, 1]; H and W multiples of 8."""
    b, _, h, w = x.shape
    r, g, bl = x[:, 0] * 255, x[:, 1] * 255, x[:, 2] * 255
    y = 0.299 * r + 0.587 * g + 0.114 * bl
    cb = -0.168736 * r - 0.331264 * g + 0.5 * bl + 128
    cr = 0.5 * r - 0.418688 * g - 0.081312 * bl + 128
    ycc = torch.stack([y, cb, cr], 1) - 128
    q = quality.float().clamp(1, 100)
    scale = torch.where(q < 50, 5000 / q, 200 - 2 * q)  # libjpeg's scaling
    tables = torch.tensor(
        [_LUMA, _CHROMA, _CHROMA], dtype=torch.float32, device=x.device
    )
    qt = ((tables[None] * scale[:, None, None] + 50) / 100).floor().clamp(1, 255)
    qt = qt.view(b, 3, 1, 1, 8, 8)
    blocks = ycc.view(b, 3, h // 8, 8, w // 8, 8).permute(0, 1, 2, 4, 3, 5)
    d = _dct_matrix(x.device)
    coef = d @ blocks @ d.T
    coef = torch.round(coef / qt) * qt
    out = (d.T @ coef @ d).permute(0, 1, 2, 4, 3, 5).reshape(b, 3, h, w) + 128
    y, cb, cr = out[:, 0], out[:, 1] - 128, out[:, 2] - 128
    rgb = torch.stack(
        [y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb], 1
    )
    return (rgb / 255).clamp(0, 1)


def views(
    images: torch.Tensor,
    size: int,
    policy: Policy,
    rng: random.Random,
    text: TextBank | None = None,
) -> torch.Tensor:
    """One augmented view (B, 3, size, size) in [0, 1] of uint8 or float images."""
    x = images.float() / 255 if images.dtype == torch.uint8 else images
    b, dev = x.shape[0], x.device
    theta = torch.from_numpy(np.stack([_affine(i, policy, rng)[0] for i in range(b)]))
    theta = theta.to(dev)
    grid = F.affine_grid(theta, [b, 3, size, size], align_corners=False)
    ones = torch.ones(b, 1, *x.shape[2:], device=dev)
    out = F.grid_sample(
        torch.cat([x, ones], 1),
        grid,
        mode="bilinear",
        padding_mode="zeros",
        align_corners=False,
    )
    picture, inside = out[:, :3], out[:, 3:4]
    fill = torch.tensor(
        [
            rng.choice(
                ((0, 0, 0), (1, 1, 1), (rng.random(), rng.random(), rng.random()))
            )
            for _ in range(b)
        ],
        device=dev,
        dtype=torch.float32,
    ).view(b, 3, 1, 1)
    x = picture + (1 - inside) * fill

    def pick(p: float) -> torch.Tensor:
        return torch.tensor([rng.random() < p for _ in range(b)], device=dev).view(
            b, 1, 1, 1
        )

    def draw(lo: float, hi: float) -> torch.Tensor:
        return torch.tensor([rng.uniform(lo, hi) for _ in range(b)], device=dev).view(
            b, 1, 1, 1
        )

    # colour: brightness, contrast, saturation, a small hue-like channel shift
    c = pick(policy.colour)
    gray = x.mean(1, keepdim=True)
    jittered = (x * draw(0.6, 1.4)).clamp(0, 1)
    jittered = (
        (jittered - gray.mean((2, 3), keepdim=True)) * draw(0.6, 1.4)
        + gray.mean((2, 3), keepdim=True)
    ).clamp(0, 1)
    g2 = jittered.mean(1, keepdim=True)
    jittered = (g2 + (jittered - g2) * draw(0.4, 1.6)).clamp(0, 1)
    shift = torch.tensor(
        [[rng.uniform(-0.06, 0.06) for _ in range(3)] for _ in range(b)], device=dev
    ).view(b, 3, 1, 1)
    jittered = (jittered + shift).clamp(0, 1)
    x = torch.where(c, jittered, x)
    luma = (0.299 * x[:, :1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]).expand(
        -1, 3, -1, -1
    )
    x = torch.where(pick(policy.grayscale), luma, x)
    # blur by rescaling down and up (what a resized copy loses)
    factor = rng.uniform(0.25, 0.7)
    small = F.interpolate(
        x, scale_factor=factor, mode="bilinear", antialias=True, align_corners=False
    )
    up = F.interpolate(small, size=(size, size), mode="bilinear", align_corners=False)
    x = torch.where(pick(policy.blur), up, x)
    if text is not None:
        idx = torch.tensor(
            [rng.randrange(len(text.masks)) for _ in range(b)], device=dev
        )
        mask = text.masks[idx] * draw(0.4, 1.0) * pick(policy.text)
        colour = torch.tensor(
            [
                rng.choice(((0, 0, 0), (1, 1, 1), (1, 0, 0), (1, 1, 0)))
                for _ in range(b)
            ],
            device=dev,
            dtype=torch.float32,
        ).view(b, 3, 1, 1)
        x = x * (1 - mask) + colour * mask
    quality = torch.tensor(
        [rng.randint(*policy.jpeg_quality) for _ in range(b)], device=dev
    )
    x = torch.where(pick(policy.jpeg), jpeg(x, quality), x)
    return x


def normalise(x: torch.Tensor, mean: tuple, std: tuple) -> torch.Tensor:
    m = torch.tensor(mean, device=x.device).view(1, 3, 1, 1)
    s = torch.tensor(std, device=x.device).view(1, 3, 1, 1)
    return (x - m) / s
