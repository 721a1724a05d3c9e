"""The matching-quality benchmark's images: real artwork from Debian packages.

    bash bench/quality/setup.sh          # apt-get install the packages (root)
    .venv/bin/python bench/quality/dataset.py [--jobs 2]   # build the cache

Every raster image (PNG, JPEG, WebP) that the packages in `SOURCES` install is
considered. An image is *usable* when it decodes, has at most 100 million pixels (what
the registry's decoder accepts), its shorter side is at least `MIN_SIDE`
pixels, its aspect ratio is at most `MAX_ASPECT`, and it is a
picture rather than a blank: after compositing onto white its grey levels vary
(standard deviation >= `MIN_STD`) and at least `MIN_INK` of its pixels are not
near-white. Paths of user-interface chrome, icon themes, animation frames and
game effects are skipped (`SKIP_PARTS`), and of the wallpapers a package ships
in several resolutions (files named like 1920x1080.jpg) only the largest of
each directory is kept.

De-duplication is by exact pixels: the SHA-256 of the fully decoded image at
its own resolution, as RGB composited onto white (so two files that show the
same pixels count once whatever their encoding or hidden transparent colours).
The first path in sorted order wins.

Each kept image is normalised into `var/bench/quality/images/NNNNN.jpg`:
transparent pixels composited onto white, downscaled (never upscaled) so the
longer side is at most 512 px with Lanczos, saved as JPEG quality 95 without
chroma subsampling. `index.json` lists them with their source package and path,
original size and pixel digest. Near-duplicates that are not pixel-equal
(recoloured clip art, the same wallpaper in light and dark) stay in: the
benchmark classifies them as derivatives (see run.py).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

import numpy as np
from PIL import Image

Image.MAX_IMAGE_PIXELS = None

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / "var" / "bench" / "quality"
IMAGES = CACHE / "images"
INDEX = CACHE / "index.json"

# package -> what it is (for the docs); setup.sh installs the same list. One
# list with training/packages.py (BENCHMARK): the descriptor never trains on
# these. wesnoth-1.16-data and tuxpaint-stamps-default left for the
# descriptor's held-out set: the benchmark must not tune on them.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from training.packages import BENCHMARK as SOURCES  # noqa: E402

EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")
MIN_SIDE = 96
MAX_ASPECT = 4.0
MIN_STD = 4.0
MIN_INK = 0.01
MAX_SIDE = 512
# the registry's own decoder rejects more (images.DEFAULT_MAX_PIXELS)
MAX_PIXELS = 100_000_000
# path components of interface chrome, icons, animation frames and effects
SKIP_PARTS = frozenset(
    {
        "icons",
        "halo",
        "terrain",
        "projectiles",
        "projectile",
        "attacks",
        "buttons",
        "cursors",
        "cursor",
        "dialogs",
        "themes",
        "ui",
        "gui",
        "overlays",
        "effect",
        "effects",
        "asteroid",
        "font",
        "fonts",
        "label",
        "hardpoint",
        "doc",  # translated manuals repeat the same screenshots
        "droids",  # rotation frames
        "tux_motion_parts",
        "blasts",
        "mouse_buttons",
        "widgets",
        "light_radius_chunks",
    }
)
RESOLUTION_NAME = re.compile(r"^(\d+)x(\d+)\.\w+$")
# animation frames and numbered series: name-12, name_0003, name~2, name+1
FRAME_NAME = re.compile(r"^(.*?)[-_~+ ]\d+$")


@dataclass
class Entry:
    index: int
    file: str  # under IMAGES
    package: str
    source: str
    width: int  # original
    height: int
    digest: str  # sha256 of the decoded full-size RGB (on white), hex


def package_files(package: str) -> list[str]:
    out = subprocess.run(
        ["dpkg", "-L", package], capture_output=True, text=True, check=False
    ).stdout.split("\n")
    files = sorted(
        f
        for f in out
        if f.lower().endswith(EXTENSIONS)
        and not (set(Path(f).parts) & SKIP_PARTS)
        and Path(f).is_file()
    )
    # wallpapers in several resolutions: keep the largest per directory
    best: dict[str, tuple[int, str]] = {}
    rest = []
    for f in files:
        m = RESOLUTION_NAME.match(Path(f).name)
        if m:
            area = int(m[1]) * int(m[2])
            key = str(Path(f).parent)
            if key not in best or area > best[key][0]:
                best[key] = (area, f)
        else:
            rest.append(f)
    # numbered frames of one animation or series: keep the first of each
    series: dict[tuple[str, str], str] = {}
    for f in sorted(rest):
        m = FRAME_NAME.match(Path(f).stem)
        key = (str(Path(f).parent), m[1] if m else Path(f).stem + "\0")
        series.setdefault(key, f)
    return sorted(list(series.values()) + [f for _, f in best.values()])


def on_white(img: Image.Image) -> Image.Image:
    if img.mode in ("RGBA", "LA", "PA") or (
        img.mode == "P" and "transparency" in img.info
    ):
        rgba = img.convert("RGBA")
        out = Image.new("RGB", rgba.size, (255, 255, 255))
        out.paste(rgba, mask=rgba.getchannel("A"))
        return out
    return img.convert("RGB")


def check_image(
    source: str | Path | IO[bytes], *, min_side: int = MIN_SIDE
) -> tuple[str | None, Image.Image | None]:
    """(reason rejected, None) or (None, the first frame as RGB on white).

    The rules of the module docstring: decodable, at most `MAX_PIXELS`, shorter
    side >= min_side, aspect <= `MAX_ASPECT`, not blank. training/dataset.py
    applies the same rules with its own min_side.
    """
    try:
        with Image.open(source) as im:
            w, h = im.size
            if min(w, h) < min_side:
                return "small", None
            if w * h > MAX_PIXELS:
                return "over 100 MP", None
            im.seek(0)
            im.load()
            rgb = on_white(im)
    except Exception as exc:  # noqa: BLE001 - any decoding failure rejects it
        return f"undecodable ({exc.__class__.__name__})", None
    w, h = rgb.size
    if min(w, h) < min_side:
        return "small", None
    if max(w, h) / min(w, h) > MAX_ASPECT:
        return "aspect", None
    grey = np.asarray(rgb.convert("L").resize((128, 128)), dtype=np.float32)
    if grey.std() < MIN_STD or (grey < 240).mean() < MIN_INK:
        return "blank", None
    return None, rgb


def pixel_digest(rgb: Image.Image) -> str:
    """SHA-256 (hex) of an RGB image's size and pixels: equal pixels, equal digest."""
    w, h = rgb.size
    return hashlib.sha256(f"{w}x{h}".encode() + np.asarray(rgb).tobytes()).hexdigest()


