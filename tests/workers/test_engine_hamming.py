"""HammingIndex against numpy brute force: same (query, id, distance) multiset."""

from __future__ import annotations

import numpy as np
import pytest

from workers.engine.hamming import HammingIndex, brute_force, pack_bytes

RADII = {1: (0, 4, 8, 10), 4: (0, 16, 31)}


def flip(x: np.ndarray, d: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rows of x with exactly d[i] distinct bits flipped."""
    n, words = x.shape
    out = x.copy()
    most = int(d.max(initial=0))
    for start in range(0, n, 4096):
        m = min(4096, n - start)
        noise = rng.random((m, 64 * words), dtype=np.float32)
        pos = np.argsort(noise, axis=1)[:, :most]
        for j in range(most):
            rows = np.flatnonzero(d[start : start + m] > j)
            bit = np.uint64(1) << (pos[rows, j] & 63).astype(np.uint64)
            out[start + rows, pos[rows, j] >> 6] ^= bit
    return out


def random_hashes(rng: np.random.Generator, n: int, words: int) -> np.ndarray:
    return rng.integers(0, 2**64, (n, words), dtype=np.uint64)


def clustered_hashes(rng: np.random.Generator, words: int, spread: int) -> np.ndarray:
    """200 centres, 500-1000 variants each within `spread` bits, exact duplicates."""
    per_centre = 1000 if words == 1 else 500
    centres = random_hashes(rng, 200, words)
    variants = np.repeat(centres, per_centre, axis=0)
    variants = flip(variants, rng.integers(0, spread + 1, len(variants)), rng)
    duplicates = variants[rng.integers(0, len(variants), 2000)]
    return np.concatenate([centres, variants, duplicates])


def near_queries(
    rng: np.random.Generator, hashes: np.ndarray, radius: int, n: int = 150
) -> np.ndarray:
    picks = hashes[rng.integers(0, len(hashes), n)]
    near = flip(picks, rng.integers(0, radius + 3, n), rng)
    return np.concatenate([near, random_hashes(rng, 50, hashes.shape[1])])


def triples(result: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    q, ids, d = result
    assert q.dtype == np.int64 and ids.dtype == np.int64 and d.dtype == np.int32
    rows = np.stack([q, ids, d.astype(np.int64)], axis=1)
    return rows[np.lexsort(rows.T[::-1])]


def assert_same_as_brute_force(
    index: HammingIndex,
    hashes: np.ndarray,
    ids: np.ndarray,
    queries: np.ndarray,
    radius: int,
) -> None:
    expected = triples(brute_force(hashes, ids, queries, radius))
    got = triples(index.search(queries, radius))
    np.testing.assert_array_equal(got, expected)


@pytest.fixture(scope="module", params=[1, 4], ids=["phash", "pdq"])
def random_case(request: pytest.FixtureRequest):
    words = request.param
    rng = np.random.default_rng(7 + words)
    hashes = random_hashes(rng, 100_000, words)
    ids = rng.permutation(len(hashes)).astype(np.int64)
    index = HammingIndex.build(hashes, ids, max_radius=max(RADII[words]))
    queries = near_queries(rng, hashes, max(RADII[words]))
    return words, hashes, ids, index, queries


@pytest.fixture(scope="module", params=[1, 4], ids=["phash", "pdq"])
def clustered_case(request: pytest.FixtureRequest):
    words = request.param
    rng = np.random.default_rng(11 + words)
    top = max(RADII[words])
    hashes = clustered_hashes(rng, words, spread=top + 3)
    ids = rng.integers(0, len(hashes) // 2, len(hashes))  # ids repeat
    index = HammingIndex.build(hashes, ids, max_radius=top)
    queries = near_queries(rng, hashes, top)
    return words, hashes, ids, index, queries


def test_it_finds_what_brute_force_finds_in_random_hashes(random_case):
    words, hashes, ids, index, queries = random_case
    for radius in RADII[words]:
        assert_same_as_brute_force(index, hashes, ids, queries, radius)


def test_it_finds_what_brute_force_finds_among_near_duplicates(clustered_case):
    words, hashes, ids, index, queries = clustered_case
    for radius in RADII[words]:
        assert_same_as_brute_force(index, hashes, ids, queries, radius)
    # results outgrow the search's first buffers (1024 or 4 per query)
    assert len(index.search(queries, max(RADII[words]))[0]) > 8 * 1024


@pytest.mark.parametrize("key_bits", [16, 21])
@pytest.mark.parametrize("words", [1, 4])
def test_every_key_width_gives_the_same_results(words, key_bits):
    rng = np.random.default_rng(words * key_bits)
    top = max(RADII[words])
    hashes = clustered_hashes(rng, words, spread=top + 3)[::4]
    ids = np.arange(len(hashes))
    index = HammingIndex.build(hashes, ids, max_radius=top, key_bits=key_bits)
    queries = near_queries(rng, hashes, top, n=60)
    assert index.key_bits == key_bits
    for radius in RADII[words]:
        assert_same_as_brute_force(index, hashes, ids, queries, radius)


@pytest.mark.parametrize(("words", "radius"), [(1, 24), (1, 64), (4, 70)])
def test_radii_too_wide_for_probing_fall_back_to_an_exact_scan(words, radius):
    rng = np.random.default_rng(radius)
    hashes = clustered_hashes(rng, words, spread=radius)[::20]
    ids = np.arange(len(hashes))
    index = HammingIndex.build(hashes, ids, max_radius=radius)
    queries = near_queries(rng, hashes, radius, n=20)
    assert_same_as_brute_force(index, hashes, ids, queries, radius)


@pytest.mark.parametrize(("words", "radius"), [(1, 0), (1, 8), (4, 0), (4, 31)])
def test_a_query_exactly_radius_bits_away_matches_and_one_more_does_not(words, radius):
    rng = np.random.default_rng(100 + radius)
    hashes = random_hashes(rng, 50_000, words)
    ids = np.arange(len(hashes)) + 10**12
    index = HammingIndex.build(hashes, ids, max_radius=radius + 1)
    picked = rng.choice(len(hashes), 200, replace=False)
    at = flip(hashes[picked], np.full(200, radius), rng)
    beyond = flip(hashes[picked], np.full(200, radius + 1), rng)

    q, found, d = index.search(at, radius)
    assert set(zip(q.tolist(), found.tolist(), d.tolist(), strict=True)) >= {
        (i, int(ids[p]), radius) for i, p in enumerate(picked)
    }
    q, found, _ = index.search(beyond, radius)
    assert not {(i, int(ids[p])) for i, p in enumerate(picked)} & set(
        zip(q.tolist(), found.tolist(), strict=True)
    )
    q, found, d = index.search(beyond, radius + 1)
    assert {(i, int(ids[p]), radius + 1) for i, p in enumerate(picked)} <= set(
        zip(q.tolist(), found.tolist(), d.tolist(), strict=True)
    )


def test_each_copy_of_a_hash_is_reported_with_its_own_id():
    value = np.array([[0x8A74E64EE15B0557]], np.uint64)
    hashes = np.concatenate([value, value, value, value ^ np.uint64(1)])
    index = HammingIndex.build(hashes, np.array([7, 7, 8, 9]), max_radius=8)

    assert triples(index.search(value, 0)).tolist() == [[0, 7, 0], [0, 7, 0], [0, 8, 0]]
    assert triples(index.search(value, 1)).tolist()[-1] == [0, 9, 1]


@pytest.mark.parametrize("words", [1, 4])
def test_a_saved_index_loads_memory_mapped_with_the_same_results(words, tmp_path):
    rng = np.random.default_rng(3)
    hashes = clustered_hashes(rng, words, spread=12)[::10]
    ids = rng.integers(0, 1000, len(hashes))
    index = HammingIndex.build(hashes, ids, max_radius=max(RADII[words]))
    queries = near_queries(rng, hashes, max(RADII[words]), n=50)

    index.save(tmp_path / "idx")
    loaded = HammingIndex.load(tmp_path / "idx")

    assert (tmp_path / "idx" / "hamming.json").exists()
    assert isinstance(loaded.ids.base, np.memmap)
    assert not loaded.ids.flags.writeable
    assert len(loaded) == len(index) and loaded.nbytes == index.nbytes
    assert loaded.max_radius == index.max_radius
    for radius in RADII[words]:
        np.testing.assert_array_equal(
            triples(loaded.search(queries, radius)),
            triples(index.search(queries, radius)),
        )
    in_memory = HammingIndex.load(tmp_path / "idx", mmap=False)
    assert in_memory.ids.base is None or not isinstance(in_memory.ids.base, np.memmap)


@pytest.mark.parametrize("words", [1, 4])
def test_it_rejects_a_radius_beyond_what_it_was_built_for(words):
    hashes = random_hashes(np.random.default_rng(0), 100, words)
    index = HammingIndex.build(hashes, np.arange(100), max_radius=8)

    with pytest.raises(ValueError, match=r"radius must be 0\.\.8 .* got 9"):
        index.search(hashes[:1], 9)
    with pytest.raises(ValueError, match="got -1"):
        index.search(hashes[:1], -1)


def test_it_rejects_queries_of_the_wrong_width_or_type():
    index = HammingIndex.build(np.zeros((3, 1), np.uint64), np.arange(3), max_radius=8)

    with pytest.raises(ValueError, match="queries must have 1 words, got 4"):
        index.search(np.zeros((1, 4), np.uint64), 2)
    with pytest.raises(ValueError, match="queries must be uint64, got float64"):
        index.search(np.zeros((1, 1)), 2)
    with pytest.raises(ValueError, match="ids must be 3 integers"):
        HammingIndex.build(np.zeros((3, 1), np.uint64), np.arange(2), max_radius=8)
    with pytest.raises(ValueError, match="max_radius must be 0..64"):
        HammingIndex.build(np.zeros((3, 1), np.uint64), np.arange(3), max_radius=65)


@pytest.mark.parametrize("words", [1, 4])
def test_empty_index_and_empty_queries_find_nothing(words, tmp_path):
    empty = HammingIndex.build(np.zeros((0, words), np.uint64), [], max_radius=8)
    some = np.ones((2, words), np.uint64)
    index = HammingIndex.build(some, [1, 2], max_radius=8)

    for q, ids, d in (
        empty.search(some, 8),
        index.search(np.zeros((0, words), np.uint64), 8),
    ):
        assert (len(q), len(ids), len(d)) == (0, 0, 0)
        assert (q.dtype, ids.dtype, d.dtype) == (np.int64, np.int64, np.int32)
    assert len(empty) == 0
    empty.save(tmp_path / "empty")
    assert len(HammingIndex.load(tmp_path / "empty").search(some, 8)[0]) == 0


def test_pack_bytes_reads_big_endian_words_whose_distance_is_the_bytes():
    phash = bytes.fromhex("8a74e64ee15b0557")
    assert pack_bytes([phash]).tolist() == [[0x8A74E64EE15B0557]]
    pdq = bytes(range(32))
    assert pack_bytes([pdq])[0, 3] == int.from_bytes(pdq[24:], "big")

    rng = np.random.default_rng(5)
    a, b = rng.bytes(32), rng.bytes(32)
    bits = bin(int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).count("1")
    _, _, d = brute_force(pack_bytes([a]), [0], pack_bytes([b]), 256)
    assert d.tolist() == [bits]


def test_pack_bytes_rejects_mixed_lengths_and_needs_a_width_when_empty():
    with pytest.raises(
        ValueError, match=r"must all be 8 or all 32 bytes, got \[8, 32\]"
    ):
        pack_bytes([bytes(8), bytes(32)])
    with pytest.raises(ValueError, match="width="):
        pack_bytes([])
    assert pack_bytes([], width=32).shape == (0, 4)


@pytest.mark.parametrize("words", [1, 4])
@pytest.mark.parametrize("size", [1, 37, 512, 513])
def test_small_indexes_compare_every_entry_and_agree_with_probing(
    words, size, monkeypatch, tmp_path
):
    """A delta segment holds a few hashes: up to BRUTE_MAX the index compares
    them all; above, it probes. Both give brute force's answer."""
    from workers.engine import hamming

    rng = np.random.default_rng(size)
    top = max(RADII[words])
    hashes = random_hashes(rng, size, words)
    ids = rng.permutation(size).astype(np.int64) + 1
    queries = near_queries(rng, hashes, top)
    index = HammingIndex.build(hashes, ids, max_radius=top)
    index.save(tmp_path / "index")
    loaded = HammingIndex.load(tmp_path / "index")
    for radius in RADII[words]:
        assert_same_as_brute_force(index, hashes, ids, queries, radius)
        assert_same_as_brute_force(loaded, hashes, ids, queries, radius)
    monkeypatch.setattr(hamming, "BRUTE_MAX", 0)
    assert_same_as_brute_force(index, hashes, ids, queries, top)
