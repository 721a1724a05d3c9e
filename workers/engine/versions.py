"""The versions of everything that decides a match, for receipts.

A receipt names them so an auditor can tell whether two checks of the same
manifest ran the same engine: the fingerprint algorithms (with the library
behind each), the registry-side PDQ variants, the index formats, geometric
verification and the chance models. Each is the version string the engine
itself keeps (`fingerprint.ALGORITHM_VERSIONS`, the modules' FORMAT_VERSION),
so bumping one there shows here; nothing is typed twice.

The copy-detection descriptor is named by the version the job recorded
(`descriptor.version()`: the model file's name, a digest of its bytes and the
registry regions), with the onnxruntime that ran it.

Limits: versions of libraries the engine only reads files with (pyarrow) are
left out; they cannot change which rows match.
"""

from __future__ import annotations

import importlib.metadata

import cv2

from . import (
    descindex,
    fingerprint,
    hamming,
    perceptual,
    snapshot,
    style,
    urlindex,
    verify,
)


def _dist(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def engine_versions(
    variant_scheme: str, *, descriptor_model: str = ""
) -> dict[str, str]:
    """Algorithm and format versions, as strings (receipts hold no floats).

    `descriptor_model`: the descriptor version the job matched with ("" when
    descriptors were off: no entry).
    """
    versions = {
        f"fingerprint.{name}": version
        for name, version in sorted(fingerprint.ALGORITHM_VERSIONS.items())
    }
    versions.update(
        {
            "pdq_variants": fingerprint.variants_version(variant_scheme),
            "snapshot": str(snapshot.FORMAT_VERSION),
            "hamming_index": str(hamming.FORMAT_VERSION),
            "url_index": f"{urlindex.FORMAT_VERSION}:{urlindex.HASH_NAME}",
            "url_normalization": f"ada-url-{_dist('ada-url')}",
            "style_index": f"{style.FORMAT_VERSION}:pyahocorasick-"
            f"{_dist('pyahocorasick')}",
            "verify": f"{verify.FORMAT_VERSION}:opencv-{cv2.__version__}",
            "verify_rule": str(verify.RULE_VERSION),
        }
    )
    if descriptor_model:
        versions["descriptor"] = descriptor_model
        versions["descriptor_index"] = str(descindex.FORMAT_VERSION)
        versions["descriptor_runtime"] = f"onnxruntime-{_dist('onnxruntime')}"
    return versions


def model_versions(variant_scheme: str) -> dict[str, str]:
    """The fitted models in use: chance-match tails per algorithm, by their figures.

    Empty when the scheme has none (matches then carry no chance estimate).
    """
    return {
        f"chance_tail.{name}": (
            f"intercept={model.intercept!r},slope={model.slope!r},pairs={model.pairs}"
        )
        for name, model in sorted(perceptual.tail_models(variant_scheme).items())
    }
