"""Real img2dataset output, made in a test's own set-up from a local HTTP server.

`run_img2dataset` serves the given images from a folder on 127.0.0.1, writes
their URL list (plus `missing` URLs that answer 404, as dead links do) and runs
the img2dataset package pinned in requirements-dev.txt on it, in a subprocess
(it starts its own worker processes). Nothing is fetched from the web. With
`output_format="webdataset"` the folder holds `00000.tar`, `00000.parquet`
(every sample's metadata, failed downloads included) and `00000_stats.json`
per shard; with `"parquet"`, `00000.parquet` with the images in its `jpg`
column (null for failed downloads) and `00000_stats.json`. Images keep their
size (`resize_mode no`) but are re-encoded, as img2dataset does by default,
which drops their metadata; `options=("--skip_reencode", "True")` keeps the
bytes as served.
"""

from __future__ import annotations

import csv
import functools
import subprocess
import sys
import threading
from collections.abc import Mapping
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def run_img2dataset(
    work: Path,
    images: Mapping[str, bytes],
    *,
    output_format: str,
    captions: Mapping[str, str] | None = None,
    missing: int = 1,
    per_shard: int = 10_000,
    options: tuple[str, ...] = (),
) -> tuple[Path, dict[str, str]]:
    """img2dataset's output folder for `images` ({file name: bytes}), and the
    URL each file was served under ({name: url}; `missing` 404s are listed
    as `missing-N.jpg`)."""
    served = work / "served"
    served.mkdir(parents=True, exist_ok=True)
    for name, data in images.items():
        (served / name).write_bytes(data)
    handler = functools.partial(_Quiet, directory=str(served))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        names = [*images, *(f"missing-{i}.jpg" for i in range(missing))]
        urls = {name: f"{base}/{name}" for name in names}
        url_list = work / f"urls-{output_format}.csv"
        with open(url_list, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["url", "caption"])
            for name in names:
                writer.writerow([urls[name], (captions or {}).get(name, name)])
        out = work / f"img2dataset-{output_format}"
        command = [
            str(Path(sys.executable).parent / "img2dataset"),
            "--url_list",
            str(url_list),
            "--input_format",
            "csv",
            "--url_col",
            "url",
            "--caption_col",
            "caption",
            "--output_format",
            output_format,
            "--output_folder",
            str(out),
            "--processes_count",
            "1",
            "--thread_count",
            "4",
            "--resize_mode",
            "no",
            "--number_sample_per_shard",
            str(per_shard),
            "--enable_wandb",
            "False",
            "--retries",
            "0",
            *options,
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr[-2000:]
    finally:
        server.shutdown()
        server.server_close()
    return out, urls
