"""Fingerprints of one image: exact digests of its bytes and perceptual hashes.

A fingerprint is computed from the original bytes (SHA-256, MD5) and from the
decoded, upright RGB image (pHash via imagehash, PDQ via Meta's pdqhash). Each
algorithm carries a version string; stored fingerprints whose version differs
from `ALGORITHM_VERSIONS` are recomputed by `manage.py refingerprint`, so a
better hash never needs a re-upload.

Limits: perceptual hashes are only as good as the image is distinctive. PDQ
reports a quality (0-100); below about 50 Meta advises its hashes match poorly,
so callers keep them but flag them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import imagehash
import numpy as np
import pdqhash
from PIL import Image

from . import perceptual
from .hashes import phash_to_int
from .images import DEFAULT_MAX_PIXELS, decode_image, make_thumbnail

# Bump an entry when its computation changes; refingerprint compares these.
ALGORITHM_VERSIONS: dict[str, str] = {
    "sha256": "1",
    "md5": "1",
    "phash": f"imagehash-{imagehash.__version__}:8x8",
    "pdq": "pdqhash-0.2:1",
}

# Registry-side PDQ variants (workers/engine/perceptual.py) are versioned as a
# whole: bump this when how any variant is computed changes; changing the
# scheme in settings changes `variants_version` too, and refingerprint follows.
VARIANTS_VERSION = "2"  # 2: trimming stops at flat picture edges


def variants_version(scheme: str) -> str:
    """The version string stored on every variant fingerprint of `scheme`."""
    return f"v{VARIANTS_VERSION}:{scheme}:{perceptual.PREPARE_MAX_SIDE}px"


def pack_variants(variants: dict[str, tuple[bytes, int]]) -> bytes:
    """An image's registry-side PDQ variants as one value (the database keeps
    one per image, not one row per variant).

    Per variant, in name order: the name's length (1 byte), the name (ASCII),
    the PDQ (32 bytes) and its quality (1 byte, 0-100).
    """
    out = bytearray()
    for name in sorted(variants):
        raw, quality = variants[name]
        encoded = name.encode("ascii")
        if not 0 < len(encoded) < 256 or len(raw) != 32 or not 0 <= quality <= 100:
            raise ValueError(f"PDQ variant {name!r} cannot be packed")
        out += bytes([len(encoded)]) + encoded + bytes(raw) + bytes([quality])
    return bytes(out)


def unpack_variants(data: bytes | memoryview | None) -> dict[str, tuple[bytes, int]]:
    """`pack_variants` undone; raises ValueError for bytes it did not write."""
    variants: dict[str, tuple[bytes, int]] = {}
    view = bytes(data or b"")
    at = 0
    while at < len(view):
        size = view[at]
        end = at + 1 + size + 33
        if size == 0 or end > len(view):
            raise ValueError("packed PDQ variants are cut short")
        name = view[at + 1 : at + 1 + size].decode("ascii")
        variants[name] = (view[at + 1 + size : end - 1], view[end - 1])
        at = end
    return variants


@dataclass(frozen=True)
class ImageFingerprints:
    sha256: bytes  # 32 bytes, of the original file
    md5: bytes  # 16 bytes, of the original file
    phash: bytes  # 8 bytes (imagehash's 64-bit pHash, as its hex reads)
    pdq: bytes  # 32 bytes (Meta's PDQ hex order)
    pdq_quality: int  # 0-100
    width: int
    height: int
    format: str
    # Registry side: variant name -> (PDQ, quality), from perceptual.prepare.
    pdq_variants: dict[str, tuple[bytes, int]] = field(default_factory=dict)
    # Copy-detection descriptors, one per descriptor.REGIONS entry (float16
    # bytes, descriptor.pack), and the version they were computed with; empty
    # when not asked for.
    descriptors: bytes = b""
    descriptor_version: str = ""

    @property
    def phash_int(self) -> int:
        return phash_to_int(self.phash)

    def as_hex(self) -> dict[str, str | int]:
        return {
            "sha256": self.sha256.hex(),
            "md5": self.md5.hex(),
            "phash": self.phash.hex(),
            "pdq": self.pdq.hex(),
            "pdq_quality": self.pdq_quality,
            "width": self.width,
            "height": self.height,
            "format": self.format,
        }


@dataclass(frozen=True)
class FingerprintResult:
    fingerprints: ImageFingerprints
    thumbnail: bytes | None  # JPEG; None when not asked for
    features: bytes | None = None  # verify.Features.to_bytes(); when asked for


def digests(data: bytes) -> tuple[bytes, bytes]:
    """(SHA-256, MD5) of the bytes."""
    return hashlib.sha256(data).digest(), hashlib.md5(
        data, usedforsecurity=False
    ).digest()


def phash(image: Image.Image) -> bytes:
    """imagehash's 64-bit pHash of an RGB image, as 8 bytes."""
    return bytes.fromhex(str(imagehash.phash(image)))


