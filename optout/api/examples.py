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
    "min_coverage": 0.6,
    "min_alignment": None,
    "verify": True,
    "variant_scheme": "dihedral+rotx+crops",
    "signals": ["iptc", "c2pa", "cawg", "rsl", "robots", "content-signal", "tdmrep"],
    "web_signals": False,
}


_EXAMPLE_COUNTS = {"url": 12, "prefix": 31, "domain": 4, "style": 2, "phash": 3}


_EXAMPLE_UNCHECKED = "caption is not valid UTF-8"

_EXAMPLE_COLUMNS = {
    "used": {"url": "URL", "caption": "TEXT", "key": "key"},
    "unused": ["WIDTH", "HEIGHT", "similarity", "hash"],
    "not_checked": ["sha256", "md5", "phash", "pdq", "image"],
}


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
    "rows_unchecked": 2,
    "keep_unchecked": False,
    "chunks_total": 2,
    "chunks_done": 2,
    "unchecked_reasons": {_EXAMPLE_UNCHECKED: 2},
    "unchecked": [
        {
            "row": 118,
            "key": "000000118",
            "url": "https://cdn.example.net/img/118.jpg",
            "signal": "caption",
            "field": "TEXT",
            "reason": _EXAMPLE_UNCHECKED,
        },
        {
            "row": 20417,
            "key": "000020417",
            "url": "https://cdn.example.net/img/20417.jpg",
            "signal": "caption",
            "field": "TEXT",
            "reason": _EXAMPLE_UNCHECKED,
        },
    ],
    "columns": _EXAMPLE_COLUMNS,
    "warnings": [],
    "registry_revision": 311,
    "manifest_sha256": _EXAMPLE_SHA256,
    "thresholds": _EXAMPLE_THRESHOLDS,
    "remove_levels": ["verified", "strong"],
    "receipt": {
        "payload": {
            "type": "dnt-registry-receipt",
            "version": 1,
            "registry": {
                "id": "5b0e7c1e-8a4f-4c3e-9d51-2f6a9b7c0d14",
                "name": "Opt-out registry",
                "url": "https://registry.example",
                "keys_url": "https://registry.example/.well-known/"
                "dnt-registry-keys.json",
                "revision": 311,
            },
            "job": 42,
            "software": {
                "name": "optout-registry",
                "version": "0.2.0",
                "engine": {
                    "fingerprint.md5": "1",
                    "fingerprint.pdq": "pdqhash-0.2:1",
                    "fingerprint.phash": "imagehash-4.3.2:8x8",
                    "fingerprint.sha256": "1",
                    "pdq_variants": "v2:dihedral+rotx+crops:256px",
                    "snapshot": "3",
                    "hamming_index": "1",
                    "url_index": "1:fnv1a64-murmur3fmix64",
                    "url_normalization": "ada-url-4.0.0",
                    "style_index": "1:pyahocorasick-2.3.1",
                    "verify": "2:opencv-4.14.0",
                    "verify_rule": "2",
                },
                "models": {},
            },
            "manifest": {
                "name": "LAION-400M part 00000",
                "format": "parquet",
                "size": 18734112,
                "sha256": _EXAMPLE_SHA256,
                "sha256_of": "the bytes of the files below, concatenated in "
                "their order",
                "files": [
                    {
                        "name": "laion400m-part-00000.parquet",
                        "size": 18734112,
                        "sha256": _EXAMPLE_SHA256,
                        "rows": 100000,
                    }
                ],
                "sidecars": [],
            },
            "columns": {"caption": "TEXT", "key": "key", "url": "URL"},
            "columns_unused": ["WIDTH", "HEIGHT", "similarity", "hash"],
            "signals_not_checked": ["sha256", "md5", "phash", "pdq", "image"],
            "checks": [
                {
                    "signal": "url",
                    "columns": ["URL"],
                    "kinds": ["url", "prefix", "domain"],
                },
                {"signal": "caption", "columns": ["TEXT"], "kinds": ["style"]},
            ],
            "thresholds": {"phash": 8, "pdq": 40},
            "levels": {
                "descriptor_k": 8,
                "descriptor_min": "0.8",
                "descriptor_model": "descriptor-v3:9bcacd6cd303:r2",
                "descriptor_possible": "0.95",
                "descriptor_strong": None,
                "max_candidates": 8,
                "min_agreement": "0.5",
                "min_alignment": None,
                "min_coverage": "0.6",
                "min_inliers": 16,
                "pdq_strong": -1,
                "phash_strong": -1,
                "variant_scheme": "dihedral+rotx+crops",
                "verify": True,
                "remove": ["verified", "strong"],
            },
            "rows": {
                "total": 100000,
                "checked": 99998,
                "removed": 51,
                "kept_for_review": 1,
                "opt_in": 0,
                "unchecked": 2,
                "unchecked_passed_on": 0,
                "unchecked_removed": 2,
                "in_filtered": 99949,
            },
            "keep_unchecked": False,
            "unchecked_reasons": {_EXAMPLE_UNCHECKED: 2},
            "warnings": [],
            "matches": _EXAMPLE_COUNTS,
            "matches_by_level": {"verified": 1, "strong": 1, "possible": 1},
            "outputs": [
                {
                    "kind": kind,
                    "name": name,
                    "size": size,
                    "sha256": sha256,
                }
                for kind, name, size, sha256 in [
                    ("report_csv", "matches.csv", 9310, "3b1f" * 16),
                    ("report_jsonl", "matches.jsonl", 24577, "9e0c" * 16),
                    ("report_parquet", "matches.parquet", 15002, "51d7" * 16),
                    (
                        "filtered",
                        "laion400m-part-00000.parquet",
                        18721950,
                        "c4a2" * 16,
                    ),
                ]
            ],
            "started": "2026-11-24T08:20:02+00:00",
            "finished": "2026-11-24T08:31:12+00:00",
        },
        "algorithm": "Ed25519",
        "key_id": "4499a1240ce61642",
        "signature": "CCdBcSwITFFmIdzlo8Y9DCG/gx93yVtfyu2B7NbXXQ6t2sd1z5juaZ3FWGcG"
        "f5tBepKcATGkp6SfNZ/XF0hbCw==",
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
            (205, "filtered", "laion400m-part-00000.parquet", 18721950),
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
    "rows_unchecked": 0,
    "chunks_total": 0,
    "chunks_done": 0,
    "unchecked_reasons": {},
    "unchecked": [],
    "registry_revision": None,
    "receipt": {},
    "outputs": [],
    "started": None,
}


