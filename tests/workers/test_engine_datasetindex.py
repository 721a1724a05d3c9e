"""The dataset search's index, Django-free (workers/engine/datasetindex.py)."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import pytest

from workers.engine import datasetindex
from workers.engine.style import word_texts
from workers.engine.types import RowBatch


def batch(first: int, urls, captions=None) -> RowBatch:
    return RowBatch.of(
        first_row=first, urls=list(urls), captions=list(captions or [None] * len(urls))
    )


def found(folder, query_of) -> list[int]:
    index = datasetindex.open_index(folder)
    return [h.row for h in datasetindex.search(index, query_of(index), limit=100).hits]


def test_word_texts_are_the_style_matchers_words():
    assert word_texts(["Greg_RUTKOWSKI, art", None, "浮世絵Ito", "Ｆｕｌｌ width"]) == [
        "greg rutkowski art",
        "",
        "浮 世 絵 ito",
        "full width",
    ]


def test_prefixes_with_regex_characters_match_literally(tmp_path):
    urls = [
        "https://a.example/a+b(c)/1.jpg",
        "https://a.example/a+b(c)/2.jpg",
        "https://a.example/aab(c)/3.jpg",
        "https://a.example/a.b[1]/x$y.jpg",
        "https://a.example/a-b~c/z.jpg",
    ]
    datasetindex.write_chunk(tmp_path, 0, [batch(0, urls)])
    assert found(
        tmp_path, lambda ix: datasetindex.prefix_query(ix, "https://a.example/a+b(c)/")
    ) == [0, 1]
    assert found(
        tmp_path,
        lambda ix: datasetindex.prefix_query(ix, "http://www.a.example/a.b[1]"),
    ) == [3]
    assert found(
        tmp_path,
        lambda ix: datasetindex.prefix_query(ix, "https://a.example/a-b~c/z.jpg"),
    ) == [4]
    assert found(
        tmp_path, lambda ix: datasetindex.url_query(ix, "http://a.example/aab(c)/3.jpg")
    ) == [2]


def test_a_chunk_that_fails_midway_leaves_the_index_as_it_was(tmp_path):
    datasetindex.write_chunk(tmp_path, 0, [batch(0, ["https://a.example/1.jpg"])])

    def broken():
        yield batch(1, ["https://a.example/2.jpg"])
        raise OSError("the disk went away")

    with pytest.raises(OSError):
        datasetindex.write_chunk(tmp_path, 1, broken())
    assert found(tmp_path, lambda ix: datasetindex.host_query(ix, "a.example")) == [0]
    # Written again whole, and again: each row once.
    for _ in range(2):
        datasetindex.write_chunk(tmp_path, 1, [batch(1, ["https://a.example/2.jpg"])])
    assert found(tmp_path, lambda ix: datasetindex.host_query(ix, "a.example")) == [
        0,
        1,
    ]


def _hold_writer(folder: str, ready, release) -> None:
    index = datasetindex.open_index(Path(folder))
    writer = index.writer(heap_size=datasetindex.WRITER_HEAP, num_threads=1)
    ready.set()
    release.wait(30)
    writer.rollback()


def test_a_second_writer_waits_for_the_first_and_gives_up_naming_the_lock(tmp_path):
    datasetindex.write_chunk(tmp_path, 0, [batch(0, ["https://a.example/1.jpg"])])
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_writer, args=(str(tmp_path), ready, release))
    holder.start()
    try:
        assert ready.wait(30)
        started = time.monotonic()
        with pytest.raises(datasetindex.IndexBusy, match="locked"):
            datasetindex.write_chunk(
                tmp_path, 1, [batch(1, ["https://a.example/2.jpg"])], wait=1.0
            )
        assert time.monotonic() - started >= 1.0
    finally:
        release.set()
        holder.join(30)
    datasetindex.write_chunk(tmp_path, 1, [batch(1, ["https://a.example/2.jpg"])])
    assert found(tmp_path, lambda ix: datasetindex.host_query(ix, "a.example")) == [
        0,
        1,
    ]


def _image_batch(first: int, seeds: list[int]) -> RowBatch:
    import io

    from tests.images import drawing

    images = []
    for seed in seeds:
        out = io.BytesIO()
        drawing(seed, (320, 240)).save(out, "JPEG", quality=90)
        images.append(out.getvalue())
    urls = [f"https://img.example/{first + i}.jpg" for i in range(len(seeds))]
    return RowBatch.of(
        first_row=first, urls=urls, captions=[None] * len(seeds), images=images
    )


@pytest.mark.parametrize("hnsw_min", [1_000_000, 1])
def test_the_image_index_answers_as_the_exact_scan_and_scans_what_it_lacks(
    tmp_path, hnsw_min
):
    from tests.images import drawing
    from workers.engine import descriptor, perceptual

    model = descriptor.model()
    datasetindex.write_chunk(
        tmp_path, 0, [_image_batch(0, [10, 11, 12])], embed=model.embed
    )
    datasetindex.write_chunk(
        tmp_path, 1, [_image_batch(3, [13, 14])], embed=model.embed
    )
    query = model.embed([drawing(13, (320, 240)).crop((20, 10, 300, 230))])
    before = datasetindex.nearest(tmp_path, query, k=3, min_similarity=-1.0)
    assert before[0][0] == 3 and before[0][1] > 0.9
    assert not datasetindex.image_index_current(tmp_path)

    # What a builder killed mid-way left does not stop the next one.
    for stale in ("images.7.1.tmp/descriptors", f"images.{os.getpid()}.old/pdq"):
        (tmp_path / stale).mkdir(parents=True)
        (tmp_path / stale / "vectors.npy").write_bytes(b"partial")
    built = datasetindex.build_image_index(tmp_path, hnsw_min=hnsw_min)
    assert sorted(p.name for p in tmp_path.glob("images*")) == ["images"]
    assert built == {
        "vectors": 5,
        "hashes": 5,
        "kind": "hnsw" if hnsw_min == 1 else "flat",
    }
    assert datasetindex.image_index_current(tmp_path)
    after = datasetindex.nearest(tmp_path, query, k=3, min_similarity=-1.0)
    assert [r for r, _ in after] == [r for r, _ in before]
    assert [s for _, s in after] == pytest.approx([s for _, s in before], abs=1e-3)

    # A recompressed copy is found by its PDQ hash, its own row first.
    copy = perceptual.prepare(drawing(11, (320, 240)).resize((300, 225)))
    near = datasetindex.near_hashes(
        tmp_path, perceptual.query_pdq(copy).values(), radius=40
    )
    assert near[0][0] == 1 and near[0][1] <= 20

    # Chunk 1 written again with other pictures: its file is no longer the
    # one the index holds, so it is scanned, and the old rows are not kept.
    datasetindex.write_chunk(
        tmp_path, 1, [_image_batch(3, [20, 21])], embed=model.embed
    )
    assert not datasetindex.image_index_current(tmp_path)
    query20 = model.embed([drawing(20, (320, 240))])
    assert datasetindex.nearest(tmp_path, query20, k=1, min_similarity=0.9)[0][0] == 3
    assert datasetindex.nearest(tmp_path, query, k=5, min_similarity=0.9) == []
    gone = perceptual.query_pdq(perceptual.prepare(drawing(14, (320, 240)))).values()
    assert datasetindex.near_hashes(tmp_path, gone, radius=10) == []
    datasetindex.build_image_index(tmp_path, hnsw_min=hnsw_min)
    assert datasetindex.image_index_current(tmp_path)
    assert datasetindex.nearest(tmp_path, query, k=5, min_similarity=0.9) == []
    assert datasetindex.nearest(tmp_path, query20, k=1, min_similarity=0.9)[0][0] == 3


def test_a_word_in_many_rows_is_paged_by_walking_the_chunks_in_row_order(
    tmp_path, monkeypatch
):
    # Chunks written out of order, a few rows each: "tree" in most rows.
    def rows(first: int, n: int) -> RowBatch:
        return batch(
            first,
            [f"https://h{i % 3}.example/{i}.jpg" for i in range(first, first + n)],
            [
                "tree" if i % 4 else f"tree house {i}" if i % 8 else "sky"
                for i in range(first, first + n)
            ],
        )

    for chunk in (2, 0, 3, 1):
        datasetindex.write_chunk(tmp_path, chunk, [rows(chunk * 10, 10)])
    index = datasetindex.open_index(tmp_path)
    index.reload()

    def pages(text: str, walk: bool) -> list[tuple[int, list[int]]]:
        query = datasetindex.text_query(index, text)
        estimate = datasetindex.text_estimate(index, text)
        out = []
        for offset in range(0, 45, 7):
            page = datasetindex.search(
                index,
                query,
                offset=offset,
                limit=7,
                estimate=estimate if walk else None,
            )
            out.append((page.total, [h.row for h in page.hits]))
        return out

    expected = pages("tree", walk=False)
    assert expected[0] == (35, [1, 2, 3, 4, 5, 6, 7])
    monkeypatch.setattr(datasetindex, "WALK_FROM", 2)
    assert datasetindex.text_estimate(index, "tree") == datasetindex.Estimate(35, True)
    assert pages("tree", walk=True) == expected
    host = datasetindex.host_query(index, "h1.example")
    walked = datasetindex.search(
        index,
        host,
        offset=3,
        limit=5,
        estimate=datasetindex.host_estimate(index, "h1.example"),
    )
    assert (walked.total, [h.row for h in walked.hits]) == (13, [10, 13, 16, 19, 22])
    # A phrase's estimate is an upper bound: it is counted whole.
    assert datasetindex.text_estimate(index, "tree house").exact is False
    assert pages("tree house", walk=True) == pages("tree house", walk=False)
    assert pages("tree house", walk=False)[0][0] == 5

    # A chunk written again leaves deleted documents until tantivy merges
    # them away; then the count is no longer the term's frequency and the
    # search counts exactly. Either way each row comes once.
    datasetindex.write_chunk(tmp_path, 1, [rows(10, 10)])
    index.reload()
    assert pages("tree", walk=True) == expected


def test_an_image_index_of_another_format_is_scanned_past_and_rebuilt(tmp_path):
    """An image index an older version wrote (descriptor index format 1) is
    not current: searches scan the chunk files meanwhile, and the next
    build replaces it."""
    from tests.images import drawing
    from workers.engine import descriptor

    model = descriptor.model()
    datasetindex.write_chunk(
        tmp_path, 0, [_image_batch(0, [30, 31, 32])], embed=model.embed
    )
    datasetindex.build_image_index(tmp_path)
    assert datasetindex.image_index_current(tmp_path)
    (tmp_path / "images" / "descriptors" / "format").unlink()  # as format 1 was
    marker = tmp_path / "images" / "built.json"
    later = marker.stat().st_mtime_ns + 10**9
    os.utime(marker, ns=(later, later))  # a new stamp: read again
    assert not datasetindex.image_index_current(tmp_path)
    query = model.embed([drawing(31, (320, 240))])
    assert datasetindex.nearest(tmp_path, query, k=1, min_similarity=0.9)[0][0] == 1
    datasetindex.build_image_index(tmp_path)
    assert datasetindex.image_index_current(tmp_path)
    assert datasetindex.nearest(tmp_path, query, k=1, min_similarity=0.9)[0][0] == 1
