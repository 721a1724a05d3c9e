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
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tantivy
from PIL import Image

from . import perceptual
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


@dataclass(frozen=True)
class Estimate:
    """How many rows a query matches at most, from the term dictionary
    (microseconds whatever the index's size), and whether that is exact."""

    count: int
    exact: bool


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
    thumbnail, a descriptor vector and a PDQ hash (`vectors/<chunk>.npz`,
    written whole before the commit) for the search by image."""
    docs = []
    found = ImageRows.empty()
    for batch in batches:
        thumbs: dict[int, bytes] = {}
        if batch.images is not None and embed is not None:
            more, thumbs = image_rows(batch, embed)
            found.rows += more.rows
            found.vectors += more.vectors
            found.pdq += more.pdq
            found.quality += more.quality
        docs += documents(chunk, batch, thumbs)
    if embed is not None:
        _write_vectors(folder, chunk, found)
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


# From this many matches on (by the estimate), a search walks the chunks in
# row order and stops once its page is full, instead of ordering and counting
# every match (bench/dataset_search.py: a word in most rows took 120 ms at
# 10M rows that way, and grows with the index; walking, about a millisecond
# a chunk visited).
WALK_FROM = 100_000


def _no_deletes(searcher: tantivy.Searcher) -> bool:
    """Whether no document is deleted but not yet merged away: then a
    term's document frequency is its exact count."""
    held = sum(n for _, n in searcher.terms_with_prefix("chunk", ""))
    return held == searcher.num_docs


def text_estimate(index: tantivy.Index, text: str) -> Estimate:
    """At most how many rows `text_query(text)` matches: the document
    frequency of its rarest word; exact for one word when nothing is
    deleted."""
    searcher = index.searcher()
    words = word_texts([text])[0].split()
    count = min((searcher.doc_freq("words", w) for w in words), default=0)
    return Estimate(count, len(words) == 1 and _no_deletes(searcher))


def host_estimate(index: tantivy.Index, host: str) -> Estimate:
    searcher = index.searcher()
    return Estimate(searcher.doc_freq("hosts", host), _no_deletes(searcher))


def search(
    index: tantivy.Index,
    query: tantivy.Query,
    *,
    offset: int = 0,
    limit: int = 50,
    estimate: Estimate | None = None,
) -> Page:
    """The matching rows in row order, `limit` from `offset`, and how many
    match in all. With an exact `estimate` of at least WALK_FROM matches,
    the chunks are walked in row order (`_walk`) and the total is the
    estimate's. (A phrase's estimate is only an upper bound: it is ordered
    and counted whole, its cost following its rarest word.)"""
    searcher = index.searcher()
    if estimate is not None and estimate.exact and estimate.count >= WALK_FROM:
        return _walk(searcher, index, query, offset, limit, estimate)
    result = searcher.search(
        query,
        limit=max(limit, 1),
        count=True,
        order_by_field="row",
        offset=offset,
        order=tantivy.Order.Asc,
    )
    hits = [_hit(searcher, address) for _, address in result.hits] if limit else []
    return Page(total=result.count or 0, hits=hits)


def _hit(searcher: tantivy.Searcher, address: tantivy.DocAddress) -> Hit:
    doc = searcher.doc(address)
    source = doc.get_first("source")
    caption = doc.get_first("caption")
    thumb = doc.get_first("thumb")
    return Hit(
        row=doc.get_first("row"),
        url=bytes(source).decode("utf-8", "replace") if source else "",
        caption=bytes(caption).decode("utf-8", "replace") if caption else "",
        thumb=bytes(thumb) if thumb else b"",
    )


def _walk(
    searcher: tantivy.Searcher,
    index: tantivy.Index,
    query: tantivy.Query,
    offset: int,
    limit: int,
    estimate: Estimate,
) -> Page:
    """A page of a query matching many rows: chunk by chunk in row order
    (a chunk holds consecutive rows, later chunks later rows), each one's
    matches ordered and counted alone, until the page is full. The cost
    follows the chunks visited (offset / matches per chunk + 1), not the
    index's size."""
    chunks = sorted(int(t) for t, _ in searcher.terms_with_prefix("chunk", ""))
    hits: list[Hit] = []
    skip = offset
    for chunk in chunks:
        if len(hits) >= limit:
            break
        within = tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Must, query),
                (
                    tantivy.Occur.Must,
                    tantivy.Query.term_query(index.schema, "chunk", str(chunk)),
                ),
            ]
        )
        want = limit - len(hits)
        result = searcher.search(
            within,
            limit=want,
            count=True,
            order_by_field="row",
            offset=skip,
            order=tantivy.Order.Asc,
        )
        found = result.count or 0
        if skip >= found:
            skip -= found
            continue
        skip = 0
        hits += [_hit(searcher, address) for _, address in result.hits[:want]]
    return Page(total=estimate.count, hits=hits)


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