def examine(task: tuple[str, str]) -> tuple[str, str, str | None, dict | None]:
    """(package, path, reason rejected or None, info) for one file."""
    package, path = task
    reason, rgb = check_image(path)
    if reason or rgb is None:
        return package, path, reason, None
    w, h = rgb.size
    digest = pixel_digest(rgb)
    if max(w, h) > MAX_SIDE:
        rgb.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    tmp = IMAGES / f"tmp-{digest}.jpg"
    rgb.save(tmp, "JPEG", quality=95, subsampling=0)
    return package, path, None, {"width": w, "height": h, "digest": digest}


def build(jobs: int) -> list[Entry]:
    IMAGES.mkdir(parents=True, exist_ok=True)
    tasks = [(p, f) for p in SOURCES for f in package_files(p)]
    missing = [p for p in SOURCES if not package_files(p)]
    if missing:
        sys.exit(f"not installed (run bench/quality/setup.sh): {' '.join(missing)}")
    log(f"{len(tasks):,} image files in {len(SOURCES)} packages")
    rejected: Counter[tuple[str, str]] = Counter()
    entries: list[Entry] = []
    seen: set[str] = set()
    dupes: Counter[str] = Counter()
    t0 = time.perf_counter()
    with multiprocessing.Pool(jobs) as pool:
        for n, (package, path, reason, info) in enumerate(
            pool.imap(examine, tasks, chunksize=16), 1
        ):
            if reason:
                rejected[(package, reason)] += 1
            elif info["digest"] in seen:
                dupes[package] += 1
                (IMAGES / f"tmp-{info['digest']}.jpg").unlink(missing_ok=True)
            else:
                seen.add(info["digest"])
                i = len(entries)
                name = f"{i:05d}.jpg"
                (IMAGES / f"tmp-{info['digest']}.jpg").rename(IMAGES / name)
                entries.append(Entry(i, name, package, path, **info))
            if n % 1000 == 0:
                log(f"  {n:,}/{len(tasks):,} ({time.perf_counter() - t0:.0f}s)")
    counts = Counter(e.package for e in entries)
    files = Counter(p for p, _ in tasks)
    summary = {
        p: {
            "files": files[p],
            "kept": counts[p],
            "exact_duplicates": dupes[p],
            **{r: c for (q, r), c in rejected.items() if q == p},
        }
        for p in SOURCES
    }
    INDEX.write_text(
        json.dumps(
            {
                "rules": {
                    "min_side": MIN_SIDE,
                    "max_aspect": MAX_ASPECT,
                    "min_std": MIN_STD,
                    "min_ink": MIN_INK,
                    "max_side": MAX_SIDE,
                    "skip_parts": sorted(SKIP_PARTS),
                },
                "packages": {p: installed_version(p) for p in SOURCES},
                "summary": summary,
                "images": [asdict(e) for e in entries],
            },
            indent=1,
        )
    )
    for stale in IMAGES.glob("tmp-*.jpg"):
        stale.unlink()
    return entries


def installed_version(package: str) -> str:
    return subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", package],
        capture_output=True,
        text=True,
        check=False,
    ).stdout


def load() -> tuple[list[Entry], dict]:
    """The cached dataset (entries, whole index); build it first if missing."""
    if not INDEX.exists():
        build(2)
    data = json.loads(INDEX.read_text())
    return [Entry(**e) for e in data["images"]], data


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    if INDEX.exists() and not args.rebuild:
        entries, data = load()
    else:
        entries = build(args.jobs)
        data = json.loads(INDEX.read_text())
    print(f"{'package':<30} {'files':>6} {'kept':>6} {'dupes':>6}  rejected")
    for p, s in data["summary"].items():
        other = {
            k: v for k, v in s.items() if k not in ("files", "kept", "exact_duplicates")
        }
        print(
            f"{p:<30} {s['files']:>6} {s['kept']:>6} {s['exact_duplicates']:>6}  "
            + ", ".join(f"{k} {v}" for k, v in sorted(other.items()))
        )
    print(
        f"{'total':<30} {sum(s['files'] for s in data['summary'].values()):>6} "
        f"{len(entries):>6}"
    )


if __name__ == "__main__":
    main()
