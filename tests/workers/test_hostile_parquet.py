"""Hostile but valid Parquet: a tiny file whose values decode to gigabytes.

639 bytes of zstd can hold 100,000 copies of an 8 KB URL (one dictionary
entry and 100,000 small indices), 800 MB once decoded; an unused 8 KiB column
beside it cost as much again when the filtered Parquet was rewritten. Reading
and rewriting it took 2.2 GB and 4.1 GB. Now a url over MAX_URL_BYTES leaves
its row unchecked with the reason, nothing is decoded whole, and the memory
used is measured in a fresh subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.peak_memory import PRELUDE
from workers.engine import manifests
from workers.engine.manifests._common import MAX_BATCH_VALUE_BYTES, MAX_URL_BYTES
from workers.engine.types import ManifestFormat

ROOT = Path(__file__).resolve().parents[2]
PARQUET = ManifestFormat.PARQUET
LONG_URL = "https://example.com/" + "a" * (8192 - 20)  # 8 KB
# Reading and rewriting the 100,000-row file: measured about 340 MB
# (interpreter and imports about 80 MB); the old path took 4,100 MB.
PEAK_MB = 600


def repeated(value: str, n: int) -> pa.DictionaryArray:
    """`value` n times, built as a dictionary: never n copies in this process."""
    return pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(n, dtype=np.int32)), pa.array([value])
    )


def hostile_parquet(path: Path, n: int = 100_000, *, url: str = LONG_URL) -> Path:
    """n rows of one long url and an unused 8 KiB column, zstd-compressed,
    typed as plain strings (store_schema=False: no Arrow schema to say they
    were dictionaries, as a file from another writer)."""
    table = pa.table(
        {
            "url": repeated(url, n),
            "caption": repeated("a cat", n),
            "extra": repeated("x" * 8192, n),
        }
    )
    pq.write_table(table, path, compression="zstd", store_schema=False)
    return path


def _read_all(path: Path) -> list:
    columns = manifests.detect_columns([path], PARQUET)
    return [
        batch
        for spec in manifests.plan_chunks([path], PARQUET)
        for batch in manifests.read_chunk([path], PARQUET, spec, columns)
    ]


def test_the_hostile_file_is_tiny(tmp_path):
    path = hostile_parquet(tmp_path / "m.parquet")
    assert path.stat().st_size < 2_000
    assert pq.ParquetFile(path).schema_arrow.field("url").type == pa.string()


def test_a_url_over_the_cap_leaves_its_row_unchecked_with_the_reason(tmp_path):
    path = hostile_parquet(tmp_path / "m.parquet", 1_000)

    batches = _read_all(path)

    assert sum(len(b.urls) for b in batches) == 1_000
    assert all(u is None for b in batches for u in b.urls)
    unchecked = [p for b in batches for p in b.unchecked]
    assert len(unchecked) == 1_000
    assert {(p.reason, p.field, p.signal) for p in unchecked} == {
        (f"url is longer than {MAX_URL_BYTES:,} bytes", "url", "url")
    }
    # The row's other signals are still checked.
    assert {c for b in batches for c in b.captions} == {"a cat"}


def test_a_url_at_the_cap_is_checked(tmp_path):
    url = "https://example.com/" + "b" * (MAX_URL_BYTES - 20)
    path = hostile_parquet(tmp_path / "m.parquet", 10, url=url)

    batches = _read_all(path)

    assert [u for b in batches for u in b.urls] == [url] * 10
    assert not [p for b in batches for p in b.unchecked]


def test_a_url_over_the_cap_is_unchecked_in_csv_too(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text(f"url,caption\n{LONG_URL},a cat\nhttps://a.example/x,a dog\n")

    columns = manifests.detect_columns([path], ManifestFormat.CSV)
    (spec,) = manifests.plan_chunks([path], ManifestFormat.CSV)
    (batch,) = manifests.read_chunk([path], ManifestFormat.CSV, spec, columns)

    assert batch.urls == [None, "https://a.example/x"]
    assert [p.reason for p in batch.unchecked] == [
        f"url is longer than {MAX_URL_BYTES:,} bytes"
    ]


def test_batches_are_cut_by_decoded_bytes_not_rows(tmp_path):
    # 3 KB urls (under the cap): 64 MB of them is about 21,800 rows.
    url = "https://example.com/" + "c" * 3000
    path = hostile_parquet(tmp_path / "m.parquet", 50_000, url=url)

    batches = _read_all(path)

    assert sum(len(b.urls) for b in batches) == 50_000
    assert max(len(b.urls) for b in batches) * len(url) <= MAX_BATCH_VALUE_BYTES


def test_the_rewrite_keeps_the_rows_and_schema(tmp_path):
    path = hostile_parquet(tmp_path / "m.parquet", 20_000)
    out = tmp_path / "out"

    (written,) = manifests.write_filtered([path], PARQUET, np.array([0, 5]), out)

    result = pq.ParquetFile(written)
    assert result.metadata.num_rows == 19_998
    assert result.schema_arrow == pq.ParquetFile(path).schema_arrow
    assert result.metadata.row_group(0).column(0).compression == "ZSTD"
    first = result.read_row_group(0, columns=["url", "extra"]).slice(0, 1)
    assert first.column("url").to_pylist() == [LONG_URL]
    assert first.column("extra").to_pylist() == ["x" * 8192]


_CHILD = (
    PRELUDE
    + """
from pathlib import Path
import numpy as np
from workers.engine import manifests
from workers.engine.types import ManifestFormat
path, out = Path({path!r}), Path({out!r})
fmt = ManifestFormat.PARQUET
columns = manifests.detect_columns([path], fmt)
rows = unchecked = 0
for spec in manifests.plan_chunks([path], fmt):
    for batch in manifests.read_chunk([path], fmt, spec, columns):
        rows += len(batch.urls)
        unchecked += len(batch.unchecked)
read_mb = peak_mb()
manifests.write_filtered([path], fmt, np.array([0]), out)
print(json.dumps({{
    "rows": rows,
    "unchecked": unchecked,
    "read_mb": read_mb,
    "peak_mb": peak_mb(),
}}))
"""
)


@pytest.mark.parametrize("n", [100_000])
def test_reading_and_rewriting_the_hostile_file_takes_bounded_memory(tmp_path, n):
    path = hostile_parquet(tmp_path / "m.parquet", n)
    script = _CHILD.format(root=str(ROOT), path=str(path), out=str(tmp_path / "out"))

    done = subprocess.run(
        [sys.executable, "-c", script],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])

    assert (result["rows"], result["unchecked"]) == (n, n)
    assert result["peak_mb"] < PEAK_MB, (
        f"reading and rewriting peaked at {result['peak_mb']:.0f} MB "
        f"(reading alone {result['read_mb']:.0f} MB), over {PEAK_MB} MB"
    )
