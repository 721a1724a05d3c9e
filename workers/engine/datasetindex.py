"""The dataset search index: which rows of the public training sets the
registry knows hold an artist's work ("have I been trained?").

One tantivy index per dataset (a folder). A dataset is indexed chunk by chunk
(the manifest readers' chunks, so every layout a job reads can be indexed);
each chunk is one writer commit, so one tantivy segment, which tantivy's
merge policy later merges. A commit is atomic: a worker killed while
indexing leaves the index as it was before the chunk, and a chunk indexed
again (its message delivered twice, or its worker died after the commit)
first deletes its own documents by its `chunk` term, so no row is ever
held twice. Only one writer may hold a dataset's index at a time (tantivy's
lock file, released by the OS when its process dies): chunks read and
prepare their rows in parallel and wait for the lock to write.

A row's document:
- `chunk` (its number as a raw term) and `row` (u64, fast): the chunk that
  wrote it and the row's number in the dataset (numbered across parts, as
  reports number them);
- `words`: the caption in the word text of style matching (workers.engine.
  style.word_texts: NFKC, case-folded, one space between words, each
  character of a script written without spaces its own word), tokenized on
  white space with positions, so a name is found as consecutive whole words
  with a phrase query: "Greg Rutkowski" finds "greg_RUTKOWSKI," but
  "Ito" not "Itomaki";
- `hosts`: the normalized host and each parent domain under its public
  suffix's first label ("cdn.bob-art.example" is found by "bob-art.example");
- `url`: the URL's key (workers.engine.urlindex.url_key: the normalized
  URL without scheme and leading "www."), raw, for exact and prefix search
  with the rules of URL and prefix claims (a regular expression anchored
  at the start, run by tantivy over its term dictionary, an FST: the cost
  follows the matching terms, not the index's size);
- stored only: the URL and the caption as the dataset wrote them (caption cut
  at CAPTION_STORED characters).

Rows whose URL does not normalize are indexed by caption only (their URL is
stored as given). Django-free: the registry's services and tasks call it.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import tantivy
from PIL import Image

from .images import ImageRejected, decode_image
from .style import word_texts
from .types import RowBatch
from .urlindex import prepare_urls, url_key

SCHEMA_VERSION = 1
CAPTION_STORED = 1_000
THUMB_SIDE = 256  # a row's thumbnail: the page shows it, image search verifies on it
THUMB_QUALITY = 80
WRITER_HEAP = 50_000_000  # bytes; tantivy's floor is 15 MB per thread
# Rust regex meta characters: each is escaped with a backslash.
_REGEX_META = set("\\.+*?()|[]{}^$#&-~")


class IndexBusy(RuntimeError):
    """Another process held the dataset's index writer for too long."""


@dataclass(frozen=True)
class Hit:
    row: int
    url: str
    caption: str
    thumb: bytes = b""  # JPEG, rows that carried their image
    similarity: float | None = None  # image searches: the descriptor's cosine


@dataclass(frozen=True)
class Page:
    total: int
    hits: list[Hit]


def schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field(
        "chunk", stored=False, tokenizer_name="raw", index_option="basic"
    )
    builder.add_unsigned_field("row", stored=True, indexed=True, fast=True)
    builder.add_text_field(
        "words", stored=False, tokenizer_name="whitespace", index_option="position"
    )
    builder.add_text_field(
        "hosts", stored=False, tokenizer_name="raw", index_option="basic"
    )
    builder.add_text_field(
        "url", stored=False, tokenizer_name="raw", index_option="basic"
    )
    builder.add_bytes_field("source", stored=True, indexed=False)
    builder.add_bytes_field("caption", stored=True, indexed=False)
    builder.add_bytes_field("thumb", stored=True, indexed=False)
    return builder.build()


def open_index(folder: Path) -> tantivy.Index:
    """The dataset's index in `folder`, created empty if it is not there."""
    folder.mkdir(parents=True, exist_ok=True)
    return tantivy.Index(schema(), path=str(folder), reuse=True)


def host_terms(host: str) -> list[str]:
    """The host and its parent domains of at least two labels:
    "a.cdn.bob-art.example" -> itself, "cdn.bob-art.example", "bob-art.example".
    "www." is one more subdomain, so the bare domain finds it."""
    labels = host.split(".")
    return [".".join(labels[i:]) for i in range(max(1, len(labels) - 1))]


