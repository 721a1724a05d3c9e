"""Example answers of the artists' API, shown in its docs."""

from __future__ import annotations

from typing import Any

RIGHTS_HOLDER_EXAMPLE: dict[str, Any] = {
    "id": 12,
    "display_name": "Alice Moreau",
    "contact_email": "alice@example.com",
    "website": "https://alice.example",
    "verified": False,
}


# An uploaded image after the worker has fingerprinted it.
IMAGE_UPLOADED_EXAMPLE: dict[str, Any] = {
    "id": 311,
    "work": 87,
    "source": "upload",
    "original_name": "harbour-at-dawn.jpg",
    "status": "hashed",
    "failure_reason": "",
    "width": 1600,
    "height": 1200,
    "format": "JPEG",
    "byte_size": 44827,
    "thumbnail_url": "https://registry.example/files/image/311/thumbnail",
    "original_url": "https://registry.example/files/image/311/original",
    "fingerprints": {
        "sha256": "a05db31b3fc031ab46aff1d470d097d0e98b0a0651a7691ecd11401e963c8c0e",
        "md5": "1f5350056116afed253f3915d1510763",
        "phash": "e6c69c3933319c2e",
        "pdq": "6707763841988ff58663387e98999b03c323f638f99c27c647e619ceb89c0f31",
        "pdq_quality": 62,
        "pdq_low_quality": False,
        "versions": {
            "md5": "1",
            "pdq": "pdqhash-0.2:1",
            "phash": "imagehash-4.3.2:8x8",
            "sha256": "1",
        },
    },
    "created": "2026-11-24T08:20:00Z",
    "fingerprinted_at": "2026-11-24T08:20:04Z",
}


# An uploaded image the worker has not fingerprinted yet.
IMAGE_PENDING_EXAMPLE: dict[str, Any] = {
    **IMAGE_UPLOADED_EXAMPLE,
    "id": 312,
    "work": 88,
    "original_name": "portfolio.zip: sketches/night-market.png",
    "status": "pending",
    "width": 2048,
    "height": 1365,
    "format": "PNG",
    "byte_size": 3145728,
    "thumbnail_url": None,
    "original_url": "https://registry.example/files/image/312/original",
    "fingerprints": {
        "sha256": None,
        "md5": None,
        "phash": None,
        "pdq": None,
        "pdq_quality": None,
        "pdq_low_quality": None,
        "versions": {},
    },
    "created": "2026-11-24T08:31:12Z",
    "fingerprinted_at": None,
}


# An image registered by its hashes alone: no file, no size, no thumbnail.
IMAGE_HASHES_EXAMPLE: dict[str, Any] = {
    "id": 314,
    "work": 90,
    "source": "hashes",
    "original_name": "",
    "status": "hashed",
    "failure_reason": "",
    "width": None,
    "height": None,
    "format": "",
    "byte_size": None,
    "thumbnail_url": None,
    "original_url": None,
    "fingerprints": {
        "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "md5": None,
        "phash": "d1c4e0f0b8983c3e",
        "pdq": "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22",
        "pdq_quality": 88,
        "pdq_low_quality": False,
        "versions": {"pdq": "submitted", "phash": "submitted", "sha256": "submitted"},
    },
    "created": "2026-11-24T09:02:45Z",
    "fingerprinted_at": "2026-11-24T09:02:45Z",
}


# manage.py fingerprint --json's output for one image, with a title: the
# descriptor is cut short here (the real one of descriptor-v3 is 1368
# characters).
IMAGE_HASHES_DESCRIPTOR_REQUEST: dict[str, Any] = {
    "title": "Night market",
    "file": "night-market.png",
    "sha256": IMAGE_HASHES_EXAMPLE["fingerprints"]["sha256"],
    "md5": "0f1e6f3b8d8a4c5e2b7d9a0c4e6f8a1b",
    "phash": IMAGE_HASHES_EXAMPLE["fingerprints"]["phash"],
    "pdq": IMAGE_HASHES_EXAMPLE["fingerprints"]["pdq"],
    "pdq_quality": 88,
    "width": 2400,
    "height": 1600,
    "format": "PNG",
    "bytes": 4182233,
    "descriptor": "Ai0qKWYucqtVKUch16WyqtupEKkxJiWiACvpK7gsqSY+rHMr26rqK+Us96hR...",
    "descriptor_version": "descriptor-v3:9bcacd6cd303:r2",
}


WORK_EXAMPLE: dict[str, Any] = {
    "id": 87,
    "title": "Harbour at dawn",
    "description": "Oil on canvas, 2024.",
    "source_urls": ["https://alice.example/art/harbour-at-dawn"],
    "status": "active",
    "image_count": 1,
    "pending_count": 0,
    "created": "2026-11-24T08:20:00Z",
    "withdrawn_at": None,
    "opt_in": None,
}


WORK_DETAIL_EXAMPLE: dict[str, Any] = {
    **WORK_EXAMPLE,
    "images": [IMAGE_UPLOADED_EXAMPLE],
}


CLAIM_URL_EXAMPLE: dict[str, Any] = {
    "id": 41,
    "kind": "url",
    "value": "https://Alice.example/art/harbour-at-dawn.jpg",
    "normalized": "https://alice.example/art/harbour-at-dawn.jpg",
    "aliases": [],
    "preferences": {"train-ai": "n"},
    "state": "active",
    "verification_token": None,
    "created": "2026-11-24T08:40:00Z",
    "activated_at": "2026-11-24T08:40:00Z",
    "withdrawn_at": None,
    "proof_checked_at": None,
    "proof_method": "",
    "proof_error": "",
    "pending_reason": "",
    "blocked_by": None,
    "opt_in": None,
}


CLAIM_DOMAIN_EXAMPLE: dict[str, Any] = {
    **CLAIM_URL_EXAMPLE,
    "id": 42,
    "kind": "domain",
    "value": "alice.example",
    "normalized": "alice.example",
    "preferences": {"train-ai": "n", "search": "y"},
    "state": "unverified",
    "verification_token": "Y2RVd33Gw3DhRYliYEvIX6xgeHb5Fv9M",
    "created": "2026-11-24T08:45:00Z",
    "activated_at": None,
}


CLAIM_STYLE_EXAMPLE: dict[str, Any] = {
    **CLAIM_URL_EXAMPLE,
    "id": 43,
    "kind": "style",
    "value": "Alice Moreau",
    "normalized": "alice moreau",
    "aliases": ["a. moreau"],
    "state": "pending_review",
    "created": "2026-11-24T08:50:00Z",
    "activated_at": None,
}
