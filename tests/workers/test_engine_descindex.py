"""The descriptor index: nearest registered images, exact, HNSW and IVF-PQ."""

from __future__ import annotations

import numpy as np
import pytest

from workers.engine.descindex import DescriptorIndex


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def _registry(images: int, regions: int = 6, dim: int = 64, seed: int = 0):
    """Images whose regions scatter around an image centre, as real ones do."""
    rng = np.random.default_rng(seed)
    centres = _unit(rng.normal(size=(images, dim)))
    noise = rng.normal(size=(images, regions, dim)) / np.sqrt(dim)
    vectors = _unit(centres[:, None, :] + 0.5 * noise)
    return centres, vectors


def test_exact_search_gives_each_image_once_by_its_best_region():
    centres, vectors = _registry(50)
    ids = np.arange(1000, 1050)
    index = DescriptorIndex.build(zip(ids, vectors, strict=True), dim=64)
    assert index.kind == "flat" and len(index) == 300 and index.images == 50
    query = vectors[7, 4]  # exactly image 1007's region 4
    found = index.search(query[None], k=5)[0]
    assert len(found) == 5
    assert found[0][0] == 1007 and found[0][2] == 4
    assert found[0][1] == pytest.approx(1.0, abs=1e-3)
    assert len({image for image, _, _ in found}) == 5
    # best first, and each image's similarity is its best region's
    sims = [s for _, s, _ in found]
    assert sims == sorted(sims, reverse=True)
    for image, sim, _ in found[1:]:
        best = float(
            (vectors[image - 1000].astype(np.float16).astype(np.float32) @ query).max()
        )
        assert sim == pytest.approx(best, abs=1e-3)


def test_min_similarity_leaves_out_far_neighbours():
    _, vectors = _registry(20)
    index = DescriptorIndex.build(zip(range(20), vectors, strict=True), dim=64)
    found = index.search(vectors[3, 0][None], k=8, min_similarity=0.9)[0]
    assert [image for image, _, _ in found] == [3]


def test_hnsw_finds_what_exact_search_finds():
    """Recall@8 of the HNSW graph against brute force, at least 0.99."""
    centres, vectors = _registry(3000, seed=1)
    index = DescriptorIndex.build(
        zip(range(3000), vectors, strict=True), dim=64, hnsw_min=1000
    )
    assert index.kind == "hnsw"
    rng = np.random.default_rng(2)
    queries = _unit(centres[:200] + 0.6 * rng.normal(size=(200, 64)) / 8)
    approx = index.search(queries, k=8)
    exact = index.exact(queries, k=8)
    hits = sum(
        len({i for i, _, _ in a} & {i for i, _, _ in e})
        for a, e in zip(approx, exact, strict=True)
    )
    assert hits / (8 * len(queries)) >= 0.99
    # the query's own image comes first either way
    assert sum(a[0][0] == q for q, a in enumerate(approx)) >= 195


def test_ivfpq_proposes_and_exact_similarity_orders():
    """IVF-PQ's candidates re-ranked exactly: of the neighbours brute force
    finds at a similarity of 0.5 or more (copies score 0.8 and up; the rest
    of the 8 nearest here are random vectors near 0.3, spread over every
    list, which IVF does not look for), at least 0.97 are found; the query's
    own image first; every similarity reported the exact one (a threshold
    means the same whatever the index)."""
    centres, vectors = _registry(3000, seed=1)
    index = DescriptorIndex.build(
        zip(range(3000), vectors, strict=True), dim=64, hnsw_min=100, ivfpq_min=1000
    )
    assert index.kind == "ivfpq"
    rng = np.random.default_rng(2)
    queries = _unit(centres[:200] + 0.6 * rng.normal(size=(200, 64)) / 8)
    approx = index.search(queries, k=8)
    exact = index.exact(queries, k=8)
    close = [(q, i) for q, e in enumerate(exact) for i, sim, _ in e if sim >= 0.5]
    assert len(close) >= 200
    found = {(q, i) for q, a in enumerate(approx) for i, _, _ in a}
    assert sum(pair in found for pair in close) / len(close) >= 0.97
    assert sum(a[0][0] == q for q, a in enumerate(approx)) >= 195
    stored = vectors.astype(np.float16).astype(np.float32)
    for q, (a, e) in enumerate(zip(approx, exact, strict=True)):
        for image, sim, region in a:
            assert sim == pytest.approx(stored[image, region] @ queries[q], abs=1e-5)
        truth = {image: sim for image, sim, _ in e if sim >= 0.5}
        for image, sim, _ in a:
            if image in truth:
                assert sim == pytest.approx(truth[image], abs=1e-5)


@pytest.mark.parametrize(
    ("hnsw_min", "ivfpq_min"),
    [(10_000, 10_000), (100, 10_000), (100, 100)],
    ids=["flat", "hnsw", "ivfpq"],
)
def test_save_and_load_answer_the_same(tmp_path, hnsw_min, ivfpq_min):
    _, vectors = _registry(60)
    index = DescriptorIndex.build(
        zip(range(60), vectors, strict=True),
        dim=64,
        hnsw_min=hnsw_min,
        ivfpq_min=ivfpq_min,
    )
    index.save(tmp_path / "d")
    loaded = DescriptorIndex.load(tmp_path / "d")
    assert loaded.kind == index.kind and len(loaded) == len(index)
    queries = vectors[:10, 0]
    assert loaded.search(queries, k=4) == index.search(queries, k=4)


