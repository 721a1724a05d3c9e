"""training/quantize.py: the float model to int8, checked against it.

Needs `onnx` (requirements-train.txt, which .ci/run installs): skipped where
it is not installed, except in CI, where it must be there.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image

if os.environ.get("CI"):
    import onnx  # noqa: F401  (CI must have it: fail, never skip)
else:
    pytest.importorskip("onnx")

from tests.workers import verify_images as vi  # noqa: E402
from training import quantize  # noqa: E402
from workers.engine import descriptor  # noqa: E402

FLOAT_MODEL = descriptor.MODEL_DIR / "descriptor-v2.onnx"


def _training_set(var, count):
    (var / "images").mkdir(parents=True)
    with (var / "index.jsonl").open("w") as fh:
        for i in range(count):
            path = f"images/{i:05d}.jpg"
            vi.artwork(100 + i, (200 + 3 * i, 160)).save(var / path, quality=90)
            fh.write(json.dumps({"path": path, "package": "generated"}) + "\n")


def test_the_int8_model_runs_in_the_engine_near_the_float_one(tmp_path):
    _training_set(tmp_path / "var", 40)

    path = quantize.quantize(
        FLOAT_MODEL,
        "9",
        tmp_path / "models",
        var=tmp_path / "var",
        calibration=24,
        check=16,
    )

    int8 = descriptor.Descriptor(path)
    float_model = descriptor.Descriptor(FLOAT_MODEL)
    assert int8.info.version.startswith("descriptor-v9:")
    meta = int8.session.get_modelmeta().custom_metadata_map
    assert meta["quantized_from"] == float_model.info.version
    assert int8.info.input_size == float_model.info.input_size
    assert path.stat().st_size < FLOAT_MODEL.stat().st_size / 1.5
    pictures = [vi.artwork(7), vi.artwork(8, (300, 200))]
    cosine = (int8.embed(pictures) * float_model.embed(pictures)).sum(axis=1)
    assert cosine.min() > 0.98
    known = np.load(path.with_suffix(".known.npz"))
    got = int8.embed([Image.fromarray(a) for a in known["images"]])
    assert np.abs(got - known["quantized_vectors"]).max() < 1e-5


def test_without_training_images_it_says_what_to_run(tmp_path):
    with pytest.raises(SystemExit, match="make training-data"):
        quantize.quantize(FLOAT_MODEL, "9", tmp_path, var=tmp_path / "nothing")
