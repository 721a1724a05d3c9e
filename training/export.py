"""Export a trained descriptor to ONNX for the registry's runtime.

    .venv/bin/python -m training.export var/training/run-cpu/checkpoint.pt \
        --version 1 [--out workers/engine/models]

Writes `descriptor-v<version>.onnx`: batch norm folded, weights stored as
float16 (half the bytes; a Cast node per weight restores float32, which
onnxruntime folds once at load, so inference runs in float32), the input
`image` (N, 3, 160, 160) and the output `descriptor` (N, 256). The metadata
carries what the runtime must agree with: the model version, input size,
normalisation constants and output dimension
(workers/engine/descriptor.py reads them from there).

Before writing, the PyTorch model's weights are rounded to float16 too, and
the export is checked against it on random inputs: the two must agree to
1e-4; otherwise nothing is written. Beside the model goes
`descriptor-v<version>.known.npz`: a few fixed pictures and the vectors the
PyTorch model gives them through the runtime's own pre-processing, which
tests/workers/test_engine_descriptor.py checks the shipped ONNX model against.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from .model import DIM, INPUT_SIZE, MEAN, STD, DescriptorNet

ROOT = Path(__file__).resolve().parent.parent
OPSET = 18


def load_model(checkpoint: Path) -> tuple[DescriptorNet, dict]:
    state = torch.load(checkpoint, map_location="cpu")
    model = DescriptorNet()
    model.load_state_dict(state["model"])
    model.eval()
    # What the ONNX file will hold: float16 weights, computed in float32.
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.half().float())
    return model, state


def _weights_to_fp16(model: onnx.ModelProto) -> onnx.ModelProto:
    graph = model.graph
    casts = []
    kept = []
    for init in graph.initializer:
        if init.data_type == TensorProto.FLOAT and len(init.dims) > 1:
            array = numpy_helper.to_array(init).astype(np.float16)
            half = numpy_helper.from_array(array, init.name + "_fp16")
            kept.append(half)
            casts.append(
                helper.make_node("Cast", [half.name], [init.name], to=TensorProto.FLOAT)
            )
        else:
            kept.append(init)
    del graph.initializer[:]
    graph.initializer.extend(kept)
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(casts + nodes)
    return model


def export(
    checkpoint: Path, version: str, out_dir: Path, *, extra_meta: dict | None = None
) -> Path:
    model, state = load_model(checkpoint)
    buffer = io.BytesIO()
    dummy = torch.rand(2, 3, INPUT_SIZE, INPUT_SIZE)
    torch.onnx.export(
        model,
        (dummy,),
        buffer,
        input_names=["image"],
        output_names=["descriptor"],
        dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=4096)},),
        opset_version=OPSET,
        dynamo=True,
        external_data=False,
    )
    proto = _weights_to_fp16(onnx.load_from_string(buffer.getvalue()))
    meta = {
        "model_version": f"descriptor-v{version}",
        "input_size": str(INPUT_SIZE),
        "mean": json.dumps(MEAN),
        "std": json.dumps(STD),
        "dim": str(DIM),
        "trained_steps": str(state.get("step")),
        "trained_config": json.dumps(state.get("config")),
        **(extra_meta or {}),
    }
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    data = proto.SerializeToString()
    _check_agreement(model, data)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"descriptor-v{version}.onnx"
    path.write_bytes(data)
    _write_known_answers(model, path)
    print(
        f"{path}: {len(data) / 1e6:.2f} MB, "
        f"sha256 {hashlib.sha256(data).hexdigest()[:16]}"
    )
    return path


def _check_agreement(model: DescriptorNet, data: bytes) -> None:
    import onnxruntime as ort

    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    x = torch.rand(8, 3, INPUT_SIZE, INPUT_SIZE) * 4 - 2
    with torch.no_grad():
        want = model(x).numpy()
    got = session.run(None, {"image": x.numpy()})[0]
    diff = float(np.abs(want - got).max())
    if diff > 1e-4:
        raise SystemExit(f"ONNX and PyTorch disagree by {diff}")
    print(f"ONNX agrees with PyTorch to {diff:.2e}")


def known_images(count: int = 6, size: tuple[int, int] = (120, 90)) -> np.ndarray:
    """(count, h, w, 3) uint8: fixed pictures (gradients, blocks, noise)."""
    rng = np.random.default_rng(20261205)
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    out = np.zeros((count, h, w, 3), np.uint8)
    for i in range(count):
        a, b = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
        t = ((x / w) * (i % 3) / 2 + (y / h) * (1 - (i % 3) / 2))[..., None]
        picture = a * (1 - t) + b * t
        for _ in range(4):
            x0, y0 = rng.integers(0, w - 20), rng.integers(0, h - 20)
            picture[y0 : y0 + rng.integers(10, 40), x0 : x0 + rng.integers(10, 50)] = (
                rng.uniform(0, 255, 3)
            )
        picture += rng.normal(0, 8, picture.shape)
        out[i] = picture.clip(0, 255).astype(np.uint8)
    return out


def _write_known_answers(model: DescriptorNet, path: Path) -> Path:
    from PIL import Image

    from workers.engine.descriptor import Descriptor

    runtime = Descriptor(path)
    images = known_images()
    x = np.stack([runtime.prepare(Image.fromarray(a)) for a in images])
    with torch.no_grad():
        vectors = model(torch.from_numpy(x)).numpy()
    known = path.with_suffix(".known.npz")
    np.savez_compressed(known, images=images, vectors=vectors)
    return known


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--version", required=True)
    parser.add_argument("--out", type=Path, default=ROOT / "workers/engine/models")
    args = parser.parse_args(argv)
    export(args.checkpoint, args.version, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
