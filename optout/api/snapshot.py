"""The offline snapshot (/api/v1/snapshot/): a signed list of the segments a
curator's machines match against, and their files.

For curators with a token of scope `snapshot:read` (or `*`); the dnt-check
client (client/) syncs it. optout/services/offline.py says what it holds.
"""

from __future__ import annotations

from typing import Any

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Scope
from core.api import errors
from core.errors import NotAllowed, NotFound, Unavailable, ValidationFailed
from optout import segments
from optout.services.offline import snapshot_document

SNAPSHOT_EXAMPLE = {
    "payload": {
        "type": "dnt-registry-snapshot",
        "version": 1,
        "registry": {
            "id": "5b0e7c1e-8a4f-4c3e-9d51-2f6a9b7c0d14",
            "name": "Do Not Train Registry",
            "url": "https://registry.example.org",
            "revision": 1842,
        },
        "index": "segment1.snapshot7:descriptor-v3:r12-64",
        "descriptor_model": "descriptor-v3",
        "segments": [
            {
                "segment_format": 1,
                "name": "base-000000000000-000000001800-9f2c41aa",
                "kind": "base",
                "first": 0,
                "last": 1800,
                "registry": "5b0e7c1e-8a4f-4c3e-9d51-2f6a9b7c0d14",
                "bytes": 48213344,
                "files": {
                    "claims.arrow": {"bytes": 913202, "sha256": "4f1c…"},
                    "index/urls.npz": {"bytes": 1204411, "sha256": "a81e…"},
                },
            }
        ],
        "exceptions": [
            {
                "target": "claim:12",
                "key_type": "url",
                "key": "https://bob-art.example/works/not-bob.jpg",
            }
        ],
        "matching": {
            "thresholds": {"phash": 8, "pdq": 31},
            "levels": {"pdq_strong": 31, "min_agreement": "0.5"},
            "remove_levels": ["verified", "strong"],
            "variant_scheme": "dihedral",
            "signals": ["iptc", "c2pa", "cawg", "rsl"],
            "verify": False,
        },
        "created": "2026-12-06T20:40:11.512034+00:00",
    },
    "algorithm": "Ed25519",
    "key_id": "k1-3f9a0c2e",
    "signature": "bW9jayBzaWduYXR1cmU…",
}


def _curator(request: Request) -> None:
    if not request.user.is_curator:
        raise NotAllowed(
            "snapshots are for curators: ask an admin to make this account a curator"
        )


class SnapshotApi(APIView):
    required_scopes = Scope.SNAPSHOT_READ

    @extend_schema(
        tags=["snapshot"],
        summary="Get the signed offline snapshot of a revision",
        description="A document signed like a receipt (Ed25519 over the "
        "payload's canonical JSON; the keys are at "
        "/.well-known/dnt-registry-keys.json): the registry's id and revision, "
        "the segments whose view is that revision (each file with its size and "
        "SHA-256; download them from /api/v1/snapshot/segments/NAME/FILE), the "
        "match exceptions in force and the matching settings. Segments never "
        "change once written: a client that holds some downloads only the "
        "others, the deltas since its revision. No originals, no personal "
        "data. For curators, with a token of scope `snapshot:read`.",
        parameters=[
            OpenApiParameter(
                "revision",
                OpenApiTypes.INT,
                description="The revision (default: the current one).",
            )
        ],
        responses={200: OpenApiTypes.OBJECT, **errors(400, 401, 403, 503)},
        examples=[
            OpenApiExample(
                "A snapshot (shortened)",
                value=SNAPSHOT_EXAMPLE,
                response_only=True,
                status_codes=["200"],
            )
        ],
    )
    def get(self, request: Request) -> Response:
        _curator(request)
        raw = request.query_params.get("revision")
        revision = None
        if raw is not None:
            if not raw.isdigit() or len(raw) > 18:
                raise ValidationFailed(
                    "revision: give a whole number", field="revision"
                )
            revision = int(raw)
        try:
            return Response(snapshot_document(revision=revision))
        except segments.IndexUnavailable as exc:
            raise Unavailable(
                f"the segments of that revision cannot be had now ({exc}); ask "
                "for the current revision"
            ) from None


class SnapshotFileApi(APIView):
    required_scopes = Scope.SNAPSHOT_READ

    @extend_schema(
        tags=["snapshot"],
        summary="Download one file of a snapshot's segment",
        description="The bytes of a file a snapshot names; check them against "
        "the SHA-256 the signed snapshot gives.",
        parameters=[
            OpenApiParameter("name", OpenApiTypes.STR, OpenApiParameter.PATH),
            OpenApiParameter("file", OpenApiTypes.STR, OpenApiParameter.PATH),
        ],
        responses={
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            **errors(401, 403, 404, 503),
        },
    )
    def get(self, request: Request, name: str, file: str) -> Any:
        _curator(request)
        try:
            path = segments.segment_file(name, file)
        except segments.IndexUnavailable as exc:
            raise Unavailable(str(exc)) from None
        if path is None:
            raise NotFound(f"no file {file} in a segment {name}")
        return FileResponse(
            open(path, "rb"),  # noqa: SIM115  (FileResponse closes it)
            as_attachment=True,
            filename=path.name,
            content_type="application/octet-stream",
        )
