"""Where building a base segment spends memory, phase by phase (Django-free).

    .venv/bin/python bench/segment_memory.py [--images 2000000]

The synthetic registry of bench/segments.py (N images and N URL claims, one
PDQ per image, no descriptors) is made as Arrow entries, then each index is
built alone into its files (as write_segment builds it) and dropped, then
write_segment builds them all as a worker
does: once from the entries held in memory, once from the same entries
written to uncompressed Arrow files and memory-mapped (EntriesWriter's
spill, as the base read from the database is). Then that base is merged
into a new one (what the periodic merge does when the deltas grow), once
with its live entries read into memory and once as `merge` does it, a
batch at a time through a spill folder. A thread samples the
process's anonymous resident memory (RssAnon: what the system cannot
reclaim; mapped files' pages are page cache) every 5 ms; per phase: the
time, the memory before, the peak above it, and bytes per image of that
peak. Before each phase, what earlier ones freed is handed back to the
system (Arrow's pool released, glibc's heap trimmed), so "before" is what
is really held. This is the measurement behind "what an 80M base needs" in
docs/PERFORMANCE.md: what must stream from disk rather than sit in memory.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import ctypes  # noqa: E402
import gc  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
import pyarrow.ipc as ipc  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import segments as synthetic  # noqa: E402  (bench/segments.py)

from workers.engine import segments as seg  # noqa: E402
from workers.engine import snapshot as snap  # noqa: E402
from workers.engine.arrays import ArrayFiles  # noqa: E402


def _release() -> None:
    """Give back what earlier phases freed but the allocators kept (Arrow's
    pool, glibc's heap), so each phase starts from what is really held."""
    gc.collect()
    pa.default_memory_pool().release_unused()
    ctypes.CDLL("libc.so.6").malloc_trim(0)


class Sampler:
    def __init__(self) -> None:
        self.peak = 0
        threading.Thread(target=self._run, daemon=True).start()

    resident = staticmethod(synthetic.rss_anon)

    def _run(self) -> None:
        while True:
            self.peak = max(self.peak, self.resident())
            time.sleep(0.005)

    def phase(self, name: str, n: int, fn: Callable[[], Any]) -> Any:
        _release()
        before = self.resident()
        self.peak = before
        started = time.perf_counter()
        out = fn()
        spent = time.perf_counter() - started
        time.sleep(0.05)
        extra = self.peak - before
        print(
            f"| {name} | {spent:.1f} | {before / 1e9:.2f} | {extra / 1e9:.2f} "
            f"| {extra / n:,.0f} | {self.peak / 1e9:.2f} |",
            flush=True,
        )
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=2_000_000)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    n = args.images
    sampler = Sampler()
    rng = np.random.default_rng(n)
    print(f"{n:,} images\n")
    print(
        "| phase | s | anonymous before, GB | peak above it, GB | bytes/image "
        "| peak, GB |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    entries = sampler.phase(
        "synthetic Arrow entries", n, lambda: synthetic._base_entries(n, rng)
    )
    is_url = pc.fill_null(pc.equal(entries.claims.column("kind"), "url"), False)
    work = Path(tempfile.mkdtemp(dir=args.work))

    def into_files(name: str, build: Callable[[ArrayFiles], Any]) -> Callable[[], None]:
        """Build one index into its files, as write_segment does, then drop it."""

        def run() -> None:
            folder = work / "alone" / name
            build(ArrayFiles(folder))
            shutil.rmtree(folder)

        return run

    def urls(out: ArrayFiles) -> None:
        claims = seg._packed_claims(entries.claims.filter(is_url))
        snap.UrlIndex.build(urls=claims, prefixes=[], domains=[], out=out)

    def exact(name: str, width: int) -> Callable[[ArrayFiles], None]:
        return lambda out: snap.ExactIndex.build(
            seg._hash_arrays(entries.images, name, width), width, out
        )

    def phash(out: ArrayFiles) -> None:
        arrays = seg._hash_arrays(entries.images, "phash", 8)
        snap._hamming_build(arrays, 8, synthetic.RADIUS.phash, out)

    def pdq(out: ArrayFiles) -> None:
        arrays = seg._hash_arrays(entries.pdq, "value", 32, variants="variant")
        packed = snap._pack_variant_arrays(arrays, ["original"])
        snap._hamming_build(packed, 32, synthetic.RADIUS.pdq, out)

    sampler.phase("URL index", n, into_files("urls", urls))
    sampler.phase("SHA-256 index", n, into_files("sha256", exact("sha256", 32)))
    sampler.phase("MD5 index", n, into_files("md5", exact("md5", 16)))
    sampler.phase("pHash index", n, into_files("phash", phash))
    sampler.phase("PDQ index", n, into_files("pdq", pdq))

    def write(entries: seg.Entries) -> Callable[[], Any]:
        return lambda: seg.write_segment(
            work,
            entries,
            kind="base",
            first=0,
            last=1,
            registry="bench",
            descriptor_version="",
            max_radius=synthetic.RADIUS,
        )

    try:
        sampler.phase("write_segment, entries held", n, write(entries))
        spill = work / "spill"
        spill.mkdir()
        for name in seg.TABLES:
            table = entries.table(name)
            with ipc.new_file(spill / f"{name}.arrow", table.schema) as out:
                out.write_table(table, max_chunksize=seg.FLUSH_ROWS)
        entries = table = None  # the held copy goes before the mapped one is read
        gc.collect()
        pa.default_memory_pool().release_unused()
        mapped = seg.mapped_entries(spill)
        written = sampler.phase("write_segment, entries mapped", n, write(mapped))
        mapped = None
        gc.collect()
        base = seg.Segment(written)
        alive = seg.liveness([base], 1)
        sampler.phase(
            "the base merged into a new one, entries read into memory",
            n,
            lambda: write(seg._live_entries([base], alive))(),
        )
        sampler.phase(
            "the base merged into a new one (merge: entries spilled, mapped)",
            n,
            lambda: seg.merge(work, [base], into=seg.BASE),
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