@dataclass
class ImageRows:
    """What a chunk's rows that carry their image keep for the search by
    image (`vectors/<chunk>.npz`): row numbers, descriptor vectors
    (float16), PDQ hashes (32 bytes) and their quality (0-100)."""

    rows: list[int]
    vectors: list[np.ndarray]
    pdq: list[bytes]
    quality: list[int]

    @classmethod
    def empty(cls) -> ImageRows:
        return cls([], [], [], [])


def image_rows(
    batch: RowBatch, embed: Callable[[list[Image.Image]], np.ndarray]
) -> tuple[ImageRows, dict[int, bytes]]:
    """The batch's rows that carry a decodable image: their numbers,
    descriptor vectors, PDQ hashes (of the image as the registry prepares
    it) and thumbnails. An image that does not decode is left out (the row
    is still indexed by URL and caption)."""
    found = ImageRows.empty()
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
        digest, quality = perceptual.pdq_variants(
            perceptual.prepare(image), ["canonical"]
        )["canonical"]
        found.rows.append(row)
        found.pdq.append(digest)
        found.quality.append(quality)
        images.append(image)
        thumbs[row] = thumbnail(image)
    if images:
        found.vectors.append(embed(images).astype(np.float16))
    return found, thumbs


def _write_vectors(folder: Path, chunk: int, found: ImageRows) -> None:
    target = folder / "vectors" / f"{chunk}.npz"
    target.parent.mkdir(parents=True, exist_ok=True)
    if not found.rows:
        target.unlink(missing_ok=True)
        return
    part = target.with_suffix(f".{os.getpid()}.tmp")
    with part.open("wb") as f:
        np.savez(
            f,
            rows=np.array(found.rows, np.int64),
            vectors=np.concatenate(found.vectors),
            pdq=np.frombuffer(b"".join(found.pdq), np.uint8).reshape(-1, 32),
            pdq_quality=np.array(found.quality, np.uint8),
        )
    os.replace(part, target)


# --- The search by image ----------------------------------------------------
#
# Each indexed chunk writes its image rows to `vectors/<chunk>.npz`. Once a
# dataset is indexed, `build_image_index` gathers them into `images/`: a
# faiss index of the descriptors (workers.engine.descindex: exact below
# MATCH_DESCRIPTOR_IVFPQ_MIN vectors, then IVF-PQ with exact re-ranking)
# and a Hamming index of the PDQ hashes
# (workers.engine.hamming), both memory-mapped, with `built.json` naming the
# chunk files (their size, time and rows) they hold. A search asks the
# built index, leaving out rows of chunk files changed since, and scans
# exactly whatever chunk file it does not hold (a dataset still indexing, a
# chunk written again), so answers are complete and current before, during
# and after a build.

IMAGES_DIR = "images"
PDQ_MAX_RADIUS = 64  # the most a search by hash may ask (the index's limit)
PDQ_MIN_QUALITY = 50  # PDQ below this (flat images) is left out, as matching does


def _chunk_files(folder: Path) -> dict[str, list[int]]:
    out = {}
    for path in sorted((folder / "vectors").glob("*.npz")):
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        out[path.name] = [stat.st_size, stat.st_mtime_ns]
    return out


@dataclass
class ImageIndex:
    descriptors: Any  # descindex.DescriptorIndex | None
    hashes: Any  # hamming.HammingIndex | None
    files: dict[str, list[int]]  # chunk file -> [size, mtime_ns] it holds
    spans: dict[str, list[int]]  # chunk file -> [first, last] row it holds

    def stale(self, now: dict[str, list[int]]) -> list[list[int]]:
        """Row spans of the chunk files it holds that changed or went."""
        return [
            self.spans[name]
            for name, stat in self.files.items()
            if now.get(name) != stat and name in self.spans
        ]


def _fresh(row: int, stale: list[list[int]]) -> bool:
    return not any(first <= row <= last for first, last in stale)


_built: dict[str, tuple[int, ImageIndex]] = {}


