"""The training pipeline runs end to end on the CPU: train a few steps, export, load.

Needs PyTorch (requirements-train.txt, which .ci/run installs): skipped where
it is not installed, except in CI, where a missing torch fails the test.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image

if os.environ.get("CI"):
    import torch  # noqa: F401  (CI must have it: fail, never skip)
else:
    pytest.importorskip("torch")

from training import augment, export, train  # noqa: E402
from workers.engine.descriptor import Descriptor  # noqa: E402


def _images(folder, count=8):
    rng = np.random.default_rng(0)
    with (folder / "index.jsonl").open("w") as fh:
        for i in range(count):
            pixels = (rng.random((90 + i * 7, 120, 3)) * 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"{i}.jpg")
            fh.write(json.dumps({"path": f"{i}.jpg", "group": f"g{i % 3}"}) + "\n")
    return folder / "index.jsonl"


def test_a_few_steps_train_export_and_run_in_the_engine(tmp_path):
    index = _images(tmp_path)
    lines = []
    ckpt = train.train(
        train.CONFIGS["smoke"],
        index=index,
        out=tmp_path / "run",
        device=train.pick_device("cpu"),
        log=lines.append,
    )
    log = [json.loads(x) for x in (tmp_path / "run/log.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == 3 and np.isfinite(log[-1]["loss"])
    path = export.export(ckpt, "0", tmp_path / "models")
    assert path.stat().st_size < 10_000_000
    runtime = Descriptor(path)
    assert runtime.info.version.startswith("descriptor-v0:")
    known = np.load(path.with_suffix(".known.npz"))
    got = runtime.embed([Image.fromarray(a) for a in known["images"]])
    assert np.abs(got - known["vectors"]).max() < 3e-4


def test_views_keep_shape_and_range_and_jpeg_changes_pixels():
    import random

    import torch

    images = (torch.rand(4, 3, 96, 96) * 255).to(torch.uint8)
    views = augment.views(images, 64, augment.Policy(), random.Random(0))
    assert views.shape == (4, 3, 64, 64)
    assert float(views.min()) >= 0 and float(views.max()) <= 1
    smooth = torch.linspace(0, 1, 64).view(1, 1, 1, 64).expand(2, 3, 64, 64)
    low = augment.jpeg(smooth.contiguous(), torch.tensor([10, 10]))
    high = augment.jpeg(smooth.contiguous(), torch.tensor([95, 95]))
    assert (low - smooth).abs().mean() > (high - smooth).abs().mean()
    assert (high - smooth).abs().max() < 0.05


def test_infonce_prefers_partners_and_koleo_spreads():
    import torch
    from torch.nn import functional as F

    z = F.normalize(torch.randn(8, 16), dim=1)
    paired = torch.cat([z, z])
    shuffled = torch.cat([z, z.roll(1, 0)])
    good, top1 = train.info_nce(paired, 0.05)
    bad, _ = train.info_nce(shuffled, 0.05)
    assert good < bad and float(top1) == 1.0
    crowded = F.normalize(torch.ones(8, 16) + 0.01 * torch.randn(8, 16), dim=1)
    assert train.koleo(crowded) > train.koleo(z)
