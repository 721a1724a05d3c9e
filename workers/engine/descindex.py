"""Nearest registered images by copy-detection descriptor (faiss).

Holds every region descriptor of every enforced image (descriptor.REGIONS:
two per image) with the image each belongs to, and answers, for a batch of
query vectors, the `k` nearest registered images (an image counts once, by
its best region) with their cosine similarity.

Small registries are searched exactly (faiss.IndexFlatIP: every vector, one
matrix product). An HNSW graph (faiss.IndexHNSWFlat, M = 32, efSearch =
256) answers from `hnsw_min` vectors on, when that comes before `ivfpq_min`
(not by default any more): vectors as float16 on disk (512 bytes a region)
and float32 in memory. Recall against exact search is measured by
bench/quality/knn.py and tested in tests/workers/test_engine_descindex.py.

From `ivfpq_min` vectors on (20,000 by default, measured), an inverted file of
product-quantised codes proposes candidates that are then re-ranked by their
exact cosine from the float16 vectors, all inside faiss (IndexRefine over an
IndexScalarQuantizer of the float16 vectors, which *are* the stored vectors:
no second copy is kept). The codes are 4-bit "fast scan" PQ (IndexIVFPQFastScan:
64 sub-quantisers, 32 bytes a vector, scanned with SIMD registers as lookup
tables), about sqrt(N) lists of which `ivf_probes` are searched. The
similarity a match reports is therefore always exact; IVF-PQ only decides
which vectors are looked at. One file, read with faiss's IO_FLAG_MMAP_IFC:
the float16 vectors and the coarse centroids are memory-mapped (only the
candidates' pages are read); the fast-scan lists (codes and ids, 40 bytes a
vector) are read into the process. Resident per image: 2 x 40 bytes of
lists and 2 x 9 of owners and regions, against ~2.5 KB for HNSW in float32
(bench/quality/knn.py measures speed and recall against exact search;
docs/MATCHING.md section 7 has the figures).

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

FORMAT_VERSION = 2  # 2: IVF-PQ is fast-scan codes + refine in one file
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 256
# From this many vectors on, the HNSW graph (exact search below). Measured by
# bench/quality/knn.py on one core (docs/MATCHING.md section 7): at 20,000
# vectors exact search answers 1,485 queries/s and HNSW 3,579 (recall against
# exact 0.9996); at 100,000, 275 against 2,470 (0.9989).
DEFAULT_HNSW_MIN = 20_000
# From this many vectors on, IVF-PQ with exact re-ranking (above): measured
# by bench/quality/knn.py (docs/MATCHING.md section 7), from 20,000 vectors
# on it answers faster than HNSW, in a twentieth of the memory, and finds as
# many of the exact neighbours, so by default it takes HNSW's place.
DEFAULT_IVFPQ_MIN = 20_000
PQ_BYTES = 32  # bytes a vector: 2 * PQ_BYTES sub-quantisers of 4 bits
# "fastscan" (IndexIVFPQFastScan, 4-bit codes, lists in each process's
# memory) or "pq" (IndexIVFPQ, 8-bit codes, lists memory-mapped and shared
# between processes, about a third as fast): the default of `ivf_codes`
# (MATCH_DESCRIPTOR_IVF_CODES); bench/quality/knn.py --ivf-codes compares them.
IVF_CODES = "fastscan"
# Lists searched: 1/PROBE_SHARE of them, at least NPROBE_MIN. Measured at
# 10M vectors (4,096 lists; bench/quality/knn.py, docs/MATCHING.md section
# 7): 32 lists and 32 candidates proposed per one wanted keep 0.99 of the
# exact 8 nearest at 1,900 searches/s a core; 128 lists and x16, 0.994 at
# 1,300. Larger indexes keep the share searched at 10M.
NPROBE_MIN = 32
PROBE_SHARE = 128
# Candidates IVF-PQ proposes per vector wanted, before exact re-ranking.
RERANK_FACTOR = 32


def ivf_lists(n: int) -> int:
    """Inverted lists for n vectors: about sqrt(n), a power of two."""
    return int(2 ** round(np.log2(max(64.0, min(65_536.0, np.sqrt(n))))))


def ivf_probes(lists: int) -> int:
    return min(lists, max(NPROBE_MIN, lists // PROBE_SHARE))


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
        ivf_codes: str | None = None,
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
            ivf_codes=ivf_codes,
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
        ivf_codes: str | None = None,
    ) -> DescriptorIndex:
        """The index of these arrays as given (float16 vectors, int64 owners,
        int8 regions; an owner's regions consecutive, region 0 first). They
        may be memory-mapped files (arrays.ArrayFiles), which `save` to
        that folder then keeps. `ivf_codes`: "fastscan" or "pq" (IVF_CODES
        when None), for an IVF-PQ index."""
        kind = (
            "ivfpq"
            if len(vectors) >= ivfpq_min
            else "hnsw"
            if len(vectors) >= hnsw_min
            else "flat"
        )
        codes = IVF_CODES if ivf_codes is None else ivf_codes
        if codes not in ("fastscan", "pq"):
            raise ValueError(f"IVF codes {codes!r}: 'fastscan' or 'pq'")
        index = cls(vectors, owners, regions, kind=kind)
        index._index = index._make(codes)
        return index

    def _make(self, codes: str = "fastscan"):
        faiss = _faiss()
        if self.kind == "ivfpq":
            return self._make_ivfpq(faiss, codes)
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

    def _make_ivfpq(self, faiss, codes: str):
        """Trained on a sample (40 per list), then filled block by block, so
        the float32 copy of the vectors is never made whole."""
        lists = ivf_lists(len(self))
        # The most sub-quantisers up to the byte budget that divide the width.
        bits = 4 if codes == "fastscan" else 8
        most = PQ_BYTES * 8 // bits
        subs = max(m for m in range(1, most + 1) if self.dim % m == 0)
        spec = f"PQ{subs}x4fs" if bits == 4 else f"PQ{subs}"
        base = faiss.index_factory(
            self.dim, f"IVF{lists},{spec}", faiss.METRIC_INNER_PRODUCT
        )
        rng = np.random.default_rng(0)
        sample = min(len(self), 40 * lists)
        rows = np.sort(rng.choice(len(self), sample, replace=False))
        base.train(np.ascontiguousarray(self.vectors[rows], np.float32))
        exact = faiss.IndexScalarQuantizer(
            self.dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
        )
        index = faiss.IndexRefine(base, exact)
        index.own_fields = True
        base.this.disown()
        exact.this.disown()
        block = 262_144
        for start in range(0, len(self), block):
            index.add(
                np.ascontiguousarray(self.vectors[start : start + block], np.float32)
            )
        return index

    def _refine_params(self):
        """Search parameters: RERANK_FACTOR and the probes (kept on the
        index: faiss holds the IVF parameters by pointer)."""
        if "_params" not in self.__dict__:
            faiss = _faiss()
            ivf = faiss.SearchParametersIVF(
                nprobe=ivf_probes(faiss.extract_index_ivf(self._index).nlist)
            )
            params = faiss.IndexRefineSearchParameters(
                k_factor=RERANK_FACTOR, base_index_params=ivf
            )
            self._params = (params, ivf)
        return self._params[0]

    def _candidates(
        self, queries: np.ndarray, want: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """(similarities, rows), best first. IVF-PQ proposes RERANK_FACTOR
        times as many as wanted, the exact cosine orders them (in faiss), and
        the other regions of the images found are scored too, so that an
        image counts by its best region, exactly."""
        if self.kind != "ivfpq":
            return self._index.search(queries, want)
        sims, rows = self._index.search(queries, want, params=self._refine_params())
        return self._whole_images(queries, sims, rows)

    def _whole_images(
        self, queries: np.ndarray, sims: np.ndarray, rows: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """`rows` (Q, W; -1 for none) with their exact `sims`, and the other
        regions of their images (an image's regions are consecutive rows,
        region 0 first) scored exactly against their query, best first."""
        regions = max(self.max_regions, 1)
        found = rows >= 0
        safe = np.where(found, rows, 0)
        first = safe - self.regions[safe.ravel()].reshape(safe.shape)
        block = first[:, :, None] + np.arange(regions)[None, None, :]
        block = np.minimum(block, len(self) - 1)
        owner = self.owners[safe.ravel()].reshape(safe.shape)
        same = (
            self.owners[block.ravel()].reshape(block.shape) == owner[:, :, None]
        ) & found[:, :, None]
        itself = (block == rows[:, :, None]) & same
        out = np.full(block.shape, -np.inf, np.float32)
        out[itself] = np.broadcast_to(sims[:, :, None], block.shape)[itself]
        # Only the siblings are scored here; faiss scored the rows it found.
        sibling = same & ~itself
        at = np.nonzero(sibling)
        if len(at[0]):
            vectors = self.vectors[block[at]].astype(np.float32)
            out[at] = np.einsum("nd,nd->n", vectors, queries[at[0]])
        block = block.reshape(len(rows), -1)
        out = out.reshape(len(rows), -1)
        # A region found itself and through a sibling is listed twice;
        # search() keeps each image once, by its best region.
        order = np.argsort(-out, axis=1, kind="stable")
        out = np.take_along_axis(out, order, axis=1)
        block = np.where(np.isfinite(out), np.take_along_axis(block, order, axis=1), -1)
        return out, block

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
        # one image crowding the list: k images have at most k * regions.
        want = min(len(self), k * max(self.max_regions, 1) + 8)
        sims, rows = self._candidates(np.ascontiguousarray(queries, np.float32), want)
        keep = (rows >= 0) & (sims >= min_similarity)
        # One gather for the batch (owners and regions may be mapped files).
        kept = np.where(keep, rows, 0)
        owners = self.owners[kept.ravel()].reshape(kept.shape)
        regions = self.regions[kept.ravel()].reshape(kept.shape)
        for q in np.flatnonzero(keep.any(axis=1)).tolist():
            at = np.flatnonzero(keep[q])
            seen: set[int] = set()
            for image_id, sim, region in zip(
                owners[q, at].tolist(),
                sims[q, at].tolist(),
                regions[q, at].tolist(),
                strict=True,
            ):
                if image_id in seen:
                    continue
                seen.add(image_id)
                out[q].append((image_id, sim, region))
                if len(out[q]) == k:
                    break
        return out

    def exact(self, queries: np.ndarray, k: int) -> list[list[tuple[int, float, int]]]:
        """The same answer by brute force (for measuring the HNSW's recall)."""
        flat = DescriptorIndex(self.vectors, self.owners, self.regions, kind="flat")
        flat._index = flat._make()
        return flat.search(queries, k)

    def save(self, directory: Path) -> None:
        """The arrays as .npy files and the faiss index. IVF-PQ's file holds
        the float16 vectors itself (its re-ranking codes), so they are not
        written twice: a vectors.npy the build filled is removed."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "format").write_text(str(FORMAT_VERSION))
        if self.kind == "ivfpq":
            _faiss().write_index(self._index, str(directory / "ivfpq.faiss"))
            (directory / "vectors.npy").unlink(missing_ok=True)
        else:
            save_array(directory / "vectors.npy", self.vectors)
        save_array(directory / "owners.npy", self.owners)
        save_array(directory / "regions.npy", self.regions)
        (directory / "kind").write_text(self.kind)
        if self.kind == "hnsw":
            _faiss().write_index(self._index, str(directory / "hnsw.faiss"))

    @classmethod
    def load(cls, directory: Path, *, mmap: bool = True) -> DescriptorIndex:
        mode = "r" if mmap else None
        kind = (directory / "kind").read_text().strip()
        written = directory / "format"
        found_format = int(written.read_text()) if written.exists() else 1
        if found_format != FORMAT_VERSION:
            # An index written by other code (format 1 kept IVF-PQ's vectors
            # apart): the caller rebuilds it.
            raise ValueError(
                f"descriptor index format {found_format} in {directory}; "
                f"this code reads format {FORMAT_VERSION}: rebuild it"
            )
        owners = np.load(directory / "owners.npy", mmap_mode=mode)
        regions = np.load(directory / "regions.npy", mmap_mode=mode)
        if kind == "ivfpq":
            # Mapped: the vectors and centroids are read as queries reach
            # them; the fast-scan lists are read into memory.
            faiss = _faiss()
            flags = faiss.IO_FLAG_MMAP_IFC if mmap else 0
            found = faiss.read_index(str(directory / "ivfpq.faiss"), flags)
            index = cls(_stored_vectors(found), owners, regions, kind=kind)
            index._index = found
            return index
        index = cls(
            np.load(directory / "vectors.npy", mmap_mode=mode),
            owners,
            regions,
            kind=kind,
        )
        if kind == "hnsw":
            faiss = _faiss()
            index._index = faiss.read_index(str(directory / "hnsw.faiss"))
            index._index.hnsw.efSearch = HNSW_EF_SEARCH
        else:
            index._index = index._make()
        return index


def _stored_vectors(index) -> np.ndarray:
    """The float16 vectors an IVF-PQ index re-ranks from (its refine index's
    codes are IEEE half floats, row after row), as a read-only array that
    keeps the index, and so its mapping, alive."""
    import ctypes

    faiss = _faiss()
    exact = faiss.downcast_index(index.refine_index)
    size = int(exact.codes.size())
    if not size:
        return np.zeros((0, exact.d), np.float16)
    buffer = (ctypes.c_uint8 * size).from_address(int(exact.codes.data()))
    buffer.index = index  # the memory belongs to the index
    vectors = np.frombuffer(buffer, np.float16).reshape(-1, exact.d)
    vectors.flags.writeable = False
    return vectors
