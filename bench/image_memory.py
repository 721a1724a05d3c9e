"""Peak memory of fingerprinting one large image, reduced decoding vs full.

Draws a PNG and a JPEG of --side x --side pixels (default 10000: exactly the
default UPLOAD_MAX_IMAGE_PIXELS of 100 million) and fingerprints each in a
fresh subprocess, once per path:

- upload check: what the web process does to a portfolio upload before
  storing it (core/uploads.py: decode it, to refuse what is not an image);
- evidence: what a dispute's evidence file gets (hashes and a thumbnail);
- portfolio: what the images worker computes for a registered image (hashes,
  the PDQ variants of the default scheme, local features, a thumbnail).

"full" is the old decoding path, kept as `decode_image(max_side=None)`: the
whole image decoded, converted and copied at full resolution. "reduced" is
what the code does now (workers/engine/images.py). The peak is the child's
VmHWM (ru_maxrss would start at the parent's peak), which includes the
interpreter and its imports (measured alone first).

    .venv/bin/python bench/image_memory.py
    .venv/bin/python bench/image_memory.py --side 6000 --formats jpeg

Prints peak RSS in MB, seconds, and full/reduced ratios measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PATHS = ("upload check", "evidence", "portfolio")
DECODES = ("full", "reduced")


def draw(path: Path, fmt: str, side: int) -> None:
    """A blocky picture: compresses like a flat hostile PNG, still has edges."""
    from PIL import Image, ImageDraw

    small = Image.new("RGB", (100, 100), (240, 240, 230))
    pen = ImageDraw.Draw(small)
    for i in range(0, 100, 7):
        pen.rectangle((i, (i * 3) % 90, i + 5, (i * 3) % 90 + 9), fill=(i, 90, 200 - i))
        pen.line((0, i, 99, 99 - i), fill=(20, 2 * i, 60))
    small.resize((side, side), Image.Resampling.NEAREST).save(
        path, format=fmt, **({"quality": 90} if fmt == "JPEG" else {})
    )


def peak_mb() -> float:
    # VmHWM: the peak of this process's own memory since exec; ru_maxrss
    # would start at the parent's peak when it forked us.
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(path: str, which: str, decode: str) -> None:
    from functools import partial

    from workers.engine import fingerprint, images, perceptual

    if decode == "full":
        fingerprint.decode_image = partial(images.decode_image, max_side=None)  # type: ignore[assignment]  # the old path
    data = Path(path).read_bytes() if path else b""
    started = time.perf_counter()
    if data:
        if which == "upload check":
            decode = fingerprint.decode_image
            decode(data)
        elif which == "evidence":
            fingerprint.fingerprint_bytes(data, thumbnail_size=256)
        else:
            fingerprint.fingerprint_bytes(
                data,
                thumbnail_size=256,
                variants=perceptual.SCHEMES[perceptual.DEFAULT_SCHEME],
                features=True,
            )
    seconds = time.perf_counter() - started
    print(json.dumps({"peak_mb": peak_mb(), "seconds": seconds}))


def measure(path: str, which: str, decode: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", path, which, decode],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--side", type=int, default=10_000)
    parser.add_argument("--formats", nargs="+", default=["png", "jpeg"])
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--draw", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    if args.draw:
        path = Path(args.draw[0])
        draw(path, path.suffix[1:].upper(), int(args.draw[1]))
        return

    base = measure("", "evidence", "reduced")
    print(f"interpreter and imports alone: {base['peak_mb']:.0f} MB")
    print(
        "| image | path | full: peak MB | s | reduced: peak MB | s "
        "| ratio full/reduced |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in args.formats:
            path = Path(tmp) / f"big.{fmt}"
            # Drawn in a child: a forked child starts with its parent's peak.
            subprocess.run(
                [sys.executable, __file__, "--draw", str(path), str(args.side)],
                check=True,
            )
            size_kb = path.stat().st_size / 1024
            for which in PATHS:
                full = measure(str(path), which, "full")
                reduced = measure(str(path), which, "reduced")
                print(
                    f"| {fmt} {args.side}x{args.side} ({size_kb:,.0f} KB) | {which} "
                    f"| {full['peak_mb']:,.0f} | {full['seconds']:.1f} "
                    f"| {reduced['peak_mb']:,.0f} | {reduced['seconds']:.1f} "
                    f"| {full['peak_mb'] / reduced['peak_mb']:.1f}x |"
                )


if __name__ == "__main__":
    main()
