"""The dataset search's index at scale: ingest rows/s on one core, index
bytes per row, and query latency (p50/p95) for a name, a host and a URL
prefix, on a generated LAION-like dataset (workers.engine.datasetindex).

Rows: URLs on `--hosts` hosts (Zipf-distributed, as real crawls are: a few
hosts hold most rows), captions of 6-20 words from a 50,000-word vocabulary
(Zipf), and one artist in every 20,000 rows named in the caption. Indexed
in chunks of `--chunk` rows, one commit each, as the workers do (one
writer thread).

Baseline, in the same run: the same questions answered by a scan of the
same rows in Arrow (pyarrow.compute over the captions and URLs, all in
memory), which is what a search without an index costs.

    .venv/bin/python bench/dataset_search.py --rows 2000000 --repeat 3

Prints a table; the extrapolation to 100M rows is in docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workers.engine import datasetindex  # noqa: E402
from workers.engine.types import RowBatch  # noqa: E402

ARTIST_EVERY = 20_000


def vocabulary(n: int, rng: np.random.Generator) -> list[str]:
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    lengths = rng.integers(3, 10, n)
    return ["".join(rng.choice(letters, k)) for k in lengths]


def make_rows(
    first: int, n: int, words: list[str], hosts: list[str], rng: np.random.Generator
) -> tuple[list[str], list[str]]:
    w = len(words)
    h = len(hosts)
    host_ids = np.minimum(rng.zipf(1.3, n) - 1, h - 1)
    counts = rng.integers(6, 21, n)
    word_ids = np.minimum(rng.zipf(1.2, int(counts.sum())) - 1, w - 1)
    urls, captions = [], []
    at = 0
    for i in range(n):
        row = first + i
        k = counts[i]
        caption = " ".join(words[j] for j in word_ids[at : at + k])
        at += k
        host = hosts[host_ids[i]]
        if row % ARTIST_EVERY == 0:
            caption += f" by Artist{row // ARTIST_EVERY % 50} Example"
            host = f"artist{row // ARTIST_EVERY % 50}.example"
        urls.append(f"https://{host}/images/{row % 997}/{row}.jpg")
        captions.append(caption)
    return urls, captions


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def pct(values: list[float], p: float) -> float:
    return float(np.percentile(np.array(values) * 1000, p))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--chunk", type=int, default=100_000)
    parser.add_argument("--hosts", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="Keep the index here.")
    args = parser.parse_args()

    rng = np.random.default_rng(7)
    words = vocabulary(50_000, rng)
    hosts = [f"h{i}.example" for i in range(args.hosts)]
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-search-"))
    if folder.exists():
        shutil.rmtree(folder)

    generate = index = 0.0
    arrow_urls, arrow_captions = [], []
    for chunk, first in enumerate(range(0, args.rows, args.chunk)):
        n = min(args.chunk, args.rows - first)
        started = time.perf_counter()
        urls, captions = make_rows(first, n, words, hosts, rng)
        generate += time.perf_counter() - started
        arrow_urls.append(pa.array(urls))
        arrow_captions.append(pa.array(captions))
        batch = RowBatch.of(first_row=first, urls=urls, captions=captions)
        started = time.perf_counter()
        datasetindex.write_chunk(folder, chunk, [batch])
        index += time.perf_counter() - started
    size = datasetindex.size_bytes(folder)
    url_col = pa.chunked_array(arrow_urls)
    caption_col = pa.chunked_array(arrow_captions)
    table_bytes = url_col.nbytes + caption_col.nbytes
    print(
        f"{args.rows:,} rows, {args.hosts:,} hosts, chunks of {args.chunk:,}: "
        f"indexed in {index:.1f} s ({args.rows / index:,.0f} rows/s on one "
        f"writer thread; generating them took {generate:.1f} s)"
    )
    print(
        f"index {size / 1e6:,.1f} MB = {size / args.rows:.0f} bytes/row "
        f"(the rows' URLs and captions as Arrow strings: "
        f"{table_bytes / args.rows:.0f} bytes/row)"
    )

    ix = datasetindex.open_index(folder)
    ix.reload()
    # (value, query, estimate function): what the search pages do
    # (optout.selectors.dataset_search); the estimate is timed with the query.
    text, host = datasetindex.text_estimate, datasetindex.host_estimate
    common = [words[i] for i in range(min(args.queries, 20))]
    queries = {
        "name": [
            (v, datasetindex.text_query(ix, v), text)
            for v in [
                f"Artist{i} Example"
                for i in range(min(args.queries, 50, max(1, args.rows // ARTIST_EVERY)))
            ]
        ],
        # The worst case: the most frequent words of the vocabulary, each in
        # several percent of the rows (a name that is also a common word).
        "common word": [(v, datasetindex.text_query(ix, v), text) for v in common],
        # The same, every match ordered and counted (no estimate, no walk):
        # how the search answered before it walked the chunks.
        "common word, counted whole": [
            (v, datasetindex.text_query(ix, v), None) for v in common
        ],
        "host": [
            (h, datasetindex.host_query(ix, h), host)
            for h in [f"artist{i}.example" for i in range(args.queries // 2)]
            + hosts[: args.queries - args.queries // 2]
        ],
        "prefix": [
            (p, datasetindex.prefix_query(ix, p), None)
            for p in [
                f"https://artist{i}.example/images/{i}/" for i in range(args.queries)
            ]
        ],
    }

    def scan(kind: str, value: str) -> int:
        if kind in ("name", "common word", "common word, counted whole"):
            folded = pc.utf8_lower(caption_col)
            return pc.sum(pc.match_substring(folded, value.lower())).as_py() or 0
        if kind == "host":
            pattern = f"://{value}/"
            return pc.sum(pc.match_substring(url_col, pattern)).as_py() or 0
        return pc.sum(pc.starts_with(url_col, value)).as_py() or 0

    print()
    print(
        "| query | index p50 (ms) | index p95 (ms) | Arrow scan p50 (ms) "
        "| ratio (p50) |"
    )
    print("| --- | ---: | ---: | ---: | ---: |")
    for kind, items in queries.items():
        latencies = []
        for value, query, estimate in items:

            def one(v=value, q=query, e=estimate) -> None:
                datasetindex.search(ix, q, limit=50, estimate=e(ix, v) if e else None)

            latencies.append(statistics.median(timed(one, args.repeat)))
        scans = []
        for value, _, _ in items[:5]:
            runs = timed(lambda v=value, k=kind: scan(k, v), 1)
            scans.append(runs[0])
        p50, p95 = pct(latencies, 50), pct(latencies, 95)
        scan50 = pct(scans, 50)
        print(
            f"| {kind} ({len(items)} queries) | {p50:.2f} | {p95:.2f} | "
            f"{scan50:.0f} | {scan50 / max(p50, 1e-6):,.0f}x |"
        )
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