def pdq(image: Image.Image) -> tuple[bytes, int]:
    """Meta's PDQ hash (32 bytes) and quality (0-100) of an RGB image."""
    vector, quality = pdqhash.compute(np.asarray(image))
    return np.packbits(vector.astype(np.uint8)).tobytes(), int(quality)


def fingerprint_bytes(
    data: bytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    thumbnail_size: int | None = 256,
    variants: tuple[str, ...] = (),
    features: bool = False,
    descriptors: bool = False,
) -> FingerprintResult:
    """Decode an image file and compute every fingerprint and a thumbnail.

    `thumbnail_size=None` skips the thumbnail (manifest rows need none).
    `variants` names registry-side PDQ variants (perceptual.SCHEMES) to compute
    as well; ValueError for an unknown name. `features` adds the local
    features verification compares against (workers/engine/verify.py), from
    the same decoded image. `descriptors` adds the copy-detection descriptors
    of every region (workers/engine/descriptor.py).

    Raises images.ImageRejected if the bytes are not an acceptable image.
    """
    decoded = decode_image(data, max_pixels=max_pixels)
    packed, packed_version = b"", ""
    if descriptors:
        from . import descriptor  # onnxruntime: only where descriptors are made

        packed = descriptor.pack(descriptor.model().regions(decoded.image))
        packed_version = descriptor.version()
    sha256, md5 = digests(data)
    pdq_hash, quality = pdq(decoded.image)
    fingerprints = ImageFingerprints(
        sha256=sha256,
        md5=md5,
        phash=phash(decoded.image),
        pdq=pdq_hash,
        pdq_quality=quality,
        width=decoded.width,
        height=decoded.height,
        format=decoded.format,
        pdq_variants=(
            perceptual.pdq_variants(perceptual.prepare(decoded.image), variants)
            if variants
            else {}
        ),
        descriptors=packed,
        descriptor_version=packed_version,
    )
    return FingerprintResult(
        fingerprints=fingerprints,
        thumbnail=(
            make_thumbnail(decoded.image, size=thumbnail_size)
            if thumbnail_size
            else None
        ),
        features=_features(decoded.image) if features else None,
    )


def _features(image: Image.Image) -> bytes:
    from . import verify  # OpenCV: only in the processes that need it

    return verify.extract(image).to_bytes()


@dataclass(frozen=True)
class QueryFingerprints:
    """What a manifest row's image is matched by (tar shards)."""

    sha256: bytes
    md5: bytes
    phash: bytes  # imagehash pHash of the decoded image, as for the registry
    # perceptual.query_pdq: "canonical", "trimmed" when trimming cut something,
    # and "flipx" unless the descriptor runs (it finds mirrors itself)
    pdq: dict[str, bytes]
    # What the descriptor describes (descriptor_queries): the image, and its
    # trimmed form when trimming cut something; empty when not asked for.
    descriptor_images: dict[str, Image.Image] = field(default_factory=dict)


def query_fingerprints(
    data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS, descriptor: bool = False
) -> QueryFingerprints:
    """Fingerprints of a manifest row's image; raises images.ImageRejected."""
    decoded = decode_image(data, max_pixels=max_pixels)
    sha256, md5 = digests(data)
    prepared = perceptual.prepare(decoded.image)
    # Trimmed once, on the prepared image (at most 256 px: a trim of the full
    # image cost as much as the three PDQ hashes), for both PDQ and the
    # descriptor.
    box = perceptual.trim_box(prepared)
    trimmed = perceptual.crop_to(prepared, box)
    return QueryFingerprints(
        sha256=sha256,
        md5=md5,
        phash=phash(decoded.image),
        # The mirror's PDQ finds mirrored copies; the descriptor, when it runs,
        # finds them too (recall@8 1.00 on bench/quality's mirrors), so its
        # hash is left out then: 0.6 ms a row.
        pdq=perceptual.query_pdq(prepared, trimmed=trimmed, mirrored=not descriptor),
        descriptor_images=(
            descriptor_queries(
                decoded.image,
                box=perceptual.scale_box(box, prepared.size, decoded.image.size),
            )
            if descriptor
            else {}
        ),
    )


def descriptor_queries(
    image: Image.Image, *, box: tuple[int, int, int, int] | None = None
) -> dict[str, Image.Image]:
    """The forms of a query image the descriptor looks up: "whole", and
    "trimmed" when uniform margins (a frame, a letterbox) were cut away.

    `box` is the picture inside the margins when the caller has found it
    already (perceptual.trim_box, possibly on a smaller copy); else it is
    found here.
    """
    queries = {"whole": image}
    if box is None:
        box = perceptual.trim_box(image)
    trimmed = perceptual.crop_to(image, box)
    if trimmed is not image:
        queries["trimmed"] = trimmed
    return queries
