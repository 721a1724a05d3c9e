"""Nearest registered images by copy-detection descriptor (faiss).

Holds every region descriptor of every enforced image (descriptor.REGIONS:
two per image) with the image each belongs to, and answers, for a batch of
query vectors, the `k` nearest registered images (an image counts once, by
its best region) with their cosine similarity.

Small registries are searched exactly (faiss.IndexFlatIP: every vector, one
matrix product); from `hnsw_min` vectors on (20,000 by default, measured), an
HNSW graph (faiss.IndexHNSWFlat, M = 32, efSearch = 256) answers in
logarithmic time; its recall against exact
search is measured by bench/quality/knn.py and tested in
tests/workers/test_engine_descindex.py. Vectors are kept as float16 on disk
(512 bytes a region) and as float32 in the faiss index in memory.

Limits: the index is loaded into each process's memory (1 KB per region in
float32, plus the HNSW graph's ~256 bytes): about 8 KB per registered image,
so a few million images per worker machine; the segmented, shared index for
80 million images is issue 14's. faiss runs one thread here (workers
parallelise by process).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

FORMAT_VERSION = 1
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 256
# From this many vectors on, the HNSW graph (exact search below). Measured by
# bench/quality/knn.py on one core (docs/MATCHING.md section 7): at 20,000
# vectors exact search answers 1,485 queries/s and HNSW 3,579 (recall against
# exact 0.9996); at 100,000, 275 against 2,470 (0.9989).
DEFAULT_HNSW_MIN = 20_000


def _faiss():
    import faiss

    faiss.omp_set_num_threads(1)
    return faiss


class DescriptorIndex:
    def __init__(
        self,
        vectors: np.ndarray,
        owners: np.ndarray,
        regions: np.ndarray,
        *,
        kind: str,
        index=None,
    ) -> None:
        self.vectors = vectors  # (N, D) float16
        self.owners = owners  # (N,) int64: the image id of each vector
        self.regions = regions  # (N,) int8: descriptor.REGION_NAMES position
        self.kind = kind  # "flat" or "hnsw"
        self._index = index

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1]) if self.vectors.ndim == 2 else 0

    def __len__(self) -> int:
        return int(self.owners.shape[0])

    @property
    def images(self) -> int:
        return int(np.unique(self.owners).size)

    @property
    def nbytes(self) -> int:
        return int(self.vectors.nbytes + self.owners.nbytes + self.regions.nbytes)

    @classmethod
    def build(
        cls,
        entries: Iterable[tuple[int, np.ndarray]],
        *,
        dim: int,
        hnsw_min: int = DEFAULT_HNSW_MIN,
    ) -> DescriptorIndex:
        """entries: (image id, (R, dim) vectors, region 0 first)."""
        blocks: list[np.ndarray] = []
        owners: list[np.ndarray] = []
        regions: list[np.ndarray] = []
        for image_id, vectors in entries:
            vectors = np.asarray(vectors, np.float16).reshape(-1, dim)
            blocks.append(vectors)
            owners.append(np.full(len(vectors), image_id, np.int64))
            regions.append(np.arange(len(vectors), dtype=np.int8))
        vectors = np.concatenate(blocks) if blocks else np.zeros((0, dim), np.float16)
        kind = "hnsw" if len(vectors) >= hnsw_min else "flat"
        index = cls(
            vectors,
            np.concatenate(owners) if owners else np.zeros(0, np.int64),
            np.concatenate(regions) if regions else np.zeros(0, np.int8),
            kind=kind,
        )
        index._index = index._make()
        return index

    def _make(self):
        faiss = _faiss()
        data = np.ascontiguousarray(self.vectors, np.float32)
        if self.kind == "hnsw":
            index = faiss.IndexHNSWFlat(self.dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        else:
            index = faiss.IndexFlatIP(max(self.dim, 1))
        if len(data):
            index.add(data)
        if self.kind == "hnsw":
            index.hnsw.efSearch = HNSW_EF_SEARCH
        return index

    def search(
        self, queries: np.ndarray, k: int, *, min_similarity: float = -1.0
    ) -> list[list[tuple[int, float, int]]]:
        """Per query: up to `k` (image id, similarity, region), best first.

        An image appears once per query, by its best-matching region.
        """
        out: list[list[tuple[int, float, int]]] = [[] for _ in range(len(queries))]
        if not len(self) or not len(queries):
            return out
        # Ask for enough vectors that k distinct images survive regions of
        # one image crowding the list.
        want = min(len(self), k * 6 + 8)
        sims, rows = self._index.search(np.ascontiguousarray(queries, np.float32), want)
        for q in range(len(queries)):
            seen: set[int] = set()
            for sim, row in zip(sims[q], rows[q], strict=True):
                if row < 0 or sim < min_similarity:
                    continue
                image_id = int(self.owners[row])
                if image_id in seen:
                    continue
                seen.add(image_id)
                out[q].append((image_id, float(sim), int(self.regions[row])))
                if len(out[q]) == k:
                    break
        return out

    def exact(self, queries: np.ndarray, k: int) -> list[list[tuple[int, float, int]]]:
        """The same answer by brute force (for measuring the HNSW's recall)."""
        flat = DescriptorIndex(self.vectors, self.owners, self.regions, kind="flat")
        flat._index = flat._make()
        return flat.search(queries, k)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / "vectors.npy", self.vectors)
        np.save(directory / "owners.npy", self.owners)
        np.save(directory / "regions.npy", self.regions)
        (directory / "kind").write_text(self.kind)
        if self.kind == "hnsw":
            _faiss().write_index(self._index, str(directory / "hnsw.faiss"))

    @classmethod
    def load(cls, directory: Path, *, mmap: bool = True) -> DescriptorIndex:
        mode = "r" if mmap else None
        kind = (directory / "kind").read_text().strip()
        index = cls(
            np.load(directory / "vectors.npy", mmap_mode=mode),
            np.load(directory / "owners.npy", mmap_mode=mode),
            np.load(directory / "regions.npy", mmap_mode=mode),
            kind=kind,
        )
        if kind == "hnsw":
            faiss = _faiss()
            index._index = faiss.read_index(str(directory / "hnsw.faiss"))
            index._index.hnsw.efSearch = HNSW_EF_SEARCH
        else:
            index._index = index._make()
        return index
