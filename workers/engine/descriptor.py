"""The copy-detection descriptor: an image -> a 256-d unit vector (our own model).

The model (training/, an SSCD-style network trained by the project; its card
is training/MODEL_CARD.md) runs here in onnxruntime on the CPU, one thread
per process (workers parallelise by process). Two images that are copies of
each other, whatever the crop, rotation, border, mirror, stretch,
recompression or overlay, get vectors with a high inner product (cosine
similarity); unrelated images get low ones. The registry uses it as the
candidate stage of image matching: a row's nearest registered images by
descriptor are then verified geometrically (verify.py).

Pre-processing is pinned: the decoded RGB image (alpha already composited on
white by images.decode_image) is resized to the model's square input with
Pillow's bilinear filter (which anti-aliases when it reduces), scaled to
[0, 1] and normalised by the mean and standard deviation the model file
names. The same image gives the same vector to 1e-5 in any process
(tests/workers/test_engine_descriptor.py).

A registered image is described by REGIONS: the whole image and its
centre crop (64 % of the area), so a heavy crop of a work lands near the
region it kept. Chosen by measurement (bench/quality/descriptor.py,
docs/MATCHING.md section 7): the four corner crops of 64 % the first version
also stored found no copy these two miss (recall@8 0.980 either way), for
three times the vectors. A query (a manifest
row's image) is described whole, and trimmed of uniform margins as a second
query when trimming cut something (perceptual.trim_borders).

`version()` names the model file (its name and a digest of its bytes) and the
regions: stored descriptors of another version are recomputed by
`manage.py refingerprint`, and a job records the version it matched with.

An artist who registers an image by its hashes alone computes its
descriptors on their own machine (`manage.py fingerprint`, with this module)
and sends them as base64 text (`to_text`); the registry checks the text
(`from_text`) and the version, and cannot recompute them later: it never
had the image.

Limits: the model was trained from scratch on a few tens of thousands of
Debian artworks (training/MODEL_CARD.md has its figures); weak spots are
crops keeping under ~40 % of the area, two geometric edits in a row, and
tiny images (the whole image is squeezed to 160 x 160, so under ~48 px
there is little left to describe).

The shipped model (v3) is v2 quantized to int8 (training/quantize.py): about
1 ms of CPU per image region instead of 2.5, its vectors within a cosine of
0.994 of v2's (median 0.9992). v2, the float model it was made from, stays
beside it so that the quantization can be redone.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from PIL import Image

MODEL_DIR = Path(__file__).resolve().parent / "models"
DEFAULT_MODEL = "descriptor-v3.onnx"

# name -> (left, top, right, bottom) as fractions of the width and height.
REGIONS: dict[str, tuple[float, float, float, float]] = {
    "whole": (0.0, 0.0, 1.0, 1.0),
    "centre": (0.1, 0.1, 0.9, 0.9),
}
# Regions on disk and in the index are numbered in this order.
REGION_NAMES = tuple(REGIONS)
# Embedding is batched; bigger batches do not go faster on one thread.
BATCH = 32
# How far from 1 a submitted vector's length may be. float16 storage alone
# moves a unit vector's norm by under 1e-3; a vector off by more was not made
# by `embed` (or was damaged on the way).
NORM_TOLERANCE = 0.01
# The longest descriptor text the API and the page take: base64 of 2 x 256
# float16 is 1368 characters; room for a bigger model, and a bound on what is
# decoded.
TEXT_MAX_CHARS = 65_536


@dataclass(frozen=True)
class ModelInfo:
    path: Path
    version: str  # e.g. "descriptor-v1:3f2a9c1b0d4e"
    input_size: int
    dim: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


class Descriptor:
    """One loaded model. Thread-safe for `embed` (onnxruntime sessions are)."""

    def __init__(self, path: Path | str | None = None) -> None:
        import onnxruntime as ort

        self.path = Path(path) if path else MODEL_DIR / DEFAULT_MODEL
        data = self.path.read_bytes()
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        self.session = ort.InferenceSession(
            data, sess_options=options, providers=["CPUExecutionProvider"]
        )
        meta = self.session.get_modelmeta().custom_metadata_map
        digest = hashlib.sha256(data).hexdigest()[:12]
        self.info = ModelInfo(
            path=self.path,
            version=f"{meta['model_version']}:{digest}",
            input_size=int(meta["input_size"]),
            dim=int(meta["dim"]),
            mean=tuple(json.loads(meta["mean"])),
            std=tuple(json.loads(meta["std"])),
        )
        self._input = self.session.get_inputs()[0].name

    @cached_property
    def _scale(self) -> tuple[np.ndarray, np.ndarray]:
        mean = np.array(self.info.mean, np.float32).reshape(3, 1, 1)
        std = np.array(self.info.std, np.float32).reshape(3, 1, 1)
        return mean, std

    def prepare(self, image: Image.Image) -> np.ndarray:
        """(3, S, S) float32: the model's input for one RGB image."""
        size = self.info.input_size
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        resized = rgb.resize((size, size), Image.Resampling.BILINEAR)
        x = np.asarray(resized, np.float32).transpose(2, 0, 1) / np.float32(255)
        mean, std = self._scale
        return (x - mean) / std

    def embed(self, images: list[Image.Image]) -> np.ndarray:
        """(N, dim) float32 unit vectors, one per image."""
        out = np.zeros((len(images), self.info.dim), np.float32)
        for start in range(0, len(images), BATCH):
            part = images[start : start + BATCH]
            x = np.stack([self.prepare(im) for im in part])
            out[start : start + len(part)] = self.session.run(None, {self._input: x})[0]
        return _unit(out)

    def embed_prepared(self, x: np.ndarray) -> np.ndarray:
        """(N, dim) unit vectors of inputs `prepare` already made, (N, 3, S, S)."""
        parts = [
            self.session.run(None, {self._input: x[start : start + BATCH]})[0]
            for start in range(0, len(x), BATCH)
        ]
        return _unit(np.concatenate(parts) if parts else np.zeros((0, self.info.dim)))

    def regions(self, image: Image.Image) -> np.ndarray:
        """(len(REGIONS), dim): the registry side's descriptors of one image."""
        return self.embed([crop_region(image, name) for name in REGION_NAMES])


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def crop_region(image: Image.Image, name: str) -> Image.Image:
    left, top, right, bottom = REGIONS[name]
    if (left, top, right, bottom) == (0.0, 0.0, 1.0, 1.0):
        return image
    w, h = image.size
    box = (round(left * w), round(top * h), round(right * w), round(bottom * h))
    return image.crop(box)


