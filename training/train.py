"""Train the copy-detection descriptor: SSCD's InfoNCE + KoLeo on two views per image.

    make train          # = .venv/bin/python -m training.train (--config auto)
    .venv/bin/python -m training.train --config gpu   # batch 256, 60 min
    .venv/bin/python -m training.train --config cpu   # batch 48, 45 min
    .venv/bin/python -m training.export var/training/run-cpu/checkpoint.pt

Reads the data set training/dataset.py writes (var/training/index.jsonl and
its JPEGs), caches the images once as a uint8 array resized to the config's
source size, and trains `model.DescriptorNet` on pairs of strongly augmented
views (augment.py). Each batch mixes random images with whole families (the
`group` of index.jsonl: a sprite series, a card deck, one clip-art picture's
colour variants), so the negatives the loss pushes away include look-alikes,
as a registry's do.

The loss is InfoNCE over the 2B views (temperature 0.05: each view must pick
its partner among all others) plus KoLeo's entropy term, which spreads the
descriptors over the sphere (weight `koleo`), as in SSCD. A checkpoint is
written every `save_every` steps and at the end; `--resume` continues one.
Progress (loss, the in-batch top-1 rate of finding the partner, images/s)
goes to stdout and to <out>/log.jsonl.

Limits: the CPU configuration trains for minutes, not hours: it is the
fallback when no GPU is lent, and its model is weaker (training/MODEL_CARD.md
states what each shipped model was trained with).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.nn import functional as F

from .augment import Policy, TextBank, normalise, views
from .model import INPUT_SIZE, MEAN, STD, DescriptorNet, parameter_count

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Config:
    name: str
    batch: int  # images per step (2 views each)
    steps: int
    minutes: float  # stop at whichever comes first
    lr: float
    weight_decay: float
    warmup: int
    temperature: float
    koleo: float
    source_size: int  # cached source images are this square size
    family_share: float  # fraction of a batch drawn as whole families
    threads: int  # CPU threads for torch (0: torch's default)
    save_every: int


CONFIGS = {
    "gpu": Config(
        "gpu", 256, 30_000, 60, 2e-3, 1e-4, 500, 0.05, 1.0, 224, 0.25, 0, 1000
    ),
    "cpu": Config(
        "cpu", 48, 100_000, 45, 1.5e-3, 1e-4, 100, 0.05, 0.5, 192, 0.25, 0, 100
    ),
    "smoke": Config("smoke", 4, 3, 5, 1e-3, 1e-4, 1, 0.05, 0.5, 96, 0.5, 1, 2),
}


def load_index(path: Path) -> list[dict]:
    rows = []
    with path.open() as fh:
        for line in fh:
            if line.strip():
                rows.append(json.loads(line))
    if not rows:
        raise SystemExit(f"{path}: no images")
    return rows


def cache_images(rows: list[dict], base: Path, size: int, cache: Path) -> np.ndarray:
    """(N, 3, size, size) uint8, squashed to a square as the runtime does."""
    if cache.exists():
        arr = np.load(cache, mmap_mode="r")
        if arr.shape[0] == len(rows) and arr.shape[2] == size:
            return arr
    arr = np.lib.format.open_memmap(
        cache.with_suffix(".tmp.npy"),
        mode="w+",
        dtype=np.uint8,
        shape=(len(rows), 3, size, size),
    )
    for i, row in enumerate(rows):
        with Image.open(base / row["path"]) as im:
            im = im.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
            arr[i] = np.asarray(im).transpose(2, 0, 1)
        if i % 2000 == 0:
            print(f"caching images {i}/{len(rows)}", flush=True)
    arr.flush()
    del arr
    cache.with_suffix(".tmp.npy").rename(cache)
    return np.load(cache, mmap_mode="r")


class Sampler:
    """Batches of distinct images; a share of each batch is whole families."""

    def __init__(self, rows: list[dict], seed: int) -> None:
        self.rng = random.Random(seed)
        self.n = len(rows)
        families: dict[str, list[int]] = {}
        for i, row in enumerate(rows):
            group = row.get("group")
            if group:
                families.setdefault(str(group), []).append(i)
        self.families = [v for v in families.values() if len(v) >= 2]

    def batch(self, size: int, family_share: float) -> list[int]:
        chosen: list[int] = []
        seen: set[int] = set()
        want = int(size * family_share) if self.families else 0
        while len(chosen) < want:
            family = self.rng.choice(self.families)
            for i in self.rng.sample(family, min(len(family), 4, want - len(chosen))):
                if i not in seen:
                    seen.add(i)
                    chosen.append(i)
        while len(chosen) < min(size, self.n):
            i = self.rng.randrange(self.n)
            if i not in seen:
                seen.add(i)
                chosen.append(i)
        return chosen


def info_nce(z: torch.Tensor, temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    """z: (2B, D) normalised, views i and i+B are partners. (loss, top-1 rate)."""
    n = z.shape[0]
    b = n // 2
    sim = z @ z.T / temperature
    sim = sim.masked_fill(torch.eye(n, dtype=torch.bool, device=z.device), -1e9)
    target = torch.cat([torch.arange(b, n), torch.arange(0, b)]).to(z.device)
    loss = F.cross_entropy(sim, target)
    top1 = (sim.argmax(1) == target).float().mean()
    return loss, top1


def koleo(z: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Kozachenko-Leonenko entropy term: push each descriptor from its nearest."""
    with torch.no_grad():
        sim = z @ z.T
        sim.fill_diagonal_(-2)
        nearest = sim.argmax(1)
    dist = (z - z[nearest]).norm(dim=1)
    return -torch.log(dist + eps).mean()


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def train(
    config: Config,
    *,
    index: Path,
    out: Path,
    device: torch.device,
    seed: int = 1,
    resume: bool = False,
    log=print,
) -> Path:
    """Train; returns the checkpoint's path."""
    torch.manual_seed(seed)
    if config.threads:
        torch.set_num_threads(config.threads)
    out.mkdir(parents=True, exist_ok=True)
    rows = load_index(index)
    images = cache_images(
        rows,
        index.parent,
        config.source_size,
        out / f"cache-{config.source_size}-{len(rows)}.npy",
    )
    sampler = Sampler(rows, seed)
    rng = random.Random(seed)
    model = DescriptorNet().to(device)
    opt = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    step = 0
    ckpt = out / "checkpoint.pt"
    if resume and ckpt.exists():
        state = torch.load(ckpt, map_location=device)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step = state["step"]
        log(f"resumed at step {step}")
    policy = Policy()
    text = TextBank(INPUT_SIZE).to(device)
    log(
        f"config {config.name}: {len(rows)} images, "
        f"{parameter_count(model)} parameters,"
        f" device {device}, batch {config.batch}"
    )
    started = time.monotonic()
    seen = 0
    amp = device.type == "cuda"
    logfile = (out / "log.jsonl").open("a")

    def save() -> None:
        torch.save(
            {
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "step": step,
                "config": asdict(config),
                "images": len(rows),
                "seed": seed,
            },
            ckpt.with_suffix(".tmp"),
        )
        ckpt.with_suffix(".tmp").replace(ckpt)

    model.train()
    while step < config.steps:
        elapsed = time.monotonic() - started
        if elapsed > config.minutes * 60:
            break
        lr = config.lr * min(1.0, (step + 1) / config.warmup)
        # cosine decay over whichever budget is nearer to its end
        progress = max(step / config.steps, elapsed / (config.minutes * 60))
        lr *= 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
        for group in opt.param_groups:
            group["lr"] = lr
        idx = sampler.batch(config.batch, config.family_share)
        src = torch.from_numpy(np.stack([images[i] for i in sorted(idx)])).to(device)
        a = views(src, INPUT_SIZE, policy, rng, text)
        b = views(src, INPUT_SIZE, policy, rng, text)
        x = normalise(torch.cat([a, b]), MEAN, STD)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            z = model(x)
        z = F.normalize(z.float(), dim=1)
        nce, top1 = info_nce(z, config.temperature)
        reg = koleo(z[: len(idx)])
        loss = nce + config.koleo * reg
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        seen += 2 * len(idx)
        if step % 10 == 0 or step == config.steps:
            rate = seen / max(1e-9, time.monotonic() - started)
            entry = {
                "step": step,
                "loss": round(loss.item(), 4),
                "infonce": round(nce.item(), 4),
                "koleo": round(reg.item(), 4),
                "top1": round(top1.item(), 4),
                "lr": lr,
                "views_per_s": round(rate, 1),
                "minutes": round((time.monotonic() - started) / 60, 2),
            }
            logfile.write(json.dumps(entry) + "\n")
            logfile.flush()
            log(json.dumps(entry))
        if step % config.save_every == 0:
            save()
    save()
    logfile.close()
    return ckpt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--config",
        choices=["auto", *sorted(CONFIGS)],
        default="auto",
        help="auto: gpu when CUDA is available, else cpu",
    )
    parser.add_argument("--index", type=Path, default=ROOT / "var/training/index.jsonl")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--minutes", type=float, default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args(argv)
    name = args.config
    if name == "auto":
        name = "gpu" if torch.cuda.is_available() else "cpu"
    config = CONFIGS[name]
    for field in ("minutes", "steps", "batch"):
        if getattr(args, field) is not None:
            config = replace(config, **{field: getattr(args, field)})
    out = args.out or ROOT / f"var/training/run-{config.name}"
    ckpt = train(
        config,
        index=args.index,
        out=out,
        device=pick_device(args.device),
        seed=args.seed,
        resume=args.resume,
    )
    print(f"checkpoint: {ckpt}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