def documents(
    chunk: int, batch: RowBatch, thumbs: dict[int, bytes] | None = None
) -> Iterator[tantivy.Document]:
    """One document per row of the batch. URLs are normalized and keyed for
    the whole batch at once (urlindex.prepare_urls, as matching does)."""
    captions = [c if isinstance(c, str) else None for c in batch.captions]
    words = word_texts(captions)
    prepared = prepare_urls(
        [u if isinstance(u, str) else None for u in batch.urls], batch.first_row
    )
    keyed: dict[int, tuple[str, str]] = {}  # row in batch -> (key, host)
    for k, i in enumerate(prepared.rows.tolist()):
        key = prepared.key(k).decode("ascii")
        host = prepared.href(
            k, int(prepared.host_start[k]), int(prepared.host_end[k])
        ).decode("ascii")
        keyed[i] = (key, host)
    for i, url in enumerate(batch.urls):
        doc = tantivy.Document()
        doc.add_text("chunk", str(chunk))
        doc.add_unsigned("row", batch.first_row + i)
        doc.add_text("words", words[i])
        if isinstance(url, str) and url:
            doc.add_bytes("source", url.encode("utf-8", "replace"))
        if i in keyed:
            key, host = keyed[i]
            doc.add_text("url", key)
            for term in host_terms(host):
                doc.add_text("hosts", term)
        caption = captions[i]
        if caption:
            text = caption[:CAPTION_STORED]
            doc.add_bytes("caption", text.encode("utf-8", "replace"))
        thumb = (thumbs or {}).get(batch.first_row + i)
        if thumb:
            doc.add_bytes("thumb", thumb)
        yield doc


def write_chunk(
    folder: Path,
    chunk: int,
    batches: Iterable[RowBatch],
    *,
    wait: float = 600.0,
    still_ours: object = None,
    embed: Callable[[list[Image.Image]], np.ndarray] | None = None,
) -> int:
    """Replace the chunk's documents with the rows of `batches`, in one
    commit; returns the rows written. Documents are prepared before the
    writer lock is taken. Raises IndexBusy when the lock stays taken for
    `wait` seconds. With `embed` (images -> unit descriptor vectors), rows
    that carry their image (tar shards, Parquet with images) also get a
    thumbnail and a vector (`vectors/<chunk>.npz`, written whole before the
    commit) for the search by image."""
    docs = []
    rows: list[int] = []
    vectors: list[np.ndarray] = []
    for batch in batches:
        thumbs: dict[int, bytes] = {}
        if batch.images is not None and embed is not None:
            found_rows, found_vectors, thumbs = image_rows(batch, embed)
            rows += found_rows
            vectors.append(found_vectors)
        docs += documents(chunk, batch, thumbs)
    if embed is not None:
        _write_vectors(folder, chunk, rows, vectors)
    index = open_index(folder)
    deadline = time.monotonic() + wait
    while True:
        try:
            writer = index.writer(heap_size=WRITER_HEAP, num_threads=1)
            break
        except ValueError as exc:
            if "lock" not in str(exc).lower():
                raise
            if time.monotonic() > deadline:
                raise IndexBusy(f"the index writer stayed locked: {exc}") from exc
            time.sleep(0.2)
    try:
        writer.delete_documents_by_term("chunk", str(chunk))
        for doc in docs:
            writer.add_document(doc)
        if callable(still_ours) and not still_ours():
            writer.rollback()
            return 0
        writer.commit()
        writer.wait_merging_threads()
    except BaseException:
        # Nothing of the chunk is kept: the index stays as it was.
        try:
            writer.rollback()
        except Exception:  # noqa: BLE001 - already consumed or closed
            pass
        raise
    return len(docs)


def _escape(text: str) -> str:
    return "".join("\\" + c if c in _REGEX_META else c for c in text)


def text_query(index: tantivy.Index, text: str) -> tantivy.Query:
    """Rows whose caption holds the words of `text`, consecutive and whole.
    Raises ValueError when `text` has no letter or digit."""
    words = word_texts([text])[0].split()
    if not words:
        raise ValueError("no letters or digits to search for")
    if len(words) == 1:
        return tantivy.Query.term_query(index.schema, "words", words[0])
    return tantivy.Query.phrase_query(index.schema, "words", words)


def host_query(index: tantivy.Index, host: str) -> tantivy.Query:
    """Rows on `host` (normalized) or any of its subdomains."""
    return tantivy.Query.term_query(index.schema, "hosts", host)


def prefix_query(index: tantivy.Index, prefix: str) -> tantivy.Query:
    """Rows a prefix claim on `prefix` (normalized) would cover: the URL
    itself and, at a path boundary, what lies under it; scheme and "www."
    do not matter (workers.engine.urlindex's rule). With a query string,
    only that URL."""
    key, _ = url_key(prefix)
    if "?" in key:
        pattern = _escape(key)
    elif key.endswith("/"):
        pattern = _escape(key) + ".*"
    else:
        pattern = _escape(key) + "([/?].*)?"
    return tantivy.Query.regex_query(index.schema, "url", pattern)


def url_query(index: tantivy.Index, href: str) -> tantivy.Query:
    """Rows whose URL is `href` (normalized), up to scheme and "www."."""
    return tantivy.Query.term_query(index.schema, "url", url_key(href)[0])


