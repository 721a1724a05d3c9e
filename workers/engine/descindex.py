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

From `ivfpq_min` vectors on (1,000,000 by default), an inverted file of
product-quantised codes (faiss.IndexIVFPQ: 32 bytes a vector, NPROBE of
about sqrt(N) lists searched), memory-mapped from disk, proposes candidates
that are then re-ranked by their exact cosine from the float16 vectors
(memory-mapped too: only the candidates' pages are read). The similarity a
match reports is therefore always exact; IVF-PQ only decides which
vectors are looked at. Resident per image: the codes and list ids (2 x 40
bytes) and the owners (2 x 8), against ~2.5 KB for HNSW in float32, so an
80M registry's descriptors fit one worker machine
(bench/quality/knn.py measures recall against exact search).

Limits: flat and HNSW indexes are loaded into each process's memory (1 KB
per region in float32, plus the HNSW graph's ~256 bytes): about 2.5 KB per
registered image, which is why large registries use IVF-PQ. faiss runs one
thread here (workers parallelise by process).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from .arrays import save_array

FORMAT_VERSION = 1
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 256
# From this many vectors on, the HNSW graph (exact search below). Measured by
# bench/quality/knn.py on one core (docs/MATCHING.md section 7): at 20,000
# vectors exact search answers 1,485 queries/s and HNSW 3,579 (recall against
# exact 0.9996); at 100,000, 275 against 2,470 (0.9989).
DEFAULT_HNSW_MIN = 20_000
# From this many vectors on, IVF-PQ with exact re-ranking (above).
DEFAULT_IVFPQ_MIN = 1_000_000
PQ_BYTES = 32  # sub-quantisers of 8 bits: bytes a vector
NPROBE_MIN = 32
# Candidates IVF-PQ proposes per vector wanted, before exact re-ranking.
# Measured at 1M real-model vectors (bench/quality/knn.py): 4 finds 0.9975
# of the exact 8 nearest at similarity >= 0.8, 8 finds 0.9996, 16 all of
# them (321 searches/s on one core, against 670 at 4).
RERANK_FACTOR = 16
# The most regions an image has (descriptor.REGIONS is 2; tests use more).
MAX_REGIONS = 8


def ivf_lists(n: int) -> int:
    """Inverted lists for n vectors: about sqrt(n), a power of two."""
    return int(2 ** round(np.log2(max(64.0, min(65_536.0, np.sqrt(n))))))


def ivf_probes(lists: int) -> int:
    return min(lists, max(NPROBE_MIN, lists // 32))


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
    def max_regions(self) -> int:
        """The most vectors an image has (its regions' highest number + 1)."""
        if "_max_regions" not in self.__dict__:
            self._max_regions = int(self.regions.max()) + 1 if len(self) else 0
        return self._max_regions

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
        ivfpq_min: int = DEFAULT_IVFPQ_MIN,
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
        return cls.from_arrays(
            np.concatenate(blocks) if blocks else np.zeros((0, dim), np.float16),
            np.concatenate(owners) if owners else np.zeros(0, np.int64),
            np.concatenate(regions) if regions else np.zeros(0, np.int8),
            hnsw_min=hnsw_min,
            ivfpq_min=ivfpq_min,
        )

    @classmethod
    def from_arrays(
        cls,
        vectors: np.ndarray,
        owners: np.ndarray,
        regions: np.ndarray,
        *,
        hnsw_min: int = DEFAULT_HNSW_MIN,
        ivfpq_min: int = DEFAULT_IVFPQ_MIN,
    ) -> DescriptorIndex:
        """The index of these arrays as given (float16 vectors, int64 owners,
        int8 regions; an owner's regions consecutive, region 0 first). They
        may be memory-mapped files (arrays.ArrayFiles), which `save` to
        that folder then keeps."""
        kind = (
            "ivfpq"
            if len(vectors) >= ivfpq_min
            else "hnsw"
            if len(vectors) >= hnsw_min
            else "flat"
        )
        index = cls(vectors, owners, regions, kind=kind)
        index._index = index._make()
        return index

    def _make(self):
        faiss = _faiss()
        if self.kind == "ivfpq":
            return self._make_ivfpq(faiss)
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

    def _make_ivfpq(self, faiss):
        """Trained on a sample (40 per list), then filled block by block, so
        the float32 copy of the vectors is never made whole."""
        lists = ivf_lists(len(self))
        quantizer = faiss.IndexFlatIP(self.dim)
        # PQ_BYTES sub-quantisers, or the most below it that divide the width.
        subs = max(m for m in range(1, PQ_BYTES + 1) if self.dim % m == 0)
        index = faiss.IndexIVFPQ(
            quantizer, self.dim, lists, subs, 8, faiss.METRIC_INNER_PRODUCT
        )
        rng = np.random.default_rng(0)
        sample = min(len(self), 40 * lists)
        rows = np.sort(rng.choice(len(self), sample, replace=False))
        index.train(np.ascontiguousarray(self.vectors[rows], np.float32))
        block = 262_144
        for start in range(0, len(self), block):
            index.add(
                np.ascontiguousarray(self.vectors[start : start + block], np.float32)
            )
        index.nprobe = ivf_probes(lists)
        return index

    def _candidates(
        self, queries: np.ndarray, want: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """(similarities, rows), best first: IVF-PQ proposes RERANK_FACTOR
        times as many as wanted and the exact cosine orders them."""
        if self.kind != "ivfpq":
            return self._index.search(queries, want)
        _, proposed = self._index.search(queries, min(len(self), want * RERANK_FACTOR))
        sims = np.full((len(queries), want), -np.inf, np.float32)
        rows = np.full((len(queries), want), -1, np.int64)
        for q, found in enumerate(proposed):
            found = self._whole_images(found[found >= 0])
            if not len(found):
                continue
            exact = self.vectors[found].astype(np.float32) @ queries[q]
            best = np.argsort(-exact, kind="stable")[:want]
            sims[q, : len(best)] = exact[best]
            rows[q, : len(best)] = found[best]
        return sims, rows

    def _whole_images(self, rows: np.ndarray) -> np.ndarray:
        """`rows` and the other regions of their images (an image's regions
        are consecutive rows, region 0 first), sorted: an image proposed by
        any region is scored by its best one, exactly."""
        if not len(rows):
            return rows
        first = rows - self.regions[rows]
        block = first[:, None] + np.arange(MAX_REGIONS)[None, :]
        block = np.minimum(block, len(self) - 1)
        same = self.owners[block] == self.owners[rows][:, None]
        return np.unique(block[same])

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
        # one image crowding the list (none can when each has one vector).
        crowd = 6 if self.max_regions > 1 else 1
        want = min(len(self), k * crowd + 8)
        sims, rows = self._candidates(np.ascontiguousarray(queries, np.float32), want)
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
        save_array(directory / "vectors.npy", self.vectors)
        save_array(directory / "owners.npy", self.owners)
        save_array(directory / "regions.npy", self.regions)
        (directory / "kind").write_text(self.kind)
        if self.kind == "hnsw":
            _faiss().write_index(self._index, str(directory / "hnsw.faiss"))
        if self.kind == "ivfpq":
            _faiss().write_index(self._index, str(directory / "ivfpq.faiss"))

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
        elif kind == "ivfpq":
            # Memory-mapped: the lists' pages are read as queries reach them.
            faiss = _faiss()
            flags = faiss.IO_FLAG_MMAP if mmap else 0
            index._index = faiss.read_index(str(directory / "ivfpq.faiss"), flags)
            index._index.nprobe = ivf_probes(index._index.nlist)
        else:
            index._index = index._make()
        return index
