"""Local features of registered images, for verifying candidates (tar shards).

Stored beside each image when it is fingerprinted (computed from the original
for images hashed before that), and kept per worker process in a small LRU
cache: the same popular works are hit again and again.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from threading import Lock
from typing import Any

from django.conf import settings

from registry.models import Image
from workers.engine.images import ImageRejected, decode_image

log = logging.getLogger(__name__)

_CACHE_SIZE = 512
_cache: OrderedDict[int, Any] = OrderedDict()
_lock = Lock()


def reference_features(image_id: int) -> Any:
    """verify.Features of a registered image, or None (hash-only, unreadable)."""
    with _lock:
        if image_id in _cache:
            _cache.move_to_end(image_id)
            return _cache[image_id]
    features = _load(image_id)
    with _lock:
        _cache[image_id] = features
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return features


def _load(image_id: int) -> Any:
    from workers.engine import verify

    image = (
        Image.objects.filter(pk=image_id, source=Image.Source.UPLOAD)
        .only("original", "features")
        .first()
    )
    if image is None or not image.original:
        return None
    if image.features:
        try:
            with image.features.open("rb") as fh:
                return verify.Features.from_bytes(fh.read())
        except (OSError, ValueError) as exc:
            log.warning("image %s: stored features unreadable: %s", image_id, exc)
    # Hashed before features were stored: compute them from the original.
    try:
        with image.original.open("rb") as fh:
            data = fh.read()
        decoded = decode_image(data, max_pixels=settings.UPLOAD_MAX_IMAGE_PIXELS)
    except (OSError, ImageRejected) as exc:
        log.warning("image %s: original unreadable for verification: %s", image_id, exc)
        return None
    return verify.extract(decoded.image)


def reference_cache_clear() -> None:
    with _lock:
        _cache.clear()
