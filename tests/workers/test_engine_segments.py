"""Segments: a revision's view answers exactly what was enforced at it.

A random history of adds and drops of URL claims and images is written as a
base and deltas (then merged in both ways); every revision's view is matched
against the history's own answer.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
from pathlib import Path

import pytest

from workers.engine import segments as seg
from workers.engine.snapshot import RegistrySnapshot, Thresholds
from workers.engine.types import MatchKind, RowBatch

CLAIMS = range(1, 41)
IMAGES = range(1, 41)
RADIUS = Thresholds(phash=8, pdq=31)


def _url(ref: int) -> str:
    return f"https://art.example/{ref}.png"


def _sha(ref: int) -> bytes:
    return hashlib.sha256(str(ref).encode()).digest()


def _history(seed: int, revisions: int) -> list[tuple[int, int, int, int]]:
    """(space, ref, revision, op) for revisions 1..revisions, a few each."""
    rng = random.Random(seed)
    ops = []
    for revision in range(1, revisions + 1):
        for _ in range(rng.randint(1, 4)):
            space = rng.choice((seg.CLAIM, seg.IMAGE))
            ref = rng.choice(CLAIMS if space == seg.CLAIM else IMAGES)
            ops.append((space, ref, revision, rng.choice((seg.ADD, seg.DROP))))
    return ops


def _state(ops, revision: int) -> tuple[set[int], set[int]]:
    live: dict[tuple[int, int], int] = {}
    for space, ref, rev, op in ops:
        if rev <= revision:
            live[(space, ref)] = op
    claims = {ref for (space, ref), op in live.items() if space == 0 and op}
    images = {ref for (space, ref), op in live.items() if space == 1 and op}
    return claims, images


def _entries(claims, images, ops=()) -> seg.Entries:
    writer = seg.EntriesWriter()
    for ref in sorted(claims):
        writer.claim(ref, "url", _url(ref))
    for ref in sorted(images):
        writer.image(ref, sha256=_sha(ref))
    for op in ops:
        writer.op(*op)
    return writer.entries()


def _write(root: Path, entries, kind, first, last) -> dict:
    directory = seg.write_segment(
        root,
        entries,
        kind=kind,
        first=first,
        last=last,
        registry="r1",
        descriptor_version="",
        max_radius=RADIUS,
    )
    return json.loads((directory / "segment.json").read_text())


def _delta(root: Path, ops, first: int, last: int) -> dict:
    mine = [o for o in ops if first < o[2] <= last]
    added_claims = {r for s, r, _, op in mine if s == 0 and op}
    added_images = {r for s, r, _, op in mine if s == 1 and op}
    return _write(
        root, _entries(added_claims, added_images, mine), "delta", first, last
    )


def _batch(rows: int) -> RowBatch:
    return RowBatch(
        first_row=0,
        keys=[None] * rows,
        urls=[None] * rows,
        captions=[None] * rows,
        sha256=[None] * rows,
        md5=[None] * rows,
        phash=[None] * rows,
        pdq=[None] * rows,
    )


def _matched(view) -> tuple[set[int], set[int]]:
    batch = _batch(len(CLAIMS) + len(IMAGES))
    for i, ref in enumerate(CLAIMS):
        batch.urls[i] = _url(ref)
    for i, ref in enumerate(IMAGES):
        batch.sha256[len(CLAIMS) + i] = _sha(ref)
    matches, problems = view.match(batch, RADIUS)
    assert not problems
    return (
        {m.ref for m in matches if m.kind is MatchKind.URL},
        {m.ref for m in matches if m.kind is MatchKind.SHA256},
    )


def _view(root: Path, metas: list[dict], revision: int) -> seg.SegmentView:
    chain = seg.choose_chain(metas, revision)
    return seg.SegmentView([seg.Segment(root / m["name"]) for m in chain], revision)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_revision_sees_exactly_its_own_state(tmp_path, seed):
    ops = _history(seed, 30)
    base = _write(tmp_path, _entries(*_state(ops, 5)), "base", 0, 5)
    # Deltas of uneven size, as a publisher that sometimes lags writes them.
    cuts = [5, 6, 9, 10, 14, 20, 21, 27, 30]
    metas = [base] + [_delta(tmp_path, ops, a, b) for a, b in itertools.pairwise(cuts)]
    for revision in range(5, 31):
        assert _matched(_view(tmp_path, metas, revision)) == _state(ops, revision), (
            revision
        )


def test_merges_keep_every_later_revision_exact(tmp_path):
    ops = _history(7, 24)
    base = _write(tmp_path, _entries(*_state(ops, 2)), "base", 0, 2)
    metas = [base] + [_delta(tmp_path, ops, r, r + 1) for r in range(2, 24)]
    by_name = {m["name"]: m for m in metas}

    def segments(chain):
        return [seg.Segment(tmp_path / m["name"]) for m in chain]

    merged_dir = seg.merge(tmp_path, segments(metas[1:12]), into=seg.MERGED)
    merged = json.loads((merged_dir / "segment.json").read_text())
    assert (merged["first"], merged["last"]) == (2, 13)
    metas.append(merged)
    for revision in range(13, 25):
        chain = seg.choose_chain(metas, revision)
        assert merged["name"] in {m["name"] for m in chain}
        assert _matched(_view(tmp_path, metas, revision)) == _state(ops, revision)
    # Revisions inside the merged range still read the small deltas.
    for revision in range(2, 13):
        chain = seg.choose_chain(metas, revision)
        assert merged["name"] not in {m["name"] for m in chain}
        assert _matched(_view(tmp_path, metas, revision)) == _state(ops, revision)

    chain = seg.choose_chain(metas, 20)
    new_base_dir = seg.merge(tmp_path, segments(chain), into=seg.BASE)
    new_base = json.loads((new_base_dir / "segment.json").read_text())
    assert (new_base["kind"], new_base["first"], new_base["last"]) == ("base", 0, 20)
    assert new_base["ops"] == 0
    # The chain's entries went through a spill folder, gone once written.
    assert not list(tmp_path.glob(".entries-*"))
    claims, images = _state(ops, 20)
    assert (new_base["claims"], new_base["images"]) == (len(claims), len(images))
    metas.append(new_base)
    for revision in range(20, 25):
        chain = seg.choose_chain(metas, revision)
        assert chain[0]["name"] == new_base["name"]
        assert _matched(_view(tmp_path, metas, revision)) == _state(ops, revision)
    assert by_name  # the small deltas are still there for old revisions


def test_a_claim_dropped_and_added_again_is_matched_once(tmp_path):
    ops = [(0, 1, 1, seg.ADD), (0, 1, 2, seg.DROP), (0, 1, 3, seg.ADD)]
    base = _write(tmp_path, _entries({1}, set()), "base", 0, 1)
    d1 = _delta(tmp_path, ops, 1, 2)
    d2 = _delta(tmp_path, ops, 2, 3)
    view = _view(tmp_path, [base, d1, d2], 3)
    batch = _batch(1)
    batch.urls[0] = _url(1)
    matches, _ = view.match(batch, RADIUS)
    assert [(m.kind, m.ref) for m in matches] == [(MatchKind.URL, 1)]
    assert _matched(_view(tmp_path, [base, d1, d2], 2))[0] == set()


def test_a_chain_with_a_gap_is_refused(tmp_path):
    ops = _history(3, 6)
    base = _write(tmp_path, _entries(*_state(ops, 2)), "base", 0, 2)
    later = _delta(tmp_path, ops, 4, 6)
    with pytest.raises(seg.SegmentsMissing, match="revisions 2 to 6"):
        seg.choose_chain([base, later], 6)
    with pytest.raises(seg.SegmentsMissing, match="no base"):
        seg.choose_chain([later], 6)


def test_a_segment_of_another_registry_is_not_mixed_in(tmp_path):
    base = _write(tmp_path, _entries({1}, set()), "base", 0, 1)
    other = seg.write_segment(
        tmp_path,
        _entries({2}, set(), [(0, 2, 2, seg.ADD)]),
        kind="delta",
        first=1,
        last=2,
        registry="r2",
        descriptor_version="",
        max_radius=RADIUS,
    )
    with pytest.raises(ValueError, match="registry 'r2', not 'r1'"):
        seg.SegmentView([seg.Segment(tmp_path / base["name"]), seg.Segment(other)], 2)


def test_a_damaged_file_is_named(tmp_path):
    meta = _write(tmp_path, _entries({1, 2}, {3}), "base", 0, 1)
    directory = tmp_path / meta["name"]
    assert seg.check_files(directory, meta) == ""
    path = directory / "claims.arrow"
    data = bytearray(path.read_bytes())
    data[10] ^= 0xFF
    path.write_bytes(bytes(data))
    assert seg.check_files(directory, meta) == (
        "claims.arrow does not have the SHA-256 its segment names"
    )


def test_one_part_view_answers_like_the_snapshot_it_wraps(tmp_path):
    """The refactored matcher over one part is RegistrySnapshot.match."""
    snapshot = RegistrySnapshot.build(
        revision=1,
        url_claims=[(1, _url(1))],
        sha256=[(2, _sha(2))],
        max_radius=RADIUS,
    )
    meta = _write(tmp_path, _entries({1}, {2}), "base", 0, 1)
    view = _view(tmp_path, [meta], 1)
    batch = _batch(3)
    batch.urls[0] = _url(1)
    batch.sha256[1] = _sha(2)
    batch.urls[2] = "not a url"
    assert view.match(batch, RADIUS) == snapshot.match(batch, RADIUS)


@pytest.mark.parametrize("flush_rows", [7, seg.FLUSH_ROWS])
def test_a_segment_indexes_arrow_columns_as_the_entry_by_entry_build_does(
    flush_rows, monkeypatch
):
    """snapshot_of builds from Arrow arrays; RegistrySnapshot.build from pairs.
    Both must index the same entries the same way (and skip the same bad ones),
    however many batches the writer made of them."""
    monkeypatch.setattr(seg, "FLUSH_ROWS", flush_rows)
    rng = random.Random(5)
    writer = seg.EntriesWriter()
    pairs: dict[str, list] = {"sha256": [], "md5": [], "phash": [], "pdq": []}
    low = []
    for ref in range(1, 301):
        sha = rng.randbytes(32) if ref % 7 else None
        md5 = rng.randbytes(16 if ref % 11 else 15)  # a wrong length is skipped
        phash = rng.randbytes(8)
        names = ["original", *rng.sample(["flip-h", "rot+1", "rot+3"], ref % 4)]
        pdq = {name: rng.randbytes(32) for name in names}
        writer.image(
            ref, sha256=sha, md5=md5, phash=phash, pdq=pdq, low_quality=ref % 5 == 0
        )
        for name, value in (("sha256", sha), ("md5", md5), ("phash", phash)):
            if value:
                pairs[name].append((ref, value))
        pairs["pdq"] += [(ref, name, value) for name, value in pdq.items()]
        if ref % 5 == 0:
            low.append(ref)
    claims: dict[str, list] = {"url": [], "prefix": [], "domain": [], "style": []}
    for ref in range(1, 201):
        kind = ("url", "url", "url", "prefix", "domain", "style")[ref % 6]
        value = {
            "url": f"https://art{ref % 9}.example/{ref}.png",
            "prefix": f"https://pre{ref}.example/gallery/",
            "domain": f"dom{ref}.example",
            "style": f"painter number {ref}",
        }[kind]
        writer.claim(ref, kind, value)
        claims[kind].append((ref, value))
    writer.claim(201, "url", "https://art1.example/1.png")  # a value shared
    claims["url"].append((201, "https://art1.example/1.png"))
    entries = writer.entries()
    assert entries.pdq.column("ref").num_chunks == (
        1 if flush_rows > 1000 else -(-entries.pdq.num_rows // 7)
    )
    arrays = seg.snapshot_of(
        entries,
        revision=1,
        registry="r",
        descriptor_version="",
        max_radius=RADIUS,
        descriptor_hnsw_min=10_000,
    )
    one_by_one = RegistrySnapshot.build(
        revision=1,
        max_radius=RADIUS,
        low_quality=low,
        registry="r",
        url_claims=claims["url"],
        prefix_claims=claims["prefix"],
        domain_claims=claims["domain"],
        style_names=claims["style"],
        **pairs,
    )
    assert arrays.pdq_variants == one_by_one.pdq_variants
    assert arrays.sizes() == one_by_one.sizes()
    assert arrays.low_quality.tolist() == one_by_one.low_quality.tolist() == low
    for name in ("sha256", "md5"):
        a, b = getattr(arrays, name), getattr(one_by_one, name)
        assert (a.keys == b.keys).all() and (a.ids == b.ids).all()
        assert (a.values == b.values).all()
    for name, table in arrays.urls.tables.items():
        other = one_by_one.urls.tables[name]
        for field in table.ARRAYS:
            assert (getattr(table, field) == getattr(other, field)).all(), field
    urls = [
        *(v for _, v in claims["url"][:20]),
        "https://pre3.example/gallery/x/y.jpg",
        "https://www.dom4.example/a.jpg",
        *(f"https://nowhere.example/{i}" for i in range(27)),
    ]
    probe = [v for _, v in pairs["sha256"][:50]]
    batch = RowBatch(
        first_row=0,
        keys=[None] * 50,
        urls=urls,
        captions=[None] * 50,
        sha256=probe,
        md5=[None] * 50,
        phash=[int.from_bytes(v, "big", signed=True) for _, v in pairs["phash"][:50]],
        pdq=[v for _, name, v in pairs["pdq"] if name != "original"][:50],
    )
    assert arrays.match(batch, RADIUS)[0] == one_by_one.match(batch, RADIUS)[0]
    found = arrays.match(batch, RADIUS)[0]
    assert len(found) >= 150 + 20 + 2
    assert {str(m.kind) for m in found} >= {"url", "prefix", "domain", "sha256"}


@pytest.mark.parametrize("ivfpq_min", [10**9, 0], ids=["hnsw", "ivfpq"])
def test_a_segments_descriptors_are_found_again_after_download(tmp_path, ivfpq_min):
    """Descriptors in a segment, as a worker reads them: the files checked,
    the index memory-mapped, each image found by its own region vector with
    its exact similarity, whichever index the size chose."""
    import numpy as np

    from workers.engine import descriptor

    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(400, 2, 256)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=-1, keepdims=True)
    writer = seg.EntriesWriter()
    for ref in range(1, 401):
        writer.image(
            ref, sha256=_sha(ref), descriptors=descriptor.pack(vectors[ref - 1])
        )
        writer.op(1, ref, 1, 1)
    directory = seg.write_segment(
        tmp_path,
        writer.entries(),
        kind="base",
        first=0,
        last=1,
        registry="r1",
        descriptor_version="test-model",
        max_radius=RADIUS,
        descriptor_hnsw_min=100,
        descriptor_ivfpq_min=ivfpq_min,
    )
    meta = json.loads((directory / "segment.json").read_text())
    assert seg.check_files(directory, meta) == ""
    index = seg.Segment(directory).snapshot.descriptors
    assert index.kind == ("ivfpq" if ivfpq_min == 0 else "hnsw")
    assert (directory / "index" / "descriptors" / f"{index.kind}.faiss").name in {
        Path(name).name for name in meta["files"]
    }
    queries = vectors[:50, 1]
    found = index.search(queries, k=3)
    assert [hits[0][0] for hits in found] == list(range(1, 51))
    for hits in found:
        assert hits[0][1] == pytest.approx(1.0, abs=2e-3)
        assert hits[0][2] == 1


@pytest.mark.parametrize("block_rows", [None, 7])
def test_a_segment_writes_its_index_one_part_at_a_time_as_the_snapshot_would(
    tmp_path, monkeypatch, block_rows
):
    """write_segment builds each index straight into its files, one before
    the next: its files are byte for byte what the whole snapshot, built in
    memory, saves, also when the builds copy and sort in blocks far smaller
    than the index (as at 80M images)."""
    import numpy as np

    from workers.engine import arrays, descriptor, hamming

    rng = random.Random(3)
    vectors = np.random.default_rng(3).normal(size=(60, 2, 256)).astype(np.float32)
    writer = seg.EntriesWriter()
    for ref in range(1, 61):
        names = ["original", *rng.sample(["flip-h", "rot+1", "rot+3"], ref % 4)]
        writer.image(
            ref,
            sha256=rng.randbytes(32),
            md5=rng.randbytes(16),
            phash=rng.randbytes(8),
            pdq={name: rng.randbytes(32) for name in names},
            low_quality=ref % 7 == 0,
            descriptors=descriptor.pack(vectors[ref - 1]),
        )
    for ref, (kind, value) in enumerate(
        [
            ("url", "https://a.example/1.png"),
            ("prefix", "https://b.example/gallery/"),
            ("domain", "c.example"),
            ("style", "painter of harbours"),
        ],
        start=1,
    ):
        writer.claim(ref, kind, value)
    # URL claims, several sharing a key (http and https, www. or not).
    for ref in range(10, 40):
        scheme = ("http", "https")[ref % 2]
        www = "www." if ref % 3 == 0 else ""
        writer.claim(ref, "url", f"{scheme}://{www}d.example/{ref % 11}.png")
    entries = writer.entries()
    options = {
        "registry": "r1",
        "descriptor_version": "test-model",
        "max_radius": RADIUS,
        "descriptor_hnsw_min": 10_000,
    }
    whole = seg.snapshot_of(entries, revision=4, **options)
    whole.save(tmp_path / "whole")
    if block_rows:  # the whole snapshot was built in one block
        monkeypatch.setattr(arrays, "BLOCK_ROWS", block_rows)
        monkeypatch.setattr(hamming, "BLOCK_ROWS", block_rows)
    directory = seg.write_segment(
        tmp_path / "segments", entries, kind="base", first=0, last=4, **options
    )

    def files(root: Path) -> dict[str, str]:
        return {
            str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }

    # The style automaton's pickle differs between two builds of the same
    # names; it is compared by what it finds instead.
    written = files(directory / "index")
    assert written.keys() == files(tmp_path / "whole").keys()
    automaton = "styles/spaced.automaton"
    assert {k: v for k, v in written.items() if k != automaton} == {
        k: v for k, v in files(tmp_path / "whole").items() if k != automaton
    }
    caption = ["a study after the painter of harbours, oil"]
    assert (
        [m.ref for m in seg.Segment(directory).snapshot.styles.match(caption, 0)]
        == [m.ref for m in whole.styles.match(caption, 0)]
        == [4]
    )
    assert "descriptors/vectors.npy" in written
    assert any(name.startswith("pdq/") for name in written)
    meta = json.loads((directory / "segment.json").read_text())
    assert meta["sizes"] == whole.sizes()
    assert meta["sizes"]["descriptors"] == 120
    assert len(whole.pdq_variants) > 1


def test_spilled_entries_are_the_same_tables_mapped_from_disk(tmp_path, monkeypatch):
    """EntriesWriter(spill=...) writes its batches to Arrow files as they
    fill and maps them: the same tables, and none of their bytes in
    Arrow's memory pool, so a base read from the database is not held."""
    import pyarrow as pa

    monkeypatch.setattr(seg, "FLUSH_ROWS", 500)
    rng = random.Random(8)

    def fill(writer: seg.EntriesWriter) -> seg.Entries:
        for ref in range(1, 3001):
            writer.claim(ref, "url", f"https://art.example/{ref}.png")
            writer.image(
                ref,
                sha256=rng.randbytes(32),
                phash=rng.randbytes(8),
                pdq={"original": rng.randbytes(32)},
                descriptors=rng.randbytes(1024),
            )
            writer.op(1, ref, ref, 1)
        return writer.entries()

    rng.seed(8)
    held = fill(seg.EntriesWriter())
    rng.seed(8)
    before = pa.total_allocated_bytes()
    spilled = fill(seg.EntriesWriter(spill=tmp_path / "spill"))
    in_pool = pa.total_allocated_bytes() - before
    for name in seg.TABLES:
        assert spilled.table(name).equals(held.table(name)), name
    assert sorted(p.name for p in (tmp_path / "spill").iterdir()) == sorted(
        f"{name}.arrow" for name in seg.TABLES
    )
    assert held.images.nbytes > 3_000_000
    assert in_pool < held.images.nbytes // 20

    meta = _write(tmp_path / "segments", spilled, "base", 0, 3000)
    assert meta["images"] == 3000 and meta["sizes"]["urls"] == 3000


