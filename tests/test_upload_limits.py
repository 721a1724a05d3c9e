"""Upload bodies over their endpoint's limit are refused as soon as the
declared size or the streamed bytes pass it (core/upload_limits.py): a 413
naming the limit, JSON under /api/ and a form error on pages, with nothing
stored and the rest of the body left unread."""

from __future__ import annotations

import io
import json

import pytest
from django.core.files.storage import default_storage
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.urls import reverse

from disputes.models import Dispute
from optout.models import Manifest
from tests.disputes.helpers import prefix_claim
from tests.images import image_bytes

pytestmark = pytest.mark.django_db

MB = 1024 * 1024


class CountingInput(io.BytesIO):
    """wsgi.input that counts what the server read of the body."""

    def read(self, size: int = -1) -> bytes:
        data = super().read(size)
        self.bytes_read = getattr(self, "bytes_read", 0) + len(data)
        return data

    def readline(self, size: int = -1) -> bytes:  # type: ignore[override]
        data = super().readline(size)
        self.bytes_read = getattr(self, "bytes_read", 0) + len(data)
        return data


def post_multipart(client, url: str, fields: dict, *, declared: int | None = None):
    """POST `fields` as multipart, optionally declaring another Content-Length."""
    body = encode_multipart(BOUNDARY, fields)
    stream = CountingInput(body)
    response = client.generic(
        "POST",
        url,
        content_type=MULTIPART_CONTENT,
        **{
            "wsgi.input": stream,
            "CONTENT_TYPE": MULTIPART_CONTENT,
            "CONTENT_LENGTH": str(declared if declared is not None else len(body)),
        },
    )
    return response, stream


def stored_files() -> list[str]:
    found: list[str] = []

    def walk(path: str) -> None:
        dirs, files = default_storage.listdir(path)
        found.extend(f"{path}/{f}" for f in files)
        for d in dirs:
            walk(f"{path}/{d}" if path else d)

    walk("")
    return found


def manifest_file(size: int) -> io.BytesIO:
    data = io.BytesIO(b"url\n" + b"https://a.example/x\n" * (size // 20))
    data.name = "m.csv"
    return data


def test_a_declared_body_over_the_manifest_limit_is_a_413_before_it_is_read(
    curator_client, settings
):
    settings.MANIFEST_MAX_BYTES = 1_000

    response, stream = post_multipart(
        curator_client,
        "/api/v1/manifests/",
        {"files": [manifest_file(2_000)]},
        declared=3 * 1024**3,  # a 3 GB body, as its header says
    )

    assert response.status_code == 413
    assert response.json() == {
        "message": "the upload is 3,221,225,472 bytes, over the 10,486,760 this "
        "endpoint takes: a manifest of at most 1,000 bytes (MANIFEST_MAX_BYTES)",
        "code": "request_too_large",
        "extra": {},
    }
    assert getattr(stream, "bytes_read", 0) == 0
    assert not Manifest.objects.exists()


def test_streamed_manifest_bytes_past_the_limit_stop_the_upload(
    curator_client, settings
):
    settings.MANIFEST_MAX_BYTES = 100_000

    response, stream = post_multipart(
        curator_client, "/api/v1/manifests/", {"files": [manifest_file(5 * MB)]}
    )

    assert response.status_code == 413
    assert response.json()["message"] == (
        "the files are over 100,000 bytes together: this endpoint takes a "
        "manifest of at most 100,000 bytes (MANIFEST_MAX_BYTES)"
    )
    assert stream.bytes_read < 1 * MB  # of a 5 MB body
    assert not Manifest.objects.exists()
    assert stored_files() == []


def test_a_manifest_page_upload_over_the_limit_is_a_form_error(
    client, curator, settings
):
    settings.MANIFEST_MAX_BYTES = 1_000
    client.force_login(curator)

    response, stream = post_multipart(
        client,
        reverse("manifest_upload"),
        {"name": "big", "files": [manifest_file(2_000)]},
        declared=3 * 1024**3,
    )

    assert response.status_code == 413
    text = response.content.decode()
    assert "a manifest of at most 1,000 bytes (MANIFEST_MAX_BYTES)" in text
    assert "<form" in text
    assert stream.bytes_read < 10_000  # the fields before the file, no more
    assert not Manifest.objects.exists()


def test_dispute_evidence_over_the_request_limit_is_a_413(
    curator_client, holder, settings
):
    settings.UPLOAD_MAX_FILE_BYTES = 1_000
    settings.DISPUTE_EVIDENCE_MAX_FILES = 2
    claim = prefix_claim(holder)
    files = []
    for i in range(3):
        f = io.BytesIO(b"x" * 900)
        f.name = f"note-{i}.txt"
        files.append(f)

    response, _ = post_multipart(
        curator_client,
        "/api/v1/disputes/",
        {
            "target": f"claim:{claim.pk}",
            "grounds": "too_broad",
            "statement": "Mine.",
            "files": files,
        },
    )

    assert response.status_code == 413
    assert json.loads(response.content)["message"] == (
        "the files are over 2,000 bytes together: this endpoint takes at most 2 "
        "evidence files (DISPUTE_EVIDENCE_MAX_FILES) of 1,000 bytes each "
        "(UPLOAD_MAX_FILE_BYTES)"
    )
    assert not Dispute.objects.exists()


def test_a_portfolio_file_over_the_limit_is_cut_and_reported_by_name(
    artist_client, settings
):
    settings.UPLOAD_MAX_FILE_BYTES = 1 * MB
    big = io.BytesIO(b"\x89PNG" + b"\0" * (3 * MB))
    big.name = "huge.png"
    good = io.BytesIO(image_bytes(1))
    good.name = "good.png"

    response, _ = post_multipart(
        artist_client, "/api/v1/portfolio/", {"files": [big, good]}
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["rejected"] == [
        {"file": "huge.png", "message": "the file is 3.0 MB, over the 1 MB limit"}
    ]
    assert len(body["images"]) == 1


def test_a_body_within_the_limit_goes_through(curator_client, settings):
    settings.MANIFEST_MAX_BYTES = 100_000

    response, _ = post_multipart(
        curator_client, "/api/v1/manifests/", {"files": [manifest_file(50_000)]}
    )

    assert response.status_code == 201, response.json()
