"""Quantize an exported descriptor to int8 for the registry's runtime.

    .venv/bin/python -m training.quantize workers/engine/models/descriptor-v2.onnx \
        --version 3 [--images var/training] [--calibration 512] [--check 256]

Why: the model is most of a manifest row's CPU time once the descriptor is on
(docs/MATCHING.md section 7). Static int8 quantization (onnxruntime's QDQ
format: int8 weights per output channel, uint8 activations, ranges taken
from calibration images) runs it about 2.5 times faster on one core.

Weights use 7 bits (`reduce_range`): x86 CPUs without VNNI multiply uint8 by
int8 with an instruction that saturates at full range, so a full 8-bit model
could give different vectors there than on the machine that made it; at 7
bits every CPU computes the same integers.

Calibration images are the descriptor's own training images
(var/training/index.jsonl, built by `make training-data`; never benchmark or
held-out images), a seeded sample of `--calibration`, run through the
runtime's pinned pre-processing (workers/engine/descriptor.py). Another
`--check` training images, disjoint from those, then measure how far the
quantized vectors are from the float model's: nothing is written unless the
median cosine is at least MIN_MEDIAN_COSINE and the lowest at least
MIN_COSINE.

Writes `descriptor-v<version>.onnx` with the float model's metadata (input
size, normalisation, dimension), its new version, and `quantized_from` (the
float model's version) and `quantization` (how); beside it
`descriptor-v<version>.known.npz`: the known pictures of training/export.py,
the float model's vectors for them (the training-time answers, which the
float ONNX model gives to 1e-4), the quantized model's own vectors, and the
lowest cosine between the two, which tests/workers/test_engine_descriptor.py
holds the shipped model to.

Needs `onnx` (requirements-train.txt); not PyTorch.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from workers.engine.descriptor import BATCH, Descriptor  # noqa: E402

MIN_MEDIAN_COSINE = 0.999
MIN_COSINE = 0.98
SEED = 20261206


def _training_images(var: Path, count: int) -> list[Path]:
    """`count` training images, a seeded sample of var/training/index.jsonl."""
    index = var / "index.jsonl"
    if not index.exists():
        raise SystemExit(f"{index} is missing: run `make training-data` first")
    with index.open() as f:
        paths = [var / json.loads(line)["path"] for line in f if line.strip()]
    order = np.random.default_rng(SEED).permutation(len(paths))
    chosen = [paths[i] for i in order[:count]]
    if len(chosen) < count:
        raise SystemExit(
            f"{index} lists {len(paths):,} images; "
            f"{count:,} are needed (calibration + check)"
        )
    return chosen


def _inputs(model: Descriptor, paths: list[Path]) -> np.ndarray:
    out = []
    for path in paths:
        with Image.open(path) as im:
            out.append(model.prepare(im.convert("RGB")))
    return np.stack(out)


def quantize(
    source: Path,
    version: str,
    out_dir: Path,
    *,
    var: Path,
    calibration: int = 512,
    check: int = 256,
) -> Path:
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    float_model = Descriptor(source)
    paths = _training_images(var, calibration + check)
    x_cal = _inputs(float_model, paths[:calibration])
    x_check = _inputs(float_model, paths[calibration:])
    name = float_model._input

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(
                {name: x_cal[i : i + BATCH]} for i in range(0, len(x_cal), BATCH)
            )

        def get_next(self) -> dict | None:
            return next(self.batches, None)

    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quantized = Path(tmp) / "int8.onnx"
        quant_pre_process(str(source), str(pre), skip_symbolic_shape=True)
        quantize_static(
            str(pre),
            str(quantized),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            reduce_range=True,
            weight_type=QuantType.QInt8,
            activation_type=QuantType.QUInt8,
        )
        proto = onnx.load(str(quantized))
    meta = {p.key: p.value for p in onnx.load(str(source)).metadata_props}
    meta.update(
        model_version=f"descriptor-v{version}",
        quantized_from=float_model.info.version,
        quantization=(
            "onnxruntime static QDQ: int8 weights per channel (7-bit range), "
            f"uint8 activations, MinMax over {calibration} training images"
        ),
    )
    del proto.metadata_props[:]
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    data = proto.SerializeToString()

    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"descriptor-v{version}.onnx"
    with tempfile.TemporaryDirectory() as tmp:
        trial = Path(tmp) / path.name
        trial.write_bytes(data)
        int8_model = Descriptor(trial)
        cos = (
            int8_model.embed_prepared(x_check) * float_model.embed_prepared(x_check)
        ).sum(1)
        print(
            f"{check} training images not used for calibration: cosine to the "
            f"float model min {cos.min():.4f}, median {np.median(cos):.5f}"
        )
        if np.median(cos) < MIN_MEDIAN_COSINE or cos.min() < MIN_COSINE:
            raise SystemExit(
                f"the quantized model is too far from the float one (median "
                f">= {MIN_MEDIAN_COSINE}, min >= {MIN_COSINE} wanted): not written"
            )
        known = _known_answers(float_model, int8_model)
    path.write_bytes(data)
    np.savez_compressed(path.with_suffix(".known.npz"), **known)
    print(
        f"{path}: {len(data) / 1e6:.2f} MB, "
        f"sha256 {hashlib.sha256(data).hexdigest()[:16]}; "
        f"known pictures: cosine to the float model >= {known['cosine_min']:.4f}"
    )
    return path


def _known_answers(float_model: Descriptor, int8_model: Descriptor) -> dict:
    """export.py's known pictures: float (training-time) and quantized vectors."""
    source = float_model.path.with_suffix(".known.npz")
    if not source.exists():
        raise SystemExit(f"{source} is missing: the float model's known answers")
    base = np.load(source)
    images = [Image.fromarray(a) for a in base["images"]]
    got = int8_model.embed(images)
    want = base["vectors"] / np.linalg.norm(base["vectors"], axis=1, keepdims=True)
    cosine = (got * want).sum(1)
    return {
        "images": base["images"],
        "vectors": base["vectors"],
        "quantized_vectors": got,
        # what the test allows: the lowest measured, less a margin for the
        # rounding of another CPU's float steps between the integer ones
        "cosine_min": np.float32(cosine.min() - 0.002),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="the float ONNX model")
    parser.add_argument("--version", required=True)
    parser.add_argument("--out", type=Path, default=ROOT / "workers/engine/models")
    parser.add_argument("--images", type=Path, default=ROOT / "var" / "training")
    parser.add_argument("--calibration", type=int, default=512)
    parser.add_argument("--check", type=int, default=256)
    args = parser.parse_args(argv)
    quantize(
        args.model,
        args.version,
        args.out,
        var=args.images,
        calibration=args.calibration,
        check=args.check,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