FULL_DISK_SCRIPT = """
import random, sys
from pathlib import Path
from workers.engine import segments as seg
from workers.engine.snapshot import Thresholds

rng = random.Random(5)
writer = seg.EntriesWriter()
for ref in range(1, 20_001):
    writer.image(
        ref,
        sha256=rng.randbytes(32),
        md5=rng.randbytes(16),
        phash=rng.randbytes(8),
        pdq={"original": rng.randbytes(32)},
    )
    writer.claim(ref, "url", f"https://a.example/{ref}.png")
root = Path(sys.argv[1])
try:
    seg.write_segment(
        root, writer.entries(), kind="base", first=0, last=1, registry="r",
        descriptor_version="", max_radius=Thresholds(phash=8, pdq=31),
    )
except OSError as error:
    print("refused:", error.errno, sorted(p.name for p in root.iterdir()))
"""


def test_a_full_disk_refuses_a_segment_cleanly_and_leaves_nothing(tmp_path):
    """Indexes are built through memory maps, whose pages a full disk cannot
    take: the write must fail with ENOSPC as np.save did, not kill the
    worker with SIGBUS, and leave no partial folder. A 3 MB tmpfs in a
    mount namespace of its own holds the entries but not the index."""
    import errno
    import os
    import shutil
    import subprocess
    import sys

    if shutil.which("unshare") is None and not os.environ.get("CI"):
        pytest.skip("needs util-linux's unshare (CI has it)")
    mount = tmp_path / "small"
    mount.mkdir()
    script = tmp_path / "full.py"
    script.write_text(FULL_DISK_SCRIPT)
    done = subprocess.run(
        [
            "unshare", "-Urm", "sh", "-c",
            'mount -t tmpfs -o size=3m tmpfs "$1" && exec "$2" "$3" "$1"',
            "sh", str(mount), sys.executable, str(script),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )  # fmt: skip
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert done.stdout.strip() == f"refused: {errno.ENOSPC} []", done.stdout