_models: dict[str, Descriptor] = {}
_models_lock = threading.Lock()


def model(path: Path | str | None = None) -> Descriptor:
    """The process's loaded model for `path` (default: the shipped one)."""
    key = str(path or "")
    with _models_lock:
        loaded = _models.get(key)
        if loaded is None:
            loaded = _models[key] = Descriptor(path)
        return loaded


def version(path: Path | str | None = None) -> str:
    """What a stored descriptor records: the model's version and the regions."""
    return f"{model(path).info.version}:r{len(REGION_NAMES)}"


def pack(vectors: np.ndarray) -> bytes:
    """float16 bytes of (R, dim) vectors: what the database stores."""
    return np.ascontiguousarray(vectors, np.float16).tobytes()


def unpack(data: bytes, dim: int) -> np.ndarray:
    """(R, dim) float32 from `pack`'s bytes; ValueError if the size is wrong."""
    if not data or len(data) % (2 * dim):
        raise ValueError(
            f"descriptor bytes ({len(data)}) are not a multiple of {dim} float16"
        )
    return np.frombuffer(data, np.float16).reshape(-1, dim).astype(np.float32)


def to_text(packed: bytes) -> str:
    """`pack`'s bytes as base64 text: what `manage.py fingerprint` prints and
    the register-by-hashes API and page take."""
    return base64.b64encode(packed).decode("ascii")


def from_text(text: str, *, dim: int, regions: int = len(REGION_NAMES)) -> bytes:
    """`pack`'s bytes from `to_text`'s text, checked: `regions` unit vectors of
    `dim` finite float16 values each. Whitespace (a pasted, wrapped line) is
    ignored.

    Raises ValueError naming what is wrong, in words that start "descriptor".
    """
    compact = "".join(text.split())
    try:
        data = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(
            "descriptor is not valid base64 (as manage.py fingerprint prints it)"
        ) from None
    want = regions * dim * 2
    if len(data) != want:
        raise ValueError(
            f"descriptor must be {regions} vectors of {dim} float16 values "
            f"({want} bytes, {len(to_text(bytes(want)))} base64 characters), "
            f"got {len(data)} bytes"
        )
    vectors = np.frombuffer(data, np.float16).reshape(regions, dim)
    if not np.isfinite(vectors).all():
        raise ValueError("descriptor holds values that are not finite (NaN or inf)")
    norms = np.linalg.norm(vectors.astype(np.float32), axis=1)
    for i, norm in enumerate(norms):
        if abs(float(norm) - 1.0) > NORM_TOLERANCE:
            name = f" ({REGION_NAMES[i]})" if regions == len(REGION_NAMES) else ""
            raise ValueError(
                f"descriptor vector {i + 1}{name} has length {norm:.3f}, "
                f"not 1 (within {NORM_TOLERANCE})"
            )
    return data