def search(
    index: tantivy.Index, query: tantivy.Query, *, offset: int = 0, limit: int = 50
) -> Page:
    """The matching rows in row order, `limit` from `offset`, and how many
    match in all."""
    searcher = index.searcher()
    result = searcher.search(
        query,
        limit=max(limit, 1),
        count=True,
        order_by_field="row",
        offset=offset,
        order=tantivy.Order.Asc,
    )
    hits = []
    if limit > 0:
        for _, address in result.hits:
            doc = searcher.doc(address)
            source = doc.get_first("source")
            caption = doc.get_first("caption")
            thumb = doc.get_first("thumb")
            hits.append(
                Hit(
                    row=doc.get_first("row"),
                    url=bytes(source).decode("utf-8", "replace") if source else "",
                    caption=bytes(caption).decode("utf-8", "replace")
                    if caption
                    else "",
                    thumb=bytes(thumb) if thumb else b"",
                )
            )
    return Page(total=result.count or 0, hits=hits)


def count(index: tantivy.Index, query: tantivy.Query) -> int:
    return index.searcher().search(query, limit=1, count=True).count or 0


def size_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def rows_query(index: tantivy.Index, rows: Iterable[int]) -> tantivy.Query:
    """These rows (by number)."""
    return tantivy.Query.term_set_query(index.schema, "row", sorted(set(rows)))


def covered(index: tantivy.Index, prefix: str, rows: Iterable[int]) -> set[int]:
    """Which of these rows a prefix claim on `prefix` covers."""
    rows = sorted(set(rows))
    if not rows:
        return set()
    query = tantivy.Query.boolean_query(
        [
            (tantivy.Occur.Must, prefix_query(index, prefix)),
            (tantivy.Occur.Must, rows_query(index, rows)),
        ]
    )
    return {hit.row for hit in search(index, query, limit=len(rows)).hits}


def thumbnail(image: Image.Image) -> bytes:
    """A JPEG of at most THUMB_SIDE pixels a side."""
    small = image.convert("RGB")
    small.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    small.save(out, "JPEG", quality=THUMB_QUALITY, optimize=True)
    return out.getvalue()


def image_rows(
    batch: RowBatch, embed: Callable[[list[Image.Image]], np.ndarray]
) -> tuple[list[int], np.ndarray, dict[int, bytes]]:
    """The batch's rows that carry a decodable image: their numbers, their
    descriptor vectors (float16) and thumbnails. An image that does not
    decode is left out (the row is still indexed by URL and caption)."""
    rows: list[int] = []
    images: list[Image.Image] = []
    thumbs: dict[int, bytes] = {}
    for i, data in enumerate(batch.images or []):
        if not data:
            continue
        try:
            image = decode_image(data, max_side=THUMB_SIDE * 2).image
        except (ImageRejected, OSError, ValueError):
            continue
        row = batch.first_row + i
        rows.append(row)
        images.append(image)
        thumbs[row] = thumbnail(image)
    vectors = embed(images) if images else np.zeros((0, 0), np.float32)
    return rows, vectors.astype(np.float16), thumbs


def _write_vectors(
    folder: Path, chunk: int, rows: list[int], vectors: list[np.ndarray]
) -> None:
    target = folder / "vectors" / f"{chunk}.npz"
    target.parent.mkdir(parents=True, exist_ok=True)
    if not rows:
        target.unlink(missing_ok=True)
        return
    stacked = np.concatenate([v for v in vectors if v.size])
    part = target.with_suffix(f".{os.getpid()}.tmp")
    with part.open("wb") as f:
        np.savez(f, rows=np.array(rows, np.int64), vectors=stacked)
    os.replace(part, target)


def nearest(
    folder: Path, vectors: np.ndarray, *, k: int, min_similarity: float
) -> list[tuple[int, float]]:
    """The k rows whose image is nearest to the unit descriptor `vectors`
    (one, or several: the query image and its regions, each row scored by
    its best), cosine at least `min_similarity`, nearest first: an exact
    scan of the dataset's vectors (256 float16 a row that carried its
    image)."""
    best: list[tuple[float, int]] = []
    query = np.atleast_2d(vectors.astype(np.float32))
    for path in sorted((folder / "vectors").glob("*.npz")):
        with np.load(path) as data:
            rows, stored = data["rows"], data["vectors"]
        if not len(rows) or stored.shape[1] != query.shape[1]:
            continue
        sims = (stored.astype(np.float32) @ query.T).max(axis=1)
        keep = np.flatnonzero(sims >= min_similarity)
        if keep.size > k:
            keep = keep[np.argpartition(-sims[keep], k - 1)[:k]]
        best += [(float(sims[j]), int(rows[j])) for j in keep]
        best = sorted(best, reverse=True)[:k]
    return [(row, sim) for sim, row in best]


def rows_with_similarity(
    index: tantivy.Index, ranked: list[tuple[int, float]]
) -> list[Hit]:
    """The rows of `ranked` (row, similarity) as hits, in that order."""
    if not ranked:
        return []
    by_row = {
        hit.row: hit
        for hit in search(
            index, rows_query(index, [r for r, _ in ranked]), limit=len(ranked)
        ).hits
    }
    return [
        replace(by_row[row], similarity=sim) for row, sim in ranked if row in by_row
    ]
