"""What reading an image's own signals costs a job, on one core (Django-free).

Matches batches of image rows (as a tar shard gives them) against an empty
registry snapshot twice, alternating: the baseline without signals (decode,
hashes: what every image row costs) and with all four protocols read
(docs/SIGNALS.md). Three kinds of rows: images with no metadata (nearly every
row of a real set), images with an IPTC plus:DataMining packet in XMP, and
images with a signed C2PA manifest (a CAWG training-and-data-mining
assertion). Prints rows/s per kind, the ratio with/without and the time
`read_embedded` alone takes an image. Images are drawn here; nothing is
fetched.

    .venv/bin/python bench/signals.py --images 200 --repeat 3

Every figure is the median of --repeat runs.
"""

from __future__ import annotations

import os

for _var in (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMBA_NUM_THREADS",
):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import io  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402

cv2.setNumThreads(1)

from tests.images import drawing  # noqa: E402
from tests.signal_images import iptc_data_mining, with_c2pa, with_xmp  # noqa: E402
from workers.engine.datasignals import EMBEDDED_PROTOCOLS, read_embedded  # noqa: E402
from workers.engine.snapshot import RegistrySnapshot  # noqa: E402
from workers.engine.types import RowBatch  # noqa: E402

SIZE = (512, 384)  # about a LAION row's image after img2dataset's resize


def plain(seed: int) -> bytes:
    out = io.BytesIO()
    drawing(seed, SIZE).save(out, "JPEG", quality=90)
    return out.getvalue()


def images(kind: str, n: int) -> list[bytes]:
    if kind == "none":
        return [plain(i) for i in range(n)]
    if kind == "iptc":
        packet = iptc_data_mining("DMI-PROHIBITED-AIMLTRAINING")
        return [with_xmp(i, packet, "JPEG", SIZE) for i in range(n)]
    entries = {"cawg.ai_generative_training": "notAllowed"}
    return [
        with_c2pa(i, entries, label="cawg.training-mining", size=SIZE) for i in range(n)
    ]


def batch(data: list[bytes]) -> RowBatch:
    return RowBatch.of(
        images=list(data), image_names=[f"{i}.jpg" for i in range(len(data))]
    )


def rows_per_s(snapshot: RegistrySnapshot, data: list[bytes], signals) -> float:
    started = time.perf_counter()
    found, problems = snapshot.match(batch(data), signals=signals)
    elapsed = time.perf_counter() - started
    assert not problems
    return len(data) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    snapshot = RegistrySnapshot.build(revision=1)
    print(f"{args.images} images of {SIZE[0]}x{SIZE[1]} a kind, one core")
    print(
        "| images carry | baseline rows/s | with signals rows/s | ratio | "
        "read_embedded ms an image |"
    )
    print("| --- | ---: | ---: | ---: | ---: |")
    for kind in ("none", "iptc", "c2pa"):
        data = images(kind, args.images)
        rows_per_s(snapshot, data[:5], EMBEDDED_PROTOCOLS)  # warm: imports, models
        base, with_, alone = [], [], []
        for _ in range(args.repeat):
            base.append(rows_per_s(snapshot, data, ()))
            with_.append(rows_per_s(snapshot, data, EMBEDDED_PROTOCOLS))
            started = time.perf_counter()
            for item in data:
                read_embedded(item)
            alone.append((time.perf_counter() - started) / len(data) * 1000)
        b, w = statistics.median(base), statistics.median(with_)
        print(
            f"| {'no metadata' if kind == 'none' else kind} | {b:,.0f} | {w:,.0f} "
            f"| {w / b:.2f} | {statistics.median(alone):.2f} |"
        )


if __name__ == "__main__":
    main()