def _load_built(folder: Path) -> ImageIndex | None:
    """The dataset's built image index (kept per process while its
    built.json is unchanged), or None."""
    from .descindex import DescriptorIndex
    from .hamming import HammingIndex

    marker = folder / IMAGES_DIR / "built.json"
    try:
        stamp = marker.stat().st_mtime_ns
    except FileNotFoundError:
        return None
    key = str(folder.resolve())
    cached = _built.get(key)
    if cached and cached[0] == stamp:
        return cached[1]
    try:
        meta = json.loads(marker.read_text())
        base = folder / IMAGES_DIR
        built = ImageIndex(
            descriptors=DescriptorIndex.load(base / "descriptors")
            if (base / "descriptors" / "kind").exists()
            else None,
            hashes=HammingIndex.load(base / "pdq")
            if (base / "pdq" / "hamming.json").exists()
            else None,
            files=meta["files"],
            spans=meta["spans"],
        )
    except (FileNotFoundError, ValueError, KeyError):
        return None  # replaced while being read: scan exactly this time
    _built[key] = (stamp, built)
    return built


def _uncovered(
    folder: Path, built: ImageIndex | None, now: dict[str, list[int]]
) -> list[Path]:
    """The chunk files (`now`: _chunk_files) the built index does not hold."""
    held = built.files if built else {}
    return [
        folder / "vectors" / name
        for name, stat in now.items()
        if held.get(name) != stat
    ]


def build_image_index(
    folder: Path,
    *,
    hnsw_min: int | None = None,
    ivfpq_min: int | None = None,
    ivf_codes: str | None = None,
) -> dict[str, int | str]:
    """Gather the dataset's chunk files into `images/` (above) and return
    what was built. Vectors, owners and hashes are written straight into
    their files (memory-mapped), so the build's memory is faiss's
    training sample and one chunk file at a time (flat and HNSW indexes,
    below 1M vectors, hold their float32 vectors: 1 KB a row). The new
    folder replaces the old one by renames; a search in between scans."""
    from .arrays import ArrayFiles
    from .descindex import DEFAULT_HNSW_MIN, DEFAULT_IVFPQ_MIN, DescriptorIndex
    from .hamming import HammingIndex

    # What a builder killed mid-way left (one builds at a time: the
    # caller's lock, optout.services.dataset_images).
    for stale in [
        *folder.glob(f"{IMAGES_DIR}.*.tmp"),
        *folder.glob(f"{IMAGES_DIR}.*.old"),
    ]:
        shutil.rmtree(stale, ignore_errors=True)
    files = _chunk_files(folder)
    paths = [folder / "vectors" / name for name in files]
    total = good = 0
    dim = 0
    for path in paths:
        with np.load(path) as data:
            total += len(data["rows"])
            dim = dim or int(data["vectors"].shape[1])
            if "pdq_quality" in data:
                good += int((data["pdq_quality"] >= PDQ_MIN_QUALITY).sum())
    work = folder / f"{IMAGES_DIR}.{os.getpid()}.{time.monotonic_ns()}.tmp"
    shutil.rmtree(work, ignore_errors=True)
    out = ArrayFiles(work / "descriptors")
    vectors = out.empty("vectors", (total, max(dim, 1)), np.float16)
    owners = out.empty("owners", total, np.int64)
    regions = out.empty("regions", total, np.int8)
    hashes = np.zeros((good, 32), np.uint8)
    hash_rows = np.zeros(good, np.int64)
    spans: dict[str, list[int]] = {}
    at = hat = 0
    for path in paths:
        with np.load(path) as data:
            n = len(data["rows"])
            if n:
                spans[path.name] = [int(data["rows"].min()), int(data["rows"].max())]
            vectors[at : at + n] = data["vectors"]
            owners[at : at + n] = data["rows"]
            if "pdq" in data:
                keep = data["pdq_quality"] >= PDQ_MIN_QUALITY
                m = int(keep.sum())
                hashes[hat : hat + m] = data["pdq"][keep]
                hash_rows[hat : hat + m] = data["rows"][keep]
                hat += m
            at += n
    regions[:] = 0
    built: dict[str, int | str] = {"vectors": total, "hashes": good, "kind": ""}
    if total:
        descriptors = DescriptorIndex.from_arrays(
            vectors,
            owners,
            regions,
            hnsw_min=DEFAULT_HNSW_MIN if hnsw_min is None else hnsw_min,
            ivfpq_min=DEFAULT_IVFPQ_MIN if ivfpq_min is None else ivfpq_min,
            ivf_codes=ivf_codes,
        )
        descriptors.save(work / "descriptors")
        built["kind"] = descriptors.kind
    else:
        shutil.rmtree(work / "descriptors", ignore_errors=True)
    if good:
        words = _pdq_words(hashes)
        HammingIndex.build(
            words, hash_rows, max_radius=PDQ_MAX_RADIUS, out=ArrayFiles(work / "pdq")
        ).save(work / "pdq")
    work.mkdir(parents=True, exist_ok=True)
    (work / "built.json").write_text(
        json.dumps({"files": files, "spans": spans, **built})
    )
    target = folder / IMAGES_DIR
    old = folder / f"{IMAGES_DIR}.{os.getpid()}.old"
    if target.exists():
        os.replace(target, old)
    os.replace(work, target)
    shutil.rmtree(old, ignore_errors=True)
    return built


