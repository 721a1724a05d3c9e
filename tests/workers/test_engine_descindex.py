"""The descriptor index: nearest registered images, exact and HNSW."""

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


@pytest.mark.parametrize("hnsw_min", [10_000, 100], ids=["flat", "hnsw"])
def test_save_and_load_answer_the_same(tmp_path, hnsw_min):
    _, vectors = _registry(60)
    index = DescriptorIndex.build(
        zip(range(60), vectors, strict=True), dim=64, hnsw_min=hnsw_min
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