# A job retried after its outputs could not be written: running again, its
# matches kept, its outputs still to write.
RETRIED_JOB_DETAIL_EXAMPLE = {
    **JOB_DETAIL_EXAMPLE,
    "state": "running",
    "phase": "finalizing",
    "progress": 1.0,
    "counts": {},
    "finished": None,
    "failure_reason": "",
    "receipt": {},
    "outputs": [],
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
    "coverage": None,
    "alignment": None,
    "chance": None,
    "similarity": None,
    "source": "",
    "evidence": "",
    "terms": None,
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
    "coverage": 0.87,
    "alignment": None,
    "chance": 2.4e-07,
    "similarity": None,
    "source": "",
    "evidence": "",
    "terms": None,
    "removed": True,
}


SIGNAL_MATCH_EXAMPLE = {
    "row": 7301,
    "key": "000007301",
    "url": "https://alice.example/works/harbour.jpg",
    "kind": "signal",
    "claim": None,
    "image": None,
    "work": None,
    "distance": None,
    "matched": "train-ai=n",
    "matched_as": "",
    "level": "",
    "variant": "",
    "inliers": None,
    "agreement": None,
    "coverage": None,
    "alignment": None,
    "chance": None,
    "similarity": None,
    "source": "iptc",
    "evidence": "DMI-PROHIBITED-AIMLTRAINING",
    "terms": None,
    "removed": True,
}


MANIFEST_UPLOAD_REQUEST_EXAMPLE = {
    "files": ["(the file laion400m-part-00000.parquet)"],
    "name": "LAION-400M part 00000",
    "columns": '{"url": "URL", "caption": "TEXT"}',
    "thresholds": '{"phash": 8, "pdq": 40}',
    "remove_levels": ["verified", "strong"],
    "keep_unchecked": False,
}


MANIFEST_UPLOADED_EXAMPLE = {
    "id": 17,
    "name": "LAION-400M part 00000",
    "format": "parquet",
    "columns": {"url": "URL", "caption": "TEXT", "key": "key"},
    "found_columns": ["key", "URL", "TEXT", "WIDTH", "HEIGHT", "similarity", "hash"],
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