def test_an_empty_index_answers_nothing():
    index = DescriptorIndex.build([], dim=64)
    assert len(index) == 0
    assert index.search(np.ones((2, 64), np.float32), k=3) == [[], []]


def test_ivfpq_keeps_the_vectors_once_and_reads_them_back(tmp_path):
    """IVF-PQ's file holds the float16 vectors it re-ranks from: no
    vectors.npy beside it, and the loaded index's vectors are those given,
    bit for bit, read-only (they are the mapped file)."""
    _, vectors = _registry(400, regions=2)
    index = DescriptorIndex.build(
        zip(range(400), vectors, strict=True), dim=64, hnsw_min=100, ivfpq_min=100
    )
    assert index.kind == "ivfpq"
    index.save(tmp_path / "d")
    assert not (tmp_path / "d" / "vectors.npy").exists()
    loaded = DescriptorIndex.load(tmp_path / "d")
    stored = vectors.reshape(-1, 64).astype(np.float16)
    assert loaded.vectors.dtype == np.float16
    assert np.array_equal(loaded.vectors.view(np.uint16), stored.view(np.uint16))
    assert not loaded.vectors.flags.writeable
    queries = vectors[:20, 1]
    assert loaded.search(queries, k=8) == index.search(queries, k=8)
    held = loaded.vectors
    del loaded
    assert np.array_equal(held.view(np.uint16), stored.view(np.uint16))


def test_ivfpq_scores_an_image_by_its_best_region():
    """Whichever region IVF-PQ proposes, an image is reported with the best
    exact similarity of all its regions, as exact search reports it."""
    _, vectors = _registry(2000, regions=3, seed=4)
    index = DescriptorIndex.build(
        zip(range(2000), vectors, strict=True), dim=64, hnsw_min=100, ivfpq_min=100
    )
    rng = np.random.default_rng(5)
    # halfway between two regions of one image: both are near, one is best
    queries = _unit(
        vectors[:100, 0] + vectors[:100, 2] + 0.2 * rng.normal(size=(100, 64)) / 8
    )
    stored = vectors.astype(np.float16).astype(np.float32)
    approx = index.search(queries, k=5)
    exact = index.exact(queries, k=5)
    for q, (a, e) in enumerate(zip(approx, exact, strict=True)):
        assert a[0][0] == q == e[0][0]
        for image, sim, region in a:
            best = stored[image] @ queries[q]
            assert region == int(np.argmax(best))
            assert sim == pytest.approx(float(best.max()), abs=1e-5)


def test_an_index_of_another_format_is_refused_for_a_rebuild(tmp_path):
    """A folder an older version wrote (no format file: format 1, whose
    IVF-PQ kept its vectors apart) is refused with a ValueError, which the
    dataset image index treats as missing and rebuilds."""
    _, vectors = _registry(60, regions=2)
    index = DescriptorIndex.build(zip(range(60), vectors, strict=True), dim=64)
    index.save(tmp_path / "d")
    assert DescriptorIndex.load(tmp_path / "d").search(vectors[:1, 0], k=1)
    (tmp_path / "d" / "format").unlink()
    with pytest.raises(ValueError, match="format 1"):
        DescriptorIndex.load(tmp_path / "d")


@pytest.mark.parametrize(
    ("codes", "kind"),
    [("fastscan", "IndexIVFPQFastScan"), ("pq", "IndexIVFPQ")],
)
def test_ivf_codes_choose_fast_scan_or_mapped_8_bit_lists(tmp_path, codes, kind):
    """Either kind of codes answers with exact similarities after a save
    and a load; "pq" lists are an IndexIVFPQ's (which faiss maps)."""
    import faiss

    _, vectors = _registry(1500, regions=2, dim=16, seed=6)
    index = DescriptorIndex.build(
        zip(range(1500), vectors, strict=True),
        dim=16,
        hnsw_min=100,
        ivfpq_min=100,
        ivf_codes=codes,
    )
    index.save(tmp_path / "d")
    loaded = DescriptorIndex.load(tmp_path / "d")
    assert type(faiss.downcast_index(loaded._index.base_index)).__name__ == kind
    queries = vectors[:50, 0]
    found = loaded.search(queries, k=4)
    assert found == index.search(queries, k=4)
    assert [hits[0][0] for hits in found] == list(range(50))
    stored = vectors.astype(np.float16).astype(np.float32)
    for q, hits in enumerate(found):
        for image, sim, region in hits:
            assert sim == pytest.approx(
                float(stored[image, region] @ queries[q]), abs=1e-5
            )
    with pytest.raises(ValueError, match="'fastscan' or 'pq'"):
        DescriptorIndex.build(
            zip(range(1500), vectors, strict=True), dim=16, ivfpq_min=0, ivf_codes="x"
        )