def _pdq_words(hashes: np.ndarray) -> np.ndarray:
    """(N, 32) uint8 PDQ hashes -> (N, 4) uint64 words as hamming.pack_bytes
    packs them (big-endian), without a bytes object per row."""
    return np.ascontiguousarray(hashes, np.uint8).view(">u8").astype(np.uint64)


def image_index_current(folder: Path) -> bool:
    """Whether the built image index holds every chunk file as it is now
    (or there is nothing to hold)."""
    files = _chunk_files(folder)
    if not files:
        return True
    built = _load_built(folder)
    return built is not None and built.files == files


def nearest(
    folder: Path, vectors: np.ndarray, *, k: int, min_similarity: float
) -> list[tuple[int, float]]:
    """The k rows whose image is nearest to the unit descriptor `vectors`
    (one, or several: the query image and its regions, each row scored by
    its best), cosine at least `min_similarity`, nearest first: the built
    index's answer (its similarities exact) and an exact scan of the chunk
    files it does not hold."""
    query = np.ascontiguousarray(np.atleast_2d(vectors), np.float32)
    best: dict[int, float] = {}

    def keep(row: int, sim: float) -> None:
        if sim >= min_similarity and sim > best.get(row, -2.0):
            best[row] = sim

    built = _load_built(folder)
    now = _chunk_files(folder)
    if built is not None and built.descriptors is not None:
        stale = built.stale(now)
        if built.descriptors.dim == query.shape[1]:
            for found in built.descriptors.search(
                query, k, min_similarity=min_similarity
            ):
                for row, sim, _ in found:
                    if _fresh(row, stale):
                        keep(row, sim)
    for path in _uncovered(folder, built, now):
        try:
            with np.load(path) as data:
                rows, stored = data["rows"], data["vectors"]
        except FileNotFoundError:
            continue
        if not len(rows) or stored.shape[1] != query.shape[1]:
            continue
        sims = (stored.astype(np.float32) @ query.T).max(axis=1)
        picked = np.flatnonzero(sims >= min_similarity)
        if picked.size > k:
            picked = picked[np.argpartition(-sims[picked], k - 1)[:k]]
        for j in picked:
            keep(int(rows[j]), float(sims[j]))
    ranked = sorted(best.items(), key=lambda item: (-item[1], item[0]))
    return ranked[:k]


def near_hashes(
    folder: Path, hashes: Iterable[bytes], *, radius: int
) -> list[tuple[int, int]]:
    """The rows whose image's PDQ is within `radius` bits of one of
    `hashes` (32 bytes each): (row, distance), nearest first."""
    from .hamming import brute_force, pack_bytes

    queries = [bytes(h) for h in hashes]
    radius = max(0, min(int(radius), PDQ_MAX_RADIUS))
    if not queries:
        return []
    words = pack_bytes(queries, width=32)
    best: dict[int, int] = {}

    def keep(
        found: tuple[np.ndarray, np.ndarray, np.ndarray], stale: list[list[int]]
    ) -> None:
        for row, distance in zip(found[1].tolist(), found[2].tolist(), strict=True):
            if distance < best.get(row, 257) and _fresh(row, stale):
                best[row] = distance

    built = _load_built(folder)
    now = _chunk_files(folder)
    if built is not None and built.hashes is not None:
        keep(built.hashes.search(words, radius), built.stale(now))
    for path in _uncovered(folder, built, now):
        try:
            with np.load(path) as data:
                if "pdq" not in data:
                    continue
                good = data["pdq_quality"] >= PDQ_MIN_QUALITY
                rows, stored = data["rows"][good], data["pdq"][good]
        except FileNotFoundError:
            continue
        if len(rows):
            keep(
                brute_force(
                    _pdq_words(stored),
                    rows,
                    words,
                    radius,
                ),
                [],
            )
    return sorted(best.items(), key=lambda item: (item[1], item[0]))
