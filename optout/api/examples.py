"""Example requests and answers of the curators' API, shown in its docs."""

from __future__ import annotations

# Examples for the schema (/api/docs/): one curator's job on one LAION-style
# Parquet part, as the API answers it. They must fit the serializers above
# (tests/test_api_schema.py checks), so change them together.
_EXAMPLE_SHA256 = "782c5aa76ed79b228b54df38eb30e3b152353d76514ebc8713303ddb9536ec2f"


_EXAMPLE_THRESHOLDS = {
    "phash": 8,
    "pdq": 40,
    "pdq_strong": -1,
    "phash_strong": -1,
    "min_inliers": 16,
    "min_agreement": 0.5,
    "max_candidates": 8,
    "verify": True,
    "variant_scheme": "dihedral+rotx+crops",
}


_EXAMPLE_COUNTS = {"url": 12, "prefix": 31, "domain": 4, "style": 2, "phash": 3}


_EXAMPLE_SKIPPED = "status is 'failed_to_download', not 'success'"


QUEUED_JOB_SUMMARY_EXAMPLE = {
    "id": 42,
    "manifest": 17,
    "manifest_name": "LAION-400M part 00000",
    "state": "queued",
    "phase": "",
    "progress": 0.0,
    "rows_total": None,
    "rows_done": 0,
    "counts": {},
    "created": "2026-11-24T08:20:00Z",
    "finished": None,
    "url": "https://registry.example/api/v1/jobs/42/",
}


JOB_SUMMARY_EXAMPLE = {
    **QUEUED_JOB_SUMMARY_EXAMPLE,
    "state": "succeeded",
    "progress": 1.0,
    "rows_total": 100000,
    "rows_done": 100000,
    "counts": _EXAMPLE_COUNTS,
    "finished": "2026-11-24T08:31:12Z",
}


JOB_DETAIL_EXAMPLE = {
    **JOB_SUMMARY_EXAMPLE,
    "failure_reason": "",
    "rows_skipped": 2,
    "chunks_total": 2,
    "chunks_done": 2,
    "skipped_reasons": {_EXAMPLE_SKIPPED: 2},
    "problems": [
        {"row": 118, "field": "status", "message": _EXAMPLE_SKIPPED},
        {"row": 20417, "field": "status", "message": _EXAMPLE_SKIPPED},
    ],
    "registry_revision": 311,
    "manifest_sha256": _EXAMPLE_SHA256,
    "thresholds": _EXAMPLE_THRESHOLDS,
    "remove_levels": ["verified", "strong"],
    "receipt": {
        "job": 42,
        "manifest": {
            "name": "LAION-400M part 00000",
            "sha256": _EXAMPLE_SHA256,
            "format": "parquet",
            "size": 18734112,
        },
        "registry_revision": 311,
        "thresholds": _EXAMPLE_THRESHOLDS,
        "rows": 100000,
        "rows_skipped": 2,
        "rows_removed": 49,
        "rows_listed_for_review": 1,
        "matches": _EXAMPLE_COUNTS,
        "levels": {"verified": 1, "strong": 1, "possible": 1},
        "remove_levels": ["verified", "strong"],
        "skipped_reasons": {_EXAMPLE_SKIPPED: 2},
        "started": "2026-11-24T08:20:02+00:00",
        "finished": "2026-11-24T08:31:12+00:00",
        "software": "optout-registry 0.2.0",
    },
    "outputs": [
        {
            "id": pk,
            "kind": kind,
            "name": name,
            "size": size,
            "url": f"https://registry.example/api/v1/jobs/42/outputs/{pk}/",
        }
        for pk, kind, name, size in [
            (205, "filtered", "filtered-laion400m-part-00000.parquet", 18721950),
            (204, "receipt", "receipt.json", 1024),
            (201, "report_csv", "matches.csv", 9310),
            (202, "report_jsonl", "matches.jsonl", 24577),
            (203, "report_parquet", "matches.parquet", 15002),
        ]
    ],
    "matches_url": "https://registry.example/api/v1/jobs/42/matches/",
    "started": "2026-11-24T08:20:02Z",
}


CANCELLED_JOB_DETAIL_EXAMPLE = {
    **JOB_DETAIL_EXAMPLE,
    "state": "cancelled",
    "progress": 0.0,
    "rows_total": None,
    "rows_done": 0,
    "counts": {},
    "finished": "2026-11-24T08:20:41Z",
    "rows_skipped": 0,
    "chunks_total": 0,
    "chunks_done": 0,
    "skipped_reasons": {},
    "problems": [],
    "registry_revision": None,
    "receipt": {},
    "outputs": [],
    "started": None,
}


URL_MATCH_EXAMPLE = {
    "row": 118,
    "key": "000000118",
    "url": "http://www.alice.example/gallery/2021/boats.jpg",
    "kind": "prefix",
    "claim": 7,
    "image": None,
    "work": None,
    "distance": None,
    "matched": "https://alice.example/gallery/",
    "matched_as": "scheme+www",
    "level": "",
    "variant": "",
    "inliers": None,
    "agreement": None,
    "chance": None,
    "removed": True,
}


PERCEPTUAL_MATCH_EXAMPLE = {
    "row": 4812,
    "key": "000004812",
    "url": "https://cdn.example.net/img/4812.jpg",
    "kind": "phash",
    "claim": None,
    "image": 2204,
    "work": 318,
    "distance": 3,
    "matched": "",
    "matched_as": "",
    "level": "verified",
    "variant": "original",
    "inliers": 57,
    "agreement": 0.91,
    "chance": 2.4e-07,
    "removed": True,
}


MANIFEST_UPLOAD_REQUEST_EXAMPLE = {
    "files": ["(the file laion400m-part-00000.parquet)"],
    "name": "LAION-400M part 00000",
    "columns": '{"url": "URL", "caption": "TEXT"}',
    "thresholds": '{"phash": 8, "pdq": 40}',
    "remove_levels": ["verified", "strong"],
}


MANIFEST_UPLOADED_EXAMPLE = {
    "id": 17,
    "name": "LAION-400M part 00000",
    "format": "parquet",
    "columns": {"url": "URL", "caption": "TEXT", "key": "key", "status": "status"},
    "size": 18734112,
    "sha256": _EXAMPLE_SHA256,
    "parts": [
        {
            "name": "laion400m-part-00000.parquet",
            "size": 18734112,
            "sha256": _EXAMPLE_SHA256,
        }
    ],
    "created": "2026-11-24T08:20:00Z",
    "job": QUEUED_JOB_SUMMARY_EXAMPLE,
}
